//! Parse errors that say what is wrong, in which field, and where: `SecurityGroups[0]
//! .IpPermissions[2].FromPort: expected a number, got "eighty" (line 14, column 27)`.
//!
//! People paste these files from a terminal; an error that only says "invalid type at line
//! 14" sends them counting braces. Every error carries the JSON path of the offending value
//! and its position (1-based line and column, columns in characters), and a wrong overall
//! shape names the command whose output was expected.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::locate::{
    line_col, offset_of_line_col, offset_of_path, path_at_offset, path_string, Seg,
};

/// The commands whose JSON output [`super::parse_rules`] understands, for error hints.
pub const SUPPORTED_COMMANDS: &str = "`aws ec2 describe-security-groups`, \
`aws ec2 describe-security-group-rules`, `aws ec2 describe-network-acls`, \
`gcloud compute firewall-rules list --format=json`, `az network nsg show` (or `az network nsg list`)";

/// What kind of problem the input has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RulesErrorKind {
    /// Over [`super::MAX_INPUT_BYTES`]; nothing was read.
    TooLarge,
    /// Not JSON at all (a table or text output, YAML, an HTML error page).
    NotJson,
    /// JSON with a syntax error, or cut short.
    Syntax,
    /// Valid JSON, but not the output of any supported command.
    UnknownFormat,
    /// The right command's output, with a field of the wrong type or an impossible value.
    InvalidField,
}

/// A located parse error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RulesError {
    pub kind: RulesErrorKind,
    /// JSON path of the offending value, e.g. `SecurityGroups[0].IpPermissions[2].FromPort`;
    /// empty when the problem is the document as a whole.
    pub path: String,
    /// 1-based line of the offending value, when the text has one.
    pub line: Option<usize>,
    /// 1-based column (in characters) of the offending value.
    pub column: Option<usize>,
    /// What is wrong, in plain words: `expected a number, got "eighty"`.
    pub message: String,
    /// What to do about it, e.g. which command produces the expected format.
    pub hint: Option<String>,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str("top level")?;
        } else {
            f.write_str(&self.path)?;
        }
        write!(f, ": {}", self.message)?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, " (line {l}, column {c})")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RulesError {}

impl RulesError {
    fn new(kind: RulesErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            path: String::new(),
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    fn located(mut self, text: &str, path: &[Seg], offset: Option<usize>) -> Self {
        self.path = path_string(path);
        // Point at the start of the offending value when we can find it: serde_json points
        // at its end, which is less useful for a long string or object.
        let start = offset_of_path(text, path).or(offset);
        if let Some(off) = start {
            let (l, c) = line_col(text, off);
            self.line = Some(l);
            self.column = Some(c);
        }
        self
    }

    pub(crate) fn too_large(len: usize, max: usize) -> Self {
        Self::new(
            RulesErrorKind::TooLarge,
            format!(
                "the input is {:.1} MB; at most {} MB is read",
                len as f64 / 1_000_000.0,
                max / 1_000_000
            ),
        )
        .with_hint("filter the command to the groups that matter, e.g. `--group-ids sg-…`")
    }

    /// The text does not start like JSON.
    pub(crate) fn not_json(text: &str, offset: usize) -> Self {
        Self::new(
            RulesErrorKind::NotJson,
            "this is not JSON (it should start with `{` or `[`)",
        )
        .located(text, &[], Some(offset))
        .with_hint(
            "ask for JSON: `aws … --output json`, `gcloud … --format=json`, `az … --output json`",
        )
    }

    /// Valid JSON of the wrong shape.
    pub(crate) fn unknown_format(text: &str, message: impl Into<String>) -> Self {
        Self::new(RulesErrorKind::UnknownFormat, message)
            .located(text, &[], Some(0))
            .with_hint(format!("expected the JSON output of {SUPPORTED_COMMANDS}"))
    }

    /// An impossible value at a known path (found by our own checks after deserialising).
    pub(crate) fn at(text: &str, path: &[Seg], message: impl Into<String>) -> Self {
        Self::new(RulesErrorKind::InvalidField, message).located(text, path, None)
    }

    /// A serde_json error, with the path of the value it was reading and a plain message.
    /// `command` names the CLI command whose format was being read, for the hint.
    pub(crate) fn from_serde(text: &str, err: &serde_json::Error, command: &str) -> Self {
        use serde_json::error::Category;
        let raw = err.to_string();
        // serde_json appends " at line L column C"; we add our own position.
        let msg = raw
            .rfind(" at line ")
            .map_or(raw.as_str(), |i| &raw[..i])
            .to_owned();
        let offset = offset_of_line_col(text, err.line(), err.column());
        let path = path_at_offset(text, offset);
        match err.classify() {
            Category::Eof => {
                let path = path_at_offset(text, text.len());
                Self::new(
                    RulesErrorKind::Syntax,
                    "the JSON ends early, inside this value (was the output cut off?)",
                )
                .located(text, &path, Some(text.len()))
            }
            Category::Syntax | Category::Io => {
                let message = if msg.contains("recursion limit") {
                    "invalid JSON: nested more than 128 levels deep".to_owned()
                } else if trailing_comma(text, offset) {
                    "invalid JSON: a comma before the closing bracket (JSON allows no trailing \
                     comma)"
                        .to_owned()
                } else {
                    format!("invalid JSON: {msg}")
                };
                // A syntax error is about a position, not a value: keep serde's position.
                let mut e = Self::new(RulesErrorKind::Syntax, message);
                e.path = path_string(&path);
                let (l, c) = line_col(text, offset);
                e.line = Some(l);
                e.column = Some(c);
                e
            }
            Category::Data => Self::new(RulesErrorKind::InvalidField, friendly_data_message(&msg))
                .located(text, &path, Some(offset))
                .with_hint(format!("expected the JSON output of `{command}`")),
        }
    }
}

/// Whether the byte at `offset` closes a list or object right after a comma, the most
/// common hand-editing slip (serde_json calls it "expected value").
fn trailing_comma(text: &str, offset: usize) -> bool {
    let bytes = text.as_bytes();
    matches!(bytes.get(offset), Some(b']' | b'}'))
        && bytes[..offset.min(bytes.len())]
            .iter()
            .rev()
            .find(|b| !b.is_ascii_whitespace())
            == Some(&b',')
}

/// Rewrites serde's `invalid type: string "eighty", expected i64` as `expected a number,
/// got "eighty"`, and `missing field `GroupId`` as `missing field "GroupId"`.
fn friendly_data_message(msg: &str) -> String {
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        if let Some((got, expected)) = rest.rsplit_once(", expected ") {
            return format!(
                "expected {}, got {}",
                friendly_expected(expected),
                friendly_got(got)
            );
        }
    }
    if let Some(rest) = msg.strip_prefix("invalid value: ") {
        if let Some((got, expected)) = rest.rsplit_once(", expected ") {
            return format!(
                "expected {}, got {}",
                friendly_expected(expected),
                friendly_got(got)
            );
        }
    }
    if let Some(field) = msg.strip_prefix("missing field ") {
        return format!("missing field \"{}\"", field.trim_matches('`'));
    }
    if let Some(field) = msg.strip_prefix("duplicate field ") {
        return format!("field \"{}\" appears twice", field.trim_matches('`'));
    }
    msg.to_owned()
}

fn friendly_expected(e: &str) -> String {
    match e {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "f64" | "f32" | "usize"
        | "isize" => "a number".to_owned(),
        "a sequence" => "a list".to_owned(),
        "a map" => "an object".to_owned(),
        e if e.starts_with("struct ") => "an object".to_owned(),
        e => e.to_owned(),
    }
}

fn friendly_got(g: &str) -> String {
    let strip = |s: &str| s.trim_matches('`').to_owned();
    if let Some(s) = g.strip_prefix("string ") {
        return s.to_owned();
    }
    for prefix in [
        "integer ",
        "floating point ",
        "boolean ",
        "unsigned integer ",
    ] {
        if let Some(s) = g.strip_prefix(prefix) {
            return strip(s);
        }
    }
    match g {
        "map" => "an object".to_owned(),
        "sequence" => "a list".to_owned(),
        g => g.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_type_errors_become_plain_located_messages() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct P {
            #[serde(rename = "FromPort")]
            from_port: i64,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct D {
            #[serde(rename = "IpPermissions")]
            perms: Vec<P>,
        }
        let text = "{\n  \"IpPermissions\": [\n    {\"FromPort\": 80},\n    {\"FromPort\": \"eighty\"}\n  ]\n}";
        let err = serde_json::from_str::<D>(text).expect_err("bad type");
        let e = RulesError::from_serde(text, &err, "aws ec2 describe-security-groups");
        assert_eq!(e.kind, RulesErrorKind::InvalidField);
        assert_eq!(e.path, "IpPermissions[1].FromPort");
        assert_eq!(e.message, "expected a number, got \"eighty\"");
        assert_eq!((e.line, e.column), (Some(4), Some(18)));
        assert!(e.to_string().starts_with(
            "IpPermissions[1].FromPort: expected a number, got \"eighty\" (line 4, column 18)"
        ));

        let text = "{\"IpPermissions\": [{\"ToPort\": 1}]}";
        let err = serde_json::from_str::<D>(text).expect_err("missing");
        let e = RulesError::from_serde(text, &err, "x");
        assert_eq!(e.path, "IpPermissions[0]");
        assert_eq!(e.message, "missing field \"FromPort\"");
        assert_eq!((e.line, e.column), (Some(1), Some(20)));
    }

    #[test]
    fn truncation_names_the_open_value() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct D {
            #[serde(rename = "IpPermissions")]
            perms: Vec<serde_json::Value>,
        }
        let text = "{\"IpPermissions\": [{\"FromPort\": 80}, {\"FromPort\":";
        let err = serde_json::from_str::<D>(text).expect_err("eof");
        let e = RulesError::from_serde(text, &err, "x");
        assert_eq!(e.kind, RulesErrorKind::Syntax);
        assert_eq!(e.path, "IpPermissions[1].FromPort");
        assert!(e.message.contains("ends early"), "{e}");
    }
}
