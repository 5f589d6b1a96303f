//! HTTP syntax shared by the request and response sides: whitespace trimming and RFC 9110
//! tokens.

/// HTTP whitespace (LF, CR, tab, space) trimmed from both ends: Fetch's "normalize".
pub(super) fn trim_http_whitespace(s: &str) -> &str {
    s.trim_matches(['\t', ' ', '\r', '\n'])
}

pub(super) fn trim_tab_space(s: &str) -> &str {
    s.trim_matches(['\t', ' '])
}

/// RFC 9110 `token`, which both methods and header names are.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}
