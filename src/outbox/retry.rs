//! The retry schedule of the outbox: when to try a notice again after a failure, and
//! when to give up. Pure: data in, an instant out; the jitter is a parameter.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// The delays between tries after a failure: by default about a day in all, like Svix
/// (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), each stretched by up to 20 % of jitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<Duration>);

impl Default for RetrySchedule {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        RetrySchedule(vec![
            Duration::from_secs(5),
            minutes(5),
            minutes(30),
            minutes(120),
            minutes(300),
            minutes(600),
            minutes(600),
        ])
    }
}

impl RetrySchedule {
    /// When to try again after the `failures`-th failed try (1-based), or `None` when
    /// the schedule is spent (the notice is dead-lettered). A receiver's `Retry-After`
    /// is honoured when it asks for longer. `jitter` is in `[0, 1)`.
    pub fn next_try(
        &self,
        failures: u32,
        now: DateTime<Utc>,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<DateTime<Utc>> {
        let index = usize::try_from(failures.checked_sub(1)?).ok()?;
        let base = *self.0.get(index)?;
        let stretched = base.mul_f64(1.0 + 0.2 * jitter.clamp(0.0, 1.0));
        let delay = retry_after.map_or(stretched, |asked| asked.max(stretched));
        let delay = TimeDelta::from_std(delay).ok()?;
        now.checked_add_signed(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_spreads_seven_retries_over_about_a_day_then_gives_up() {
        let schedule = RetrySchedule::default();
        let now: DateTime<Utc> = "2026-04-07T12:00:00Z".parse().unwrap_or_default();
        let total: Duration = schedule.0.iter().sum();
        assert_eq!(total.as_secs(), 5 + 60 * (5 + 30 + 120 + 300 + 600 + 600));
        assert_eq!(
            schedule.next_try(1, now, None, 0.0),
            Some(now + TimeDelta::seconds(5))
        );
        assert_eq!(
            schedule.next_try(2, now, None, 0.5),
            Some(now + TimeDelta::seconds(330))
        );
        // A receiver asking for longer is honoured; asking for shorter is not.
        assert_eq!(
            schedule.next_try(1, now, Some(Duration::from_secs(60)), 0.0),
            Some(now + TimeDelta::seconds(60))
        );
        assert_eq!(
            schedule.next_try(2, now, Some(Duration::from_secs(1)), 0.0),
            Some(now + TimeDelta::seconds(300))
        );
        assert_eq!(schedule.next_try(8, now, None, 0.0), None);
        assert_eq!(schedule.next_try(0, now, None, 0.0), None);
    }
}
