//! The stability statistics against values known in closed form.

use irl_evaluate::retention::retention;
use irl_evaluate::stats::{
    debiased_linear_cka, effective_rank, entropy_bits, knn_accuracy, linear_cka,
    linear_probe_accuracy, quantile, spread,
};
use irl_store::SplitName;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `rows` x `dim` values drawn uniformly from [-1, 1).
fn noise(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..rows * dim)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect()
}

/// Multiplies each row of `x` (3 values) by the rotation matrix `r`.
fn rotate(x: &[f32], r: [[f32; 3]; 3]) -> Vec<f32> {
    x.chunks(3)
        .flat_map(|row| (0..3).map(move |j| (0..3).map(|i| row[i] * r[i][j]).sum::<f32>()))
        .collect()
}

#[test]
fn cka_of_self_and_rotation() {
    let x = noise(500, 3, 1);
    let (s, c) = (0.6f32, 0.8f32);
    // A rotation about the z axis, then one about the x axis.
    let rotated = rotate(
        &rotate(&x, [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]),
        [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]],
    );
    for y in [&x, &rotated] {
        assert!((linear_cka(&x, 3, y, 3).unwrap() - 1.0).abs() < 1e-6);
        assert!((debiased_linear_cka(&x, 3, y, 3).unwrap() - 1.0).abs() < 1e-6);
    }
    // Scaling a representation does not change it either.
    let scaled: Vec<f32> = x.iter().map(|v| v * 7.5).collect();
    assert!((linear_cka(&x, 3, &scaled, 3).unwrap() - 1.0).abs() < 1e-6);
}

#[test]
fn cka_of_independent_noise() {
    let (x, y) = (noise(2000, 8, 2), noise(2000, 4, 3));
    let plain = linear_cka(&x, 8, &y, 4).unwrap();
    let debiased = debiased_linear_cka(&x, 8, &y, 4).unwrap();
    // The plain estimator is biased upwards by about sqrt(d_x * d_y) / n.
    assert!(plain > 0.0, "plain CKA {plain}");
    assert!(plain < 0.01, "plain CKA {plain}");
    assert!(debiased.abs() < 0.005, "debiased CKA {debiased}");
    assert!(debiased.abs() < plain);
}

#[test]
fn cka_without_variance() {
    let constant = vec![0.5f32; 40];
    let x = noise(20, 2, 4);
    assert_eq!(linear_cka(&x, 2, &constant, 2), None);
    assert_eq!(debiased_linear_cka(&x, 2, &constant, 2), None);
    assert_eq!(debiased_linear_cka(&x[..6], 2, &x[..6], 2), None);
}

#[test]
fn effective_rank_of_orthogonal_directions() {
    // Rows +-e_j for j < k in 6 dimensions: covariance diag(1/k, ..., 1/k, 0, ...).
    for k in 1..=5 {
        let mut rows = Vec::new();
        for j in 0..k {
            for sign in [1.0f32, -1.0] {
                let mut row = vec![0.0f32; 6];
                row[j] = sign;
                rows.extend(row);
            }
        }
        let measured = spread(&rows, 6);
        assert!(
            (measured.effective_rank - k as f64).abs() < 1e-9,
            "k = {k}: {measured:?}"
        );
        assert!((measured.trace - 1.0).abs() < 1e-12, "{measured:?}");
    }
    assert!((effective_rank(&[2.0, 2.0, 0.0]) - 2.0).abs() < 1e-12);
    // Eigenvalues 3 and 1: exp(-(0.75 ln 0.75 + 0.25 ln 0.25)).
    assert!((effective_rank(&[3.0, 1.0]) - 1.7547653506).abs() < 1e-9);
    assert_eq!(effective_rank(&[0.0, 0.0]), 0.0);
}

#[test]
fn spread_of_two_points() {
    // Two points at distance 2 along one axis: variance 1 on it.
    let measured = spread(&[1.0, 5.0, -1.0, 5.0], 2);
    assert!((measured.trace - 1.0).abs() < 1e-12);
    assert!((measured.effective_rank - 1.0).abs() < 1e-9);
}

#[test]
fn retention_of_known_predictions() {
    let labels = [0, 0, 0, 1, 1, 2, 2, 2];
    let predicted = [0, 0, 1, 1, 1, 0, 0, 2];
    let previous = [0, 1, 1, 1, 1, 2, 2, 2];
    let measured = retention(3, SplitName::Test, &predicted, &labels, Some(&previous), 3);
    assert_eq!(measured.accuracy, 5.0 / 8.0);

    let count = |t: u32, p: u32| {
        measured
            .confusion
            .iter()
            .find(|(a, b, _)| (*a, *b) == (t, p))
            .unwrap()
            .2
    };
    assert_eq!(measured.confusion.len(), 9);
    assert_eq!((count(0, 0), count(0, 1), count(0, 2)), (2, 1, 0));
    assert_eq!((count(1, 0), count(1, 1), count(1, 2)), (0, 2, 0));
    assert_eq!((count(2, 0), count(2, 1), count(2, 2)), (2, 0, 1));

    let recall: Vec<(u32, u64, Option<f64>)> = measured
        .recall
        .iter()
        .map(|row| (row.class, row.images, row.recall))
        .collect();
    assert_eq!(
        recall,
        vec![
            (0, 3, Some(2.0 / 3.0)),
            (1, 2, Some(1.0)),
            (2, 3, Some(1.0 / 3.0))
        ]
    );

    // Predicted classes 0, 1, 2 in 4, 3 and 1 of 8 images.
    let expected = -(0.5f64 * 0.5f64.log2() + 0.375 * 0.375f64.log2() + 0.125 * 0.125f64.log2());
    assert!((measured.predicted_entropy - expected).abs() < 1e-12);
    assert_eq!(measured.changed_predictions, Some(3));
    assert_eq!(entropy_bits(&[5, 5, 5, 5]), 2.0);
    assert_eq!(entropy_bits(&[7, 0, 0]), 0.0);
}

#[test]
fn probes_on_separable_latents() {
    // Three classes in tight clusters around distinct centres.
    let centres = [[0.0f32, 0.0], [10.0, 0.0], [0.0, 10.0]];
    let jitter = noise(300, 2, 5);
    let mut latents = Vec::new();
    let mut labels = Vec::new();
    for i in 0..300 {
        let class = i % 3;
        latents.push(centres[class][0] + jitter[2 * i]);
        latents.push(centres[class][1] + jitter[2 * i + 1]);
        labels.push(class as i64);
    }
    assert_eq!(linear_probe_accuracy(&latents, 2, &labels, 1e-3), Some(1.0));
    assert_eq!(knn_accuracy(&latents, 2, &labels, 5), Some(1.0));
}

#[test]
fn probes_on_unstructured_latents() {
    let latents = noise(2000, 4, 6);
    let labels: Vec<i64> = (0..2000).map(|i| (i * 7 % 10) as i64).collect();
    let linear = linear_probe_accuracy(&latents, 4, &labels, 1e-3).unwrap();
    let knn = knn_accuracy(&latents, 4, &labels, 5).unwrap();
    assert!(linear < 0.16, "linear probe {linear}");
    assert!(knn < 0.16, "kNN {knn}");
    // A fitting half with one class has nothing to separate.
    assert_eq!(
        linear_probe_accuracy(&latents[..40], 4, &[3; 10], 1e-3),
        None
    );
}

#[test]
fn quantile_interpolation() {
    let sorted = [1.0, 2.0, 3.0, 4.0, 5.0];
    assert_eq!(quantile(&sorted, 0.5), 3.0);
    assert_eq!(quantile(&sorted, 0.9), 4.6);
    assert_eq!(quantile(&sorted, 1.0), 5.0);
    assert_eq!(quantile(&[], 0.5), 0.0);
}
