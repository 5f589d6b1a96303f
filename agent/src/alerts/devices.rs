//! Alerts from devices' reports. A phone or laptop on another network that cannot reach a
//! target, or whose page cannot read it, is the case Vantage exists for: when a report's
//! comparison brings a critical finding that device did not have before, it is told once,
//! with where it was seen from. It is told again only after that device reported without it.

use std::sync::Arc;

use vantage_shared::alerts::AlertKind;
use vantage_shared::diagnosis::Severity;
use vantage_shared::probe::{Comparison, TargetComparison};

use super::engine::{make, newly_open, subject};
use crate::AppState;

/// Judges the admin's view of one report's comparison (rules included), in the order the
/// engine judges everything else.
pub async fn reported(state: AppState, comparison: Comparison) {
    let judging = Arc::clone(&state.alerts.judging);
    let _one_at_a_time = judging.lock().await;
    for row in &comparison.targets {
        if let Err(e) = judge(&state, row).await {
            tracing::error!(target = %row.target.id, error = %e, "Could not evaluate a device's report");
        }
    }
}

async fn judge(state: &AppState, row: &TargetComparison) -> anyhow::Result<()> {
    let t = &row.target;
    if state.alerts.muted(&[&t.id, &t.name]) {
        return Ok(());
    }
    let critical: Vec<_> = row
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .collect();
    // One report, one device; the findings are about it.
    for d in &row.devices {
        let key = format!("device:{}:{}", t.id, d.device_id);
        for f in newly_open(state, key, critical.clone()).await? {
            let fix = f
                .fix
                .as_ref()
                .map(|x| format!(" Fix: {}", x.description))
                .unwrap_or_default();
            let alert = make(
                AlertKind::CriticalFinding,
                subject("target", &t.id, &t.name),
                d.received_at,
                Severity::Critical,
                format!("{}: {}", t.name, f.summary),
                format!(
                    "Seen from a device at {}. {}{fix} ({})",
                    d.client_ip,
                    f.explanation,
                    f.code.as_str()
                ),
                false,
            );
            state.alerts.raise(state, alert).await?;
        }
    }
    Ok(())
}
