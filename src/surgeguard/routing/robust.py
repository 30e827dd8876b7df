"""Predict-then-optimise baselines: ``robust`` (a scenario LP over recent history),
``optimal-last`` and ``optimal-forecast``.

``robust``: one routing for a set of S traffic matrices (scenarios: the last ``window`` observed
matrices, or forecast samples), minimising the mean of the scenarios' MLUs. In split variables
``x_p`` (the fraction of its OD's demand path ``p`` carries)::

    min  (1/S) sum_s U_s
    s.t. sum_{p in P(k)} x_p = 1                                 for every OD k
         sum_{p ni l} (d_{s,k(p)} / c0) x_p - (c_l / c0) U_s <= 0   for every scenario s, link l
         x >= 0

The constraint matrix is built column-wise (CSC) straight from the path-link incidence ``R`` and
passed to HiGHS through highspy's matrix API, as :class:`~surgeguard.routing.optimal.MluLP` does;
demands are divided by ``c0 * m`` with ``c0`` the mean capacity and ``m`` the scenarios' mean
first-path MLU, so the U_s are of order 1. The LP is rebuilt for each new window (its coefficients
are the demands) and re-solved from the previous optimal basis, which stays valid as a starting
basis because the shape does not change.

Why the mean: on the real GÉANT and Abilene series, the mean-MLU routing of the last 12 matrices
hedges across the recent variation of every OD pair; the element-wise peak matrix over-weights
pairs whose peaks never coincide, and min-max over the window is driven by its single worst
matrix (both were clearly worse than optimal-on-the-last-matrix in our checks, issue 4).

An optional second stage (``second_stage=True``) keeps ``mean_s U_s`` within ``stage2_rtol`` of its
optimum and minimises ``max_s U_s``: among the mean-optimal routings it picks the one whose worst
scenario is best. It is off by default: on the validation parts of the real series it did not help
(Abilene: mean ratio to the oracle 1.0515 with it, 1.0468 without; GÉANT: equal) and doubles the
solve time.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from ..exceptions import ValidationError
from ..network import Network
from ..traffic import TrafficSeries
from ..optimise.highs import new_highs as _new_highs
from ..optimise.highs import run as _run_highs
from .optimal import Optimal
from ..paths import PathSet
from .policies import Policy, get_policy, register_policy
from .routing import Routing

__all__ = ["ScenarioLP", "Robust", "OptimalLast", "OptimalForecast", "solve_scenario_lp"]


class ScenarioLP:
    """The min-mean-MLU scenario LP of one (network, paths), re-solved per scenario set.

    Parameters
    ----------
    network, paths : the network and candidate paths.
    solver : HiGHS solver name ("simplex", "ipm", "pdlp"); "auto" = simplex.
    time_limit : seconds per HiGHS run; hitting it raises :class:`~surgeguard.SolverError`.

    Examples
    --------
    Two scenarios on ``two_paths`` (15 Gbit/s, then 5 Gbit/s from S to T over two 10 Gbit/s
    paths): any split x on the upper path gives MLUs max(x, 1-x) * 1.5 and max(x, 1-x) * 0.5, so
    the mean is minimised by x = 1/2: MLUs 0.75 and 0.25, mean 0.5.

    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.routing import k_shortest_paths
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> tms = np.zeros((2, 4, 4)); tms[0, 0, 3] = 15e9; tms[1, 0, 3] = 5e9
    >>> splits, info = ScenarioLP(net, ps).solve(tms)
    >>> k = ps.od_lookup[0, 3]
    >>> np.round(splits[ps.od_ptr[k]:ps.od_ptr[k + 1]], 6).tolist(), np.round(info["scenario_mlu"], 6).tolist()
    ([0.5, 0.5], [0.75, 0.25])
    """

    def __init__(self, network: Network, paths: PathSet, *, solver: str = "auto",
                 time_limit: float | None = None, threads: int | None = None):
        paths.check_network(network)
        self.network, self.paths = network, paths
        self.solver = "simplex" if solver == "auto" else solver
        opts = {"solver": self.solver}
        if time_limit is not None:
            opts["time_limit"] = float(time_limit)
        if threads is not None:
            opts["threads"] = int(threads)
        self.h = _new_highs(opts)
        self.c0 = float(network.capacity.mean())
        R = paths.incidence.tocsc()
        # per path: its link rows (CSC of R), repeated once per scenario
        self._R_indptr, self._R_indices = R.indptr.astype(np.int64), R.indices.astype(np.int64)
        self._last_shape = None
        self._basis = None
        self.n_solves = 0

    # ------------------------------------------------------------------ model
    def _build(self, D: np.ndarray):
        """HighsLp for the (S, n_od) normalised demands ``D``."""
        import highspy

        ps, L = self.paths, self.network.n_links
        S, n_od, n_x = D.shape[0], ps.n_od, ps.n_paths
        hops = ps.hops.astype(np.int64)
        # column p: OD row, then for s = 0..S-1 the rows n_od + s*L + link of its links
        nnz_col = 1 + S * hops
        start = np.concatenate([[0], np.cumsum(nnz_col)])
        index = np.empty(start[-1], dtype=np.int64)
        value = np.empty(start[-1])
        index[start[:-1]] = ps.path_od
        value[start[:-1]] = 1.0
        # positions of the link entries: for path p, scenario s, hop j -> start[p] + 1 + s*hops[p] + j
        p_of = np.repeat(np.arange(n_x), S * hops)
        within = np.arange(len(p_of)) - np.repeat(np.cumsum(S * hops) - S * hops, S * hops)
        s_of = within // np.repeat(hops, S * hops)
        j_of = within % np.repeat(hops, S * hops)
        link = self._R_indices[self._R_indptr[p_of] + j_of]
        pos = start[p_of] + 1 + within
        index[pos] = n_od + s_of * L + link
        value[pos] = D[s_of, ps.path_od[p_of]]
        # U columns: -(c_l / c0) on the rows of scenario s
        capn = self.network.capacity / self.c0
        u_index = (n_od + np.arange(S * L)).astype(np.int64)
        u_value = -np.tile(capn, S)
        u_start = start[-1] + L * np.arange(S + 1)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n_x + S, n_od + S * L
        lp.col_cost_ = np.concatenate([np.zeros(n_x), np.full(S, 1.0 / S)])
        lp.col_lower_ = np.zeros(n_x + S)
        lp.col_upper_ = np.concatenate([np.ones(n_x), np.full(S, highspy.kHighsInf)])
        lp.row_lower_ = np.concatenate([np.ones(n_od), np.full(S * L, -highspy.kHighsInf)])
        lp.row_upper_ = np.concatenate([np.ones(n_od), np.zeros(S * L)])
        a = lp.a_matrix_
        a.format_ = highspy.MatrixFormat.kColwise
        a.start_ = np.concatenate([start, u_start[1:]]).astype(np.int32)
        a.index_ = np.concatenate([index, u_index]).astype(np.int32)
        a.value_ = np.concatenate([value, u_value])
        a.num_col_, a.num_row_ = n_x + S, n_od + S * L
        return lp

    def solve(self, tms: np.ndarray, *, weights: np.ndarray | None = None, second_stage: bool = False,
              stage2_rtol: float = 1e-6) -> tuple[np.ndarray, dict]:
        """Splits minimising the (weighted) mean MLU over the scenarios ``tms``.

        Parameters
        ----------
        tms : (S, N, N) traffic matrices in bit/s (S >= 1).
        weights : (S,) non-negative scenario weights (normalised to sum 1); default equal.
        second_stage : among mean-optimal routings, minimise the worst scenario's MLU.
        stage2_rtol : relative slack on the mean kept by the second stage.

        Returns
        -------
        splits : (n_paths,) split ratios.
        info : ``mlu`` (the optimal mean MLU over the scenarios), ``scenario_mlu`` (S,), ``status``,
            ``solve_seconds``, ``n_scenarios``.
        """
        import highspy

        tms = np.asarray(tms, dtype=float)
        if tms.ndim == 2:
            tms = tms[None]
        ps, h = self.paths, self.h
        if tms.ndim != 3 or tms.shape[0] < 1:
            raise ValidationError(f"scenario LP needs (S, N, N) matrices; got shape {tms.shape}")
        t0 = time.perf_counter()
        S = tms.shape[0]
        D = np.stack([ps.demand(tm, what=f"scenario {s}") for s, tm in enumerate(tms)])  # (S, n_od) bit/s
        first = np.zeros(ps.n_paths)
        splits = first.copy()
        splits[ps.od_ptr[:-1]] = 1.0
        info = {"status": "optimal", "solver": self.solver, "n_scenarios": S}
        if not (D > 0).any():
            info.update(mlu=0.0, scenario_mlu=np.zeros(S), solve_seconds=time.perf_counter() - t0)
            return splits, info
        R, cap = ps.incidence, self.network.capacity
        fp = np.array([float(np.max((R @ (splits * d[ps.path_od])) / cap)) for d in D])  # first-path MLUs
        m = float(fp[fp > 0].mean())
        Dn = D / (self.c0 * m)
        lp = self._build(Dn)
        if weights is not None:
            w = np.asarray(weights, dtype=float)
            if w.shape != (S,) or (w < 0).any() or w.sum() <= 0:
                raise ValidationError(f"scenario weights must be {S} non-negative numbers with a positive sum")
            lp.col_cost_ = np.concatenate([np.zeros(ps.n_paths), w / w.sum()])
        h.passModel(lp)
        shape = (lp.num_col_, lp.num_row_)
        if self._basis is not None and self._last_shape == shape:
            h.setBasis(self._basis)
        self._last_shape = shape
        self.n_solves += 1
        _run_highs(h, f"the scenario LP ({S} scenarios, {ps.n_paths} paths, {self.network.n_links} links)")
        obj = h.getInfo().objective_function_value
        self._basis = h.getBasis()
        col = np.asarray(h.getSolution().col_value)
        if second_stage and S > 1:
            n_x = ps.n_paths
            # keep mean within rtol, minimise max_s U_s through one extra column z >= U_s
            cost = np.asarray(lp.col_cost_)
            h.addCol(1.0, 0.0, highspy.kHighsInf, 0, np.zeros(0, np.int32), np.zeros(0))
            h.changeColsCost(n_x + S, np.arange(n_x + S, dtype=np.int32), np.zeros(n_x + S))
            # rows: U_s - z <= 0 ; sum_s c_s U_s <= obj (1 + rtol)
            for s in range(S):
                h.addRow(-highspy.kHighsInf, 0.0, 2, np.array([n_x + s, n_x + S], np.int32), np.array([1.0, -1.0]))
            h.addRow(-highspy.kHighsInf, obj * (1 + stage2_rtol), S, np.arange(n_x, n_x + S, dtype=np.int32),
                     cost[n_x:])
            try:
                _run_highs(h, "the second stage of the scenario LP")
                col = np.asarray(h.getSolution().col_value)
            except Exception:  # stage 1 stays valid
                info["stage2_status"] = "failed; stage-1 routing kept"
        x = np.clip(col[:ps.n_paths], 0.0, None)
        sums = np.add.reduceat(x, ps.od_ptr[:-1])
        has = (D > 0).any(axis=0) & (sums > 0)
        frac = x / np.repeat(np.where(sums > 0, sums, 1.0), ps.paths_per_od)
        splits = np.where(np.repeat(has, ps.paths_per_od), frac, splits)
        loads = R @ (splits[None, :] * D[:, ps.path_od]).T  # (L, S)
        smlu = (loads / cap[:, None]).max(axis=0)
        info.update(mlu=float(smlu.mean()) if weights is None else float(obj * m), scenario_mlu=smlu,
                    solve_seconds=time.perf_counter() - t0)
        return splits, info


def solve_scenario_lp(network: Network, paths: PathSet, tms: np.ndarray, **options) -> tuple[np.ndarray, dict]:
    """Solve the min-mean-MLU scenario LP once (see :class:`ScenarioLP`)."""
    return ScenarioLP(network, paths).solve(tms, **options)


class Robust(Policy):
    """One routing for the recent past: minimise the mean MLU over the last ``window`` matrices.

    Parameters
    ----------
    window : number of most recent matrices used as scenarios (default 12: one hour at 5 min,
        three at 15 min).
    second_stage : among mean-optimal routings, minimise the worst scenario's MLU (default off).
    solver, time_limit : passed to HiGHS.

    Notes
    -----
    ``route(tm)`` (a known matrix, ``surgeguard solve``) is the one-scenario case: the min-MLU
    routing of ``tm``. ``decide(history)`` uses the last ``min(window, len(history))`` matrices;
    with no history it falls back to ``shortest``.
    """

    name = "robust"

    def __init__(self, window: int = 12, second_stage: bool = False, solver: str = "auto",
                 time_limit: float | None = None):
        self.window = window
        self.second_stage = second_stage
        self.solver = solver
        self.time_limit = time_limit

    def _lp(self, network, paths) -> ScenarioLP:
        key = (id(network), id(paths))
        if getattr(self, "_lp_key_", None) != key:
            self.lp_ = ScenarioLP(network, paths, solver=self.solver, time_limit=self.time_limit)
            self._lp_key_ = key
        return self.lp_

    def route_scenarios(self, network: Network, paths: PathSet, tms: np.ndarray) -> Routing:
        """The routing minimising the mean MLU over the (S, N, N) matrices ``tms`` (bit/s)."""
        splits, info = self._lp(network, paths).solve(tms, second_stage=self.second_stage)
        return Routing(paths, splits, self.name, info)

    def route(self, network, paths, tm, *, warm=None) -> Routing:
        return self.route_scenarios(network, paths, np.asarray(tm, dtype=float)[None])

    def decide(self, network, paths, history: TrafficSeries, *, warm=None) -> Routing:
        if int(self.window) < 1:
            raise ValidationError(f"robust: window={self.window} must be >= 1 matrices; e.g. window=12")
        if len(history) == 0:
            return super().decide(network, paths, history, warm=warm)
        return self.route_scenarios(network, paths, history.total[-int(self.window):])


class OptimalLast(Optimal):
    """``optimal-last``: the min-MLU routing of the last observed matrix (what ``optimal`` does in
    a replay), under its own name so reports can say which predictor the LP was given."""

    name = "optimal-last"


class OptimalForecast(Policy):
    """``optimal-forecast``: the min-MLU routing of a forecast of the next matrix.

    Parameters
    ----------
    forecaster : a name for :func:`surgeguard.forecast.get_forecaster` (e.g. "seasonal_naive",
        "mstl", "ets", "lgbm", "neural").
    refit_every : refit the forecaster on the history every this many decisions (1 = every
        step); between refits it forecasts from the latest history with its online update.
    min_history : below this many matrices, route the last matrix instead (``optimal-last``).
    forecaster_options : keyword options for the forecaster.
    solver, time_limit : passed to HiGHS.
    """

    name = "optimal-forecast"

    def __init__(self, forecaster: str = "seasonal_naive", refit_every: int = 288, min_history: int = 24,
                 forecaster_options: dict | None = None, solver: str = "auto", time_limit: float | None = None):
        self.forecaster = forecaster
        self.refit_every = refit_every
        self.min_history = min_history
        self.forecaster_options = forecaster_options
        self.solver = solver
        self.time_limit = time_limit

    def _opt(self) -> Optimal:
        if getattr(self, "opt_", None) is None:
            self.opt_ = Optimal(solver=self.solver, time_limit=self.time_limit)
        return self.opt_

    def forecast_next(self, history: TrafficSeries) -> np.ndarray:
        """(N, N) forecast of the matrix after ``history`` (bit/s), clipped at 0."""
        from .. import forecast as fc  # the forecasting package (issue 4)

        n = len(history)
        since = n - getattr(self, "fitted_at_", -10**9)
        if getattr(self, "model_", None) is None or since >= int(self.refit_every) or since < 0:
            self.model_ = fc.get_forecaster(self.forecaster, **(self.forecaster_options or {})).fit(history)
            self.fitted_at_ = n
        pred = _predict_next(self.model_, history)
        return np.clip(np.asarray(pred, dtype=float).reshape(history.n_nodes, history.n_nodes), 0.0, None)

    def route(self, network, paths, tm, *, warm=None) -> Routing:
        return self._opt().route(network, paths, tm, warm=warm)

    def decide(self, network, paths, history: TrafficSeries, *, warm=None) -> Routing:
        if len(history) < max(int(self.min_history), 1):
            if len(history) == 0:
                return super().decide(network, paths, history, warm=warm)
            r = self._opt().route(network, paths, history.matrix(-1))
            return Routing(paths, r.splits, self.name, {**r.info, "fallback": "optimal-last"})
        t0 = time.perf_counter()
        tm = self.forecast_next(history)
        f_sec = time.perf_counter() - t0
        r = self._opt().route(network, paths, tm)
        return Routing(paths, r.splits, self.name, {**r.info, "forecast_seconds": f_sec})


def _predict_next(model, history: TrafficSeries) -> np.ndarray:
    """One-step forecast after ``history`` with whichever online method the forecaster offers."""
    for meth in ("predict_next", "update_predict", "forecast_next"):
        f = getattr(model, meth, None)
        if callable(f):
            out = np.asarray(f(history), dtype=float)
            return out[0] if out.ndim == 3 else out
    out = np.asarray(model.predict(h=1), dtype=float)
    return out[0] if out.ndim == 3 else out


register_policy("robust", Robust)
register_policy("optimal-last", OptimalLast)
register_policy("optimal-forecast", OptimalForecast)
