//! IDX files beyond MNIST: Fashion-MNIST with its own digests, and any IDX files of another
//! image size and class count.

mod common;

use common::{FakeMnist, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, image_file};
use common::{gzip, label_file};
use irl_ingest::{IdxFormat, IngestError, KnownDataset, Subset, ingest_idx, locate};

fn fashion_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/fashion-mnist")
}

/// Four IDX files of 20x24 images with labels 0 to 2.
fn small_images() -> FakeMnist {
    let fake = FakeMnist::new();
    fake.write(TRAIN_IMAGES, &image_file(4, 20, 24));
    fake.write(TRAIN_LABELS, &label_file(&[0, 2, 1, 2]));
    fake.write(TEST_IMAGES, &gzip(&image_file(2, 20, 24)));
    fake.write(TEST_LABELS, &label_file(&[1, 0]));
    fake
}

#[test]
fn fashion_mnist_is_read_and_checked() {
    let files = locate(&fashion_dir()).unwrap();
    let format = IdxFormat::Known(KnownDataset::FashionMnist);
    let ingested = ingest_idx(&files, format, &Subset::default()).unwrap();
    let dataset = &ingested.dataset;
    assert_eq!(dataset.train.len(), 60_000);
    assert_eq!(dataset.test.len(), 10_000);
    assert_eq!(dataset.train.image_shape, [1, 28, 28]);
    // Fashion-MNIST has 6,000 training images of each of its 10 classes.
    let shirts = dataset
        .train
        .labels
        .iter()
        .filter(|label| **label == 6)
        .count();
    assert_eq!(shirts, 6_000);

    // The MNIST digests do not fit these files.
    let error = ingest_idx(
        &files,
        IdxFormat::Known(KnownDataset::Mnist),
        &Subset::default(),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("is not the original MNIST file"),
        "{message}"
    );
}

#[test]
fn any_idx_files_keep_their_image_size() {
    let fake = small_images();
    let format = IdxFormat::Any { classes: 3 };
    let ingested = ingest_idx(&fake.files(), format, &Subset::default()).unwrap();
    let dataset = &ingested.dataset;
    assert_eq!(dataset.train.image_shape, [1, 20, 24]);
    assert_eq!(dataset.train.images.len(), 4 * 20 * 24);
    assert_eq!(dataset.test.labels, [1, 0]);
    // Pixel values count up from 0 in the generated files.
    assert_eq!(dataset.train.images[1], 1.0 / 255.0);
}

#[test]
fn any_idx_label_above_classes_is_rejected() {
    let fake = small_images();
    let error = ingest_idx(
        &fake.files(),
        IdxFormat::Any { classes: 2 },
        &Subset::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            IngestError::LabelOutOfRange {
                value: 2,
                index: 1,
                classes: 2,
                ..
            }
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("labels of this dataset are 0 to 1"),
        "{message}"
    );
    assert!(message.contains("data.classes"), "{message}");
}

#[test]
fn split_image_sizes_must_match() {
    let fake = small_images();
    fake.write(TEST_IMAGES, &image_file(2, 24, 20));
    let error = ingest_idx(
        &fake.files(),
        IdxFormat::Any { classes: 3 },
        &Subset::default(),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("are 20x24 but test images"), "{message}");
    assert!(message.contains("are 24x20"), "{message}");
}

#[test]
fn known_dataset_keeps_its_image_size() {
    let fake = small_images();
    let format = IdxFormat::Known(KnownDataset::FashionMnist);
    let error = ingest_idx(&fake.files(), format, &Subset::default()).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("contains 20x24 images"), "{message}");
    assert!(message.contains("set data.source to idx"), "{message}");
}

#[test]
fn card_counts_classes_and_names_sources() {
    use arrow::array::{Array, BooleanArray, Float64Array, Int64Array, StringArray, UInt64Array};

    let fake = small_images();
    let ingested = ingest_idx(
        &fake.files(),
        IdxFormat::Any { classes: 3 },
        &Subset::default(),
    )
    .unwrap();
    let card = irl_ingest::card_table(&ingested.dataset).unwrap();
    let batches = irl_store::table::from_parquet("card", card).unwrap();
    let batch = &batches[0];
    let column = |name: &str| batch.column_by_name(name).unwrap().clone();
    let split = column("split");
    let split = split.as_any().downcast_ref::<StringArray>().unwrap();
    let label = column("label");
    let label = label.as_any().downcast_ref::<Int64Array>().unwrap();
    let images = column("images");
    let images = images.as_any().downcast_ref::<UInt64Array>().unwrap();
    let rows: Vec<(String, i64, u64)> = (0..batch.num_rows())
        .map(|row| {
            (
                split.value(row).to_string(),
                label.value(row),
                images.value(row),
            )
        })
        .collect();
    let expected = [
        ("train", 0, 1),
        ("train", 1, 1),
        ("train", 2, 2),
        ("test", 0, 1),
        ("test", 1, 1),
    ];
    let expected: Vec<(String, i64, u64)> = expected
        .iter()
        .map(|(s, l, c)| (s.to_string(), *l, *c))
        .collect();
    assert_eq!(rows, expected);
    let width = column("width");
    assert_eq!(
        width
            .as_any()
            .downcast_ref::<UInt64Array>()
            .unwrap()
            .value(0),
        24
    );
    let max = column("value_max");
    // The generated pixels count up modulo 256, so the training images reach 255 / 255.
    assert_eq!(
        max.as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .value(0),
        1.0
    );

    let sources = irl_ingest::sources_table(&ingested.sources).unwrap();
    let batches = irl_store::table::from_parquet("sources", sources).unwrap();
    let name = batches[0].column_by_name("name").unwrap().clone();
    let name = name.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(name.value(0), TRAIN_IMAGES);
    assert_eq!(name.value(2), TEST_IMAGES);
    let verified = batches[0].column_by_name("verified").unwrap().clone();
    let verified = verified.as_any().downcast_ref::<BooleanArray>().unwrap();
    assert!(
        !verified.value(0),
        "files of data.source idx have no published digest"
    );
    assert_eq!(ingested.sources[1].sha256.len(), 64);
}
