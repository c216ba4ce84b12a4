//! `irl-bench`: the measurements behind BENCHMARKS.md.
//!
//! `make bench` runs each subcommand and `benchmarks/pytorch_reference.py` on the same machine in
//! one sitting, each writing JSON into one folder, then `irl-bench write` turns that folder into
//! the Markdown tables with every figure as a ratio to PyTorch.

// burn-flex allocates a fresh buffer for nearly every tensor operation. mimalloc keeps freed
// pages for reuse, where the system allocator returned them and faulted them in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod memory;
mod results;
mod rounds;
mod write;

use std::path::PathBuf;
use std::process::Command as Process;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use irl_models::{ConvAutoencoderConfig, ModelSpec};
use irl_pipeline::backend::BackendError;
use irl_pipeline::{Backend, Mode, RunOptions, StageStatus};
use irl_train::AdamConfig;
use irl_train::throughput::{ThroughputRequest, measure_throughput};

use results::{CachedRerun, Throughput, WindowResult};

/// Measures irl's training throughput, time and memory per round, and cached reruns.
#[derive(Debug, Parser)]
#[command(name = "irl-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The pipeline a measurement runs.
#[derive(Debug, clap::Args)]
struct PipelineArgs {
    /// Pipeline file (YAML).
    pipeline: PathBuf,
    /// Override a key of the pipeline file, such as `--set data.train_limit=2000`; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Folder with the dataset's raw files.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Store folder for the run.
    #[arg(long)]
    store: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Images per second of the autoencoder's training step at each width and batch size; prints
    /// one JSON object per line.
    Throughput {
        /// Compute backend: flex, or tch in a build with the `tch` feature.
        #[arg(long, default_value = "flex")]
        backend: String,
        /// Device of the backend: cpu, or cuda:N for tch.
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Multipliers of pythae's channel counts, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,0.25,0.125")]
        widths: Vec<f64>,
        /// Batch sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "64,256",
              value_parser = clap::value_parser!(u64).range(1..))]
        batch_sizes: Vec<u64>,
        /// Size of the autoencoder's latent vector.
        #[arg(long, default_value_t = 16)]
        latent_dim: usize,
        /// Updates before timing starts.
        #[arg(long, default_value_t = 3)]
        warmup_steps: usize,
        /// Timed windows per setting; the table takes their median.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
        windows: u64,
        /// Minimum duration of a window in seconds; a window runs whole updates.
        #[arg(long, default_value_t = 2.0)]
        window_seconds: f64,
        /// Seed of the model's initialisation and of the uniform images.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Runs a pipeline on flex into a store that must not exist yet, and prints each round's
    /// seconds and peak resident memory as one JSON object.
    Rounds(PipelineArgs),
    /// Times `irl run` on a pipeline whose stages are all cached; prints one JSON object.
    CachedRerun {
        #[command(flatten)]
        pipeline: PipelineArgs,
        /// The irl binary to time.
        #[arg(long, default_value = "target/release/irl")]
        irl: PathBuf,
        /// Number of timed runs; the table takes their median.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
        runs: u64,
    },
    /// Writes the Markdown report from the JSON files that the other subcommands and the
    /// PyTorch reference wrote into a folder.
    Write {
        /// Folder with pytorch.jsonl, flex.jsonl, tch.jsonl (optional), rounds-*.json and
        /// cached-rerun.json.
        results: PathBuf,
        /// Markdown file to write.
        #[arg(long, default_value = "BENCHMARKS.md")]
        out: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    match Cli::parse().command {
        Command::Throughput {
            backend,
            device,
            widths,
            batch_sizes,
            latent_dim,
            warmup_steps,
            windows,
            window_seconds,
            seed,
        } => {
            let parsed = Backend::parse(&backend, &device).map_err(|error| match error {
                BackendError::TchNotBuilt => anyhow::anyhow!(
                    "this irl-bench was built without LibTorch, so --backend tch is \
                     unavailable; `make bench` builds target/tch/release/irl-bench with the \
                     `tch` feature, or use --backend flex"
                ),
                other => other.into(),
            })?;
            let device = parsed.device();
            let windows = windows as usize;
            for &width in &widths {
                let architecture = ConvAutoencoderConfig { width, latent_dim };
                architecture.validate([1, 28, 28]).map_err(|error| {
                    anyhow::anyhow!("invalid --widths or --latent-dim: {error}")
                })?;
                let model = ModelSpec::ConvAe { architecture };
                for &batch_size in &batch_sizes {
                    let batch_size = batch_size as usize;
                    let measured = measure_throughput(ThroughputRequest {
                        model: &model,
                        image_shape: [1, 28, 28],
                        batch_size,
                        adam: AdamConfig {
                            learning_rate: 1e-3,
                            beta1: 0.9,
                            beta2: 0.999,
                            epsilon: 1e-8,
                        },
                        device: &device,
                        warmup_steps,
                        windows,
                        window_seconds,
                        seed,
                    })
                    .with_context(|| format!("width {width}, batch size {batch_size}"))?;
                    let line = Throughput {
                        framework: format!("burn-{backend}"),
                        device: device_name(&parsed),
                        threads: available_threads(),
                        width,
                        batch_size,
                        window_seconds: Some(window_seconds),
                        windows: measured
                            .iter()
                            .map(|window| WindowResult {
                                steps: window.steps,
                                seconds: window.seconds,
                            })
                            .collect(),
                        version: None,
                    };
                    println!("{}", serde_json::to_string(&line)?);
                }
            }
            Ok(())
        }
        Command::Rounds(args) => {
            if args.store.exists() {
                bail!(
                    "the store {} exists already; the measurement needs a new one, so delete it \
                     or name another",
                    args.store.display()
                );
            }
            let measured = rounds::measure(
                &args.pipeline,
                &args.overrides,
                args.data_dir.clone(),
                &args.store,
            )?;
            println!("{}", serde_json::to_string(&measured)?);
            Ok(())
        }
        Command::CachedRerun {
            pipeline: args,
            irl,
            runs,
        } => {
            let pipeline = irl_pipeline::load(&args.pipeline, &args.overrides)?;
            check_cached(&pipeline, &args)?;
            let mut seconds = Vec::with_capacity(runs as usize);
            for _ in 0..runs {
                let mut command = Process::new(&irl);
                command
                    .arg("--store")
                    .arg(&args.store)
                    .arg("run")
                    .arg(&args.pipeline);
                for value in &args.overrides {
                    command.arg("--set").arg(value);
                }
                if let Some(dir) = &args.data_dir {
                    command.arg("--data-dir").arg(dir);
                }
                let started = Instant::now();
                let output = command.output().with_context(|| {
                    format!(
                        "failed to start {}; build it with `make build`, or name the irl \
                             binary with --irl",
                        irl.display()
                    )
                })?;
                seconds.push(started.elapsed().as_secs_f64());
                let log = String::from_utf8_lossy(&output.stderr);
                if !output.status.success() {
                    bail!("{} failed:\n{log}", irl.display());
                }
                if !log.contains(" 0 stages ran") {
                    bail!(
                        "the rerun computed stages, so the store {} did not hold the whole \
                         pipeline; run `irl-bench rounds` on it first:\n{log}",
                        args.store.display()
                    );
                }
            }
            let line = CachedRerun {
                pipeline: pipeline.name,
                overrides: args.overrides,
                rounds: pipeline.iterate.max_iterations,
                seconds,
            };
            println!("{}", serde_json::to_string(&line)?);
            Ok(())
        }
        Command::Write { results, out } => {
            let markdown = write::markdown(&results)?;
            fs_err::write(&out, markdown)?;
            eprintln!("wrote {}", out.display());
            Ok(())
        }
    }
}

/// Stops before any timing unless every stage of `pipeline` is cached in the store, because a
/// rerun that computes stages would take the whole run's time and measure nothing useful.
fn check_cached(pipeline: &irl_pipeline::Pipeline, args: &PipelineArgs) -> Result<()> {
    let store = irl_store::Store::open(&args.store)
        .with_context(|| format!("failed to open the store {}", args.store.display()))?;
    let summary = irl_pipeline::run(
        pipeline,
        &RunOptions {
            store: &store,
            data_dir: args.data_dir.clone(),
            backend: Backend::Flex,
            mode: Mode::Explain,
            progress: &irl_train::NoProgress,
        },
    )?;
    let pending = summary
        .stages
        .iter()
        .find(|stage| !matches!(stage.status, StageStatus::Cached));
    if let Some(stage) = pending {
        bail!(
            "the store {} does not hold every stage of {} (stage {} would run); run \
             `irl-bench rounds` with the same pipeline and --set values into that store first",
            args.store.display(),
            pipeline.name,
            stage.slot
        );
    }
    Ok(())
}

fn device_name(backend: &Backend) -> String {
    match backend {
        Backend::Flex => "cpu".into(),
        Backend::Tch(irl_pipeline::backend::TchDevice::Cpu) => "cpu".into(),
        Backend::Tch(irl_pipeline::backend::TchDevice::Cuda(index)) => format!("cuda:{index}"),
    }
}

fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
