"""Plain-text tables of evaluation results, for terminals and logs."""

from __future__ import annotations

__all__ = ["summary_table"]


def summary_table(summary: dict) -> str:
    """One line per policy of a replay summary (:meth:`~surgeguard.evaluate.ReplayResult.summary`).

    Columns: MLU mean and percentiles, the ratio to the oracle (mean, p99, max), the intervals with
    an MLU over 1 and over 0.9, the traffic lost (Tbit) and the mean decision time (ms).

    >>> stats = dict(mlu_mean=0.5, mlu_p50=0.5, mlu_p90=0.6, mlu_p99=0.7, mlu_max=0.8, ratio_mean=1.0,
    ...              ratio_p99=1.0, ratio_max=1.0, intervals_over_1=0, intervals_over_0_9=0, lost_bits=0.0,
    ...              decision_seconds_mean=0.002)
    >>> print(summary_table({"policies": {"oracle": stats}}).splitlines()[-1])
    oracle        0.500   0.500   0.600   0.700   0.800   1.000   1.000   1.000     0     0      0.000      2.0
    """
    head = (f"{'policy':<10} {'MLU mean':>8} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} "
            f"{'ratio':>7} {'r p99':>7} {'r max':>7} {'>1':>5} {'>0.9':>5} {'lost Tbit':>10} {'ms':>8}")
    lines = [head, "-" * len(head)]
    for name, s in summary["policies"].items():
        lines.append(
            f"{name:<10} {s['mlu_mean']:>8.3f} {s['mlu_p50']:>7.3f} {s['mlu_p90']:>7.3f} {s['mlu_p99']:>7.3f} "
            f"{s['mlu_max']:>7.3f} {s['ratio_mean']:>7.3f} {s['ratio_p99']:>7.3f} {s['ratio_max']:>7.3f} "
            f"{s['intervals_over_1']:>5d} {s['intervals_over_0_9']:>5d} {s['lost_bits'] / 1e12:>10.3f} "
            f"{1e3 * s['decision_seconds_mean']:>8.1f}")
    return "\n".join(lines)
