//! Metrics rows grouped by round, and the number format shared by the page and the summary.

use std::collections::BTreeMap;

use irl_store::SplitName;

use crate::MetricRow;

/// Selects one metric of a row; `None` where the row's model has no such metric.
pub(crate) type MetricField = fn(&MetricRow) -> Option<f64>;

/// The train and test rows of one round. A split without a row is `None`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoundMetrics<'a> {
    pub iteration: u32,
    pub train: Option<&'a MetricRow>,
    pub test: Option<&'a MetricRow>,
}

/// Groups the rows by round, in increasing order. When two rows share a round and split, the
/// later one wins, so a re-run round shows its newest values.
pub(crate) fn group_by_round(metrics: &[MetricRow]) -> Vec<RoundMetrics<'_>> {
    let mut rounds: BTreeMap<u32, RoundMetrics<'_>> = BTreeMap::new();

    for row in metrics {
        let round = rounds.entry(row.iteration).or_insert(RoundMetrics {
            iteration: row.iteration,
            train: None,
            test: None,
        });
        match row.split {
            SplitName::Train => round.train = Some(row),
            SplitName::Test => round.test = Some(row),
        }
    }

    rounds.into_values().collect()
}

/// Formats a metric with four significant digits, switching to scientific notation for very
/// small or very large magnitudes. Whole numbers below one million are written without decimals.
pub(crate) fn format_value(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    // Counts, such as active latent units, read as integers.
    if value.fract() == 0.0 && value.abs() < 1e6 {
        return format!("{value:.0}");
    }

    let exponent = value.abs().log10().floor() as i32;
    if !(-3..6).contains(&exponent) {
        return format!("{value:.3e}");
    }
    let decimals = (3 - exponent).max(0) as usize;
    format!("{value:.decimals$}")
}

/// Formats one metric of an optional row, or an em dash when the row or the metric is missing.
pub(crate) fn format_cell(row: Option<&MetricRow>, metric: MetricField) -> String {
    match row.and_then(metric) {
        Some(value) => format_value(value),
        None => "\u{2014}".to_owned(),
    }
}

/// True when any row carries the VAE's metrics.
pub(crate) fn has_vae_metrics(metrics: &[MetricRow]) -> bool {
    metrics.iter().any(|row| row.kl.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_value_keeps_four_significant_digits() {
        let cases = [
            (0.0, "0"),
            (25.4321, "25.43"),
            (1234.6, "1235"),
            (123456.0, "123456"),
            (0.012346, "0.01235"),
            (0.0012346, "0.001235"),
            (0.00012346, "1.235e-4"),
            (1.5e7, "1.500e7"),
            (-3.25, "-3.250"),
            (f64::NAN, "NaN"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_value(value), expected, "formatting {value}");
        }
    }
}
