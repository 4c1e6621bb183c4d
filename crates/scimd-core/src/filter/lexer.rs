//! Tokens of the RFC 7644 §3.4.2.2 filter grammar, with byte offsets for error messages.
//!
//! The grammar needs only six kinds of token: the four brackets, JSON strings, and "words"
//! (maximal runs of anything else that is not whitespace). Words cover attribute paths
//! (including URNs with `:` and `.`), operators, `and`/`or`/`not`, numbers, `true`/`false`/
//! `null` and the unquoted values Entra sends; the parser decides which a word is from its
//! position. Lexing is one forward pass with no look-back, so it is linear in the input.

use crate::error::{Error, Result};

/// One token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token<'a> {
    pub pos: usize,
    pub kind: Tok<'a>,
}

/// The kinds of token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A JSON string literal, unescaped.
    Str(String),
    /// Any other run of non-whitespace, non-bracket, non-quote characters.
    Word(&'a str),
}

fn is_delimiter(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b'(' | b')' | b'[' | b']' | b'"')
}

/// Splits `input` into tokens. Fails with [`Error::InvalidFilter`] on an unterminated
/// string or an invalid escape, at the offending byte.
pub(crate) fn tokenize(input: &str) -> Result<Vec<Token<'_>>> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        let pos = i;
        let kind = match c {
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b'"' => {
                let (s, end) = string(input, pos)?;
                out.push(Token {
                    pos,
                    kind: Tok::Str(s),
                });
                i = end;
                continue;
            }
            _ => {
                let mut end = i;
                while bytes.get(end).is_some_and(|&b| !is_delimiter(b)) {
                    end += 1;
                }
                // Delimiters are ASCII, so `end` is on a char boundary.
                let word = input.get(i..end).unwrap_or_default();
                out.push(Token {
                    pos,
                    kind: Tok::Word(word),
                });
                i = end;
                continue;
            }
        };
        out.push(Token { pos, kind });
        i += 1;
    }
    Ok(out)
}

/// Reads the JSON string starting at `start` (the opening quote); returns the unescaped
/// text and the offset just past the closing quote.
fn string(input: &str, start: usize) -> Result<(String, usize)> {
    let mut out = String::new();
    let rest = input.get(start + 1..).unwrap_or_default();
    let mut chars = rest.char_indices().peekable();
    let at = |off: usize| start + 1 + off;
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => return Ok((out, at(off) + 1)),
            '\\' => {
                let Some((_, e)) = chars.next() else {
                    break;
                };
                match e {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    '/' => out.push('/'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let hi = hex4(&mut chars).ok_or_else(|| bad_escape(at(off)))?;
                        let code = if (0xD800..0xDC00).contains(&hi) {
                            // A high surrogate must be followed by `\u` and a low surrogate.
                            let lo = match (chars.next(), chars.next()) {
                                (Some((_, '\\')), Some((_, 'u'))) => hex4(&mut chars),
                                _ => None,
                            }
                            .filter(|lo| (0xDC00..0xE000).contains(lo))
                            .ok_or_else(|| {
                                Error::invalid_filter(
                                    at(off),
                                    "unpaired UTF-16 surrogate in string",
                                )
                            })?;
                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                        } else {
                            hi
                        };
                        let ch = char::from_u32(code).ok_or_else(|| {
                            Error::invalid_filter(at(off), "unpaired UTF-16 surrogate in string")
                        })?;
                        out.push(ch);
                    }
                    _ => return Err(bad_escape(at(off))),
                }
            }
            c => out.push(c),
        }
    }
    Err(Error::invalid_filter(start, "unterminated string"))
}

fn bad_escape(pos: usize) -> Error {
    Error::invalid_filter(pos, "invalid escape in string")
}

fn hex4(chars: &mut impl Iterator<Item = (usize, char)>) -> Option<u32> {
    let mut v = 0;
    for _ in 0..4 {
        let (_, c) = chars.next()?;
        v = v * 16 + c.to_digit(16)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    fn kinds(s: &str) -> Vec<Tok<'_>> {
        tokenize(s).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn words_brackets_and_strings() {
        assert_eq!(
            kinds(r#"emails[type eq "work"].value eq x"#),
            vec![
                Tok::Word("emails"),
                Tok::LBracket,
                Tok::Word("type"),
                Tok::Word("eq"),
                Tok::Str("work".into()),
                Tok::RBracket,
                Tok::Word(".value"),
                Tok::Word("eq"),
                Tok::Word("x"),
            ]
        );
        assert_eq!(
            kinds("not(a pr)"),
            vec![
                Tok::Word("not"),
                Tok::LParen,
                Tok::Word("a"),
                Tok::Word("pr"),
                Tok::RParen
            ]
        );
    }

    #[test]
    fn positions_are_byte_offsets() {
        let t = tokenize("  ä eq \"x\"").unwrap();
        assert_eq!(t[0].pos, 2);
        assert_eq!(t[1].pos, 5);
        assert_eq!(t[2].pos, 8);
    }

    #[test]
    fn json_escapes() {
        assert_eq!(
            kinds(r#""a\"b\\c\/d\b\f\n\r\t""#),
            vec![Tok::Str("a\"b\\c/d\u{8}\u{c}\n\r\t".into())]
        );
        assert_eq!(kinds(r#""\u00e9\u00C9""#), vec![Tok::Str("éÉ".into())]);
        assert_eq!(kinds(r#""\ud83d\ude00""#), vec![Tok::Str("😀".into())]);
    }

    #[test]
    fn string_errors_name_the_byte() {
        let pos = |s: &str| match tokenize(s) {
            Err(Error::InvalidFilter { position, .. }) => position,
            other => panic!("{other:?}"),
        };
        assert_eq!(pos(r#"a eq "abc"#), 5);
        assert_eq!(pos(r#"a eq "a\qb""#), 7);
        assert_eq!(pos(r#"a eq "\u12""#), 6);
        assert_eq!(pos(r#"a eq "\ud83d""#), 6);
        assert_eq!(pos(r#"a eq "\ud83d\u0041""#), 6);
        assert_eq!(pos(r#"a eq "\ude00""#), 6);
        assert_eq!(pos("a eq \"x\\"), 5);
    }
}
