//! Finds positions in JSON text: the field path at a byte offset, and the offset of a
//! field path, so every parse error can say both where (line, column) and what
//! (`SecurityGroups[0].IpPermissions[2].FromPort`).
//!
//! serde_json reports a line and column but not the path; our own checks after
//! deserialising know the path but not the position. This small byte-level walker bridges
//! both ways. It runs only when there is an error, never recurses (deeply nested input
//! cannot overflow the stack), and tolerates malformed text, because the text it is asked
//! about is often the broken input itself.

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Idx(usize),
}

impl Seg {
    pub(crate) fn key(k: &str) -> Self {
        Self::Key(k.to_owned())
    }
}

/// `SecurityGroups[0].IpPermissions[2].FromPort`; empty for the top level.
pub(crate) fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Idx(i) => {
                s.push('[');
                s.push_str(&i.to_string());
                s.push(']');
            }
        }
    }
    s
}

/// 1-based line and column of a byte offset; columns count characters, as editors do.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let offset = offset.min(bytes.len());
    let before = &bytes[..offset];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    // UTF-8 continuation bytes (0b10xx_xxxx) do not start a character.
    let column = 1 + before[line_start..]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count();
    (line, column)
}

/// The byte offset serde_json means by (line, column): its column counts the bytes consumed
/// on that line, so the offending byte is the one before.
pub(crate) fn offset_of_line_col(text: &str, line: usize, column: usize) -> usize {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut current = 1;
    if line > 1 {
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                current += 1;
                if current == line {
                    start = i + 1;
                    break;
                }
            }
        }
        if current < line {
            return bytes.len();
        }
    }
    (start + column).saturating_sub(1).min(bytes.len())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ObjState {
    ExpectKey,
    ExpectColon,
    ExpectValue,
    AfterValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrState {
    Start,
    ExpectValue,
    AfterValue,
}

#[derive(Debug)]
enum Frame {
    Obj {
        key: Option<(usize, usize)>,
        state: ObjState,
    },
    Arr {
        index: usize,
        state: ArrState,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Open(bool), // true = object
    Close,
    Colon,
    Comma,
    Str,
    Scalar,
}

/// A forgiving tokenizer + container stack over JSON bytes.
struct Walker<'a> {
    bytes: &'a [u8],
    pos: usize,
    frames: Vec<Frame>,
}

impl<'a> Walker<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            bytes: text.as_bytes(),
            pos: 0,
            frames: Vec::new(),
        }
    }

    /// The next token as (kind, start, end inclusive); `None` at the end of the text.
    fn token(&mut self) -> Option<(Tok, usize, usize)> {
        let b = self.bytes;
        while self.pos < b.len() && b[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        let start = self.pos;
        let c = *b.get(start)?;
        let (tok, end) = match c {
            b'{' => (Tok::Open(true), start),
            b'[' => (Tok::Open(false), start),
            b'}' | b']' => (Tok::Close, start),
            b':' => (Tok::Colon, start),
            b',' => (Tok::Comma, start),
            b'"' => {
                let mut i = start + 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                (Tok::Str, i.min(b.len().saturating_sub(1)))
            }
            _ => {
                let mut i = start;
                while i + 1 < b.len() && !b"{}[],:\" \t\r\n".contains(&b[i + 1]) {
                    i += 1;
                }
                (Tok::Scalar, i)
            }
        };
        self.pos = end + 1;
        Some((tok, start, end))
    }

    /// The path of the value currently being read.
    fn path(&self, text: &str) -> Vec<Seg> {
        self.path_inner(text, false)
    }

    /// The path a value starting at the current position would have.
    fn value_path(&self, text: &str) -> Vec<Seg> {
        self.path_inner(text, true)
    }

    fn path_inner(&self, text: &str, starting: bool) -> Vec<Seg> {
        let mut path = Vec::with_capacity(self.frames.len());
        let last = self.frames.len().saturating_sub(1);
        for (i, f) in self.frames.iter().enumerate() {
            match f {
                Frame::Obj {
                    key: Some((s, e)),
                    state: ObjState::ExpectColon | ObjState::ExpectValue,
                } => path.push(Seg::Key(text.get(*s..*e).unwrap_or("?").to_owned())),
                Frame::Arr {
                    index,
                    state: ArrState::ExpectValue,
                } => path.push(Seg::Idx(*index)),
                Frame::Arr {
                    index,
                    state: ArrState::Start,
                } if starting && i == last => path.push(Seg::Idx(*index)),
                _ => break,
            }
        }
        path
    }

    /// Whether a value may start here (the top level, after a key's colon, in an array).
    fn in_value_position(&self) -> bool {
        match self.frames.last() {
            None => true,
            Some(Frame::Obj { state, .. }) => *state == ObjState::ExpectValue,
            Some(Frame::Arr { state, .. }) => *state != ArrState::AfterValue,
        }
    }

    /// Book-keeping before a value starts: an array moves into its element.
    fn begin_value(&mut self) {
        if let Some(Frame::Arr { state, .. }) = self.frames.last_mut() {
            *state = ArrState::ExpectValue;
        }
    }

    /// Book-keeping after a value ends (a scalar, or a container that closed).
    fn end_value(&mut self) {
        match self.frames.last_mut() {
            Some(Frame::Obj { state, .. }) => *state = ObjState::AfterValue,
            Some(Frame::Arr { state, .. }) => *state = ArrState::AfterValue,
            None => {}
        }
    }

    /// Applies one token to the stack.
    fn apply(&mut self, tok: Tok, start: usize, end: usize) {
        match tok {
            Tok::Open(is_obj) => {
                self.begin_value();
                self.frames.push(if is_obj {
                    Frame::Obj {
                        key: None,
                        state: ObjState::ExpectKey,
                    }
                } else {
                    Frame::Arr {
                        index: 0,
                        state: ArrState::Start,
                    }
                });
            }
            Tok::Close => {
                self.frames.pop();
                self.end_value();
            }
            Tok::Colon => {
                if let Some(Frame::Obj { state, .. }) = self.frames.last_mut() {
                    *state = ObjState::ExpectValue;
                }
            }
            Tok::Comma => match self.frames.last_mut() {
                Some(Frame::Obj { state, .. }) => *state = ObjState::ExpectKey,
                Some(Frame::Arr { index, state }) => {
                    *index += 1;
                    *state = ArrState::ExpectValue;
                }
                None => {}
            },
            Tok::Str => {
                if let Some(Frame::Obj { key, state }) = self.frames.last_mut() {
                    if *state == ObjState::ExpectKey {
                        *key = Some((start + 1, end.max(start + 1)));
                        *state = ObjState::ExpectColon;
                        return;
                    }
                }
                self.begin_value();
                self.end_value();
            }
            Tok::Scalar => {
                self.begin_value();
                self.end_value();
            }
        }
    }
}

/// The path of the innermost value that contains byte `offset` (or is open there, for
/// text that ends early). Used to name the field serde_json complained about.
pub(crate) fn path_at_offset(text: &str, offset: usize) -> Vec<Seg> {
    let mut w = Walker::new(text);
    while let Some((tok, start, end)) = w.token() {
        if start > offset {
            return w.path(text);
        }
        match tok {
            // The value itself: its path includes its key or index.
            Tok::Str | Tok::Scalar if end >= offset && w.in_value_position() => {
                return w.value_path(text);
            }
            Tok::Open(_) if start == offset && w.in_value_position() => {
                return w.value_path(text);
            }
            // "missing field" points at the closing brace: name the object.
            Tok::Close if start == offset => {
                w.frames.pop();
                return w.path(text);
            }
            _ => {}
        }
        w.apply(tok, start, end);
    }
    w.path(text)
}

/// The byte offset where the value at `target` starts, if the text has it.
pub(crate) fn offset_of_path(text: &str, target: &[Seg]) -> Option<usize> {
    let mut w = Walker::new(text);
    while let Some((tok, start, end)) = w.token() {
        let starts_value = match tok {
            Tok::Open(_) | Tok::Scalar => true,
            Tok::Str => !matches!(
                w.frames.last(),
                Some(Frame::Obj {
                    state: ObjState::ExpectKey,
                    ..
                })
            ),
            _ => false,
        };
        if starts_value
            && w.in_value_position()
            && w.frames.len() == target.len()
            && w.value_path(text) == target
        {
            return Some(start);
        }
        w.apply(tok, start, end);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "{\n  \"SecurityGroups\": [\n    {\"GroupId\": \"sg-1\", \"IpPermissions\": [\n      {\"FromPort\": \"eighty\", \"ToPort\": 80}\n    ]}\n  ]\n}\n";

    fn at(needle: &str) -> usize {
        DOC.find(needle).expect("needle in doc")
    }

    #[test]
    fn path_of_a_scalar_names_its_key_and_indexes() {
        let p = path_at_offset(DOC, at("\"eighty\"") + 3);
        assert_eq!(
            path_string(&p),
            "SecurityGroups[0].IpPermissions[0].FromPort"
        );
        let p = path_at_offset(DOC, at("80}") + 1);
        assert_eq!(path_string(&p), "SecurityGroups[0].IpPermissions[0].ToPort");
    }

    #[test]
    fn closing_brace_names_the_object() {
        let p = path_at_offset(DOC, at("80}") + 2);
        assert_eq!(path_string(&p), "SecurityGroups[0].IpPermissions[0]");
    }

    #[test]
    fn offset_of_path_finds_the_value_start() {
        let path = [
            Seg::key("SecurityGroups"),
            Seg::Idx(0),
            Seg::key("IpPermissions"),
            Seg::Idx(0),
            Seg::key("FromPort"),
        ];
        assert_eq!(offset_of_path(DOC, &path), Some(at("\"eighty\"")));
        assert_eq!(offset_of_path(DOC, &[]), Some(0));
        assert_eq!(
            offset_of_path(DOC, &[Seg::key("SecurityGroups"), Seg::Idx(0)]),
            Some(at("{\"GroupId\""))
        );
        assert_eq!(offset_of_path(DOC, &[Seg::key("Nope")]), None);
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_col(DOC, at("\"eighty\"")), (4, 20));
        assert_eq!(line_col("é\"x", 2), (1, 2));
        assert_eq!(offset_of_line_col(DOC, 4, 20), at("\"eighty\""));
    }

    #[test]
    fn malformed_and_truncated_text_never_panics() {
        for text in [
            "",
            "{",
            "[[[[",
            "\"abc",
            "{\"a\":",
            "}}]]",
            "{\"a\" 1 2 :: ,,]",
            "é{\"é\":[1,",
        ] {
            for off in 0..=text.len() + 2 {
                let _ = path_at_offset(text, off);
                let _ = line_col(text, off);
            }
            let _ = offset_of_path(text, &[Seg::key("a"), Seg::Idx(3)]);
        }
        let deep = "[".repeat(100_000);
        assert!(path_at_offset(&deep, deep.len()).len() >= 99_999);
    }
}
