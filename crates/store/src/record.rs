//! Stage records: the proof that a stage finished.
//!
//! A record is written last, after every output object is published, and it is published the
//! same way (temporary file, fsync, rename). A stage without a record is not done, whatever
//! objects it left behind.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::StageKey;
use crate::key::KeyInputs;
use crate::object::ObjectRef;

/// One finished stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    pub key: StageKey,
    /// Every input of the key, so that a later run can name the one that changed.
    pub key_inputs: KeyInputs,
    /// Place of the stage in its run's chain, such as `iter-03/train`.
    pub slot: String,
    /// Run that first produced the record.
    pub run: String,
    /// Output objects by name.
    pub outputs: BTreeMap<String, ObjectRef>,
    /// Start time, RFC 3339 in UTC.
    pub started_at: String,
    /// Wall time of the stage in seconds.
    pub seconds: f64,
    /// Version of the irl tool that wrote the record.
    pub tool_version: String,
}

impl StageRecord {
    /// Returns the output named `name`.
    pub fn output(&self, name: &str) -> Option<&ObjectRef> {
        self.outputs.get(name)
    }
}
