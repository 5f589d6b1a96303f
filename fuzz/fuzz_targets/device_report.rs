//! The JSON body `POST /api/reports` accepts from phones: `DeviceReportIn` from arbitrary
//! bytes, then what the agent's handler does with it (error truncation, `classify_browser`
//! on each result), and the JSON the agent stores re-reads to the same verdicts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vantage_shared::probe::{classify_browser, DeviceReportIn};

fuzz_target!(|data: &[u8]| {
    let Ok(mut report) = serde_json::from_slice::<DeviceReportIn>(data) else {
        return;
    };
    let verdicts: Vec<_> = report
        .results
        .iter_mut()
        .map(|probe| {
            for a in [&mut probe.no_cors, &mut probe.cors] {
                if let Some(e) = &mut a.error {
                    *e = e.chars().take(300).collect();
                }
            }
            classify_browser(probe)
        })
        .collect();
    // Floats (resource timing) may differ in the last bit after a round trip without
    // serde_json's `float_roundtrip`, so compare what the verdicts depend on.
    let json = serde_json::to_string(&report).expect("report serialises");
    let back: DeviceReportIn = serde_json::from_str(&json).expect("report re-reads");
    let again: Vec<_> = back.results.iter().map(classify_browser).collect();
    assert_eq!(again, verdicts);
    assert_eq!(back.device_id, report.device_id);
});
