//! The RFC 7644 §3.4.2.2 filter language: AST, parser, printer and in-memory evaluator.

mod ast;
pub mod key;

pub use ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
pub use key::{Key, check_operator, comp_key, json_key};
