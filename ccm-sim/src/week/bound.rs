//! The boot-aware lower bound: the worker-seconds any fleet that has every
//! lablet ready at its start must bill.
//!
//! A lablet takes its capacity from the moment its lab is imported — at the
//! latest `ready_before` seconds before its start, the time a lab takes to come
//! up — to its end. At each instant the lablets holding capacity need at least
//! `n(t)` whole workers (their summed demand over one worker's capacity in the
//! tightest dimension, rounded up), so `∫ n(t) dt` is billed at the least.
//! Think of `n(t)` as slots: slot `k` is needed while `n(t) ≥ k`. Each time a slot
//! becomes needed a worker must already be up: it was booting for
//! `boot_seconds` before, or it was kept running through the gap since the slot
//! was last needed — whichever is shorter. That time lies outside `∫ n(t) dt`,
//! so the sum of both is still a bound.

use ccm_core::time::{seconds_between, Timestamp};

/// Worker-seconds the demand forces: `∫ n(t) dt` plus the boots (or idle gaps)
/// before each rise of `n`.
///
/// `lablets` are `(start, end, demand)`, the start already moved back by the
/// time a lab takes to come up; demand is in the units `workers_needed` turns
/// into whole workers (the tightest dimension, rounded up).
pub(crate) fn boot_aware_bound_seconds(
    lablets: &[(Timestamp, Timestamp, [f64; 4])],
    boot_seconds: i64,
    workers_needed: impl Fn([f64; 4]) -> usize,
) -> i64 {
    // Ends sort before starts at one instant: a lablet handing over to the next
    // on the same worker needs no new worker.
    let mut changes: Vec<(Timestamp, bool, usize)> = Vec::with_capacity(lablets.len() * 2);
    for (index, (start, end, _)) in lablets.iter().enumerate() {
        if start < end {
            changes.push((*start, true, index));
            changes.push((*end, false, index));
        }
    }
    changes.sort_unstable();
    let mut demand = [0.0f64; 4];
    let mut needed_since_ended: Vec<Option<Timestamp>> = Vec::new();
    let mut active = 0usize;
    let mut forced = 0i64;
    let mut previous: Option<Timestamp> = None;
    let mut i = 0;
    while i < changes.len() {
        let at = changes[i].0;
        if let Some(since) = previous {
            forced += seconds_between(since, at) * active as i64;
        }
        previous = Some(at);
        while i < changes.len() && changes[i].0 == at {
            let (_, starting, index) = changes[i];
            let sign = if starting { 1.0 } else { -1.0 };
            for (sum, need) in demand.iter_mut().zip(lablets[index].2) {
                *sum += sign * need;
            }
            i += 1;
        }
        let needed = workers_needed(demand);
        while active < needed {
            let gap = match needed_since_ended.get(active).copied().flatten() {
                Some(ended) => seconds_between(ended, at).min(boot_seconds),
                None => boot_seconds,
            };
            forced += gap.max(0);
            active += 1;
        }
        while active > needed {
            active -= 1;
            if needed_since_ended.len() <= active {
                needed_since_ended.resize(active + 1, None);
            }
            needed_since_ended[active] = Some(at);
        }
    }
    forced
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::time::{from_unix_seconds, plus_seconds};

    fn at(minutes: i64) -> Timestamp {
        plus_seconds(from_unix_seconds(1_800_000_000), minutes * 60)
    }

    fn one_per_unit(demand: [f64; 4]) -> usize {
        demand[0].ceil() as usize
    }

    #[test]
    fn the_need_in_whole_workers_plus_each_first_need_costs_a_boot_and_short_gaps_the_gap() {
        let boot = 25 * 60;
        let lablets = [
            // Two workers from 0 to 60: two boots.
            (at(0), at(60), [2.0, 0.0, 0.0, 0.0]),
            // One worker again 10 minutes later: the gap (10 min) is cheaper.
            (at(70), at(100), [1.0, 0.0, 0.0, 0.0]),
            // One worker again two hours later: a boot.
            (at(220), at(280), [1.0, 0.0, 0.0, 0.0]),
        ];
        let bound = boot_aware_bound_seconds(&lablets, boot, one_per_unit);
        let needed = (2 * 60 + 30 + 60) * 60;
        assert_eq!(bound, needed + 2 * boot + 10 * 60 + boot);
        // Half a worker's demand still needs a whole worker.
        let half = [(at(0), at(60), [0.5, 0.0, 0.0, 0.0])];
        assert_eq!(boot_aware_bound_seconds(&half, 0, one_per_unit), 3600);
    }

    #[test]
    fn a_hand_over_at_one_instant_needs_no_new_worker() {
        let lablets = [
            (at(0), at(60), [1.0, 0.0, 0.0, 0.0]),
            (at(60), at(120), [1.0, 0.0, 0.0, 0.0]),
        ];
        assert_eq!(
            boot_aware_bound_seconds(&lablets, 1500, one_per_unit),
            7200 + 1500
        );
        assert_eq!(boot_aware_bound_seconds(&[], 1500, one_per_unit), 0);
    }
}
