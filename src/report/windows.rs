//! The permitted contact windows of one account as a week-by-hour heat map: for each
//! hour of the seven local days after the report's instant, the share of the hour in
//! which the policy allows the contact, in the local time of the consumer's first
//! candidate zone.
//!
//! The intervals are the engine's ([`Subject::permitted_intervals`], what
//! `GET /v1/accounts/{id}/windows` lists), assuming no new contacts; the budget left in
//! each cap at the report's instant comes with them.
//!
//! Pure: the policy, the account, its history and the instant in; the map out.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::domain::{Account, Channel, Event, Purpose};
use crate::engine::{CapBudget, Interval, Question, Subject};
use crate::policy::Policy;

/// The heat map of one account.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WindowsSection {
    /// The account.
    pub account: String,
    /// The channel asked about.
    pub channel: Channel,
    /// The zone of the map's hours (the consumer's first candidate zone).
    pub time_zone: String,
    /// Every candidate zone: the windows satisfy the rules in all of them.
    pub time_zones: Vec<String>,
    /// The first instant of the map (local midnight after the report's instant).
    pub from: DateTime<Utc>,
    /// The first instant after it.
    pub until: DateTime<Utc>,
    /// Seven days, each with 24 hours.
    pub days: Vec<HeatDay>,
    /// Hours allowed in the week (the sum of the shares).
    pub allowed_hours: f64,
    /// The permitted intervals of the week.
    pub intervals: Vec<Interval>,
    /// The budget left in every cap at the report's instant.
    pub caps: Vec<CapBudget>,
}

/// One local day of the map.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HeatDay {
    /// The local date.
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    /// `Mon` … `Sun`.
    pub weekday: String,
    /// For each local hour 0–23, the share of it in which the contact is allowed (0 to
    /// 1); `null` for an hour the clocks skip (a DST gap).
    pub hours: Vec<Option<f64>>,
}

/// Asks the engine for the week's windows of an account after `as_of`.
pub fn windows(
    policy: &Policy,
    account: &Account,
    history: &[Event],
    channel: Channel,
    as_of: DateTime<Utc>,
) -> WindowsSection {
    let subject = Subject::new(policy, account, history);
    let zones = subject.zones().to_vec();
    let zone = zones.first().copied().unwrap_or(Tz::UTC);
    let first_day = as_of
        .with_timezone(&zone)
        .date_naive()
        .succ_opt()
        .unwrap_or(NaiveDate::MAX);
    let from = local_instant(zone, first_day, 0).unwrap_or(as_of);
    let until = first_day
        .checked_add_signed(TimeDelta::days(7))
        .and_then(|day| local_instant(zone, day, 0))
        .unwrap_or(from + TimeDelta::days(7));
    let question = Question {
        at: from,
        channel,
        purpose: Purpose::Collection,
        contact_point: None,
        horizon_days: None,
    };
    let intervals = subject.permitted_intervals(&question, until);
    let caps = subject.cap_budgets(&Question {
        at: as_of,
        ..question
    });
    let days = heat_map(&intervals, zone, first_day);
    let allowed_hours = days.iter().flat_map(|d| d.hours.iter().flatten()).sum();
    WindowsSection {
        account: account.id.clone(),
        channel,
        time_zone: zone.name().to_string(),
        time_zones: zones.iter().map(|z| z.name().to_string()).collect(),
        from,
        until,
        days,
        allowed_hours,
        intervals,
        caps,
    }
}

/// The share of each local hour of the seven days from `first_day` covered by the
/// intervals.
pub fn heat_map(intervals: &[Interval], zone: Tz, first_day: NaiveDate) -> Vec<HeatDay> {
    first_day
        .iter_days()
        .take(7)
        .map(|date| HeatDay {
            date,
            weekday: weekday_name(date).to_string(),
            hours: (0..24)
                .map(|hour| {
                    let start = local_instant(zone, date, hour)?;
                    // The hour ends where the next one that exists begins (after 01:00 on
                    // a spring-forward night comes 03:00).
                    let end = (hour + 1..=24).find_map(|next| match next {
                        24 => date
                            .succ_opt()
                            .and_then(|next| local_instant(zone, next, 0)),
                        next => local_instant(zone, date, next),
                    })?;
                    Some(share(intervals, start, end))
                })
                .collect(),
        })
        .collect()
}

/// The share of `[start, end)` the intervals cover.
fn share(intervals: &[Interval], start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
    let length = (end - start).num_seconds();
    if length <= 0 {
        return 0.0;
    }
    let covered: i64 = intervals
        .iter()
        .map(|i| (i.end.min(end) - i.start.max(start)).num_seconds().max(0))
        .sum();
    // Seconds in an hour (or two, across a DST fold): exact in an f64.
    (covered.min(length) as f64) / (length as f64)
}

/// The instant a local wall-clock hour begins (the earlier one in a DST fold); `None`
/// when the clocks skip it.
fn local_instant(zone: Tz, date: NaiveDate, hour: u32) -> Option<DateTime<Utc>> {
    let time = NaiveTime::from_hms_opt(hour, 0, 0)?;
    zone.from_local_datetime(&date.and_time(time))
        .earliest()
        .map(|instant| instant.with_timezone(&Utc))
}

fn weekday_name(date: NaiveDate) -> &'static str {
    match date.weekday() {
        chrono::Weekday::Mon => "Mon",
        chrono::Weekday::Tue => "Tue",
        chrono::Weekday::Wed => "Wed",
        chrono::Weekday::Thu => "Thu",
        chrono::Weekday::Fri => "Fri",
        chrono::Weekday::Sat => "Sat",
        chrono::Weekday::Sun => "Sun",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instant(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn shares_follow_the_intervals_in_local_hours() {
        let zone: Tz = "America/New_York".parse().unwrap();
        // 08:00–08:30 and 20:15–21:00 EDT on Tuesday 2026-04-07.
        let intervals = [
            Interval {
                start: instant("2026-04-07T12:00:00Z"),
                end: instant("2026-04-07T12:30:00Z"),
            },
            Interval {
                start: instant("2026-04-08T00:15:00Z"),
                end: instant("2026-04-08T01:00:00Z"),
            },
        ];
        let map = heat_map(&intervals, zone, "2026-04-07".parse().unwrap());
        assert_eq!(map.len(), 7);
        assert_eq!(map[0].weekday, "Tue");
        assert_eq!(map[0].hours[8], Some(0.5));
        assert_eq!(map[0].hours[20], Some(0.75));
        assert_eq!(map[0].hours[7], Some(0.0));
        assert_eq!(map[1].hours[8], Some(0.0));
    }

    #[test]
    fn the_hour_the_clocks_skip_has_no_share() {
        let zone: Tz = "America/New_York".parse().unwrap();
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT.
        let whole_day = [Interval {
            start: instant("2026-03-08T05:00:00Z"),
            end: instant("2026-03-09T04:00:00Z"),
        }];
        let map = heat_map(&whole_day, zone, "2026-03-08".parse().unwrap());
        assert_eq!(map[0].hours[2], None);
        assert_eq!(map[0].hours[1], Some(1.0));
        assert_eq!(map[0].hours[3], Some(1.0));
    }

    #[test]
    fn a_new_york_week_allows_the_calling_hours_and_nothing_else() {
        let policy = Policy::load("rules".as_ref()).unwrap();
        let account: Account = serde_json::from_str(
            r#"{"id": "A-1", "consumer": {"address": {"state": "NY"}, "time_zones": ["America/New_York"],
                "phones": [{"number": "+12125550100", "kind": "mobile"}]}}"#,
        )
        .unwrap();
        let section = windows(
            &policy,
            &account,
            &[],
            Channel::Call,
            instant("2026-04-07T16:00:00Z"),
        );
        assert_eq!(section.time_zone, "America/New_York");
        assert_eq!(
            section.days[0].date,
            "2026-04-08".parse::<NaiveDate>().unwrap()
        );
        assert_eq!(section.from, instant("2026-04-08T04:00:00Z"));
        // 08:00–21:00 every day: 13 hours a day.
        for day in &section.days {
            assert_eq!(day.hours[7], Some(0.0), "{}", day.date);
            assert_eq!(day.hours[8], Some(1.0), "{}", day.date);
            assert_eq!(day.hours[20], Some(1.0), "{}", day.date);
            assert_eq!(day.hours[21], Some(0.0), "{}", day.date);
        }
        assert!(
            (section.allowed_hours - 91.0).abs() < 1e-9,
            "{}",
            section.allowed_hours
        );
        assert!(
            section
                .caps
                .iter()
                .any(|c| c.rule == "reg-f.call-frequency" && c.remaining == 7)
        );
    }
}
