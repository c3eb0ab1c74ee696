//! What a run will cost in time and memory, estimated from the model before
//! it starts, and the limits a run stays within unless told to go past them.

use crate::model::Scenario;

/// Trials of the lead engine's work unit (a lead followed through a trial)
/// one thread does per second, measured on the board plan and rounded down.
const LEADS_PER_SECOND: f64 = 2.0e7;
/// The Poisson-path engine's unit (one draw of a trial: a count, or a
/// win's cell, normal and size) per second and thread, rounded down so that
/// the estimate errs long: acme-52w measured 8e7 (some 580 draws a trial,
/// 140,000 trials a second and thread), and 1,000 times its leads 2e8
/// (290,000 wins a trial, 4 ms).
const DRAWS_PER_SECOND: f64 = 5.0e7;
/// Bytes a trial keeps until the end (its horizon revenue, contribution,
/// goal and the weekly quantile sketches' share).
const BYTES_PER_TRIAL: f64 = 100.0;
/// Bytes a lead in flight takes while its trial runs.
const BYTES_PER_LEAD: f64 = 40.0;

/// A run past this many seconds needs `--allow-large`.
pub const SOFT_SECONDS: f64 = 15.0 * 60.0;
/// A run past this many bytes needs `--allow-large`.
pub const SOFT_BYTES: f64 = 4.0 * (1u64 << 30) as f64;

/// What a trial's work grows with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Work {
    /// The leads it follows (the lead and cohort engines).
    Leads,
    /// So many draws (the Poisson-path engine).
    Draws(f64),
}

/// The estimate of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    pub trials: u64,
    /// Leads a trial follows (new ones, in flight and open deals).
    pub leads_per_trial: f64,
    pub seconds: f64,
    pub bytes: f64,
}

impl Estimate {
    /// Estimates a run of `trials` trials on `threads` threads, each doing
    /// `work`.
    pub fn new(s: &Scenario, trials: u64, threads: usize, work: Work) -> Estimate {
        let weeks = s.weeks();
        let new_leads: f64 = s
            .model
            .channels
            .iter()
            .map(|c| {
                (0..weeks)
                    .map(|w| c.expected_leads(w, &s.calendar))
                    .sum::<f64>()
            })
            .sum();
        let leads_per_trial = new_leads + s.model.pipeline.len() as f64;
        let threads = threads.max(1) as f64;
        let n = trials as f64;
        let (seconds, in_flight) = match work {
            Work::Leads => (
                n * leads_per_trial.max(1.0) / LEADS_PER_SECOND / threads,
                leads_per_trial,
            ),
            Work::Draws(d) => (n * d.max(1.0) / DRAWS_PER_SECOND / threads, 0.0),
        };
        Estimate {
            trials,
            leads_per_trial,
            seconds,
            bytes: n * BYTES_PER_TRIAL + threads * in_flight * BYTES_PER_LEAD,
        }
    }

    /// Why this run is past the soft limits, if it is.
    pub fn too_large(&self) -> Option<String> {
        let time = self.seconds > SOFT_SECONDS;
        let memory = self.bytes > SOFT_BYTES;
        if !time && !memory {
            return None;
        }
        let mut why = format!(
            "{} trials of about {} leads each would take about {} and {} of memory",
            self.trials,
            crate::export::format::count(self.leads_per_trial),
            duration(self.seconds),
            bytes(self.bytes)
        );
        why.push_str(&format!(
            " (the limits are {} and {}); lower --trials or --max-trials, or add --allow-large",
            duration(SOFT_SECONDS),
            bytes(SOFT_BYTES)
        ));
        Some(why)
    }
}

fn duration(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 3.0 * 86400.0 {
        format!("{:.0} h", s / 3600.0)
    } else {
        format!("{:.0} days", s / 86400.0)
    }
}

fn bytes(b: f64) -> String {
    if b < 1e9 {
        format!("{:.0} MB", b / 1e6)
    } else {
        format!("{:.1} GB", b / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_read_well() {
        assert_eq!(duration(30.0), "30 s");
        assert_eq!(duration(900.0), "15 min");
        assert_eq!(duration(3.0 * 3600.0), "3 h");
        assert_eq!(bytes(4.0e9), "4.0 GB");
        assert_eq!(bytes(5.0e6), "5 MB");
    }
}
