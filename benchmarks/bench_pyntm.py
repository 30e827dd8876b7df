"""surgeguard's IGP reconvergence vs pyNTM on every single-circuit failure: same loads, time.

Usage: python benchmarks/bench_pyntm.py [--keys sndlib/germany50,topozoo/TataNld]
                                        [--sample KEY=N ...] [--timeout 1800]

pyNTM 5.0 (PyPI ``pyntm``, the open-source Python WAN simulator) pins networkx 3.1, so it is never
a surgeguard dependency: this script creates its own virtual environment
``benchmarks/.venv-pyntm`` (``python3 -m venv`` + ``pip install pyntm==5.0.0``, once) and drives
pyNTM through ``benchmarks/pyntm_runner.py`` in a subprocess, exchanging JSON.

Same model on both sides: the topohub topology, one circuit per edge (both directions), hop-count
IGP (every metric 1), one gravity matrix (10 Gbit/s per node in all; population weights where
topohub has them, uniform otherwise), bit/s. For the intact network and each single-circuit
failure both tools give per-interface loads; they must agree to pyNTM's rounding (pyNTM rounds
each demand's traffic on each interface to 0.1, so a link crossed by m demands may differ by up to
0.05 m bit/s). pyNTM re-routes every demand from scratch per failure; on TataNld that takes
~18 s per failure, so there pyNTM runs on a sample of failures (``--sample``; evenly spaced
circuits plus the first circuit whose failure disconnects the network) and its all-failures time
is the sample mean times the number of circuits (stated as extrapolated). surgeguard always runs
every failure, and its all-failures time is measured.

Writes benchmarks/results/pyntm.{json,md} with the machine's description.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import machine_info  # noqa: E402

from surgeguard.io import read_topohub  # noqa: E402
from surgeguard.failures import circuits, failure_scenarios  # noqa: E402
from surgeguard.plan.whatif import EcmpReconvergence  # noqa: E402
from surgeguard.scenario import gravity_matrix  # noqa: E402

PYNTM_VERSION = "5.0.0"
VENV = HERE / ".venv-pyntm"
RUNNER = HERE / "pyntm_runner.py"
KEYS = ["sndlib/germany50", "topozoo/TataNld"]
#: failures pyNTM runs per topology (None: all); TataNld takes ~18 s per failure in pyNTM
DEFAULT_SAMPLE = {"sndlib/germany50": None, "topozoo/TataNld": 6}


def ensure_pyntm(venv: Path = VENV) -> Path:
    """The python of a virtual environment with pyntm==5.0.0, created on first use."""
    py = venv / "bin" / "python"
    ok = False
    if py.exists():
        r = subprocess.run([str(py), "-c", "import importlib.metadata as m; print(m.version('pyntm'))"],
                           capture_output=True, text=True)
        ok = r.returncode == 0 and r.stdout.strip() == PYNTM_VERSION
    if not ok:
        print(f"creating {venv} with pyntm=={PYNTM_VERSION} (once)", file=sys.stderr, flush=True)
        subprocess.run([shutil.which("python3") or sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", f"pyntm=={PYNTM_VERSION}"], check=True)
    return py


def run_pyntm(py: Path, spec: dict, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        sp, op = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        sp.write_text(json.dumps(spec))
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        r = subprocess.run([str(py), str(RUNNER), str(sp), str(op)], capture_output=True, text=True,
                           timeout=timeout, env=env)
        if r.returncode != 0:
            raise RuntimeError(f"pyNTM runner failed ({r.returncode}): {r.stderr[-2000:]}")
        return json.loads(op.read_text())


def sample_circuits(net, n_circ: int, n: int | None, bridges: list[int]) -> list[int]:
    if n is None or n >= n_circ:
        return list(range(n_circ))
    k = n - 1 if bridges else n          # keep one slot for a disconnecting circuit where there is one
    pick = sorted(set(np.linspace(0, n_circ - 1, max(k, 1)).round().astype(int).tolist()))
    if bridges and bridges[0] not in pick:
        pick.append(bridges[0])
    return sorted(pick)


def run(key: str, sample: int | None, py: Path, timeout: float) -> dict:
    net = read_topohub(key, capacity=100e9)   # capacities do not affect loads; 100G placeholders
    tm = gravity_matrix(net, 10e9 * net.n_nodes)
    circ = circuits(net)
    if any(len(idx) != 2 for _, idx in circ):
        raise SystemExit(f"{key}: a link without its reverse; the pyNTM model needs circuits")
    fails = failure_scenarios(net, "single-link")
    # --- surgeguard: every failure, timed end to end (engine build + baseline + all failures)
    t0 = time.perf_counter()
    eng = EcmpReconvergence(net, igp="hops")
    base = eng.link_loads(tm)
    t_base = time.perf_counter() - t0
    ours, unr_ours, per = [], [], []
    t1 = time.perf_counter()
    for f in fails:
        s = time.perf_counter()
        ll = eng.link_loads(tm, f)
        per.append(time.perf_counter() - s)
        ours.append(ll.total)
        unr_ours.append(float(ll.unrouted.sum()))
    t_all = time.perf_counter() - t1
    bridges = [i for i, u in enumerate(unr_ours) if u > 0]
    # --- pyNTM on the same model
    names = list(net.node_names)
    ids = {n: f"n{i}" for i, n in enumerate(names)}          # plain ids: no spaces or tabs in pyNTM names
    spec_circ = [[ids[net.links['src'].iloc[a]], ids[net.links['dst'].iloc[a]], 1, 100000] for _, (a, b) in circ]
    i_s, i_d = np.nonzero(tm > 0)
    spec = {"nodes": [ids[n] for n in names], "circuits": spec_circ,
            "demands": [[ids[names[s]], ids[names[d]], float(tm[s, d])] for s, d in zip(i_s, i_d)],
            "fail": sample_circuits(net, len(circ), sample, bridges)}
    t0 = time.perf_counter()
    pn = run_pyntm(py, spec, timeout)
    t_pyntm_wall = time.perf_counter() - t0
    order = np.array([i for _, idx in circ for i in idx])     # interface order: circuit by circuit, a->b, b->a
    # crossings per link (for pyNTM's 0.1 rounding per demand and interface): demands whose DAG uses it
    tol_base = 0.05 * len(i_s) + 1e-9 * float(base.total.max())

    def compare(ours_links: np.ndarray, theirs: list[float]) -> dict:
        a = ours_links[order]
        b = np.asarray(theirs)
        d = np.abs(a - b)
        return {"max_abs_diff_bps": float(d.max()), "max_rel_diff": float(d.max() / max(b.max(), 1.0)),
                "links_beyond_rounding": int((d > tol_base).sum())}

    checks = [dict(failure="(none)", **compare(base.total, pn["baseline"]),
                   unrouted_ours=float(base.unrouted.sum()), unrouted_pyntm=pn["baseline_unrouted"])]
    for fr in pn["failures"]:
        i = fr["circuit"]
        checks.append(dict(failure=fails[i].name, **compare(ours[i], fr["loads"]), unrouted_ours=unr_ours[i],
                           unrouted_pyntm=fr["unrouted"], pyntm_seconds=round(fr["seconds"], 3),
                           ours_seconds=round(per[i], 5)))
    pn_per = float(np.mean([f["seconds"] for f in pn["failures"]]))
    all_measured = len(pn["failures"]) == len(circ)
    pn_all = float(sum(f["seconds"] for f in pn["failures"])) if all_measured else pn_per * len(circ)
    ours_all = t_base + t_all
    same = all(c["links_beyond_rounding"] == 0 and abs(c["unrouted_ours"] - c["unrouted_pyntm"]) <= tol_base
               for c in checks)
    return {
        "topology": key, "nodes": net.n_nodes, "circuits": len(circ), "demands": int(len(i_s)),
        "failures_surgeguard": len(fails), "failures_pyntm": len(pn["failures"]),
        "pyntm_failures_all_measured": all_measured,
        "pyntm_build_s": round(pn["build_s"], 2), "pyntm_baseline_s": round(pn["baseline_s"], 2),
        "pyntm_s_per_failure": round(pn_per, 3), "pyntm_all_failures_s": round(pn_all, 1),
        "pyntm_all_failures_how": "measured" if all_measured else f"extrapolated: mean of {len(pn['failures'])} x {len(circ)}",
        "pyntm_wall_s": round(t_pyntm_wall, 1),
        "ours_engine_and_baseline_s": round(t_base, 4), "ours_failures_s": round(t_all, 3),
        "ours_all_failures_s": round(ours_all, 3), "ours_s_per_failure": round(t_all / len(fails), 5),
        "speedup_all_failures": round(pn_all / ours_all, 1),
        "speedup_per_failure": round(pn_per / (t_all / len(fails)), 1),
        "disconnecting_circuits": len(bridges),
        "same_loads": bool(same), "rounding_tolerance_bps": tol_base,
        "max_abs_diff_bps": max(c["max_abs_diff_bps"] for c in checks),
        "max_rel_diff": max(c["max_rel_diff"] for c in checks),
        "checks": checks,
        "pyntm_env": {"pyntm": pn["pyntm"], "networkx": pn["networkx"], "python": pn["python"]},
    }


def write(rows: list[dict], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": "single-circuit failures: surgeguard IGP reconvergence vs pyNTM",
           "model": "topohub topology, one circuit per edge, hop-count IGP (metric 1), ECMP, one gravity matrix "
                    "(10 Gbit/s per node in all), bit/s",
           "machine": machine_info(), "when_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "results": rows}
    (out / "pyntm.json").write_text(json.dumps(doc, indent=2))
    m = doc["machine"]
    md = ["# Single-circuit failures: surgeguard vs pyNTM\n",
          f"Machine: {m.get('cpu', m.get('machine'))}, {m.get('cpu_count')} CPUs, {m.get('mem_total_gb')} GB; "
          f"Python {m.get('python')}, numpy {m.get('numpy')}, scipy {m.get('scipy')}; run {doc['when_utc']}.",
          f"pyNTM {rows[0]['pyntm_env']['pyntm']} with networkx {rows[0]['pyntm_env']['networkx']} in its own venv "
          "(benchmarks/.venv-pyntm), same machine, same run.\n" if rows else "",
          f"Model: {doc['model']}. surgeguard: `EcmpReconvergence(net, igp='hops')`, every single-circuit failure; "
          "time = engine build + intact network + all failures.\n",
          "| topology | nodes | circuits | demands | pyNTM s/failure | pyNTM all failures, s | surgeguard all "
          "failures, s | speed-up | failures compared | same loads | max abs diff, bit/s | max rel diff |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        md.append(f"| {r['topology']} | {r['nodes']} | {r['circuits']} | {r['demands']:,} | {r['pyntm_s_per_failure']} "
                  f"| {r['pyntm_all_failures_s']} ({r['pyntm_all_failures_how']}) | {r['ours_all_failures_s']} "
                  f"| {r['speedup_all_failures']}x | {r['failures_pyntm']} + intact | {'yes' if r['same_loads'] else 'NO'} "
                  f"| {r['max_abs_diff_bps']:.3g} | {r['max_rel_diff']:.2e} |")
    md.append("\n'same loads': every interface within pyNTM's rounding (0.05 bit/s per demand, pyNTM rounds each "
              "demand's traffic per interface to 0.1) and the same unrouted traffic where a failure disconnects "
              "the network. pyNTM's all-failures time on TataNld is extrapolated from the sampled failures "
              "(it re-routes every demand from scratch, so its time per failure hardly varies).")
    (out / "pyntm.md").write_text("\n".join(md) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", default=",".join(KEYS))
    ap.add_argument("--sample", action="append", default=[], help="KEY=N failures for pyNTM (KEY=all for all)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds for each pyNTM subprocess")
    ap.add_argument("--out", default=str(HERE / "results"))
    a = ap.parse_args(argv)
    sample = dict(DEFAULT_SAMPLE)
    for s in a.sample:
        k, v = s.split("=", 1)
        sample[k] = None if v == "all" else int(v)
    py = ensure_pyntm()
    rows = []
    for key in a.keys.split(","):
        row = run(key, sample.get(key), py, a.timeout)
        print(json.dumps({k: v for k, v in row.items() if k != "checks"}), flush=True)
        rows.append(row)
    write(rows, Path(a.out))


if __name__ == "__main__":
    main()
