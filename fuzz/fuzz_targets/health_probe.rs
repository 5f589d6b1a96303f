//! The healthcheck command diagnosis on arbitrary runs: Docker's recorded output and exit
//! code (what a container's check printed, which the agent does not control) and an
//! arbitrary check configuration, compose or `docker run`. A finding it makes always says
//! what to do, and its snippet, when there is one, is not empty.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vantage_shared::api::{HealthStatus, HealthcheckConfig, HealthcheckRun, ImageTools};
use vantage_shared::diagnosis::health_fix::Launch;
use vantage_shared::diagnosis::health_probe::{diagnose, Input};

#[derive(Debug, Arbitrary)]
struct Case {
    shell_form: bool,
    words: Vec<String>,
    output: String,
    exit_code: i64,
    tools: Option<(bool, Vec<u8>)>,
    compose: bool,
    unhealthy: bool,
}

fuzz_target!(|c: Case| {
    let kind = if c.shell_form { "CMD-SHELL" } else { "CMD" };
    let tools = c.tools.map(|(shell, picks)| ImageTools {
        shell,
        programs: picks
            .iter()
            .map(|p| {
                ImageTools::LOOKED_FOR[usize::from(*p) % ImageTools::LOOKED_FOR.len()].to_owned()
            })
            .collect(),
    });
    let config = HealthcheckConfig {
        test: std::iter::once(kind.to_owned()).chain(c.words).collect(),
        interval_ms: 1000,
        timeout_ms: 3000,
        start_period_ms: 0,
        retries: 3,
        tools,
    };
    let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time");
    let run = HealthcheckRun {
        start,
        end: start,
        duration_ms: 0,
        exit_code: c.exit_code,
        output: c.output,
        status: HealthStatus::Unhealthy,
    };
    let launch = if c.compose {
        Launch::Compose {
            service: "api",
            container: "shop-api-1",
        }
    } else {
        Launch::DockerRun { container: "api" }
    };
    let runs = [run];
    let input = Input {
        launch,
        config: &config,
        started_at: None,
        runs: &runs,
        ports: &[],
        unhealthy: c.unhealthy,
    };
    if let Some(f) = diagnose(&input) {
        let fix = f.fix.expect("a broken check always gets a fix");
        assert!(!fix.description.is_empty());
        assert!(fix.snippet.is_none_or(|s| !s.trim().is_empty()));
    }
});
