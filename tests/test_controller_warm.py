"""The controller hands each interval's estimator state to the next (warm-started conjugate
gradients, issue 12's 1,000-node target): its estimates are those of a cold estimate of the same
measurements to within the solver's tolerance, and the later intervals start warm and need fewer
iterations than they would cold."""

from __future__ import annotations

import numpy as np

from surgeguard.estimate import get_estimator
from surgeguard.examples import morocco
from surgeguard.igp import ecmp_routing_matrix
from surgeguard.plan import size_capacities
from surgeguard.scenario import gravity_series
from surgeguard.serve.config import RunConfig
from surgeguard.serve.controller import Controller
from surgeguard.telemetry import LinkLoads
from surgeguard.telemetry.sources import LoadsSource


def test_controller_estimates_warm_and_agrees_with_cold_estimates():
    net = morocco()
    ts = gravity_series(net, "2020-03-19", 16, "5min", total_bps=800e9, random_state=0)
    net = size_capacities(net, ts, target_util=0.6)
    rm = ecmp_routing_matrix(net)
    loads = LinkLoads.from_traffic(rm, ts)
    cfg = RunConfig().replace({"controller.step": "5min", "controller.history": "1h", "policy.name": "shortest",
                               "forecast.model": "naive", "detect.detector": "none", "metrics.enabled": False},
                              where="python")
    ctl = Controller(net, LoadsSource(loads, network=net), None, config=cfg, log=lambda line: None,
                     routing_matrix=rm)
    # Morocco is small enough for the dense solver; ask for conjugate gradients, as at 1,000 nodes
    ctl.estimator = get_estimator("tomogravity", solver="cg", tol=1e-9, max_iter=2000, missing="skip")
    try:
        ctl.start(ts.times[12])
        res = ctl.run(max_intervals=4)
    finally:
        ctl.close()
    assert [r.ds for r in res] == list(ts.times[12:16])
    assert ctl.estimator.info_[0]["start"] == "warm" and ctl.estimator_warm is ctl.estimator.warm_
    warm_iterations = ctl.estimator.info_[0]["iterations"]
    aligned = loads.align(net)
    cold = get_estimator("tomogravity", solver="cg", tol=1e-9, max_iter=2000, missing="skip")
    for k, r in zip(range(12, 16), res):
        x = cold.predict(rm, aligned.bps[k:k + 1], aligned.ingress[k:k + 1], aligned.egress[k:k + 1])
        assert cold.info_[0]["start"] == "cold"
        assert np.allclose(r.estimate, x[0], rtol=1e-6, atol=1e-7 * x.max())
    assert warm_iterations < cold.info_[0]["iterations"]  # the last interval, warm against cold
