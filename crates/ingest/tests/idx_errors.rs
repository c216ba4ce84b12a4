//! Broken and foreign IDX files: each is rejected with a message that names the file, the values
//! and what to do next.
//!
//! The fake files pass every structural check but are not the original MNIST files, so a file
//! that gets past the structural checks fails on its digest.

mod common;

use common::{
    FakeMnist, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, gzip, image_file, label_file,
};
use irl_ingest::{IdxKind, IngestError, MagicHint};

#[test]
fn gzip_without_gz_suffix_is_decompressed() {
    let fake = FakeMnist::new();
    fake.write(TRAIN_IMAGES, &gzip(&image_file(3, 28, 28)));

    let error = fake.ingest_error();

    // Only a file that decompressed and parsed reaches the digest check.
    assert!(
        matches!(error, IngestError::DigestMismatch { .. }),
        "{error}"
    );
    assert!(error.to_string().contains(TRAIN_IMAGES), "{error}");
}

#[test]
fn uncompressed_file_with_gz_suffix_is_read() {
    let fake = FakeMnist::new();
    std::fs::remove_file(fake.path(TEST_LABELS)).unwrap();
    fake.write(&format!("{TEST_LABELS}.gz"), &label_file(&[7, 2]));

    let error = fake.ingest_error();

    assert!(
        matches!(error, IngestError::DigestMismatch { .. }),
        "{error}"
    );
}

#[test]
fn truncated_gzip_names_file() {
    let fake = FakeMnist::new();
    let compressed = gzip(&image_file(3, 28, 28));
    fake.write(TRAIN_IMAGES, &compressed[..compressed.len() / 2]);

    let error = fake.ingest_error();

    assert!(matches!(error, IngestError::Decompress { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&fake.path(TRAIN_IMAGES).display().to_string()),
        "{message}"
    );
    assert!(message.contains("corrupt or truncated"), "{message}");
}

#[test]
fn corrupt_gzip_names_file() {
    let fake = FakeMnist::new();
    let mut compressed = gzip(&label_file(&[7, 2]));
    // Flip a byte of the CRC-32 trailer, which sits before the final 4-byte length.
    let crc_byte = compressed.len() - 8;
    compressed[crc_byte] ^= 0xff;
    fake.write(TEST_LABELS, &compressed);

    let error = fake.ingest_error();

    assert!(matches!(error, IngestError::Decompress { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains(&fake.path(TEST_LABELS).display().to_string()),
        "{error}"
    );
}

#[test]
fn wrong_magic_reports_found_and_expected() {
    let fake = FakeMnist::new();
    let mut bytes = image_file(3, 28, 28);
    bytes[2] = 0x0d; // 32-bit floats instead of unsigned bytes
    fake.write(TRAIN_IMAGES, &bytes);

    let error = fake.ingest_error();

    let IngestError::WrongMagic {
        found,
        expected,
        hint,
        ..
    } = &error
    else {
        panic!("expected WrongMagic, got {error}");
    };
    assert_eq!(*found, 0x0000_0d03);
    assert_eq!(*expected, 0x0000_0803);
    assert_eq!(*hint, None);
    let message = error.to_string();
    assert!(
        message.contains("0x00000d03 (32-bit floats, 3 dimensions)"),
        "{message}"
    );
    assert!(message.contains("expected 0x00000803"), "{message}");
    assert!(message.contains("not an MNIST IDX file"), "{message}");
}

#[test]
fn html_page_gets_html_hint() {
    let fake = FakeMnist::new();
    fake.write(
        TEST_IMAGES,
        b"\n  <!DOCTYPE html><html><body>403 Forbidden</body></html>",
    );

    let error = fake.ingest_error();

    assert!(
        matches!(
            error,
            IngestError::WrongMagic {
                hint: Some(MagicHint::Html),
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("looks like an HTML page"),
        "{error}"
    );
}

#[test]
fn gzip_compressed_twice_gets_gzip_hint() {
    let fake = FakeMnist::new();
    fake.write(TRAIN_LABELS, &gzip(&gzip(&label_file(&[5, 0, 4]))));

    let error = fake.ingest_error();

    assert!(
        matches!(
            error,
            IngestError::WrongMagic {
                hint: Some(MagicHint::GzipTwice),
                ..
            }
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("gzip magic bytes 1f 8b"), "{message}");
    assert!(message.contains("compressed twice"), "{message}");
}

#[test]
fn swapped_files_get_swap_hint() {
    let fake = FakeMnist::new();
    fake.write(TRAIN_IMAGES, &label_file(&[5, 0, 4]));

    let error = fake.ingest_error();

    assert!(
        matches!(
            error,
            IngestError::WrongMagic {
                hint: Some(MagicHint::OtherKind(IdxKind::Labels)),
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("may be swapped"), "{error}");
}

#[test]
fn truncated_images_report_lengths() {
    let fake = FakeMnist::new();
    let bytes = image_file(3, 28, 28);
    fake.write(TRAIN_IMAGES, &bytes[..bytes.len() - 100]);

    let error = fake.ingest_error();

    let IngestError::PayloadTruncated {
        count,
        expected,
        actual,
        ..
    } = &error
    else {
        panic!("expected PayloadTruncated, got {error}");
    };
    assert_eq!(*count, 3);
    assert_eq!(*expected, 16 + 3 * 784);
    assert_eq!(*actual, 16 + 3 * 784 - 100);
    let message = error.to_string();
    assert!(message.contains("declares 3 images"), "{message}");
    assert!(message.contains("2368 bytes"), "{message}");
    assert!(message.contains("2268 bytes"), "{message}");
}

#[test]
fn truncated_labels_report_lengths() {
    let fake = FakeMnist::new();
    let mut bytes = label_file(&[7, 2]);
    bytes[7] = 200; // the header now declares 200 labels
    fake.write(TEST_LABELS, &bytes);

    let error = fake.ingest_error();

    assert!(
        matches!(
            error,
            IngestError::PayloadTruncated {
                count: 200,
                expected: 208,
                actual: 10,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("declares 200 labels"), "{error}");
}

#[test]
fn trailing_bytes_are_rejected() {
    let fake = FakeMnist::new();
    let mut bytes = label_file(&[7, 2]);
    bytes.extend_from_slice(&[0; 5]);
    fake.write(TEST_LABELS, &bytes);

    let error = fake.ingest_error();

    assert!(
        matches!(
            error,
            IngestError::TrailingBytes {
                count: 2,
                expected: 10,
                actual: 15,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("5 bytes after its last item"),
        "{error}"
    );
}

#[test]
fn header_shorter_than_required_is_rejected() {
    let fake = FakeMnist::new();
    fake.write(TEST_IMAGES, &image_file(2, 28, 28)[..10]);

    let error = fake.ingest_error();

    assert!(
        matches!(
            error,
            IngestError::HeaderTruncated {
                expected: 16,
                actual: 10,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("too short for an IDX header"),
        "{error}"
    );
}

#[test]
fn empty_file_is_rejected() {
    let fake = FakeMnist::new();
    fake.write(TRAIN_LABELS, b"");

    let error = fake.ingest_error();

    assert!(matches!(error, IngestError::EmptyFile { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&fake.path(TRAIN_LABELS).display().to_string()),
        "{message}"
    );
    assert!(message.contains("is empty"), "{message}");
}

#[test]
fn count_mismatch_names_both_files() {
    let fake = FakeMnist::new();
    fake.write(TEST_LABELS, &label_file(&[7, 2, 1]));

    let error = fake.ingest_error();

    assert!(
        matches!(
            error,
            IngestError::CountMismatch {
                images: 2,
                labels: 3,
                ..
            }
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&fake.path(TEST_IMAGES).display().to_string()),
        "{message}"
    );
    assert!(
        message.contains(&fake.path(TEST_LABELS).display().to_string()),
        "{message}"
    );
    assert!(message.contains("contains 2 images"), "{message}");
    assert!(message.contains("contains 3 labels"), "{message}");
}

#[test]
fn label_out_of_range_reports_index_and_value() {
    let fake = FakeMnist::new();
    fake.write(TRAIN_LABELS, &label_file(&[5, 0, 10]));

    let error = fake.ingest_error();

    assert!(
        matches!(
            error,
            IngestError::LabelOutOfRange {
                index: 2,
                value: 10,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("label 10 at index 2"), "{error}");
}

#[test]
fn wrong_image_size_is_rejected() {
    let fake = FakeMnist::new();
    fake.write(TRAIN_IMAGES, &image_file(3, 32, 32));

    let error = fake.ingest_error();

    assert!(
        matches!(
            error,
            IngestError::WrongImageSize {
                rows: 32,
                columns: 32,
                ..
            }
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("contains 32x32 images"), "{message}");
    assert!(message.contains("28x28"), "{message}");
}

#[test]
fn digest_mismatch_reports_both_digests() {
    let fake = FakeMnist::new();

    let error = fake.ingest_error();

    let IngestError::DigestMismatch {
        name,
        expected,
        actual,
        ..
    } = &error
    else {
        panic!("expected DigestMismatch, got {error}");
    };
    assert_eq!(*name, TRAIN_IMAGES);
    assert_eq!(
        *expected,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    );
    let message = error.to_string();
    assert!(
        message.contains("is not the original MNIST file"),
        "{message}"
    );
    assert!(message.contains(expected), "{message}");
    assert!(message.contains(actual.as_str()), "{message}");
}

#[test]
fn structure_is_checked_before_digest() {
    // The train files come first and have wrong digests, but the broken test file is reported.
    let fake = FakeMnist::new();
    fake.write(TEST_IMAGES, &image_file(2, 28, 28)[..100]);

    let error = fake.ingest_error();

    assert!(
        matches!(error, IngestError::PayloadTruncated { .. }),
        "{error}"
    );
}
