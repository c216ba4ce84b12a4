//! Reading and checking the IDX files of MNIST.
//!
//! IDX is the format MNIST is distributed in. A file starts with a magic number whose third byte
//! is the data type (0x08 for unsigned bytes) and whose fourth is the number of dimensions. One
//! big-endian u32 size per dimension follows, then the values in row-major order. Image files have three dimensions
//! (count, rows, columns) and label files one (count).
//!
//! Files are read whole and decompressed when they start with the gzip magic bytes, whatever
//! their name. The checks here look only at structure. The digest check comes later, so that a
//! broken file reports what is broken.

use std::fmt;
use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{IngestError, MagicHint};

/// First two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Height and width of an MNIST image, in pixels.
pub(crate) const IMAGE_SIDE: usize = 28;

/// Number of classes of MNIST and Fashion-MNIST.
pub(crate) const MNIST_CLASSES: u8 = 10;

/// Kind of an MNIST IDX file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxKind {
    /// Unsigned bytes with three dimensions: count, rows, columns.
    Images,
    /// Unsigned bytes with one dimension: count.
    Labels,
}

impl IdxKind {
    /// Magic number: unsigned-byte data type (0x08) and the number of dimensions.
    pub fn magic(self) -> u32 {
        0x0000_0800 | self.dimensions()
    }

    /// Number of dimensions in the header.
    pub fn dimensions(self) -> u32 {
        match self {
            IdxKind::Images => 3,
            IdxKind::Labels => 1,
        }
    }

    /// Header length in bytes: the magic number and one u32 per dimension.
    pub fn header_len(self) -> usize {
        4 + 4 * self.dimensions() as usize
    }

    /// Plural noun for the items of the file, used in messages.
    pub(crate) fn item_plural(self) -> &'static str {
        match self {
            IdxKind::Images => "images",
            IdxKind::Labels => "labels",
        }
    }

    fn other(self) -> IdxKind {
        match self {
            IdxKind::Images => IdxKind::Labels,
            IdxKind::Labels => IdxKind::Images,
        }
    }
}

impl fmt::Display for IdxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdxKind::Images => "image",
            IdxKind::Labels => "label",
        })
    }
}

/// Reads `path` whole and decompresses it when it starts with the gzip magic bytes.
pub(crate) fn read_decompressed(path: &Path) -> Result<Vec<u8>, IngestError> {
    let stored = fs_err::read(path).map_err(|source| IngestError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if stored.is_empty() {
        return Err(IngestError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    if !stored.starts_with(&GZIP_MAGIC) {
        tracing::debug!(path = %path.display(), bytes = stored.len(), "read uncompressed file");
        return Ok(stored);
    }

    // A multi-member decoder also reads files made by concatenating gzip streams. Truncation
    // and CRC or length mismatches surface as read errors.
    let mut data = Vec::new();
    MultiGzDecoder::new(stored.as_slice())
        .read_to_end(&mut data)
        .map_err(|source| IngestError::Decompress {
            path: path.to_path_buf(),
            source,
        })?;
    tracing::debug!(
        path = %path.display(),
        compressed_bytes = stored.len(),
        bytes = data.len(),
        "decompressed gzip file"
    );
    Ok(data)
}

/// Count, height and width of the images of a checked image file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ImageHeader {
    pub count: usize,
    pub rows: usize,
    pub columns: usize,
}

/// Checks the structure of an IDX image file and returns its header.
///
/// With `side`, the images must be `side` x `side`. The data must be exactly as long as the
/// header declares.
pub(crate) fn check_images(
    path: &Path,
    data: &[u8],
    side: Option<usize>,
) -> Result<ImageHeader, IngestError> {
    let sizes = read_header(path, data, IdxKind::Images)?;
    let [count, rows, columns] = sizes[..] else {
        unreachable!("an image header has three sizes");
    };
    if side.is_some_and(|side| rows as usize != side || columns as usize != side)
        || rows == 0
        || columns == 0
    {
        return Err(IngestError::WrongImageSize {
            path: path.to_path_buf(),
            rows,
            columns,
        });
    }

    check_length(
        path,
        data,
        IdxKind::Images,
        count,
        u64::from(rows) * u64::from(columns),
    )?;
    Ok(ImageHeader {
        count: count as usize,
        rows: rows as usize,
        columns: columns as usize,
    })
}

/// Checks the structure of an IDX label file and that every label is below `classes`, and
/// returns the label count.
pub(crate) fn check_labels(path: &Path, data: &[u8], classes: u8) -> Result<usize, IngestError> {
    let sizes = read_header(path, data, IdxKind::Labels)?;
    let [count] = sizes[..] else {
        unreachable!("a label header has one size");
    };
    check_length(path, data, IdxKind::Labels, count, 1)?;

    let labels = &data[IdxKind::Labels.header_len()..];
    if let Some((index, &value)) = labels
        .iter()
        .enumerate()
        .find(|(_, label)| **label >= classes)
    {
        return Err(IngestError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            value,
            classes,
        });
    }
    Ok(count as usize)
}

/// Pixels of the first `count` images of a checked image file with `header`.
pub(crate) fn image_pixels(data: &[u8], header: ImageHeader, count: usize) -> &[u8] {
    let start = IdxKind::Images.header_len();
    &data[start..start + count * header.rows * header.columns]
}

/// First `count` labels of a checked label file.
pub(crate) fn label_values(data: &[u8], count: usize) -> &[u8] {
    let start = IdxKind::Labels.header_len();
    &data[start..start + count]
}

/// Checks the magic number and returns the sizes of the header's dimensions.
fn read_header(path: &Path, data: &[u8], kind: IdxKind) -> Result<Vec<u32>, IngestError> {
    if data.len() < 4 {
        return Err(IngestError::HeaderTruncated {
            path: path.to_path_buf(),
            kind,
            expected: kind.header_len(),
            actual: data.len(),
        });
    }
    let found = read_u32(data, 0);
    if found != kind.magic() {
        return Err(IngestError::WrongMagic {
            path: path.to_path_buf(),
            kind,
            found,
            expected: kind.magic(),
            hint: guess_magic_hint(data, found, kind),
        });
    }

    if data.len() < kind.header_len() {
        return Err(IngestError::HeaderTruncated {
            path: path.to_path_buf(),
            kind,
            expected: kind.header_len(),
            actual: data.len(),
        });
    }
    let sizes = (0..kind.dimensions() as usize)
        .map(|dimension| read_u32(data, 4 + 4 * dimension))
        .collect();
    Ok(sizes)
}

/// Checks that the data after the header contains exactly `count` items of `item_len` bytes.
fn check_length(
    path: &Path,
    data: &[u8],
    kind: IdxKind,
    count: u32,
    item_len: u64,
) -> Result<(), IngestError> {
    // The header's sizes are arbitrary u32 values, so the length is computed in u128.
    let expected = kind.header_len() as u128 + u128::from(count) * u128::from(item_len);
    let expected = u64::try_from(expected).unwrap_or(u64::MAX);
    let actual = data.len() as u64;
    if actual < expected {
        return Err(IngestError::PayloadTruncated {
            path: path.to_path_buf(),
            kind,
            count,
            expected,
            actual,
        });
    }
    if actual > expected {
        return Err(IngestError::TrailingBytes {
            path: path.to_path_buf(),
            kind,
            count,
            expected,
            actual,
        });
    }
    Ok(())
}

/// Guesses why a file has the wrong magic number from its first bytes.
fn guess_magic_hint(data: &[u8], found: u32, kind: IdxKind) -> Option<MagicHint> {
    if data.starts_with(&GZIP_MAGIC) {
        return Some(MagicHint::GzipTwice);
    }
    if found == kind.other().magic() {
        return Some(MagicHint::OtherKind(kind.other()));
    }
    let text = data.trim_ascii_start();
    if text.starts_with(b"<") {
        return Some(MagicHint::Html);
    }
    None
}

fn read_u32(data: &[u8], offset: usize) -> u32 {
    let bytes: [u8; 4] = data[offset..offset + 4].try_into().expect("four bytes");
    u32::from_be_bytes(bytes)
}
