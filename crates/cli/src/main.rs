//! The `irl` command: runs iterated representation learning pipelines and inspects what they
//! wrote.

/// Writes a line to stdout, returning an error instead of panicking when stdout is closed (as
/// when the output is piped into `head`).
macro_rules! out {
    ($($arg:tt)*) => {
        anyhow::Context::context(
            std::io::Write::write_fmt(
                &mut std::io::stdout().lock(),
                format_args!("{}\n", format_args!($($arg)*)),
            ),
            "failed to write to stdout",
        )
    };
}

// burn-flex allocates a fresh buffer for nearly every tensor operation. mimalloc keeps freed
// pages for reuse, where the system allocator returned them and faulted them in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod inspect;
mod progress;
mod status;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use irl_pipeline::{Backend, Mode, Pipeline, RunOptions, StageKind, StageStatus};
use irl_store::Store;

/// Iterated representation learning: train, reconstruct, retrain, and measure what survives.
#[derive(Debug, Parser)]
#[command(name = "irl", version, about)]
struct Cli {
    /// Store folder with the objects, records and run views.
    #[arg(long, global = true, env = "IRL_STORE", default_value = "artifacts")]
    store: PathBuf,

    #[command(subcommand)]
    command: Command,
}

/// Options shared by the commands that read a pipeline file.
#[derive(Debug, clap::Args)]
struct PipelineArgs {
    /// Pipeline file (YAML).
    pipeline: PathBuf,
    /// Override a key of the pipeline file, such as `--set training.epochs=2`; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Folder with the dataset's raw files; takes precedence over data.dir and IRL_DATA_DIR.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Compute backend: flex (pure Rust, CPU), or tch (LibTorch, builds with the `tch` feature).
    #[arg(long, default_value = "flex")]
    backend: String,
    /// Device of the backend: cpu, or cuda:N for tch.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// After each chain finishes, delete the datasets of its rounds but the last, as
    /// `irl gc --round-datasets` does; for long studies on a small disk.
    #[arg(long)]
    drop_round_datasets: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a pipeline, reusing every finished stage and resuming an interrupted one.
    Run(PipelineArgs),
    /// Show each stage of a run: done, reused or pending, with short digests and times.
    Status {
        /// Run name (a folder under runs/ in the store).
        run: String,
    },
    /// Say why each stage of a pipeline would run: which key input changed since its slot's
    /// last record.
    Explain {
        /// Pipeline file, or the name of a run (its saved pipeline is used).
        target: String,
        /// Override a key of the pipeline, such as `--set training.epochs=2`; repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Folder with the dataset's raw files. Without one, the file digests the run recorded
        /// stand in for the files.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Compute backend whose keys to explain: flex or tch. By default the backend a run
        /// name was computed on, and flex for a pipeline file.
        #[arg(long)]
        backend: Option<String>,
        /// Device of the backend: cpu, or cuda:N for tch.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Print a safetensors file's tensors and metadata, or a Parquet file's schema and first rows.
    Inspect {
        path: PathBuf,
        /// Rows of a Parquet file to print.
        #[arg(long, default_value_t = 10)]
        rows: usize,
    },
    /// Rehash every object in the store; exits non-zero when one does not match its name.
    Verify,
    /// Delete objects and records that no run references, and checkpoints of finished stages.
    Gc {
        /// List what would be deleted without deleting it.
        #[arg(long)]
        dry_run: bool,
        /// Also delete the datasets of every round but the last of each run that no other
        /// process is writing: most of a store's size. Running a finished chain again needs
        /// none of them. A run that extends or changes it recomputes them from the rounds' models.
        #[arg(long)]
        round_datasets: bool,
    },
    /// Run only the ingest stage of a pipeline.
    Ingest(PipelineArgs),
    /// Run only the reference stage: train the reference classifier on the original training
    /// images and measure round 0; ingest must have run.
    Reference(PipelineArgs),
    /// Run only the train stage of one round; earlier stages must have run.
    Train {
        #[command(flatten)]
        args: PipelineArgs,
        #[arg(long)]
        iteration: u32,
    },
    /// Run only the reconstruct stage of one round; earlier stages must have run.
    Reconstruct {
        #[command(flatten)]
        args: PipelineArgs,
        #[arg(long)]
        iteration: u32,
    },
    /// Run only the evaluate stage of one round; earlier stages must have run.
    Evaluate {
        #[command(flatten)]
        args: PipelineArgs,
        #[arg(long)]
        iteration: u32,
    },
    /// Rewrite a run's metrics table and report from its finished stages. Several runs, or a run
    /// with seeds, also get one comparison report with every measurement of them.
    Report {
        /// Run names; two or more make a comparison under comparisons/ in the store.
        #[arg(required = true, num_args = 1..)]
        runs: Vec<String>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    match run_cli() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A closed stdout (`irl status RUN | head`) ends the command quietly.
        Err(error) if is_broken_pipe(&error) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run_cli() -> Result<()> {
    let cli = Cli::parse();
    progress::init_logging();
    if let Command::Inspect { path, rows } = &cli.command {
        return inspect::print(path, *rows);
    }
    let reads_only = matches!(
        cli.command,
        Command::Status { .. } | Command::Explain { .. } | Command::Verify | Command::Gc { .. }
    );
    if reads_only && !cli.store.is_dir() {
        bail!(
            "no store at {}; pass --store DIR (or set IRL_STORE) to the folder `irl run` wrote",
            cli.store.display()
        );
    }
    let store = Store::open(&cli.store)
        .with_context(|| format!("failed to open the store at {}", cli.store.display()))?;

    match cli.command {
        Command::Run(args) => run_pipeline(&store, &args, Mode::Full),
        Command::Ingest(args) => run_pipeline(
            &store,
            &args,
            Mode::Single {
                stage: StageKind::Ingest,
                iteration: 0,
            },
        ),
        Command::Reference(args) => run_pipeline(
            &store,
            &args,
            Mode::Single {
                stage: StageKind::Reference,
                iteration: 0,
            },
        ),
        Command::Train { args, iteration } => single(&store, &args, StageKind::Train, iteration),
        Command::Reconstruct { args, iteration } => {
            single(&store, &args, StageKind::Reconstruct, iteration)
        }
        Command::Evaluate { args, iteration } => {
            single(&store, &args, StageKind::Evaluate, iteration)
        }
        Command::Report { runs, data_dir } => {
            let mut seed_sets = 0;
            for run in &runs {
                let pipeline = saved_pipeline(&store, run)?;
                let several_seeds = pipeline.seeds.as_ref().is_some_and(|seeds| seeds.len() > 1);
                seed_sets += usize::from(several_seeds);
                for chain in irl_pipeline::seeds::chains(&pipeline) {
                    // Each chain saved its own pipeline, with the data folder it ran on.
                    let chain = match pipeline.seeds {
                        Some(_) => saved_pipeline(&store, &chain.name)?,
                        None => chain,
                    };
                    let backend = recorded_backend(&store, &chain.name)?;
                    execute(&store, &chain, data_dir.clone(), backend, Mode::Refresh)?;
                    let index = store.run_dir(&chain.name).join("report").join("index.html");
                    out!("{}", index.display())?;
                }
            }
            // One set of several seeds alone gets the page of its mean and interval over them.
            if runs.len() > 1 || seed_sets > 0 {
                let dir = irl_pipeline::compare::compare(&store, &runs)?;
                out!("{}", dir.join("index.html").display())?;
            }
            Ok(())
        }
        Command::Status { run } => status::print(&store, &run),
        Command::Explain {
            target,
            overrides,
            data_dir,
            backend,
            device,
        } => {
            let is_file = Path::new(&target).is_file();
            let pipeline = if is_file {
                irl_pipeline::load(Path::new(&target), &overrides)?
            } else {
                if !overrides.is_empty() {
                    bail!("--set applies to a pipeline file, but {target:?} is a run name");
                }
                saved_pipeline(&store, &target)?
            };
            let chosen = backend
                .as_deref()
                .map(|backend| Backend::parse(backend, &device))
                .transpose()?;
            let chains = irl_pipeline::seeds::chains(&pipeline);
            for chain in &chains {
                if chains.len() > 1 {
                    out!("run {}:", chain.name)?;
                }
                let backend = match &chosen {
                    Some(backend) => backend.clone(),
                    None if is_file => Backend::Flex,
                    None => recorded_backend(&store, &chain.name)?,
                };
                let summary = execute(&store, chain, data_dir.clone(), backend, Mode::Explain)?;
                print_explain(&summary)?;
            }
            Ok(())
        }
        Command::Inspect { .. } => unreachable!("handled before the store is opened"),
        Command::Verify => verify(&store),
        Command::Gc {
            dry_run,
            round_datasets,
        } => gc(&store, dry_run, round_datasets),
    }
}

fn single(store: &Store, args: &PipelineArgs, stage: StageKind, iteration: u32) -> Result<()> {
    if iteration == 0 {
        bail!("--iteration counts rounds from 1");
    }
    run_pipeline(store, args, Mode::Single { stage, iteration })
}

fn run_pipeline(store: &Store, args: &PipelineArgs, mode: Mode) -> Result<()> {
    let pipeline = irl_pipeline::load(&args.pipeline, &args.overrides)?;
    let backend = Backend::parse(&args.backend, &args.device)?;
    let chains = irl_pipeline::seeds::chains(&pipeline);
    for chain in &chains {
        run_chain(store, chain, args.data_dir.clone(), backend.clone(), mode)?;
        if args.drop_round_datasets && mode == Mode::Full {
            let dropped =
                store.drop_round_datasets(Some(std::slice::from_ref(&chain.name)), false)?;
            eprintln!(
                "deleted {} round datasets of {} ({:.1} GB)",
                dropped.objects.len(),
                chain.name,
                dropped.bytes as f64 / 1e9
            );
        }
    }
    if pipeline.seeds.is_some() && mode == Mode::Full {
        let summary = irl_pipeline::seeds::summarise(store, &pipeline, &chains)?;
        print_seed_summary(&summary)?;
        let dir = store.run_dir(&pipeline.name);
        eprintln!("summary: {}", dir.join("seed-summary.parquet").display());
        eprintln!(
            "         {}",
            dir.join("convergence-summary.parquet").display()
        );
    }
    Ok(())
}

fn run_chain(
    store: &Store,
    pipeline: &Pipeline,
    data_dir: Option<PathBuf>,
    backend: Backend,
    mode: Mode,
) -> Result<()> {
    let summary = execute(store, pipeline, data_dir, backend, mode)?;
    let ran = summary
        .stages
        .iter()
        .filter(|stage| matches!(stage.status, StageStatus::Ran { .. }))
        .count();
    let reused = summary.stages.len() - ran;
    let counted = |count: usize, noun: &str| {
        if count == 1 {
            format!("{count} {noun}")
        } else {
            format!("{count} {noun}s")
        }
    };
    eprintln!(
        "run {}: {} done, {} ran, {reused} reused{}",
        pipeline.name,
        counted(summary.rounds_done as usize, "round"),
        counted(ran, "stage"),
        match summary.converged_at {
            Some(round) => format!(", converged at round {round}"),
            None => String::new(),
        }
    );
    let run_dir = store.run_dir(&pipeline.name);
    if mode == Mode::Full {
        eprintln!("metrics: {}", run_dir.join("metrics.parquet").display());
        eprintln!("report:  {}", run_dir.join("report/index.html").display());
    }
    Ok(())
}

/// Prints the convergence of each seed's chain and their mean with its 95% interval.
fn print_seed_summary(summary: &irl_pipeline::seeds::SeedSummary) -> Result<()> {
    let optional = |value: Option<f64>| value.map_or("-".to_string(), |v| format!("{v:.4}"));
    out!(
        "{:<28} {:>10} {:>12} {:>12} {:>12}",
        "chain",
        "converged",
        "loss there",
        "final loss",
        "final acc"
    )?;
    for chain in &summary.chains {
        out!(
            "{:<28} {:>10} {:>12} {:>12} {:>12}",
            chain.run,
            chain
                .converged_at
                .map_or("-".to_string(), |round| round.to_string()),
            optional(chain.loss_at_convergence),
            optional(chain.final_loss),
            optional(chain.final_class_accuracy)
        )?;
    }
    for (quantity, interval) in &summary.convergence {
        match interval {
            Some(interval) => out!(
                "{quantity:<22} mean {:.4}, 95% interval [{}, {}] over {} seeds",
                interval.mean,
                optional(interval.low),
                optional(interval.high),
                interval.count
            )?,
            None => out!("{quantity:<22} no seed has a value")?,
        }
    }
    Ok(())
}

fn execute(
    store: &Store,
    pipeline: &Pipeline,
    data_dir: Option<PathBuf>,
    backend: Backend,
    mode: Mode,
) -> Result<irl_pipeline::RunSummary> {
    let progress = progress::TerminalProgress::new();
    let options = RunOptions {
        store,
        data_dir,
        backend,
        mode,
        progress: &progress,
    };
    let summary = irl_pipeline::run(pipeline, &options)
        .with_context(|| format!("run {:?} failed", pipeline.name))?;
    Ok(summary)
}

/// Returns the backend that computed `run`, from the key of its reference classifier, so that
/// refreshing a run made on LibTorch finds its stages. A run without that stage yet gets flex.
fn recorded_backend(store: &Store, run: &str) -> Result<Backend> {
    let state = store.run_state(run)?;
    let Some(slot) = state.slots.get("iter-00/reference") else {
        return Ok(Backend::Flex);
    };
    let recorded = store
        .record(&slot.key)?
        .and_then(|record| record.key_inputs.backend);
    match recorded {
        None => Ok(Backend::Flex),
        Some(key) => Backend::from_key(&key).with_context(|| {
            format!("run {run:?} was computed on backend {key:?}, which this irl does not know")
        }),
    }
}

fn saved_pipeline(store: &Store, run: &str) -> Result<Pipeline> {
    let path = store.run_dir(run).join("pipeline.yaml");
    if !path.exists() {
        bail!(
            "run {run:?} has no saved pipeline at {}; check the run name (`ls {}`)",
            path.display(),
            store.root().join("runs").display()
        );
    }
    Ok(irl_pipeline::load(&path, &[])?)
}

fn print_explain(summary: &irl_pipeline::RunSummary) -> Result<()> {
    let mut any_pending = false;
    for stage in &summary.stages {
        let key = stage.key.map(|key| key.short()).unwrap_or_default();
        match &stage.status {
            StageStatus::Cached => out!("{:<22} {key}  cached", stage.slot)?,
            StageStatus::WouldRun { reasons } => {
                any_pending = true;
                out!("{:<22} {key}  would run:", stage.slot)?;
                for reason in reasons {
                    out!("{:<22}   - {reason}", "")?;
                }
            }
            StageStatus::Ran { .. } | StageStatus::Reused => {}
        }
    }
    if any_pending {
        out!("every stage after it runs too, since its inputs come from the stage above")?;
    } else {
        out!("every stage is cached; `irl run` would reuse them all")?;
    }
    Ok(())
}

fn verify(store: &Store) -> Result<()> {
    let (checked, corrupt) = store.verify()?;
    for object in &corrupt {
        eprintln!(
            "corrupt: {} hashes to {}; delete it and rerun the pipeline to rebuild it",
            object.path.display(),
            object.actual
        );
    }
    if !corrupt.is_empty() {
        bail!(
            "{} of {checked} objects do not match their digest",
            corrupt.len()
        );
    }
    out!("{checked} objects verified")?;
    Ok(())
}

fn gc(store: &Store, dry_run: bool, round_datasets: bool) -> Result<()> {
    let mut report = store.gc(dry_run)?;
    if round_datasets {
        let dropped = store.drop_round_datasets(None, dry_run)?;
        report.objects.extend(dropped.objects);
        report.links.extend(dropped.links);
        report.bytes += dropped.bytes;
    }
    let verb = if dry_run { "would delete" } else { "deleted" };
    for path in report
        .objects
        .iter()
        .chain(&report.records)
        .chain(&report.checkpoints)
        .chain(&report.links)
    {
        out!("{verb} {}", path.display())?;
    }
    out!(
        "{verb} {} objects ({:.1} MB), {} records, {} checkpoint folders",
        report.objects.len(),
        report.bytes as f64 / 1e6,
        report.records.len(),
        report.checkpoints.len()
    )?;
    Ok(())
}
