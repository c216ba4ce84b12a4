//! `irl status`: each stage of a run as the latest run left it.

use anyhow::{Result, bail};
use irl_pipeline::StageKind;
use irl_store::{Outcome, Store};

/// Prints one line per stage: slot, state, short key, seconds, finish time and outputs.
pub fn print(store: &Store, run: &str) -> Result<()> {
    let state = store.run_state(run)?;
    if state.slots.is_empty() {
        bail!(
            "run {run:?} has no stages in the store at {}; start it with `irl run PIPELINE`",
            store.root().display()
        );
    }
    out!(
        "{:<20} {:<7} {:<12} {:>9}  {:<20}  outputs",
        "stage",
        "state",
        "key",
        "seconds",
        "at"
    )?;
    let mut slots: Vec<_> = state.slots.iter().collect();
    slots.sort_by_key(|(slot, _)| chain_position(slot));
    for (slot, slot_state) in slots {
        let record = store.record(&slot_state.key)?;
        let state_word = match slot_state.outcome {
            Outcome::Ran => "done",
            Outcome::Reused => "reused",
        };
        let (seconds, outputs) = match &record {
            Some(record) => (
                format!("{:.1}", record.seconds),
                record
                    .outputs
                    .iter()
                    .map(|(name, object)| format!("{name}={}", object.digest.short()))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            None => ("-".into(), "(record missing)".into()),
        };
        out!(
            "{slot:<20} {state_word:<7} {:<12} {seconds:>9}  {:<20}  {outputs}",
            slot_state.key.short(),
            slot_state.at
        )?;
    }

    // Rounds that the saved pipeline requests but that have no stage yet.
    let saved = store.run_dir(run).join("pipeline.yaml");
    if let Ok(pipeline) = irl_pipeline::load(&saved, &[]) {
        let stages = [
            StageKind::Train,
            StageKind::Reconstruct,
            StageKind::Evaluate,
        ];
        let pending: Vec<String> = (1..=pipeline.iterate.max_iterations)
            .flat_map(|iteration| stages.map(|kind| kind.slot(iteration)))
            .filter(|slot| !state.slots.contains_key(slot))
            .collect();
        if let (Some(first), Some(last)) = (pending.first(), pending.last()) {
            out!(
                "pending: {} stages, {first} to {last} (unless the loop stops at convergence)",
                pending.len()
            )?;
        }
    }
    Ok(())
}

/// Orders slots as the chain runs them: by round, then ingest, reference, compose, train,
/// reconstruct, evaluate, and the report last.
fn chain_position(slot: &str) -> (u32, usize) {
    let Some((round, stage)) = slot
        .strip_prefix("iter-")
        .and_then(|rest| rest.split_once('/'))
    else {
        return (u32::MAX, 0);
    };
    let order = [
        "ingest",
        "reference",
        "compose",
        "train",
        "reconstruct",
        "evaluate",
    ];
    let rank = order
        .iter()
        .position(|name| *name == stage)
        .unwrap_or(order.len());
    (round.parse().unwrap_or(u32::MAX), rank)
}
