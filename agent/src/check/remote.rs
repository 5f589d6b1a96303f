//! `vantage check --agent URL`: the same checks answered by a running agent over its API:
//! its targets probed by it (`POST /api/targets/{id}/probe`), its containers with their
//! diagnoses from the full stored history, and the `[[checks.rules]]` against its loaded
//! rules (`POST /api/rules/evaluate`).

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::de::DeserializeOwned;
use vantage_shared::check::CheckReport;
use vantage_shared::check::{judge_rule, judge_target};
use vantage_shared::probe::{AgentProbe, Target};
use vantage_shared::rules::Verdict;
use vantage_shared::{routes, ApiErrorBody, ContainerDetail, ContainerSummary};

use crate::config::{CheckArgs, FileConfig};

/// A probe takes up to ~15 s; more than this means the agent is stuck.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

struct Agent {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Agent {
    /// Sends the request: `Ok(Err((status, message)))` when the agent answered with an
    /// error, `Err` when it could not be asked or its answer could not be read.
    async fn fetch<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> anyhow::Result<Result<T, (u16, String)>> {
        let res = req
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("{what}: cannot reach the agent at {}", self.base))?;
        let status = res.status().as_u16();
        if res.status().is_success() {
            let body = res.json().await.with_context(|| {
                format!("{what}: the agent's answer is not what this version of vantage reads")
            })?;
            return Ok(Ok(body));
        }
        let message = res
            .json::<ApiErrorBody>()
            .await
            .map(|b| b.message)
            .unwrap_or_default();
        if status == 401 {
            anyhow::bail!(
                "{what}: the agent refused the token (VANTAGE_TOKEN or --token-file: the admin.token in its data dir)"
            );
        }
        Ok(Err((status, message)))
    }

    /// [`Self::fetch`], with an error answer as an error.
    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> anyhow::Result<T> {
        self.fetch(req, what)
            .await?
            .map_err(|(status, message)| anyhow::anyhow!("{what}: HTTP {status}: {message}"))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(
            self.http.get(format!("{}{path}", self.base)),
            &format!("GET {path}"),
        )
        .await
    }
}

fn token(args: &CheckArgs) -> anyhow::Result<String> {
    if let Some(path) = &args.token_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the token file {}", path.display()))?;
        return Ok(text.trim().to_owned());
    }
    match std::env::var("VANTAGE_TOKEN") {
        Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_owned()),
        _ => {
            anyhow::bail!("--agent needs the agent's token: set VANTAGE_TOKEN or give --token-file")
        }
    }
}

pub(super) async fn run(url: &str, args: &CheckArgs) -> anyhow::Result<CheckReport> {
    let (started, started_at) = (Instant::now(), chrono::Utc::now());
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let rule_checks = file.checked_rule_checks()?;
    let agent = Agent {
        http: reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()?,
        base: url.trim_end_matches('/').to_owned(),
        token: token(args)?,
    };

    let targets: Vec<Target> = agent.get(routes::TARGETS).await?;
    let mut checks = Vec::new();
    for t in &targets {
        let path = routes::fill(routes::TARGET_PROBE, &[&t.id]);
        let began = Instant::now();
        let probe: AgentProbe = agent
            .send(
                agent.http.post(format!("{}{path}", agent.base)),
                &format!("POST {path}"),
            )
            .await?;
        let ms = u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX);
        checks.push(judge_target(t, &probe, ms));
    }

    let list = agent
        .fetch::<Vec<ContainerSummary>>(
            agent
                .http
                .get(format!("{}{}", agent.base, routes::CONTAINERS)),
            "GET /api/containers",
        )
        .await?;
    let found = match list {
        Ok(list) => {
            let mut out = Vec::new();
            for c in list {
                let path = routes::fill(routes::CONTAINER, &[&c.id]);
                let req = agent.http.get(format!("{}{path}", agent.base));
                match agent
                    .fetch::<ContainerDetail>(req, &format!("GET {path}"))
                    .await?
                {
                    Ok(detail) => out.push((detail.summary, detail.findings)),
                    // Removed since the list: nothing to check.
                    Err((404, _)) => {}
                    Err((status, message)) => anyhow::bail!("GET {path}: HTTP {status}: {message}"),
                }
            }
            Ok(out)
        }
        // 503: the agent runs, but Docker does not answer it.
        Err((503, message)) => Err(message),
        Err((status, message)) => anyhow::bail!("GET /api/containers: HTTP {status}: {message}"),
    };
    let (containers, notes) = super::container_checks(found, file.checks.containers.as_deref())?;
    checks.extend(containers);

    for check in &rule_checks {
        let verdict: Verdict = agent
            .send(
                agent
                    .http
                    .post(format!("{}{}", agent.base, routes::RULES_EVALUATE))
                    .json(&check.question()),
                &format!("[[checks.rules]] `{}`", check.display_name()),
            )
            .await?;
        checks.push(judge_rule(&check.display_name(), check.expect, &verdict));
    }
    Ok(super::report(
        agent.base.clone(),
        started,
        started_at,
        notes,
        checks,
    ))
}
