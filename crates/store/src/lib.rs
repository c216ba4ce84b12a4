//! Content-addressed artifact store for iterated representation learning.
//!
//! The store keeps every artifact as an immutable object named by the BLAKE3 digest of its bytes,
//! and every finished stage as a record named by its cache key. Runs are readable views of
//! symbolic links into the objects. The layout under the store root:
//!
//! ```text
//! objects/ab/cdef....safetensors   immutable artifacts, named by content digest
//! records/ab/cdef....json          one finished stage: key inputs, outputs, timings
//! checkpoints/<stage key>/          epoch checkpoints of a training stage in progress
//! runs/<name>/                      readable view of one run (links into objects/)
//! tmp/                              files being written; renamed into objects/ when complete
//! ```

pub mod dataset;
pub mod digest;
pub mod error;
pub mod key;
pub mod latents;
pub mod lock;
pub mod object;
pub mod record;
pub mod safetensors_io;
pub mod store;
pub mod table;

pub use dataset::{Dataset, DatasetError, Split, SplitName};
pub use digest::{ObjectDigest, StageKey};
pub use error::StoreError;
pub use key::{KeyChange, KeyInputs};
pub use lock::RunLock;
pub use object::{ObjectRef, ObjectWriter};
pub use record::StageRecord;
pub use store::{CorruptObject, GcReport, Outcome, RunState, SlotState, Store};

/// Current time as RFC 3339 in UTC, such as `2026-12-04T20:41:07Z`.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
