"""What the demo reuses instead of solving again: a capacity check takes results already known."""

import numpy as np
import pytest

from surgeguard import TrafficSeries
from surgeguard.evaluate import replay
from surgeguard.examples import triangle
from surgeguard.exceptions import ValidationError
from surgeguard.plan.capacity import check_capacity
from surgeguard.routing import k_shortest_paths
from surgeguard.scenario import Lockdown, gravity_series


@pytest.fixture(scope="module")
def setup():
    net = triangle(10e9)
    base = gravity_series(net, "2020-03-18", 48, "1h", total_bps=12e9, random_state=1)
    series = Lockdown(start="2020-03-19T00:00Z", growth=1.0, ramp_days=0).apply(base, network=net)
    return net, k_shortest_paths(net, k=2), series


def test_check_capacity_takes_known_results(setup):
    net, paths, series = setup
    caps = {"before": net.capacity, "plan": net.capacity * 1.5}
    full = check_capacity(net, paths, series, caps, start=10)
    n = len(series) - 10
    mlu = np.linspace(0.5, 1.5, n)
    lost = np.full(n, 1e9)
    part = check_capacity(net, paths, series, caps, start=10, known={"before": {"optimal": (mlu, lost)}})
    # the known policy is taken as given, everything else is what a full check computes
    assert np.array_equal(part.per_step["before"]["optimal"], mlu)
    for variant, pols in full.per_step.items():
        assert list(part.per_step[variant]) == list(pols)
        for p, v in pols.items():
            if (variant, p) != ("before", "optimal"):
                assert np.allclose(part.per_step[variant][p], v, rtol=1e-9, atol=1e-12)
    row = part.frame.set_index(["variant", "policy"]).loc[("before", "optimal")]
    assert row["mlu_max"] == pytest.approx(1.5)
    assert row["intervals_over_1"] == int((mlu > 1 + 1e-9).sum())
    assert row["lost_bits"] == pytest.approx(1e9 * n * 3600)
    # given the full check's own numbers back, the frame is the full check's
    again = check_capacity(net, paths, series, caps, start=10,
                           known={"before": {"optimal": (full.per_step["before"]["optimal"],
                                                         np.zeros(n))}})
    a = again.frame.set_index(["variant", "policy"])
    f = full.frame.set_index(["variant", "policy"])
    assert a.loc[("before", "optimal"), "mlu_max"] == f.loc[("before", "optimal"), "mlu_max"]
    assert a.loc[("plan", "oracle"), "mlu_max"] == pytest.approx(f.loc[("plan", "oracle"), "mlu_max"], rel=1e-9)


def test_check_capacity_refuses_known_results_that_do_not_fit(setup):
    net, paths, series = setup
    caps = {"before": net.capacity}
    n = len(series) - 10
    with pytest.raises(ValidationError, match="one of each per checked step"):
        check_capacity(net, paths, series, caps, start=10, known={"before": {"optimal": (np.ones(n - 1), np.zeros(n - 1))}})
    with pytest.raises(ValidationError, match="checks only"):
        check_capacity(net, paths, series, caps, start=10, policies=("shortest",),
                       known={"before": {"optimal": (np.ones(n), np.zeros(n))}})


def test_replay_of_the_class_total_is_the_replay_of_the_classes(setup):
    # the demo replays the total of its classes (summed once) instead of the per-class series
    net, paths, _ = setup
    series = gravity_series(net, "2020-03-18", 30, "1h", total_bps=12e9, random_state=2,
                            classes={"critical": 0.2, "bulk": 0.8})
    total = TrafficSeries(series.total, series.nodes, series.times, name=series.name)
    a = replay(net, paths, series, ["shortest", "optimal"], start=4, progress=False).steps
    b = replay(net, paths, total, ["shortest", "optimal"], start=4, progress=False).steps
    cols = ["step", "policy", "mlu", "oracle_mlu", "ratio", "demand_bps", "lost_bps"]
    assert series.classes is not None and a[cols].equals(b[cols])
