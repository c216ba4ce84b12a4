//! Parquet image tables and image folders: decoding, the checks on their content, and the
//! errors that name the file and row.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryArray, Int64Array, RecordBatch, StringArray, StructArray};
use arrow::datatypes::{DataType, Field, Fields, Schema};
use irl_ingest::{SourceKind, Subset, locate_source};

/// Encodes a `height` x `width` gradient as PNG, grayscale or RGB.
fn png(height: u32, width: u32, rgb: bool) -> Vec<u8> {
    let image: image::DynamicImage = if rgb {
        image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([x as u8 * 8, y as u8 * 8, 7])
        })
        .into()
    } else {
        image::GrayImage::from_fn(width, height, |x, y| image::Luma([(x + y) as u8 * 4])).into()
    };
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// Writes a table with an `image` struct column of `images` (None for a null) and labels.
fn write_table(path: &Path, images: &[Option<Vec<u8>>], labels: &[i64]) {
    let bytes = BinaryArray::from_iter(images.iter().map(|image| image.as_deref()));
    let paths = StringArray::from_iter_values((0..images.len()).map(|i| format!("{i}.png")));
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
    let columns: Vec<ArrayRef> = vec![Arc::new(image), Arc::new(Int64Array::from(labels.to_vec()))];
    write_batch(path, RecordBatch::try_new(schema, columns).unwrap());
}

fn write_batch(path: &Path, batch: RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

fn ingest_error(kind: SourceKind, dir: &Path) -> String {
    let result = locate_source(kind, dir).and_then(|files| files.ingest(&Subset::default(), None));
    match result {
        Ok(_) => panic!("ingest of {} succeeded", dir.display()),
        Err(error) => error.to_string(),
    }
}

/// Writes good train and test tables of three 16x16 grayscale images to a new folder.
fn tables() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let images = vec![Some(png(16, 16, false)); 3];
    write_table(&dir.path().join("train-00000.parquet"), &images, &[0, 1, 2]);
    write_table(&dir.path().join("test-00000.parquet"), &images, &[2, 1, 0]);
    dir
}

#[test]
fn table_images_decode_to_unit_range() {
    let dir = tables();
    let files = locate_source(SourceKind::Parquet, dir.path()).unwrap();
    let ingested = files.ingest(&Subset::default(), None).unwrap();
    let train = &ingested.dataset.train;
    assert_eq!(train.image_shape, [1, 16, 16]);
    assert_eq!(train.labels, [0, 1, 2]);
    // Pixel (x, y) has value 4 * (x + y): the pixel at x = 1, y = 0 is 4 / 255.
    assert_eq!(train.images[1], 4.0 / 255.0);
    assert_eq!(ingested.sources.len(), 2);
    assert_eq!(ingested.sources[0].name, "train-00000.parquet");
}

#[test]
fn table_without_image_column_is_rejected() {
    let dir = tables();
    let schema = Arc::new(Schema::new(vec![
        Field::new("picture", DataType::Binary, false),
        Field::new("label", DataType::Int64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(BinaryArray::from_iter_values([png(16, 16, false)])),
        Arc::new(Int64Array::from(vec![1])),
    ];
    let path = dir.path().join("test-00000.parquet");
    write_batch(&path, RecordBatch::try_new(schema, columns).unwrap());
    let message = ingest_error(SourceKind::Parquet, dir.path());
    assert!(
        message.contains("test-00000.parquet has no `image` column"),
        "{message}"
    );
    assert!(message.contains("its columns: picture, label"), "{message}");
}

#[test]
fn undecodable_row_names_file_and_row() {
    let dir = tables();
    let images = [
        Some(png(16, 16, false)),
        Some(b"<html>not found</html>".to_vec()),
    ];
    write_table(&dir.path().join("test-00000.parquet"), &images, &[0, 1]);
    let message = ingest_error(SourceKind::Parquet, dir.path());
    assert!(message.contains("test-00000.parquet row 1"), "{message}");
    assert!(message.contains("not a PNG or JPEG image"), "{message}");
}

#[test]
fn null_image_names_file_and_row() {
    let dir = tables();
    let images = [None, Some(png(16, 16, false))];
    write_table(&dir.path().join("train-00000.parquet"), &images, &[0, 1]);
    let message = ingest_error(SourceKind::Parquet, dir.path());
    assert!(
        message.contains("train-00000.parquet row 0: the image is null"),
        "{message}"
    );
}

#[test]
fn empty_table_is_rejected() {
    let dir = tables();
    write_table(&dir.path().join("test-00000.parquet"), &[], &[]);
    let message = ingest_error(SourceKind::Parquet, dir.path());
    assert!(
        message.contains("test-00000.parquet contains no images"),
        "{message}"
    );
}

#[test]
fn missing_split_table_is_rejected() {
    let dir = tables();
    std::fs::remove_file(dir.path().join("test-00000.parquet")).unwrap();
    let message = ingest_error(SourceKind::Parquet, dir.path());
    assert!(message.contains("has no test*.parquet file"), "{message}");
}

/// Writes `dir/<split>/<class>/<name>` for each (split, class, name, bytes).
fn write_folder(dir: &Path, files: &[(&str, &str, &str, Vec<u8>)]) {
    for (split, class, name, bytes) in files {
        let class_dir = dir.join(split).join(class);
        std::fs::create_dir_all(&class_dir).unwrap();
        std::fs::write(class_dir.join(name), bytes).unwrap();
    }
}

#[test]
fn folder_classes_become_labels() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(
        dir.path(),
        &[
            ("train", "cat", "b.png", png(16, 20, true)),
            ("train", "dog", "a.png", png(16, 20, true)),
            ("test", "cat", "c.png", png(16, 20, true)),
        ],
    );
    let files = locate_source(SourceKind::ImageFolder, dir.path()).unwrap();
    let dataset = files.ingest(&Subset::default(), None).unwrap().dataset;
    assert_eq!(dataset.train.image_shape, [3, 16, 20]);
    // Ordered by file name across classes: a.png (dog = 1), then b.png (cat = 0).
    assert_eq!(dataset.train.labels, [1, 0]);
    assert_eq!(dataset.test.labels, [0]);
    // Channel-first: the first plane is red, 8 * x.
    assert_eq!(dataset.train.images[1], 8.0 / 255.0);
    assert_eq!(dataset.train.images[16 * 20], 0.0);
}

#[test]
fn folder_with_mixed_sizes_is_rejected_unless_resized() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(
        dir.path(),
        &[
            ("train", "0", "a.png", png(16, 16, false)),
            ("train", "1", "b.png", png(20, 18, false)),
            ("test", "0", "c.png", png(16, 16, false)),
        ],
    );
    let message = ingest_error(SourceKind::ImageFolder, dir.path());
    assert!(message.contains("a.png is 16x16 but"), "{message}");
    assert!(message.contains("b.png is 20x18"), "{message}");
    assert!(message.contains("data.resize"), "{message}");

    let files = locate_source(SourceKind::ImageFolder, dir.path()).unwrap();
    let dataset = files
        .ingest(&Subset::default(), Some([16, 16]))
        .unwrap()
        .dataset;
    assert_eq!(dataset.train.image_shape, [1, 16, 16]);
    assert_eq!(dataset.train.len(), 2);
}

#[test]
fn folder_without_test_split_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), &[("train", "0", "a.png", png(16, 16, false))]);
    let message = ingest_error(SourceKind::ImageFolder, dir.path());
    assert!(message.contains("has no test/ folder"), "{message}");
}
