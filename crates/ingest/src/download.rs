//! Fetching a published dataset's four files when no local copy exists.
//!
//! Each file is fetched as `<mirror><name>.gz` from the mirrors in turn. A failed transfer is
//! retried on the same mirror, resuming the partial file with an HTTP range request. A file
//! whose uncompressed SHA-256 is wrong (a corrupt or truncated file, or an HTML error page) is
//! deleted and the next mirror is tried. Only a verified file gets its final name, so a killed
//! download leaves a `.partial` file that the next run resumes, never a file that looks done.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use crate::error::IngestError;
use crate::files::{KnownDataset, MnistFile};

/// Public mirrors of MNIST's four gzip files, as torchvision lists them.
const MNIST_MIRRORS: [&str; 2] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];

/// The public mirror of Fashion-MNIST's four gzip files.
const FASHION_MNIST_MIRRORS: [&str; 1] =
    ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"];

impl KnownDataset {
    /// Base addresses that serve the dataset's four files as `<base><name>.gz`.
    pub fn default_mirrors(self) -> Vec<String> {
        let mirrors: &[&str] = match self {
            KnownDataset::Mnist => &MNIST_MIRRORS,
            KnownDataset::FashionMnist => &FASHION_MNIST_MIRRORS,
        };
        mirrors.iter().map(|mirror| mirror.to_string()).collect()
    }
}

/// How to fetch a dataset.
#[derive(Debug, Clone)]
pub struct DownloadRequest<'a> {
    pub dataset: KnownDataset,
    /// Folder the files are written to.
    pub dir: &'a Path,
    /// Base addresses, tried in order.
    pub mirrors: &'a [String],
    /// Transfers per mirror before the next one is tried.
    pub attempts: u32,
}

/// Fetches every file of the dataset that `dir` lacks, and verifies each one.
pub fn download(request: &DownloadRequest<'_>) -> Result<(), IngestError> {
    fs_err::create_dir_all(request.dir).map_err(|source| IngestError::Read {
        path: request.dir.to_path_buf(),
        source,
    })?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into();
    for file in MnistFile::ALL {
        let name = format!("{}.gz", file.file_name());
        let target = request.dir.join(&name);
        let expected = request.dataset.sha256(file);
        if target.exists() || request.dir.join(file.file_name()).exists() {
            continue;
        }
        let partial = request.dir.join(format!("{name}.partial"));
        let mut failures = Vec::new();
        'mirrors: for mirror in request.mirrors {
            let url = format!("{mirror}{name}");
            for attempt in 1..=request.attempts.max(1) {
                match fetch(&agent, &url, &partial) {
                    Ok(()) => {}
                    Err(problem) => {
                        tracing::warn!(%url, attempt, %problem, "download failed");
                        failures.push(format!("{url} (attempt {attempt}): {problem}"));
                        std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
                        continue;
                    }
                }
                match uncompressed_sha256(&partial) {
                    Ok(actual) if actual == expected => {
                        fs_err::rename(&partial, &target).map_err(|source| IngestError::Read {
                            path: target.clone(),
                            source,
                        })?;
                        tracing::info!(%url, file = %target.display(), "downloaded and verified");
                        break 'mirrors;
                    }
                    Ok(actual) => failures.push(format!(
                        "{url}: the SHA-256 of the uncompressed file is {actual}, expected \
                         {expected}"
                    )),
                    Err(problem) => failures.push(format!("{url}: {problem}")),
                }
                // A complete but wrong file will not improve on this mirror.
                let _ = fs_err::remove_file(&partial);
                continue 'mirrors;
            }
        }
        if !target.exists() {
            return Err(IngestError::DownloadFailed {
                dataset: request.dataset.name(),
                file: name,
                failures,
                dir: request.dir.to_path_buf(),
                expected: expected_files(request.dataset),
            });
        }
    }
    Ok(())
}

/// Lists the four file names with the SHA-256 of their uncompressed bytes, for messages.
pub(crate) fn expected_files(dataset: KnownDataset) -> String {
    MnistFile::ALL
        .iter()
        .map(|file| format!("{} (sha256 {})", file.file_name(), dataset.sha256(*file)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Transfers `url` into `partial`, resuming after the bytes already there.
fn fetch(agent: &ureq::Agent, url: &str, partial: &Path) -> Result<(), String> {
    let have = fs_err::metadata(partial).map(|m| m.len()).unwrap_or(0);
    let mut request = agent.get(url);
    if have > 0 {
        request = request.header("Range", format!("bytes={have}-"));
    }
    let response = request.call().map_err(|error| error.to_string())?;
    let status = response.status().as_u16();
    let append = match status {
        206 => true,
        200 => false,
        // The partial file already contains the whole file.
        416 if have > 0 => return Ok(()),
        _ => return Err(format!("the server answered HTTP {status}")),
    };
    let length = response
        .headers()
        .get("content-length")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());

    let mut file = fs_err::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(partial)
        .map_err(|error| error.to_string())?;
    let bar = indicatif::ProgressBar::new(length.unwrap_or(0));
    bar.set_message(url.to_string());

    let mut reader = response.into_body().into_reader();
    let mut buffer = vec![0; 1 << 16];
    let mut received = 0u64;
    loop {
        let read = reader
            .read(&mut buffer)
            .map_err(|error| error.to_string())?;
        if read == 0 {
            break;
        }
        file.write_all(&buffer[..read])
            .map_err(|error| error.to_string())?;
        received += read as u64;
        bar.inc(read as u64);
    }
    bar.finish_and_clear();

    file.sync_all().map_err(|error| error.to_string())?;
    if let Some(length) = length
        && received != length
    {
        return Err(format!("received {received} of {length} bytes"));
    }
    Ok(())
}

/// Decompresses the gzip file at `path` and returns the SHA-256 of its bytes.
fn uncompressed_sha256(path: &Path) -> Result<String, String> {
    let bytes = fs_err::read(path).map_err(|error| error.to_string())?;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        let text = bytes.trim_ascii_start();
        let hint = if text.starts_with(b"<") {
            " (it starts with '<', like an HTML error page)"
        } else {
            ""
        };
        return Err(format!("the file is not gzip-compressed{hint}"));
    }
    let mut hasher = Sha256::new();
    let mut decoder = MultiGzDecoder::new(bytes.as_slice());
    std::io::copy(&mut decoder, &mut hasher)
        .map_err(|error| format!("the gzip stream is corrupt or truncated: {error}"))?;
    Ok(hex::encode(hasher.finalize()))
}
