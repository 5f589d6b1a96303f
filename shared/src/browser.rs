//! Why a browser did not test a target, worded once: the probe engine's skip reasons, the
//! one-line summaries, the detail panel and the vantage-point findings all say it the same
//! way. Clauses are lower case without a full stop, so each caller fits them in a sentence.

/// A [`crate::probe::BrowserBlock::MixedContent`] skip: why nothing was sent.
pub const MIXED_CONTENT: &str = "the page was loaded over https:, and browsers block its \
                                 http: requests before sending anything (mixed content)";

/// The way out of a mixed-content block. Results come from the dashboard and from phone
/// links alike, so both are named.
pub const MIXED_CONTENT_FIX: &str =
    "Serve the target over https, or open the dashboard or phone link over plain http.";

/// A [`crate::probe::BrowserBlock::LocalNetworkAccess`] failure: why it may not be the
/// network's.
pub const LOCAL_NETWORK_ACCESS: &str = "the page is public and the target is a private or \
                                        loopback address, and Chrome's Local Network Access \
                                        rules block (or ask before) such requests, so the \
                                        failure may be the browser's, not the network's";

/// A TCP `host:port` target: what a browser gets instead of a fetch.
pub const TCP_SKIP: &str = "browsers cannot open raw TCP connections";
