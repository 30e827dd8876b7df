"""History for Prometheus: a simulator's counters as OpenMetrics text for ``promtool`` backfilling.

``promtool tsdb create-blocks-from openmetrics FILE DATA_DIR`` turns an OpenMetrics file (every
sample with an explicit timestamp, ``# EOF`` at the end) into TSDB blocks that a Prometheus started
on ``DATA_DIR`` (or given the blocks in its data folder) queries like scraped data. With
:func:`write_openmetrics` a controller starts with days of history.

What the file holds, on a regular wall-clock grid (every ``every`` seconds, default 60, aligned
to multiples of ``every`` since the Unix epoch) covering the requested span:

* ``ifHCInOctets`` / ``ifHCOutOctets`` of every interface, as exact integers, and ``ifHighSpeed``,
  with the labels the live ``/metrics`` endpoint gives them (``instance``, ``ifName``,
  ``ifIndex``, ``ifAlias``, ``ifDescr``) plus ``labels`` (say ``job``, to match the job name the
  live data will get, so that history and live samples form one series);
* the simulator's clock gauges (``surgeguard_sim_*``), so that a reader maps the timestamps back to
  the series' ``ds`` (:class:`~surgeguard.telemetry.simulate.SimClock`).

Why the counters are ``# TYPE ifHCInOctets unknown``: in OpenMetrics a ``counter`` family ``x``
has samples named ``x_total``; ``promtool`` would then store ``ifHCInOctets_total``, and the same
PromQL would not find history and live data (``snmp_exporter`` serves ``ifHCInOctets``). Prometheus
2.42's parser does accept ``counter`` samples without the suffix, but the text is then not valid
OpenMetrics (``prometheus_client``'s parser refuses it: "Clashing name"). ``unknown`` is valid and
lands in the TSDB as exactly ``ifHCInOctets``; TSDB blocks keep no metric type, and
``rate()`` works on any series, so nothing is lost.

The timestamps are wall-clock times of the simulator's :class:`SimClock` (the history before its
pivot runs at 1x). When the grid step divides the series' step and the pivot's wall time is on
the grid, every interval boundary is a sample and ``rate(ifHCOutOctets[STEP])`` evaluated at the end
of each interval is that interval's load exactly (up to float64 rounding of counters above 2**53).

>>> import pandas as pd
>>> from surgeguard.examples import triangle
>>> from surgeguard import TrafficSeries
>>> from surgeguard.telemetry.simulate import TelemetrySimulator
>>> net = triangle()
>>> ts = TrafficSeries(np.full((2, 3, 3), 8e6), net.node_names, pd.date_range("2020-03-20", periods=2, freq="5min"))
>>> text = openmetrics_text(TelemetrySimulator(net, ts, seed=1), every=300, labels={"job": "sim"})
>>> lines = text.splitlines()
>>> lines[1], lines[2].split("}")[0] + "}", lines[-1]
('# TYPE ifHCInOctets unknown', 'ifHCInOctets{ifAlias="to B",ifDescr="et-0/0/0",ifIndex="1",ifName="et-0/0/0",instance="A",job="sim"}', '# EOF')
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Mapping

import numpy as np

from ..exceptions import ValidationError
from ..io.output import atomic_path, make_output_dir
from .simulate import IF_MIB, SIM_GAUGES, TelemetrySimulator, to_unix

__all__ = ["openmetrics_text", "write_openmetrics", "backfill_times", "OPENMETRICS_COUNTER_TYPE"]

#: The type the octet counters get in OpenMetrics (see the module docstring).
OPENMETRICS_COUNTER_TYPE = "unknown"
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def backfill_times(simulator: TelemetrySimulator, start=None, end=None, every: float = 60.0) -> np.ndarray:
    """The wall-clock sample times (Unix seconds): multiples of ``every`` from the wall time of
    simulated ``start`` (default: the series start) up to that of ``end`` (default: the series
    end), both included when on the grid."""
    if not (isinstance(every, (int, float)) and not isinstance(every, bool) and math.isfinite(every) and every > 0):
        raise ValidationError(f"The 'every' parameter of write_openmetrics must be a float in (0, inf) seconds. "
                              f"Got {every!r} instead.")
    clock = simulator.clock
    a = clock.to_wall(simulator.starts[0] if start is None else to_unix(start))
    b = clock.to_wall(simulator.ends[-1] if end is None else to_unix(end))
    if not b > a:
        raise ValidationError(f"backfill: the span ends ({b:.0f}) before it starts ({a:.0f}); give start < end")
    k0, k1 = math.ceil(round(a / every, 9)), math.floor(round(b / every, 9))
    if k1 < k0:
        raise ValidationError(f"backfill: no sample time in the span (every {every:g} s); give a longer span or a "
                              "shorter grid step")
    if k1 - k0 + 1 > 10_000_000:
        raise ValidationError(f"backfill: {k1 - k0 + 1} sample times; give a shorter span or a longer grid step")
    return np.arange(k0, k1 + 1, dtype=np.float64) * every


def _escape(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _timestamp(t: float) -> str:
    ms = int(round(t * 1000))
    s, r = divmod(ms, 1000)
    return f"{s}" if r == 0 else f"{s}.{r:03d}"


def _number(v: float) -> str:
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if float(v).is_integer() and abs(v) < 2**53:
        return str(int(v))
    return repr(float(v))


def _check_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    labels = dict(labels or {})
    reserved = {"instance", "ifName", "ifIndex", "ifAlias", "ifDescr"}
    for k in labels:
        if not _LABEL_NAME.match(str(k)) or str(k).startswith("__"):
            raise ValidationError(f"backfill label name {k!r} is not a Prometheus label name; use letters, digits "
                                  "and '_' (not starting with a digit or '__')")
        if k in reserved:
            raise ValidationError(f"backfill label {k!r} is set by the simulator; choose another name (e.g. job)")
    return {str(k): str(v) for k, v in labels.items()}


def _lines(simulator: TelemetrySimulator, times: np.ndarray, labels: dict[str, str]):
    m = simulator.interfaces
    counters = simulator.counters(simulator.clock.to_sim(times))  # (m, n, 2) uint64
    stamps = [_timestamp(t) for t in times]
    for name, (kind, doc) in IF_MIB.items():
        yield f"# HELP {name} {doc}\n"
        yield f"# TYPE {name} {OPENMETRICS_COUNTER_TYPE if kind == 'counter' else kind}\n"
        for i in range(m.n_interfaces):
            lab = simulator.interface_labels(i)
            lab.update(labels)
            head = name + "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(lab.items())) + "} "
            if name == "ifHighSpeed":
                val = _number(float(simulator.speed_mbps[i]))
                yield "".join(f"{head}{val} {s}\n" for s in stamps)
            else:
                col = counters[:, i, 0 if name == "ifHCInOctets" else 1]
                yield "".join(f"{head}{int(v)} {s}\n" for v, s in zip(col.tolist(), stamps))
    values = [simulator.clock_values(t) for t in times]
    extra = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    for name, doc in SIM_GAUGES.items():
        yield f"# HELP {name} {doc}\n# TYPE {name} gauge\n"
        head = name + ("{" + extra + "}" if extra else "") + " "
        yield "".join(f"{head}{_number(v[name])} {s}\n" for v, s in zip(values, stamps) if not math.isnan(v[name]))
    yield "# EOF\n"


def openmetrics_text(simulator: TelemetrySimulator, *, start=None, end=None, every: float = 60.0,
                     labels: Mapping[str, str] | None = None) -> str:
    """The OpenMetrics history of ``simulator`` between simulated ``start`` and ``end`` (default:
    the whole series) sampled every ``every`` wall seconds, as one string (see
    :func:`write_openmetrics` for files)."""
    times = backfill_times(simulator, start, end, every)
    return "".join(_lines(simulator, times, _check_labels(labels)))


def write_openmetrics(simulator: TelemetrySimulator, path, *, start=None, end=None, every: float = 60.0,
                      labels: Mapping[str, str] | None = None) -> Path:
    """Write the OpenMetrics history (see the module docstring) to ``path`` atomically; returns
    the path. Load it with ``promtool tsdb create-blocks-from openmetrics PATH DATA_DIR``."""
    times = backfill_times(simulator, start, end, every)
    labels = _check_labels(labels)
    make_output_dir(Path(path).expanduser().parent)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            for chunk in _lines(simulator, times, labels):
                fh.write(chunk)
    return Path(path)
