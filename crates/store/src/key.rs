//! Cache keys of stages.
//!
//! Every input that can change a stage's output is listed in one struct, [`KeyInputs`]. The key is
//! the BLAKE3 digest of its canonical JSON encoding (object keys sorted, no whitespace, floats in
//! shortest round-trip form), never of a std `Hash`. Because iteration k's inputs hold
//! the digests of iteration k-1's outputs, a change anywhere upstream changes every key after it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::StageKey;

/// Prefix hashed before the encoding; bump it when the encoding itself changes.
const KEY_DOMAIN: &[u8] = b"irl stage key v1\n";

/// Everything a stage's output depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyInputs {
    /// Stage kind: `ingest`, `train`, `reconstruct`, `evaluate` or `report`.
    pub stage: String,
    /// Version of the stage's meaning, bumped when its code changes its output.
    pub version: u32,
    /// Fully resolved parameters, defaults filled in.
    pub params: serde_json::Value,
    /// Digests of the inputs, by input name.
    pub inputs: BTreeMap<String, String>,
    /// Seed of the stage's randomness, where it has any.
    pub seed: Option<u64>,
    /// Backend and device kind, such as `flex/cpu`, for stages that compute with a model.
    pub backend: Option<String>,
}

/// One component of a key that differs between two [`KeyInputs`].
#[derive(Debug, Clone, PartialEq)]
pub struct KeyChange {
    /// Dotted name of the component, such as `params.training.epochs` or `inputs.dataset`.
    pub component: String,
    /// Value in the earlier key, `None` when absent.
    pub before: Option<String>,
    /// Value in the new key, `None` when absent.
    pub after: Option<String>,
}

impl std::fmt::Display for KeyChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |value: &Option<String>| match value {
            None => "(absent)".to_string(),
            Some(text) if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) => {
                text[..crate::digest::SHORT_LEN].to_string()
            }
            Some(text) => text.clone(),
        };
        write!(
            f,
            "{}: {} -> {}",
            self.component,
            show(&self.before),
            show(&self.after)
        )
    }
}

impl KeyInputs {
    /// Canonical encoding that the key hashes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).expect("key inputs encode as JSON");
        let mut bytes = KEY_DOMAIN.to_vec();
        bytes.extend(serde_json::to_vec(&value).expect("a JSON value encodes"));
        bytes
    }

    /// Returns the stage's cache key.
    pub fn key(&self) -> StageKey {
        StageKey::of(&self.canonical_bytes())
    }

    /// Lists the components that differ from `earlier`, leaf by leaf, in a stable order.
    pub fn changes_since(&self, earlier: &KeyInputs) -> Vec<KeyChange> {
        let before = serde_json::to_value(earlier).expect("key inputs encode as JSON");
        let after = serde_json::to_value(self).expect("key inputs encode as JSON");
        let mut changes = Vec::new();
        diff_values("", Some(&before), Some(&after), &mut changes);
        changes
    }
}

fn diff_values(
    path: &str,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
    changes: &mut Vec<KeyChange>,
) {
    use serde_json::Value;

    if let (Some(Value::Object(before)), Some(Value::Object(after))) = (before, after) {
        let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
        names.sort();
        names.dedup();
        for name in names {
            let child = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            diff_values(&child, before.get(name), after.get(name), changes);
        }
        return;
    }
    // A missing entry and a null one both mean "not set", so that is no change.
    let absent = |value: Option<&Value>| matches!(value, None | Some(Value::Null));
    if before != after && !(absent(before) && absent(after)) {
        let show = |value: Option<&Value>| match value {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(other) => Some(other.to_string()),
        };
        changes.push(KeyChange {
            component: path.to_string(),
            before: show(before),
            after: show(after),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(params: serde_json::Value) -> KeyInputs {
        KeyInputs {
            stage: "ingest".into(),
            version: 1,
            params,
            inputs: BTreeMap::new(),
            seed: None,
            backend: None,
        }
    }

    #[test]
    fn changes_list_only_real_differences() {
        let before = key(serde_json::json!({ "limit": 2000, "resize": null }));
        let after = key(serde_json::json!({ "limit": 1000, "selection": "random" }));
        let changes: Vec<String> = after
            .changes_since(&before)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            changes,
            vec![
                "params.limit: 2000 -> 1000".to_string(),
                "params.selection: (absent) -> random".to_string(),
            ]
        );
    }
}
