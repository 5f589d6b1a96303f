//! `POST /api/cors/evaluate`, and the dashboard's offline CORS page: a request shape and the
//! responses to judge, given as structured headers or pasted as text. Nothing is probed.

use serde::{Deserialize, Serialize};

use super::paste::{parse_response, PasteError};
use super::types::{CorsRequest, ObservedResponse};

/// Most request headers, headers the script reads, or response headers one question holds.
pub const MAX_QUESTION_HEADERS: usize = 200;

/// A request shape plus the responses a browser would judge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CorsQuestion {
    pub request: CorsRequest,
    /// The preflight (`OPTIONS`) response; leave it out when none was sent.
    #[serde(default)]
    pub preflight: Option<ObservedResponse>,
    /// The actual response.
    #[serde(default)]
    pub actual: Option<ObservedResponse>,
    /// The preflight response as pasted instead: `curl -i` output or `Name: value` lines
    /// (without a status line it is taken as 200). Text that is neither is a `400` naming
    /// the line; at most 16384 characters (64 KiB).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 16384))]
    pub preflight_text: Option<String>,
    /// The actual response as pasted instead of `actual`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 16384))]
    pub actual_text: Option<String>,
}

/// The responses a question gives, checked: structured or parsed from the pasted text.
pub struct Resolved {
    pub preflight: Option<ObservedResponse>,
    pub actual: Option<ObservedResponse>,
}

impl CorsQuestion {
    /// The responses to evaluate, or what is wrong with the question, naming the field.
    pub fn resolve(&self) -> Result<Resolved, String> {
        let r = &self.request;
        if r.headers.len() > MAX_QUESTION_HEADERS || r.read_headers.len() > MAX_QUESTION_HEADERS {
            return Err(format!(
                "request: at most {MAX_QUESTION_HEADERS} headers and {MAX_QUESTION_HEADERS} read headers"
            ));
        }
        let preflight = one(
            "preflight",
            self.preflight.as_ref(),
            self.preflight_text.as_deref(),
        )?;
        let actual = one("actual", self.actual.as_ref(), self.actual_text.as_deref())?;
        Ok(Resolved { preflight, actual })
    }
}

fn one(
    field: &str,
    given: Option<&ObservedResponse>,
    text: Option<&str>,
) -> Result<Option<ObservedResponse>, String> {
    let resp = match (given, text.filter(|t| !t.trim().is_empty())) {
        (Some(_), Some(_)) => {
            return Err(format!("give `{field}` or `{field}_text`, not both"));
        }
        (Some(r), None) => r.clone(),
        (None, Some(t)) => {
            parse_response(t, 200)
                .map_err(|e: PasteError| format!("{field}_text: {e}"))?
                .response
        }
        (None, None) => return Ok(None),
    };
    if resp.headers.len() > MAX_QUESTION_HEADERS {
        return Err(format!("{field}: at most {MAX_QUESTION_HEADERS} headers"));
    }
    if !(100..=599).contains(&resp.status) {
        return Err(format!("{field}: status {} is not 100–599", resp.status));
    }
    Ok(Some(resp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question() -> CorsQuestion {
        CorsQuestion {
            request: CorsRequest::new("https://shop.example", "GET"),
            preflight: None,
            actual: None,
            preflight_text: None,
            actual_text: None,
        }
    }

    #[test]
    fn text_or_structure_not_both() {
        let mut q = question();
        q.actual = Some(ObservedResponse::new(200));
        q.actual_text = Some("HTTP/1.1 200 OK\n".to_owned());
        assert!(q.resolve().err().is_some_and(|e| e.contains("not both")));
        q.actual = None;
        let r = q.resolve().expect("text");
        assert_eq!(r.actual.map(|a| a.status), Some(200));
        assert!(r.preflight.is_none());
    }

    #[test]
    fn paste_errors_name_the_field_and_line() {
        let mut q = question();
        q.preflight_text = Some("HTTP/1.1 204\nnonsense\n".to_owned());
        let e = q.resolve().err().expect("bad paste");
        assert!(e.starts_with("preflight_text: line 2:"), "{e}");
    }

    #[test]
    fn sizes_and_statuses_are_bounded() {
        let mut q = question();
        q.actual = Some(ObservedResponse::new(42));
        assert!(q.resolve().err().is_some_and(|e| e.contains("status 42")));
        let mut q = question();
        q.request.headers = vec![("X-A".to_owned(), "1".to_owned()); MAX_QUESTION_HEADERS + 1];
        assert!(q.resolve().is_err());
    }
}
