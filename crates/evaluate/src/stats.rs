//! The statistics behind the stability measurements, on plain row-major matrices.
//!
//! Formulas, for a matrix X of n rows (samples) and d columns (features):
//!
//! ```text
//! centred            Xc = X - 1 mean(X)
//! covariance         C  = Xc' Xc / n                      (population)
//! spread             trace(C) = 1/n * sum_i ||x_i - mean||^2
//! effective rank     exp(H(p)),  p_j = lambda_j / sum_k lambda_k,  H(p) = -sum_j p_j ln p_j
//!                    over the eigenvalues lambda_j > 0 of C (Roy and Vetterli, 2007)
//! linear CKA         ||Yc' Xc||_F^2 / (||Xc' Xc||_F * ||Yc' Yc||_F)     (Kornblith et al., 2019)
//! debiased CKA       HSIC_u(K, L) / sqrt(HSIC_u(K, K) * HSIC_u(L, L)),  K = X X', L = Y Y',
//!                    HSIC_u the unbiased estimator of Song et al. (2012) on K and L with
//!                    their diagonals set to zero
//! predicted entropy  -sum_c q_c log2 q_c, q_c the fraction of images predicted as class c
//! ```

use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use nalgebra::DMatrix;
use ndarray::{Array1, Array2};

/// Total variance and effective rank of the rows of a matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Trace of the covariance matrix.
    pub trace: f64,
    /// Exponential of the entropy of the normalised covariance eigenvalues.
    pub effective_rank: f64,
}

/// Builds the n x d matrix of `values` (row-major, `dim` per row), centred column by column.
fn centred(values: &[f32], dim: usize) -> DMatrix<f64> {
    let rows = values.len() / dim.max(1);
    let mut matrix = DMatrix::from_row_iterator(rows, dim, values.iter().map(|v| f64::from(*v)));
    for mut column in matrix.column_iter_mut() {
        let mean = column.mean();
        column.add_scalar_mut(-mean);
    }
    matrix
}

/// Computes the [`Spread`] of the rows of `values` (row-major, `dim` per row). Zero rows give
/// zero trace and effective rank.
pub fn spread(values: &[f32], dim: usize) -> Spread {
    let rows = values.len() / dim.max(1);
    if rows == 0 {
        return Spread {
            trace: 0.0,
            effective_rank: 0.0,
        };
    }
    let x = centred(values, dim);
    let covariance = x.transpose() * &x / rows as f64;
    let eigenvalues = covariance.symmetric_eigenvalues();
    let trace: f64 = eigenvalues.iter().map(|l| l.max(0.0)).sum();
    Spread {
        trace,
        effective_rank: effective_rank(eigenvalues.as_slice()),
    }
}

/// Exponential of the Shannon entropy (natural log) of the positive `eigenvalues`, each divided
/// by their sum; 0 when none is positive. Values below 1e-12 of the sum are rounding noise of
/// the eigensolver and count as zero.
pub fn effective_rank(eigenvalues: &[f64]) -> f64 {
    let total: f64 = eigenvalues.iter().filter(|l| **l > 0.0).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let entropy: f64 = eigenvalues
        .iter()
        .map(|l| l / total)
        .filter(|p| *p > 1e-12)
        .map(|p| -p * p.ln())
        .sum();
    entropy.exp()
}

/// Linear CKA between two representations of the same n samples: `x` with `dim_x` values per
/// row and `y` with `dim_y`. `None` when either has no variance.
pub fn linear_cka(x: &[f32], dim_x: usize, y: &[f32], dim_y: usize) -> Option<f64> {
    let (x, y) = (centred(x, dim_x), centred(y, dim_y));
    let cross = y.tr_mul(&x).norm_squared();
    let self_x = x.tr_mul(&x).norm();
    let self_y = y.tr_mul(&y).norm();
    let denominator = self_x * self_y;
    (denominator > 0.0).then(|| cross / denominator)
}

/// Unbiased HSIC estimator (Song et al., 2012) of two n x n Gram matrices whose diagonals have
/// been set to zero; needs n > 3.
fn hsic_unbiased(k: &DMatrix<f64>, l: &DMatrix<f64>) -> f64 {
    let n = k.nrows() as f64;
    let trace_kl = k.component_mul(l).sum(); // tr(K L) for symmetric K and L
    let sum_k = k.sum();
    let sum_l = l.sum();
    let k_one = k.column_sum(); // K 1
    let l_one = l.column_sum(); // L 1
    let one_kl_one = k_one.dot(&l_one);
    (trace_kl + sum_k * sum_l / ((n - 1.0) * (n - 2.0)) - 2.0 / (n - 2.0) * one_kl_one)
        / (n * (n - 3.0))
}

fn gram_without_diagonal(values: &[f32], dim: usize) -> DMatrix<f64> {
    let x = centred(values, dim);
    let mut gram = &x * x.transpose();
    gram.fill_diagonal(0.0);
    gram
}

/// Debiased linear CKA (Kornblith et al., 2019, after Song et al., 2012) between two
/// representations of the same n samples. `None` with fewer than 4 samples or when either
/// has no variance.
pub fn debiased_linear_cka(x: &[f32], dim_x: usize, y: &[f32], dim_y: usize) -> Option<f64> {
    let rows = x.len() / dim_x.max(1);
    if rows < 4 {
        return None;
    }
    let k = gram_without_diagonal(x, dim_x);
    let l = gram_without_diagonal(y, dim_y);
    let denominator = (hsic_unbiased(&k, &k) * hsic_unbiased(&l, &l)).sqrt();
    (denominator > 0.0 && denominator.is_finite()).then(|| hsic_unbiased(&k, &l) / denominator)
}

/// Splits the rows into a fitting half (even positions) and a scoring half (odd positions).
fn halves(rows: usize) -> (Vec<usize>, Vec<usize>) {
    (
        (0..rows).step_by(2).collect(),
        (1..rows).step_by(2).collect(),
    )
}

/// Accuracy of a multinomial logistic regression fitted on the even rows of `latents` (`dim`
/// values per row) and scored on the odd rows. Features are standardised with the fitting
/// half's mean and deviation; the L2 penalty is `alpha`. `None` when the fitting half has fewer
/// than two classes or the solver fails.
pub fn linear_probe_accuracy(
    latents: &[f32],
    dim: usize,
    labels: &[i64],
    alpha: f64,
) -> Option<f64> {
    let rows = labels.len();
    let (fit, score) = halves(rows);
    if score.is_empty() {
        return None;
    }
    let matrix = |indices: &[usize]| {
        Array2::from_shape_fn((indices.len(), dim), |(r, c)| {
            f64::from(latents[indices[r] * dim + c])
        })
    };

    let (mut x_fit, mut x_score) = (matrix(&fit), matrix(&score));
    for c in 0..dim {
        let column = x_fit.column(c);
        let mean = column.mean().unwrap_or(0.0);
        let deviation = column.std(0.0);
        let scale = if deviation > 1e-12 { deviation } else { 1.0 };
        x_fit.column_mut(c).mapv_inplace(|v| (v - mean) / scale);
        x_score.column_mut(c).mapv_inplace(|v| (v - mean) / scale);
    }

    let targets = |indices: &[usize]| Array1::from_iter(indices.iter().map(|&i| labels[i]));
    let (y_fit, y_score) = (targets(&fit), targets(&score));
    let mut classes: Vec<i64> = y_fit.to_vec();
    classes.sort_unstable();
    classes.dedup();
    if classes.len() < 2 {
        return None;
    }

    let model = MultiLogisticRegression::default()
        .alpha(alpha)
        .max_iterations(200)
        .fit(&linfa::Dataset::new(x_fit, y_fit))
        .ok()?;
    let predicted = model.predict(&x_score);
    let right = predicted
        .iter()
        .zip(y_score.iter())
        .filter(|(p, y)| p == y)
        .count();
    Some(right as f64 / score.len() as f64)
}

/// Accuracy of a k-nearest-neighbour classifier (Euclidean distance, majority vote, ties to the
/// nearest of the tied classes) whose neighbours are the even rows of `latents` and whose
/// queries are the odd rows. `None` with no query or no neighbour.
pub fn knn_accuracy(latents: &[f32], dim: usize, labels: &[i64], k: usize) -> Option<f64> {
    let (reference, queries) = halves(labels.len());
    if queries.is_empty() || reference.is_empty() {
        return None;
    }
    let row = |i: usize| &latents[i * dim..(i + 1) * dim];
    let k = k.clamp(1, reference.len());
    let mut right = 0;
    for &query in &queries {
        let mut distances: Vec<(f64, i64)> = reference
            .iter()
            .map(|&r| {
                let distance = row(query)
                    .iter()
                    .zip(row(r))
                    .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                    .sum::<f64>();
                (distance, labels[r])
            })
            .collect();
        distances.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
        let mut nearest = distances[..k].to_vec();
        nearest.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Votes per class, in order of each class's nearest neighbour.
        let mut votes: Vec<(i64, usize)> = Vec::new();
        for (_, label) in &nearest {
            match votes.iter_mut().find(|(class, _)| class == label) {
                Some((_, count)) => *count += 1,
                None => votes.push((*label, 1)),
            }
        }
        let max_votes = votes.iter().map(|(_, count)| *count).max().unwrap_or(0);
        let winner = votes
            .iter()
            .find(|(_, count)| *count == max_votes)
            .map(|(c, _)| *c);
        if winner == Some(labels[query]) {
            right += 1;
        }
    }
    Some(right as f64 / queries.len() as f64)
}

/// Entropy in bits of the distribution given by `counts`; 0 for no counts.
pub fn entropy_bits(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|&c| {
            // p * log2(1 / p) is 0 for p = 1, where -p * log2(p) would give -0.
            let p = c as f64 / total as f64;
            p * (1.0 / p).log2()
        })
        .sum()
}

/// Returns the `q`-quantile (0 to 1) of `sorted` values by linear interpolation between the closest
/// ranks (numpy's default); 0 for no values.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        len => {
            let position = q.clamp(0.0, 1.0) * (len - 1) as f64;
            let below = position.floor() as usize;
            let above = (below + 1).min(len - 1);
            let weight = position - below as f64;
            sorted[below] * (1.0 - weight) + sorted[above] * weight
        }
    }
}
