//! Security-group and firewall rules as the agent holds them: files named in the
//! config and uploads from the dashboard (kept in the database as the original text and
//! parsed again at start), the "would this source be allowed?" route, and the lookup the
//! reachability comparison uses for every device's address.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vantage_shared::probe::RulesVerdict;
use vantage_shared::routes;
use vantage_shared::rules::{self, Protocol, Question, RuleScope, Verdict};
use vantage_shared::{AgentEvent, ApiErrorBody, HostFirewallRead, LoadedRules, RulesQuestion};

use crate::host_firewall::HOST_RULES_ID;

use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::AppState;

/// Largest rules upload: a `describe-security-groups` of a big account is a few MB.
pub const MAX_RULES_BYTES: usize = 8 * 1024 * 1024;
/// How many rules files the agent keeps.
pub const MAX_RULES_FILES: usize = 100;

/// Loaded rules, shared by the handlers. Reads vastly outnumber writes.
#[derive(Clone, Default)]
pub struct Rules {
    inner: Arc<RwLock<Vec<LoadedRules>>>,
    /// The last live read of the host's firewall, with its messages.
    host: Arc<RwLock<Option<HostFirewallRead>>>,
    /// One live read at a time: iptables-save takes the xtables lock.
    host_lock: Arc<tokio::sync::Mutex<()>>,
}

impl Rules {
    /// Rules holding `list` (what `vantage check` loads from the config's files).
    pub fn from_loaded(list: Vec<LoadedRules>) -> Self {
        let rules = Self::default();
        rules.replace(list);
        rules
    }

    pub fn list(&self) -> Vec<LoadedRules> {
        self.inner.read().map(|l| l.clone()).unwrap_or_default()
    }

    fn replace(&self, list: Vec<LoadedRules>) {
        if let Ok(mut l) = self.inner.write() {
            *l = list;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.inner.read().map(|l| l.is_empty()).unwrap_or(true)
    }

    /// Evaluates a question against every loaded rule set.
    pub fn evaluate(&self, question: &Question) -> Verdict {
        self.evaluate_scoped(question, &RuleScope::default())
            .unwrap_or_else(|(v, _)| v)
    }

    /// Evaluates a question against the sets `scope` names (all when it names none), with
    /// the scope's description of the destination. `Err` carries the verdict over the sets
    /// that could be used and why the scope cannot be answered as asked: ids that are not
    /// loaded, or that more than one loaded file has.
    #[allow(clippy::result_large_err)]
    pub fn evaluate_scoped(
        &self,
        question: &Question,
        scope: &RuleScope,
    ) -> Result<Verdict, (Verdict, String)> {
        let guard = self.inner.read();
        let all = || {
            guard
                .iter()
                .flat_map(|list| list.iter().flat_map(|l| l.sets.iter()))
        };
        let (sets, missing) = scope.select(all());
        let ambiguous = scope.ambiguous(all());
        let mut q = question.clone();
        if q.destination.is_none() {
            q.destination = scope.destination.clone();
        }
        let verdict = rules::evaluate_refs(&sets, &q);
        if !missing.is_empty() {
            let ids = missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err((verdict, format!("the rule set {ids} is not loaded")));
        }
        if !ambiguous.is_empty() {
            let which = ambiguous
                .iter()
                .map(|(id, origins)| format!("`{id}` (in {})", origins.join(", ")))
                .collect::<Vec<_>>()
                .join("; ");
            return Err((
                verdict,
                format!(
                    "more than one loaded file has the rule set {which}: they would be merged \
                     into one; remove the one that does not apply"
                ),
            ));
        }
        Ok(verdict)
    }

    /// Answers the API's question (`POST /api/rules/evaluate`, and `vantage check`'s
    /// `[[checks.rules]]`): checked, then evaluated against the sets it names (all when
    /// none). `Err` says what is wrong with the question, for a 400.
    pub fn answer(&self, q: RulesQuestion) -> Result<Verdict, String> {
        let source: IpAddr = q
            .source
            .trim()
            .parse()
            .map_err(|_| format!("`{}` is not an IPv4 or IPv6 address", q.source))?;
        let protocol = match q
            .protocol
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("tcp") => Protocol::Tcp,
            Some("udp") => Protocol::Udp,
            Some("icmp") => Protocol::Icmp,
            Some(other) => return Err(format!("protocol `{other}`: use tcp, udp or icmp")),
        };
        if protocol.has_ports() && q.port.is_none() {
            return Err("give the destination port".into());
        }
        let mut question = match protocol {
            Protocol::Icmp => Question::ping(source),
            p => Question::new(source, p, q.port),
        };
        question.destination = q.destination.clone();
        let scope = RuleScope {
            sets: q.sets,
            destination: q.destination,
        };
        scope.validate()?;
        self.evaluate_scoped(&question, &scope)
            .map_err(|(_, problem)| format!("{problem} (GET /api/rules lists the loaded sets)"))
    }

    /// The comparison's hook: what the rules that apply to a target say about `source` on
    /// tcp/`port`; `None` when no rules are loaded.
    pub fn verdict_for(&self, source: &str, port: u16, scope: &RuleScope) -> Option<RulesVerdict> {
        if self.is_empty() {
            return None;
        }
        let ip: IpAddr = source.parse().ok()?;
        Some(
            match self.evaluate_scoped(&Question::tcp(ip, port), scope) {
                Ok(v) => rules::to_rules_verdict(&v),
                Err((_, problem)) => RulesVerdict {
                    source_ip: ip.to_canonical().to_string(),
                    admitted: false,
                    summary: format!("unknown: for this target's rule sets, {problem}"),
                    fix: None,
                },
            },
        )
    }

    /// Removes the live host rules and their last read; whether they were loaded.
    pub fn forget_host(&self) -> bool {
        let removed = self
            .inner
            .write()
            .map(|mut list| {
                let before = list.len();
                list.retain(|l| l.id != HOST_RULES_ID);
                list.len() != before
            })
            .unwrap_or(false);
        if let Ok(mut h) = self.host.write() {
            *h = None;
        }
        removed
    }

    /// The last live read of the host's firewall.
    pub fn host_read(&self) -> Option<HostFirewallRead> {
        self.host.read().ok().and_then(|h| h.clone())
    }

    /// Reads the host's firewall now and puts its rules (id `host`) in place of the last.
    pub async fn read_host(&self) -> HostFirewallRead {
        let asked_at = Utc::now();
        let _one = self.host_lock.lock().await;
        // Requests that queued behind a read which started after they were made share its
        // answer: a burst of clicks runs the commands (and takes the xtables lock) once.
        if let Some(last) = self.host_read().filter(|r| r.read_at >= asked_at) {
            return last;
        }
        let read = crate::host_firewall::read().await;
        if let Ok(mut list) = self.inner.write() {
            let at = list.iter().position(|l| l.id == HOST_RULES_ID);
            match (at, read.loaded.clone()) {
                (Some(i), Some(new)) => list[i] = new,
                (Some(i), None) => {
                    list.remove(i);
                }
                (None, Some(new)) => list.push(new),
                (None, None) => {}
            }
        }
        if let Ok(mut h) = self.host.write() {
            *h = Some(read.clone());
        }
        read
    }
}

/// Parses the config's `rules_files`; any error stops the agent with the file and position.
pub fn load_files(paths: &[PathBuf]) -> anyhow::Result<Vec<LoadedRules>> {
    let mut out = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let meta = std::fs::metadata(path)
            .map_err(|e| anyhow::anyhow!("rules file {}: {e}", path.display()))?;
        if meta.len() > MAX_RULES_BYTES as u64 {
            anyhow::bail!(
                "rules file {} is larger than {} MB",
                path.display(),
                MAX_RULES_BYTES / (1024 * 1024)
            );
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("rules file {}: {e}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let sets = rules::parse_rules(&text, &name)
            .map_err(|e| anyhow::anyhow!("rules file {}: {e}", path.display()))?;
        out.push(LoadedRules {
            id: format!("file-{}", i + 1),
            name,
            source: path.display().to_string(),
            loaded_at: Utc::now(),
            sets,
        });
    }
    Ok(out)
}

/// Config files first, then uploads from the database (parsed again: the parser may have
/// learnt more since; an upload that no longer parses is skipped with a warning).
pub async fn reload(state: &AppState, files: Vec<LoadedRules>) -> Result<(), ApiError> {
    let mut list = files;
    for (id, name, text, loaded_at) in state.store.rule_uploads().await? {
        match rules::parse_rules(&text, &name) {
            Ok(sets) => list.push(LoadedRules {
                id: format!("db-{id}"),
                name,
                source: "dashboard".into(),
                loaded_at,
                sets,
            }),
            Err(e) => {
                tracing::warn!(%name, error = %e, "A stored rules upload no longer parses; skipped")
            }
        }
    }
    // A live read of the host survives a reload of the files and uploads.
    if let Some(host) = state.rules.host_read().and_then(|h| h.loaded) {
        list.push(host);
    }
    state.rules.replace(list);
    Ok(())
}

/// The routes of this module, all behind the admin token.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rules, upload_rules))
        .routes(routes!(delete_rules))
        .routes(routes!(evaluate_rules))
        .routes(routes!(host_status, read_host, forget_host))
        // Uploads may be a few MB; every other route keeps the small default.
        .layer(DefaultBodyLimit::max(MAX_RULES_BYTES))
}

/// Every loaded rules file with its parsed rule sets.
#[utoipa::path(get, path = routes::RULES, tag = "rules", security(("bearer" = [])),
    responses((status = 200, body = [LoadedRules]), (status = 401, body = ApiErrorBody)))]
async fn list_rules(State(state): State<AppState>) -> Json<Vec<LoadedRules>> {
    Json(state.rules.list())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadParams {
    /// A label, e.g. the file name (`prod-sg.json`): not only spaces; cut to 120 characters.
    #[param(pattern = r"[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")]
    name: String,
}

/// Loads a rules file: the body is the command's output as is (`aws ec2
/// describe-security-groups`, `describe-security-group-rules`, `describe-network-acls`,
/// `gcloud compute firewall-rules list --format=json`, `az network nsg show`, …).
#[utoipa::path(post, path = routes::RULES, tag = "rules", security(("bearer" = [])),
    params(UploadParams), request_body(content = String, content_type = "text/plain"),
    responses((status = 201, body = LoadedRules), (status = 400, description = "Not a supported format, or the error with its JSON path, line and column", body = ApiErrorBody), (status = 401, body = ApiErrorBody), (status = 409, description = "Already as many rules files as the agent keeps", body = ApiErrorBody), (status = 413, body = ApiErrorBody)))]
async fn upload_rules(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<UploadParams>,
    body: Bytes,
) -> Result<(StatusCode, Json<LoadedRules>), ApiError> {
    let name: String = q.name.trim().chars().take(120).collect();
    if name.is_empty() {
        return Err(ApiError::BadRequest(
            "give the rules a name (?name=…)".into(),
        ));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::BadRequest(format!("the rules file is not UTF-8 text: {e}")))?;
    let sets = rules::parse_rules(text, &name)
        .map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))?;
    if state.rules.list().len() >= MAX_RULES_FILES {
        // The file itself is fine; the agent's state is what refuses it.
        return Err(ApiError::Conflict(format!(
            "at most {MAX_RULES_FILES} rules files; remove some first"
        )));
    }
    let loaded_at = Utc::now();
    let id = state
        .store
        .insert_rule_upload(name.clone(), text.to_owned(), loaded_at)
        .await?;
    let loaded = LoadedRules {
        id: format!("db-{id}"),
        name,
        source: "dashboard".into(),
        loaded_at,
        sets,
    };
    if let Ok(mut l) = state.rules.inner.write() {
        l.push(loaded.clone());
    }
    state.events.publish(AgentEvent::RulesChanged);
    Ok((StatusCode::CREATED, Json(loaded)))
}

/// Removes an uploaded rules file (files from the config are removed there).
#[utoipa::path(delete, path = routes::RULE_SET, tag = "rules", security(("bearer" = [])),
    params(("id" = String, Path, description = "`db-…` id from GET /api/rules")),
    responses((status = 204), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
async fn delete_rules(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if id.starts_with("file-") {
        return Err(ApiError::Conflict(format!(
            "`{id}` comes from rules_files in the config file: remove it there and restart"
        )));
    }
    let n: i64 = id
        .strip_prefix("db-")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| ApiError::NotFound(format!("no rules `{id}`")))?;
    if !state.store.delete_rule_upload(n).await? {
        return Err(ApiError::NotFound(format!("no rules `{id}`")));
    }
    if let Ok(mut l) = state.rules.inner.write() {
        l.retain(|r| r.id != id);
    }
    state.events.publish(AgentEvent::RulesChanged);
    Ok(StatusCode::NO_CONTENT)
}

/// Would this source be allowed? Evaluated against every loaded rule set.
#[utoipa::path(post, path = routes::RULES_EVALUATE, tag = "rules", security(("bearer" = [])), request_body = RulesQuestion,
    responses((status = 200, body = Verdict), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody)))]
async fn evaluate_rules(
    State(state): State<AppState>,
    ApiJson(q): ApiJson<RulesQuestion>,
) -> Result<Json<Verdict>, ApiError> {
    state
        .rules
        .answer(q)
        .map(Json)
        .map_err(ApiError::BadRequest)
}

/// Stops applying this host's live firewall rules (they apply to every question that
/// names no rule sets, which is wrong for targets on other machines).
#[utoipa::path(delete, path = routes::RULES_HOST, tag = "rules", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ApiErrorBody), (status = 404, description = "Not loaded", body = ApiErrorBody)))]
async fn forget_host(State(state): State<AppState>) -> Result<StatusCode, ApiError> {
    if !state.rules.forget_host() {
        return Err(ApiError::NotFound(
            "this host's firewall is not loaded".into(),
        ));
    }
    state.events.publish(AgentEvent::RulesChanged);
    Ok(StatusCode::NO_CONTENT)
}

/// The last live read of this host's firewall (`null` before the first).
#[utoipa::path(get, path = routes::RULES_HOST, tag = "rules", security(("bearer" = [])),
    responses((status = 200, body = Option<HostFirewallRead>), (status = 401, body = ApiErrorBody)))]
async fn host_status(State(state): State<AppState>) -> Json<Option<HostFirewallRead>> {
    Json(state.rules.host_read())
}

/// Reads this host's firewall now (`iptables-save`, `ip6tables-save`, `nft -j list
/// ruleset`; needs the agent to run as root) and loads it as the rules `host`.
#[utoipa::path(post, path = routes::RULES_HOST, tag = "rules", security(("bearer" = [])),
    responses((status = 200, description = "What each command gave; `loaded` is absent when nothing could be read, with the reason in `summary`", body = HostFirewallRead), (status = 401, body = ApiErrorBody)))]
async fn read_host(State(state): State<AppState>) -> Json<HostFirewallRead> {
    let read = state.rules.read_host().await;
    state.events.publish(AgentEvent::RulesChanged);
    Json(read)
}
