//! The containers table: sortable columns, filtered rows; stacked cards on phones (CSS).

use std::cmp::Ordering;

use leptos::prelude::*;
use leptos_router::components::A;
use vantage_shared::{ContainerState, ContainerSummary, HealthStatus};

use super::badges::{HealthBadge, StateBadge};
use super::data_table::{Column, DataTable, SortOrder};
use super::status::Empty;
use crate::format::{ago, date_time};

/// A sortable column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    State,
    Health,
    Restarts,
    Started,
}

impl SortKey {
    pub const ALL: [SortKey; 5] = [
        Self::Name,
        Self::State,
        Self::Health,
        Self::Restarts,
        Self::Started,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::State => "state",
            Self::Health => "health",
            Self::Restarts => "restarts",
            Self::Started => "started",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Name => "Name",
            Self::State => "State",
            Self::Health => "Health",
            Self::Restarts => "Restarts",
            Self::Started => "Started",
        }
    }
}

/// Column and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Self {
            key: SortKey::Name,
            descending: false,
        }
    }
}

impl Sort {
    /// A column in the direction people want first: most restarts, most recently
    /// started, otherwise ascending (worst health first).
    pub fn natural(key: SortKey) -> Self {
        Self {
            key,
            descending: matches!(key, SortKey::Restarts | SortKey::Started),
        }
    }

    /// Clicking a column: the same one flips direction, a new one starts natural.
    pub fn toggled(self, key: SortKey) -> Self {
        if self.key == key {
            Self {
                key,
                descending: !self.descending,
            }
        } else {
            Self::natural(key)
        }
    }
}

/// Worst health first when sorting ascending.
fn health_rank(h: HealthStatus) -> u8 {
    match h {
        HealthStatus::Unhealthy => 0,
        HealthStatus::Starting => 1,
        HealthStatus::Healthy => 2,
        HealthStatus::None => 3,
    }
}

/// Running ones first, then the ones that need attention, then the rest.
fn state_rank(s: ContainerState) -> u8 {
    match s {
        ContainerState::Running => 0,
        ContainerState::Restarting => 1,
        ContainerState::Paused => 2,
        ContainerState::Created => 3,
        ContainerState::Exited => 4,
        ContainerState::Dead => 5,
        ContainerState::Removing => 6,
        ContainerState::Unknown => 7,
    }
}

/// Ascending comparison by `key`, ties broken by name so the order is stable.
pub fn compare(a: &ContainerSummary, b: &ContainerSummary, key: SortKey) -> Ordering {
    let primary = match key {
        SortKey::Name => Ordering::Equal,
        SortKey::State => state_rank(a.state).cmp(&state_rank(b.state)),
        SortKey::Health => health_rank(a.health).cmp(&health_rank(b.health)),
        SortKey::Restarts => a.restart_count.cmp(&b.restart_count),
        // Never started sorts as oldest.
        SortKey::Started => a.started_at.cmp(&b.started_at),
    };
    primary.then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
}

/// Whether a container passes the text filter (name or image) and the health filter.
pub fn matches(c: &ContainerSummary, text: &str, health: Option<HealthStatus>) -> bool {
    let text = text.trim().to_lowercase();
    let text_ok = text.is_empty()
        || c.name.to_lowercase().contains(&text)
        || c.image.to_lowercase().contains(&text);
    text_ok && health.is_none_or(|h| c.health == h)
}

/// Filtered and sorted rows.
pub fn visible(
    rows: &[ContainerSummary],
    text: &str,
    health: Option<HealthStatus>,
    sort: Sort,
) -> Vec<ContainerSummary> {
    let mut out: Vec<ContainerSummary> = rows
        .iter()
        .filter(|c| matches(c, text, health))
        .cloned()
        .collect();
    out.sort_by(|a, b| {
        let o = compare(a, b, sort.key);
        if sort.descending {
            o.reverse()
        } else {
            o
        }
    });
    out
}

#[component]
pub fn ContainerTable(
    #[prop(into)] rows: Signal<Vec<ContainerSummary>>,
    sort: RwSignal<Sort>,
    text: RwSignal<String>,
    health: RwSignal<Option<HealthStatus>>,
) -> impl IntoView {
    let total = move || rows.with(Vec::len);
    let shown =
        Memo::new(move |_| rows.with(|rows| visible(rows, &text.get(), health.get(), sort.get())));
    let column = move |key: SortKey| {
        let order = Signal::derive(move || {
            let s = sort.get();
            SortOrder::of(s.key == key, s.descending)
        });
        Column::new(key.title()).sortable(order, move || sort.update(|s| *s = s.toggled(key)))
    };
    let columns = move || {
        vec![
            column(SortKey::Name),
            Column::new("Image"),
            column(SortKey::State),
            column(SortKey::Health),
            column(SortKey::Restarts),
            column(SortKey::Started),
        ]
    };
    view! {
        <Show
            when=move || !shown.with(Vec::is_empty)
            fallback=move || {
                view! {
                    <Empty title=format!("No container of {} matches the filter.", total())>
                        <button
                            type="button"
                            class="button secondary"
                            on:click=move |_| {
                                text.set(String::new());
                                health.set(None);
                            }
                        >
                            "Clear filters"
                        </button>
                    </Empty>
                }
            }
        >
            <p class="count muted">{move || format!("{} of {} containers", shown.with(Vec::len), total())}</p>
            <DataTable columns=columns() class="containers">
                <For each=move || shown.get() key=row_key let:c>
                    <ContainerRow c />
                </For>
            </DataTable>
        </Show>
    }
}

/// Keyed on everything a row shows, so a changed container re-renders while
/// unchanged rows keep their DOM (and focus).
fn row_key(c: &ContainerSummary) -> String {
    let started = c
        .started_at
        .map(|t| ago(chrono::Utc::now(), t))
        .unwrap_or_default();
    format!(
        "{}|{}|{}|{}|{}|{}|{}|{}",
        c.id, c.name, c.image, c.state, c.health, c.failing_streak, c.restart_count, started
    )
}

#[component]
fn ContainerRow(c: ContainerSummary) -> impl IntoView {
    let now = chrono::Utc::now();
    let href = format!("/containers/{}", c.name);
    let started = c
        .started_at
        .map(|t| ago(now, t))
        .unwrap_or_else(|| "never".to_owned());
    let started_title = c.started_at.map(date_time).unwrap_or_default();
    let streak = (c.failing_streak > 0).then(|| {
        view! { <span class="streak">{format!("{} failing", c.failing_streak)}</span> }
    });
    let (name, data_name, id) = (c.name.clone(), c.name.clone(), c.id.clone());
    view! {
        <tr data-testid="container-row" data-name=data_name data-id=id>
            <td data-label="Name" class="name">
                <A href=href>{name}</A>
                {c.compose_project.clone().map(|p| view! { <span class="muted small">{format!(" ({p})")}</span> })}
            </td>
            <td data-label="Image" class="image">
                <code>{c.image.clone()}</code>
            </td>
            <td data-label="State">
                <StateBadge state=c.state />
            </td>
            <td data-label="Health">
                <span>
                    <HealthBadge health=c.health />
                    {streak}
                </span>
            </td>
            <td data-label="Restarts" class="num">{c.restart_count}</td>
            <td data-label="Started" title=started_title>{started}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn c(
        name: &str,
        image: &str,
        state: ContainerState,
        health: HealthStatus,
        restarts: u64,
        started_h: Option<u32>,
    ) -> ContainerSummary {
        ContainerSummary {
            id: format!("{name}-id"),
            name: name.into(),
            image: image.into(),
            state,
            status: String::new(),
            health,
            failing_streak: 0,
            created: None,
            started_at: started_h
                .and_then(|h| Utc.with_ymd_and_hms(2026, 11, 22, h, 0, 0).single()),
            finished_at: None,
            exit_code: None,
            restart_count: restarts,
            ports: vec![],
            networks: vec![],
            healthcheck: None,
            compose_project: None,
            compose_service: None,
        }
    }

    fn names(v: &[ContainerSummary]) -> Vec<&str> {
        v.iter().map(|c| c.name.as_str()).collect()
    }

    fn sample() -> Vec<ContainerSummary> {
        vec![
            c(
                "web",
                "nginx:1.27",
                ContainerState::Running,
                HealthStatus::Healthy,
                0,
                Some(9),
            ),
            c(
                "Api",
                "ghcr.io/acme/api",
                ContainerState::Running,
                HealthStatus::Unhealthy,
                4,
                Some(11),
            ),
            c(
                "db",
                "postgres:16",
                ContainerState::Exited,
                HealthStatus::None,
                1,
                None,
            ),
            c(
                "model",
                "acme/infer",
                ContainerState::Running,
                HealthStatus::Starting,
                2,
                Some(10),
            ),
        ]
    }

    #[test]
    fn sorts_by_each_column() {
        let rows = sample();
        let by = |key, descending| visible(&rows, "", None, Sort { key, descending });
        assert_eq!(
            names(&by(SortKey::Name, false)),
            ["Api", "db", "model", "web"]
        );
        assert_eq!(
            names(&by(SortKey::Name, true)),
            ["web", "model", "db", "Api"]
        );
        assert_eq!(
            names(&by(SortKey::Health, false)),
            ["Api", "model", "web", "db"]
        );
        assert_eq!(
            names(&by(SortKey::State, false)),
            ["Api", "model", "web", "db"]
        );
        assert_eq!(
            names(&by(SortKey::Restarts, true)),
            ["Api", "model", "db", "web"]
        );
        assert_eq!(
            names(&by(SortKey::Started, true)),
            ["Api", "model", "web", "db"]
        );
    }

    #[test]
    fn filters_by_text_and_health() {
        let rows = sample();
        let sort = Sort::default();
        assert_eq!(names(&visible(&rows, "POSTGRES", None, sort)), ["db"]);
        assert_eq!(names(&visible(&rows, " a", None, sort)), ["Api", "model"]);
        assert_eq!(
            names(&visible(&rows, "", Some(HealthStatus::Unhealthy), sort)),
            ["Api"]
        );
        assert!(visible(&rows, "zzz", None, sort).is_empty());
    }

    #[test]
    fn toggling_a_column() {
        let s = Sort::default().toggled(SortKey::Name);
        assert!(s.descending);
        let s = s.toggled(SortKey::Restarts);
        assert_eq!(
            s,
            Sort {
                key: SortKey::Restarts,
                descending: true
            }
        );
        assert_eq!(SortKey::parse("health"), Some(SortKey::Health));
    }
}
