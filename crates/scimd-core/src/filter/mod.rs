//! The RFC 7644 §3.4.2.2 filter language: AST, parser, printer and in-memory evaluator.

mod ast;

pub use ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
