//! Timing phases of one HTTP exchange as a horizontal stacked bar (inline SVG): where
//! the time went (name lookup, connect, TLS, waiting for the first byte, the rest).

use leptos::prelude::*;
use vantage_shared::probe::{HttpTiming, ResourceTiming};

use crate::format::millis;

/// Width of the bar in SVG units; the SVG scales to its box.
pub const BAR_WIDTH: f64 = 600.0;
const BAR_HEIGHT: f64 = 18.0;

/// The phases, each its own duration in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phases {
    pub dns_ms: f64,
    pub connect_ms: f64,
    pub tls_ms: f64,
    pub first_byte_ms: f64,
    pub total_ms: f64,
}

impl From<&HttpTiming> for Phases {
    fn from(t: &HttpTiming) -> Self {
        Self {
            dns_ms: t.dns_ms,
            connect_ms: t.connect_ms,
            tls_ms: t.tls_ms,
            first_byte_ms: t.first_byte_ms,
            total_ms: t.total_ms,
        }
    }
}

impl From<&ResourceTiming> for Phases {
    fn from(t: &ResourceTiming) -> Self {
        Self {
            dns_ms: t.dns_ms,
            connect_ms: t.connect_ms,
            tls_ms: t.tls_ms,
            first_byte_ms: t.first_byte_ms,
            total_ms: t.total_ms,
        }
    }
}

/// One drawn segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// CSS class and legend key: `dns`, `connect`, `tls`, `wait`, `rest`.
    pub class: &'static str,
    pub label: &'static str,
    pub ms: f64,
    pub x: f64,
    pub w: f64,
}

/// Lays the phases out left to right, scaled so they fill [`BAR_WIDTH`]. Phases of zero
/// are left out; "the rest" (sending, the body, redirects) is what the total has on top.
/// Empty when nothing was measured.
pub fn segments(p: Phases) -> Vec<Segment> {
    let clean = |v: f64| if v.is_finite() && v > 0.0 { v } else { 0.0 };
    let parts = [
        ("dns", "DNS", clean(p.dns_ms)),
        ("connect", "connect", clean(p.connect_ms)),
        ("tls", "TLS", clean(p.tls_ms)),
        ("wait", "first byte", clean(p.first_byte_ms)),
    ];
    let known: f64 = parts.iter().map(|(_, _, v)| v).sum();
    let rest = (clean(p.total_ms) - known).max(0.0);
    let total = known + rest;
    if total <= 0.0 {
        return Vec::new();
    }
    let scale = BAR_WIDTH / total;
    let mut x = 0.0;
    parts
        .into_iter()
        .chain(std::iter::once(("rest", "rest", rest)))
        .filter(|(_, _, v)| *v > 0.0)
        .map(|(class, label, ms)| {
            let w = ms * scale;
            let s = Segment {
                class,
                label,
                ms,
                x,
                w,
            };
            x += w;
            s
        })
        .collect()
}

#[component]
pub fn TimingBar(phases: Phases) -> impl IntoView {
    let segs = segments(phases);
    if segs.is_empty() {
        return view! { <p class="muted small">"No timing measured."</p> }.into_any();
    }
    let description = segs
        .iter()
        .map(|s| format!("{} {}", s.label, millis(s.ms)))
        .collect::<Vec<_>>()
        .join(", ");
    let total = segs.iter().map(|s| s.ms).sum::<f64>();
    let legend = segs.clone();
    view! {
        <figure class="timing">
            <svg
                viewBox=format!("0 0 {BAR_WIDTH} {BAR_HEIGHT}")
                preserveAspectRatio="none"
                role="img"
                aria-label=format!("Timing: {description}; total {}", millis(total))
                data-testid="timing-bar"
            >
                {segs
                    .into_iter()
                    .map(|s| {
                        view! {
                            <rect class=format!("seg {}", s.class) x=s.x y=0 width=s.w height=BAR_HEIGHT>
                                <title>{format!("{}: {}", s.label, millis(s.ms))}</title>
                            </rect>
                        }
                    })
                    .collect_view()}
            </svg>
            <figcaption>
                <ul class="legend">
                    {legend
                        .into_iter()
                        .map(|s| {
                            view! {
                                <li>
                                    <span class=format!("swatch seg {}", s.class)></span>
                                    {format!("{} {}", s.label, millis(s.ms))}
                                </li>
                            }
                        })
                        .collect_view()}
                    <li class="legend-note">{format!("total {}", millis(total))}</li>
                </ul>
            </figcaption>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_fill_the_bar_in_order() {
        let s = segments(Phases {
            dns_ms: 10.0,
            connect_ms: 20.0,
            tls_ms: 0.0,
            first_byte_ms: 50.0,
            total_ms: 100.0,
        });
        let classes: Vec<_> = s.iter().map(|s| s.class).collect();
        assert_eq!(classes, ["dns", "connect", "wait", "rest"]);
        assert_eq!(s[0].x, 0.0);
        assert!((s[1].x - 60.0).abs() < 1e-9);
        assert!((s[3].ms - 20.0).abs() < 1e-9);
        let end = s.last().map(|l| l.x + l.w).unwrap_or_default();
        assert!((end - BAR_WIDTH).abs() < 1e-9);
    }

    #[test]
    fn nothing_measured_draws_nothing() {
        let zero = Phases {
            dns_ms: 0.0,
            connect_ms: 0.0,
            tls_ms: 0.0,
            first_byte_ms: 0.0,
            total_ms: 0.0,
        };
        assert!(segments(zero).is_empty());
        // A total below the sum of phases (clock skew) still draws the phases.
        let s = segments(Phases {
            dns_ms: 5.0,
            total_ms: 1.0,
            ..zero
        });
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].w, BAR_WIDTH);
    }
}
