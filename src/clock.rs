//! The only place that reads the time. Everything else takes the instant as a
//! parameter; the daemon asks its `Clock`, tests use a `FixedClock`.

use chrono::{DateTime, Utc};

/// A source of "now".
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads the system clock"
    )]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that always says the same instant (tests, replays).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// The system clock moved by a fixed offset: it starts at a chosen instant and runs at
/// the real pace. For drills, demos and end-to-end tests (`DUNNER_CLOCK_START`), so a
/// daemon can live through 07:59 → 08:00 in a consumer's time zone without waiting for
/// it; never for production, where the engine's decisions must follow the real time.
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    offset: chrono::TimeDelta,
}

impl OffsetClock {
    /// A clock that says `start` now and runs on from there.
    pub fn starting_at(start: DateTime<Utc>) -> OffsetClock {
        OffsetClock {
            offset: start - SystemClock.now(),
        }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        let now = SystemClock.now();
        now.checked_add_signed(self.offset).unwrap_or(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_clock_starts_where_it_is_told_and_runs_on() {
        let start: DateTime<Utc> = "2026-04-07T11:59:56Z".parse().unwrap();
        let clock = OffsetClock::starting_at(start);
        let first = clock.now();
        assert!(first >= start && first - start < chrono::TimeDelta::seconds(5));
        assert!(clock.now() >= first, "it never runs backwards");
    }
}
