"""SR-TE policy export on real peak matrices: SID depths, weight quantisation, and how few policies
bring the MLU within 2% of the optimum.

Cases (the peak matrix = the step with the most total traffic):

* ``abilene``: ``topology/cfrrl_Abilene.txt`` (its OSPF weights and capacities), the 2,880 SNDlib
  5-minute matrices of 2004-03-01..10, 4 shortest paths per OD (Yen);
* ``geant-invcap`` / ``geant-unit``: ``dote_format/GEANT.json`` capacities with InvCap metrics
  (10 Gbit/s / capacity: 1, 4.2, 64.5) or unit metrics (GEANT.json carries none), the 322 usable
  SNDlib 15-minute matrices of 2005-05-04..07, 4 shortest paths per OD. Their peak MLU is above 3:
  GEANT.json's 155 Mbit/s links cannot carry the 2005 traffic, and the optimum is set by a link
  that some demand must cross whatever the routing, so one or a few policies reach it;
* ``geant-sized``: the same with capacities sized by ``plan.size_capacities`` for 60% peak
  utilisation of the series on shortest paths (standard ports), unit metrics;
* ``morocco-lockdown``: the demo's Morocco backbone and synthetic series with traffic classes
  (``bench_classes.demo_inputs``: capacities sized at 60% before 2020-03-20 17:00 UTC, then the
  lockdown scenario), the peak interval after the lockdown, 4 shortest paths.

Per case: the optimal routing (policy ``optimal``) exported with ``max_sid_depth=10``, 64 slots;
the SID depth distribution; the MLU of the exported weights, of exact weights on a device (with
and without the vendor drop of lists under the average slot) and of one list per policy (FRR 8.4,
pola) against the number of slots (1..128); ``few_policies`` with a 2% target gap: the MLU against
the number of policies and how many reach within 2% of the optimum.

Run: ``.venv/bin/python benchmarks/bench_sr.py [--data ../shared/data]`` (about a minute).
Writes ``benchmarks/results/sr.json`` and ``sr.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import machine_info  # noqa: E402

from surgeguard.deploy import export_sr, few_policies  # noqa: E402
from surgeguard.io import ABILENE_NODES, GEANT_NODES, read_network, read_node_link_json, read_sndlib_demands  # noqa: E402
from surgeguard.network import Network  # noqa: E402
from surgeguard.paths import k_shortest_paths  # noqa: E402
from surgeguard.plan import size_capacities  # noqa: E402
from surgeguard.routing import solve  # noqa: E402

SLOTS = (1, 2, 4, 8, 16, 32, 64, 128)
TARGET_GAP = 0.02


def peak(ts) -> int:
    return int(np.argmax(ts.values.reshape(len(ts), -1).sum(axis=1)))


def cases(data: Path):
    d = data / "abilene"
    net = read_network(str(d / "topology" / "cfrrl_Abilene.txt"), node_names=ABILENE_NODES)
    ts = read_sndlib_demands(d / "sndlib_abilene_5min_xml_20040301-20040310.tar.xz", nodes=net)
    i = peak(ts)
    yield "abilene", net, ts.matrix(i), ts.times[i], "OSPF weights of cfrrl_Abilene.txt"
    g = data / "geant"
    gnet = read_node_link_json(g / "dote_format" / "GEANT.json", node_names=GEANT_NODES)
    gts = read_sndlib_demands(g / "sndlib_geant_15min_xml_20050504T1500-20050507T2345.tar.xz", nodes=gnet)
    i = peak(gts)
    links = gnet.links.copy()
    links["metric"] = np.round(10e9 / links["capacity"].to_numpy(float), 1)
    inv = Network(gnet.nodes, links, name="GEANT-invcap", meta=dict(gnet.meta))
    yield "geant-invcap", inv, gts.matrix(i), gts.times[i], "InvCap metrics (10 Gbit/s / capacity)"
    yield "geant-unit", gnet, gts.matrix(i), gts.times[i], "unit metrics"
    sized = size_capacities(gnet, gts, target_util=0.6)
    yield "geant-sized", sized, gts.matrix(i), gts.times[i], "unit metrics, capacities sized at 60% (standard ports)"
    from bench_classes import demo_inputs  # lazy: builds the demo series (a few seconds)
    inp = demo_inputs()
    s, before = inp["series"], inp["before"]
    i = before + int(np.argmax(s.total[before:].reshape(len(s) - before, -1).sum(axis=1)))
    yield "morocco-lockdown", inp["network"], s.matrix(i), s.times[i], "example metrics (km-based), sized at 60% before the lockdown"


def run_case(name, net, tm, when, metrics) -> dict:
    t0 = time.perf_counter()
    ps = k_shortest_paths(net, k=4)
    r = solve(net, ps, tm, "optimal")
    opt = float(r.info["mlu"])
    t1 = time.perf_counter()
    ex = export_sr(net, r, tm, max_sid_depth=10, slots=64)
    t_export = time.perf_counter() - t1
    depths = ex.sid_depths()
    sweep = []
    for S in SLOTS:
        a = export_sr(net, r, tm, slots=S)
        b = export_sr(net, r, tm, slots=S, vendor_drop=True)
        sweep.append({"slots": S, "quantised": a.mlu["quantised"], "device_exact_weights": a.mlu["device_exact_weights"],
                      "device_vendor_drop": b.mlu["device_exact_weights"], "moves": a.info["quantise_moves"],
                      "method": a.info["quantise_method"], "milp_status": a.info["quantise_milp_status"]})
    t2 = time.perf_counter()
    fr, curve = few_policies(net, ps, tm, target_gap=TARGET_GAP, reference_mlu=opt)
    t_few = time.perf_counter() - t2
    fex = export_sr(net, fr, tm, slots=64, curve=curve)
    within = curve.index[curve["mlu"] <= opt * (1 + TARGET_GAP) + 1e-12]
    return {
        "network": net.describe(), "metrics": metrics, "peak_time_utc": when.isoformat(),
        "demand_gbps": float(tm.sum() / 1e9), "od_pairs_with_traffic": int((tm > 0).sum()),
        "paths": int(ps.n_paths), "optimal_mlu": opt, "igp_mlu": ex.mlu["igp"],
        "export": {"policies": ex.n_policies, "segment_lists": int(len(depths)),
                   "depth_histogram": {int(k): int(v) for k, v in zip(*np.unique(depths, return_counts=True))},
                   "mean_depth": float(depths.mean()) if len(depths) else 0.0,
                   "unexpressible_paths": int(len(ex.unexpressible)), "mlu": ex.mlu, "seconds": t_export},
        "slots": sweep,
        "few_policies": {"target_gap": TARGET_GAP,
                         "policies_within_target": int(within[0]) if len(within) else None,
                         "final_mlu": float(curve["mlu"].iloc[-1]), "curve": curve.to_dict(orient="records"),
                         "exported_policies": fex.n_policies, "mlu_exported_64_slots": fex.mlu["quantised"],
                         "mlu_one_list_per_policy": fex.mlu["single_list"], "seconds": t_few,
                         "max_depth": int(fex.sid_depths().max()) if fex.n_policies else 0},
        "seconds": time.perf_counter() - t0,
    }


def markdown(out: dict) -> str:
    m = out["machine"]
    lines = ["# SR-TE policy export on real peak matrices", "",
             f"Machine: {m.get('cpu', '?')}, {m.get('cpu_count')} CPUs, Python {m['python']}, HiGHS {m.get('highspy', '?')}; "
             f"load average at start {', '.join(f'{x:.2f}' for x in out['load_average_start'])}. "
             f"Total {out['seconds']:.0f} s. Run `.venv/bin/python benchmarks/bench_sr.py`.", "",
             "Optimal routing (policy `optimal`, 4 shortest paths per OD) on each case's peak matrix, exported with "
             "at most 10 SIDs and 64 weighted-ECMP slots per policy. A node SID is used only where the stretch it "
             "covers is the unique IGP shortest path; adjacency SIDs otherwise.", "",
             "## Policies, SID depths and MLU", "",
             "| case | metrics | peak (UTC) | Gbit/s | IGP MLU | optimal MLU | policies | lists | depth histogram | "
             "unexpr. | MLU 64 slots | one list/policy (FRR, pola) |",
             "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for name, c in out["cases"].items():
        e = c["export"]
        hist = ", ".join(f"{k}: {v}" for k, v in e["depth_histogram"].items())
        lines.append(f"| {name} | {c['metrics']} | {c['peak_time_utc'][:16]} | {c['demand_gbps']:.1f} | {c['igp_mlu']:.4f} | "
                     f"{c['optimal_mlu']:.4f} | {e['policies']} | {e['segment_lists']} | {hist} | "
                     f"{e['unexpressible_paths']} | {e['mlu']['quantised']:.4f} | {e['mlu']['single_list']:.4f} |")
    lines += ["", "## Quantisation: MLU against slots per policy (relative error to the exact routing)", "",
              "Exported = surgeguard's integer weights (largest remainder, then single-slot moves off the most loaded "
              "link, then the integer program solved by HiGHS within 2,000 nodes, kept where better; `method` says "
              "which gave the result, `MILP` HiGHS' status: Optimal = no integer weights over these segment lists do "
              "better); device = the exact weights written as they are and spread by the device over its slots "
              "(largest remainder), and with the vendor drop of lists under the average slot (1/slots of the total).",
              ""]
    for name, c in out["cases"].items():
        opt = c["optimal_mlu"]
        lines += [f"**{name}** (optimal {opt:.4f})", "",
                  "| slots | exported | device | device, vendor drop | moves | method | MILP |",
                  "|---:|---:|---:|---:|---:|---|---|"]
        for row in c["slots"]:
            lines.append(f"| {row['slots']} | {row['quantised']:.4f} ({row['quantised'] / opt - 1:+.2%}) | "
                         f"{row['device_exact_weights']:.4f} ({row['device_exact_weights'] / opt - 1:+.2%}) | "
                         f"{row['device_vendor_drop']:.4f} ({row['device_vendor_drop'] / opt - 1:+.2%}) | {row['moves']} | "
                         f"{row['method']} | {str(row['milp_status'])[:40]} |")
        lines.append("")
    lines += ["## Few policies: IGP routing for all OD pairs but the ones that move", "",
              f"Greedy (`few_policies`, target gap {TARGET_GAP:.0%} of the optimum).", "",
              "| case | IGP MLU | optimal | policies to within 2% | MLU reached | exported (64 slots) | one list/policy | "
              "max depth | seconds |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, c in out["cases"].items():
        f = c["few_policies"]
        n = "not reached" if f["policies_within_target"] is None else str(f["policies_within_target"])
        lines.append(f"| {name} | {c['igp_mlu']:.4f} | {c['optimal_mlu']:.4f} | {n} | {f['final_mlu']:.4f} | "
                     f"{f['mlu_exported_64_slots']:.4f} | {f['mlu_one_list_per_policy']:.4f} | {f['max_depth']} | "
                     f"{f['seconds']:.1f} |")
    lines += ["", "MLU against the number of policies:", ""]
    for name, c in out["cases"].items():
        pts = c["few_policies"]["curve"]
        lines.append(f"* {name}: " + ", ".join(f"{p['n_policies']}: {p['mlu']:.4f}" for p in pts))
    return "\n".join(lines) + "\n"


def main(data: Path) -> dict:
    t0 = time.perf_counter()
    out: dict = {"machine": machine_info(), "load_average_start": os.getloadavg(), "cases": {}}
    for name, net, tm, when, metrics in cases(data):
        print(f"{name}: {net.describe()} ...", flush=True)
        out["cases"][name] = run_case(name, net, tm, when, metrics)
        c = out["cases"][name]
        print(f"  optimal {c['optimal_mlu']:.4f}, IGP {c['igp_mlu']:.4f}, {c['export']['policies']} policies, "
              f"{c['few_policies']['policies_within_target']} within 2%, {c['seconds']:.1f} s", flush=True)
    out["seconds"] = time.perf_counter() - t0
    res = HERE / "results"
    (res / "sr.json").write_text(json.dumps(out, indent=2, default=float) + "\n")
    (res / "sr.md").write_text(markdown(out))
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"))
    main(Path(ap.parse_args().data))
