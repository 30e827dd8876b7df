"""The ``fast`` policy: correctness invariants on small networks, against the exact LP."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from surgeguard.examples import ring, triangle, two_paths  # noqa: E402
from surgeguard.io import read_topohub  # noqa: E402
from surgeguard.network import Network  # noqa: E402
from surgeguard.plan import size_capacities  # noqa: E402
from surgeguard.routing import Optimal, Routing, k_shortest_paths  # noqa: E402
from surgeguard.optimise.first_order import FastOperator, get_operator, solve_fast, tight_dual_bound  # noqa: E402
from surgeguard.routing.fast import FastTE  # noqa: E402
import surgeguard.optimise.first_order as first_order  # noqa: E402
from surgeguard.scenario import gravity_matrix  # noqa: E402


def _instance(key, method, seed=0):
    net = read_topohub(key)
    rng = np.random.default_rng(seed)
    tm = gravity_matrix(net, 10e9 * net.n_nodes, weights=rng.lognormal(0, 1, net.n_nodes))
    net = size_capacities(net, tm, target_util=0.6)
    ps = k_shortest_paths(net, k=4, method=method)
    return net, ps, tm


@pytest.fixture(scope="module", params=[("sndlib/abilene", "yen"), ("sndlib/geant", "deviation"),
                                        ("sndlib/germany50", "deviation")])
def case(request):
    key, method = request.param
    net, ps, tm = _instance(key, method)
    lp = Optimal(solver="simplex", second_stage=False).route(net, ps, tm)
    fast = FastTE(device="cpu", threads=1, tol=0.01).route(net, ps, tm)
    return net, ps, tm, lp, fast


def test_splits_are_a_distribution_per_od(case):
    net, ps, tm, lp, fast = case
    s = fast.splits
    assert (s >= 0).all()
    np.testing.assert_allclose(ps.od_sum(s), 1.0, atol=1e-9)


def test_reported_mlu_is_the_incidence_product(case):
    net, ps, tm, lp, fast = case
    util = (ps.incidence @ (fast.splits * ps.demand(tm)[ps.path_od])) / net.capacity
    assert fast.info["mlu"] == pytest.approx(util.max(), rel=1e-6)
    np.testing.assert_allclose(fast.link_loads(tm), ps.incidence @ fast.path_flows(tm))


def test_mlu_near_optimum_and_bound_below_it(case):
    net, ps, tm, lp, fast = case
    opt = lp.info["mlu"]
    assert fast.info["status"] == "converged"
    assert fast.info["lower_bound"] <= opt * (1 + 1e-7)
    assert fast.info["mlu"] >= opt * (1 - 1e-7)
    assert fast.info["mlu"] <= opt * 1.01 + 1e-12
    assert fast.info["gap"] == pytest.approx(1 - fast.info["lower_bound"] / fast.info["mlu"])
    assert fast.info["gap"] <= 0.01


def test_warm_start_needs_fewer_iterations(case):
    net, ps, tm, lp, fast = case
    rng = np.random.default_rng(7)
    tm2 = tm * rng.uniform(0.9, 1.1, tm.shape)
    cold = FastTE(device="cpu", threads=1, tol=0.01).route(net, ps, tm2)
    warm = FastTE(device="cpu", threads=1, tol=0.01).route(net, ps, tm2, warm=fast)
    assert warm.info["iterations"] <= cold.info["iterations"]
    assert warm.info["gap"] <= 0.01
    # a warm start from another policy's routing (no link weights to start from) works too
    again = FastTE(device="cpu", threads=1, tol=0.01).route(net, ps, tm2, warm=lp)
    assert again.info["gap"] <= 0.01


@pytest.mark.parametrize("compressed", [True, False])
def test_operator_matches_incidence(compressed):
    net, ps, tm = _instance("sndlib/germany50", "deviation")
    op = FastOperator(ps, "cpu", compressed=compressed)
    assert op.kind == ("tree" if compressed else "links")
    rng = np.random.default_rng(1)
    f = rng.random(ps.n_paths)
    slots = np.zeros(op.n_od * op.K)
    slots[op.slot_of_path] = f
    got = op.loads(torch.tensor(slots, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(got, ps.incidence @ f, rtol=1e-9)
    y = rng.random(ps.n_links)
    pr = op.prices(torch.tensor(y, dtype=torch.float64)).numpy()[op.slot_of_path]
    np.testing.assert_allclose(pr, ps.incidence.T @ y, rtol=1e-9)


def test_yen_paths_use_the_link_operator():
    net, ps, tm = _instance("sndlib/abilene", "yen")
    with pytest.raises(Exception, match="deviation"):
        FastOperator(ps, "cpu", compressed=True)
    assert FastOperator(ps, "cpu").kind == "links"


def test_path_mask_forces_zero_share():
    net, ps, tm = _instance("sndlib/geant", "deviation")
    failed = int(np.argmax(net.capacity))
    on = np.zeros(ps.n_paths, bool)
    on[np.repeat(np.arange(ps.n_paths), ps.hops)[ps.link_idx == failed]] = True
    usable = ~on
    keep = ps.od_sum(usable.astype(int)) > 0
    tm = tm.copy()
    tm[ps.od_src[~keep], ps.od_dst[~keep]] = 0.0   # ODs the failure cuts off carry nothing
    splits, info = solve_fast(net, ps, tm, device="cpu", threads=1, path_mask=usable, tol=0.01)
    assert (splits[on & keep[ps.path_od]] == 0).all()     # cut-off ODs (no demand) keep any split
    np.testing.assert_allclose(ps.od_sum(splits), 1.0)
    loads = ps.incidence @ (splits * ps.demand(tm)[ps.path_od])
    assert loads[failed] == 0
    assert info["gap"] <= 0.01
    # the bound holds for the masked problem: an LP over the usable paths only
    sub = ps.subset(usable)
    opt = Optimal(solver="simplex", second_stage=False).route(net, sub, tm).info["mlu"]
    assert info["lower_bound"] <= opt * (1 + 1e-7) <= info["mlu"] * (1 + 1e-7)


def test_stranded_od_is_a_clear_error():
    net = two_paths()
    ps = k_shortest_paths(net, k=2)
    tm = np.zeros((net.n_nodes,) * 2)
    tm[0, -1] = 1e9
    k = ps.od_lookup[0, net.n_nodes - 1]
    mask = np.ones(ps.n_paths, bool)
    mask[ps.od_ptr[k]:ps.od_ptr[k + 1]] = False
    with pytest.raises(Exception, match="no usable path"):
        solve_fast(net, ps, tm, device="cpu", threads=1, path_mask=mask)


@pytest.mark.parametrize("make", [triangle, lambda: ring(6), two_paths])
def test_tiny_networks_reach_the_lp(make):
    net = make()
    ps = k_shortest_paths(net, k=3)
    rng = np.random.default_rng(2)
    tm = rng.uniform(0.1, 1.0, (net.n_nodes, net.n_nodes)) * 1e9
    np.fill_diagonal(tm, 0.0)
    opt = Optimal(solver="simplex", second_stage=False).route(net, ps, tm).info["mlu"]
    r = FastTE(device="cpu", threads=1, tol=0.002).route(net, ps, tm)
    assert isinstance(r, Routing) and r.policy == "fast"
    assert opt * (1 - 1e-7) <= r.info["mlu"] <= opt * 1.002 + 1e-12
    assert r.info["lower_bound"] <= opt * (1 + 1e-7)


def test_zero_demand():
    net = two_paths()
    ps = k_shortest_paths(net, k=2)
    r = FastTE(device="cpu", threads=1).route(net, ps, np.zeros((net.n_nodes,) * 2))
    assert r.info["mlu"] == 0.0 and r.info["gap"] == 0.0


def test_float32_certificate_is_conservative(case, monkeypatch):
    """Large problems certify in float32 with a margin: the bound stays below the optimum and the
    reported MLU above the routing's true MLU."""
    net, ps, tm, lp, _ = case
    monkeypatch.setattr(first_order, "CERTIFY_F64_MAX_NNZ", 0)
    r = FastTE(device="cpu", threads=1, tol=0.01).route(net, ps, tm)
    true = ((ps.incidence @ (r.splits * ps.demand(tm)[ps.path_od])) / net.capacity).max()
    assert r.info["mlu"] >= true * (1 - 1e-9)
    assert r.info["lower_bound"] <= lp.info["mlu"] * (1 + 1e-7)


@pytest.mark.parametrize("chunk", [1 << 24, 64])
def test_forced_links_are_those_on_every_usable_path(chunk, monkeypatch):
    """The forced-link bound's (OD, link) pairs against a set intersection per OD, with and
    without a failed link, in one sort and in many small chunks."""
    monkeypatch.setattr(FastOperator, "FORCED_CHUNK", chunk)
    net, ps, tm = _instance("sndlib/geant", "deviation")
    op = FastOperator(ps, "cpu")
    link_of = [set(ps.link_idx[ps.link_ptr[p]:ps.link_ptr[p + 1]].tolist()) for p in range(ps.n_paths)]
    failed = int(np.argmax(np.bincount(ps.link_idx, minlength=ps.n_links)))
    usable = np.array([failed not in s for s in link_of])

    def expected(mask):
        pairs = set()
        for k in range(ps.n_od):
            sets = [link_of[p] for p in range(ps.od_ptr[k], ps.od_ptr[k + 1]) if mask[p]]
            if sets:
                pairs |= {(k, l) for l in set.intersection(*sets)}
        return pairs

    o, l = op.forced_pairs
    assert set(zip(o.tolist(), l.tolist())) == expected(np.ones(ps.n_paths, bool))
    assert len(o) > 0
    d = ps.demand(tm)
    fu = op.forced_util(d, net.capacity, ps, usable)
    want = np.zeros(ps.n_links)
    for k, lk in expected(usable):
        want[lk] += d[k]
    np.testing.assert_allclose(fu, want / net.capacity)
    # a bound: no routing over the usable paths does better (shortest usable path here)
    assert fu.max() > 0


def test_tight_link_dual_lp_is_a_valid_bound_and_exact_on_all_links():
    """The small dual LP over the most loaded links gives prices whose bound never exceeds the LP
    optimum, and reaches it when every link is in the set."""
    net, ps, tm = _instance("sndlib/germany50", "deviation")
    opt = Optimal(solver="simplex", second_stage=False).route(net, ps, tm).info["mlu"]
    op = get_operator(ps, "cpu")
    d = ps.demand(tm)
    first = np.zeros(ps.n_paths)
    first[ps.od_ptr[:-1]] = 1.0
    u = (ps.incidence @ (first * d[ps.path_od])) / net.capacity     # shortest-path utilisations
    live = op.valid

    def bound(y):
        y = y / (y * net.capacity).sum()
        pr = ps.incidence.T @ y
        return float((d * ps.od_min(pr)).sum())

    for delta in (0.05, 0.2, 1.0):
        y = tight_dual_bound(ps, op, u, d, net.capacity, live, delta=delta)
        if y is None:
            continue
        assert (y >= 0).all()
        assert bound(y) <= opt * (1 + 1e-7)
    y = tight_dual_bound(ps, op, u, d, net.capacity, live, delta=1.0)
    assert y is not None and bound(y) == pytest.approx(opt, rel=1e-6)


def test_slots_are_rank_major_and_auto_operator_prefers_the_cheaper_form():
    """Slot ``r * n_od + k`` holds OD k's r-th path (per-OD reductions over the first axis); with
    ``compressed=None`` a deviation path set gets the plain matrix unless the tree form has far
    fewer non-zeros."""
    net, ps, tm = _instance("sndlib/germany50", "deviation")
    op = FastOperator(ps, "cpu")
    assert op.shape == (op.K, ps.n_od) and tuple(op.valid.shape) == op.shape
    rank = np.arange(ps.n_paths) - np.repeat(ps.od_ptr[:-1], ps.paths_per_od)
    np.testing.assert_array_equal(op.slot_of_path, rank * ps.n_od + ps.path_od)
    ratio = len(ps.link_idx) / len(ps.meta["_trees"]["q_idx"])
    assert op.kind == ("tree" if ratio > FastOperator.TREE_MIN_RATIO else "links")


@pytest.mark.parametrize("compressed", [True, False])
def test_prices_of_many_vectors_match_one_at_a_time(compressed):
    net, ps, tm = _instance("sndlib/geant", "deviation")
    op = FastOperator(ps, "cpu", compressed=compressed)
    Y = torch.rand(ps.n_links, 3, dtype=torch.float64)
    many = op.prices_many(Y)
    for j in range(3):
        np.testing.assert_allclose(many[:, j].numpy(), op.prices(Y[:, j].contiguous()).numpy(), rtol=1e-12)


def test_warm_start_after_a_failure_is_a_certified_routing_of_the_masked_problem(case):
    """The share the warm routing had on failed paths is spread over each OD's usable paths: the
    splits stay on the simplex, failed paths carry nothing, and the bound holds for the masked LP."""
    net, ps, tm, lp, fast = case
    usable, tm2 = _fail_most_loaded(net, ps, tm, fast)
    on = ~usable
    keep = ps.od_sum(usable.astype(int)) > 0
    splits, info = solve_fast(net, ps, tm2, device="cpu", threads=1, path_mask=~on, warm=fast, tol=0.01)
    assert (splits >= 0).all()
    np.testing.assert_allclose(ps.od_sum(splits), 1.0, atol=1e-9)
    assert (splits[on & keep[ps.path_od]] == 0).all()
    assert info["gap"] <= 0.01 and info["status"] == "converged"
    opt = Optimal(solver="simplex", second_stage=False).route(net, ps.subset(~on), tm2).info["mlu"]
    assert info["lower_bound"] <= opt * (1 + 1e-7) <= info["mlu"] * (1 + 1e-7)


def test_bound_lp_rows_drop_supersets_and_merge_equal_ods():
    """The reduction of the bound LP: a path whose links of S include another path's of the same OD
    is dropped; ODs left with the same link sets merge, their demands summed."""
    # rows (paths) in OD order; S-links per row as (row, column) pairs
    t_of = np.array([0, 0, 1, 1, 2, 3, 3])
    d = np.array([1.0, 2.0, 4.0, 8.0])
    sets = [[0], [0, 1], [1, 0], [0], [1], [2], [0, 2]]
    e_row = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    e_col = np.concatenate([np.array(s) for s in sets])
    grp, d_grp, rows, cols = first_order._merge_od_rows(t_of, d, e_row, e_col, 3)
    # ODs 0 and 1 keep {0} only and merge; OD 2 keeps {1}; OD 3 keeps {2}
    assert len(d_grp) == 3 and sorted(d_grp) == [3.0, 4.0, 8.0]
    got = sorted((float(d_grp[grp[r]]), tuple(sorted(cols[rows == r]))) for r in range(len(grp)))
    assert got == [(3.0, (0,)), (4.0, (1,)), (8.0, (2,))]


def test_reduced_bound_lp_has_the_optimum_of_the_full_one():
    """tight_dual_bound (with its rows reduced) reaches the optimum of the LP over all paths of the
    ODs that must cross the links near the top, built here without any reduction."""
    from scipy.optimize import linprog

    net, ps, tm = _instance("sndlib/germany50", "deviation")
    op = get_operator(ps, "cpu")
    d = ps.demand(tm)
    first = np.zeros(ps.n_paths)
    first[ps.od_ptr[:-1]] = 1.0
    u = (ps.incidence @ (first * d[ps.path_od])) / net.capacity
    inc = ps.incidence.tocsc()
    for delta in (0.1, 0.3):
        y = tight_dual_bound(ps, op, u, d, net.capacity, op.valid, delta=delta)
        S = np.flatnonzero(u >= u.max() * (1 - delta))
        onS = np.asarray(inc[S, :].sum(axis=0)).ravel()             # links of S on each path
        rel = np.flatnonzero((ps.od_min(onS) >= 1) & (d > 0))
        if not len(rel):
            continue
        pp = np.concatenate([np.arange(ps.od_ptr[k], ps.od_ptr[k + 1]) for k in rel])
        t_of = np.concatenate([np.full(ps.od_ptr[k + 1] - ps.od_ptr[k], i) for i, k in enumerate(rel)])
        A_y = -inc[S, :][:, pp].T.toarray()
        A = np.hstack([A_y, np.eye(len(rel))[t_of]])
        res = linprog(np.concatenate([np.zeros(len(S)), -d[rel]]), A_ub=A, b_ub=np.zeros(len(pp)),
                      A_eq=np.concatenate([net.capacity[S], np.zeros(len(rel))])[None, :], b_eq=[1.0],
                      bounds=(0, None), method="highs")
        assert res.status == 0 and y is not None
        got = float((d * ps.od_min(ps.incidence.T @ (y / (y * net.capacity).sum()))).sum())
        assert got == pytest.approx(-res.fun, rel=1e-6)


def test_restarts_from_the_best_routing_keep_splits_and_certificate(case):
    """With a restart after every non-improving iteration (the most it can happen), the result is
    still a distribution per OD whose MLU is the incidence product, above the LP optimum, with a
    bound below it; the bound LP is never solved twice for the same best routing."""
    net, ps, tm, lp, fast = case
    splits, info = solve_fast(net, ps, tm, device="cpu", threads=1, restart_after=1, max_iter=60, tol=1e-9)
    assert (splits >= 0).all()
    np.testing.assert_allclose(ps.od_sum(splits), 1.0, atol=1e-9)
    util = (ps.incidence @ (splits * ps.demand(tm)[ps.path_od])) / net.capacity
    assert info["mlu"] == pytest.approx(util.max(), rel=1e-6)
    opt = lp.info["mlu"]
    assert info["lower_bound"] <= opt * (1 + 1e-7) <= info["mlu"] * (1 + 2e-7)
    # at most one LP per distinct best MLU (and delta): fewer LPs than their chances (60 / 5)
    best = {round(h[2], 12) for h in info["history"]}
    assert info["bound_lps"] <= 2 * len(best)


def _fail_most_loaded(net, ps, tm, routing):
    """(usable path mask, matrix without the ODs it cuts off) after the most loaded link of ``routing`` fails."""
    util = (ps.incidence @ (routing.splits * ps.demand(tm)[ps.path_od])) / net.capacity
    failed = int(np.argmax(util))
    on = np.zeros(ps.n_paths, bool)
    on[np.repeat(np.arange(ps.n_paths), ps.hops)[ps.link_idx == failed]] = True
    keep = ps.od_sum((~on).astype(int)) > 0
    tm2 = tm.copy()
    tm2[ps.od_src[~keep], ps.od_dst[~keep]] = 0.0
    return ~on, tm2


def test_warm_start_after_a_demand_change_takes_at_most_a_quarter_of_the_cold_iterations(case):
    """+-10% on every demand: the warm point is within a few % of the new optimum and its link weights
    certify it; measured 1-5 warm iterations against 28-91 cold from the shortest paths on these three
    networks (``cold_relieve=0``), and never more than the cold solve from the relieved start."""
    net, ps, tm, lp, fast = case
    for seed in range(3):
        tm2 = tm * np.random.default_rng(seed).uniform(0.9, 1.1, tm.shape)
        _, plain = solve_fast(net, ps, tm2, device="cpu", threads=1, tol=0.01, cold_relieve=0.0)
        _, cold = solve_fast(net, ps, tm2, device="cpu", threads=1, tol=0.01)
        splits, warm = solve_fast(net, ps, tm2, device="cpu", threads=1, tol=0.01, warm=fast)
        assert warm["start"] == "warm" and cold["start"] == "cold" and not plain["relieved"]
        assert warm["status"] == "converged" and warm["gap"] <= 0.01
        assert warm["iterations"] <= max(plain["iterations"] // 4, 1), (seed, plain["iterations"], warm["iterations"])
        assert warm["iterations"] <= cold["iterations"], (seed, cold["iterations"], warm["iterations"])
        np.testing.assert_allclose(ps.od_sum(splits), 1.0, atol=1e-9)


def test_warm_start_that_takes_the_cold_start_is_the_cold_solve():
    """After a failure the warm and the cold start are priced; on GEANT, from a warm routing worse
    than shortest paths (every OD on its longest candidate; its most loaded link failed), the cold
    start is taken, and the solve is then the cold one exactly: same iterations, same MLU and bound
    (never slower than cold). ``lp_share=inf``: the bound LPs' time cap reads the clock, which
    could schedule the LPs of two otherwise identical solves differently."""
    net, ps, tm = _instance("sndlib/geant", "deviation")
    splits = np.zeros(ps.n_paths)
    splits[ps.od_ptr[1:] - 1] = 1.0                 # each OD's last (longest) candidate path
    bad = Routing(ps, splits, "given", {})
    usable, tm2 = _fail_most_loaded(net, ps, tm, bad)
    kw = dict(device="cpu", threads=1, tol=0.01, path_mask=usable, lp_share=float("inf"))
    s_c, cold = solve_fast(net, ps, tm2, **kw)
    s_w, warm = solve_fast(net, ps, tm2, warm=bad, **kw)
    assert warm["start"] == "cold"
    assert warm["iterations"] == cold["iterations"]
    assert warm["mlu"] == cold["mlu"] and warm["lower_bound"] == cold["lower_bound"]
    np.testing.assert_array_equal(s_w, s_c)


def test_one_iteration_warm_solve_certified_by_forced_links_skips_the_prices_product():
    """A failure that leaves some OD one way out: the forced-link bound certifies the warm point at
    once, so the solve prices nothing (no paths <- links product, no step, no bound of the warm link
    weights): one links <- paths product, and the float64 one of the certificate."""
    net, ps, tm = _instance("sndlib/germany50", "deviation")
    fast = FastTE(device="cpu", threads=1, tol=0.01).route(net, ps, tm)
    usable, tm2 = _fail_most_loaded(net, ps, tm, fast)
    prof = {}
    splits, info = solve_fast(net, ps, tm2, device="cpu", threads=1, tol=0.01, path_mask=usable, warm=fast,
                              profile=prof)
    assert info["iterations"] == 1 and info["bound"] == "forced links" and info["start"] == "warm"
    assert "prices (paths <- links)" not in prof and "Adam step" not in prof and "bound LPs" not in prof
    assert info["gap"] <= 0.01
    assert (splits[~usable & (ps.demand(tm2)[ps.path_od] > 0)] == 0).all()


def test_price_certificate_from_the_kept_minima_matches_float64(case):
    """The certificate reuses the per-OD minimum path prices of the best bound's float32 product
    (no float64 product): within a relative (max hops + 1) * 2^-24 below the bound of the same link
    weights recomputed in float64 over the incidence matrix."""
    net, ps, tm, lp, fast = case
    assert fast.info["bound"] == "prices"
    w = np.asarray(fast.info["fast_state"]["w"], dtype=np.float64)
    y = w / net.capacity
    y /= (y * net.capacity).sum()
    lb64 = float((ps.demand(tm) * ps.od_min(ps.incidence.T @ y)).sum())
    rel = (lb64 - fast.info["lower_bound"]) / lb64
    assert -1e-6 <= rel <= 1e-5      # below it up to the float32 rounding of w itself, never far off


def test_forced_links_of_a_mask_from_usable_counts_match_a_pass_over_the_paths():
    net, ps, tm = _instance("sndlib/germany50", "deviation")
    op = get_operator(ps, "cpu")
    usable = np.random.default_rng(3).random(ps.n_paths) > 0.3
    d = ps.demand(tm)
    a = op.forced_util(d, net.capacity, ps, usable)
    b = op.forced_util(d, net.capacity, ps, usable, n_use=ps.od_sum(usable))
    np.testing.assert_array_equal(a, b)
    assert (a >= op.forced_util(d, net.capacity)).all()       # fewer paths: more forced load


def test_path_of_slot_inverts_slot_of_path():
    net, ps, tm = _instance("sndlib/abilene", "yen")
    op = get_operator(ps, "cpu")
    pos = op.path_of_slot.reshape(-1)
    np.testing.assert_array_equal(pos[op.slot_of_path], np.arange(ps.n_paths))
    assert op.valid_np.sum() == ps.n_paths and not op.valid_np.flags.writeable


def _three_ways():
    """S->T over S-A-T, S-B-T, S-C-T (2 hops each); X->T mostly through B-T (X hangs off B)."""
    links = [{"src": a, "dst": b, "capacity": 10e9, "metric": 1.0}
             for a, b in (("S", "A"), ("A", "T"), ("S", "B"), ("B", "T"), ("S", "C"), ("C", "T"), ("X", "B"))]
    net = Network.from_records(nodes=[{"name": n} for n in "SABCTX"], links=links, bidirectional=True,
                               name="three_ways")
    ps = k_shortest_paths(net, k=3, method="yen")
    tm = np.zeros((net.n_nodes, net.n_nodes))
    i = {n: k for k, n in enumerate(net.node_names)}
    tm[i["S"], i["T"]], tm[i["X"], i["T"]] = 6e9, 8e9
    return net, ps, tm, i


def test_failure_repair_moves_the_lost_share_off_the_loaded_survivor():
    """One of S->T's three ways fails (S-A); the warm routing had a third on each. Spread evenly, the
    lost third puts half of it on S-B-T, whose B-T already carries X->T (MLU 1.1); the repair sends it
    to S-C-T (B-T at 1.0). The first iterate (``max_iter=1``) is the repaired start itself."""
    net, ps, tm, i = _three_ways()
    st = np.flatnonzero((ps.od_src == i["S"]) & (ps.od_dst == i["T"]))[0]
    xt = np.flatnonzero((ps.od_src == i["X"]) & (ps.od_dst == i["T"]))[0]
    links = {p: [net.link_names[l] for l in ps.link_idx[ps.link_ptr[p]:ps.link_ptr[p + 1]]]
             for p in range(ps.od_ptr[st], ps.od_ptr[st + 1])}
    via = {next(n for n in "ABC" if f"S->{n}" in ls): p for p, ls in links.items() if len(ls) == 2}
    assert sorted(via) == ["A", "B", "C"]
    splits = np.zeros(ps.n_paths)
    for od in range(ps.n_od):
        splits[ps.od_ptr[od]:ps.od_ptr[od + 1]] = 1.0 / ps.paths_per_od[od]
    splits[ps.od_ptr[st]:ps.od_ptr[st + 1]] = 0.0
    splits[list(via.values())] = 1.0 / 3.0
    splits[ps.od_ptr[xt]:ps.od_ptr[xt + 1]] = 0.0
    splits[ps.od_ptr[xt]] = 1.0                    # X->T on its shortest path, X-B-T
    assert [net.link_names[l] for l in ps.link_idx[ps.link_ptr[ps.od_ptr[xt]]:ps.link_ptr[ps.od_ptr[xt] + 1]]] == \
        ["X->B", "B->T"]
    warm = Routing(ps, splits, "given", {})
    usable = np.ones(ps.n_paths, dtype=bool)
    usable[[p for p in range(ps.n_paths)
            if "S->A" in [net.link_names[l] for l in ps.link_idx[ps.link_ptr[p]:ps.link_ptr[p + 1]]]]] = False
    # the cold start's relief off: the repair is what is measured (the relieved cold start prices lower here)
    kw = dict(device="cpu", threads=1, tol=0.01, path_mask=usable, warm=warm, warm_restricted=0.0, cold_relieve=0.0)
    s_even, even = solve_fast(net, ps, tm, max_iter=1, warm_repair=0, **kw)
    s_rep, rep = solve_fast(net, ps, tm, max_iter=1, **kw)
    assert not even["repaired"] and rep["repaired"] and rep["start"] == "warm"
    assert s_even[via["B"]] == pytest.approx(0.5, abs=0.01) and s_even[via["C"]] == pytest.approx(0.5, abs=0.01)
    assert s_rep[via["C"]] > s_rep[via["B"]] + 0.2 and s_rep[via["A"]] == 0.0
    assert even["mlu"] == pytest.approx(1.1, rel=0.01) and rep["mlu"] < 1.02
    np.testing.assert_allclose(ps.od_sum(s_rep), 1.0, atol=1e-9)
    # solved to the end from there: certified, on the simplex, failed paths empty
    s, info = solve_fast(net, ps, tm, **kw)
    assert info["gap"] <= 0.01 and (s[~usable] == 0).all() and (s >= 0).all()


def test_warm_solve_after_a_failure_takes_no_more_iterations_than_cold(case):
    """The most loaded link fails: the warm solve (evenly spread, repaired or the cold start, whichever
    prices lowest; the first bound LP early) takes at most the cold solve's iterations."""
    net, ps, tm, lp, fast = case
    usable, tm2 = _fail_most_loaded(net, ps, tm, fast)
    _, cold = solve_fast(net, ps, tm2, device="cpu", threads=1, tol=0.01, path_mask=usable)
    _, warm = solve_fast(net, ps, tm2, device="cpu", threads=1, tol=0.01, path_mask=usable, warm=fast)
    assert warm["gap"] <= 0.01 and warm["status"] == "converged"
    assert warm["iterations"] <= cold["iterations"], (cold["iterations"], warm["iterations"], warm["start"])


def test_forced_util_kept_pair_ods_match_the_chunked_sums(monkeypatch):
    """With the OD of each forced pair kept (few pairs) ``forced_util`` is one weighted bincount: bit
    for bit the per-OD chunks' sums, with and without a path mask."""
    net, ps, tm = _instance("sndlib/germany50", "deviation")
    op = FastOperator(ps, "cpu")
    d = ps.demand(tm)
    usable = np.random.default_rng(5).random(ps.n_paths) > 0.2
    kept = (op.forced_util(d, net.capacity), op.forced_util(d, net.capacity, ps, usable))
    assert op._forced_od is not None
    monkeypatch.setattr(FastOperator, "FORCED_OD_KEEP", -1)
    op2 = FastOperator(ps, "cpu")
    chunked = (op2.forced_util(d, net.capacity), op2.forced_util(d, net.capacity, ps, usable))
    assert op2._forced_od is None
    for a, b in zip(kept, chunked):
        np.testing.assert_array_equal(a, b)
    assert kept[0].max() > 0


def test_usable_slots_from_the_masked_paths_match_the_mask():
    net, ps, tm = _instance("sndlib/geant", "deviation")
    op = get_operator(ps, "cpu")
    usable = np.random.default_rng(7).random(ps.n_paths) > 0.1
    d = ps.demand(tm) * (ps.od_sum(usable) > 0)
    u, n_use, ok, base = first_order._usable_slots(ps, op, d, usable)
    np.testing.assert_array_equal(ok.reshape(-1)[op.slot_of_path], usable)
    assert ok.sum() == usable.sum()
    np.testing.assert_array_equal(n_use, ps.od_sum(usable.astype(int)))
    np.testing.assert_allclose(base.sum(axis=0)[n_use > 0], 1.0, rtol=1e-6)


def test_warm_start_after_a_failure_runs_its_first_bound_lp_at_iteration_five():
    """After a failure the warm link weights certify little (the failed link carried them): the first
    bound LP runs at iteration ``lp_bound_every`` (5) even while the routing still improves, outside
    the LPs' share of the time; without ``warm_lp_first`` none runs before iteration 10."""
    net, ps, tm = _instance("sndlib/geant", "deviation", seed=5)
    fast = FastTE(device="cpu", threads=1, tol=0.01).route(net, ps, tm)
    usable, tm2 = _fail_most_loaded(net, ps, tm, fast)
    # without the restricted LP, which certifies this warm start at once (1 iteration, no bound LP)
    kw = dict(device="cpu", threads=1, tol=0.01, path_mask=usable, warm=fast, max_iter=5, warm_restricted=0.0)
    _, late = solve_fast(net, ps, tm2, warm_lp_first=False, **kw)
    _, early = solve_fast(net, ps, tm2, **kw)
    assert late["iterations"] == 5 and late["bound_lps"] == 0 and late["gap"] > 0.01
    assert early["bound_lps"] == 1 and early["bound_lp_seconds"] > 0
    assert early["gap"] < late["gap"]


def test_relieving_the_hot_links_certifies_a_warm_start_at_once():
    """The warm routing puts a third of S->T on S-B-T and X->T on X-B-T: B->T is full (MLU 1.0) while
    X->B carries X->T whatever the routing (forced: 0.8, the optimum). Water-filling the shares on the
    hot link (B->T, within 1% of the top) over each OD's paths reaches the forced bound within 1%, so
    the start is certified at once (one iteration, no step); without it Adam needs several."""
    net, ps, tm, i = _three_ways()
    st = np.flatnonzero((ps.od_src == i["S"]) & (ps.od_dst == i["T"]))[0]
    xt = np.flatnonzero((ps.od_src == i["X"]) & (ps.od_dst == i["T"]))[0]
    splits = np.zeros(ps.n_paths)
    for od in range(ps.n_od):
        splits[ps.od_ptr[od]:ps.od_ptr[od + 1]] = 1.0 / ps.paths_per_od[od]
    splits[ps.od_ptr[st]:ps.od_ptr[st + 1]] = 0.0
    splits[[p for p in range(ps.od_ptr[st], ps.od_ptr[st + 1]) if ps.link_ptr[p + 1] - ps.link_ptr[p] == 2]] = 1 / 3
    splits[ps.od_ptr[xt]:ps.od_ptr[xt + 1]] = 0.0
    splits[ps.od_ptr[xt]] = 1.0                    # X->T on X-B-T
    warm = Routing(ps, splits, "given", {})
    kw = dict(device="cpu", threads=1, tol=0.01, warm=warm)
    s_off, off = solve_fast(net, ps, tm, warm_relieve=0, **kw)
    s_on, on = solve_fast(net, ps, tm, **kw)
    assert not off["relieved"] and off["iterations"] > 1 and off["start"] == "warm"
    assert on["relieved"] and on["iterations"] == 1 and on["start"] == "warm"
    assert on["bound"] == "forced links" and on["lower_bound"] == pytest.approx(0.8, rel=1e-9)
    assert 0.8 <= on["mlu"] <= 0.8 / 0.99 and on["gap"] <= 0.01 and on["status"] == "converged"
    np.testing.assert_allclose(ps.od_sum(s_on), 1.0, atol=1e-9)
    assert (s_on >= 0).all()


def _germany50_failure():
    """germany50 (seed 5) routed by ``fast``, and its most loaded link failed: (net, paths, warm routing,
    usable paths, matrix, solve keywords). ``lp_share=inf``: the bound LPs' time cap reads the clock,
    which could make the warm routing, and so the failed link, differ from run to run."""
    net, ps, tm = _instance("sndlib/germany50", "deviation", seed=5)
    # the warm routing as measured when the restricted LP was built (the cold start not relieved,
    # restarts after 20 iterations): the instance, and its failed link, stay those
    s, info = solve_fast(net, ps, tm, device="cpu", threads=1, tol=0.01, lp_share=float("inf"), cold_relieve=0.0,
                         restart_after=20)
    fast = Routing(ps, s, "fast", info)
    usable, tm2 = _fail_most_loaded(net, ps, tm, fast)
    return net, ps, fast, usable, tm2, dict(device="cpu", threads=1, tol=0.01, path_mask=usable,
                                            lp_share=float("inf"))


def test_restricted_lp_warm_start_after_a_failure_is_exact_and_certified_by_its_duals():
    """The most loaded link fails and moves the bottleneck: the ODs on the hot links of the warm
    routing are re-routed by the restricted LP (the others fixed; rows added where it overloads a
    link), whose duals certify its routing at once: one iteration where Adam from the warm start
    takes more (24, measured), the MLU at most the cold solve's, and the bound recomputed in float64
    from the returned link weights over the usable paths below every routing's MLU."""
    net, ps, fast, usable, tm2, kw = _germany50_failure()
    _, cold = solve_fast(net, ps, tm2, **kw)
    _, adam = solve_fast(net, ps, tm2, warm=fast, warm_restricted=0.0, **kw)
    s, warm = solve_fast(net, ps, tm2, warm=fast, **kw)
    assert warm["restricted"] and not adam["restricted"] and warm["start"] == "warm"
    assert warm["iterations"] == 1 < adam["iterations"] and warm["status"] == "converged"
    assert warm["gap"] <= 1e-4 and warm["mlu"] <= cold["mlu"] * (1 + 1e-9)
    d = ps.demand(tm2)
    assert (s[~usable & (d[ps.path_od] > 0)] == 0).all() and (s >= 0).all()
    np.testing.assert_allclose(ps.od_sum(s)[d > 0], 1.0, atol=1e-6)
    util = (ps.incidence @ (s * d[ps.path_od])) / net.capacity
    assert util.max() == pytest.approx(warm["mlu"], rel=1e-9)
    w = np.asarray(warm["fast_state"]["w"], dtype=np.float64)
    y = w / net.capacity
    y /= (y * net.capacity).sum()
    pr = np.where(usable, ps.incidence.T @ y, np.inf)
    lb = float((d[d > 0] * ps.od_min(pr)[d > 0]).sum())      # ODs cut off: no usable path, no demand
    assert lb == pytest.approx(warm["lower_bound"], rel=1e-5)
    assert lb <= min(warm["mlu"], cold["mlu"]) * (1 + 1e-6) and lb >= cold["lower_bound"] * (1 - 1e-4)


def test_restricted_lp_gives_up_beyond_its_column_cap():
    """More columns than ``max_cols`` (or ``max_share`` of the paths): None, before any LP is built."""
    net, ps, fast, usable, tm2, _ = _germany50_failure()
    op = get_operator(ps, "cpu")
    d = ps.demand(tm2)
    pb = first_order._Problem.build(net, ps, op, d, *first_order._usable_slots(ps, op, d, usable))
    x, _, _ = first_order._warm_splits(pb, fast, 1e-3)
    u = pb.utilisation(torch.from_numpy(x))
    assert first_order._restricted_lp(pb, x, u, delta=0.1) is not None
    assert first_order._restricted_lp(pb, x, u, delta=0.1, max_cols=10) is None
    assert first_order._restricted_lp(pb, x, u, delta=0.1, max_share=0.01) is None


def test_exact_mlu_from_candidate_links_matches_the_float64_product():
    """The certificate's MLU is summed in float64 over the links whose float32 utilisation can still
    be the maximum: over random splits of germany50, with those utilisations moved anywhere within
    their error bound (also a bound of 5%: many links within it of the top), it equals the float64
    product over all links, and no float64 matrix is built."""
    net, ps, tm = _instance("sndlib/germany50", "deviation", seed=1)
    op = get_operator(ps, "cpu")
    d = ps.demand(tm)
    pb = first_order._Problem.build(net, ps, op, d, *first_order._usable_slots(ps, op, d, None))
    rng = np.random.default_rng(0)
    eps = op.loads_error()
    wide = np.full(len(eps), 0.05)                   # a wider bound: many links within it of the top
    for trial in range(40):
        if trial == 20:
            op._loads_err, eps = wide, wide
        logits = rng.normal(0, 1 + trial % 4, op.shape)
        if trial % 5 == 0:
            logits[:] = 0.0                          # uniform splits: many equal utilisations
        logits[~op.valid_np] = -np.inf                 # as the solver's logits: no share on empty slots
        x = torch.softmax(torch.from_numpy(logits.astype(np.float32)), dim=0)
        u = pb.utilisation(x)
        if trial % 2:                                # anywhere inside the bound, against the rule
            u = u * torch.from_numpy((1 + eps * rng.uniform(-0.99, 0.99, len(eps))).astype(np.float32))
        sums = x.double().sum(dim=0)
        xb = x.double() / sums
        run = first_order._Run(float(u.max()), x, 1, "converged", [], u)
        got = first_order._exact_mlu(pb, xb, run, float((sums - 1).abs().max()))
        flows = xb.numpy().reshape(-1)[op.slot_of_path] * d[ps.path_od]
        true = ((ps.incidence @ flows) / net.capacity).max() / (pb.dscale / pb.cscale)
        assert got is not None and got == pytest.approx(true, rel=1e-12)
    op._loads_err = None
    assert torch.float64 not in op._mats


def test_exact_mlu_of_warm_starts_from_derived_utilisations(monkeypatch):
    """Warm starts whose utilisations were derived, not multiplied (a failure's restricted LP; a demand
    change's relieved start): the reported MLU is the float64 incidence product's."""
    monkeypatch.setattr(first_order, "EXACT_MLU_MIN_NNZ", 0)
    net, ps, fast, usable, tm2, kw = _germany50_failure()
    s, info = solve_fast(net, ps, tm2, warm=fast, **kw)
    d = ps.demand(tm2)
    assert info["restricted"]
    assert info["mlu"] == pytest.approx(((ps.incidence @ (s * d[ps.path_od])) / net.capacity).max(), rel=1e-12)
    net, ps, tm, i = _three_ways()
    splits = np.zeros(ps.n_paths)
    for od in range(ps.n_od):
        splits[ps.od_ptr[od]:ps.od_ptr[od + 1]] = 1.0 / ps.paths_per_od[od]
    s, info = solve_fast(net, ps, tm, device="cpu", threads=1, tol=0.01, warm=Routing(ps, splits, "given", {}))
    d = ps.demand(tm)
    assert info["mlu"] == pytest.approx(((ps.incidence @ (s * d[ps.path_od])) / net.capacity).max(), rel=1e-12)
