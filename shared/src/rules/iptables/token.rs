//! Splitting one line into tokens with their columns, and errors that point at a line,
//! a column and the token.

use crate::rules::error::{RulesError, RulesErrorKind};

/// Every error's hint: what iptables-save output looks like.
pub(super) const HINT: &str = "expected `iptables-save` (or `ip6tables-save`) output: `*table`, \
                    `:CHAIN POLICY [0:0]`, `-A CHAIN options -j TARGET` and `COMMIT` lines";

/// One token of a line and its 1-based column (in characters).
#[derive(Debug, Clone)]
pub(super) struct Tok {
    pub(super) text: String,
    pub(super) col: usize,
}

/// Where an error points, for messages.
#[derive(Clone)]
pub(super) struct At<'a> {
    pub(super) line: usize,
    /// The table (and chain) the line is in, as the error's path: `*filter -A INPUT`.
    pub(super) context: &'a str,
}

/// An error at column `col` of the line `at` names.
pub(super) fn err(
    at: &At,
    col: usize,
    kind: RulesErrorKind,
    message: impl Into<String>,
) -> RulesError {
    RulesError {
        kind,
        path: at.context.to_owned(),
        line: Some(at.line),
        column: Some(col),
        message: message.into(),
        hint: Some(HINT.to_owned()),
    }
}

/// An invalid token.
pub(super) fn bad(at: &At, tok: &Tok, message: impl Into<String>) -> RulesError {
    err(at, tok.col, RulesErrorKind::InvalidField, message)
}

/// Splits a line as iptables-restore does: whitespace-separated words, double-quoted
/// strings with `\"` and `\\` escapes (iptables-save quotes comments and log prefixes),
/// and single-quoted strings as written by hand.
pub(super) fn tokenize(line: &str, at: &At, offset: usize) -> Result<Vec<Tok>, RulesError> {
    let mut out = Vec::new();
    let mut chars = line.chars().enumerate().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let col = offset + i + 1;
        let mut text = String::new();
        while let Some(&(_, c)) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '"' | '\'' => {
                    let quote = c;
                    let mut closed = false;
                    while let Some((_, c)) = chars.next() {
                        if c == quote {
                            closed = true;
                            break;
                        }
                        if c == '\\' && quote == '"' {
                            if let Some((_, n)) = chars.next() {
                                text.push(n);
                            }
                            continue;
                        }
                        text.push(c);
                    }
                    if !closed {
                        return Err(err(
                            at,
                            col,
                            RulesErrorKind::Syntax,
                            format!("a quote opened here is never closed: {quote}{text}"),
                        ));
                    }
                }
                c => text.push(c),
            }
        }
        out.push(Tok { text, col });
    }
    Ok(out)
}
