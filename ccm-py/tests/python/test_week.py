"""The simulated week from Python: ccm's autoscaler against the predecessor's
reactive rule on one seeded weekday, run through the real engine."""

import pytest

import ccm


def test_one_day_compares_the_policies_as_the_rust_week_does():
    autoscaler = ccm.simulate_week("autoscaler", seed=7, days=1)
    reactive = ccm.simulate_week("reactive", seed=7, days=1)
    for report in (autoscaler, reactive):
        assert report["days"] == 1
        assert report["lablets"] > 0
        assert 0 < report["lower_bound_worker_hours"] <= report["worker_hours"]
        assert report["cost_usd"] > 0
        assert report["timeline"], "workers over time"
    assert autoscaler["policy"] == "autoscaler"
    assert autoscaler["lateness"]["late"] == 0, autoscaler["lateness"]
    assert reactive["lateness"]["late"] > 0, "starting on demand makes students wait"
    # The same seed gives the same answer.
    assert ccm.simulate_week("autoscaler", seed=7, days=1)["worker_hours"] == autoscaler["worker_hours"]


def test_bad_arguments_are_invalid_input():
    with pytest.raises(ccm.InvalidInput) as raised:
        ccm.simulate_week("cheapest")
    assert raised.value.details["field"] == "policy"
    with pytest.raises(ccm.InvalidInput):
        ccm.simulate_week(days=0)


def test_short_notice_traffic_is_reported_and_the_warm_pool_policy_is_known():
    report = ccm.simulate_week("autoscaler-warm-pool", seed=7, days=1, short_notice=True)
    assert report["policy"] == "autoscaler-warm-pool"
    counted = report["short_notice"]
    assert counted["from_day"] == 0
    assert counted["booked"] + counted["on_demand"] > 0, counted
    assert 0 <= counted["on_time"] <= counted["booked"]
    assert 0 <= counted["on_demand_on_time"] <= counted["on_demand"]
    plain = ccm.simulate_week("autoscaler", seed=7, days=1)
    assert plain["short_notice"]["booked"] == 0, "the default week books nothing at short notice"
