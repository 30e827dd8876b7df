"""The demo: Morocco, March 2020.

A national backbone of Moroccan cities (:func:`surgeguard.examples.morocco`), two weeks of
synthetic traffic at 15 minutes around the lockdown of 20 March 2020 (gravity demands from the
2014 census, with the diurnal and weekly shape fitted on real Abilene and GÉANT series), capacities
sized for 60 % peak utilisation on the week *before* the lockdown, then the lockdown scenario, then
a replay with ``shortest``, ``optimal`` (the optimum of the previous interval), ``learned`` (a
DOTE-style model trained here on the traffic before the lockdown only, see :data:`DEMO_LEARNED`)
and the oracle.
"""

from __future__ import annotations

import contextlib
import html
import math
import multiprocessing
import os
import queue as queue_mod
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..classes import DEFAULT_CLASSES, LOCKDOWN_CLASS_FACTORS
from ..deploy import export_sr, few_policies, metric_config, optimise_metrics
from ..deploy.formats import FORMAT_NOTES
from ..detect import get_detector
from ..detect.report import detector_section
from ..evaluate import replay
from ..evaluate.classes import replay_classes
from ..evaluate.tables import summary_table
from ..examples import morocco
from ..exceptions import ValidationError
from ..io.output import atomic_write_json, make_output_dir
from ..forecast.report import forecast_section
from ..plan import size_capacities
from ..plan.capacity import lockdown_plan_study
from ..plan.whatif import run_whatif
from ..report.html import write_replay_report
from ..report.sections.capacity import capacity_plan_section
from ..report.sections.classes import critical_services_section
from ..report.sections.deploy import deploy_section
from ..report.sections.learned import learned_section
from ..report.sections.whatif import failures_section
from ..routing import get_policy, k_shortest_paths, solve
from ..routing.hedge import Hedge
from ..routing.learned import Learned, LearnedRouter
from ..routing.robust import OptimalLast
from ..scenario import Lockdown, gravity_series
from ..store import open_store
from ..telemetry.files import write_counters
from ..telemetry.simulate import TelemetrySimulator
from ..telemetry.sources import CounterFileSource
from ..traffic import TrafficSeries
from .config import RunConfig
from .controller import Controller

__all__ = ["run_demo", "DEMO_TOTAL_BPS", "LOCKDOWN_START", "DEMO_LEARNED", "DEMO_FILES", "DEMO_STAGES",
           "DEMO_SIDE_STAGES"]

#: Assumed national backbone traffic before the lockdown (mean over the day). Capacities are
#: sized to the traffic, so utilisations do not depend on this number, only bit/s figures do.
DEMO_TOTAL_BPS = 800e9
#: Morocco declared the state of health emergency for 20 March 2020, 18:00 local time (UTC+1).
LOCKDOWN_START = "2020-03-20T17:00Z"
#: the files the demo writes in its folder; the first marks a folder that holds a demo's results
DEMO_FILES = ("report.html", "steps.csv", "steps.parquet", "summary.json", "learned.pt", "surgeguard.duckdb",
              "counters.parquet", "interfaces.csv")
#: the controller's part of the demo: intervals run from two hours before the lockdown
DEMO_CONTROLLER_INTERVALS = 24
#: the deploy section: SR policies for the fewest OD pairs within this gap of the optimum, and at most
#: this many IGP metric changes, searched over this many candidate metric settings (on the lockdown peak's
#: matrix; a count, not seconds, so that the demo gives the same answer on a busy machine: 2,000 take
#: ~4 s of CPU here and reach what 4 s of search did on an idle one)
DEMO_DEPLOY = dict(target_gap=0.02, max_changes=10, metric_evaluations=2000)
#: the demo's stages in order, with what each shows on its progress bar; their wall-clock seconds are
#: written to ``summary.json`` as ``stage_seconds`` and this process's CPU seconds as ``stage_cpu_seconds``
DEMO_STAGES = {
    "traffic": "traffic, capacities, lockdown, paths",
    "train": "training the learned policy",
    "replay": "replaying every policy and the oracle",
    "forecast": "forecasting the total traffic",
    "detect": "surge detection",
    "whatif": "every single fibre cut",
    "classes": "critical services, class by class",
    "capacity": "capacity plan",
    "deploy": "SR policies and IGP metrics",
    "report": "writing the report",
    "controller": f"the controller on {DEMO_CONTROLLER_INTERVALS} intervals",
}
#: the stages that need neither the learned model nor the replay: with ``run_demo(parallel=True)``
#: (the default) they run in this order in a second process while this one trains and replays, so
#: that both CPU cores of a small machine work (the demo's wall time is then about the longer of the
#: two chains, not their sum). Their results are the same either way; ``summary.json`` lists them as
#: ``stage_parallel`` and their ``stage_seconds`` are measured in that process.
DEMO_SIDE_STAGES = ("forecast", "detect", "whatif", "classes", "deploy", "controller")
#: Settings of the demo's learned policy, kept small so that the demo stays short on two CPU cores
#: (``stage_seconds`` in ``summary.json`` says how long each stage took): 4 matrices of history, one hidden layer of 64, at most 6 epochs (early
#: stopping on the validation part; ~1.3 s of CPU each after ~13 s computing the training matrices'
#: optima), and no robust-LP prior (``prior=None``: the prior solves an LP over the last 12 matrices
#: every interval, ~0.1 s each, which would add minutes). ``max_seconds`` only guards a very slow or
#: busy machine (the best state so far is kept): the epochs, not the clock, decide the model. Chosen on
#: the training series' own validation part (the day and a half before 19 March 17:00), never on the
#: replayed lockdown: its mean ratio there is 1.137 after 1 epoch, 1.107 after 6 and 1.106 at best
#: (epoch 8 of 15).
#: the demo's ``hedge``: the learned model and ``optimal-last`` blended online (module notes of
#: :mod:`surgeguard.routing.hedge`); ``robust`` is left out of its experts here because its LP over 12
#: matrices of Morocco's 2,540 paths would add minutes to the replay; eta and share are hedge's
#: defaults, chosen on the development fold of benchmarks/bench_shift.py. Its ``optimal-last`` is the
#: vertex-and-latency optimum of the previous matrix (what ``optimal`` decides), not the default central
#: one (interior point, better on the real series: optimise/scenario.py): that one is solved apart from
#: the oracle's LP (not shared through ``optimal``'s memo) by an interior point, 0.1 s a decision, and
#: took the demo's replay from ~40 s to 206 s on two cores (hedge 1.030 / p99 1.129 with it, 1.020 /
#: 1.122 with the vertex one, which is what the demo shows).
DEMO_HEDGE = dict(experts=(OptimalLast(solver="auto", second_stage=True),))
DEMO_LEARNED = dict(history=4, hidden=(64,), alpha=0.1, epochs=6, patience=3, lr=3e-3, prior=None,
                    max_seconds=30.0, random_state=0)
#: the capacity plan: the repair/consolidate/prune heuristic (:func:`surgeguard.optimise.capacity.heuristic`)
#: takes ~6 s for a plan within ~10 % of what the MILP reaches in 60 s (42.9 against 39.9 cost units)
DEMO_PLAN = dict(method="heuristic", time_limit=10.0)


class _Stages:
    """A progress bar per demo stage (on stderr, shown when it is a terminal unless ``progress``
    says), ticking every half second so that no stage is silent, and each stage's wall-clock and CPU
    seconds (``seconds``, ``cpu_seconds``). Loops inside a stage (the replay, the training, the class
    replay) draw their own bar under it."""

    def __init__(self, progress: bool | None):
        self.progress = progress
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}
        self._width = max(len(v) for v in DEMO_STAGES.values())

    @contextlib.contextmanager
    def __call__(self, name: str):
        k = list(DEMO_STAGES).index(name) + 1
        bar = tqdm(total=1, desc=f"[{k:>2}/{len(DEMO_STAGES)}] {DEMO_STAGES[name]:<{self._width}}", leave=True,
                   bar_format="{desc} {bar:10} {elapsed}{postfix}",
                   disable=(self.progress is False) if self.progress is not None else None)
        stop = threading.Event()

        def tick():
            while not stop.wait(0.5):
                bar.refresh()

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            yield bar
        finally:
            stop.set()
            ticker.join()
            self.seconds[name] = round(time.perf_counter() - t0, 3)
            self.cpu_seconds[name] = round(time.process_time() - c0, 3)
            bar.update(1)
            bar.close()


def run_demo(out_dir: str | Path = "demo-output", *, days: float = 14.0,
             policies=("shortest", "optimal", "learned", "hedge"),
             progress: bool | None = None, seed: int = 2020, forecast_model: str = "lgbm",
             parallel: bool = True) -> dict:
    """Build, replay and report the Morocco lockdown demo; returns summary, text and file paths.

    ``policies`` is the one list of replayed policies (the oracle is always added). ``progress``
    draws a bar per stage (:data:`DEMO_STAGES`) on stderr (default: when it is a terminal).
    ``parallel`` runs :data:`DEMO_SIDE_STAGES` in a second process while this one trains and
    replays (same results; off: everything in this process, in order).
    """
    t_start = time.perf_counter()
    if not (isinstance(days, (int, float)) and math.isfinite(days) and 1 <= days <= 60):
        raise ValidationError(f"days={days!r} must be a number of days in [1, 60]")
    out = make_output_dir(out_dir)
    stage = _Stages(progress)
    lockdown_at = pd.Timestamp(LOCKDOWN_START)
    with stage("traffic"):
        start = (lockdown_at - pd.Timedelta(days=days / 2)).floor("D")
        warmup = 96  # one day of history before the replayed window, so no policy starts cold
        periods = int(round(days * 96))
        net0 = morocco()
        base = gravity_series(net0, start - pd.Timedelta(days=1), periods + warmup, "15min", total_bps=DEMO_TOTAL_BPS,
                              random_state=seed, classes=DEFAULT_CLASSES.shares_dict(), name="morocco-synthetic")
        before = int(np.searchsorted(base.times, lockdown_at))  # size on the traffic before the lockdown
        paths = k_shortest_paths(net0, k=4)  # IGP metrics decide them, not capacities: shared with the sizing
        net = size_capacities(net0, base.window(0, max(before, 1)), target_util=0.6, paths=paths)
        scenario = Lockdown(start=lockdown_at, class_factors=dict(LOCKDOWN_CLASS_FACTORS))
        series = scenario.apply(base, network=net)
        # the routing policies see the total of the classes only: summed once here, not again for every
        # history window (the class replay, the detector and the controller keep the classes)
        total = TrafficSeries(series.total, series.nodes, series.times, name=series.name, meta=dict(series.meta))
        scen_info = scenario.describe(base)
        scen_info["capacities"] = net.meta.get("capacity_source", "")
        scen_info["traffic"] = (f"synthetic gravity series, {DEMO_TOTAL_BPS / 1e9:.0f} Gbit/s mean before the "
                                f"lockdown, seed {seed}")
    # the learned policy: trained on the series up to a day before the lockdown (the last fifth of
    # that, chronologically, is its validation part); nothing from the lockdown on is read
    ref = max(int(np.searchsorted(series.times, lockdown_at)) - 96, 96)
    side = _Side(dict(net=net, paths=paths, series=series, total=total, ref=ref, before=before, warmup=warmup,
                      lockdown_at=lockdown_at, forecast_model=forecast_model, out=out),
                 parallel=parallel, progress=progress)
    try:
        model = None
        pols = list(policies)
        with stage("train"):
            if "learned" in pols or "hedge" in pols:
                val_start = ref - max(ref // 5, 1)
                model = LearnedRouter(**DEMO_LEARNED).fit(net, paths, total, val_start=val_start, val_stop=ref,
                                                          progress=progress)
                if pd.Timestamp(model.trained_on_[1]) >= lockdown_at:  # pragma: no cover - a guard on the split
                    raise AssertionError("the demo's learned model must not see the lockdown")
                if "learned" in pols:
                    pols[pols.index("learned")] = Learned(model=model)
                if "hedge" in pols:  # the online blend of optimal-last and the model (DEMO_HEDGE)
                    pols[pols.index("hedge")] = Hedge(model=model, **DEMO_HEDGE)
        with stage("replay"):
            result = replay(net, paths, total, pols, start=warmup, progress=progress, scenario=scen_info)
            files = result.write(out)
            summary = result.summary()
            if model is not None:
                files["model"] = model.save(out / "learned.pt")
                summary["learned"] = {"trained_on": list(model.trained_on_),
                                      "val_start": str(series.times[val_start]),
                                      "settings": {k: (list(v) if isinstance(v, tuple) else v)
                                                   for k, v in DEMO_LEARNED.items()},
                                      "best_epoch": int(model.best_epoch_), "epochs_run": len(model.log_),
                                      "train_seconds": float(model.train_seconds_),
                                      "val_ratio_mean": float(model.log_[model.best_epoch_ - 1].get("val_ratio_mean",
                                                                                                    np.nan)),
                                      "model_file": str(files["model"])}
        sections = []
        # forecast of total traffic, and the surge detector fitted on the week before the lockdown
        sections.append(side.get("forecast", stage))
        alerts, detect_html = side.get("detect", stage)
        sections.append(detect_html)
        if model is not None:
            sections.append(_learned_section(result, model, lockdown_at))
        # every single fibre cut at the busiest lockdown interval: IGP reconvergence and re-optimised TE
        failures_html = side.get("whatif", stage)
        # critical services: strict-priority allocation class by class, against shortest paths
        sections.append(side.get("classes", stage))
        sections.append(failures_html)
        # capacity plan made with the traffic known before 20 March, checked on the lockdown that came
        with stage("capacity"):
            check_start = max(before - 1, 0)
            study = lockdown_plan_study(net, paths, {"planning": base, "actual": series}, max(before, 1),
                                        scenario=Lockdown(class_factors=dict(LOCKDOWN_CLASS_FACTORS)),
                                        classes=DEFAULT_CLASSES, check_start=check_start,
                                        known=_replayed_before(result, check_start), **DEMO_PLAN)
            sections.append(capacity_plan_section(study))
        # deploying the decided routing at the lockdown peak: SR policies, the fewest of them, IGP metrics
        deploy_html, summary["deploy"], deploy_line = side.get("deploy", stage)
        sections.append(deploy_html)
        with stage("report"):
            report = write_replay_report(
                result, out / "report.html",
                title="Morocco, March 2020: the lockdown surge on a national backbone",
                intro=(f"{net.n_nodes} cities, {net.n_links // 2} fibre routes; capacities sized for 60% peak "
                       f"utilisation on the week before 20 March 2020; then the lockdown scenario "
                       f"(+{scenario.growth:.0%} volume over {scenario.ramp_days:g} days, weekdays turn weekend-like, "
                       f"uploads grow more). Each policy routes every 15 minutes knowing only the past; the oracle "
                       f"knows the interval's traffic in advance."),
                extra_sections=sections)
            files["report"] = Path(report)
        # the live controller on the embedded default: the simulator's counters as files, DuckDB
        summary["controller"], ctl_line = side.get("controller", stage)
        files.update({"store": out / "surgeguard.duckdb", "counters": out / "counters.parquet"})
    finally:
        side.close()
    elapsed = time.perf_counter() - t_start
    summary["stage_seconds"] = dict(stage.seconds)
    summary["stage_cpu_seconds"] = dict(stage.cpu_seconds)  # the CPU time of the process that ran it
    summary["stage_parallel"] = list(DEMO_SIDE_STAGES) if side.parallel else []
    summary["seconds"] = round(elapsed, 3)
    atomic_write_json(files["summary"], summary)
    s = summary["policies"]
    pre = result.steps[(result.steps["time"] < lockdown_at)]
    post = result.steps[(result.steps["time"] >= lockdown_at)]
    lines = [
        f"{net.describe()}; {len(series) - warmup} intervals of 15 min replayed from "
        f"{series.times[warmup]:%Y-%m-%d %H:%M} UTC (the day before is history only); "
        f"{paths.n_paths} candidate paths",
        f"lockdown from {lockdown_at:%Y-%m-%d %H:%M} UTC: total traffic +"
        f"{post['demand_bps'].mean() / max(pre['demand_bps'].mean(), 1) - 1:.0%} (mean after vs before)",
        "",
        summary_table(summary),
        "",
    ]
    for name in s:
        lines.append(f"{name:<10} peak MLU before lockdown {pre[pre.policy == name]['mlu'].max():.3f}, "
                     f"after {post[post.policy == name]['mlu'].max():.3f}")
    if model is not None:
        lines.append(_learned_line(result, model, lockdown_at))
    if "hedge" in s:
        m, p = _ratios(result, "hedge")
        ma, pa = _ratios(result, "hedge", lockdown_at)
        lines.append(f"hedge      ratio to oracle mean {m:.3f}, p99 {p:.3f}; after the lockdown {ma:.3f} / {pa:.3f} "
                     f"(online blend of optimal-last and the learned model)")
    if alerts:
        a = alerts[0]
        lines.append(f"surge detector: first alert {a.time:%Y-%m-%d %H:%M} UTC at {a.place} "
                     f"({a.shift:+.0%}), {len(alerts)} alerts in all")
    else:
        lines.append("surge detector: no alert")
    lines.append(deploy_line)
    lines.append(ctl_line)
    lines += ["", f"report: {report}", f"results: {files['steps_csv']}, {files['summary']}",
              "stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in stage.seconds.items()),
              f"done in {elapsed:.1f} s"]
    return {"summary": summary, "text": "\n".join(lines), "files": files, "result": result, "model": model}


def _side_stage(name: str, ctx: dict, progress: bool | None):
    """One of :data:`DEMO_SIDE_STAGES` on the demo's network and traffic (``ctx``), returning what
    :func:`run_demo` puts in the report and summary; the same code whichever process runs it."""
    net, paths, series, lockdown_at = ctx["net"], ctx["paths"], ctx["series"], ctx["lockdown_at"]
    if name == "forecast":
        return forecast_section(series, model=ctx["forecast_model"], fit_fraction=0.45)
    if name == "detect":
        ref = ctx["ref"]
        detector = get_detector("seasonal").fit(series.window(0, ref))
        alerts = detector.predict(series.window(ref, len(series)))
        return alerts, detector_section(series, alerts, detector=detector)
    if name == "whatif":
        wres = run_whatif(net, series, "single-link", paths=paths, progress=bool(progress))
        return failures_section(net, result=wres)
    if name == "classes":
        cls = replay_classes(net, paths, series, DEFAULT_CLASSES, start=max(ctx["before"] - 96, ctx["warmup"]),
                             progress=progress)
        return critical_services_section(cls, lockdown_start=lockdown_at)
    if name == "deploy":
        return _deploy_study(net, paths, ctx["total"], lockdown_at)
    if name == "controller":
        return _controller_demo(net, paths, series, ctx["out"], lockdown_at)
    raise ValueError(f"unknown demo stage {name!r}")  # pragma: no cover - DEMO_SIDE_STAGES is fixed


def _side_worker(results, ctx: dict) -> None:  # pragma: no cover - runs in the spawned process
    """The second process of a parallel demo: every side stage in order, each result (with its wall
    and CPU seconds) put on ``results`` as soon as it is there; an error is put there instead."""
    try:
        for name in DEMO_SIDE_STAGES:
            t0, c0 = time.perf_counter(), time.process_time()
            value = _side_stage(name, ctx, progress=False)
            results.put(("stage", name, value, round(time.perf_counter() - t0, 3),
                         round(time.process_time() - c0, 3)))
    except BaseException as exc:  # noqa: BLE001 - handed to the main process, which raises it
        try:
            results.put(("error", exc))
        except Exception:  # an exception that does not pickle: its text
            results.put(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


#: thread-count variables set to 1 for the demo's second process (unless the user set them)
_SIDE_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class _Side:
    """The demo's side stages (:data:`DEMO_SIDE_STAGES`): started in a second (spawned) process when
    ``parallel``, or run here in order when asked for. ``get(name, stage)`` shows the stage's bar
    and returns its result, waiting for the other process when it runs there."""

    def __init__(self, ctx: dict, *, parallel: bool, progress: bool | None):
        self.ctx, self.parallel, self.progress = ctx, bool(parallel), progress
        self.done: dict[str, tuple] = {}
        self.proc = None
        if self.parallel:
            mp = multiprocessing.get_context("spawn")  # not fork: this process holds threads (torch, tqdm)
            self.results = mp.Queue()
            self.proc = mp.Process(target=_side_worker, args=(self.results, ctx), name="surgeguard-demo-side",
                                   daemon=True)
            # one BLAS/OpenMP thread there: this process works on the other core, and thread pools
            # spinning against each other on a small machine slow small products tens of times
            saved = {k: os.environ.get(k) for k in _SIDE_THREAD_VARS}
            os.environ.update({k: "1" for k, v in saved.items() if v is None})
            try:
                self.proc.start()
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)

    def get(self, name: str, stage: _Stages):
        if not self.parallel:
            with stage(name) as bar:
                return _side_stage(name, self.ctx, progress=self.progress if name != "whatif" else not bar.disable)
        with stage(name) as bar:
            value, secs, cpu = self._wait(name)
            bar.set_postfix_str(f"ran alongside, {secs:.1f} s")
        stage.seconds[name], stage.cpu_seconds[name] = secs, cpu
        return value

    def _wait(self, name: str) -> tuple:
        while name not in self.done:
            try:
                msg = self.results.get(timeout=1.0)
            except queue_mod.Empty:
                if self.proc.is_alive():
                    continue
                try:  # it may have put its last result just before ending
                    msg = self.results.get(timeout=1.0)
                except queue_mod.Empty:
                    raise RuntimeError(f"the demo's second process ended (exit code {self.proc.exitcode}) "
                                       f"before its {name!r} stage; run_demo(parallel=False) runs every stage "
                                       f"in one process") from None
            if msg[0] == "error":
                raise msg[1]
            self.done[msg[1]] = msg[2:]
        return self.done.pop(name)

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.is_alive():
                self.proc.terminate()
            self.proc.join(timeout=10)
            self.results.close()
            self.results.join_thread()
            self.proc = None


def _replayed_before(result, check_start: int) -> dict | None:
    """The capacity check's ``optimal`` on the network before the plan, taken from the replay (the
    same policy on the same network and traffic: the optimum of the previous interval, latency stage
    included) instead of being solved again; None when the replay does not cover the checked steps."""
    st = result.steps
    opt = st[(st.policy == "optimal") & (st.step >= check_start)]
    if opt.empty or int(opt["step"].min()) != check_start:
        return None
    return {"before": {"optimal": (opt["mlu"].to_numpy(float), opt["lost_bps"].to_numpy(float))}}


def _deploy_study(net, paths, series, lockdown_at) -> tuple[tuple[str, str], dict, str]:
    """The report's deploy section at the lockdown peak (the interval with the most traffic from the
    lockdown on): the routing ``optimal`` decided for it in the replay (the optimum of the previous
    interval) as SR policies (:func:`~surgeguard.deploy.export_sr`), the fewest policies within
    ``DEMO_DEPLOY['target_gap']`` of the LP optimum (:func:`~surgeguard.deploy.few_policies`), and at
    most ``DEMO_DEPLOY['max_changes']`` IGP metric changes (:func:`~surgeguard.deploy.optimise_metrics`),
    each with its MLU on the peak's matrix. Returns the section, the summary's ``deploy`` entry and
    a line of text."""
    t0 = time.perf_counter()
    k0 = int(np.searchsorted(series.times, lockdown_at))
    total = series.values.reshape(len(series), -1).sum(axis=1)
    peak = k0 + int(np.argmax(total[k0:])) if k0 < len(series) else int(np.argmax(total))
    tm = series.matrix(peak)
    decided = get_policy("optimal").decide(net, paths, series.window(0, peak))
    optimum = float(solve(net, paths, tm, "optimal").info["mlu"])
    sr = export_sr(net, decided, tm)
    few_routing, curve = few_policies(net, paths, tm, target_gap=DEMO_DEPLOY["target_gap"], reference_mlu=optimum)
    few = export_sr(net, few_routing, tm, curve=curve)
    metrics = optimise_metrics(net, tm, max_changes=DEMO_DEPLOY["max_changes"],
                               time_limit=None, max_evaluations=DEMO_DEPLOY["metric_evaluations"], seed=0)
    config = metric_config(net, metrics.changes, format="iosxr")
    when = f"the lockdown peak, {series.times[peak]:%Y-%m-%d %H:%M} UTC"
    section = deploy_section(sr, few=few, metrics=metrics, optimum=optimum, when=when, config=config,
                             formats_note=dict(FORMAT_NOTES))
    info = {"time": series.times[peak].isoformat(), "optimum_mlu": optimum,
            "decided": {"policy": decided.policy, "policies": sr.n_policies, "mlu": dict(sr.mlu)},
            "few_policies": {"target_gap": DEMO_DEPLOY["target_gap"], "policies": few.n_policies,
                             "mlu": few.mlu["quantised"], "curve": curve["mlu"].tolist()},
            "igp_metrics": {"max_changes": DEMO_DEPLOY["max_changes"], "changes": metrics.n_changes,
                            "mlu_start": metrics.mlu_start, "mlu": metrics.mlu,
                            "changes_list": metrics.changes_frame().to_dict(orient="records")},
            "seconds": time.perf_counter() - t0}
    line = (f"deploy at {when}: optimum MLU {optimum:.3f}; decided routing ({decided.policy}) as {sr.n_policies} SR "
            f"policies {sr.mlu['quantised']:.3f}; {few.n_policies} SR policies (IGP elsewhere) "
            f"{few.mlu['quantised']:.3f}; IGP with {metrics.n_changes} metric changes {metrics.mlu:.3f}; IGP as is {sr.mlu['igp']:.3f} "
            f"({info['seconds']:.1f} s)")
    return section, info, line


def _controller_demo(net, paths, series, out: Path, lockdown_at) -> tuple[dict, str]:
    """The controller (:class:`~surgeguard.serve.controller.Controller`, as ``surgeguard run``
    runs it) over :data:`DEMO_CONTROLLER_INTERVALS` intervals from two hours before the lockdown:
    the simulator's router counters written to ``counters.parquet`` (with ``interfaces.csv``), read
    back interval by interval, estimated, forecast, run through the surge detector (fitted on the
    day before), routed by ``optimal`` and stored in ``surgeguard.duckdb`` (replaced each run)."""
    k0 = max(int(np.searchsorted(series.times, lockdown_at)) - 8, 0)
    cfg = RunConfig().replace({"controller.step": f"{series.step.total_seconds():g}s", "controller.history": "1d",
                               "store.path": str(out / "surgeguard.duckdb"), "metrics.enabled": False},
                              where="python")
    need = int(np.ceil((86400 + 3600) / series.step.total_seconds()))
    window = series.window(max(k0 - need, 0), min(k0 + DEMO_CONTROLLER_INTERVALS, len(series)))
    sim = TelemetrySimulator(net, window, seed=0)
    write_counters(sim.counter_frame(), out / "counters.parquet")
    sim.interfaces.to_frame().to_csv(out / "interfaces.csv", index=False)
    for suffix in ("", ".wal"):  # a fresh store: the demo replays the same dates every time
        Path(f"{out / 'surgeguard.duckdb'}{suffix}").unlink(missing_ok=True)
    source = CounterFileSource(out / "counters.parquet", net, interfaces=out / "interfaces.csv")
    log: list[str] = []
    ctl = Controller(net, source, open_store(out / "surgeguard.duckdb"), config=cfg, paths=paths, log=log.append)
    try:
        ctl.start(series.times[k0])
        ctl.warm_up()
        res = ctl.run(max_intervals=DEMO_CONTROLLER_INTERVALS)
    finally:
        ctl.close()
    n_alerts = sum(len(r.alerts) for r in res)
    info = {"intervals": len(res), "from": res[0].ds.isoformat(), "to": res[-1].ds.isoformat(),
            "policy": cfg.policy.name, "store": str(out / "surgeguard.duckdb"),
            "predicted_mlu_max": float(max(r.predicted_mlu for r in res)),
            "fallbacks": int(sum(r.status != "ok" for r in res)), "alerts": n_alerts,
            "seconds_per_interval": float(np.mean([r.seconds for r in res]))}
    line = (f"controller: {len(res)} intervals ({res[0].ds:%H:%M} to {res[-1].ds:%H:%M} UTC) from the simulator's "
            f"counters, estimated, forecast, checked for surges and routed ({cfg.policy.name}), "
            f"{info['seconds_per_interval']:.2f} s per interval; predicted MLU at most "
            f"{info['predicted_mlu_max']:.3f}, {n_alerts} alert(s); stored in {info['store']}")
    return info, line


def _ratios(result, policy: str, after=None) -> tuple[float, float]:
    """Mean and p99 of ``policy``'s MLU ratio to the oracle (from ``after`` on, when given)."""
    st = result.steps
    r = st[(st.policy == policy) & ((st.time >= after) if after is not None else True)]["ratio"].to_numpy(float)
    return (float(r.mean()), float(np.percentile(r, 99))) if len(r) else (float("nan"), float("nan"))


def _learned_line(result, model, lockdown_at) -> str:
    m, p = _ratios(result, "learned")
    ma, pa = _ratios(result, "learned", lockdown_at)
    line = (f"learned    ratio to oracle mean {m:.3f}, p99 {p:.3f}; after the lockdown {ma:.3f} / {pa:.3f}")
    if "optimal" in result.summary()["policies"]:
        oa, opa = _ratios(result, "optimal", lockdown_at)
        line += f", {'worse' if ma > oa + 1e-9 else 'no worse'} than optimal ({oa:.3f} / {opa:.3f})"
    end = pd.Timestamp(model.trained_on_[1]) + result.series.step
    return line + f"; trained on the traffic before {end:%Y-%m-%d %H:%M} UTC only, in {model.train_seconds_:.0f} s"


def _learned_section(result, model, lockdown_at) -> tuple[str, str]:
    """The library's learned-policy section, with the demo's training split and an honest comparison."""
    head, body = learned_section(result, model)
    st = result.steps
    after = st[st.time >= lockdown_at]
    dt = result.series.step.total_seconds()
    rows, lost = [], {}
    for name in ("shortest", "optimal", "learned", "hedge"):
        if name in result.summary()["policies"]:
            m, p = _ratios(result, name, lockdown_at)
            lost[name] = float(after[after.policy == name]["lost_bps"].sum() * dt / 1e12)
            rows.append(f"<tr><td>{html.escape(name)}</td><td>{m:.3f}</td><td>{p:.3f}</td>"
                        f"<td>{lost[name]:.1f}</td></tr>")
    ma, _ = _ratios(result, "learned", lockdown_at)
    verdict = ""
    if "optimal" in lost:
        oa, _ = _ratios(result, "optimal", lockdown_at)
        if ma > oa + 1e-9:
            verdict = (f"On this synthetic traffic the learned policy is <b>worse</b> than re-optimising on the "
                       f"previous interval after the lockdown (mean ratio {ma:.3f} against {oa:.3f}")
        else:
            verdict = (f"After the lockdown the learned policy is no worse than re-optimising on the previous "
                       f"interval (mean ratio {ma:.3f} against {oa:.3f}")
        verdict += f"; {lost['learned']:.1f} Tbit lost against {lost['optimal']:.1f}"
        verdict += f" and shortest paths' {lost['shortest']:.1f})." if "shortest" in lost else ")."
        if "hedge" in lost:
            ha, _ = _ratios(result, "hedge", lockdown_at)
            better = ha < oa - 1e-9
            verdict += (f" The online blend of the model with re-optimisation (<code>hedge</code>, weighted by how "
                        f"each did on the intervals already seen) scores {ha:.3f} after the lockdown and loses "
                        f"{lost['hedge']:.1f} Tbit: {'better' if better else 'no better'} than <code>optimal</code>"
                        + (f", and {'less' if lost['hedge'] < lost['shortest'] else 'more'} than shortest paths"
                           if "shortest" in lost else "") + ".")
            if not better:
                verdict += (" Why not better: the demo's model is trained for a few epochs only (its validation "
                            "ratio above), so the blend leans on re-optimisation and can only match it.")
    val = model.log_[model.best_epoch_ - 1].get("val_ratio_mean") if model.log_ else None
    if model.log_ and model.best_epoch_ == len(model.log_) == int(DEMO_LEARNED["epochs"]):
        verdict += (" Its validation ratio was still improving at the last epoch: with a larger training "
                    "budget it would likely do better.")
    s = DEMO_LEARNED
    end = pd.Timestamp(model.trained_on_[1]) + result.series.step
    gap_h = (lockdown_at - end).total_seconds() / 3600
    note = (f"<p>Demo settings (kept small so that the whole demo stays short on two CPU cores): "
            f"history {s['history']} matrices, hidden layers {tuple(s['hidden'])}, alpha {s['alpha']:g}, at most "
            f"{s['epochs']} epochs (learning rate {s['lr']:g}, early stopping after {s['patience']} epochs without a "
            f"better validation ratio; {len(model.log_)} run, best {model.best_epoch_}), and no robust-LP prior "
            f"(it would solve an LP over the last 12 matrices at every interval). It was trained only on the traffic "
            f"before {end:%Y-%m-%d %H:%M} UTC, {gap_h:.0f} hours before the lockdown; the last fifth of that, "
            f"chronologically, was its validation part"
            + (f" (mean ratio {val:.3f} there)" if val is not None else "") +
            ". Nothing was tuned on the replayed lockdown. The replayed days before the lockdown overlap its "
            "training period, so only the intervals from the lockdown on are out of sample:</p>"
            "<table><thead><tr><th>policy</th><th>ratio mean after the lockdown</th><th>p99</th>"
            "<th>Tbit lost after the lockdown</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>" + (f"<p>{verdict}</p>" if verdict else ""))
    return head, body + note
