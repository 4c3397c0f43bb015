//! Summary statistics of one metric over the runs of a point.
//!
//! Quantiles use the nearest-rank definition: the p-quantile of n sorted values is the value at
//! rank ceil(p * n), counting from 1, so it is always one of the runs' values and needs no
//! interpolation. The 95 % confidence interval of the mean is mean ± t * s / sqrt(n). Here s is
//! the sample standard deviation (n - 1 in the denominator), and t is the 0.975 quantile of
//! Student's t distribution with n - 1 degrees of freedom. The interval is undefined for a single
//! run.

/// The statistics of `points.csv`, in the order of [`super::check::STATS`].
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    /// The 95 % confidence interval of the mean; `None` for one run.
    pub ci: Option<(f64, f64)>,
}

impl Summary {
    /// Summarizes values taken in run order; the order only fixes the rounding of the sums.
    pub fn of(values: &[f64]) -> Summary {
        assert!(!values.is_empty(), "a point has at least one run");
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let ci = (n >= 2).then(|| {
            let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
            let sd = (squares / (n - 1) as f64).sqrt();
            let half = t_975(n as u64 - 1) * sd / (n as f64).sqrt();
            (mean - half, mean + half)
        });
        Summary {
            count: n,
            mean,
            p50: nearest_rank(&sorted, 50),
            p90: nearest_rank(&sorted, 90),
            p99: nearest_rank(&sorted, 99),
            max: sorted[n - 1],
            ci,
        }
    }

    /// Statistic `index` in the order of [`super::check::STATS`].
    pub fn stat(&self, index: usize) -> Option<f64> {
        match index {
            0 => Some(self.mean),
            1 => Some(self.p50),
            2 => Some(self.p90),
            3 => Some(self.p99),
            4 => Some(self.max),
            5 => self.ci.map(|c| c.0),
            _ => self.ci.map(|c| c.1),
        }
    }
}

/// Returns the `percent`-quantile of sorted values by nearest rank: the value at rank
/// ceil(percent * n / 100), counting from 1.
pub fn nearest_rank(sorted: &[f64], percent: usize) -> f64 {
    let n = sorted.len();
    let rank = (percent * n).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// Returns the 0.975 quantile of Student's t with `df` degrees of freedom (`df` at least 1).
///
/// Up to 30 degrees of freedom the value comes from the standard table (3 decimals). Above, it
/// comes from the Cornish-Fisher expansion around the normal quantile 1.959964, whose error there
/// is below 0.0001: at 30 it gives 2.0423 against the table's 2.042.
pub fn t_975(df: u64) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    assert!(df >= 1, "t quantile needs at least one degree of freedom");
    if df <= 30 {
        return TABLE[df as usize - 1];
    }
    // Products rather than `powi`, whose result may differ between platforms in the last bit.
    let z: f64 = 1.959_964;
    let z3 = z * z * z;
    let z5 = z3 * z * z;
    let z7 = z5 * z * z;
    let d = df as f64;
    let g1 = (z3 + z) / 4.0;
    let g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
    let g3 = (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / 384.0;
    z + g1 / d + g2 / (d * d) + g3 / (d * d * d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_picks_values() {
        let sorted: Vec<f64> = (1..=10).map(f64::from).collect();
        // ceil(0.5 * 10) = 5, ceil(0.9 * 10) = 9, ceil(0.99 * 10) = 10.
        assert_eq!(nearest_rank(&sorted, 50), 5.0);
        assert_eq!(nearest_rank(&sorted, 90), 9.0);
        assert_eq!(nearest_rank(&sorted, 99), 10.0);
        assert_eq!(nearest_rank(&[7.0], 50), 7.0);
        // ceil(0.5 * 3) = 2.
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0], 50), 2.0);
    }

    #[test]
    fn interval_matches_hand_values() {
        // Values 1, 2, 3: mean 2, s = sqrt(((1 + 0 + 1) / 2)) = 1, t(2) = 4.303, half width
        // 4.303 / sqrt(3) = 2.48434.
        let s = Summary::of(&[3.0, 1.0, 2.0]);
        assert_eq!(s.mean, 2.0);
        let (low, high) = s.ci.unwrap();
        assert!((low - (2.0 - 2.48434)).abs() < 1e-5, "{low}");
        assert!((high - (2.0 + 2.48434)).abs() < 1e-5, "{high}");
        assert_eq!(s.max, 3.0);
        assert_eq!(Summary::of(&[5.0]).ci, None);
    }

    #[test]
    fn t_expansion_meets_table() {
        assert!((t_975(30) - 2.042).abs() < 5e-4);
        // Table values: t(40) = 2.021, t(60) = 2.000, t(120) = 1.980.
        assert!((t_975(40) - 2.021).abs() < 5e-4);
        assert!((t_975(60) - 2.000).abs() < 5e-4);
        assert!((t_975(120) - 1.980).abs() < 5e-4);
    }
}
