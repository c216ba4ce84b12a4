//! Rounds on data other than MNIST: Fashion-MNIST, and IDX files of another image size.

mod common;

use std::path::Path;

use common::{check, irl, pipeline_named};

/// Writes an IDX image file of `count` images of `rows` x `columns` and its label file, with
/// images that are bright rectangles on a dark background and labels 0 to 2.
fn write_split(dir: &Path, images: &str, labels: &str, count: u32, rows: u32, columns: u32) {
    let mut image_bytes = Vec::new();
    for value in [0x0000_0803, count, rows, columns] {
        image_bytes.extend_from_slice(&u32::to_be_bytes(value));
    }
    let mut label_bytes = Vec::new();
    for value in [0x0000_0801, count] {
        label_bytes.extend_from_slice(&u32::to_be_bytes(value));
    }
    for index in 0..count {
        let top = index % (rows / 2);
        for row in 0..rows {
            for column in 0..columns {
                let inside = row >= top && row < top + rows / 3 && column > columns / 4;
                image_bytes.push(if inside { 230 } else { 10 });
            }
        }
        label_bytes.push((index % 3) as u8);
    }
    std::fs::write(dir.join(images), image_bytes).unwrap();
    std::fs::write(dir.join(labels), label_bytes).unwrap();
}

#[test]
fn idx_files_of_another_size_run_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    write_split(
        &data,
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        96,
        20,
        24,
    );
    write_split(
        &data,
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        32,
        20,
        24,
    );

    let store = dir.path().join("store");
    for pipeline in ["mnist-ae.yaml", "mnist-vae.yaml"] {
        let mut run = irl(&store);
        run.arg("run")
            .arg(pipeline_named(pipeline))
            .arg("--data-dir")
            .arg(&data);
        for text in [
            "data.source=idx",
            "data.classes=3",
            "iterate.max_iterations=2",
            "report.snapshot_rounds=[1]",
        ] {
            run.arg("--set").arg(text);
        }
        check(run);
    }
    let round = Path::new("runs/mnist-vae/iter-02");
    let mut inspect = irl(&store);
    inspect
        .arg("inspect")
        .arg(store.join(round).join("dataset.safetensors"));
    let stdout = String::from_utf8(check(inspect).stdout).unwrap();
    assert!(stdout.contains("[96, 1, 20, 24]"), "{stdout}");
    let mut inspect = irl(&store);
    inspect
        .arg("inspect")
        .arg(store.join(round).join("prior-samples.safetensors"));
    let stdout = String::from_utf8(check(inspect).stdout).unwrap();
    assert!(stdout.contains("[25, 1, 20, 24]"), "{stdout}");
    assert!(
        store
            .join("runs/mnist-ae/report/grid-test-r01.png")
            .exists()
    );
}

#[test]
fn fashion_mnist_runs_a_round() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let fashion =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/fashion-mnist");
    let mut run = irl(&store);
    run.arg("run")
        .arg(pipeline_named("fashion-ae.yaml"))
        .arg("--data-dir")
        .arg(&fashion);
    for text in common::small(1, 1, 500) {
        run.arg("--set").arg(text);
    }
    let output = check(run);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("run fashion-ae: 1 round done"), "{stderr}");

    // MNIST's files are not Fashion-MNIST's: the digest check names the dataset.
    let mut wrong = irl(&store);
    wrong
        .arg("run")
        .arg(pipeline_named("fashion-ae.yaml"))
        .arg("--data-dir")
        .arg(common::mnist_dir());
    let output = wrong.output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not the original Fashion-MNIST file"),
        "{stderr}"
    );
}

/// Reads the first `train` and `test` MNIST images from the IDX files.
fn mnist_head(train: usize, test: usize) -> irl_store::Dataset {
    let files = irl_ingest::locate(&common::mnist_dir()).unwrap();
    let subset = irl_ingest::Subset {
        train_limit: Some(train),
        test_limit: Some(test),
        ..irl_ingest::Subset::default()
    };
    irl_ingest::ingest(&files, &subset).unwrap()
}

/// Encodes image `index` of `split` as a grayscale PNG.
fn png(split: &irl_store::Split, index: usize) -> Vec<u8> {
    let [_, height, width] = split.image_shape;
    let pixels: Vec<u8> = split
        .image(index)
        .iter()
        .map(|value| (value * 255.0).round() as u8)
        .collect();
    let image = image::GrayImage::from_raw(width as u32, height as u32, pixels).unwrap();
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// Writes `split` as a Parquet table in the Hugging Face datasets layout.
fn write_table(path: &Path, split: &irl_store::Split) {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, BinaryArray, Int64Array, RecordBatch, StringArray, StructArray};
    use arrow::datatypes::{DataType, Field, Fields, Schema};

    let images: Vec<Vec<u8>> = (0..split.len()).map(|index| png(split, index)).collect();
    let bytes = BinaryArray::from_iter_values(images.iter());
    let paths = StringArray::from_iter_values((0..split.len()).map(|index| format!("{index}.png")));
    let fields = Fields::from(vec![
        Field::new("bytes", DataType::Binary, true),
        Field::new("path", DataType::Utf8, true),
    ]);
    let image = StructArray::new(
        fields.clone(),
        vec![Arc::new(bytes) as ArrayRef, Arc::new(paths)],
        None,
    );
    let schema = Arc::new(Schema::new(vec![
        Field::new("image", DataType::Struct(fields), true),
        Field::new("label", DataType::Int64, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(image),
        Arc::new(Int64Array::from(split.labels.clone())),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// Writes `split` as `dir/<label>/<index>.png`, the index zero-padded.
fn write_folder(dir: &Path, split: &irl_store::Split) {
    for index in 0..split.len() {
        let class = dir.join(split.labels[index].to_string());
        std::fs::create_dir_all(&class).unwrap();
        std::fs::write(class.join(format!("{index:05}.png")), png(split, index)).unwrap();
    }
}

/// Digest of the round-0 dataset object of `run`.
fn round_zero_digest(store: &Path, run: &str) -> String {
    let link = store.join(format!("runs/{run}/iter-00/dataset.safetensors"));
    std::fs::read_link(&link)
        .unwrap()
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn idx_parquet_and_folder_give_one_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let head = mnist_head(200, 60);
    let tables = dir.path().join("tables");
    std::fs::create_dir(&tables).unwrap();
    write_table(&tables.join("train-00000-of-00001.parquet"), &head.train);
    write_table(&tables.join("test-00000-of-00001.parquet"), &head.test);
    let folder = dir.path().join("folder");
    write_folder(&folder.join("train"), &head.train);
    write_folder(&folder.join("test"), &head.test);

    let store = dir.path().join("store");
    let run = |name: &str, data: &Path, source: &[&str]| {
        let mut command = irl(&store);
        command
            .arg("run")
            .arg(common::pipeline_file())
            .arg("--data-dir")
            .arg(data);
        for text in [
            format!("name={name}"),
            "iterate.max_iterations=1".to_string(),
            "data.train_limit=200".to_string(),
            "data.test_limit=60".to_string(),
        ]
        .iter()
        .map(String::as_str)
        .chain(source.iter().copied())
        {
            command.arg("--set").arg(text);
        }
        check(command)
    };
    run("from-idx", &common::mnist_dir(), &[]);
    let output = run("from-parquet", &tables, &["data.source=parquet"]);
    // The round-0 dataset is the same object, so the first round's training is reused.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("reused slot=iter-01/train"), "{stderr}");
    run("from-folder", &folder, &["data.source=image_folder"]);

    let idx = round_zero_digest(&store, "from-idx");
    assert_eq!(round_zero_digest(&store, "from-parquet"), idx);
    assert_eq!(round_zero_digest(&store, "from-folder"), idx);
}

#[test]
fn offline_run_without_data_names_the_download_folder() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut run = irl(&store);
    run.env_remove("IRL_DATA_DIR")
        .arg("run")
        .arg(common::pipeline_file())
        .arg("--set")
        .arg("data.mirrors=[\"http://127.0.0.1:1/\"]");
    let output = run.output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let folder = store.join("downloads/mnist");
    assert!(
        stderr.contains(&format!("in {} yourself", folder.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("train-labels-idx1-ubyte (sha256 65a50cbb"),
        "{stderr}"
    );
    // Nothing was recorded: the next run starts the download again.
    assert!(
        !store.join("records").exists()
            || std::fs::read_dir(store.join("records"))
                .unwrap()
                .next()
                .is_none()
    );
}
