"""Units, by name. Everything inside surgeguard is bit/s, seconds, kilometres and UTC.

Readers convert from their source's unit with :func:`to_bps`, naming the unit as the source names
it, never guessing.
"""

from __future__ import annotations

import numpy as np

from .exceptions import InputError

__all__ = ["BPS_PER_UNIT", "to_bps", "great_circle_km", "FIBRE_KM_PER_MS", "MAX_RATE_BPS", "MAX_METRIC",
           "MAX_LENGTH_KM", "MAX_LATENCY_MS"]

#: The largest rate surgeguard accepts, in bit/s, for one demand or one link capacity: 1 Pbit/s.
#: The largest router ports today carry 800 Gbit/s and the busiest backbone links a few Tbit/s, so
#: a single demand or link of more than a petabit per second is a unit or typing mistake (a value
#: in bit/s read as Mbit/s, a stray exponent). The bound also keeps every sum finite: a link load
#: is at most the sum of N x N demands, and N^2 x 1e15 stays far below the float limit of 1.8e308,
#: so link loads and totals never overflow to ``inf`` (which JSON cannot even write).
MAX_RATE_BPS = 1e15

#: The largest IGP metric accepted for one link. IS-IS wide metrics stop at 2^24 - 1 and OSPF at
#: 2^16 - 1; metrics derived from lengths or reference bandwidths stay well below 1e12, and path
#: costs (sums of metrics) stay exact integers in a float for any realistic number of hops.
MAX_METRIC = 1e12

#: The longest fibre length accepted for one link, km: two and a half times round the Earth
#: (40,075 km), above any cable system. Longer values are a unit mistake (metres read as km).
MAX_LENGTH_KM = 1e5

#: The largest propagation latency accepted for one link, ms (10 s; a geostationary satellite hop
#: takes about 270 ms).
MAX_LATENCY_MS = 1e4

#: Multiplier from a named traffic/capacity unit to bit/s.
BPS_PER_UNIT: dict[str, float] = {
    "bps": 1.0,
    "bit/s": 1.0,
    "kbps": 1e3,
    "kbit/s": 1e3,
    "mbps": 1e6,
    "mbit/s": 1e6,
    "mbitpersec": 1e6,  # SNDlib <unit>MBITPERSEC</unit>
    "gbps": 1e9,
    "gbit/s": 1e9,
    "tbps": 1e12,
    # Zhang's Abilene X files: bytes counted in 100-byte units over a 5-minute bin.
    # bit/s = value * 100 B * 8 bit/B / 300 s = value * 8/3.
    "100bytes/5min": 100.0 * 8.0 / 300.0,
}

#: Light in fibre travels about 200 km per millisecond (refractive index ~1.5).
FIBRE_KM_PER_MS = 200.0


def to_bps(values, unit: str):
    """Convert ``values`` given in ``unit`` (a key of :data:`BPS_PER_UNIT`) to bit/s.

    >>> float(to_bps(2.5, "Mbit/s"))
    2500000.0
    """
    key = unit.strip().lower().replace(" ", "")
    if key not in BPS_PER_UNIT:
        raise InputError(
            f"unknown traffic unit {unit!r}; use one of {sorted(set(BPS_PER_UNIT))}"
        )
    return np.asarray(values, dtype=float) * BPS_PER_UNIT[key]


def great_circle_km(lon1, lat1, lon2, lat2):
    """Great-circle distance in km between points given in degrees (haversine, R = 6371 km).

    >>> round(float(great_circle_km(-7.59, 33.57, -6.84, 34.02)))  # Casablanca - Rabat
    85
    """
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
