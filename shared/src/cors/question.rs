//! `POST /api/cors/evaluate`: a request shape and the responses to judge, as structured
//! headers. Nothing is probed. (Pasted text is the dashboard's business: its CORS page
//! reads `curl -i` output with `paste.rs` in the browser and evaluates the same way.)

use serde::{Deserialize, Serialize};

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
}

impl CorsQuestion {
    /// What is wrong with the question, naming the field: the bounds the OpenAPI document
    /// states, checked again for clients that do not read it.
    pub fn check(&self) -> Result<(), String> {
        let r = &self.request;
        if r.headers.len() > MAX_QUESTION_HEADERS || r.read_headers.len() > MAX_QUESTION_HEADERS {
            return Err(format!(
                "request: at most {MAX_QUESTION_HEADERS} headers and {MAX_QUESTION_HEADERS} read headers"
            ));
        }
        for (field, resp) in [("preflight", &self.preflight), ("actual", &self.actual)] {
            let Some(resp) = resp else { continue };
            if resp.headers.len() > MAX_QUESTION_HEADERS {
                return Err(format!("{field}: at most {MAX_QUESTION_HEADERS} headers"));
            }
            if !(100..=599).contains(&resp.status) {
                return Err(format!("{field}: status {} is not 100–599", resp.status));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_statuses_are_bounded() {
        let mut q = CorsQuestion {
            request: CorsRequest::new("https://shop.example", "GET"),
            preflight: None,
            actual: Some(ObservedResponse::new(200)),
        };
        assert!(q.check().is_ok());
        q.actual = Some(ObservedResponse::new(42));
        assert!(q.check().err().is_some_and(|e| e.contains("status 42")));
        q.actual = None;
        q.request.headers = vec![("X-A".to_owned(), "1".to_owned()); MAX_QUESTION_HEADERS + 1];
        assert!(q.check().is_err());
    }
}
