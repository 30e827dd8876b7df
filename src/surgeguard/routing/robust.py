"""Predict-then-optimise baselines: ``robust`` (a scenario LP over recent history),
``optimal-last`` and ``optimal-forecast``.

``robust`` routes with one routing for the last ``window`` observed matrices, the one minimising
the mean of their MLUs: the scenario LP of :mod:`surgeguard.optimise.scenario` (formulation, and
why the mean rather than the peak matrix or the worst scenario, are there). ``optimal-last`` is the
min-MLU routing of the last matrix; ``optimal-forecast`` the min-MLU routing of a forecast of the
next one (:mod:`surgeguard.forecast`).
"""

from __future__ import annotations

import time

import numpy as np

from ..forecast import get_forecaster
from ..network import Network
from ..optimise.scenario import ScenarioLP
from ..paths import PathSet
from ..traffic import TrafficSeries
from ..validation import Boolean, InstanceOf, Interval, NoneOr, Options
from .optimal import Optimal
from .policies import TIME_LIMIT, Policy, register_policy
from .routing import Routing

__all__ = ["Robust", "OptimalLast", "OptimalForecast"]

_SOLVERS = Options({"auto", "central", "simplex", "ipm", "pdlp"})
_TIME_LIMIT = TIME_LIMIT


class Robust(Policy):
    """One routing for the recent past: minimise the mean MLU over the last ``window`` matrices.

    Parameters
    ----------
    window : number of most recent matrices used as scenarios (default 12: one hour at 5 min,
        three at 15 min).
    second_stage : among mean-optimal routings, minimise the worst scenario's MLU (default off).
    solver : "auto" = "central" (interior point without crossover: among the mean-optimal
        routings one near the centre, which leaves headroom on the links that do not bind; measured
        better on the next interval than a vertex, :mod:`surgeguard.optimise.scenario`), "simplex"
        (a vertex, warm-started from the last basis: ~10x faster), "ipm", "pdlp".
    time_limit : passed to HiGHS; seconds per solve, and a scenario LP it
        stops without an optimum raises :class:`~surgeguard.SolverError` (a second stage it stops
        keeps the first stage's routing).

    Notes
    -----
    ``route(tm)`` (a known matrix, ``surgeguard solve``) is the one-scenario case: the min-MLU
    routing of ``tm``. ``decide(history)`` uses the last ``min(window, len(history))`` matrices;
    with no history it falls back to ``shortest``.

    The routing's ``info``: ``mlu`` is the MLU of the returned routing on the matrix it routes:
    on ``tm`` for ``route(tm)``, and for a set of scenarios (``decide``, :meth:`route_scenarios`)
    on the *last* of them, the most recent matrix (what every other policy's ``decide`` reports:
    its routing judged on the last observed matrix). ``mean_mlu`` is the mean over the scenarios
    (the LP's objective), ``scenario_mlu`` the MLU on each.

    One :class:`~surgeguard.optimise.scenario.ScenarioLP` serves every call on the same network
    and paths; with ``solver="simplex"`` consecutive decisions (a window that slides by one
    matrix) start from the last optimal basis with each matrix in the slot it had: on GÉANT 0.03 s
    a decision instead of 0.2 s on average and up to 4 s. ``info["start"]`` says how each was
    solved ("interior" for the central solver, "cold", "warm", or "cached" for the same window as
    the last call).

    Examples
    --------
    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.paths import k_shortest_paths
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> tms = np.zeros((2, 4, 4)); tms[0, 0, 3] = 15e9; tms[1, 0, 3] = 5e9
    >>> r = Robust().route_scenarios(net, ps, tms)
    >>> round(r.info["mlu"], 6), round(r.info["mean_mlu"], 6)
    (0.25, 0.5)
    """

    name = "robust"
    _parameter_constraints = {"window": [Interval(int, 1, None)], "second_stage": [Boolean()],
                              "solver": [_SOLVERS], "time_limit": _TIME_LIMIT}

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
        self.validate()
        splits, info = self._lp(network, paths).solve(tms, second_stage=self.second_stage)
        info["mlu"] = float(info["scenario_mlu"][-1])
        return Routing(paths, splits, self.name, info)

    def route(self, network, paths, tm, *, warm=None) -> Routing:
        return self.route_scenarios(network, paths, np.asarray(tm, dtype=float)[None])

    def decide(self, network, paths, history: TrafficSeries, *, warm=None) -> Routing:
        self.validate()
        if len(history) == 0:
            return super().decide(network, paths, history, warm=warm)
        return self.route_scenarios(network, paths, history.total[-int(self.window):])


class OptimalLast(Optimal):
    """``optimal-last``: a min-MLU routing of the last observed matrix, used for the next interval.

    Unlike ``optimal`` (a vertex of the LP, then the shortest-latency routing among the optima:
    the right answer for a *known* matrix), it defaults to ``solver="central"`` without the latency
    stage: the min-MLU routing near the centre of the optimal face, which keeps headroom on the
    links that do not bind, so the next matrix finds fewer nearly full links (Abilene's test part:
    mean ratio to the oracle 1.064 -> 1.041, p99 1.227 -> 1.164; GÉANT 1.069 -> 1.026, p99 1.301
    -> 1.137; :mod:`surgeguard.optimise.scenario`), at the price of a denser routing (nearly every
    OD pair split over all its paths). ``solver="auto", second_stage=True`` gives what ``optimal``
    decides in a replay.
    """

    name = "optimal-last"

    def __init__(self, solver: str = "central", second_stage: bool = False, time_limit: float | None = None,
                 threads: int | None = None):
        super().__init__(solver=solver, second_stage=second_stage, time_limit=time_limit, threads=threads)


class OptimalForecast(Policy):
    """``optimal-forecast``: the min-MLU routing of a forecast of the next matrix.

    Parameters
    ----------
    forecaster : a name for :func:`surgeguard.forecast.get_forecaster` (e.g. "seasonal_naive",
        "mstl", "ets", "lgbm", "neural").
    refit_every : refit the forecaster on the history every this many decisions (1 = every
        step); between refits it forecasts from the latest history with its online update
        (the forecaster's ``predict_next``, no retraining).
    min_history : below this many matrices, route the last matrix instead (``optimal-last``).
    forecaster_options : keyword options for the forecaster.
    solver : "central" (default: as ``optimal-last``, the min-MLU routing near the centre of the
        optimal face, for the interval to come), or one of ``optimal``'s (a vertex, then the
        shortest-latency routing among the optima).
    time_limit : passed to HiGHS (as for ``optimal``: a stop at the time limit raises
        :class:`~surgeguard.SolverError`; fitting the forecaster is not limited).

    Notes
    -----
    ``info["mlu"]`` is the MLU of the routing on the matrix it routes: ``tm`` for ``route(tm)``,
    the forecast for ``decide`` (the last matrix while it falls back to ``optimal-last``).
    """

    name = "optimal-forecast"
    _parameter_constraints = {"forecaster": [InstanceOf(str)], "refit_every": [Interval(int, 1, None)],
                              "min_history": [Interval(int, 0, None)],
                              "forecaster_options": [NoneOr(), InstanceOf(dict)], "solver": [_SOLVERS],
                              "time_limit": _TIME_LIMIT}

    def __init__(self, forecaster: str = "seasonal_naive", refit_every: int = 288, min_history: int = 24,
                 forecaster_options: dict | None = None, solver: str = "central", time_limit: float | None = None):
        self.forecaster = forecaster
        self.refit_every = refit_every
        self.min_history = min_history
        self.forecaster_options = forecaster_options
        self.solver = solver
        self.time_limit = time_limit

    def _opt(self) -> Optimal:
        if getattr(self, "opt_", None) is None:
            self.validate()
            self.opt_ = Optimal(solver=self.solver, second_stage=self.solver != "central", time_limit=self.time_limit)
        return self.opt_

    def forecast_next(self, history: TrafficSeries) -> np.ndarray:
        """(N, N) forecast of the matrix after ``history`` (bit/s), clipped at 0."""
        n = len(history)
        since = n - getattr(self, "fitted_at_", -10**9)
        if getattr(self, "model_", None) is None or since >= int(self.refit_every) or since < 0:
            self.model_ = get_forecaster(self.forecaster, **(self.forecaster_options or {})).fit(history)
            self.fitted_at_ = n
        pred = self.model_.predict_next(history)
        return np.clip(np.asarray(pred, dtype=float).reshape(history.n_nodes, history.n_nodes), 0.0, None)

    def route(self, network, paths, tm, *, warm=None) -> Routing:
        return self._opt().route(network, paths, tm, warm=warm)

    def decide(self, network, paths, history: TrafficSeries, *, warm=None) -> Routing:
        opt = self._opt()
        if len(history) < max(int(self.min_history), 1):
            if len(history) == 0:
                return super().decide(network, paths, history, warm=warm)
            r = opt.route(network, paths, history.matrix(-1))
            return Routing(paths, r.splits, self.name, {**r.info, "fallback": "optimal-last"})
        t0 = time.perf_counter()
        tm = self.forecast_next(history)
        f_sec = time.perf_counter() - t0
        r = opt.route(network, paths, tm)
        return Routing(paths, r.splits, self.name, {**r.info, "forecast_seconds": f_sec})


register_policy("robust", Robust)
register_policy("optimal-last", OptimalLast)
register_policy("optimal-forecast", OptimalForecast)
