//! Result rows and the measurement helpers every suite shares.

use serde::Serialize;

/// One measured figure: `{suite, name, impl, value, unit, spread?}`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Row {
    pub(crate) suite: String,
    pub(crate) name: String,
    #[serde(rename = "impl")]
    pub(crate) implementation: String,
    pub(crate) value: f64,
    pub(crate) unit: String,
    /// Median absolute deviation of the repetitions, in `unit`; absent for single measurements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) spread: Option<f64>,
}

impl Row {
    /// A row from one measured value.
    pub(crate) fn new(
        suite: &str,
        name: impl Into<String>,
        implementation: &str,
        value: f64,
        unit: &str,
    ) -> Self {
        Self {
            suite: suite.into(),
            name: name.into(),
            implementation: implementation.into(),
            value,
            unit: unit.into(),
            spread: None,
        }
    }

    /// A row whose value is the median of `samples`, with their spread.
    pub(crate) fn from_samples(
        suite: &str,
        name: impl Into<String>,
        implementation: &str,
        samples: &[f64],
        unit: &str,
    ) -> Self {
        let (value, spread) = median_and_mad(samples);
        Self {
            spread: (samples.len() > 1).then_some(spread),
            ..Self::new(suite, name, implementation, value, unit)
        }
    }
}

/// The median of `samples` (NaN if empty).
pub(crate) fn median(samples: &[f64]) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// The median and the median absolute deviation of `samples`.
pub(crate) fn median_and_mad(samples: &[f64]) -> (f64, f64) {
    let m = median(samples);
    let deviations: Vec<f64> = samples.iter().map(|x| (x - m).abs()).collect();
    (m, median(&deviations))
}

/// Runs `f` `reps` times and returns each run's wall time in seconds.
pub(crate) fn time_reps(reps: usize, mut f: impl FnMut()) -> Vec<f64> {
    (0..reps)
        .map(|_| {
            let start = std::time::Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect()
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub(crate) fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>24} [{bar:40}] {pos}/{len} {elapsed}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(median_and_mad(&[1.0, 2.0, 10.0]), (2.0, 1.0));
    }
}
