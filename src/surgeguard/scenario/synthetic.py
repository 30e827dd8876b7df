"""Synthetic traffic: gravity demands with a fitted diurnal/weekly profile and correlated noise.

The generator::

    x_ij(t) = total_bps * g_ij * p(t) * exp(c(t) - sc^2/2) * exp(u_ij(t) - su^2/2)

* ``g_ij`` -- gravity shares ``w_i w_j / sum_{k != l} w_k w_l`` (no self-demand), spread by a static
  log-normal factor of standard deviation ``od_dispersion_sigma`` and renormalised to sum 1;
  ``w`` = node weights (population by default).
* ``p(t)`` -- diurnal and weekly profile in local time (:meth:`ProfileParams.shape`), mean 1 over a
  full week.
* ``c(t)`` -- log noise common to all OD pairs, ``u_ij(t)`` -- each OD's own log noise; both AR(1)
  with the fitted standard deviation and time constant (lag-1 coefficient ``exp(-step / tau)``),
  started from their stationary law. The ``-sigma^2/2`` terms keep the expected total at
  ``total_bps * p(t)``.

The shape numbers come from ``profile_params.json``, fitted on real Abilene and GÉANT series by
``scripts/fit_traffic_profile.py`` (see :mod:`surgeguard.scenario.profile`).

Time zone: series are in UTC; the profile is placed with ``utc_offset_hours`` (local minus UTC).
When not given it is read from ``network.meta["utc_offset_hours"]`` and otherwise 0. For Morocco
the offset is +1: Morocco kept UTC+1 all year from 28 October 2018 (decree 2-18-855), except during
Ramadan when it returns to UTC+0 (in 2020 from 19 April to 31 May). The lockdown of 20 March 2020
therefore fell in UTC+1. The generator uses one fixed offset; pass ``utc_offset_hours=0`` to
simulate a Ramadan period.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from ..exceptions import ValidationError
from ..network import Network
from ..resources import check_memory, format_count
from ..traffic import TrafficSeries
from .profile import ProfileParams, load_profile

__all__ = ["gravity_matrix", "gravity_series", "node_weights", "DEFAULT_TOTAL_BPS"]

#: Default mean total demand of :func:`gravity_series`: 100 Gbit/s (a scale; pass your own).
DEFAULT_TOTAL_BPS = 100e9


def node_weights(network: Network, weights=None) -> np.ndarray:
    """Gravity weight of each node, in network node order.

    Parameters
    ----------
    network : the network.
    weights : None (use the ``population`` column), a ``{node: weight}`` mapping, or an array of
        ``network.n_nodes`` numbers. Missing values (NaN, or nodes absent from the mapping) get the
        mean of the known weights; with no known weight at all every node weighs 1 (uniform).

    Returns
    -------
    ndarray of shape (N,), >= 0.
    """
    n = network.n_nodes
    if weights is None:
        w = pd.to_numeric(network.nodes["population"], errors="coerce").to_numpy(float)
        what = "node population"
    elif isinstance(weights, Mapping):
        idx = network.node_ids(weights.keys(), what="weights node")
        w = np.full(n, np.nan)
        w[idx] = np.asarray(list(weights.values()), dtype=float)
        what = "weights"
    else:
        w = np.asarray(weights, dtype=float).reshape(-1)
        what = "weights"
        if w.shape != (n,):
            raise ValidationError(
                f"weights has {w.size} values but network {network.name!r} has {n} nodes; "
                "pass one weight per node in network order, or a {node: weight} mapping")
    if np.isinf(w).any() or (w < 0).any():
        bad = [network.node_names[i] for i in np.flatnonzero(np.isinf(w) | (w < 0))][:5]
        raise ValidationError(f"{what} of nodes {bad} is negative or infinite; use finite weights >= 0")
    known = np.isfinite(w)
    if not known.any():
        return np.ones(n)
    return np.where(known, w, w[known].mean())


def gravity_matrix(network: Network, total_bps: float, weights=None) -> np.ndarray:
    """One gravity traffic matrix: ``D_ij = total_bps * w_i w_j / sum_{k != l} w_k w_l``, ``D_ii = 0``.

    Parameters
    ----------
    network : the network (node order of the result).
    total_bps : sum of all demands, bit/s (> 0).
    weights : node weights, see :func:`node_weights` (population by default, uniform where missing).

    Returns
    -------
    ndarray (N, N) of bit/s summing to ``total_bps``.

    Examples
    --------
    >>> from surgeguard.examples import triangle
    >>> m = gravity_matrix(triangle(), 6e9)
    >>> float(m.sum()) / 1e9, float(m[0, 1]) / 1e9, float(m[0, 0])
    (6.0, 1.0, 0.0)
    """
    total = _positive(total_bps, "total_bps")
    n = network.n_nodes
    check_memory(8.0 * n * n * 3, f"a gravity traffic matrix of {format_count(n)} x {format_count(n)} nodes",
                 "use a network with fewer nodes or give the traffic as a file")
    w = node_weights(network, weights)
    g = np.outer(w, w)
    np.fill_diagonal(g, 0.0)
    s = g.sum()
    if not s > 0:
        raise ValidationError(
            f"gravity weights of network {network.name!r} give no demand (fewer than two nodes with "
            "weight > 0); give at least two nodes a positive population or weight")
    return total * g / s


def gravity_series(
    network: Network,
    start,
    periods: int,
    freq: str = "15min",
    total_bps: float = DEFAULT_TOTAL_BPS,
    params: ProfileParams | str | Mapping | None = None,
    weights=None,
    classes: Mapping[str, float] | Sequence[str] | None = None,
    random_state: int | np.random.Generator | None = None,
    *,
    utc_offset_hours: float | None = None,
    weekend_days: Sequence[int] = (5, 6),
    name: str | None = None,
) -> TrafficSeries:
    """Synthetic traffic matrices: gravity demands x fitted diurnal/weekly profile x AR(1) noise.

    Parameters
    ----------
    network : the network; its nodes are the matrix rows/columns, ``population`` the default weight.
    start : first timestamp (str or Timestamp; naive = UTC).
    periods : number of time steps (>= 1).
    freq : step as a pandas frequency (``'5min'``, ``'15min'``, ``'1h'``).
    total_bps : mean total demand over a full week, bit/s. The expected total at ``t`` is
        ``total_bps * p(t)`` with ``p`` the profile (mean 1 over a week).
    params : shape parameters: None (the fitted ``default`` profile), a profile name of the fitted
        file (``'abilene'``, ``'geant'``), a mapping of overrides of the default (e.g.
        ``{'noise_sigma': 0, 'od_noise_sigma': 0}`` for a smooth series), or a
        :class:`ProfileParams`.
    weights : node weights, see :func:`node_weights`.
    classes : traffic classes: a ``{name: share}`` mapping (shares are normalised to sum 1) or a
        list of names (equal shares). Each class gets its share of every demand; the result then
        has shape (T, C, N, N).
    random_state : seed or ``numpy.random.Generator``; the same seed gives the same series.
    utc_offset_hours : local time minus UTC, hours; default ``network.meta['utc_offset_hours']``
        or 0. See the module notes on Morocco (UTC+1 in March 2020).
    weekend_days : local weekend days, Monday = 0 (Saturday and Sunday in Morocco, Europe and the US).
    name : label of the series (default ``'gravity:<network>'``).

    Returns
    -------
    TrafficSeries in bit/s over ``network.node_names``, UTC times; ``meta`` records the generator
    settings (``utc_offset_hours``, ``profile``, ``total_bps``, ``random_state``).

    Examples
    --------
    >>> from surgeguard.examples import ring
    >>> ts = gravity_series(ring(4), "2020-03-16", periods=96, total_bps=1e9, random_state=0)
    >>> ts.values.shape, bool((ts.values >= 0).all())
    ((96, 4, 4), True)
    """
    if not isinstance(network, Network):
        raise ValidationError(f"network must be a surgeguard Network, got {type(network).__name__}")
    if int(periods) != periods or periods < 1:
        raise ValidationError(f"periods={periods!r} must be an integer >= 1")
    periods = int(periods)
    total = _positive(total_bps, "total_bps")
    prof = _resolve_params(params)
    try:
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"freq={freq!r} is not a fixed pandas frequency; use e.g. '5min', '15min', '1h'") from exc
    if step <= pd.Timedelta(0):
        raise ValidationError(f"freq={freq!r} must be a positive time step")
    try:
        t0 = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"start={start!r} is not a timestamp; use e.g. '2020-03-16T00:00Z'") from exc
    t0 = t0.tz_localize("UTC") if t0.tz is None else t0.tz_convert("UTC")
    times = pd.date_range(t0, periods=periods, freq=step)
    offset = _utc_offset(utc_offset_hours, network)
    bad_days = [d for d in weekend_days if d not in range(7)]
    if bad_days:
        raise ValidationError(f"weekend_days {bad_days} must be days of week 0 (Monday) .. 6 (Sunday)")
    n = network.n_nodes
    n_cls = len(_class_shares(classes)[0]) if classes is not None else 0
    # peak: the AR(1) noise and its filtered and exponentiated copies, the product, the class copies
    check_memory(8.0 * n * n * (periods * (3 + n_cls) + 3),
                 f"gravity traffic of {format_count(periods)} steps x {format_count(n)} x {format_count(n)} nodes"
                 + (f" x {n_cls} classes" if n_cls else ""),
                 "use fewer steps or a network with fewer nodes, or give the traffic as a file")

    rng = np.random.default_rng(random_state)
    share = gravity_matrix(network, 1.0, weights)
    if prof.od_dispersion_sigma > 0:
        s = prof.od_dispersion_sigma
        share = share * np.exp(s * rng.standard_normal((n, n)) - 0.5 * s * s)
        share /= share.sum()

    step_min = step.total_seconds() / 60.0
    level = total * prof.shape(times, offset, weekend_days)
    common = _ar1_lognormal(rng, (periods,), prof.noise_sigma, prof.noise_tau_minutes, step_min)
    od = _ar1_lognormal(rng, (periods, n, n), prof.od_noise_sigma, prof.od_noise_tau_minutes, step_min)
    values = (level * common)[:, None, None] * share[None] * od

    class_names = None
    if classes is not None:
        class_names, shares = _class_shares(classes)
        values = values[:, None] * shares[None, :, None, None]

    meta = {"generator": "gravity_series", "utc_offset_hours": offset, "profile": prof.name,
            "total_bps": total, "freq": str(freq),
            "random_state": random_state if isinstance(random_state, (int, np.integer)) else None}
    return TrafficSeries(values, network.node_names, times, class_names,
                         name or f"gravity:{network.name}", meta)


# ---------------------------------------------------------------------------------------- helpers
def _positive(x, what: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValidationError(f"{what}={x!r} must be a number > 0 (bit/s)") from None
    if not (np.isfinite(v) and v > 0):
        raise ValidationError(f"{what}={x!r} must be a finite number > 0 (bit/s)")
    return v


def _resolve_params(params) -> ProfileParams:
    if params is None:
        return load_profile("default")
    if isinstance(params, ProfileParams):
        return params
    if isinstance(params, str):
        return load_profile(params)
    if isinstance(params, Mapping):
        return load_profile("default").with_overrides(params)
    raise ValidationError(
        f"params must be None, a profile name, a mapping of overrides or a ProfileParams; got "
        f"{type(params).__name__}")


def _utc_offset(utc_offset_hours, network: Network | None) -> float:
    if utc_offset_hours is None and network is not None:
        utc_offset_hours = network.meta.get("utc_offset_hours")
    if utc_offset_hours is None:
        return 0.0
    v = float(utc_offset_hours)
    if not -14 <= v <= 14:
        raise ValidationError(f"utc_offset_hours={v!r} must be between -14 and +14 hours")
    return v


def _ar1_lognormal(rng: np.random.Generator, shape: tuple, sigma: float, tau_min: float,
                   step_min: float) -> np.ndarray:
    """``exp(e - sigma^2/2)`` with ``e`` a stationary AR(1) along axis 0 (mean 1 factors)."""
    if sigma <= 0:
        return np.ones(shape)
    phi = float(np.exp(-step_min / tau_min))
    z = rng.standard_normal(shape)
    z[1:] *= np.sqrt(1.0 - phi * phi)
    e = lfilter([1.0], [1.0, -phi], z, axis=0) * sigma
    return np.exp(e - 0.5 * sigma * sigma)


def _class_shares(classes) -> tuple[tuple[str, ...], np.ndarray]:
    if isinstance(classes, str):
        classes = [classes]
    if isinstance(classes, Mapping):
        names = tuple(str(c) for c in classes)
        shares = np.asarray(list(classes.values()), dtype=float)
    else:
        names = tuple(str(c) for c in classes)
        shares = np.ones(len(names))
    if not names:
        raise ValidationError("classes is empty; pass None or at least one class name")
    if len(set(names)) != len(names):
        raise ValidationError(f"classes {list(names)} has duplicate names; make them unique")
    if not (np.isfinite(shares).all() and (shares >= 0).all() and shares.sum() > 0):
        raise ValidationError(f"class shares {shares.tolist()} must be finite, >= 0 and not all zero")
    return names, shares / shares.sum()
