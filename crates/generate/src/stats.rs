//! Test-only statistics: Pearson's chi-square goodness-of-fit against the uniform distribution.
//!
//! The critical value is for a false-alarm probability of 1e-6 per test, so a correct sampler
//! fails a run about once in a million, while any real bias of the size modulo reduction
//! causes is rejected every time (see `checker_rejects_modulo_bias` in `string.rs`).

/// The standard normal quantile z with P(Z > z) = 1e-6.
const Z_ONE_IN_A_MILLION: f64 = 4.753_424_308_822_899;

/// Pearson's statistic of `counts` against equal expected counts.
pub(crate) fn chi_square(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts
        .iter()
        .map(|&observed| {
            let d = observed as f64 - expected;
            d * d / expected
        })
        .sum()
}

/// The chi-square value exceeded with probability 1e-6 at `df` degrees of freedom, by the
/// Wilson–Hilferty approximation: (X/df)^(1/3) is close to normal with mean 1 - 2/(9 df) and
/// variance 2/(9 df). For df >= 8 (all the tests use) it is within 3% of the exact quantile and
/// errs high, so the real false-alarm probability is slightly below 1e-6.
pub(crate) fn critical_value(df: usize) -> f64 {
    let k = df as f64;
    let v = 2.0 / (9.0 * k);
    k * (1.0 - v + Z_ONE_IN_A_MILLION * v.sqrt()).powi(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against exact quantiles (computed with an incomplete-gamma solver) of the chi-square
    /// distribution at P = 1e-6.
    #[test]
    fn wilson_hilferty_matches_exact_quantiles() {
        let exact = [
            (8usize, 42.700_914),
            (9, 44.810_938),
            (15, 56.493_442),
            (61, 128.524_22),
            (93, 172.747_34),
            (7775, 8382.212),
        ];
        for (df, exact) in exact {
            let approx = critical_value(df);
            assert!(
                approx >= exact && (approx - exact) / exact < 0.03,
                "df {df}: {approx} vs {exact}"
            );
        }
    }

    #[test]
    fn chi_square_of_perfectly_even_counts_is_zero() {
        assert_eq!(chi_square(&[10, 10, 10]), 0.0);
        assert!((chi_square(&[20, 10, 0]) - 20.0).abs() < 1e-9);
    }
}
