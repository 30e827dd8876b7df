"""How far estimated matrices are from measured ones: the errors the estimation benchmark reports.

Per interval ``t``, the relative L2 error ``||x_t - m_t|| / ||m_t||`` over all entries of the
matrix (the diagonal included unless ``diagonal=False``, as in Zhang et al.'s Abilene rows), and the
same error restricted to the largest OD pairs: the ``top`` share (10 %) of pairs with the largest
mean measured demand over the whole series.

>>> m = np.array([[[0, 4.0], [3.0, 0]]])
>>> x = np.array([[[0, 4.0], [0.0, 0]]])
>>> float(relative_errors(x, m)[0])
0.6
"""

from __future__ import annotations

import numpy as np

from ..exceptions import ValidationError

__all__ = ["relative_errors", "top_pairs", "error_summary"]


def _check(estimates, measured) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(estimates, dtype=float)
    m = np.asarray(measured, dtype=float)
    x = x[None] if x.ndim == 2 else x
    m = m[None] if m.ndim == 2 else m
    if x.shape != m.shape or x.ndim != 3 or x.shape[1] != x.shape[2]:
        raise ValidationError(f"estimates {x.shape} and measured matrices {m.shape} must both be (T, N, N)")
    return x, m


def _mask(n: int, diagonal: bool) -> np.ndarray:
    mask = np.ones((n, n), dtype=bool)
    if not diagonal:
        np.fill_diagonal(mask, False)
    return mask


def relative_errors(estimates, measured, *, diagonal: bool = True, pairs: np.ndarray | None = None) -> np.ndarray:
    """``(T,)`` relative L2 errors; ``pairs`` (a boolean ``(N, N)`` mask) restricts the entries."""
    x, m = _check(estimates, measured)
    mask = _mask(x.shape[1], diagonal) if pairs is None else np.asarray(pairs, dtype=bool)
    e = (x - m)[:, mask]
    r = m[:, mask]
    den = np.linalg.norm(r, axis=1)
    return np.linalg.norm(e, axis=1) / np.where(den > 0, den, np.nan)


def top_pairs(measured, share: float = 0.1, *, diagonal: bool = True) -> np.ndarray:
    """Boolean ``(N, N)`` mask of the ``share`` of pairs (at least one) with the largest mean demand."""
    _, m = _check(measured, measured)
    n = m.shape[1]
    cand = _mask(n, diagonal)
    mean = np.where(cand, m.mean(axis=0), -np.inf).ravel()
    k = max(1, int(np.ceil(share * cand.sum())))
    out = np.zeros(n * n, dtype=bool)
    out[np.argsort(mean, kind="stable")[::-1][:k]] = True
    return out.reshape(n, n)


def error_summary(estimates, measured, *, diagonal: bool = True, top: float = 0.1) -> dict:
    """``mean``, ``p90`` and ``median`` of the per-interval relative L2 error, and ``top_mean``,
    ``top_p90``: the same on the largest ``top`` share of pairs; ``intervals``."""
    err = relative_errors(estimates, measured, diagonal=diagonal)
    err_top = relative_errors(estimates, measured, pairs=top_pairs(measured, top, diagonal=diagonal))
    ok = np.isfinite(err)
    okt = np.isfinite(err_top)
    return {"mean": float(err[ok].mean()), "p90": float(np.quantile(err[ok], 0.9)),
            "median": float(np.median(err[ok])), "top_mean": float(err_top[okt].mean()),
            "top_p90": float(np.quantile(err_top[okt], 0.9)), "intervals": int(ok.sum())}
