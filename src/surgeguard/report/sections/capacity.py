"""The report section "Capacity plan": a capacity-plan study as HTML.

The study is computed by :func:`surgeguard.plan.capacity.lockdown_plan_study`; this module only
formats it: the additions per fibre with their binding scenarios, and the replay of the actual
traffic on the network before and after the plan and on the per-link baselines (tables).
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ...plan.capacity import CapacityCheck, CapacityPlan

__all__ = ["capacity_plan_section"]


def capacity_plan_section(study: dict) -> tuple[str, str]:
    """The demo report's "Capacity plan" section: ``(heading, html)``, self-contained (tables).

    Parameters
    ----------
    study : the result of :func:`surgeguard.plan.capacity.lockdown_plan_study` (``plan``,
        ``baseline``, ``baseline_congest``, ``check``, ``seconds``).
    """
    plan: CapacityPlan = study["plan"]
    base = study["baseline"]
    chk: CapacityCheck = study["check"]
    add = plan.additions()
    mods = plan.modules
    head = ("<tr><th>fibre</th><th>length (km)</th>" + "".join(f"<th>{escape(m.name)}</th>" for m in mods)
            + "<th>added (Gbit/s)</th><th>capacity (Gbit/s)</th><th>cost (cu)</th><th>binding scenario</th>"
              "<th>util. without one module</th></tr>")
    rows = []
    for _, r in add.iterrows():
        rows.append(
            f"<tr><td>{escape(r['fibre'])}</td><td>{r['length_km']:.0f}</td>"
            + "".join(f"<td>{int(r[f'n_{m.name}'])}</td>" for m in mods)
            + f"<td>{r['added_bps'] / 1e9:,.0f}</td><td>{r['capacity_before_bps'] / 1e9:,.0f} → "
              f"{r['capacity_after_bps'] / 1e9:,.0f}</td><td>{r['cost']:.2f}</td><td>{escape(r['binding_scenario'])}</td>"
              f"<td>{r['binding_util_without']:.3f}</td></tr>")
    t1 = (f'<div class="table-wrap"><table class="data"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table></div>' if rows
          else "<p>No addition needed.</p>")
    fr = chk.frame
    vh = ("<tr><th>network</th><th>policy</th><th>intervals</th><th>MLU &gt; 1</th>"
          f"<th>MLU &gt; {plan.target_util:g}</th><th>max MLU</th><th>lost (Tbit)</th></tr>")
    labels = {"before": "as sized before the plan", "plan": f"with the plan ({plan.cost:.1f} cu)",
              "shortest-upgrade": f"every fibre above {plan.target_util:g} under shortest upgraded ({base['cost']:.1f} cu)",
              "congested-upgrade": f"every fibre above 100% under shortest upgraded "
                                   f"({study['baseline_congest']['cost']:.1f} cu)"}
    vrows = "".join(
        f"<tr><td>{escape(labels.get(r.variant, r.variant))}</td><td>{escape(r.policy)}</td><td>{r.intervals}</td>"
        f"<td>{r.intervals_over_1}</td><td>{r.intervals_over_target}</td><td>{r.mlu_max:.3f}</td>"
        f"<td>{'' if not np.isfinite(r.lost_bits) else f'{r.lost_bits / 1e12:,.3f}'}</td></tr>"
        for r in fr.itertuples())
    t2 = f'<div class="table-wrap"><table class="data"><thead>{vh}</thead><tbody>{vrows}</tbody></table></div>'
    p_opt = fr[(fr.variant == "plan") & (fr.policy == "optimal")]
    b_opt = fr[(fr.variant == "before") & (fr.policy == "optimal")]
    p_sh = fr[(fr.variant == "plan") & (fr.policy == "shortest")]
    verdict = ""
    if len(p_opt) and len(b_opt):
        verdict = (f"<p>Replayed on the upgraded network, the min-MLU policy has <b>{int(p_opt.intervals_over_1.iloc[0])}</b> "
                   f"congested intervals (MLU &gt; 1), against {int(b_opt.intervals_over_1.iloc[0])} before; the plan costs "
                   f"<b>{plan.cost:.1f} cu</b>, the per-link upgrade of every fibre above {plan.target_util:g} under "
                   f"shortest paths {base['cost']:.1f} cu ({len(base['fibres'])} fibres); upgrading only the fibres above "
                   f"100% would cost {study['baseline_congest']['cost']:.1f} cu ({len(study['baseline_congest']['fibres'])} "
                   f"fibres).")
        if len(p_sh):
            verdict += (f" The plan counts on traffic engineering: with shortest-path routing alone the upgraded network "
                        f"still has {int(p_sh.intervals_over_1.iloc[0])} congested intervals.")
        verdict += "</p>"
    mtxt = ", ".join(f"{escape(m.name)} {m.cost:g} cu + {m.cost_per_km:g} cu/km" for m in mods)
    intro = (f'<p class="sub">Planned with the traffic measured before the plan date under the lockdown scenario in full '
             f"({len(plan.info.get('steps', []))} peak matrices, then every step checked), target utilisation "
             f"{plan.target_util:g}, failures {escape(plan.failures or 'none')}. Cheapest modules per fibre (both "
             f"directions), a MILP solved by HiGHS ({escape(plan.method)}, gap {100 * plan.gap:.2f}%, {plan.seconds:.1f} s). "
             f"Modules: {mtxt} (illustrative relative costs).</p>")
    return "Capacity plan", intro + verdict + t1 + "<h3>Replay of the actual traffic</h3>" + t2 + (
        f'<p class="sub">Check: {chk.frame.intervals.iloc[0]} intervals, {chk.seconds:.1f} s; study {study["seconds"]:.1f} s.</p>')
