//! The week's traffic: lablet definitions of different sizes and a seeded list of
//! bookings — classes on the hour in each zone's business hours on weekdays, plus
//! ad-hoc lablets at any five minutes of those hours, weekends included.

use ccm_core::placement::{InstanceType, PriceTable};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::short_notice::{add_cancellations, add_short_notice};
use super::WeekError;

/// A lablet definition of the week, by size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DefinitionShape {
    /// Definition name.
    pub name: String,
    /// vCPUs a lablet takes.
    pub cpus: u64,
    /// Memory a lablet takes, GiB.
    pub memory_gib: u64,
    /// Disk a lablet takes, GiB.
    pub storage_gib: u64,
    /// CML nodes in its topology.
    pub nodes: u32,
    /// Ports a lablet is given.
    pub ports: u32,
    /// Longest timeslot, minutes.
    pub max_minutes: u32,
    /// Relative frequency among classes and ad-hoc lablets.
    pub weight: u32,
}

impl DefinitionShape {
    fn new(name: &str, size: (u64, u64, u64), nodes: u32, ports: u32, weight: u32) -> Self {
        Self {
            name: name.to_owned(),
            cpus: size.0,
            memory_gib: size.1,
            storage_gib: size.2,
            nodes,
            ports,
            max_minutes: 240,
            weight,
        }
    }
}

/// Business hours of one region, in UTC: classes start on the hour in
/// `first_hour_utc..last_hour_utc`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// The AWS region its students are served from.
    pub region: String,
    /// First class hour (UTC).
    pub first_hour_utc: u32,
    /// Hour after the last class start (UTC).
    pub last_hour_utc: u32,
}

/// What the week looks like.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeekConfig {
    /// Seed of the traffic and of the simulator.
    pub seed: u64,
    /// Days simulated (the first five of every seven are weekdays).
    pub days: u32,
    /// The two (or more) regions and their business hours.
    pub zones: Vec<Zone>,
    /// Lablet definitions.
    pub definitions: Vec<DefinitionShape>,
    /// Probability that a class starts in a zone at a given business hour.
    pub class_probability: f64,
    /// Fewest students in a class.
    pub class_min_students: u32,
    /// Most students in a class.
    pub class_max_students: u32,
    /// Ad-hoc lablets per weekday (over all zones).
    pub adhoc_per_weekday: u32,
    /// Ad-hoc lablets per weekend day.
    pub adhoc_per_weekend_day: u32,
    /// Most workers per region (every policy).
    pub max_workers_per_region: u32,
    /// The one instance type every policy runs, with its capacity and price. One
    /// type keeps worker-hours comparable and the lower bound exact; the engine's
    /// default table would let the autoscaler pick other metal types.
    pub instance_type: InstanceType,
    /// Each worker boot takes up to this many seconds longer than the metal
    /// boot, drawn at random (0: every boot takes the same time).
    #[serde(default)]
    pub boot_jitter_seconds: u32,
    /// How often the engine looks at a booting worker's CML, seconds (the
    /// engine's `booting_monitoring_interval_seconds`; 300 is what every boot
    /// cost before it existed).
    #[serde(default = "default_booting_poll_seconds")]
    pub booting_poll_seconds: u32,
    /// Short-notice bookings per business hour and zone on weekdays, on
    /// average (each hour draws 0 to twice this): booked 0–30 minutes before
    /// their start, during the week (0: none, as in the default week).
    #[serde(default)]
    pub short_notice_per_zone_hour: u32,
    /// Share of the short-notice bookings that are on-demand lablets instead
    /// (no timeslot: the engine answers when it will be ready).
    #[serde(default)]
    pub on_demand_share: f64,
    /// Share of every booking cancelled between its booking and its start.
    #[serde(default)]
    pub cancel_share: f64,
}

fn default_booting_poll_seconds() -> u32 {
    30
}

impl Default for WeekConfig {
    /// The week of issue #11: Europe 08–16 UTC and US East 13–21 UTC, four
    /// definitions from 2 to 16 vCPU, classes of 10–40.
    fn default() -> Self {
        Self {
            seed: 7,
            days: 7,
            zones: vec![
                Zone {
                    region: "eu-west-1".into(),
                    first_hour_utc: 8,
                    last_hour_utc: 16,
                },
                Zone {
                    region: "us-east-1".into(),
                    first_hour_utc: 13,
                    last_hour_utc: 21,
                },
            ],
            definitions: vec![
                DefinitionShape::new("devnet-basics", (2, 4, 10), 2, 1, 2),
                DefinitionShape::new("ccna", (4, 8, 20), 4, 2, 5),
                DefinitionShape::new("ccnp-enterprise", (8, 24, 40), 8, 4, 3),
                DefinitionShape::new("sp-core", (16, 48, 60), 14, 6, 1),
            ],
            class_probability: 0.3,
            class_min_students: 10,
            class_max_students: 40,
            adhoc_per_weekday: 15,
            adhoc_per_weekend_day: 3,
            max_workers_per_region: 60,
            instance_type: PriceTable::default()
                .types
                .into_iter()
                .find(|t| t.name == "m5zn.metal")
                .unwrap_or_else(|| InstanceType::new("m5zn.metal", 48, 192, 1000, 100, 3.9641)),
            boot_jitter_seconds: 0,
            booting_poll_seconds: default_booting_poll_seconds(),
            short_notice_per_zone_hour: 0,
            on_demand_share: 0.0,
            cancel_share: 0.0,
        }
    }
}

impl WeekConfig {
    /// A shorter scenario for tests: two weekdays, smaller classes.
    pub fn short(seed: u64) -> Self {
        Self {
            seed,
            days: 2,
            class_probability: 0.25,
            class_min_students: 10,
            class_max_students: 20,
            adhoc_per_weekday: 6,
            ..Self::default()
        }
    }

    /// The short-notice traffic of issue #18 on top of the default week's: two
    /// weeks, so the second has the first as history; three short-notice
    /// bookings per zone and business hour on average, a third of them
    /// on-demand, and one booking in ten cancelled.
    pub fn short_notice(seed: u64) -> Self {
        Self {
            seed,
            days: 14,
            short_notice_per_zone_hour: 3,
            on_demand_share: 0.3,
            cancel_share: 0.1,
            ..Self::default()
        }
    }

    /// Rejects configurations that cannot generate a week.
    pub fn validate(&self) -> Result<(), WeekError> {
        let bad = |why: &str| Err(WeekError::Config(why.to_owned()));
        if self.days == 0 || self.days > 31 {
            return bad("days must be 1 to 31");
        }
        if self.zones.is_empty() {
            return bad("at least one zone is needed");
        }
        if self
            .zones
            .iter()
            .any(|z| z.first_hour_utc >= z.last_hour_utc || z.last_hour_utc > 24)
        {
            return bad("a zone's hours must satisfy first < last <= 24");
        }
        if self.definitions.is_empty() || self.definitions.iter().all(|d| d.weight == 0) {
            return bad("at least one definition with a weight is needed");
        }
        if self.definitions.iter().any(|d| d.max_minutes < 60) {
            return bad("definitions must allow at least 60 minutes");
        }
        if self.instance_type.node_slots == 0 || self.instance_type.capacity.cpu_millis == 0 {
            return bad("the instance type must offer cpus and node slots");
        }
        if self.boot_jitter_seconds > 3600 {
            return bad("boot_jitter_seconds must be at most 3600");
        }
        if !(1..=3600).contains(&self.booting_poll_seconds) {
            return bad("booting_poll_seconds must be within 1..=3600");
        }
        if !(0.0..=1.0).contains(&self.class_probability) {
            return bad("class_probability must be within 0..=1");
        }
        if self.short_notice_per_zone_hour > 100 {
            return bad("short_notice_per_zone_hour must be at most 100");
        }
        if !(0.0..=1.0).contains(&self.on_demand_share) || !(0.0..=1.0).contains(&self.cancel_share)
        {
            return bad("on_demand_share and cancel_share must be within 0..=1");
        }
        if self.class_min_students == 0 || self.class_min_students > self.class_max_students {
            return bad("class sizes must satisfy 0 < min <= max");
        }
        Ok(())
    }
}

/// One lablet to book.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    /// Index into [`WeekConfig::definitions`].
    pub definition: usize,
    /// Seconds from the start of the week to the lablet's start.
    pub start_offset_seconds: i64,
    /// Length of the timeslot, minutes.
    pub minutes: u32,
    /// Owner.
    pub owner: String,
    /// The class it belongs to; `None` for ad-hoc lablets.
    pub class: Option<u32>,
    /// Seconds from the start of the week to when it is booked; `None`: before
    /// the week begins.
    #[serde(default)]
    pub booked_offset_seconds: Option<i64>,
    /// Booked as an on-demand lablet at `booked_offset_seconds`: the engine
    /// picks its start, and `start_offset_seconds` is when it was asked for.
    #[serde(default)]
    pub on_demand: bool,
    /// Seconds from the start of the week to its cancellation, before its start.
    #[serde(default)]
    pub cancel_offset_seconds: Option<i64>,
}

impl Booking {
    /// Seconds from the start of the week to the lablet's end.
    pub fn end_offset_seconds(&self) -> i64 {
        self.start_offset_seconds + i64::from(self.minutes) * 60
    }
}

/// The week's bookings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    /// Every booking, in generation order.
    pub bookings: Vec<Booking>,
    /// Classes held.
    pub classes: u32,
    /// Ad-hoc lablets.
    pub adhoc: u32,
    /// Short-notice bookings (on-demand ones included).
    #[serde(default)]
    pub short_notice: u32,
}

pub(super) fn pick_definition(rng: &mut ChaCha8Rng, definitions: &[DefinitionShape]) -> usize {
    let total: u32 = definitions.iter().map(|d| d.weight).sum();
    let mut ticket = rng.gen_range(0..total.max(1));
    for (index, definition) in definitions.iter().enumerate() {
        if ticket < definition.weight {
            return index;
        }
        ticket -= definition.weight;
    }
    0
}

pub(super) const DAY: i64 = 86_400;

/// Generates the week's bookings from the seed.
pub fn generate(config: &WeekConfig) -> Result<Traffic, WeekError> {
    config.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut traffic = Traffic {
        bookings: Vec::new(),
        classes: 0,
        adhoc: 0,
        short_notice: 0,
    };
    for day in 0..i64::from(config.days) {
        let weekday = day % 7 < 5;
        if weekday {
            for zone in &config.zones {
                for hour in zone.first_hour_utc..zone.last_hour_utc {
                    if !rng.gen_bool(config.class_probability) {
                        continue;
                    }
                    let class = traffic.classes;
                    traffic.classes += 1;
                    let definition = pick_definition(&mut rng, &config.definitions);
                    let longest = config.definitions[definition].max_minutes;
                    // Half-day classes of two to four hours, never past the definition's limit.
                    let minutes = (rng.gen_range(2..=4u32) * 60).min(longest);
                    let students =
                        rng.gen_range(config.class_min_students..=config.class_max_students);
                    for student in 0..students {
                        traffic.bookings.push(Booking {
                            definition,
                            start_offset_seconds: day * DAY + i64::from(hour) * 3600,
                            minutes,
                            owner: format!("class{class}-student{student}"),
                            class: Some(class),
                            booked_offset_seconds: None,
                            on_demand: false,
                            cancel_offset_seconds: None,
                        });
                    }
                }
            }
        }
        let adhoc = if weekday {
            config.adhoc_per_weekday
        } else {
            config.adhoc_per_weekend_day
        };
        for _ in 0..adhoc {
            let zone = &config.zones[rng.gen_range(0..config.zones.len())];
            let span_minutes = i64::from(zone.last_hour_utc - zone.first_hour_utc) * 60;
            let minute = rng.gen_range(0..span_minutes / 5) * 5;
            let definition = pick_definition(&mut rng, &config.definitions);
            let longest = config.definitions[definition].max_minutes;
            let minutes = rng.gen_range(60..=120u32).min(longest);
            traffic.bookings.push(Booking {
                definition,
                start_offset_seconds: day * DAY
                    + i64::from(zone.first_hour_utc) * 3600
                    + minute * 60,
                minutes,
                owner: format!("adhoc{}", traffic.adhoc),
                class: None,
                booked_offset_seconds: None,
                on_demand: false,
                cancel_offset_seconds: None,
            });
            traffic.adhoc += 1;
        }
        // Drawn only when asked for, so the default week's stream is unchanged.
        if config.short_notice_per_zone_hour > 0 && weekday {
            add_short_notice(config, &mut rng, &mut traffic, day);
        }
    }
    if config.cancel_share > 0.0 {
        add_cancellations(config, &mut rng, &mut traffic);
    }
    Ok(traffic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_books_the_same_week_and_another_seed_another() {
        let a = generate(&WeekConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        let b = generate(&WeekConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, b);
        let other = WeekConfig {
            seed: 8,
            ..WeekConfig::default()
        };
        assert_ne!(a, generate(&other).unwrap_or_else(|e| panic!("{e}")));
    }

    #[test]
    fn classes_start_on_the_hour_on_weekdays_within_business_hours() {
        let config = WeekConfig::default();
        let traffic = generate(&config).unwrap_or_else(|e| panic!("{e}"));
        assert!(traffic.classes > 0 && traffic.adhoc > 0);
        for booking in traffic.bookings.iter().filter(|b| b.class.is_some()) {
            assert_eq!(booking.start_offset_seconds % 3600, 0);
            let day = booking.start_offset_seconds / DAY;
            assert!(day % 7 < 5, "class on a weekend");
            let hour = (booking.start_offset_seconds % DAY) / 3600;
            assert!(config.zones.iter().any(|z| (i64::from(z.first_hour_utc)
                ..i64::from(z.last_hour_utc))
                .contains(&hour)));
        }
        let mut sizes = std::collections::BTreeMap::new();
        for booking in &traffic.bookings {
            if let Some(class) = booking.class {
                *sizes.entry(class).or_insert(0u32) += 1;
            }
        }
        assert!(sizes.values().all(|n| (10..=40).contains(n)));
    }

    #[test]
    fn bad_configurations_are_refused() {
        let too_few = WeekConfig {
            class_min_students: 50,
            ..WeekConfig::default()
        };
        assert!(generate(&too_few).is_err());
        let nowhere = WeekConfig {
            zones: Vec::new(),
            ..WeekConfig::default()
        };
        assert!(generate(&nowhere).is_err());
    }
}
