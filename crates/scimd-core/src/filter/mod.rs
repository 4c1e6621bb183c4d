//! The RFC 7644 §3.4.2.2 filter language: AST, parser, printer, comparison keys and the
//! in-memory evaluator.

mod ast;
mod display;
pub mod eval;
pub mod key;
mod lexer;
mod parser;
#[cfg(test)]
mod proptests;

pub use ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
pub use eval::{Evaluator, validate};
pub use key::{Key, check_operator, comp_key, json_key};
pub use parser::{
    MAX_FILTER_DEPTH, MAX_FILTER_LEN, parse_attr_path, parse_filter, parse_patch_path,
};
