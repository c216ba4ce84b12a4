//! The runner: walks a pipeline's stage chain, reusing every stage whose record exists and
//! running the rest.
//!
//! The chain is ingest, then train, reconstruct and evaluate for each round, with the report
//! re-rendered after every round. Each stage either has a record under its key (reused, after
//! checking that its objects are present) or runs and writes one. When a stage runs although
//! its slot held another key before, the log names the key inputs that changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use irl_evaluate::tables::Predictions;
use irl_store::{
    Dataset, KeyInputs, ObjectRef, Outcome, RunState, SlotState, SplitName, StageKey, StageRecord,
    Store,
};

use crate::backend::Backend;
use crate::config::{AccumulateBudget, DataRegime, ModelStart, Pipeline, SplitChoice};
use crate::error::RunError;
use crate::stages::{self, PREVIEW_IMAGES, StageKind};
use crate::tables::{self, RunMetricsRow};

/// Scope of a call to [`run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run the whole chain, reusing what is cached.
    Full,
    /// Run one stage; every stage before it must be cached.
    Single { stage: StageKind, iteration: u32 },
    /// Run nothing; report for each stage whether it is cached and, if not, why it would run.
    Explain,
    /// Reuse the cached stages up to the first one that is not, run nothing else, and rewrite
    /// the run's tables and report.
    Refresh,
}

/// Outcome of one stage in this call.
#[derive(Debug, Clone, PartialEq)]
pub enum StageStatus {
    Ran {
        seconds: f64,
    },
    Reused,
    /// Explain mode: the stage has a record and would be reused.
    Cached,
    /// Explain mode: the stage would run, for these reasons.
    WouldRun {
        reasons: Vec<String>,
    },
}

/// One stage of the chain as this call left it.
#[derive(Debug, Clone, PartialEq)]
pub struct StageReport {
    pub slot: String,
    pub key: Option<StageKey>,
    pub status: StageStatus,
}

/// Result of a call to [`run`].
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub stages: Vec<StageReport>,
    /// Rounds whose evaluate stage finished.
    pub rounds_done: u32,
    pub converged_at: Option<u32>,
}

/// Everything a run needs besides the pipeline.
pub struct RunOptions<'a> {
    pub store: &'a Store,
    /// `--data-dir`; takes precedence over `data.dir` and `IRL_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    pub backend: Backend,
    pub mode: Mode,
    pub progress: &'a dyn irl_train::Progress,
}

/// A dataset object, read from the store the first time a stage needs its contents.
#[derive(Clone)]
struct DatasetHandle {
    object: ObjectRef,
    loaded: Option<Arc<Dataset>>,
}

impl DatasetHandle {
    fn stored(object: ObjectRef) -> Self {
        Self {
            object,
            loaded: None,
        }
    }

    fn get(&mut self, store: &Store) -> Result<Arc<Dataset>, RunError> {
        if let Some(dataset) = &self.loaded {
            return Ok(dataset.clone());
        }
        let path = store.object_path(&self.object);
        let dataset = Arc::new(Dataset::read(&path)?);
        self.loaded = Some(dataset.clone());
        Ok(dataset)
    }
}

struct Runner<'a> {
    pipeline: &'a Pipeline,
    options: &'a RunOptions<'a>,
    store: &'a Store,
    state: RunState,
    summary: RunSummary,
    backend_key: String,
    /// Single-stage mode: the target stage has been reached.
    target_done: bool,
    /// Whether the loop reached its last round.
    finished: bool,
    /// Whether refresh mode passed over a stage it could not reuse.
    skipped: bool,
}

impl<'a> Runner<'a> {
    fn new(pipeline: &'a Pipeline, options: &'a RunOptions<'a>, state: RunState) -> Self {
        Self {
            pipeline,
            options,
            store: options.store,
            state,
            summary: RunSummary::default(),
            backend_key: options.backend.key(),
            target_done: false,
            finished: false,
            skipped: false,
        }
    }
}

/// Runs (or explains) the pipeline's chain.
pub fn run(pipeline: &Pipeline, options: &RunOptions<'_>) -> Result<RunSummary, RunError> {
    let store = options.store;
    let _lock = match options.mode {
        Mode::Explain => None,
        _ => Some(store.lock_run(&pipeline.name)?),
    };
    if options.mode != Mode::Explain {
        store.clean_tmp()?;
    }
    let mut state = store.run_state(&pipeline.name)?;
    // A finished chain needs none of its round datasets, so a run of one whose datasets
    // `--drop-round-datasets` deleted is only a refresh. It runs in full when the refresh stops
    // before the last round or passes over a stage.
    // NOTE: that full run recomputes every deleted dataset, also those that no stage it runs reads.
    if options.mode == Mode::Full && store.lacks_round_datasets(&state)? {
        let refresh = RunOptions {
            mode: Mode::Refresh,
            data_dir: options.data_dir.clone(),
            backend: options.backend.clone(),
            ..*options
        };
        let mut runner = Runner::new(pipeline, &refresh, state.clone());
        runner.run_chain()?;
        if runner.finished && !runner.skipped {
            return Ok(runner.summary);
        }
        state = store.run_state(&pipeline.name)?;
    }
    let mut runner = Runner::new(pipeline, options, state);
    runner.run_chain()?;
    Ok(runner.summary)
}

/// Outcome of asking for one stage.
enum Step {
    /// The stage's record, ran or reused.
    Done(Box<StageRecord>),
    /// Explain mode, or a single-stage run past its target: nothing further to do.
    Stop,
}

impl Runner<'_> {
    fn run_chain(&mut self) -> Result<(), RunError> {
        let pipeline = self.pipeline;
        let options = self.options;
        let name = &pipeline.name;

        // The resolved pipeline records the data folder the run used, so that `irl report` and
        // `irl explain` of the run find it again.
        let data_dir = self.data_dir();
        let mut resolved = pipeline.clone();
        if let Ok((dir, _)) = &data_dir {
            resolved.data.dir = Some(std::path::absolute(dir).unwrap_or_else(|_| dir.clone()));
        }
        let yaml = crate::load::to_yaml(&resolved);
        let pipeline_object = if !matches!(options.mode, Mode::Full | Mode::Refresh) {
            None
        } else {
            let object = self.store.put(yaml.as_bytes(), "yaml")?;
            self.store.link(name, "pipeline.yaml", &object)?;
            Some(object)
        };

        // Round 0: the original data. Without the data folder, explain and refresh fall back to
        // the key the run recorded for its ingest stage.
        let writes = matches!(options.mode, Mode::Full | Mode::Single { .. });
        let data_dir = match data_dir {
            Ok((dir, Some(dataset))) if writes => self.download(dataset, &dir).map(|()| dir),
            // Explain and refresh download nothing; a download folder that is not complete yet
            // counts as no data folder.
            Ok((dir, Some(_))) if !dir.exists() => Err(RunError::NoDataDir),
            Ok((dir, _)) => Ok(dir),
            Err(error) => Err(error),
        };
        let (files, key) = match data_dir {
            Ok(dir) => {
                let kind = pipeline.data.source.kind(pipeline.data.classes);
                let files = irl_ingest::locate_source(kind, &dir)?;
                let digests = files.digests()?;
                let key = stages::ingest_key(pipeline, &digests);
                (Some(files), key)
            }
            Err(error) => match self.recorded_key(&StageKind::Ingest.slot(0))? {
                // Without the files, the key combines the file digests the run recorded with
                // the data settings of this pipeline, so a changed setting still shows.
                Some(recorded) if matches!(options.mode, Mode::Explain | Mode::Refresh) => {
                    let digests: Vec<(String, [u8; 32])> = recorded
                        .inputs
                        .iter()
                        .filter_map(|(name, text)| {
                            let bytes = hex::decode(text).ok()?;
                            Some((name.clone(), bytes.try_into().ok()?))
                        })
                        .collect();
                    (None, stages::ingest_key(pipeline, &digests))
                }
                _ => return Err(error),
            },
        };
        let Step::Done(ingest) = self.stage(StageKind::Ingest, 0, key, |store, _| {
            let subset = irl_ingest::Subset {
                train_limit: pipeline.data.train_limit,
                test_limit: pipeline.data.test_limit,
                selection: pipeline.data.selection,
                validation_from_train: pipeline.data.validation_from_train,
                seed: irl_train::derive_seed(pipeline.seed, "data", 0),
            };
            let files = files.as_ref().expect("ingest runs only with a data folder");
            let irl_ingest::Ingested { dataset, sources } =
                files.ingest(&subset, pipeline.data.resize)?;
            let metadata = dataset_metadata("ingest", 0);
            let mut outputs = BTreeMap::new();
            outputs.insert(
                "dataset".to_string(),
                store.put(&dataset.to_safetensors(&metadata)?, "safetensors")?,
            );
            outputs.insert(
                "labels".to_string(),
                store.put(&irl_ingest::labels_table(&dataset)?, "parquet")?,
            );
            outputs.insert("preview".to_string(), put_preview(store, &dataset, 0)?);
            outputs.insert(
                "card".to_string(),
                store.put(&irl_ingest::card_table(&dataset)?, "parquet")?,
            );
            outputs.insert(
                "source_files".to_string(),
                store.put(&irl_ingest::sources_table(&sources)?, "parquet")?,
            );
            Ok(outputs)
        })?
        else {
            return Ok(());
        };
        self.link_outputs(
            0,
            &ingest,
            &[
                ("dataset", "dataset.safetensors"),
                ("labels", "labels.parquet"),
                ("card", "dataset-card.parquet"),
                ("source_files", "source-files.parquet"),
            ],
        )?;

        let mut original = DatasetHandle::stored(ingest.outputs["dataset"].clone());

        // The reference classifier and round 0's class retention and image spread.
        let key = stages::reference_key(pipeline, &original.object.digest, &self.backend_key);
        let Step::Done(reference) = self.stage(StageKind::Reference, 0, key, |store, _| {
            let dataset = original.get(store)?;
            let classes = class_count(&dataset);
            let settings = &pipeline.evaluation.classifier;
            let trained = irl_train::train_classifier(
                &dataset,
                classes,
                &irl_train::ClassifierConfig {
                    epochs: settings.epochs,
                    batch_size: settings.batch_size,
                    learning_rate: settings.learning_rate,
                    eval_batch_size: pipeline.reconstruction.batch_size,
                },
                irl_train::derive_seed(pipeline.seed, "classifier", 0),
                &options.backend.device(),
            )?;
            let predictions = vec![
                Predictions {
                    round: 0,
                    split: SplitName::Train,
                    predicted: trained.train_predictions,
                },
                Predictions {
                    round: 0,
                    split: SplitName::Test,
                    predicted: trained.test_predictions,
                },
            ];
            let retention =
                irl_evaluate::stability::retention_of(&dataset, &predictions, None, classes);
            let spread = irl_evaluate::stability::image_spread(0, &dataset.test, &[]);
            let mut outputs = BTreeMap::new();
            outputs.insert(
                "classifier".to_string(),
                store.put(&trained.weights, "safetensors")?,
            );
            outputs.insert(
                "classifier_log".to_string(),
                store.put(&irl_train::classifier_log_table(&trained.log)?, "parquet")?,
            );
            put_stability_tables(store, &mut outputs, &retention, &predictions, &spread)?;
            Ok(outputs)
        })?
        else {
            return Ok(());
        };
        self.link_outputs(
            0,
            &reference,
            &[
                ("classifier", "classifier.safetensors"),
                ("classifier_log", "classifier-log.parquet"),
                ("predictions", "predictions.parquet"),
                ("class_recall", "class-recall.parquet"),
                ("confusion", "confusion.parquet"),
                ("spread", "spread.parquet"),
            ],
        )?;
        let classifier_object = reference.outputs["classifier"].clone();
        let original_spread_object = reference.outputs["spread"].clone();
        let mut previous_predictions = reference.outputs["predictions"].clone();
        let mut previous_probe: Option<ObjectRef> = None;
        let mut first_probe: Option<ObjectRef> = None;
        let mut round_tables: Vec<BTreeMap<String, ObjectRef>> = vec![reference.outputs.clone()];
        let mut previews = vec![(0u32, ingest.outputs["preview"].clone())];
        let mut prior_samples: Vec<(u32, ObjectRef)> = Vec::new();
        let mut previous_output = DatasetHandle::stored(ingest.outputs["dataset"].clone());
        let mut metrics: Vec<RunMetricsRow> = Vec::new();
        // Model and output dataset of every round, for the cross-round losses.
        let mut models: Vec<(u32, ObjectRef)> = Vec::new();
        let mut datasets: Vec<(u32, ObjectRef)> = vec![(0, original.object.clone())];
        let iterate = &pipeline.iterate;

        for iteration in 1..=iterate.max_iterations {
            let round_seed = irl_train::derive_seed(pipeline.seed, "round", u64::from(iteration));

            // The images the round's model reconstructs, and the data it trains on.
            let mut input = match iterate.regime {
                DataRegime::Original => original.clone(),
                _ => previous_output.clone(),
            };
            let mut training = match iterate.regime {
                DataRegime::Accumulate | DataRegime::Mix if iteration > 1 => {
                    let Some(composed) = self.compose(iteration, &mut original, &datasets)? else {
                        return Ok(());
                    };
                    composed
                }
                _ => input.clone(),
            };

            // Train the round's model, or take round 1's when the map is frozen.
            let frozen = iterate.start == ModelStart::Frozen && iteration > 1;
            let model_object = match models.first() {
                Some((_, first)) if frozen => first.clone(),
                _ => {
                    let warm_start = match models.last() {
                        Some((_, previous)) if iterate.start == ModelStart::Warm => {
                            Some(previous.clone())
                        }
                        _ => None,
                    };
                    let Some(model) =
                        self.train(iteration, round_seed, &mut training, warm_start.as_ref())?
                    else {
                        return Ok(());
                    };
                    model
                }
            };
            // The input is often the training data itself; keep what training read.
            if input.loaded.is_none() && training.object.digest == input.object.digest {
                input.loaded = training.loaded.take();
            }
            if frozen && options.mode != Mode::Explain {
                self.store.link(
                    name,
                    &format!("iter-{iteration:02}/model.safetensors"),
                    &model_object,
                )?;
            }

            // Reconstruct the round's input: the next round's dataset.
            let key = stages::reconstruct_key(
                pipeline,
                iteration,
                &model_object.digest,
                &input.object.digest,
                &self.backend_key,
            );
            let mut produced: Option<Arc<Dataset>> = None;
            let Step::Done(reconstructed) =
                self.stage(StageKind::Reconstruct, iteration, key, |store, _| {
                    let dataset = input.get(store)?;
                    let weights = store.read(&model_object)?;
                    let origin = store.object_path(&model_object).display().to_string();
                    let result =
                        irl_reconstruct::reconstruct(irl_reconstruct::ReconstructRequest {
                            dataset: &dataset,
                            model: &pipeline.model_spec(),
                            weights: &weights,
                            weights_origin: &origin,
                            sampling: sampling(pipeline, iteration),
                            device: &options.backend.device(),
                            batch_size: pipeline.reconstruction.batch_size,
                        })?;
                    let metadata = dataset_metadata("reconstruct", iteration);
                    let output = result.dataset;
                    let mut outputs = BTreeMap::new();
                    outputs.insert(
                        "dataset".to_string(),
                        store.put(&output.to_safetensors(&metadata)?, "safetensors")?,
                    );
                    outputs.insert(
                        "preview".to_string(),
                        put_preview(store, &output, iteration)?,
                    );
                    if !result.latents.is_empty() {
                        let table = irl_store::latents::latents_table(&result.latents)?;
                        outputs.insert("latents".to_string(), store.put(&table, "parquet")?);
                    }
                    if let Some(samples) = &result.prior_samples {
                        let mut metadata = dataset_metadata("reconstruct", iteration);
                        metadata.insert("format".into(), "irl-prior-samples".into());
                        outputs.insert(
                            "prior_samples".to_string(),
                            store.put(&samples.to_safetensors(&metadata)?, "safetensors")?,
                        );
                    }
                    produced = Some(Arc::new(output));
                    Ok(outputs)
                })?
            else {
                return Ok(());
            };
            self.link_outputs(
                iteration,
                &reconstructed,
                &[
                    ("dataset", "dataset.safetensors"),
                    ("latents", "latents.parquet"),
                    ("prior_samples", "prior-samples.safetensors"),
                ],
            )?;
            let mut output = DatasetHandle {
                object: reconstructed.outputs["dataset"].clone(),
                loaded: produced,
            };
            previews.push((iteration, reconstructed.outputs["preview"].clone()));
            models.push((iteration, model_object.clone()));
            datasets.push((iteration, output.object.clone()));
            if let Some(samples) = reconstructed.outputs.get("prior_samples") {
                prior_samples.push((iteration, samples.clone()));
            }
            let latents_object = reconstructed.outputs.get("latents").cloned();

            // Measure the round.
            let key = stages::evaluate_key(
                pipeline,
                iteration,
                stages::EvaluateInputs {
                    input: &input.object.digest,
                    output: &output.object.digest,
                    original: &original.object.digest,
                    latents: latents_object.as_ref().map(|object| &object.digest),
                    model: &model_object.digest,
                    classifier: &classifier_object.digest,
                    original_spread: &original_spread_object.digest,
                    previous_predictions: &previous_predictions.digest,
                    previous_probe: previous_probe.as_ref().map(|object| &object.digest),
                    first_probe: first_probe.as_ref().map(|object| &object.digest),
                },
                &self.backend_key,
            );
            let Step::Done(evaluated) =
                self.stage(StageKind::Evaluate, iteration, key, |store, _| {
                    let (input, output, original) =
                        (input.get(store)?, output.get(store)?, original.get(store)?);
                    let latents = match &latents_object {
                        Some(object) => {
                            Some(irl_store::latents::read_latents_table(store.read(object)?)?)
                        }
                        None => None,
                    };
                    let mut rows = irl_evaluate::evaluate(
                        iteration,
                        &input,
                        &output,
                        &original,
                        latents.as_deref(),
                    )?;
                    let device = options.backend.device();
                    let image_shape = original.test.image_shape;
                    let model = irl_models::infer::LoopModel::load(
                        &pipeline.model_spec(),
                        image_shape,
                        store.read(&model_object)?,
                        &store.object_path(&model_object).display().to_string(),
                        &device,
                    )?;
                    let classes = class_count(&original);
                    let classifier = irl_models::weights::load_safetensors(
                        irl_models::Classifier::init(image_shape, classes, &device),
                        store.read(&classifier_object)?,
                        &store.object_path(&classifier_object).display().to_string(),
                    )?;
                    let read_probe = |object: &Option<ObjectRef>| -> Result<_, RunError> {
                        match object {
                            Some(object) => {
                                Ok(Some(irl_evaluate::tables::read_probe_latents_table(
                                    store.read(object)?,
                                )?))
                            }
                            None => Ok(None),
                        }
                    };
                    let previous = irl_evaluate::tables::read_predictions_table(
                        store.read(&previous_predictions)?,
                    )?;
                    let (previous_latents, first_latents) =
                        (read_probe(&previous_probe)?, read_probe(&first_probe)?);
                    let original_spread = irl_evaluate::tables::read_spread_table(
                        store.read(&original_spread_object)?,
                    )?;
                    let evaluation = &pipeline.evaluation;
                    let probe_indices = irl_evaluate::stability::probe_indices(
                        original.test.len(),
                        evaluation.probe_images,
                        irl_train::derive_seed(pipeline.seed, "probe", 0),
                    );
                    let measured = irl_evaluate::stability::measure(
                        &irl_evaluate::stability::StabilityInputs {
                            iteration,
                            output: &output,
                            original: &original,
                            model: &model,
                            classifier: &classifier,
                            classes,
                            previous_predictions: &previous,
                            probe_indices: &probe_indices,
                            previous_probe: previous_latents.as_ref(),
                            first_probe: first_latents.as_ref(),
                            original_spread: &original_spread,
                            settings: irl_evaluate::stability::StabilitySettings {
                                knn_k: evaluation.knn_k,
                                probe_alpha: evaluation.linear_probe_l2,
                                batch_size: pipeline.reconstruction.batch_size,
                            },
                            device: &device,
                        },
                        &mut rows,
                    );
                    let mut outputs = BTreeMap::new();
                    outputs.insert(
                        "metrics".to_string(),
                        store.put(&irl_evaluate::metrics_table(&rows)?, "parquet")?,
                    );
                    put_stability_tables(
                        store,
                        &mut outputs,
                        &measured.retention,
                        &measured.predictions,
                        &measured.spread,
                    )?;
                    outputs.insert(
                        "probe_latents".to_string(),
                        store.put(
                            &irl_evaluate::tables::probe_latents_table(&measured.probe)?,
                            "parquet",
                        )?,
                    );
                    Ok(outputs)
                })?
            else {
                return Ok(());
            };
            self.link_outputs(
                iteration,
                &evaluated,
                &[
                    ("metrics", "metrics.parquet"),
                    ("predictions", "predictions.parquet"),
                    ("class_recall", "class-recall.parquet"),
                    ("confusion", "confusion.parquet"),
                    ("spread", "spread.parquet"),
                    ("probe_latents", "probe-latents.parquet"),
                ],
            )?;
            previous_predictions = evaluated.outputs["predictions"].clone();
            previous_probe = Some(evaluated.outputs["probe_latents"].clone());
            if iteration == 1 {
                first_probe = previous_probe.clone();
            }
            round_tables.push(evaluated.outputs.clone());
            let rows =
                irl_evaluate::read_metrics_table(self.store.read(&evaluated.outputs["metrics"])?)?;
            metrics.extend(rows.into_iter().map(RunMetricsRow::from));
            self.summary.rounds_done = iteration;

            // Convergence, then the run-level tables and the report.
            let converged_now = self.update_convergence(&mut metrics, iteration);
            previous_output = output;
            let stopping = converged_now && pipeline.iterate.convergence.stop;
            let last = stopping || iteration == pipeline.iterate.max_iterations;
            self.finished = last;
            if last && pipeline.evaluation.cross_round_losses {
                // Not cached in explain and refresh modes: the report is written without it.
                self.cross_round_losses(&models, &datasets)?;
            }
            // Rounds reused from an earlier run need no report of their own, only the last one.
            // Refresh stops at the first round without records, so the last round it reaches is
            // the last whose evaluate stage the run state lists.
            // NOTE: a listed round whose records were deleted by hand ends the refresh without a
            // report of the round before it.
            let round_ran = self
                .summary
                .stages
                .iter()
                .rev()
                .take(3)
                .any(|stage| matches!(stage.status, StageStatus::Ran { .. }));
            let refresh_ends = options.mode == Mode::Refresh
                && !self
                    .state
                    .slots
                    .contains_key(&StageKind::Evaluate.slot(iteration + 1));
            if let Some(pipeline_object) = &pipeline_object
                && (round_ran || last || refresh_ends)
            {
                let metrics_object = self
                    .store
                    .put(&tables::run_metrics_table(&metrics)?, "parquet")?;
                self.store.link(name, "metrics.parquet", &metrics_object)?;
                let run_tables = self.link_run_tables(&round_tables)?;
                let images = ReportImages {
                    previews: &previews,
                    prior_samples: &prior_samples,
                    tables: &run_tables,
                };
                self.report(&metrics, &metrics_object, pipeline_object, &yaml, images)?;
                self.write_manifest()?;
            }
            if stopping {
                tracing::info!(iteration, "converged; stopping the loop");
                break;
            }
        }
        Ok(())
    }

    /// Trains round `iteration`'s model on `training`, from fresh weights or from `warm_start`'s.
    /// Returns the model object, or `None` where the chain stops here.
    fn train(
        &mut self,
        iteration: u32,
        round_seed: u64,
        training: &mut DatasetHandle,
        warm_start: Option<&ObjectRef>,
    ) -> Result<Option<ObjectRef>, RunError> {
        let pipeline = self.pipeline;
        let options = self.options;
        let key = stages::train_key(
            pipeline,
            iteration,
            &training.object.digest,
            warm_start.map(|object| &object.digest),
            &self.backend_key,
        );
        let Step::Done(trained) = self.stage(StageKind::Train, iteration, key, |store, key| {
            let dataset = training.get(store)?;
            let model = pipeline.model_spec();
            model.validate(dataset.train.image_shape)?;
            let mut config = train_config(pipeline);
            let warm_bytes = match warm_start {
                Some(object) => {
                    config.epochs = stages::warm_epochs(pipeline);
                    Some((
                        store.read(object)?,
                        store.object_path(object).display().to_string(),
                    ))
                }
                None => None,
            };
            let request = irl_train::TrainRequest {
                round: iteration,
                dataset: &dataset,
                model: &model,
                config: &config,
                seed: round_seed,
                device: &options.backend.device(),
                checkpoint_dir: &store.checkpoint_dir(key),
                warm_start: warm_bytes
                    .as_ref()
                    .map(|(bytes, origin)| (bytes.as_slice(), origin.as_str())),
            };
            let output = irl_train::train(request, options.progress)?;
            let mut outputs = BTreeMap::new();
            outputs.insert(
                "model".to_string(),
                store.put(&output.weights, "safetensors")?,
            );
            outputs.insert(
                "training_log".to_string(),
                store.put(&irl_train::log_table(&output.log)?, "parquet")?,
            );
            Ok(outputs)
        })?
        else {
            return Ok(None);
        };
        let checkpoints = self.store.checkpoint_dir(&trained.key);
        if checkpoints.exists() {
            fs_err::remove_dir_all(&checkpoints).map_err(|source| RunError::Io {
                path: checkpoints.clone(),
                source,
            })?;
        }
        self.link_outputs(
            iteration,
            &trained,
            &[
                ("model", "model.safetensors"),
                ("training_log", "training-log.parquet"),
            ],
        )?;
        Ok(Some(trained.outputs["model"].clone()))
    }

    /// Composes round `iteration`'s training data from the original and the reconstructions of
    /// the rounds before (`datasets`: round 0, the original, then each round's output).
    fn compose(
        &mut self,
        iteration: u32,
        original: &mut DatasetHandle,
        datasets: &[(u32, ObjectRef)],
    ) -> Result<Option<DatasetHandle>, RunError> {
        let pipeline = self.pipeline;
        let iterate = &pipeline.iterate;
        // Mix draws from the original and the previous round; accumulate from every round.
        let sources: Vec<ObjectRef> = match iterate.regime {
            DataRegime::Mix => vec![
                original.object.clone(),
                datasets.last().expect("round 1 came before").1.clone(),
            ],
            _ => datasets.iter().map(|(_, object)| object.clone()).collect(),
        };
        let reconstructions: Vec<_> = sources[1..].iter().map(|object| object.digest).collect();
        let key = stages::compose_key(
            pipeline,
            iteration,
            &original.object.digest,
            &reconstructions,
        );
        let Step::Done(composed) = self.stage(StageKind::Compose, iteration, key, |store, _| {
            let first = original.get(store)?;
            let seed = irl_train::derive_seed(pipeline.seed, "compose", u64::from(iteration));
            let mut picks = [Vec::new(), Vec::new()];
            for (index, split) in SplitName::ALL.into_iter().enumerate() {
                let len = first.split(split).len();
                let seed = irl_train::derive_seed(seed, split.as_str(), 0);
                picks[index] = match iterate.regime {
                    DataRegime::Mix => crate::compose::mix_picks(len, iterate.mix_fraction(), seed),
                    _ => {
                        let budget = match iterate.budget {
                            Some(AccumulateBudget::OriginalSize) => Some(len),
                            Some(AccumulateBudget::All) | None => None,
                        };
                        let lens = vec![len; sources.len()];
                        crate::compose::pool_picks(&lens, budget, seed)
                    }
                };
            }
            let image_shape = first.train.image_shape;
            let dataset = crate::compose::gather(&picks, sources.len(), image_shape, |source| {
                if source == 0 {
                    return Ok(first.clone());
                }
                let path = store.object_path(&sources[source]);
                Ok(Arc::new(Dataset::read(&path)?))
            })?;
            let metadata = dataset_metadata("compose", iteration);
            Ok(BTreeMap::from([(
                "dataset".to_string(),
                store.put(&dataset.to_safetensors(&metadata)?, "safetensors")?,
            )]))
        })?
        else {
            return Ok(None);
        };
        Ok(Some(DatasetHandle::stored(
            composed.outputs["dataset"].clone(),
        )))
    }

    /// Key inputs of the record that `slot` pointed at in the run's state, if any.
    fn recorded_key(&self, slot: &str) -> Result<Option<KeyInputs>, RunError> {
        let Some(previous) = self.state.slots.get(slot) else {
            return Ok(None);
        };
        Ok(self
            .store
            .record(&previous.key)?
            .map(|record| record.key_inputs))
    }

    /// Returns the data folder, and the dataset to download into it when it is the store's
    /// download folder.
    fn data_dir(&self) -> Result<(PathBuf, Option<irl_ingest::KnownDataset>), RunError> {
        if let Some(dir) = &self.options.data_dir {
            return Ok((dir.clone(), None));
        }
        if let Some(dir) = &self.pipeline.data.dir {
            return Ok((dir.clone(), None));
        }
        if let Some(dir) = std::env::var_os("IRL_DATA_DIR") {
            return Ok((PathBuf::from(dir), None));
        }
        match self.pipeline.data.source.known_dataset() {
            Some(dataset) if self.pipeline.data.download => {
                let folder = dataset.name().to_lowercase();
                Ok((
                    self.store.root().join("downloads").join(folder),
                    Some(dataset),
                ))
            }
            _ => Err(RunError::NoDataDir),
        }
    }

    /// Fetches the files of `dataset` into `dir` that it lacks.
    fn download(&self, dataset: irl_ingest::KnownDataset, dir: &Path) -> Result<(), RunError> {
        let mirrors = match &self.pipeline.data.mirrors {
            Some(mirrors) => mirrors.clone(),
            None => dataset.default_mirrors(),
        };
        irl_ingest::download(&irl_ingest::DownloadRequest {
            dataset,
            dir,
            mirrors: &mirrors,
            attempts: 3,
        })?;
        Ok(())
    }

    /// Marks the round where the rule fires; returns true when it fired at `iteration`.
    fn update_convergence(&mut self, metrics: &mut [RunMetricsRow], iteration: u32) -> bool {
        let rule = &self.pipeline.iterate.convergence;
        let split = match rule.split {
            SplitChoice::Train => "train",
            SplitChoice::Test => "test",
        };
        let losses_of = |name: &str| -> Vec<f64> {
            metrics
                .iter()
                .filter(|row| row.metrics.split.as_str() == name)
                .map(|row| row.metrics.recon_loss)
                .collect()
        };
        let changes = tables::relative_changes(&losses_of(split));
        let train_changes = tables::relative_changes(&losses_of("train"));
        let test_changes = tables::relative_changes(&losses_of("test"));
        for row in metrics.iter_mut() {
            let own = if row.metrics.split == SplitName::Train {
                &train_changes
            } else {
                &test_changes
            };
            row.relative_change = own[row.metrics.iteration as usize - 1];
        }

        let mut fired_at = None;
        let mut streak = 0;
        for (index, change) in changes.iter().enumerate() {
            match change {
                Some(change) if *change < rule.tolerance => streak += 1,
                _ => streak = 0,
            }
            if streak >= rule.patience.max(1) && fired_at.is_none() {
                fired_at = Some(index as u32 + 1);
            }
        }

        for row in metrics.iter_mut() {
            row.converged = fired_at.is_some_and(|round| row.metrics.iteration >= round);
        }
        self.summary.converged_at = fired_at;
        fired_at == Some(iteration)
    }

    fn report(
        &mut self,
        metrics: &[RunMetricsRow],
        metrics_object: &ObjectRef,
        pipeline_object: &ObjectRef,
        yaml: &str,
        images: ReportImages<'_>,
    ) -> Result<(), RunError> {
        let pipeline = self.pipeline;
        let in_snapshot_rounds = |objects: &[(u32, ObjectRef)]| -> Vec<(u32, ObjectRef)> {
            objects
                .iter()
                .filter(|(round, _)| *round == 0 || pipeline.report.snapshot_rounds.contains(round))
                .cloned()
                .collect()
        };
        let digests = |objects: &[(u32, ObjectRef)]| -> Vec<(u32, irl_store::ObjectDigest)> {
            objects
                .iter()
                .map(|(round, object)| (*round, object.digest))
                .collect()
        };
        let snapshots = in_snapshot_rounds(images.previews);
        let prior_samples = in_snapshot_rounds(images.prior_samples);
        let tables = crate::report_input::ReportTables {
            class_recall: images.tables.get("class_recall"),
            confusion: images.tables.get("confusion"),
        };
        let table_digests: Vec<(&str, irl_store::ObjectDigest)> = images
            .tables
            .iter()
            .filter(|(name, _)| matches!(**name, "class_recall" | "confusion"))
            .map(|(name, object)| (*name, object.digest))
            .collect();
        let key = stages::report_key(
            pipeline,
            self.summary.rounds_done,
            self.summary.converged_at,
            stages::ReportInputs {
                metrics: &metrics_object.digest,
                pipeline_yaml: &pipeline_object.digest,
                previews: &digests(&snapshots),
                prior_samples: &digests(&prior_samples),
                tables: &table_digests,
            },
        );
        let rounds_done = self.summary.rounds_done;
        let converged_at = self.summary.converged_at;
        let Step::Done(record) = self.stage(StageKind::Report, rounds_done, key, |store, _| {
            let input = crate::report_input::build(
                store,
                pipeline,
                metrics,
                converged_at,
                yaml,
                &snapshots,
                &prior_samples,
                tables,
            )?;
            let mut outputs = BTreeMap::new();
            for file in irl_report::render(&input)? {
                let ext = file.name.rsplit('.').next().unwrap_or("bin").to_string();
                outputs.insert(file.name.clone(), store.put(&file.bytes, &ext)?);
            }
            Ok(outputs)
        })?
        else {
            return Ok(());
        };
        for (file, object) in &record.outputs {
            self.store
                .link(&pipeline.name, &format!("report/{file}"), object)?;
        }
        Ok(())
    }

    /// Reuses or runs one stage. `produce` runs it and returns its published outputs.
    fn stage<F>(
        &mut self,
        kind: StageKind,
        iteration: u32,
        key_inputs: KeyInputs,
        produce: F,
    ) -> Result<Step, RunError>
    where
        F: FnOnce(&Store, &StageKey) -> Result<BTreeMap<String, ObjectRef>, RunError>,
    {
        let slot = kind.slot(iteration);
        let key = key_inputs.key();
        let store = self.store;
        if self.target_done {
            return Ok(Step::Stop);
        }
        if let Mode::Single {
            stage,
            iteration: target,
        } = self.options.mode
        {
            self.target_done = (stage, target) == (kind, iteration);
        }

        let record = store.record(&key)?;
        // Refreshing reads no round dataset, so one deleted by `--drop-round-datasets` does not
        // keep it from reusing the stage.
        let refresh_skips_dataset = self.options.mode == Mode::Refresh
            && matches!(kind, StageKind::Reconstruct | StageKind::Compose);
        let complete = record.as_ref().is_some_and(|record| {
            record.outputs.iter().all(|(name, object)| {
                (refresh_skips_dataset && name == "dataset") || store.has_object(object)
            })
        });
        if let (Some(record), true) = (record.clone(), complete) {
            if self.options.mode == Mode::Explain {
                self.push(&slot, Some(key), StageStatus::Cached);
                return Ok(Step::Done(Box::new(record)));
            }
            tracing::info!(slot = %slot, key = %key.short(), "reused");
            self.finish(&slot, key, Outcome::Reused, StageStatus::Reused)?;
            return Ok(Step::Done(Box::new(record)));
        }

        let reasons = self.reasons(&slot, &key_inputs, record.is_some())?;
        match self.options.mode {
            Mode::Refresh if kind != StageKind::Report => {
                self.skipped = true;
                return Ok(Step::Stop);
            }
            Mode::Explain => {
                self.push(&slot, Some(key), StageStatus::WouldRun { reasons });
                return Ok(Step::Stop);
            }
            Mode::Single {
                stage,
                iteration: target,
            } if (stage, target) != (kind, iteration) => {
                return Err(RunError::UpstreamNotCached {
                    slot,
                    target: stage.slot(target),
                });
            }
            Mode::Single { .. } | Mode::Full | Mode::Refresh => {}
        }

        tracing::info!(slot = %slot, key = %key.short(), reason = %reasons.join("; "), "running");
        let started_at = irl_store::now_rfc3339();
        let started = Instant::now();
        let outputs = produce(store, &key)?;
        let seconds = started.elapsed().as_secs_f64();
        let record = StageRecord {
            key,
            key_inputs,
            slot: slot.clone(),
            run: self.pipeline.name.clone(),
            outputs,
            started_at,
            seconds,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        store.write_record(&record)?;
        tracing::info!(slot = %slot, key = %key.short(), seconds = format!("{seconds:.1}"), "finished");
        self.finish(&slot, key, Outcome::Ran, StageStatus::Ran { seconds })?;
        Ok(Step::Done(Box::new(record)))
    }

    /// Says why a stage without a usable record must run.
    fn reasons(
        &self,
        slot: &str,
        key_inputs: &KeyInputs,
        has_record: bool,
    ) -> Result<Vec<String>, RunError> {
        if has_record {
            return Ok(vec![
                "its record exists but an output object is missing".into(),
            ]);
        }
        let Some(previous) = self.state.slots.get(slot) else {
            return Ok(vec!["it has not run in this run before".into()]);
        };
        let Some(record) = self.store.record(&previous.key)? else {
            return Ok(vec![format!(
                "the record of its earlier key {} is gone",
                previous.key.short()
            )]);
        };
        let changes = key_inputs.changes_since(&record.key_inputs);
        if changes.is_empty() {
            return Ok(vec!["its key encoding changed".into()]);
        }
        Ok(changes.iter().map(ToString::to_string).collect())
    }

    fn push(&mut self, slot: &str, key: Option<StageKey>, status: StageStatus) {
        self.summary.stages.push(StageReport {
            slot: slot.to_string(),
            key,
            status,
        });
    }

    fn finish(
        &mut self,
        slot: &str,
        key: StageKey,
        outcome: Outcome,
        status: StageStatus,
    ) -> Result<(), RunError> {
        self.push(slot, Some(key), status);
        // Refreshing reads the stages without running them, so their recorded outcome stays.
        if self.options.mode == Mode::Refresh
            && outcome == Outcome::Reused
            && self
                .state
                .slots
                .get(slot)
                .is_some_and(|previous| previous.key == key)
        {
            return Ok(());
        }
        self.state.slots.insert(
            slot.to_string(),
            SlotState {
                key,
                outcome,
                at: irl_store::now_rfc3339(),
            },
        );
        self.store
            .write_run_state(&self.pipeline.name, &self.state)?;
        Ok(())
    }

    fn link_outputs(
        &self,
        iteration: u32,
        record: &StageRecord,
        names: &[(&str, &str)],
    ) -> Result<(), RunError> {
        if self.options.mode == Mode::Explain {
            return Ok(());
        }
        for (output, file) in names {
            let Some(object) = record.outputs.get(*output) else {
                continue;
            };
            // A round dataset that `--drop-round-datasets` deleted gets no link.
            if !self.store.has_object(object) {
                continue;
            }
            let relative = format!("iter-{iteration:02}/{file}");
            self.store.link(&self.pipeline.name, &relative, object)?;
        }
        Ok(())
    }

    /// Measures every round's model on every round's test images (the run-level
    /// `cross-round-losses.parquet`).
    fn cross_round_losses(
        &mut self,
        models: &[(u32, ObjectRef)],
        datasets: &[(u32, ObjectRef)],
    ) -> Result<(), RunError> {
        let pipeline = self.pipeline;
        let options = self.options;
        let digests = |objects: &[(u32, ObjectRef)]| -> Vec<(u32, irl_store::ObjectDigest)> {
            objects
                .iter()
                .map(|(round, object)| (*round, object.digest))
                .collect()
        };
        let key = stages::cross_round_key(
            pipeline,
            &digests(models),
            &digests(datasets),
            &self.backend_key,
        );
        let step = self.stage(StageKind::CrossRound, 0, key, |store, _| {
            let device = options.backend.device();
            let mut loaded = Vec::new();
            let mut rows = Vec::new();
            for (round, object) in datasets {
                let dataset = Dataset::read(&store.object_path(object))?;
                let test = &dataset.test;
                if loaded.is_empty() {
                    for (model_round, model) in models {
                        let weights = store.read(model)?;
                        let origin = store.object_path(model).display().to_string();
                        let model = irl_models::infer::LoopModel::load(
                            &pipeline.model_spec(),
                            test.image_shape,
                            weights,
                            &origin,
                            &device,
                        )?;
                        loaded.push((*model_round, model));
                    }
                }
                let all: Vec<usize> = (0..test.len()).collect();
                for (model_round, model) in &loaded {
                    let encoded = model.encode_and_reconstruct(
                        test,
                        &all,
                        &device,
                        pipeline.reconstruction.batch_size,
                    );
                    rows.push(irl_evaluate::tables::CrossRoundLoss {
                        model_round: *model_round,
                        data_round: *round,
                        loss: test.mean_image_squared_distance(&encoded.reconstructions),
                    });
                }
                tracing::info!(data_round = round, "cross-round losses measured");
            }
            let table = irl_evaluate::tables::cross_round_table(&rows)?;
            Ok(BTreeMap::from([(
                "cross_round_losses".to_string(),
                store.put(&table, "parquet")?,
            )]))
        })?;
        if let Step::Done(record) = &step
            && options.mode != Mode::Explain
        {
            self.store.link(
                &pipeline.name,
                "cross-round-losses.parquet",
                &record.outputs["cross_round_losses"],
            )?;
        }
        Ok(())
    }

    /// Links the run-level stability tables: every round's rows of each table in one file.
    /// Returns the table objects by stage output name.
    fn link_run_tables(
        &self,
        rounds: &[BTreeMap<String, ObjectRef>],
    ) -> Result<BTreeMap<&'static str, ObjectRef>, RunError> {
        let mut linked = BTreeMap::new();
        for (output, file) in RUN_TABLES {
            let mut parts = Vec::new();
            for outputs in rounds {
                if let Some(object) = outputs.get(output) {
                    parts.push(self.store.read(object)?);
                }
            }
            if parts.is_empty() {
                continue;
            }
            let table = irl_store::table::concatenate(file, parts)?;
            let object = self.store.put(&table, "parquet")?;
            self.store.link(&self.pipeline.name, file, &object)?;
            linked.insert(output, object);
        }
        Ok(linked)
    }

    fn write_manifest(&self) -> Result<(), RunError> {
        let table = tables::manifest_table(self.store, &self.state)?;
        let object = self.store.put(&table, "parquet")?;
        self.store
            .link(&self.pipeline.name, "manifest.parquet", &object)?;
        Ok(())
    }
}

/// Per-round tables gathered into one run-level file each: (stage output, file name).
const RUN_TABLES: [(&str, &str); 5] = [
    ("class_recall", "class-recall.parquet"),
    ("confusion", "confusion.parquet"),
    ("spread", "spread.parquet"),
    ("probe_latents", "probe-latents.parquet"),
    ("predictions", "predictions.parquet"),
];

/// Returns the number of classes of the reference classifier: one more than the largest label.
fn class_count(dataset: &Dataset) -> usize {
    SplitName::ALL
        .into_iter()
        .flat_map(|split| dataset.split(split).labels.iter().copied())
        .max()
        .map_or(1, |label| label.max(0) as usize + 1)
}

/// Publishes the class-retention, prediction and spread tables of a round.
fn put_stability_tables(
    store: &Store,
    outputs: &mut BTreeMap<String, ObjectRef>,
    retention: &[irl_evaluate::retention::Retention],
    predictions: &[Predictions],
    spread: &[irl_evaluate::tables::SpreadRow],
) -> Result<(), RunError> {
    use irl_evaluate::tables;
    for (name, bytes) in [
        ("predictions", tables::predictions_table(predictions)?),
        ("class_recall", tables::recall_table(retention)?),
        ("confusion", tables::confusion_table(retention)?),
        ("spread", tables::spread_table(spread)?),
    ] {
        outputs.insert(name.to_string(), store.put(&bytes, "parquet")?);
    }
    Ok(())
}

/// Builds the random parts of round `iteration`'s reconstruction.
fn sampling(pipeline: &Pipeline, iteration: u32) -> irl_reconstruct::Sampling {
    irl_reconstruct::Sampling {
        latent: stages::decoded_latent(pipeline),
        pixel_noise_std: pipeline.reconstruction.pixel_noise_std,
        seed: irl_train::derive_seed(pipeline.seed, "reconstruct", u64::from(iteration)),
        prior_samples: stages::PRIOR_SAMPLES,
        prior_seed: irl_train::derive_seed(pipeline.seed, "prior", 0),
    }
}

/// The image objects a report draws from, by round, and the run-level tables it reads.
#[derive(Clone, Copy)]
struct ReportImages<'a> {
    previews: &'a [(u32, ObjectRef)],
    prior_samples: &'a [(u32, ObjectRef)],
    tables: &'a BTreeMap<&'static str, ObjectRef>,
}

fn train_config(pipeline: &Pipeline) -> irl_train::TrainConfig {
    let training = &pipeline.training;
    irl_train::TrainConfig {
        epochs: training.epochs,
        batch_size: training.batch_size,
        adam: irl_train::AdamConfig {
            learning_rate: training.learning_rate,
            beta1: training.beta1,
            beta2: training.beta2,
            epsilon: training.epsilon,
        },
        eval_batch_size: pipeline.reconstruction.batch_size,
    }
}

fn dataset_metadata(stage: &str, round: u32) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("format".to_string(), "irl-dataset".to_string()),
        (
            "producer".to_string(),
            format!("irl {}", env!("CARGO_PKG_VERSION")),
        ),
        ("stage".to_string(), stage.to_string()),
        ("round".to_string(), round.to_string()),
    ])
}

/// Publishes the first images of each split as a small dataset object for the report.
fn put_preview(store: &Store, dataset: &Dataset, round: u32) -> Result<ObjectRef, RunError> {
    let head = |split: &irl_store::Split| {
        let count = split.len().min(PREVIEW_IMAGES);
        irl_store::Split {
            images: split.images[..count * split.image_len()].to_vec(),
            labels: split.labels[..count].to_vec(),
            image_shape: split.image_shape,
        }
    };
    let preview = Dataset {
        train: head(&dataset.train),
        test: head(&dataset.test),
    };
    let metadata = dataset_metadata("preview", round);
    Ok(store.put(&preview.to_safetensors(&metadata)?, "safetensors")?)
}
