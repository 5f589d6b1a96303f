//! Who owns an IP address (incident 4): loopback, private, CGNAT, link-local, a Docker
//! network on this host, Cloudflare, CloudFront or the public internet. The CDN ranges are
//! data with the date they were published.
