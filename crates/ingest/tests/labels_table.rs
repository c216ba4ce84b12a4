//! The labels table of a dataset, read back from Parquet.

use arrow::array::{Array, Int64Array, StringArray, UInt32Array};
use arrow::datatypes::DataType;
use irl_ingest::labels_table;
use irl_store::table::from_parquet;
use irl_store::{Dataset, Split};

fn split(labels: Vec<i64>) -> Split {
    Split {
        images: vec![0.5; labels.len() * 784],
        labels,
        image_shape: [1, 28, 28],
    }
}

#[test]
fn labels_table_round_trips() {
    let dataset = Dataset {
        train: split(vec![5, 0, 4]),
        test: split(vec![7, 2]),
    };

    let bytes = labels_table(&dataset).unwrap();
    let batches = from_parquet("labels", bytes).unwrap();

    assert_eq!(batches.len(), 1);
    let batch = &batches[0];
    let schema = batch.schema();
    let columns: Vec<(&str, &DataType)> = schema
        .fields()
        .iter()
        .map(|field| (field.name().as_str(), field.data_type()))
        .collect();
    assert_eq!(
        columns,
        [
            ("index", &DataType::UInt32),
            ("split", &DataType::Utf8),
            ("label", &DataType::Int64)
        ]
    );

    let index = batch
        .column(0)
        .as_any()
        .downcast_ref::<UInt32Array>()
        .unwrap();
    let split = batch
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let label = batch
        .column(2)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(index.values().to_vec(), [0, 1, 2, 0, 1]);
    assert_eq!(
        split.iter().flatten().collect::<Vec<_>>(),
        ["train", "train", "train", "test", "test"]
    );
    assert_eq!(label.values().to_vec(), [5, 0, 4, 7, 2]);
    assert_eq!(split.null_count(), 0);
}

#[test]
fn labels_table_of_empty_dataset_has_no_rows() {
    let dataset = Dataset {
        train: split(vec![]),
        test: split(vec![]),
    };

    let bytes = labels_table(&dataset).unwrap();
    let batches = from_parquet("labels", bytes).unwrap();

    let rows: usize = batches.iter().map(|batch| batch.num_rows()).sum();
    assert_eq!(rows, 0);
}
