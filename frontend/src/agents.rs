//! The agents this dashboard knows (the Fleet page), kept in this browser's localStorage:
//! name, base URL and token of each. One of them may be chosen; the whole dashboard then
//! talks to it (`api::set_base`) with its token, until "This agent" is chosen again.
//! Removing an agent forgets its token.

use serde::{Deserialize, Serialize};

/// localStorage key of the agent list (JSON).
pub const AGENTS_KEY: &str = "vantage.agents";
/// localStorage key of the chosen agent's URL; absent for the agent serving the page.
pub const CHOSEN_KEY: &str = "vantage.agent";

/// Another agent, as the Fleet page keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentEntry {
    pub name: String,
    /// `http(s)://host[:port]` (`vantage_shared::fleet::check_agent_url`).
    pub url: String,
    pub token: String,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The list; an unreadable stored value (edited by hand) counts as empty.
pub fn load() -> Vec<AgentEntry> {
    storage()
        .and_then(|s| s.get_item(AGENTS_KEY).ok().flatten())
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default()
}

/// Stores the list; a failed write (private mode, quota) is reported to the caller's form.
pub fn save(list: &[AgentEntry]) -> Result<(), String> {
    let json = serde_json::to_string(list).map_err(|e| e.to_string())?;
    storage()
        .ok_or_else(|| "this browser keeps no local storage".to_owned())?
        .set_item(AGENTS_KEY, &json)
        .map_err(|_| "this browser refused to store the list (private mode?)".to_owned())
}

/// The chosen agent, if it is still in the list.
pub fn chosen() -> Option<AgentEntry> {
    let url = storage()?.get_item(CHOSEN_KEY).ok().flatten()?;
    load().into_iter().find(|a| a.url == url)
}

/// Chooses an agent (`None`: the one serving this page).
pub fn choose(url: Option<&str>) {
    if let Some(s) = storage() {
        let _ = match url {
            Some(u) => s.set_item(CHOSEN_KEY, u),
            None => s.remove_item(CHOSEN_KEY),
        };
    }
}

/// Adds `entry`, or replaces the one with its URL (a new token for the same agent).
pub fn upsert(list: &mut Vec<AgentEntry>, entry: AgentEntry) {
    match list.iter_mut().find(|a| a.url == entry.url) {
        Some(existing) => *existing = entry,
        None => list.push(entry),
    }
}

/// Removes the agent with `url` and with it its token (the Fleet page then returns to the
/// agent serving it if the removed one was on view).
pub fn remove(list: &mut Vec<AgentEntry>, url: &str) {
    list.retain(|a| a.url != url);
}

/// Stores a new token for the chosen agent (the token screen, while it is chosen).
pub fn set_chosen_token(token: Option<&str>) {
    let Some(chosen) = chosen() else { return };
    let mut list = load();
    if let Some(a) = list.iter_mut().find(|a| a.url == chosen.url) {
        a.token = token.unwrap_or_default().to_owned();
    }
    let _ = save(&list);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(url: &str, token: &str) -> AgentEntry {
        AgentEntry {
            name: url.into(),
            url: url.into(),
            token: token.into(),
        }
    }

    #[test]
    fn the_list_keeps_one_entry_per_url_and_removal_forgets_the_token() {
        let mut list = vec![entry("http://a:1", "t1")];
        upsert(&mut list, entry("http://b:2", "t2"));
        upsert(&mut list, entry("http://a:1", "t3"));
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].token, "t3");
        remove(&mut list, "http://a:1");
        assert_eq!(list, vec![entry("http://b:2", "t2")]);
        let json = serde_json::to_string(&list).unwrap_or_default();
        assert!(!json.contains("t3"));
    }
}
