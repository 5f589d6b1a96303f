//! Which loaded rule sets apply to one destination, and what that destination is.
//!
//! An account has many security groups and ACLs; only the ones attached to the instance
//! (and the ACL of its subnet) decide its traffic. Evaluating every loaded set would
//! union unrelated groups and answer "allowed" for a port another instance opens, so a
//! target or a question names its sets; an empty list means "every loaded set", which
//! is right when only the relevant exports were loaded.

use serde::{Deserialize, Serialize};

use super::eval::DestinationInfo;
use super::model::RuleSet;

/// At most this many set ids in one scope (a NIC has at most 16 security groups; host
/// tables and a NACL add a few).
pub const MAX_SCOPE_SETS: usize = 64;
/// Longest set id accepted (`sg-…`, a GCP network URL, an NSG resource id).
pub const MAX_SET_ID: usize = 300;

/// The rule sets that apply to a destination, and what the destination is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleScope {
    /// Ids of the rule sets that apply (`sg-0abc…`, `acl-…`, the GCP network, the NSG
    /// name, `iptables:filter`; at most 64, each up to 300 characters); empty: every loaded set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_items = 64,
            max_length = 300,
            pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
        )
    )]
    pub sets: Vec<String>,
    /// The destination: GCP network tags and service accounts, Azure application security
    /// groups, its private address, the interface traffic arrives on.
    /// Targets stored before this field had its name carry it as `target`.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "target")]
    pub destination: Option<DestinationInfo>,
}

impl RuleScope {
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty() && self.destination.is_none()
    }

    /// Checks sizes (ids must still be matched against what is loaded, see [`Self::select`]).
    pub fn validate(&self) -> Result<(), String> {
        if self.sets.len() > MAX_SCOPE_SETS {
            return Err(format!("at most {MAX_SCOPE_SETS} rule sets per target"));
        }
        for id in &self.sets {
            let id = id.trim();
            if id.is_empty() || id.chars().count() > MAX_SET_ID || id.chars().any(char::is_control)
            {
                return Err(format!("`{id}` is not a rule set id (e.g. sg-0abc123)"));
            }
        }
        if let Some(t) = &self.destination {
            let lists = [&t.tags, &t.service_accounts, &t.application_security_groups];
            if lists.iter().any(|l| l.len() > MAX_SCOPE_SETS)
                || lists
                    .iter()
                    .flat_map(|l| l.iter())
                    .any(|s| s.chars().count() > MAX_SET_ID)
            {
                return Err(format!(
                    "at most {MAX_SCOPE_SETS} tags, service accounts or application security \
                     groups, each at most {MAX_SET_ID} characters"
                ));
            }
            if t.interface.as_ref().is_some_and(|i| i.chars().count() > 15) {
                return Err("an interface name has at most 15 characters".into());
            }
        }
        Ok(())
    }

    /// The ids this scope names that more than one loaded set has (two machines'
    /// `iptables:filter`, two projects' `default` network), with where each came from:
    /// naming such an id would merge unrelated rules into one layer.
    pub fn ambiguous<'a>(
        &self,
        loaded: impl IntoIterator<Item = &'a RuleSet>,
    ) -> Vec<(String, Vec<String>)> {
        let loaded: Vec<&RuleSet> = loaded.into_iter().collect();
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for id in self.sets.iter().map(|s| s.trim()) {
            if out.iter().any(|(seen, _)| seen == id) {
                continue;
            }
            let origins: Vec<String> = loaded
                .iter()
                .filter(|s| s.id == id)
                .map(|s| s.origin.clone())
                .collect();
            if origins.len() > 1 {
                out.push((id.to_owned(), origins));
            }
        }
        out
    }

    /// The loaded sets this scope names (all of them when it names none), in load order,
    /// and the ids it names that are not loaded.
    pub fn select<'a>(
        &self,
        loaded: impl IntoIterator<Item = &'a RuleSet>,
    ) -> (Vec<&'a RuleSet>, Vec<String>) {
        let loaded: Vec<&RuleSet> = loaded.into_iter().collect();
        if self.sets.is_empty() {
            return (loaded, Vec::new());
        }
        let wanted: Vec<&str> = self.sets.iter().map(|s| s.trim()).collect();
        let picked = loaded
            .iter()
            .copied()
            .filter(|s| wanted.contains(&s.id.as_str()))
            .collect();
        let missing = wanted
            .iter()
            .filter(|w| !loaded.iter().any(|s| s.id == **w))
            .map(|w| (*w).to_owned())
            .collect();
        (picked, missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parse_rules;

    const TWO_GROUPS: &str = r#"{"SecurityGroups":[
      {"GroupId":"sg-web","GroupName":"web","IpPermissions":[
        {"IpProtocol":"tcp","FromPort":443,"ToPort":443,"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]},
      {"GroupId":"sg-db","GroupName":"db","IpPermissions":[
        {"IpProtocol":"tcp","FromPort":5432,"ToPort":5432,"IpRanges":[{"CidrIp":"10.0.0.0/8"}]}]}
    ]}"#;

    #[test]
    fn empty_scope_selects_everything() {
        let sets = parse_rules(TWO_GROUPS, "t").expect("parses");
        let (picked, missing) = RuleScope::default().select(&sets);
        assert_eq!(picked.len(), 2);
        assert!(missing.is_empty());
    }

    #[test]
    fn named_sets_only_and_missing_ids_reported() {
        let sets = parse_rules(TWO_GROUPS, "t").expect("parses");
        let scope = RuleScope {
            sets: vec!["sg-db".into(), " sg-gone ".into()],
            destination: None,
        };
        let (picked, missing) = scope.select(&sets);
        assert_eq!(
            picked.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["sg-db"]
        );
        assert_eq!(missing, ["sg-gone"]);
        // The web group opens 443 to everyone, but it is not attached here.
        let q = crate::rules::Question::tcp([203, 0, 113, 7].into(), 443);
        let v = crate::rules::evaluate_refs(&picked, &q);
        assert_eq!(v.outcome, crate::rules::Outcome::Denied);
        let all = crate::rules::evaluate(&sets, &q);
        assert_eq!(all.outcome, crate::rules::Outcome::Allowed);
    }

    #[test]
    fn an_id_in_two_files_is_ambiguous() {
        let mut sets = parse_rules(TWO_GROUPS, "prod.json").expect("parses");
        sets.extend(parse_rules(TWO_GROUPS, "staging.json").expect("parses"));
        let scope = RuleScope {
            sets: vec!["sg-db".into(), "sg-db".into()],
            destination: None,
        };
        assert_eq!(
            scope.ambiguous(&sets),
            vec![(
                "sg-db".to_owned(),
                vec!["prod.json".to_owned(), "staging.json".to_owned()]
            )]
        );
        assert!(RuleScope::default().ambiguous(&sets).is_empty());
    }

    #[test]
    fn validation_bounds_sizes() {
        let ok = RuleScope {
            sets: vec!["sg-1".into()],
            destination: Some(DestinationInfo {
                tags: vec!["web".into()],
                ..DestinationInfo::default()
            }),
        };
        assert!(ok.validate().is_ok());
        let blank = RuleScope {
            sets: vec!["  ".into()],
            destination: None,
        };
        assert!(blank.validate().is_err());
        let many = RuleScope {
            sets: (0..=MAX_SCOPE_SETS).map(|i| format!("sg-{i}")).collect(),
            destination: None,
        };
        assert!(many.validate().unwrap_err().contains("at most"));
        let long_if = RuleScope {
            sets: vec![],
            destination: Some(DestinationInfo {
                interface: Some("x".repeat(16)),
                ..DestinationInfo::default()
            }),
        };
        assert!(long_if.validate().is_err());
    }
}
