//! Hand-written recursive-descent parser for RFC 7644 §3.4.2.2 filters, §3.10 attribute
//! paths and §3.5.2 PATCH paths.
//!
//! Grammar, by precedence (`not` binds tighter than `and`, which binds tighter than `or`):
//!
//! ```text
//! filter    = and *( "or" and )
//! and       = unary *( "and" unary )
//! unary     = "not" unary / primary
//! primary   = "(" filter ")" / attrPath ( "pr" / compareOp compValue )
//!           / attrPath "[" valFilter "]" [ "." subAttr ( "pr" / compareOp compValue ) ]
//! ```
//!
//! Beyond the RFC, as real clients need: keywords in any case; `not` with or without a
//! space before `(` (and `not` before a bare expression); unquoted values read as strings
//! (Entra's `externalId eq jyoung`); `attr[f].sub op v` (Entra) as
//! `ValuePath { attr, f and (sub op v) }`; Microsoft's `urn:…:User.manager` PATCH-path form.
//!
//! Each token is looked at once (no backtracking), so parsing is linear in the input.
//! Nesting (parentheses, `not`, value paths) is limited to [`MAX_FILTER_DEPTH`] and input
//! to [`MAX_FILTER_LEN`] bytes, so no input can exhaust the stack.

use serde_json::Number;

use super::ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
use super::lexer::{Tok, Token, tokenize};
use crate::error::{Error, Result};

/// The longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 8192;
/// The deepest nesting of parentheses, `not` and value paths accepted.
pub const MAX_FILTER_DEPTH: usize = 64;

/// Parses a filter expression (RFC 7644 §3.4.2.2).
///
/// Errors are [`Error::InvalidFilter`] with the byte offset of the offending token
/// (the input length when the filter ends too early).
pub fn parse_filter(input: &str) -> Result<Filter> {
    if input.len() > MAX_FILTER_LEN {
        return Err(Error::invalid_filter(
            MAX_FILTER_LEN,
            format!("filter is longer than {MAX_FILTER_LEN} bytes"),
        ));
    }
    let tokens = tokenize(input)?;
    let mut p = Parser::new(&tokens, input.len());
    if tokens.is_empty() {
        return Err(Error::invalid_filter(0, "empty filter"));
    }
    let f = p.filter(false)?;
    p.end()?;
    Ok(f)
}

/// Parses an attribute path `[urn ":"] name ["." sub]` (RFC 7644 §3.10), as used by
/// `sortBy`, `attributes` and `excludedAttributes`. Surrounding whitespace is ignored.
/// Errors are [`Error::InvalidPath`].
pub fn parse_attr_path(input: &str) -> Result<AttrPath> {
    let s = input.trim();
    if s.is_empty() {
        return Err(Error::invalid_path("empty attribute path"));
    }
    if s.len() > MAX_FILTER_LEN
        || s.bytes()
            .any(|b| b.is_ascii_whitespace() || b"()[]\"".contains(&b))
    {
        return Err(Error::invalid_path(format!("invalid attribute path {s:?}")));
    }
    path_from_word(s, 0).map_err(to_path_error)
}

/// Parses a PATCH operation path (RFC 7644 §3.5.2): `attr`, `attr.sub`, `urn:…:attr`,
/// `urn:…:attr.sub`, `attr[filter]`, `attr[filter].sub`, and Microsoft's
/// `urn:…:enterprise:2.0:User.manager`. Errors are [`Error::InvalidPath`].
pub fn parse_patch_path(input: &str) -> Result<PatchPath> {
    if input.len() > MAX_FILTER_LEN {
        return Err(Error::invalid_path(format!(
            "path is longer than {MAX_FILTER_LEN} bytes"
        )));
    }
    patch_path(input).map_err(to_path_error)
}

fn patch_path(input: &str) -> Result<PatchPath> {
    let tokens = tokenize(input)?;
    let mut p = Parser::new(&tokens, input.len());
    let (word, pos) = match p.next() {
        Some(Token {
            kind: Tok::Word(w),
            pos,
        }) => (*w, *pos),
        other => return Err(p.unexpected(other, "an attribute path")),
    };
    let attr = path_from_word(word, pos)?;
    let mut out = PatchPath {
        attr,
        filter: None,
        sub_attr: None,
    };
    if let Some(Token {
        kind: Tok::LBracket,
        pos,
    }) = p.peek()
    {
        let pos = *pos;
        p.pos += 1;
        if out.attr.sub.is_some() {
            return Err(Error::invalid_filter(
                pos,
                "a value filter must follow an attribute, not a sub-attribute",
            ));
        }
        out.filter = Some(p.value_filter_body(pos)?);
        if let Some(Token {
            kind: Tok::Word(w),
            pos,
        }) = p.peek()
        {
            let (w, pos) = (*w, *pos);
            p.pos += 1;
            out.sub_attr = Some(dotted_sub(w, pos)?);
        }
    }
    p.end()?;
    Ok(out)
}

fn to_path_error(e: Error) -> Error {
    match e {
        Error::InvalidFilter { position, message } => {
            Error::invalid_path(format!("invalid path at byte {position}: {message}"))
        }
        other => other,
    }
}

/// Reads `.sub` (the word after `]`).
fn dotted_sub(word: &str, pos: usize) -> Result<String> {
    let name = word.strip_prefix('.').ok_or_else(|| {
        Error::invalid_filter(pos, "expected \".\" and a sub-attribute after \"]\"")
    })?;
    if !is_attr_name(name) {
        return Err(Error::invalid_filter(
            pos + 1,
            format!("invalid sub-attribute name {name:?}"),
        ));
    }
    Ok(name.to_owned())
}

/// RFC 7644 `ATTRNAME = ALPHA *(nameChar)`, plus the leading `$` of `$ref`.
fn is_attr_name(s: &str) -> bool {
    let body = s.strip_prefix('$').unwrap_or(s);
    let mut chars = body.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Splits one word into an [`AttrPath`]. The URN, if any, is everything before the last
/// `:` (URNs contain `:` and `.`, attribute names contain neither).
/// Microsoft's `urn:…:User.manager` (a URN whose last segment is `User` or `Group`, joined
/// to the attribute by `.`) is read as URN `urn:…:User` and attribute `manager`.
fn path_from_word(word: &str, pos: usize) -> Result<AttrPath> {
    let (urn, rest, rest_pos) = match word.rfind(':') {
        Some(i) => {
            let urn = word.get(..i).unwrap_or_default();
            if urn.is_empty() {
                return Err(Error::invalid_filter(pos, "empty schema URN"));
            }
            (
                Some(urn),
                word.get(i + 1..).unwrap_or_default(),
                pos + i + 1,
            )
        }
        None => (None, word, pos),
    };
    let mut parts = rest.splitn(3, '.');
    let mut name = parts.next().unwrap_or_default();
    let mut sub = parts.next();
    let mut extra = parts.next();
    let mut urn = urn.map(str::to_owned);
    if let (Some(u), Some(s)) = (urn.as_mut(), sub)
        && (name.eq_ignore_ascii_case("User") || name.eq_ignore_ascii_case("Group"))
    {
        u.push(':');
        u.push_str(name);
        name = s;
        sub = extra.take();
    }
    if extra.is_some() || sub.is_some_and(|s| s.contains('.')) {
        return Err(Error::invalid_filter(
            rest_pos,
            format!("attribute path {word:?} has more than one sub-attribute"),
        ));
    }
    if !is_attr_name(name) {
        return Err(Error::invalid_filter(
            rest_pos,
            format!("invalid attribute name in {word:?}"),
        ));
    }
    if let Some(s) = sub
        && !is_attr_name(s)
    {
        return Err(Error::invalid_filter(
            rest_pos + name.len() + 1,
            format!("invalid sub-attribute name in {word:?}"),
        ));
    }
    Ok(AttrPath {
        urn,
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    })
}

fn compare_op(word: &str) -> Option<CompareOp> {
    const OPS: [(&str, CompareOp); 9] = [
        ("eq", CompareOp::Eq),
        ("ne", CompareOp::Ne),
        ("co", CompareOp::Co),
        ("sw", CompareOp::Sw),
        ("ew", CompareOp::Ew),
        ("gt", CompareOp::Gt),
        ("ge", CompareOp::Ge),
        ("lt", CompareOp::Lt),
        ("le", CompareOp::Le),
    ];
    OPS.iter()
        .find(|(k, _)| word.eq_ignore_ascii_case(k))
        .map(|&(_, op)| op)
}

fn is_keyword(word: &str, kw: &str) -> bool {
    word.eq_ignore_ascii_case(kw)
}

/// A value written without quotes: `true`/`false`/`null` in any case, a JSON number, or
/// otherwise the word itself as a string (Entra sends `externalId eq jyoung`).
fn bare_value(word: &str) -> CompValue {
    if is_keyword(word, "true") {
        CompValue::Bool(true)
    } else if is_keyword(word, "false") {
        CompValue::Bool(false)
    } else if is_keyword(word, "null") {
        CompValue::Null
    } else if let Some(n) = json_number(word) {
        CompValue::Number(n)
    } else {
        CompValue::String(word.to_owned())
    }
}

/// Reads a JSON number: integers exactly as `i64`/`u64`, anything else as the nearest
/// `f64` (std's correctly rounded parser, so printed floats read back bit-identical).
/// `None` for non-numbers and for values outside the finite `f64` range.
pub(crate) fn json_number(w: &str) -> Option<Number> {
    if !looks_numeric(w) {
        return None;
    }
    if !w.contains(['.', 'e', 'E']) {
        if let Ok(i) = w.parse::<i64>() {
            return Some(i.into());
        }
        if let Ok(u) = w.parse::<u64>() {
            return Some(u.into());
        }
    }
    w.parse::<f64>().ok().and_then(Number::from_f64)
}

/// JSON number syntax: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn looks_numeric(w: &str) -> bool {
    let b = w.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

struct Parser<'t, 'a> {
    tokens: &'t [Token<'a>],
    pos: usize,
    /// Byte length of the input, reported when the input ends too early.
    len: usize,
    depth: usize,
}

impl<'t, 'a> Parser<'t, 'a> {
    fn new(tokens: &'t [Token<'a>], len: usize) -> Self {
        Self {
            tokens,
            pos: 0,
            len,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<&'t Token<'a>> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<&'t Token<'a>> {
        let t = self.tokens.get(self.pos);
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn peek_word(&self) -> Option<&'a str> {
        match self.peek() {
            Some(Token {
                kind: Tok::Word(w), ..
            }) => Some(w),
            _ => None,
        }
    }

    fn unexpected(&self, tok: Option<&Token<'_>>, expected: &str) -> Error {
        match tok {
            Some(t) => Error::invalid_filter(
                t.pos,
                format!("expected {expected}, found {}", describe(&t.kind)),
            ),
            None => {
                Error::invalid_filter(self.len, format!("expected {expected}, found end of input"))
            }
        }
    }

    fn end(&mut self) -> Result<()> {
        match self.next() {
            None => Ok(()),
            Some(t) => {
                let what = match t.kind {
                    Tok::RParen => "unbalanced \")\"".to_owned(),
                    Tok::RBracket => "unbalanced \"]\"".to_owned(),
                    ref k => format!("expected \"and\", \"or\" or the end, found {}", describe(k)),
                };
                Err(Error::invalid_filter(t.pos, what))
            }
        }
    }

    /// Enters one nesting level (a parenthesis, `not` or value path) starting at `at`.
    fn enter(&mut self, at: usize) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(Error::invalid_filter(
                at,
                format!("filter nests deeper than {MAX_FILTER_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// `filter = and *("or" and)`. `inner` is true inside `[...]`, where paths are
    /// relative to the element and value paths cannot nest.
    fn filter(&mut self, inner: bool) -> Result<Filter> {
        let mut left = self.and(inner)?;
        while self.peek_word().is_some_and(|w| is_keyword(w, "or")) {
            self.pos += 1;
            let right = self.and(inner)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, inner: bool) -> Result<Filter> {
        let mut left = self.unary(inner)?;
        while self.peek_word().is_some_and(|w| is_keyword(w, "and")) {
            self.pos += 1;
            let right = self.unary(inner)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, inner: bool) -> Result<Filter> {
        let Some(tok) = self.peek() else {
            return Err(self.unexpected(None, "an expression"));
        };
        if let Tok::Word(w) = tok.kind {
            // `not` is a keyword unless an operator follows it (an attribute named "not").
            let follows_op = match self.tokens.get(self.pos + 1) {
                Some(Token {
                    kind: Tok::Word(next),
                    ..
                }) => compare_op(next).is_some() || is_keyword(next, "pr"),
                Some(Token {
                    kind: Tok::LBracket,
                    ..
                }) => true,
                _ => false,
            };
            if is_keyword(w, "not") && !follows_op {
                self.pos += 1;
                // `not (x)` is one level, like `not x`, so that the canonical print (which
                // always parenthesises) never nests deeper than what was parsed.
                let counted = !matches!(
                    self.peek(),
                    Some(Token {
                        kind: Tok::LParen,
                        ..
                    })
                );
                if counted {
                    self.enter(tok.pos)?;
                }
                let f = self.unary(inner)?;
                if counted {
                    self.leave();
                }
                return Ok(Filter::Not(Box::new(f)));
            }
        }
        self.primary(inner)
    }

    fn primary(&mut self, inner: bool) -> Result<Filter> {
        let tok = self.next();
        match tok {
            Some(Token {
                kind: Tok::LParen,
                pos,
            }) => {
                self.enter(*pos)?;
                let f = self.filter(inner)?;
                match self.next() {
                    Some(Token {
                        kind: Tok::RParen, ..
                    }) => {}
                    other => return Err(self.unexpected(other, "\")\"")),
                }
                self.leave();
                Ok(f)
            }
            Some(Token {
                kind: Tok::Word(w),
                pos,
            }) => {
                let path = path_from_word(w, *pos)?;
                if inner && (path.urn.is_some() || path.sub.is_some()) {
                    return Err(Error::invalid_filter(
                        *pos,
                        "inside \"[...]\" name a sub-attribute of the element, without URN or \".\"",
                    ));
                }
                if let Some(Token {
                    kind: Tok::LBracket,
                    pos: bpos,
                }) = self.peek()
                {
                    let bpos = *bpos;
                    self.pos += 1;
                    if inner {
                        return Err(Error::invalid_filter(
                            bpos,
                            "value filters cannot be nested",
                        ));
                    }
                    if path.sub.is_some() {
                        return Err(Error::invalid_filter(
                            bpos,
                            "a value filter must follow an attribute, not a sub-attribute",
                        ));
                    }
                    return self.value_path(path, bpos);
                }
                self.attr_exp(path)
            }
            other => Err(self.unexpected(other, "an attribute path, \"(\" or \"not\"")),
        }
    }

    /// The rest of `valuePath` after `[`, including Entra's `].sub op value`.
    fn value_path(&mut self, path: AttrPath, bracket: usize) -> Result<Filter> {
        let mut filter = self.value_filter_body(bracket)?;
        if let Some(Token {
            kind: Tok::Word(w),
            pos,
        }) = self.peek()
            && w.starts_with('.')
        {
            let (w, pos) = (*w, *pos);
            self.pos += 1;
            let sub = dotted_sub(w, pos)?;
            let cond = self.attr_exp(AttrPath::simple(&sub))?;
            filter = Filter::And(Box::new(filter), Box::new(cond));
        }
        Ok(Filter::ValuePath {
            path,
            filter: Box::new(filter),
        })
    }

    /// `valFilter "]"`, after the `[` at `bracket`.
    fn value_filter_body(&mut self, bracket: usize) -> Result<Filter> {
        self.enter(bracket)?;
        let f = self.filter(true)?;
        match self.next() {
            Some(Token {
                kind: Tok::RBracket,
                ..
            }) => {}
            other => return Err(self.unexpected(other, "\"]\"")),
        }
        self.leave();
        Ok(f)
    }

    /// `pr` or `compareOp compValue` after a path.
    fn attr_exp(&mut self, path: AttrPath) -> Result<Filter> {
        let tok = self.next();
        let Some(Token {
            kind: Tok::Word(w), ..
        }) = tok
        else {
            return Err(self.unexpected(tok, "an operator"));
        };
        if is_keyword(w, "pr") {
            return Ok(Filter::Present(path));
        }
        let Some(op) = compare_op(w) else {
            return Err(
                self.unexpected(tok, "an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)")
            );
        };
        let value = match self.next() {
            Some(Token {
                kind: Tok::Str(s), ..
            }) => CompValue::String(s.clone()),
            Some(Token {
                kind: Tok::Word(w), ..
            }) => bare_value(w),
            other => return Err(self.unexpected(other, "a value")),
        };
        Ok(Filter::Compare { path, op, value })
    }
}

fn describe(t: &Tok<'_>) -> String {
    match t {
        Tok::LParen => "\"(\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::LBracket => "\"[\"".into(),
        Tok::RBracket => "\"]\"".into(),
        Tok::Str(_) => "a string".into(),
        Tok::Word(w) => {
            let shown: String = w.chars().take(40).collect();
            format!("{shown:?}")
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use std::time::{Duration, Instant};

    use super::*;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn p(s: &str) -> Filter {
        parse_filter(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn path(s: &str) -> AttrPath {
        parse_attr_path(s).unwrap()
    }

    fn cmp(attr: &str, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare {
            path: path(attr),
            op,
            value,
        }
    }

    fn s(v: &str) -> CompValue {
        CompValue::String(v.to_owned())
    }

    fn eq(attr: &str, v: &str) -> Filter {
        cmp(attr, CompareOp::Eq, s(v))
    }

    fn pr(attr: &str) -> Filter {
        Filter::Present(path(attr))
    }

    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    fn vp(attr: &str, f: Filter) -> Filter {
        Filter::ValuePath {
            path: path(attr),
            filter: Box::new(f),
        }
    }

    fn err_pos(s: &str) -> usize {
        match parse_filter(s) {
            Err(Error::InvalidFilter { position, .. }) => position,
            other => panic!("{s}: expected invalidFilter, got {other:?}"),
        }
    }

    /// Every example of RFC 7644 §3.4.2.2 ("Figure 2: Example Filters"), with its AST.
    #[test]
    fn rfc7644_examples() {
        let core_user_name = AttrPath {
            urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
            name: "userName".into(),
            sub: None,
        };
        let ts = || s("2011-05-13T04:42:34Z");
        let cases: Vec<(&str, Filter)> = vec![
            (r#"userName eq "bjensen""#, eq("userName", "bjensen")),
            (
                r#"name.familyName co "O'Malley""#,
                cmp("name.familyName", CompareOp::Co, s("O'Malley")),
            ),
            (r#"userName sw "J""#, cmp("userName", CompareOp::Sw, s("J"))),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
                Filter::Compare {
                    path: core_user_name,
                    op: CompareOp::Sw,
                    value: s("J"),
                },
            ),
            ("title pr", pr("title")),
            (
                r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", CompareOp::Gt, ts()),
            ),
            (
                r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", CompareOp::Ge, ts()),
            ),
            (
                r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", CompareOp::Lt, ts()),
            ),
            (
                r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", CompareOp::Le, ts()),
            ),
            (
                r#"title pr and userType eq "Employee""#,
                and(pr("title"), eq("userType", "Employee")),
            ),
            (
                r#"title pr or userType eq "Intern""#,
                or(pr("title"), eq("userType", "Intern")),
            ),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                eq("schemas", ENTERPRISE),
            ),
            (
                "userType eq \"Employee\" and (emails co \"example.com\" or\n  emails.value co \"example.org\")",
                and(
                    eq("userType", "Employee"),
                    or(
                        cmp("emails", CompareOp::Co, s("example.com")),
                        cmp("emails.value", CompareOp::Co, s("example.org")),
                    ),
                ),
            ),
            (
                "userType ne \"Employee\" and not (emails co \"example.com\" or\n  emails.value co \"example.org\")",
                and(
                    cmp("userType", CompareOp::Ne, s("Employee")),
                    not(or(
                        cmp("emails", CompareOp::Co, s("example.com")),
                        cmp("emails.value", CompareOp::Co, s("example.org")),
                    )),
                ),
            ),
            (
                r#"userType eq "Employee" and (emails.type eq "work")"#,
                and(eq("userType", "Employee"), eq("emails.type", "work")),
            ),
            (
                "userType eq \"Employee\" and emails[type eq \"work\" and\n  value co \"@example.com\"]",
                and(
                    eq("userType", "Employee"),
                    vp(
                        "emails",
                        and(
                            eq("type", "work"),
                            cmp("value", CompareOp::Co, s("@example.com")),
                        ),
                    ),
                ),
            ),
            (
                "emails[type eq \"work\" and value co \"@example.com\"] or\n  ims[type eq \"xmpp\" and value co \"@foo.com\"]",
                or(
                    vp(
                        "emails",
                        and(
                            eq("type", "work"),
                            cmp("value", CompareOp::Co, s("@example.com")),
                        ),
                    ),
                    vp(
                        "ims",
                        and(
                            eq("type", "xmpp"),
                            cmp("value", CompareOp::Co, s("@foo.com")),
                        ),
                    ),
                ),
            ),
            // §3.4.2.2: attribute names and operators are case-insensitive.
            (r#"userName Eq "john""#, eq("userName", "john")),
            (r#"Username eq "john""#, eq("Username", "john")),
        ];
        for (text, want) in cases {
            let got = p(text);
            assert_eq!(got, want, "{text}");
            // And the canonical print parses back to the same tree.
            assert_eq!(p(&got.to_string()), want, "{text} printed as {got}");
        }
    }

    /// Filter shapes that identity providers send (docs/idp-quirks.md sections 1–3).
    #[test]
    fn idp_filter_shapes() {
        // Okta lookup and the Runscope upper-case probe.
        assert_eq!(
            p(r#"userName eq "test.user@okta.local""#),
            eq("userName", "test.user@okta.local")
        );
        assert_eq!(
            p(r#"userName eq "RUNSCOPE300HFLUAKLAB151@example.com""#),
            eq("userName", "RUNSCOPE300HFLUAKLAB151@example.com")
        );
        // Entra: quoted and unquoted externalId, random GUIDs, work-email matching.
        assert_eq!(p("externalId eq jyoung"), eq("externalId", "jyoung"));
        assert_eq!(
            p(r#"externalId eq "8c1b1a3e-7f2c-4f0e-9a43-2f6c0b7f1d55""#),
            eq("externalId", "8c1b1a3e-7f2c-4f0e-9a43-2f6c0b7f1d55")
        );
        assert_eq!(
            p("externalId eq 8c1b1a3e-7f2c-4f0e-9a43-2f6c0b7f1d55"),
            eq("externalId", "8c1b1a3e-7f2c-4f0e-9a43-2f6c0b7f1d55")
        );
        assert_eq!(
            p(r#"emails[type eq "work"].value eq "user@contoso.com""#),
            vp(
                "emails",
                and(eq("type", "work"), eq("value", "user@contoso.com"))
            )
        );
        // Entra group lookup (sent together with excludedAttributes=members).
        assert_eq!(
            p(r#"displayName eq "displayName""#),
            eq("displayName", "displayName")
        );
        // Entra reader: 7-digit fractions, grouping, mixed case.
        assert_eq!(
            p(
                r#"active eq true and (meta.lastModified ge "0001-01-03T00:00:00.0000000Z" and meta.lastModified le "2026-01-01T00:00:00.0000000Z")"#
            ),
            and(
                cmp("active", CompareOp::Eq, CompValue::Bool(true)),
                and(
                    cmp(
                        "meta.lastModified",
                        CompareOp::Ge,
                        s("0001-01-03T00:00:00.0000000Z")
                    ),
                    cmp(
                        "meta.lastModified",
                        CompareOp::Le,
                        s("2026-01-01T00:00:00.0000000Z")
                    ),
                )
            )
        );
        assert_eq!(
            p(r#"(ActiVe eq true) and meta.lastmodified ge "2026-01-01T00:00:00Z""#),
            and(
                cmp("ActiVe", CompareOp::Eq, CompValue::Bool(true)),
                cmp(
                    "meta.lastmodified",
                    CompareOp::Ge,
                    s("2026-01-01T00:00:00Z")
                ),
            )
        );
        // Okta group push removes members by value path (PATCH path below); as a filter too.
        assert_eq!(
            p(r#"members[value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"]"#),
            vp(
                "members",
                eq("value", "89bb1940-b905-4575-9e7f-6f887cfb368e")
            )
        );
        // Enterprise extension attribute, as Entra and Okta name it.
        assert_eq!(
            p(&format!(r#"{ENTERPRISE}:employeeNumber eq "42""#)),
            Filter::Compare {
                path: AttrPath {
                    urn: Some(ENTERPRISE.into()),
                    name: "employeeNumber".into(),
                    sub: None
                },
                op: CompareOp::Eq,
                value: s("42"),
            }
        );
        // OneLogin's SCIM 1.1 URN prefix.
        assert_eq!(
            p(r#"urn:scim:schemas:core:1.0:userName eq "x""#),
            Filter::Compare {
                path: AttrPath {
                    urn: Some("urn:scim:schemas:core:1.0".into()),
                    name: "userName".into(),
                    sub: None
                },
                op: CompareOp::Eq,
                value: s("x"),
            }
        );
    }

    #[test]
    fn urn_paths_split_at_the_last_colon() {
        assert_eq!(
            path(&format!("{ENTERPRISE}:manager.value")),
            AttrPath {
                urn: Some(ENTERPRISE.into()),
                name: "manager".into(),
                sub: Some("value".into()),
            }
        );
        assert_eq!(
            path("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName"),
            AttrPath {
                urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                name: "name".into(),
                sub: Some("givenName".into()),
            }
        );
        assert_eq!(
            path(" members.$ref "),
            AttrPath::with_sub("members", "$ref")
        );
    }

    #[test]
    fn keywords_in_any_case_and_precedence() {
        let a = || pr("a");
        let b = || pr("b");
        let c = || pr("c");
        assert_eq!(p("a pr OR b pr AnD c pr"), or(a(), and(b(), c())));
        assert_eq!(p("a pr and b pr or c pr"), or(and(a(), b()), c()));
        assert_eq!(p("NOT (a pr) and b pr"), and(not(a()), b()));
        assert_eq!(p("not(a pr)"), not(a()));
        assert_eq!(p("Not  (a pr or b pr)"), not(or(a(), b())));
        assert_eq!(p("not a pr and b pr"), and(not(a()), b()));
        assert_eq!(p("a pr and b pr and c pr"), and(and(a(), b()), c()));
        assert_eq!(p("a pr and (b pr and c pr)"), and(a(), and(b(), c())));
        assert_eq!(p("((a pr))"), a());
        assert_eq!(p("a PR"), a());
        for op in ["EQ", "Ne", "cO", "SW", "ew", "GT", "ge", "Lt", "LE"] {
            let f = p(&format!("x {op} 1"));
            let Filter::Compare { op: got, .. } = f else {
                panic!("{f:?}")
            };
            assert!(got.as_str().eq_ignore_ascii_case(op));
        }
        // An attribute that happens to be called "not".
        assert_eq!(p(r#"not eq "x""#), eq("not", "x"));
        assert_eq!(p(r#"(a pr)and(b pr)"#), and(a(), b()));
    }

    #[test]
    fn values_strings_numbers_literals() {
        let v = |s: &str| match p(&format!("a eq {s}")) {
            Filter::Compare { value, .. } => value,
            other => panic!("{other:?}"),
        };
        assert_eq!(v("true"), CompValue::Bool(true));
        assert_eq!(v("FALSE"), CompValue::Bool(false));
        assert_eq!(v("Null"), CompValue::Null);
        assert_eq!(v("42"), CompValue::Number(42.into()));
        assert_eq!(v("-7"), CompValue::Number((-7).into()));
        assert_eq!(v("2.5"), CompValue::Number(Number::from_f64(2.5).unwrap()));
        assert_eq!(
            v("1e3"),
            CompValue::Number(Number::from_f64(1000.0).unwrap())
        );
        assert_eq!(
            v("-1.5E-2"),
            CompValue::Number(Number::from_f64(-0.015).unwrap())
        );
        // Not JSON numbers: read as bare-word strings.
        assert_eq!(v("007"), s("007"));
        assert_eq!(v("1."), s("1."));
        assert_eq!(v("jyoung@contoso.com"), s("jyoung@contoso.com"));
        assert_eq!(v(r#""true""#), s("true"));
        assert_eq!(v(r#""a\"b\\c\u00e9\ud83d\ude00""#), s("a\"b\\cé😀"));
        assert_eq!(v(r#""with ) and ] inside""#), s("with ) and ] inside"));
    }

    #[test]
    fn error_positions() {
        assert_eq!(err_pos(""), 0);
        assert_eq!(err_pos("   "), 0);
        assert_eq!(err_pos("userName"), 8);
        assert_eq!(err_pos("userName eq"), 11);
        assert_eq!(err_pos(r#"userName xx "a""#), 9);
        assert_eq!(err_pos(r#"userName eq "a" junk"#), 16);
        assert_eq!(err_pos(r#"userName eq "a")"#), 15);
        assert_eq!(err_pos(r#"(userName eq "a""#), 16);
        assert_eq!(err_pos(r#"userName eq "a" and"#), 19);
        assert_eq!(err_pos(r#"emails[type eq "work""#), 21);
        assert_eq!(err_pos(r#"emails[type eq "work"] and ) "#), 27);
        assert_eq!(err_pos(r#"1abc eq "x""#), 0);
        assert_eq!(err_pos(r#"a.b.c eq "x""#), 0);
        assert_eq!(err_pos(r#"name.1x eq "x""#), 5);
        assert_eq!(err_pos(r#":a eq "x""#), 0);
        assert_eq!(err_pos(r#"a eq "unterminated"#), 5);
        assert_eq!(err_pos(r#"a eq "bad \x escape""#), 10);
        assert_eq!(err_pos(r#"emails[type eq "w"].val.x eq "x""#), 20);
        assert_eq!(err_pos(r#"emails[type eq "w"]x eq "x""#), 19);
        // Value filters cannot nest, name URNs or sub-attributes, or follow a sub-attribute.
        assert_eq!(err_pos(r#"emails[x[y eq 1]]"#), 8);
        assert_eq!(err_pos(r#"emails[value.x eq 1]"#), 7);
        assert_eq!(err_pos(r#"name.givenName[value eq 1]"#), 14);
        // `not` needs an operand.
        assert_eq!(err_pos("not"), 3);
        assert_eq!(err_pos("not ()"), 5);
    }

    #[test]
    fn deep_nesting_is_rejected_quickly() {
        let start = Instant::now();
        let deep = "(".repeat(10_000);
        assert!(matches!(
            parse_filter(&deep),
            Err(Error::InvalidFilter { position: 8192, .. })
        ));
        let deep = format!("{}a pr{}", "(".repeat(4000), ")".repeat(4000));
        let pos = err_pos(&deep);
        assert_eq!(pos, MAX_FILTER_DEPTH);
        let nots = format!("{}a pr", "not ".repeat(2000));
        assert_eq!(err_pos(&nots), 4 * MAX_FILTER_DEPTH);
        let nested_not = format!("{}a pr{}", "not(".repeat(1500), ")".repeat(1500));
        assert_eq!(err_pos(&nested_not), 4 * MAX_FILTER_DEPTH + 3);
        // `not (x)` counts once, so printing (which adds the parentheses) keeps the depth.
        let at_budget = format!("{}a pr", "not ".repeat(MAX_FILTER_DEPTH));
        let printed = p(&at_budget).to_string();
        assert_eq!(p(&printed), p(&at_budget));
        // Exactly at the budget is fine.
        let ok = format!(
            "{}a pr{}",
            "(".repeat(MAX_FILTER_DEPTH),
            ")".repeat(MAX_FILTER_DEPTH)
        );
        assert_eq!(p(&ok), pr("a"));
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn long_flat_chains_parse_in_linear_time() {
        let clause = r#"userName eq "someone@example.com""#;
        let n = MAX_FILTER_LEN / (clause.len() + 4);
        let text = vec![clause; n].join(" or ");
        assert!(text.len() <= MAX_FILTER_LEN);
        let start = Instant::now();
        let f = p(&text);
        assert!(start.elapsed() < Duration::from_secs(1));
        let mut count = 1;
        let mut cur = &f;
        while let Filter::Or(l, _) = cur {
            count += 1;
            cur = l;
        }
        assert_eq!(count, n);
        let too_long = "a".repeat(MAX_FILTER_LEN + 1);
        assert_eq!(err_pos(&too_long), MAX_FILTER_LEN);
    }

    #[test]
    fn attr_paths() {
        assert_eq!(path("userName"), AttrPath::simple("userName"));
        assert_eq!(
            path("name.familyName"),
            AttrPath::with_sub("name", "familyName")
        );
        // Microsoft's dot form is tolerated here too.
        assert_eq!(
            path(&format!("{ENTERPRISE}.manager")),
            AttrPath {
                urn: Some(ENTERPRISE.into()),
                name: "manager".into(),
                sub: None,
            }
        );
        for bad in [
            "",
            "a b",
            "a[",
            "a.b.c",
            "1a",
            "a.",
            ":a",
            "a\"",
            "emails[type eq \"x\"]",
        ] {
            assert!(
                matches!(parse_attr_path(bad), Err(Error::InvalidPath(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn patch_paths() {
        let pp = |s: &str| parse_patch_path(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(
            pp("nickName"),
            PatchPath {
                attr: AttrPath::simple("nickName"),
                filter: None,
                sub_attr: None
            }
        );
        assert_eq!(
            pp("name.familyName"),
            PatchPath {
                attr: AttrPath::with_sub("name", "familyName"),
                filter: None,
                sub_attr: None
            }
        );
        let emp = AttrPath {
            urn: Some(ENTERPRISE.into()),
            name: "employeeNumber".into(),
            sub: None,
        };
        assert_eq!(pp(&format!("{ENTERPRISE}:employeeNumber")).attr, emp);
        let mgr_value = AttrPath {
            urn: Some(ENTERPRISE.into()),
            name: "manager".into(),
            sub: Some("value".into()),
        };
        assert_eq!(pp(&format!("{ENTERPRISE}:manager.value")).attr, mgr_value);
        // Entra's dot form.
        let mgr = AttrPath {
            urn: Some(ENTERPRISE.into()),
            name: "manager".into(),
            sub: None,
        };
        assert_eq!(pp(&format!("{ENTERPRISE}.manager")).attr, mgr);
        assert_eq!(pp(&format!("{ENTERPRISE}.manager.value")).attr, mgr_value);
        assert_eq!(
            pp("urn:ietf:params:scim:schemas:core:2.0:Group.displayName").attr,
            AttrPath {
                urn: Some("urn:ietf:params:scim:schemas:core:2.0:Group".into()),
                name: "displayName".into(),
                sub: None,
            }
        );
        // Okta group push and Entra member removal.
        assert_eq!(
            pp(r#"members[value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"]"#),
            PatchPath {
                attr: AttrPath::simple("members"),
                filter: Some(eq("value", "89bb1940-b905-4575-9e7f-6f887cfb368e")),
                sub_attr: None
            }
        );
        // Entra's filtered replace.
        let work_value = PatchPath {
            attr: AttrPath::simple("emails"),
            filter: Some(eq("type", "work")),
            sub_attr: Some("value".into()),
        };
        assert_eq!(pp(r#"emails[type eq "work"].value"#), work_value);
        assert_eq!(
            pp(r#"addresses[type eq "work" and not (primary eq false)].streetAddress"#),
            PatchPath {
                attr: AttrPath::simple("addresses"),
                filter: Some(and(
                    eq("type", "work"),
                    not(cmp("primary", CompareOp::Eq, CompValue::Bool(false)))
                )),
                sub_attr: Some("streetAddress".into()),
            }
        );
        assert_eq!(
            pp(&format!(r#"{ENTERPRISE}:manager[value eq "m-1"]"#)),
            PatchPath {
                attr: mgr,
                filter: Some(eq("value", "m-1")),
                sub_attr: None
            }
        );
        // Printing round-trips.
        for text in [
            "nickName",
            r#"emails[type eq "work"].value"#,
            r#"members[value eq "a\"b"]"#,
        ] {
            let parsed = pp(text);
            assert_eq!(pp(&parsed.to_string()), parsed);
        }
        assert_eq!(work_value.to_string(), r#"emails[type eq "work"].value"#);
        for bad in [
            "",
            "emails[",
            r#"emails[type eq "work""#,
            r#"emails[type eq "work"]value"#,
            r#"emails[type eq "work"].value.x"#,
            r#"emails[type eq "work"] extra"#,
            r#"name.givenName[value eq "x"]"#,
            "a b",
            "emails[]",
            r#"emails[type eq "work"][value eq "x"]"#,
        ] {
            assert!(
                matches!(parse_patch_path(bad), Err(Error::InvalidPath(_))),
                "{bad:?} -> {:?}",
                parse_patch_path(bad)
            );
        }
    }

    #[test]
    fn canonical_printing() {
        let cases = [
            (r#"userName EQ "x""#, r#"userName eq "x""#),
            ("a pr AND (b pr OR c pr)", "a pr and (b pr or c pr)"),
            ("(a pr and b pr) or c pr", "a pr and b pr or c pr"),
            ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
            ("not(a pr)", "not (a pr)"),
            ("x eq jyoung", r#"x eq "jyoung""#),
            ("x gt 1.5", "x gt 1.5"),
            ("x eq NULL", "x eq null"),
            (
                r#"emails[type eq "work"].value eq "a""#,
                r#"emails[type eq "work" and value eq "a"]"#,
            ),
            (r#"x eq "tab\there\u0001""#, r#"x eq "tab\there\u0001""#),
        ];
        for (input, printed) in cases {
            assert_eq!(p(input).to_string(), printed, "{input}");
        }
    }
}
