//! Traffic that arrives during the week: short-notice bookings (0–30 minutes
//! before their start) and on-demand lablets in each zone's business hours,
//! and cancellations of any booking before its start.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::traffic::{pick_definition, Booking, Traffic, WeekConfig, DAY};

/// Longest notice of a short-notice booking, minutes.
const MAX_NOTICE_MINUTES: i64 = 30;

/// Adds one weekday's short-notice bookings: in every business hour of every
/// zone, 0 to twice the configured mean, at any minute of the hour.
pub(super) fn add_short_notice(
    config: &WeekConfig,
    rng: &mut ChaCha8Rng,
    traffic: &mut Traffic,
    day: i64,
) {
    for zone in &config.zones {
        for hour in zone.first_hour_utc..zone.last_hour_utc {
            let count = rng.gen_range(0..=2 * config.short_notice_per_zone_hour);
            for _ in 0..count {
                let booked = day * DAY + i64::from(hour) * 3600 + rng.gen_range(0..60i64) * 60;
                let on_demand = rng.gen_bool(config.on_demand_share);
                let notice = if on_demand {
                    0
                } else {
                    rng.gen_range(0..=MAX_NOTICE_MINUTES) * 60
                };
                let definition = pick_definition(rng, &config.definitions);
                let longest = config.definitions[definition].max_minutes;
                let minutes = rng.gen_range(60..=120u32).min(longest);
                traffic.bookings.push(Booking {
                    definition,
                    start_offset_seconds: booked + notice,
                    minutes,
                    owner: format!("short{}", traffic.short_notice),
                    class: None,
                    booked_offset_seconds: Some(booked),
                    on_demand,
                    cancel_offset_seconds: None,
                });
                traffic.short_notice += 1;
            }
        }
    }
}

/// Cancels the configured share of all bookings, each at a random instant
/// between its booking (the week's start for those booked before it) and its
/// start. On-demand lablets are cancelled within their first 30 minutes.
pub(super) fn add_cancellations(config: &WeekConfig, rng: &mut ChaCha8Rng, traffic: &mut Traffic) {
    for booking in &mut traffic.bookings {
        if !rng.gen_bool(config.cancel_share) {
            continue;
        }
        let booked = booking.booked_offset_seconds.unwrap_or(0);
        let until = if booking.on_demand {
            booked + MAX_NOTICE_MINUTES * 60
        } else {
            booking.start_offset_seconds
        };
        booking.cancel_offset_seconds = Some(if until > booked {
            rng.gen_range(booked..until)
        } else {
            booked
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::traffic::generate;
    use super::*;

    #[test]
    fn short_notice_bookings_come_within_30_minutes_of_their_start_and_cancellations_before_it() {
        let config = WeekConfig::short_notice(3);
        let traffic = generate(&config).unwrap_or_else(|e| panic!("{e}"));
        assert!(traffic.short_notice > 100, "{}", traffic.short_notice);
        let short: Vec<&Booking> = traffic
            .bookings
            .iter()
            .filter(|b| b.booked_offset_seconds.is_some())
            .collect();
        assert_eq!(short.len(), traffic.short_notice as usize);
        for booking in &short {
            let booked = booking.booked_offset_seconds.unwrap_or(i64::MIN);
            let notice = booking.start_offset_seconds - booked;
            assert!((0..=1800).contains(&notice), "{booking:?}");
            assert!(!booking.on_demand || notice == 0, "{booking:?}");
            assert!((booked / DAY) % 7 < 5, "weekdays only");
        }
        let on_demand = short.iter().filter(|b| b.on_demand).count() as f64;
        let share = on_demand / short.len() as f64;
        assert!((0.2..0.4).contains(&share), "{share}");
        let cancelled: Vec<&Booking> = traffic
            .bookings
            .iter()
            .filter(|b| b.cancel_offset_seconds.is_some())
            .collect();
        let share = cancelled.len() as f64 / traffic.bookings.len() as f64;
        assert!((0.07..0.13).contains(&share), "{share}");
        for booking in cancelled {
            let at = booking.cancel_offset_seconds.unwrap_or(i64::MIN);
            assert!(
                at >= booking.booked_offset_seconds.unwrap_or(0),
                "{booking:?}"
            );
            assert!(
                booking.on_demand || at <= booking.start_offset_seconds,
                "{booking:?}"
            );
        }
    }

    #[test]
    fn the_default_week_draws_none_of_it() {
        let traffic = generate(&WeekConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(traffic.short_notice, 0);
        assert!(traffic
            .bookings
            .iter()
            .all(|b| b.booked_offset_seconds.is_none() && b.cancel_offset_seconds.is_none()));
    }
}
