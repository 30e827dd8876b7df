"""The report section "Learned routing": a replay's ratios to the oracle and the model's training facts.

The replay is computed by :func:`surgeguard.evaluate.replay` and the model trained by
:meth:`surgeguard.routing.learned.LearnedRouter.fit`; this module only formats them.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from ...exceptions import ValidationError

if TYPE_CHECKING:
    from ...evaluate.replay import ReplayResult

__all__ = ["learned_section"]


def learned_section(result: "ReplayResult", model: Any = None, *, policy: str = "learned") -> tuple[str, str]:
    """A (heading, HTML) section on the learned policy for a replay report.

    Parameters
    ----------
    result : a :class:`~surgeguard.evaluate.ReplayResult` that includes ``policy``.
    model : the :class:`~surgeguard.routing.learned.LearnedRouter` it used (for its training
        facts: ``history``, ``hidden``, ``alpha``, ``trained_on_``, ``train_seconds_``,
        ``best_epoch_``), optional.
    policy : the policy's name in the replay.
    """
    s = result.summary()["policies"]
    if policy not in s:
        raise ValidationError(f"replay has no policy {policy!r}; include it in the replay's policies")
    rows = []
    for name in [n for n in s if n != "oracle"]:
        v = s[name]
        rows.append(f"<tr><td>{escape(name)}</td><td>{v['ratio_mean']:.3f}</td><td>{v['ratio_p99']:.3f}</td>"
                    f"<td>{v['ratio_max']:.3f}</td><td>{v['intervals_over_1']}</td>"
                    f"<td>{1e3 * v['decision_seconds_mean']:.1f}</td></tr>")
    facts = ""
    if model is not None and getattr(model, "module_", None) is not None:
        facts = (f"<p>Model: MLP over the last {model.history} matrices, hidden layers {tuple(model.hidden)}, "
                 f"robustness weight alpha = {model.alpha:g}; trained on {escape(model.trained_on_[0])} .. "
                 f"{escape(model.trained_on_[1])} in {model.train_seconds_:.0f} s (best epoch "
                 f"{model.best_epoch_}).</p>")
    body = ("<p>The learned policy maps the last traffic matrices to split ratios over the candidate paths; it "
            "was trained to minimise the next interval's maximum link utilisation (ratio to the optimum), with a "
            "penalty on routings that a burst would congest. Below, each policy's MLU as a ratio to the oracle "
            "(the optimum of the actual matrix, known only afterwards).</p>" + facts +
            "<table><thead><tr><th>policy</th><th>ratio mean</th><th>p99</th><th>max</th><th>intervals &gt; 100%</th>"
            "<th>decision ms</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    return "Learned routing", body
