//! Agent-side reachability probes: DNS, TCP per resolved address, TLS, HTTP with timing
//! phases and redirects, response fingerprint and CORS evaluation.
