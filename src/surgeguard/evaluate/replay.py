"""Replay a traffic series interval by interval, as a controller would live through it.

At step ``t`` every policy decides its routing from the steps before ``t`` only (a
:class:`~surgeguard.traffic.TrafficSeries` window ``[0, t)``), then the routing is evaluated on the
actual matrix of step ``t``. The ``oracle`` (the LP optimum of the actual matrix, unknowable in
advance) is always computed as the lower bound; each policy's MLU is reported as a ratio to it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..exceptions import ValidationError
from ..io.output import atomic_path, atomic_write_json, make_output_dir
from ..network import Network
from ..routing.optimal import Optimal
from ..paths import PathSet
from ..routing.policies import Policy, get_policy
from ..traffic import TrafficSeries
from .metrics import evaluate

__all__ = ["ReplayResult", "replay", "summarise", "replay_steps"]

ORACLE = "oracle"


@dataclass(eq=False)
class ReplayResult:
    """Per-step results of a replay.

    Attributes
    ----------
    steps : long frame, one row per (step, policy): step, time, policy, mlu, oracle_mlu, ratio,
        congested_links, demand_bps, lost_bps, decision_seconds.
    link_util : policy -> (n_steps, n_links) utilisation; row ``i`` is series step ``start + i``.
    network, series : what was replayed (the whole series after any scenario; ``steps['step']``
        indexes it, and only steps ``start .. stop - 1`` were evaluated).
    switches : policy switches recorded during the replay (time, policy, from, to), if any.
    scenario : the scenario's parameters, for the report.
    """

    steps: pd.DataFrame
    link_util: dict[str, np.ndarray]
    network: Network
    series: TrafficSeries
    scenario: dict = field(default_factory=dict)
    switches: list = field(default_factory=list)

    @property
    def policies(self) -> list[str]:
        return list(dict.fromkeys(self.steps["policy"]))

    def summary(self) -> dict:
        return summarise(self.steps, self.series.step)

    def worst_step(self, policy: str) -> int:
        """Index (0-based within the replay) of the interval with the highest MLU for ``policy``."""
        s = self.steps[self.steps["policy"] == policy].reset_index(drop=True)
        return int(s["mlu"].idxmax())

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``steps.csv``, ``steps.parquet`` and ``summary.json`` under ``out_dir``."""
        out = make_output_dir(out_dir)
        paths = {"steps_csv": out / "steps.csv", "steps_parquet": out / "steps.parquet",
                 "summary": out / "summary.json"}
        with atomic_path(paths["steps_csv"]) as tmp:
            self.steps.to_csv(tmp, index=False)
        with atomic_path(paths["steps_parquet"]) as tmp:
            self.steps.to_parquet(tmp, index=False)
        atomic_write_json(paths["summary"], self.summary())
        return paths


def summarise(steps: pd.DataFrame, step: pd.Timedelta | None = None) -> dict:
    """The replay summary: per policy, MLU and ratio-to-oracle statistics, congestion and loss.

    ``lost_bits`` is the lost rate integrated over the step (None when the series has one step and
    so no known duration); ``lost_bps_mean`` the mean lost rate.
    """
    dt = step.total_seconds() if step is not None else 0.0
    out = {}
    for name, g in steps.groupby("policy", sort=False):
        mlu = g["mlu"].to_numpy(float)
        ratio = g["ratio"].to_numpy(float)
        q = lambda a, p: float(np.percentile(a, p)) if len(a) else float("nan")  # noqa: E731
        out[name] = {
            "steps": int(len(g)),
            "mlu_mean": float(mlu.mean()), "mlu_p50": q(mlu, 50), "mlu_p90": q(mlu, 90),
            "mlu_p99": q(mlu, 99), "mlu_max": float(mlu.max()),
            "ratio_mean": float(ratio.mean()), "ratio_p50": q(ratio, 50), "ratio_p90": q(ratio, 90),
            "ratio_p99": q(ratio, 99), "ratio_max": float(ratio.max()),
            "intervals_over_1": int((mlu > 1.0).sum()),
            "intervals_over_0_9": int((mlu > 0.9).sum()),
            "lost_bits": float(g["lost_bps"].sum() * dt) if dt > 0 else None,
            "lost_bps_mean": float(g["lost_bps"].mean()),
            "lost_share": float(g["lost_bps"].sum() / max(g["demand_bps"].sum(), 1e-300)),
            "decision_seconds_mean": float(g["decision_seconds"].mean()),
        }
    return {"policies": out, "step_seconds": dt}


def replay_steps(n_steps: int, start: int, stop: int | None, stride: int = 1, *, desc: str = "replay",
                 progress: bool | None = None):
    """The steps ``start, start + stride, ... < stop`` of a series of ``n_steps``, checked, as an
    iterator with a progress bar (shown when stderr is a terminal unless ``progress`` says).

    >>> list(replay_steps(10, 2, 8, 3, progress=False))
    [2, 5]
    >>> replay_steps(10, 5, 3)
    Traceback (most recent call last):
    ...
    surgeguard.exceptions.ValidationError: replay start 5 is not before stop 3; give start < stop
    """
    stop = n_steps if stop is None else stop
    for name, v in (("start", start), ("stop", stop), ("stride", stride)):
        if int(v) != v:
            raise ValidationError(f"replay {name} {v!r} must be an integer")
    if start >= stop:
        raise ValidationError(f"replay start {start} is not before stop {stop}; give start < stop")
    if not 0 <= start < n_steps:
        raise ValidationError(f"replay start {start} is outside the series' {n_steps} steps (0..{n_steps - 1})")
    if stop > n_steps:
        raise ValidationError(f"replay stop {stop} is beyond the series' {n_steps} steps; give at most {n_steps}")
    if stride < 1:
        raise ValidationError(f"replay stride {stride!r} must be >= 1")
    return tqdm(range(int(start), int(stop), int(stride)), desc=desc, unit="step", leave=False,
                disable=(progress is False) if progress is not None else None)


def replay(network: Network, paths: PathSet, series: TrafficSeries, policies: Sequence[str | Policy],
           *, start: int = 0, stop: int | None = None, progress: bool | None = None,
           scenario: dict | None = None) -> ReplayResult:
    """Replay ``series`` from step ``start`` with each policy, plus the oracle.

    Parameters
    ----------
    policies : names or :class:`Policy` objects; ``oracle`` is added (and not allowed as a name).
    start, stop : the steps to evaluate; history before ``start`` is available to the policies.
    progress : show a progress bar (default: when stderr is a terminal).

    Notes
    -----
    ``optimal`` with default options decides with the optimum of the previous interval, which the
    oracle has just computed: that LP is reused instead of solved twice.
    """
    paths.check_network(network)
    series = series.reorder(network.node_names)
    it = replay_steps(len(series), start, stop, progress=progress)
    stop = len(series) if stop is None else stop
    pols: list[tuple[str, Policy]] = []
    for p in policies:
        pol = get_policy(p) if not isinstance(p, Policy) else p
        name = p if isinstance(p, str) else pol.name
        if name == ORACLE:
            continue
        pols.append((name, pol))
    oracle = Optimal()
    rows = []
    n_steps = stop - start
    util = {name: np.zeros((n_steps, network.n_links)) for name, _ in pols}
    util[ORACLE] = np.zeros((n_steps, network.n_links))
    warm: dict[str, object] = {}
    switches: list[dict] = []
    prev_oracle = None
    total = series.total  # summed over classes once, not at every step
    for t in it:
        tm = total[t]
        t0 = time.perf_counter()
        o_routing = oracle.route(network, paths, tm)
        o_sec = time.perf_counter() - t0
        o_ev = evaluate(network, o_routing, tm)
        o_mlu = o_ev.mlu
        i = t - start
        util[ORACLE][i] = o_ev.util
        rows.append(_row(t, series, ORACLE, o_ev, o_mlu, o_sec))
        history = series.window(0, t)
        for name, pol in pols:
            t0 = time.perf_counter()
            if (prev_oracle is not None and type(pol) is Optimal and pol.get_params() == oracle.get_params()):
                routing = prev_oracle
            else:
                routing = pol.decide(network, paths, history, warm=warm.get(name))
            sec = time.perf_counter() - t0
            if routing is prev_oracle:
                sec = prev_oracle.info.get("solve_seconds", sec)
            warm[name] = routing
            if routing.info.get("switched"):  # a policy reporting a switch (e.g. ``switching``)
                switches.append({"step": t, "time": series.times[t], "policy": name, **routing.info["switched"]})
            ev = evaluate(network, routing, tm)
            util[name][i] = ev.util
            rows.append(_row(t, series, name, ev, o_mlu, sec))
        prev_oracle = o_routing
    steps = pd.DataFrame(rows)
    order = [n for n, _ in pols] + [ORACLE]
    steps["policy"] = pd.Categorical(steps["policy"], categories=order, ordered=True)
    steps = steps.sort_values(["policy", "step"], kind="stable").reset_index(drop=True)
    steps["policy"] = steps["policy"].astype(str)
    return ReplayResult(steps, util, network, series, dict(scenario or {}), switches)


def _row(t, series, name, ev, o_mlu, sec):
    return {"step": t, "time": series.times[t], "policy": name, "mlu": ev.mlu, "oracle_mlu": o_mlu,
            "ratio": ev.mlu / o_mlu if o_mlu > 0 else 1.0, "congested_links": len(ev.congested),
            "demand_bps": ev.demand_bps, "lost_bps": ev.lost_bps, "decision_seconds": sec}
