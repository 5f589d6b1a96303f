//! A QR code as inline SVG, drawn from `qrcodegen`'s modules: no image, no network.

use leptos::prelude::*;
use qrcodegen::{QrCode, QrCodeEcc};

/// Light modules around the code that scanners need (the standard's quiet zone).
const QUIET: i32 = 4;

/// The code's side in modules (quiet zone included) and one SVG path of its dark
/// modules; `None` when the text is too long for any QR version.
pub fn qr_path(text: &str) -> Option<(i32, String)> {
    // Medium error correction: survives a glare or a crease on a screen photo.
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let size = qr.size();
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + QUIET, y + QUIET));
            }
        }
    }
    Some((size + 2 * QUIET, path))
}

/// Always dark on white, whatever the colour scheme: phone cameras expect that contrast.
#[component]
pub fn QrCodeSvg(#[prop(into)] text: String, #[prop(into)] label: String) -> impl IntoView {
    match qr_path(&text) {
        Some((side, path)) => view! {
            <svg
                class="qr"
                viewBox=format!("0 0 {side} {side}")
                shape-rendering="crispEdges"
                role="img"
                aria-label=label
                data-testid="phone-qr"
            >
                <rect width=side height=side fill="#fff"></rect>
                <path d=path fill="#000"></path>
            </svg>
        }
        .into_any(),
        None => view! { <p class="error-box">"The address is too long for a QR code; copy the link instead."</p> }
            .into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_link_fits_a_small_code() {
        let Some((side, path)) = qr_path("http://203.0.113.5:8787/p/AbCdEf123456") else {
            panic!("no code")
        };
        // Version 3 (29 modules) at medium correction, plus the quiet zone.
        assert!(side <= 29 + 2 * QUIET, "{side}");
        // The top-left finder pattern's corner module is dark.
        assert!(path.starts_with("M4,4h1v1h-1z"));
    }

    #[test]
    fn too_long_is_none() {
        assert!(qr_path(&"x".repeat(5000)).is_none());
    }
}
