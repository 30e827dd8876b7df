"""Scenario sweeps: failures × traffic matrices × surge sizes, through one executor.

A sweep evaluates every combination of

* a **traffic step** of a series (given steps, or the N busiest),
* a **surge size** ``s``: every demand multiplied by ``1 + s`` (``0.3`` = +30 %, the first days of
  the March 2020 lockdown),
* a **failure** (plus the intact network), re-routed by each policy of
  :class:`~surgeguard.plan.whatif.WhatIf` (IGP reconvergence and/or re-optimised TE),

and returns one row per (step, surge, failure, policy). The work is cut into tasks, one per
(step, surge) and chunk of failures; the cut depends only on the inputs (never on the executor), so
every executor computes exactly the same thing and the rows are identical, in the same order:

* ``"process"`` (default): local processes (``concurrent.futures.ProcessPoolExecutor``, 2 workers,
  spawned);
* ``"ray"``: tasks on a Ray cluster (``ray.init(address=...)``, one ``@ray.remote`` task per
  chunk), chosen when an address is given or ``RAY_ADDRESS`` is set;
* ``"serial"``: in this process (for small sweeps and debugging).

Examples
--------
>>> import numpy as np
>>> from surgeguard.examples import ring
>>> from surgeguard.traffic import TrafficSeries
>>> net = ring(4)
>>> tm = np.full((4, 4), 1e9) - np.diag([1e9] * 4)
>>> ts = TrafficSeries(np.stack([tm, 2 * tm]), net.node_names)
>>> res = sweep(net, ts, "single-link", peaks=1, surges=(0.0, 0.5), executor="serial")
>>> len(res.rows), res.rows["step"].unique().tolist(), res.rows["surge"].unique().tolist()
(10, [1], [0.0, 0.5])
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
import socket
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import InputError, ValidationError
from ..failures import NO_FAILURE, Failure, as_failure, failure_scenarios
from ..io.output import atomic_path, atomic_write_json, make_output_dir
from ..network import Network
from ..traffic import TrafficSeries
from ..validation import Interval, NoneOr, check_param
from .whatif import WhatIf

__all__ = ["sweep", "SweepResult", "plan_sweep", "run_task", "SweepTask", "EXECUTORS", "ROW_COLUMNS",
           "select_steps", "RAY_CONNECT_TIMEOUT"]

#: executors accepted by :func:`sweep` (``"auto"``: Ray when an address is known, else processes)
EXECUTORS = ("auto", "process", "ray", "serial")
#: the columns every row has (then ``lost_bps[<class>]`` per traffic class)
#: seconds :func:`sweep` waits to reach a Ray cluster (``ray_timeout``) before giving up with one line
RAY_CONNECT_TIMEOUT = 30.0
ROW_COLUMNS = ("step", "time", "surge", "failure", "kind", "policy", "mlu", "links_over_100", "worst_link",
               "demand_bps", "unrouted_bps", "dropped_bps", "lost_bps")


@dataclass(frozen=True)
class SweepTask:
    """One unit of work: one traffic step at one surge size, for a chunk of failures.

    ``demands`` is the step's (C, N, N) bit/s matrix before the surge; ``baseline`` says whether the
    task also evaluates the intact network (the first chunk of each step and surge does).
    """

    index: int
    step: int
    time: str
    surge: float
    demands: np.ndarray
    classes: tuple[str, ...] | None
    failures: tuple[Failure, ...]
    baseline: bool
    config: dict = field(default_factory=dict)


def select_steps(series: TrafficSeries, *, steps: Sequence[int] | None = None, peaks: int | None = None) -> list[int]:
    """Steps of a sweep: the given ones, or the ``peaks`` busiest (default 1), in time order."""
    n = len(series)
    if steps is not None and peaks is not None:
        raise ValidationError("give steps or peaks, not both")
    if steps is not None:
        out = []
        for s in steps:
            if not -n <= int(s) < n:
                raise ValidationError(f"step {s} is outside the series' {n} steps (0..{n - 1})")
            out.append(int(s) % n)
        if not out:
            raise ValidationError("the list of steps is empty; give at least one step")
        return sorted(dict.fromkeys(out))
    p = 1 if peaks is None else int(peaks)
    if p < 1:
        raise ValidationError(f"peaks must be >= 1, got {peaks}")
    tot = series.total.sum(axis=(1, 2))
    return sorted(np.argsort(-tot, kind="stable")[:p].tolist())


def plan_sweep(network: Network, series: TrafficSeries, failures, *, steps=None, peaks=None,
               surges: Sequence[float] = (0.0,), chunk_size: int | None = None, config: dict | None = None
               ) -> list[SweepTask]:
    """The tasks of a sweep, in result order. The cut depends on the inputs only.

    ``chunk_size``: failures per task; default ``ceil(F / max(1, ceil(4 / (steps × surges))))``, i.e.
    at least four tasks in all where there are enough failures (so two workers both have work).
    """
    if isinstance(failures, str):
        failures = failure_scenarios(network, failures)
    failures = tuple(as_failure(network, f) for f in failures)
    if not failures:
        raise ValidationError("the failure list is empty; give at least one failure")
    surges = [float(s) for s in surges]
    if not surges:
        raise ValidationError("the list of surge sizes is empty; give e.g. 0,0.3")
    bad = [s for s in surges if not (math.isfinite(s) and s > -1)]
    if bad:
        raise ValidationError(f"surge sizes {bad} must be > -1 (0.3 means +30 % demand)")
    ts = series.reorder(network.node_names)
    sel = select_steps(ts, steps=steps, peaks=peaks)
    n_ts = len(sel) * len(surges)
    if chunk_size is None:
        chunk_size = math.ceil(len(failures) / max(1, math.ceil(4 / n_ts)))
    if int(chunk_size) < 1:
        raise ValidationError(f"chunk_size must be >= 1 failures per task, got {chunk_size}")
    chunk_size = int(chunk_size)
    tasks = []
    for st in sel:
        v = ts.values[st]
        dem = v if ts.classes is not None else v[None]
        for s in surges:
            for c0 in range(0, len(failures), chunk_size):
                tasks.append(SweepTask(len(tasks), st, ts.times[st].isoformat(), s, dem,
                                       ts.classes, failures[c0:c0 + chunk_size], c0 == 0, dict(config or {})))
    return tasks


def run_task(network: Network, task: SweepTask) -> list[dict]:
    """The rows of one task (runs in a worker process or a Ray task)."""
    cfg = task.config
    wi = WhatIf(network, policies=cfg.get("policies", ("shortest",)), k=cfg.get("k", 4), igp=cfg.get("igp", "metric"),
                second_stage=cfg.get("second_stage", True))
    dem = task.demands * (1.0 + task.surge)
    fails = ((NO_FAILURE,) if task.baseline else ()) + tuple(task.failures)
    wi.prepare(list(task.failures))
    rows = []
    for f in fails:
        for p in wi.policies:
            ev = wi.evaluate(f, dem, policy=p, classes=task.classes)
            rec = {"step": task.step, "time": task.time, "surge": task.surge, "failure": f.name, "kind": f.kind,
                   "policy": p, "mlu": ev.mlu, "links_over_100": len(ev.over), "worst_link": ev.worst_link,
                   "demand_bps": ev.demand_bps, "unrouted_bps": ev.unrouted_bps, "dropped_bps": ev.dropped_bps,
                   "lost_bps": ev.lost_bps}
            for c, v in (ev.lost_by_class or {}).items():
                rec[f"lost_bps[{c}]"] = v
            rows.append(rec)
    return rows


def _run_local(args) -> list[dict]:
    network, task = args
    return run_task(network, task)


def _ray_task(network, task) -> list[dict]:
    return run_task(network, task)


# ---------------------------------------------------------------------------------- executors
def _map_process(network, tasks, workers: int) -> list[list[dict]]:
    workers = max(1, min(int(workers), len(tasks)))
    if workers == 1:
        return [run_task(network, t) for t in tasks]
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as ex:
        return list(ex.map(_run_local, [(network, t) for t in tasks]))


def _host_port(addr: str) -> tuple[str, int] | None:
    """``(host, port)`` of a Ray address ``host:port``, ``ray://host:port`` or ``[v6]:port``; None
    for the forms without one (``auto``, ``local``)."""
    a = addr.strip()
    if "://" in a:
        a = a.split("://", 1)[1]
    a = a.split("/", 1)[0]
    host, sep, port = a.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def _probe(addr: str, deadline: float) -> None:
    """Raise :class:`InputError` unless a TCP connection to the Ray head at ``addr`` opens before
    ``deadline`` (``time.monotonic()``): a refused port answers at once, an unreachable host at
    the deadline, and Ray's own endless retries (and their stderr) never start."""
    hp = _host_port(addr)
    if hp is None:
        return
    wait = max(deadline - time.monotonic(), 0.01)
    try:
        with socket.create_connection(hp, timeout=wait):
            pass
    except socket.timeout:
        raise InputError(f"cannot connect to the Ray cluster at {addr!r}: no answer within {wait:.3g} s; check the "
                         "address or RAY_ADDRESS, or start one with 'ray start --head'") from None
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise InputError(f"cannot connect to the Ray cluster at {addr!r} ({why}); check the address or "
                         "RAY_ADDRESS, or start one with 'ray start --head'") from None


def _ray_init(ray, addr: str | None, deadline: float, label: str, limit: float | None, **kw) -> None:
    """``ray.init`` in a helper thread, given up (one line) at ``deadline``: Ray retries a head that
    accepts the connection but does not answer as one for minutes."""
    box: dict = {}

    def go():
        try:
            ray.init(address=addr, log_to_driver=False, logging_level=logging.ERROR, **kw)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    th = threading.Thread(target=go, name="surgeguard-ray-init", daemon=True)
    th.start()
    left = None if deadline == math.inf else max(deadline - time.monotonic(), 0.0)
    th.join(left)
    if th.is_alive():
        raise InputError(f"cannot connect to the Ray cluster at {label}: it did not answer as a Ray head within "
                         f"the {limit:g} s connection timeout; check the address or RAY_ADDRESS, or allow "
                         "a longer timeout")
    exc = box.get("error")
    if exc is not None:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot connect to the Ray cluster at {label} ({msg[:160]}); start one with "
                         "'ray start --head' or check the address or RAY_ADDRESS") from None


def _map_ray(network, tasks, address: str | None, timeout: float | None,
             connect_timeout: float | None = RAY_CONNECT_TIMEOUT) -> tuple[list[list[dict]], dict]:
    try:
        import ray  # lazy: ray is heavy and optional (the 'scale' extra)
    except ImportError:  # pragma: no cover - ray is a declared dependency of the 'scale' extra
        raise ValidationError("Ray is not installed; pip install 'ray[default]' (the 'scale' extra) or use the "
                              "'process' executor") from None
    started = False
    if not ray.is_initialized():
        addr = address or os.environ.get("RAY_ADDRESS") or None
        deadline = math.inf if connect_timeout is None else time.monotonic() + float(connect_timeout)
        if addr is not None:
            _probe(addr, deadline)
        host = (_host_port(addr) or ("", 0))[0] if addr else ""
        kw = {}
        if host.startswith("127.") or host == "localhost":   # a head on loopback: the driver is there too
            kw["_node_ip_address"] = "127.0.0.1"
        _ray_init(ray, addr, deadline, repr(addr) if addr else "a new local Ray instance", connect_timeout, **kw)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=1)(_ray_task)
        net_ref = ray.put(network)
        refs = [remote.remote(net_ref, t) for t in tasks]
        out = ray.get(refs, timeout=timeout)
        info = {"ray_address": ray.get_runtime_context().gcs_address,
                "ray_nodes": len([n for n in ray.nodes() if n.get("Alive")])}
    finally:
        if started:
            ray.shutdown()
    return out, info


# ---------------------------------------------------------------------------------- result
class SweepResult:
    """Rows of a sweep (one per step × surge × failure × policy) and how it ran.

    Attributes
    ----------
    rows : frame with :data:`ROW_COLUMNS` (and ``lost_bps[<class>]``), in task order: step, surge,
        the intact network first, then the failures in their list's order, then the policies.
    meta : executor, workers, tasks, seconds, Ray address.
    """

    def __init__(self, rows: pd.DataFrame, meta: dict):
        self.rows, self.meta = rows, meta

    def summary(self) -> dict:
        """Per (step, surge, policy): intact MLU, worst failure and its MLU, failures over 100 %, worst loss."""
        out = []
        for (st, s, p), g in self.rows.groupby(["step", "surge", "policy"], sort=False):
            base = g[g["kind"] == "none"]
            f = g[g["kind"] != "none"]
            w = f.sort_values(["lost_bps", "mlu"], ascending=False, kind="stable").head(1)
            wm = f.sort_values("mlu", ascending=False, kind="stable").head(1)
            out.append({"step": int(st), "time": g["time"].iloc[0], "surge": float(s), "policy": p,
                        "mlu_intact": float(base["mlu"].iloc[0]) if len(base) else None,
                        "worst_mlu": float(wm["mlu"].iloc[0]) if len(wm) else None,
                        "worst_mlu_failure": wm["failure"].iloc[0] if len(wm) else None,
                        "worst_loss_bps": float(w["lost_bps"].iloc[0]) if len(w) else 0.0,
                        "worst_loss_failure": w["failure"].iloc[0] if len(w) and w["lost_bps"].iloc[0] > 0 else None,
                        "failures_over_100": int((f["links_over_100"] > 0).sum()),
                        "failures_with_loss": int((f["lost_bps"] > 0).sum())})
        return {"meta": self.meta, "cases": out}

    def write(self, out_dir) -> dict:
        """``sweep.csv``, ``sweep.parquet`` and ``summary.json`` in ``out_dir``."""
        out = make_output_dir(out_dir)
        files = {"csv": out / "sweep.csv", "parquet": out / "sweep.parquet", "summary": out / "summary.json"}
        with atomic_path(files["csv"]) as tmp:
            self.rows.to_csv(tmp, index=False)
        with atomic_path(files["parquet"]) as tmp:
            self.rows.to_parquet(tmp, index=False)
        atomic_write_json(files["summary"], self.summary())
        return files


def sweep(network: Network, traffic: TrafficSeries, failures="single-link", *, steps: Sequence[int] | None = None,
          peaks: int | None = None, surges: Sequence[float] = (0.0,), policies: Sequence[str] = ("shortest",),
          k: int = 4, igp: str = "metric", second_stage: bool = True, executor: str = "auto",
          ray_address: str | None = None, workers: int = 2, chunk_size: int | None = None,
          timeout: float | None = None, ray_timeout: float | None = RAY_CONNECT_TIMEOUT) -> SweepResult:
    """Failures × traffic steps × surge sizes, re-routed by each policy; one row per case.

    Parameters
    ----------
    network : the intact network with capacities (bit/s).
    traffic : a :class:`TrafficSeries` (with or without classes).
    failures : ``'single-link'``, ``'single-node'``, ``'srlg'``, a file, or a list of :class:`Failure`.
    steps, peaks : the steps swept: given indices, or the ``peaks`` busiest (default: the busiest).
    surges : demand growth factors ``s`` (demands × (1 + s)); 0 is the series as it is.
    policies, k, igp, second_stage : as :class:`~surgeguard.plan.whatif.WhatIf`.
    executor : ``'auto'`` (Ray when ``ray_address`` or ``RAY_ADDRESS`` is given, else processes),
        ``'process'``, ``'ray'`` or ``'serial'``.
    ray_address : a Ray cluster (``'127.0.0.1:6379'``); ``ray.init(address=...)``.
    workers : local processes (``'process'``).
    chunk_size : failures per task (see :func:`plan_sweep`); the same for every executor.
    timeout : seconds to wait for Ray results (None: no limit).
    ray_timeout : seconds to wait for the connection to the Ray cluster (default
        :data:`RAY_CONNECT_TIMEOUT`; None: no limit). A refused port fails at once, an address
        that does not answer (or does not answer as a Ray head) after ``ray_timeout``, both with
        one line (:class:`~surgeguard.InputError`) and before Ray starts retrying.

    Returns
    -------
    :class:`SweepResult`. The rows do not depend on the executor.
    """
    if executor not in EXECUTORS:
        raise ValidationError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
    if executor == "auto":
        executor = "ray" if (ray_address or os.environ.get("RAY_ADDRESS")) else "process"
    if int(workers) < 1:
        raise ValidationError(f"workers must be >= 1, got {workers}")
    check_param("sweep", "ray_timeout", ray_timeout, [NoneOr(), Interval(float, 0, None, closed="neither")])
    if isinstance(policies, str):
        policies = tuple(p.strip() for p in policies.split(",") if p.strip())
    WhatIf(network, policies=policies, k=k, igp=igp)   # check the options here, not in every worker
    cfg = {"policies": tuple(policies), "k": int(k), "igp": igp, "second_stage": bool(second_stage)}
    tasks = plan_sweep(network, traffic, failures, steps=steps, peaks=peaks, surges=surges, chunk_size=chunk_size,
                       config=cfg)
    t0 = time.perf_counter()
    info: dict = {}
    if executor == "serial":
        parts = [run_task(network, t) for t in tasks]
    elif executor == "process":
        parts = _map_process(network, tasks, workers)
    else:
        parts, info = _map_ray(network, tasks, ray_address, timeout, ray_timeout)
    rows = pd.DataFrame([r for part in parts for r in part])
    cols = list(ROW_COLUMNS) + [c for c in rows.columns if c not in ROW_COLUMNS]
    rows = rows[cols]
    meta = {"executor": executor, "workers": int(workers) if executor == "process" else None, "tasks": len(tasks),
            "failures": len(tasks[0].failures) if tasks else 0, "steps": sorted({t.step for t in tasks}),
            "surges": list(dict.fromkeys(t.surge for t in tasks)), "policies": list(policies),
            "seconds": time.perf_counter() - t0, **info}
    meta["failures"] = sum(len(t.failures) for t in tasks if t.step == tasks[0].step and t.surge == tasks[0].surge)
    return SweepResult(rows, meta)
