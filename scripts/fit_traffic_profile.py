#!/usr/bin/env python
"""Fit the shape parameters of :mod:`surgeguard.scenario.synthetic` on real traffic-matrix series.

Reads the SNDlib XML demand archives of Abilene (5 min, 2004-03-01..10) and GÉANT (15 min,
2005-05-04..07) in place with :func:`surgeguard.io.read_sndlib_demands` (nothing is extracted or
copied; empty steps are dropped) and writes only fitted numbers to ``src/surgeguard/scenario/profile_params.json``.

Model fitted on each series (``y(t)`` = total network demand, ``x_ij(t)`` = one OD demand)::

    log y(t)   = c + sum_k [a_k cos(2 pi k h/24) + b_k sin(2 pi k h/24)] * (rho if weekend else 1)
                   + w * weekend + e(t)                        e: AR(1), common to all ODs
    log x_ij(t) = log y_hat(t) + m_ij + e(t) + u_ij(t)          u_ij: AR(1), per OD
    mean_t x_ij = gravity_ij * exp(g_ij)                        g_ij: static OD dispersion

``h`` is the local hour (UTC + the network's offset), ``weekend`` is Saturday/Sunday local time,
``k = 1..3``. ``rho`` (weekend amplitude ratio) is found by a grid search with the other
coefficients by least squares. ``e`` and ``u`` give a marginal standard deviation and a lag-1
autocorrelation, converted to a time constant ``tau = -step / ln(phi)`` so that the generator can
run at any step. Per-OD numbers are summarised by their volume-weighted median. ``gravity_ij`` is
the simple gravity model of the time-mean matrix's own row and column sums (off-diagonal), so
``g`` is the smallest dispersion a gravity model can leave.

Usage::

    .venv/bin/python scripts/fit_traffic_profile.py [--data ../shared/data] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from surgeguard.io import read_sndlib_demands

ROOT = Path(__file__).resolve().parents[1]
K_HARMONICS = 3

DATASETS = {
    "abilene": {
        "file": "abilene/sndlib_abilene_5min_xml_20040301-20040310.tar.xz",
        # US PoPs span UTC-5 (east) .. UTC-8 (west); standard time in March 2004 (DST began
        # 2004-04-04). UTC-6 (Central) is the middle of the footprint.
        "utc_offset_hours": -6.0,
        "citation": ("Y. Zhang et al., SIGMETRICS 2003 (Abilene TMs); SNDlib, Orlowski et al., "
                     "Networks 2010, directed-abilene-zhang-5min-over-6months-ALL"),
    },
    "geant": {
        "file": "geant/sndlib_geant_15min_xml_20050504T1500-20050507T2345.tar.xz",
        # Most GÉANT PoPs were on CEST (UTC+2) in May 2005 (UK/IE/PT UTC+1, GR/IL UTC+3).
        "utc_offset_hours": 2.0,
        "citation": ("S. Uhlig et al., CCR 2006 (GÉANT TMs); SNDlib, Orlowski et al., Networks 2010, "
                     "directed-geant-uhlig-15min-over-4months-ALL"),
    },
}


# ---------------------------------------------------------------------------------------- reading
def read_sndlib_tar(path: Path) -> tuple[pd.DatetimeIndex, list[str], np.ndarray]:
    """All demand matrices of an SNDlib XML tar: (UTC times, node ids, values (T, N, N) bit/s).

    A file with no ``<demand>`` (GÉANT's first two) is dropped.
    """
    series = read_sndlib_demands(path)
    return series.times, list(series.nodes), series.total


# ---------------------------------------------------------------------------------------- fitting
def _harmonic_design(hours: np.ndarray) -> np.ndarray:
    cols = []
    for k in range(1, K_HARMONICS + 1):
        ang = 2 * np.pi * k * hours / 24.0
        cols += [np.cos(ang), np.sin(ang)]
    return np.column_stack(cols)


def _ar1(e: np.ndarray) -> float:
    e = e - e.mean()
    den = float((e * e).sum())
    return float((e[1:] * e[:-1]).sum() / den) if den > 0 else 0.0


def _tau(phi: float, step_min: float) -> float:
    phi = min(max(phi, 1e-6), 0.999999)
    return float(-step_min / np.log(phi))


def _weighted_median(v: np.ndarray, w: np.ndarray) -> float:
    o = np.argsort(v)
    c = np.cumsum(w[o])
    return float(v[o][np.searchsorted(c, 0.5 * c[-1])])


def fit_series(times: pd.DatetimeIndex, x: np.ndarray, utc_offset_hours: float) -> dict:
    """Fit the profile, noise and dispersion parameters of one series (see module docstring)."""
    step_min = float(np.median(np.diff(times.as_unit("ns").asi8)) / 60e9)
    local = times + pd.Timedelta(hours=utc_offset_hours)
    hours = np.asarray(local.hour, float) + np.asarray(local.minute, float) / 60.0
    weekend = (np.asarray(local.day_of_week) >= 5).astype(float)
    y = x.sum(axis=(1, 2))
    ly = np.log(y)
    H = _harmonic_design(hours)

    best = None
    for rho in np.linspace(0.0, 1.5, 151) if weekend.any() else [1.0]:
        scale = np.where(weekend > 0, rho, 1.0)[:, None]
        A = np.column_stack([np.ones_like(ly), H * scale, weekend])
        coef, *_ = np.linalg.lstsq(A, ly, rcond=None)
        sse = float(((ly - A @ coef) ** 2).sum())
        if best is None or sse < best[0]:
            best = (sse, float(rho), coef, A @ coef)
    sse, rho, coef, ly_hat = best
    ab = coef[1:1 + 2 * K_HARMONICS].reshape(K_HARMONICS, 2)
    w = float(coef[-1]) if weekend.any() else 0.0
    harmonics = []
    for k, (a, b) in enumerate(ab, start=1):
        amp = float(np.hypot(a, b))
        peak = float((np.degrees(np.arctan2(b, a)) / 360.0 * 24.0 / k) % (24.0 / k))
        harmonics.append({"k": k, "amplitude": round(amp, 5), "peak_hour": round(peak, 3)})
    r2 = 1.0 - sse / float(((ly - ly.mean()) ** 2).sum())
    grid = np.arange(0, 24, 0.25)
    prof = _harmonic_design(grid) @ ab.reshape(-1)
    e = ly - ly_hat
    phi = _ar1(e)

    # per-OD noise around the common profile, net of the common noise e(t)
    T = x.shape[0]
    flat = x.reshape(T, -1)
    vol = flat.mean(axis=0)
    keep = (vol > 0) & ((flat > 0).mean(axis=0) >= 0.95)
    sig, phis, wts = [], [], []
    for j in np.flatnonzero(keep):
        col = flat[:, j]
        floor = 0.01 * np.median(col[col > 0])
        r = np.log(np.maximum(col, floor)) - ly_hat - e
        r = r - r.mean()
        sig.append(r.std())
        phis.append(_ar1(r))
        wts.append(vol[j])
    sig, phis, wts = map(np.asarray, (sig, phis, wts))
    od_sigma = _weighted_median(sig, wts)
    od_phi = _weighted_median(phis, wts)

    # static dispersion of the time-mean OD matrix around a gravity model of its own marginals
    m = x.mean(axis=0)
    np.fill_diagonal(m, 0.0)
    out_, in_ = m.sum(axis=1), m.sum(axis=0)
    g = np.outer(out_, in_)
    np.fill_diagonal(g, 0.0)
    g *= m.sum() / g.sum()
    off = ~np.eye(len(m), dtype=bool)
    pos = off & (m > 0) & (g > 0)
    resid = np.log(m[pos] / g[pos])
    wr = m[pos]
    disp = float(np.sqrt(np.average((resid - np.average(resid, weights=wr)) ** 2, weights=wr)))

    return {
        "step_minutes": step_min,
        "utc_offset_hours": utc_offset_hours,
        "n_matrices": int(T),
        "n_nodes": int(x.shape[1]),
        "harmonics": harmonics,
        "weekend_factor": round(float(np.exp(w)), 5),
        "weekend_amplitude_ratio": round(rho, 3),
        "noise_sigma": round(float(e.std()), 5),
        "noise_ar1": round(phi, 5),
        "noise_tau_minutes": round(_tau(phi, step_min), 2),
        "od_noise_sigma": round(od_sigma, 5),
        "od_noise_ar1": round(od_phi, 5),
        "od_noise_tau_minutes": round(_tau(od_phi, step_min), 2),
        "od_noise_sigma_unweighted_median": round(float(np.median(sig)), 5),
        "od_dispersion_sigma": round(disp, 5),
        "od_dispersion_sigma_unweighted": round(float(resid.std()), 5),
        "zero_od_fraction": round(float(1.0 - (m[off] > 0).mean()), 5),
        "n_od_used_for_noise": int(keep.sum()),
        "diagnostics": {
            "r2_log_total": round(r2, 4),
            "peak_hour_local": float(grid[np.argmax(prof)]),
            "trough_hour_local": float(grid[np.argmin(prof)]),
            "peak_to_trough": round(float(np.exp(prof.max() - prof.min())), 4),
            "mean_total_bps": float(y.mean()),
            "first_utc": times[0].isoformat(),
            "last_utc": times[-1].isoformat(),
        },
    }


def combine(fits: dict[str, dict]) -> dict:
    """The default profile: the mean of the datasets' parameters.

    Harmonics are averaged as (cos, sin) coefficients in local time, the weekend factor
    geometrically, time constants in minutes (the AR(1) coefficient then follows at any step).
    """
    fs = list(fits.values())
    harmonics = []
    for k in range(1, K_HARMONICS + 1):
        z = np.mean([f["harmonics"][k - 1]["amplitude"]
                     * np.exp(1j * 2 * np.pi * k * f["harmonics"][k - 1]["peak_hour"] / 24.0) for f in fs])
        harmonics.append({"k": k, "amplitude": round(float(abs(z)), 5),
                          "peak_hour": round(float((np.angle(z) / (2 * np.pi) * 24.0 / k) % (24.0 / k)), 3)})

    def mean(key):
        return round(float(np.mean([f[key] for f in fs])), 5)

    return {
        "harmonics": harmonics,
        "weekend_factor": round(float(np.exp(np.mean([np.log(f["weekend_factor"]) for f in fs]))), 5),
        "weekend_amplitude_ratio": mean("weekend_amplitude_ratio"),
        "noise_sigma": mean("noise_sigma"),
        "noise_tau_minutes": mean("noise_tau_minutes"),
        "od_noise_sigma": mean("od_noise_sigma"),
        "od_noise_tau_minutes": mean("od_noise_tau_minutes"),
        "od_dispersion_sigma": mean("od_dispersion_sigma"),
        "zero_od_fraction": mean("zero_od_fraction"),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                    help="folder holding abilene/ and geant/ (default: ../shared/data)")
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "surgeguard" / "scenario" / "profile_params.json")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"data folder {args.data} not found; pass --data PATH", file=sys.stderr)
        return 2

    fits, sources = {}, []
    for name, ds in DATASETS.items():
        path = args.data / ds["file"]
        times, nodes, x = read_sndlib_tar(path)
        print(f"{name}: {len(times)} matrices x {len(nodes)} nodes, {times[0]} .. {times[-1]}", file=sys.stderr)
        fits[name] = fit_series(times, x, ds["utc_offset_hours"])
        sources.append({"name": name, "file": ds["file"], "citation": ds["citation"],
                        "n_matrices": len(times), "n_nodes": len(nodes),
                        "first_utc": times[0].isoformat(), "last_utc": times[-1].isoformat(),
                        "utc_offset_hours": ds["utc_offset_hours"],
                        "license": "ZIB Academic License (only fitted numbers are stored here)"})
    default = combine(fits)
    doc = {
        "schema": 1,
        "description": ("Shape parameters of surgeguard.scenario.synthetic.gravity_series: diurnal harmonics "
                        "of log total demand in LOCAL hours (d(h) = sum_k amplitude_k cos(2 pi k (h - "
                        "peak_hour_k) / 24)), weekend factor and amplitude ratio, AR(1) log-noise of the "
                        "total and of each OD, static OD dispersion around a gravity model."),
        "fitted_on": dt.date.today().isoformat(),
        "script": "scripts/fit_traffic_profile.py",
        "method": "Model fitted " + __doc__.split("Model fitted ", 1)[1].split("Usage::", 1)[0].strip(),
        "sources": sources,
        "profiles": {"default": default, **fits},
        "default_is": "mean of the abilene and geant profiles (see combine() in the script)",
    }
    args.out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
