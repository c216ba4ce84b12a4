//! The downloader against a local HTTP server on 127.0.0.1 that serves the real MNIST files, a
//! truncated file, a corrupt file and an HTML error page named `.gz`.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use irl_ingest::{DownloadRequest, KnownDataset, Subset, download, ingest, locate};

/// Requests the server received: (path, Range header).
type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// Serves `/<kind>/<name>` on a free loopback port; returns the base address and the log.
fn serve() -> (String, Log) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let address = format!("http://{}/", server.server_addr());
    let log: Log = Arc::default();
    let requests = log.clone();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let path = request.url().to_string();
            let range = request
                .headers()
                .iter()
                .find(|header| header.field.equiv("Range"))
                .map(|header| header.value.to_string());
            requests.lock().unwrap().push((path.clone(), range.clone()));
            let (kind, name) = path.trim_start_matches('/').split_once('/').unwrap();
            let real = std::fs::read(Path::new(common::MNIST_DIR).join(name)).unwrap_or_default();
            let body = match kind {
                "good" => real,
                "truncated" => real[..real.len() / 2].to_vec(),
                "corrupt" => {
                    let mut bytes = real;
                    let middle = bytes.len() / 2;
                    for byte in &mut bytes[middle..middle + 64] {
                        *byte ^= 0x5a;
                    }
                    bytes
                }
                _ => b"<!DOCTYPE html><html><body>404 Not Found</body></html>".to_vec(),
            };
            let offset = range
                .as_deref()
                .and_then(|range| range.strip_prefix("bytes="))
                .and_then(|range| range.trim_end_matches('-').parse::<usize>().ok());
            let response = match offset {
                Some(offset) if kind == "good" => {
                    tiny_http::Response::from_data(body[offset..].to_vec()).with_status_code(206)
                }
                _ => tiny_http::Response::from_data(body),
            };
            let _ = request.respond(response);
        }
    });
    (address, log)
}

fn request<'a>(dir: &'a Path, mirrors: &'a [String]) -> DownloadRequest<'a> {
    DownloadRequest {
        dataset: KnownDataset::Mnist,
        dir,
        mirrors,
        attempts: 2,
    }
}

#[test]
fn bad_mirrors_are_skipped_for_a_good_one() {
    let (address, log) = serve();
    let mirrors: Vec<String> = ["html", "truncated", "corrupt", "good"]
        .iter()
        .map(|kind| format!("{address}{kind}/"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    download(&request(dir.path(), &mirrors)).unwrap();

    let dataset = ingest(&locate(dir.path()).unwrap(), &Subset::default()).unwrap();
    assert_eq!(dataset.train.len(), 60_000);
    let requests = log.lock().unwrap().clone();
    // Each file was asked of every mirror in turn, once each, since the bad files arrived whole.
    assert_eq!(requests.len(), 4 * 4, "{requests:?}");
    assert!(requests[0].0.starts_with("/html/"), "{requests:?}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A second call finds every file and sends no request.
    download(&request(dir.path(), &mirrors)).unwrap();
    assert_eq!(log.lock().unwrap().len(), requests.len());
}

#[test]
fn partial_file_is_resumed_with_a_range_request() {
    let (address, log) = serve();
    let mirrors = vec![format!("{address}good/")];
    let dir = tempfile::tempdir().unwrap();
    let real =
        std::fs::read(Path::new(common::MNIST_DIR).join("train-labels-idx1-ubyte.gz")).unwrap();
    std::fs::write(
        dir.path().join("train-labels-idx1-ubyte.gz.partial"),
        &real[..1000],
    )
    .unwrap();

    download(&request(dir.path(), &mirrors)).unwrap();

    let log = log.lock().unwrap();
    let labels = log
        .iter()
        .find(|(path, _)| path.ends_with("train-labels-idx1-ubyte.gz"))
        .unwrap();
    assert_eq!(labels.1.as_deref(), Some("bytes=1000-"));
    let stored = std::fs::read(dir.path().join("train-labels-idx1-ubyte.gz")).unwrap();
    assert_eq!(stored, real);
}

#[test]
fn failed_checksums_list_every_reason() {
    let (address, _log) = serve();
    let mirrors: Vec<String> = ["html", "truncated", "corrupt"]
        .iter()
        .map(|kind| format!("{address}{kind}/"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let message = download(&request(dir.path(), &mirrors))
        .unwrap_err()
        .to_string();

    assert!(
        message.contains("failed to download MNIST file train-images-idx3-ubyte.gz"),
        "{message}"
    );
    assert!(
        message.contains(
            "html/train-images-idx3-ubyte.gz: the file is not gzip-compressed (it starts with '<'"
        ),
        "{message}"
    );
    assert!(
        message.contains(
            "truncated/train-images-idx3-ubyte.gz: the gzip stream is corrupt or truncated"
        ),
        "{message}"
    );
    assert!(
        message.contains("corrupt/train-images-idx3-ubyte.gz: "),
        "{message}"
    );
    // Nothing that looks finished is left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn offline_error_lists_files_digests_and_folder() {
    // Port 1 on loopback has no server, so every connection is refused.
    let mirrors = vec!["http://127.0.0.1:1/".to_string()];
    let dir = tempfile::tempdir().unwrap();
    let message = download(&request(dir.path(), &mirrors))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("http://127.0.0.1:1/train-images-idx3-ubyte.gz (attempt 2)"),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "put the four files (gzip or raw) in {}",
            dir.path().display()
        )),
        "{message}"
    );
    assert!(message.contains("t10k-labels-idx1-ubyte (sha256 ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2)"), "{message}");
}
