//! BENCHMARKS.md from the JSON that `make bench` collects in one folder.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::de::DeserializeOwned;

use crate::results::{CachedRerun, RoundResult, Rounds, Throughput, median};

const MIB: f64 = 1024.0 * 1024.0;

/// Renders the report from `dir`: pytorch.jsonl, flex.jsonl, tch.jsonl (optional),
/// rounds-*.json, cached-rerun.json and commands.txt (each optional but the first two).
pub fn markdown(dir: &Path) -> Result<String> {
    let pytorch: Vec<Throughput> = json_lines(
        &dir.join("pytorch.jsonl"),
        "run benchmarks/pytorch_reference.py into it (make bench does)",
    )?;
    if pytorch.is_empty() {
        bail!(
            "{} has no measurements; run benchmarks/pytorch_reference.py into it (make bench \
             does)",
            dir.join("pytorch.jsonl").display()
        );
    }
    let flex: Vec<Throughput> = json_lines(
        &dir.join("flex.jsonl"),
        "run `irl-bench throughput --backend flex` into it (make bench does)",
    )?;
    let tch_path = dir.join("tch.jsonl");
    let tch: Vec<Throughput> = if tch_path.exists() {
        json_lines(&tch_path, "")?
    } else {
        Vec::new()
    };
    let mut rounds = Vec::new();
    for entry in fs_err::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("rounds-") && name.ends_with(".json") {
            rounds.push(json_file::<Rounds>(&path)?);
        }
    }
    rounds.sort_by_key(|run| run.rounds.len());
    let cached_path = dir.join("cached-rerun.json");
    let cached = cached_path
        .exists()
        .then(|| json_file::<CachedRerun>(&cached_path))
        .transpose()?;
    let commands = fs_err::read_to_string(dir.join("commands.txt")).ok();

    let mut out = String::new();
    writeln!(out, "# Benchmarks\n")?;
    writeln!(
        out,
        "Written by `make bench`; every figure below was measured on one machine in one sitting, \
         PyTorch included. Rerun `make bench` to measure your own machine.\n"
    )?;
    machine(&mut out, &pytorch)?;
    throughput(&mut out, &pytorch, &flex, &tch)?;
    for run in &rounds {
        round_table(&mut out, run)?;
    }
    if let Some(cached) = &cached {
        writeln!(out, "## Fully cached rerun\n")?;
        writeln!(
            out,
            "`irl run` of the {}-round pipeline `{}` ({}) on a store that holds every stage: \
             median {:.2} s over {} runs (fastest {:.2} s, slowest {:.2} s), timed from the start \
             of the `irl` process to its exit.\n",
            cached.rounds,
            cached.pipeline,
            overrides_text(&cached.overrides),
            median(&cached.seconds),
            cached.seconds.len(),
            cached.seconds.iter().copied().fold(f64::INFINITY, f64::min),
            cached.seconds.iter().copied().fold(0.0, f64::max),
        )?;
    }
    if let Some(commands) = commands {
        writeln!(out, "## Commands\n")?;
        writeln!(out, "```sh\n{}\n```", commands.trim_end())?;
    }
    Ok(out)
}

fn machine(out: &mut String, pytorch: &[Throughput]) -> Result<()> {
    let cpuinfo = fs_err::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown".to_string(), |(_, name)| name.trim().to_string());
    let memory = fs_err::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
        })
        .map_or("unknown".to_string(), |kib| {
            format!("{:.1} GiB", kib / 1024.0 / 1024.0)
        });
    let kernel = fs_err::read_to_string("/proc/sys/kernel/osrelease")
        .map_or("unknown".to_string(), |release| release.trim().to_string());
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    let burn = locked_version("burn").unwrap_or_else(|| "unknown".to_string());
    let torch = pytorch
        .first()
        .and_then(|line| line.version.clone())
        .unwrap_or_else(|| "unknown".to_string());
    let threads = std::thread::available_parallelism().map_or(1, usize::from);

    writeln!(out, "## Machine\n")?;
    writeln!(
        out,
        "Read when the report was written, on the machine that took the measurements.\n"
    )?;
    writeln!(out, "| | |\n|---|---|")?;
    writeln!(out, "| CPU | {cpu}, {threads} hardware threads |")?;
    writeln!(out, "| Memory | {memory} |")?;
    writeln!(out, "| Linux | {kernel} |")?;
    writeln!(out, "| Rust | {rustc} |")?;
    writeln!(
        out,
        "| burn | {burn} (burn-flex; burn-tch on LibTorch from PyTorch) |"
    )?;
    writeln!(out, "| PyTorch | {torch}, CPU device |\n")?;
    Ok(())
}

fn throughput(
    out: &mut String,
    pytorch: &[Throughput],
    flex: &[Throughput],
    tch: &[Throughput],
) -> Result<()> {
    let first = &pytorch[0];
    let window = first
        .window_seconds
        .map_or("timed windows".to_string(), |seconds| {
            format!("windows of at least {seconds} s")
        });
    writeln!(out, "## Training throughput\n")?;
    writeln!(
        out,
        "Images per second through one training update (forward pass, loss, backward pass, Adam \
         step) of pythae's MNIST autoencoder with latent size 16, on seeded uniform 28x28 \
         images, on the CPU with {} threads. Each figure is the median of {} {window} after \
         warm-up updates, with the slowest and fastest window in brackets. A window holds \
         whole updates, so at width 1 it may hold only one. A ratio is that backend's median \
         over PyTorch's. burn-flex and burn-tch run the same update as `irl run`, including \
         its check that the loss and every gradient are finite.\n",
        first.threads,
        first.windows.len()
    )?;

    let with_tch = !tch.is_empty();
    write!(
        out,
        "| width | channels | batch | PyTorch | burn-flex | flex / PyTorch |"
    )?;
    if with_tch {
        // A GPU run of the tch measurement is named in its column; PyTorch's is always the CPU.
        match tch
            .iter()
            .find(|line| !line.device.is_empty() && line.device != "cpu")
        {
            Some(line) => write!(out, " burn-tch on {} | tch / PyTorch |", line.device)?,
            None => write!(out, " burn-tch | tch / PyTorch |")?,
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "|---|---|---|---|---|---|{}",
        if with_tch { "---|---|" } else { "" }
    )?;

    for reference in pytorch {
        let find = |lines: &[Throughput]| {
            lines
                .iter()
                .find(|line| {
                    line.width == reference.width && line.batch_size == reference.batch_size
                })
                .cloned()
        };
        let base = median(&reference.rates());
        let channels = irl_models::ConvAutoencoderConfig {
            width: reference.width,
            latent_dim: 16,
        }
        .channels()
        .map(|c| c.to_string())
        .join("-");
        write!(
            out,
            "| {} | {channels} | {} | {} |",
            reference.width,
            reference.batch_size,
            rate_text(&reference.rates())
        )?;
        let mut columns = vec![find(flex)];
        if with_tch {
            columns.push(find(tch));
        }
        for measured in columns {
            match measured {
                Some(line) => write!(
                    out,
                    " {} | {:.2}x |",
                    rate_text(&line.rates()),
                    median(&line.rates()) / base
                )?,
                None => write!(out, " - | - |")?,
            }
        }
        writeln!(out)?;
    }
    writeln!(out)?;
    Ok(())
}

fn rate_text(rates: &[f64]) -> String {
    let low = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let high = rates.iter().copied().fold(0.0, f64::max);
    format!("{:.0} ({:.0}-{:.0})", median(rates), low, high)
}

fn round_table(out: &mut String, run: &Rounds) -> Result<()> {
    let trained: Vec<_> = run.rounds.iter().filter(|round| round.round > 0).collect();
    writeln!(
        out,
        "## Time and memory per round: `{}`, {} rounds ({})\n",
        run.pipeline,
        trained.len(),
        overrides_text(&run.overrides)
    )?;
    writeln!(
        out,
        "One process on burn-flex. A round runs from the start of its training to the start of \
         the next round's, so it includes reconstruction and evaluation; round 0 is ingest and \
         the reference classifier. Peak resident memory is sampled every 20 ms.\n"
    )?;
    writeln!(
        out,
        "| round | seconds | peak resident MiB |\n|---|---|---|"
    )?;
    for round in &run.rounds {
        writeln!(
            out,
            "| {} | {:.1} | {:.0} |",
            round.round,
            round.seconds,
            round.peak_resident_bytes as f64 / MIB
        )?;
    }
    writeln!(out)?;

    if trained.len() >= 2 {
        let seconds: Vec<f64> = trained.iter().map(|round| round.seconds).collect();
        writeln!(
            out,
            "Median time of rounds 1 to {}: {:.1} s.",
            trained.len(),
            median(&seconds)
        )?;
    }
    // Round 1 allocates the buffers every later round reuses, so growth is judged from round 2,
    // and by halves, because single rounds vary by tens of MiB.
    if trained.len() >= 4 {
        let later = &trained[1..];
        let (early, late) = later.split_at(later.len() / 2);
        let highest = |rounds: &[&RoundResult]| {
            rounds
                .iter()
                .map(|round| round.peak_resident_bytes)
                .max()
                .unwrap_or(0) as f64
                / MIB
        };
        writeln!(
            out,
            "Highest peak resident memory in rounds {} to {}: {:.0} MiB; in rounds {} to {}: \
             {:.0} MiB.",
            early[0].round,
            early[early.len() - 1].round,
            highest(early),
            late[0].round,
            late[late.len() - 1].round,
            highest(late)
        )?;
    }
    if let Some(peak) = run.process_peak_resident_bytes {
        writeln!(
            out,
            "Peak resident memory of the whole process: {:.0} MiB.",
            peak as f64 / MIB
        )?;
    }
    writeln!(out)?;
    Ok(())
}

fn overrides_text(overrides: &[String]) -> String {
    if overrides.is_empty() {
        "as committed".to_string()
    } else {
        overrides
            .iter()
            .map(|value| format!("`{value}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Version of `package` in Cargo.lock in the working folder.
fn locked_version(package: &str) -> Option<String> {
    let lock = fs_err::read_to_string("Cargo.lock").ok()?;
    let needle = format!("name = \"{package}\"\nversion = \"");
    let start = lock.find(&needle)? + needle.len();
    let rest = &lock[start..];
    Some(rest[..rest.find('"')?].to_string())
}

/// Reads one JSON object per line. `fix` is the advice in the error for a missing file.
fn json_lines<T: DeserializeOwned>(path: &Path, fix: &str) -> Result<Vec<T>> {
    let text = fs_err::read_to_string(path)
        .with_context(|| format!("{} is missing; {fix}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).with_context(|| {
                format!("invalid JSON on line {} of {}", index + 1, path.display())
            })
        })
        .collect()
}

fn json_file<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs_err::read_to_string(path)?;
    serde_json::from_str(&text).with_context(|| format!("failed to read {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throughput_line(framework: &str, width: f64, batch_size: usize, seconds: f64) -> String {
        format!(
            r#"{{"framework": "{framework}", "threads": 2, "width": {width}, "batch_size": {batch_size}, "window_seconds": 1.5, "windows": [{{"steps": 10, "seconds": {seconds}}}, {{"steps": 10, "seconds": {seconds}}}, {{"steps": 5, "seconds": {seconds}}}]}}"#
        )
    }

    #[test]
    fn report_gives_ratios_to_pytorch() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: String| fs_err::write(dir.path().join(name), text).unwrap();
        // PyTorch: 10 steps of 64 images in 0.5 s is 1280 images per second.
        write("pytorch.jsonl", throughput_line("pytorch", 0.125, 64, 0.5));
        write("flex.jsonl", throughput_line("burn-flex", 0.125, 64, 1.0));
        write("tch.jsonl", throughput_line("burn-tch", 0.125, 64, 0.4));
        write(
            "rounds-subset.json",
            r#"{"pipeline": "mnist-ae", "overrides": ["data.train_limit=2000"],
                "rounds": [
                  {"round": 0, "seconds": 4.0, "peak_resident_bytes": 104857600},
                  {"round": 1, "seconds": 2.0, "peak_resident_bytes": 209715200},
                  {"round": 2, "seconds": 3.0, "peak_resident_bytes": 314572800},
                  {"round": 3, "seconds": 5.0, "peak_resident_bytes": 325058560},
                  {"round": 4, "seconds": 4.0, "peak_resident_bytes": 304087040}],
                "process_peak_resident_bytes": 325058560}"#
                .into(),
        );
        write(
            "cached-rerun.json",
            r#"{"pipeline": "mnist-ae", "overrides": [], "rounds": 30,
                "seconds": [0.5, 0.3, 0.4]}"#
                .into(),
        );

        let markdown = markdown(dir.path()).unwrap();
        assert!(
            markdown.contains("| 0.125 | 16-32-64-128 | 64 | 1280 (640-1280) | 640 (320-640) | 0.50x | 1600 (800-1600) | 1.25x |"),
            "{markdown}"
        );
        assert!(markdown.contains("| 3 | 5.0 | 310 |"), "{markdown}");
        assert!(markdown.contains("with 2 threads"), "{markdown}");
        assert!(markdown.contains("windows of at least 1.5 s"), "{markdown}");
        assert!(
            markdown.contains("Median time of rounds 1 to 4: 3.5 s."),
            "{markdown}"
        );
        assert!(
            markdown.contains("in rounds 2 to 2: 300 MiB; in rounds 3 to 4: 310 MiB."),
            "{markdown}"
        );
        assert!(markdown.contains("median 0.40 s over 3 runs"), "{markdown}");
    }

    #[test]
    fn report_needs_pytorch_results() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(
            dir.path().join("flex.jsonl"),
            throughput_line("burn-flex", 1.0, 64, 1.0),
        )
        .unwrap();
        let error = format!("{:#}", markdown(dir.path()).unwrap_err());
        assert!(error.contains("pytorch.jsonl is missing"), "{error}");
        assert!(error.contains("pytorch_reference.py"), "{error}");

        fs_err::write(dir.path().join("pytorch.jsonl"), "").unwrap();
        let error = markdown(dir.path()).unwrap_err().to_string();
        assert!(error.contains("has no measurements"), "{error}");
    }
}
