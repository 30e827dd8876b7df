"""Routing on the real data in ../shared/data (skipped with a message where it is absent)."""

import numpy as np
import pytest

from surgeguard.evaluate import evaluate, replay
from surgeguard.io import GEANT_NODES, read_dote_hist, read_network, read_sndlib_demands
from surgeguard.routing import k_shortest_paths, read_tunnels_file, solve


@pytest.fixture(scope="module")
def geant(shared_data):
    d = shared_data / "geant" / "dote_format"
    net = read_network(str(d / "GEANT.json"))
    ps = read_tunnels_file(net, d / "tunnels.txt")
    hist = read_dote_hist(d / "train" / "5.hist", nodes=net)
    opt = np.loadtxt(d / "train" / "5.opt")
    return net, ps, hist, opt


def test_optimal_reproduces_published_geant_optimum(geant):
    """The 16 reference TMs: our LP equals FIGRET's published optimal MLU to 1e-6 relative."""
    net, ps, hist, opt = geant
    assert len(hist) == 16 and ps.n_paths == 1386
    for i in range(16):
        r = solve(net, ps, hist.matrix(i), "optimal")
        assert r.info["mlu"] == pytest.approx(opt[i], rel=1e-6)
        assert evaluate(net, r, hist.matrix(i)).mlu == pytest.approx(opt[i], rel=1e-6)


def test_optimal_simplex_and_ipm_agree(geant):
    net, ps, hist, opt = geant
    a = solve(net, ps, hist.matrix(3), "optimal", solver="simplex").info["mlu"]
    b = solve(net, ps, hist.matrix(3), "optimal", solver="ipm").info["mlu"]
    assert a == pytest.approx(b, rel=1e-6)


def test_abilene_replay_on_real_series(shared_data):
    d = shared_data / "abilene"
    net = read_network(str(d / "topology" / "sndlib_abilene.xml"))
    ts = read_sndlib_demands(d / "sndlib_abilene_5min_xml_20040301-20040310.tar.xz", nodes=net)
    assert len(ts) == 2880 and ts.step.total_seconds() == 300
    ps = k_shortest_paths(net, k=4)
    res = replay(net, ps, ts, ["shortest", "optimal"], start=1000, stop=1024, progress=False)
    s = res.summary()["policies"]
    assert s["oracle"]["ratio_max"] == pytest.approx(1.0)
    # the oracle is a lower bound for every policy at every step
    assert (res.steps["ratio"] >= 1 - 1e-6).all()
    assert s["optimal"]["mlu_mean"] <= s["shortest"]["mlu_mean"] + 1e-9
