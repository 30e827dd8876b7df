"""Traffic-shape parameters fitted on real backbone series, and the time profile they define.

The numbers live in ``profile_params.json`` next to this module, written by
``scripts/fit_traffic_profile.py`` from the real Abilene (5 min, March 2004) and GÉANT (15 min,
May 2005) traffic-matrix series. Only fitted numbers are stored, never the data. The file lists the
source archives, the fit method and the date.

The diurnal profile is given in **local** hours; a generator places it in UTC with the network's
offset (``utc_offset_hours``)::

    log p(t) = d(h) * (rho if weekend else 1) + log(weekend_factor if weekend else 1)
    d(h)     = sum_k amplitude_k * cos(2 pi k (h - peak_hour_k) / 24)

``h`` is the local hour of ``t``, ``rho`` the weekend amplitude ratio. :meth:`ProfileParams.shape`
normalises ``p`` so that its mean over a full week is 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from importlib import resources
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..validation import Interval, validate_params

__all__ = ["ProfileParams", "load_profile", "profile_document", "local_hours", "PROFILE_FILE"]

#: File name of the fitted parameters inside :mod:`surgeguard.scenario`.
PROFILE_FILE = "profile_params.json"


@dataclass(frozen=True)
class ProfileParams:
    """Shape parameters of synthetic traffic (all dimensionless unless stated).

    Parameters
    ----------
    harmonics : tuple of (amplitude, peak_hour) pairs, one per harmonic k = 1, 2, ...; amplitude
        of ``cos(2 pi k (h - peak_hour) / 24)`` in the log of total demand, ``h`` in local hours.
    weekend_factor : mean weekend level relative to weekdays (e.g. 0.8 = 20 % less traffic).
    weekend_amplitude_ratio : diurnal amplitude on weekend days relative to weekdays.
    noise_sigma : standard deviation of the log noise common to all OD pairs.
    noise_tau_minutes : AR(1) time constant of that noise; lag-1 coefficient at step ``s`` minutes
        is ``exp(-s / tau)``.
    od_noise_sigma : standard deviation of each OD pair's own log noise.
    od_noise_tau_minutes : AR(1) time constant of the OD noise.
    od_dispersion_sigma : standard deviation of the static log-normal factor that spreads OD means
        around the gravity model.
    name : which profile of the JSON file (``default``, ``abilene``, ``geant``) or ``custom``.
    """

    harmonics: tuple[tuple[float, float], ...] = ((0.2, 15.0),)
    weekend_factor: float = 1.0
    weekend_amplitude_ratio: float = 1.0
    noise_sigma: float = 0.0
    noise_tau_minutes: float = 60.0
    od_noise_sigma: float = 0.0
    od_noise_tau_minutes: float = 60.0
    od_dispersion_sigma: float = 0.0
    name: str = "custom"

    _parameter_constraints = {
        **{key: [Interval(float, 0, None, closed="neither")]
           for key in ("weekend_factor", "noise_tau_minutes", "od_noise_tau_minutes")},
        **{key: [Interval(float, 0, None)]
           for key in ("weekend_amplitude_ratio", "noise_sigma", "od_noise_sigma", "od_dispersion_sigma")},
    }

    def __post_init__(self):
        # a frozen record of fitted numbers: checked once, when it is made
        h = tuple((float(a), float(p)) for a, p in self.harmonics)
        object.__setattr__(self, "harmonics", h)
        validate_params(self)
        if any(not (np.isfinite(a) and np.isfinite(p)) for a, p in h):
            raise ValidationError(f"The 'harmonics' parameter of ProfileParams must be finite (amplitude, peak_hour) "
                                  f"pairs. Got {h!r} instead.")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, d: Mapping, name: str = "custom") -> "ProfileParams":
        """Build from a profile entry of the JSON file (extra keys such as diagnostics are ignored)."""
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known and k != "harmonics"}
        if "harmonics" in d:
            kw["harmonics"] = tuple(
                (h["amplitude"], h["peak_hour"]) if isinstance(h, Mapping) else tuple(h) for h in d["harmonics"])
        kw.setdefault("name", name)
        return cls(**kw)

    def with_overrides(self, overrides: Mapping) -> "ProfileParams":
        """A copy with some parameters replaced; unknown keys raise an error listing the valid ones."""
        known = [f.name for f in fields(self)]
        bad = sorted(set(overrides) - set(known))
        if bad:
            raise ValidationError(f"unknown profile parameter(s) {bad}; valid keys are {known}")
        kw = dict(overrides)
        if "harmonics" in kw:
            kw["harmonics"] = ProfileParams.from_dict({"harmonics": kw["harmonics"]}).harmonics
        return replace(self, **kw)

    # ------------------------------------------------------------------ profile
    def log_diurnal(self, hours) -> np.ndarray:
        """``d(h)``: the weekday diurnal component of log demand at local hours ``hours``."""
        h = np.asarray(hours, dtype=float)
        out = np.zeros_like(h)
        for k, (amp, peak) in enumerate(self.harmonics, start=1):
            out = out + amp * np.cos(2 * np.pi * k * (h - peak) / 24.0)
        return out

    def log_profile(self, hours, weekend) -> np.ndarray:
        """Un-normalised log profile at local ``hours`` with a boolean ``weekend`` mask."""
        wk = np.asarray(weekend, dtype=bool)
        d = self.log_diurnal(hours)
        return np.where(wk, self.weekend_amplitude_ratio * d + np.log(self.weekend_factor), d)

    def weekly_mean(self, n_weekend_days: int = 2) -> float:
        """Mean of ``exp(log_profile)`` over a week with ``n_weekend_days`` weekend days."""
        h = np.arange(0, 24, 1 / 12)
        wd = np.exp(self.log_profile(h, False)).mean()
        we = np.exp(self.log_profile(h, True)).mean()
        return float(((7 - n_weekend_days) * wd + n_weekend_days * we) / 7.0)

    def shape(self, times, utc_offset_hours: float = 0.0,
              weekend_days: Sequence[int] = (5, 6)) -> np.ndarray:
        """Multiplicative profile at UTC ``times``, with mean 1 over a full week.

        Parameters
        ----------
        times : timestamps (naive = UTC).
        utc_offset_hours : local time minus UTC, in hours (Morocco, March 2020: +1).
        weekend_days : local days of week (Monday = 0) with the weekend profile.
        """
        hours, dow = local_hours(times, utc_offset_hours)
        wk = np.isin(dow, list(weekend_days))
        return np.exp(self.log_profile(hours, wk)) / self.weekly_mean(len(set(weekend_days)))

    def peak_hour(self) -> float:
        """Local hour of the weekday maximum (to 5 minutes)."""
        h = np.arange(0, 24, 1 / 12)
        return float(h[np.argmax(self.log_diurnal(h))])


def local_hours(times, utc_offset_hours: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Local fractional hour and day of week (Monday = 0) of UTC ``times`` at a fixed offset."""
    idx = pd.DatetimeIndex(pd.to_datetime(times))
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    local = idx + pd.Timedelta(hours=float(utc_offset_hours))
    hours = (np.asarray(local.hour, float) + np.asarray(local.minute, float) / 60.0
             + np.asarray(local.second, float) / 3600.0)
    return hours, np.asarray(local.day_of_week, dtype=np.int64)


@lru_cache(maxsize=1)
def _document_text() -> str:
    return resources.files(__package__).joinpath(PROFILE_FILE).read_text(encoding="utf-8")


def profile_document() -> dict:
    """The whole fitted-parameter file: numbers, sources, method and fit date (a fresh copy)."""
    return json.loads(_document_text())


def load_profile(name: str = "default") -> ProfileParams:
    """The fitted :class:`ProfileParams` called ``name`` (``default``, ``abilene`` or ``geant``).

    ``default`` is the mean of the Abilene and GÉANT fits (see ``scripts/fit_traffic_profile.py``).

    Examples
    --------
    >>> p = load_profile()
    >>> 12 <= p.peak_hour() <= 18 and 0 < p.weekend_factor < 1
    True
    """
    profiles = profile_document()["profiles"]
    if name not in profiles:
        raise ValidationError(f"unknown traffic profile {name!r}; choose one of {sorted(profiles)}")
    return ProfileParams.from_dict(profiles[name], name=name)
