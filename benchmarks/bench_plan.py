"""Capacity planning on the Morocco lockdown demo: does the plan made before 20 March 2020 remove
every congested interval of the lockdown replay, and is it cheaper than per-link upgrades?

Setup: as ``benchmarks/bench_classes.py`` (the demo with traffic classes). The plan is made with
the traffic measured before the lockdown (the 7 days 17 hours before 2020-03-20 17:00 UTC, no
scenario), under the lockdown scenario in full (``planning_series``: start = first step, no
ramp), target utilisation 0.8, default modules (10G/100G/400G, illustrative relative costs), no
failures. Checked by replaying the actual lockdown series on the network before and after:

* ``check_capacity`` -- every interval, shortest (ECMP), optimal (min-MLU LP of the previous
  interval, with the latency stage) and the oracle, on four networks: before, with the plan, with
  every fibre above 0.8 under shortest upgraded (``shortest_upgrade``) and with every fibre above
  1.0 under shortest upgraded;
* the project's own ``surgeguard.evaluate.replay`` on the planned network (shortest, optimal,
  oracle) from the lockdown on, as an independent confirmation of the count.

Then the N-1 plans (every single fibre cut, the whole demand; and protecting only critical traffic)
with a 60 s MILP budget each, and run-out dates under a stated growth of 30 %/year.

Run: ``.venv/bin/python benchmarks/bench_plan.py`` (about 5-8 minutes on 2 shared cores).
Writes ``benchmarks/results/plan.json`` and ``plan.md``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_classes import demo_inputs  # noqa: E402
from machine import machine_info  # noqa: E402

from surgeguard.evaluate import replay  # noqa: E402
from surgeguard.plan import lockdown_plan_study, plan_capacity, runout_dates  # noqa: E402
from surgeguard.scenario import Lockdown  # noqa: E402


def main(n1: bool = True) -> dict:
    t_all = time.perf_counter()
    inp = demo_inputs()
    net, paths, base, series, before = inp["network"], inp["paths"], inp["base"], inp["series"], inp["before"]
    scen = Lockdown(class_factors=dict(inp["scenario"].class_factors))  # no start: in full over the planning week
    out: dict = {"machine": machine_info(), "load_average_start": os.getloadavg(),
                 "setup": {"network": net.describe(), "paths": int(paths.n_paths), "intervals": len(series),
                           "planning_steps": before, "planning_scenario": scen.to_string() + " (in full)",
                           "target_util": 0.8}}
    t0 = time.perf_counter()
    study = lockdown_plan_study(net, paths, {"planning": base, "actual": series}, before, scenario=scen,
                                classes=inp["classes"], target_util=0.8, full_check=True, check_start=0)
    out["study_seconds"] = time.perf_counter() - t0
    plan = study["plan"]
    out["plan"] = {k: v for k, v in plan.to_dict().items() if k not in ("modules",)}
    out["baseline_above_target"] = {"cost": study["baseline"]["cost"], "fibres": study["baseline"]["fibres"]}
    out["baseline_above_100"] = {"cost": study["baseline_congest"]["cost"], "fibres": study["baseline_congest"]["fibres"]}
    out["check"] = study["check"].frame.to_dict(orient="records")
    out["check_seconds"] = study["check"].seconds
    fr = study["check"].frame.set_index(["variant", "policy"])
    removed = int(fr.loc[("plan", "optimal"), "intervals_over_1"]) == 0 and int(fr.loc[("plan", "oracle"), "intervals_over_1"]) == 0
    out["target"] = {
        "congested_before_optimal": int(fr.loc[("before", "optimal"), "intervals_over_1"]),
        "congested_before_shortest": int(fr.loc[("before", "shortest"), "intervals_over_1"]),
        "congested_after_optimal": int(fr.loc[("plan", "optimal"), "intervals_over_1"]),
        "congested_after_oracle": int(fr.loc[("plan", "oracle"), "intervals_over_1"]),
        "congested_after_shortest": int(fr.loc[("plan", "shortest"), "intervals_over_1"]),
        "plan_cost": plan.cost, "baseline_above_target_cost": study["baseline"]["cost"],
        "baseline_above_100_cost": study["baseline_congest"]["cost"],
        "baseline_above_100_congested_shortest": int(fr.loc[("congested-upgrade", "shortest"), "intervals_over_1"]),
        "removes_congestion_with_te": removed,
        "cheaper_than_above_target_upgrade": plan.cost < study["baseline"]["cost"],
        "met": bool(removed and plan.cost < study["baseline"]["cost"]),
    }
    # independent confirmation with the project's replay on the planned network
    t0 = time.perf_counter()
    rr = replay(plan.upgraded(), paths, series, ["shortest", "optimal"], start=max(before - 1, 0), progress=False)
    s = rr.summary()["policies"]
    out["replay_confirmation"] = {"start_step": max(before - 1, 0), "seconds": time.perf_counter() - t0,
                                  **{p: {"intervals_over_1": v["intervals_over_1"], "mlu_max": v["mlu_max"],
                                         "lost_bits": v["lost_bits"]} for p, v in s.items()}}
    # N-1 plans
    if n1:
        ps = study["planning_series"]
        for name, kw in {"n1_all": {"protect": "all"}, "n1_critical": {"protect": "critical"}}.items():
            t0 = time.perf_counter()
            p = plan_capacity(net, ps, paths=paths, target_util=0.8, failures="single-link", classes=inp["classes"],
                              time_limit=60.0, **kw)
            d = p.to_dict()
            out[name] = {"seconds": time.perf_counter() - t0, "cost": p.cost, "method": p.method, "gap": p.gap,
                         "lower_bound": p.lower_bound, "fibres_upgraded": len(d["additions"]),
                         "scenarios_checked": d["scenarios_checked"], "scenarios_active": d["scenarios_active"],
                         "all_ok": d["all_scenarios_ok"], "lost_bps_no_path_max": d["lost_bps_no_path_max"],
                         "rounds": p.rounds,
                         "disconnecting_cuts": int((p.check["lost_bps"] > 0).sum())}
    # run-out dates under +30 %/year: from the week before the lockdown (what was known), and from
    # the lockdown week (many links already past the thresholds)
    def soonest(ro):
        return [{"link": l, "peak_util": float(r["peak_util"]),
                 "warning": None if str(r["warning_date"]) == "NaT" else str(r["warning_date"]),
                 "critical": None if str(r["critical_date"]) == "NaT" else str(r["critical_date"]),
                 "warning_status": r["warning_status"], "critical_status": r["critical_status"]}
                for l, r in ro.soonest(8).iterrows()]

    t0 = time.perf_counter()
    ro_pre = runout_dates(net, series.window(0, before), paths=paths, growth=0.3, model="compound")
    ro_post = runout_dates(net, series.window(before, len(series)), paths=paths, growth=0.3, model="compound")
    out["runout"] = {"seconds": time.perf_counter() - t0, "growth_per_year": 0.3, "model": "compound",
                     "before_lockdown": soonest(ro_pre), "lockdown_week": soonest(ro_post)}
    out["seconds"] = time.perf_counter() - t_all
    out["load_average_end"] = os.getloadavg()
    return out


def write(out: dict) -> None:
    res = HERE / "results"
    res.mkdir(exist_ok=True)
    (res / "plan.json").write_text(json.dumps(out, indent=2, default=str))
    tg, p = out["target"], out["plan"]
    lines = ["# Capacity plan on the Morocco lockdown demo", "",
             f"Machine: {out['machine'].get('cpu', '?')}, {out['machine'].get('cpu_count')} cores, load average "
             f"{out['load_average_start'][0]:.1f} at start (other work shared the machine: timings are upper bounds).",
             f"Setup: {out['setup']['network']}; {out['setup']['intervals']} intervals; planning with the "
             f"{out['setup']['planning_steps']} steps before the lockdown under `{out['setup']['planning_scenario']}`, "
             f"target utilisation {out['setup']['target_util']}.", "",
             "## Target: the plan removes every congested interval, cheaper than upgrading every congesting link", "",
             f"* congested intervals (MLU > 1) before: shortest {tg['congested_before_shortest']}, optimal "
             f"{tg['congested_before_optimal']}; with the plan: optimal {tg['congested_after_optimal']}, oracle "
             f"{tg['congested_after_oracle']}, shortest {tg['congested_after_shortest']} (the plan relies on TE)",
             f"* plan cost {tg['plan_cost']:.2f} cu vs {tg['baseline_above_target_cost']:.2f} cu for every fibre above 0.8 "
             f"under shortest ({len(out['baseline_above_target']['fibres'])} fibres); upgrading only the fibres above "
             f"100% costs {tg['baseline_above_100_cost']:.2f} cu but leaves "
             f"{tg['baseline_above_100_congested_shortest']} congested intervals under shortest",
             f"* target {'met' if tg['met'] else 'NOT met'}", "",
             f"Plan: method {p['method']}, gap {100 * p['gap']:.2f}%, {p['seconds']:.1f} s, {p['scenarios_checked']} "
             f"scenarios checked ({p['scenarios_active']} in the MILP, {p.get('steps_screened', 0)} steps proven by "
             f"screening, {p.get('steps_lp_checked', 0)} by LP).", "",
             "| fibre | modules | added (Gbit/s) | capacity (Gbit/s) | cost (cu) | binding scenario | util without one module |",
             "|---|---|---:|---|---:|---|---:|"]
    for a in p["additions"]:
        mods = ", ".join(f"{a[k]} x {k[2:]}" for k in a if k.startswith("n_") and a[k])
        lines.append(f"| {a['fibre']} | {mods} | {a['added_bps'] / 1e9:.0f} | {a['capacity_before_bps'] / 1e9:.0f} -> "
                     f"{a['capacity_after_bps'] / 1e9:.0f} | {a['cost']:.2f} | {a['binding_scenario']} | "
                     f"{a['binding_util_without']:.3f} |")
    lines += ["", "## Replay of the actual lockdown traffic (all intervals)", "",
              "| network | policy | MLU > 1 | MLU > 0.8 | max MLU | lost (Tbit) |", "|---|---|---:|---:|---:|---:|"]
    for r in out["check"]:
        lost = "" if r["lost_bits"] != r["lost_bits"] else f"{r['lost_bits'] / 1e12:.3f}"
        lines.append(f"| {r['variant']} | {r['policy']} | {r['intervals_over_1']} | {r['intervals_over_target']} | "
                     f"{r['mlu_max']:.3f} | {lost} |")
    rc = out["replay_confirmation"]
    lines += ["", f"Check {out['check_seconds']:.0f} s. Confirmation with `surgeguard.evaluate.replay` on the planned "
                  f"network from step {rc['start_step']} ({rc['seconds']:.0f} s): "
              + ", ".join(f"{k} {v['intervals_over_1']} intervals > 1 (max {v['mlu_max']:.3f})"
                          for k, v in rc.items() if isinstance(v, dict)) + "."]
    for name, title in (("n1_all", "N-1, whole demand"), ("n1_critical", "N-1, critical class only")):
        if name in out:
            v = out[name]
            lines += ["", f"## {title}", "",
                      f"cost {v['cost']:.2f} cu on {v['fibres_upgraded']} fibres; method {v['method']}, gap "
                      f"{100 * v['gap']:.2f}% (bound {v['lower_bound']:.2f}); {v['scenarios_checked']} scenarios "
                      f"({v['scenarios_active']} in the MILP, {v['rounds']} rounds), all within bound: {v['all_ok']}; "
                      f"{v['disconnecting_cuts']} cuts disconnect OD pairs (up to {v['lost_bps_no_path_max'] / 1e9:.1f} "
                      f"Gbit/s lost whatever the capacity); {v['seconds']:.0f} s."]
    ro = out["runout"]
    for key, title in (("before_lockdown", "the week before the lockdown"), ("lockdown_week", "the lockdown week")):
        lines += ["", f"## Run-out dates at +{100 * ro['growth_per_year']:.0f}%/year ({ro['model']}) from the peak of {title}",
                  "", "| link | peak util | warning (0.7) | critical (0.9) |", "|---|---:|---|---|"]
        for r in ro[key]:
            w = (r["warning"] or "-")[:10] + (" (already)" if r["warning_status"] == "crossed" else "")
            c = (r["critical"] or "-")[:10] + (" (already)" if r["critical_status"] == "crossed" else "")
            lines.append(f"| {r['link']} | {r['peak_util']:.3f} | {w} | {c} |")
    lines += ["", f"Total benchmark time {out['seconds']:.0f} s."]
    (res / "plan.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    o = main(n1="--no-n1" not in sys.argv)
    write(o)
    print((HERE / "results" / "plan.md").read_text())
