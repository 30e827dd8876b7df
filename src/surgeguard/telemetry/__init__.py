"""Telemetry in: interface counters and link rates to :class:`LinkLoads` (bit/s, UTC).

* :mod:`~surgeguard.telemetry.loads`: :class:`LinkLoads`, measured link loads and node totals
  (``from_traffic``: the loads a traffic series puts on the links through the IGP).
* :mod:`~surgeguard.telemetry.interfaces`: :class:`InterfaceMap`, which ``(instance, ifName)``
  measures which link, and which interfaces face customers or peers.
* :mod:`~surgeguard.telemetry.counters`: octet counters to rates (64-bit wraps, resets, gaps).
* :mod:`~surgeguard.telemetry.files`: counter and rate files (CSV/Parquet), read and written.
* :mod:`~surgeguard.telemetry.simulate`: :class:`TelemetrySimulator`, a live network to watch: a
  traffic series routed over the IGP, served as snmp_exporter-style counters at an accelerated clock.
* :mod:`~surgeguard.telemetry.openmetrics`: backfilled history for ``promtool tsdb create-blocks-from openmetrics``.
* :mod:`~surgeguard.telemetry.prometheus`: :class:`PrometheusSource`, link loads read from a
  Prometheus server with PromQL.
* :mod:`~surgeguard.telemetry.sources`: :class:`TelemetrySource`, what a controller reads each
  interval through: :class:`LoadsSource` (in memory), :class:`CounterFileSource` (a counter or
  rate file, replayed or followed), :class:`PrometheusTelemetry` (an unreachable server raises
  :class:`SourceUnavailable`).
"""

from .counters import COUNTER_COLUMNS, InterfaceCounters, InterfaceRates, counter_rates, resample_rates
from .files import (interface_map_for, read_counters, read_link_loads, read_node_totals, write_counters,
                    write_link_loads)
from .interfaces import MAP_COLUMNS, ROLES, InterfaceMap, TelemetryWarning, read_interface_map
from .loads import LOAD_RANGE, LinkLoads
from .openmetrics import write_openmetrics
from .prometheus import PrometheusSource, TelemetryError
from .simulate import SimClock, TelemetrySimulator
from .sources import (CounterFileSource, LoadsSource, PrometheusTelemetry, SourceUnavailable, TelemetrySource,
                      notes_between)

__all__ = [
    "LinkLoads",
    "LOAD_RANGE",
    "InterfaceMap",
    "read_interface_map",
    "TelemetryWarning",
    "ROLES",
    "MAP_COLUMNS",
    "InterfaceCounters",
    "InterfaceRates",
    "counter_rates",
    "resample_rates",
    "COUNTER_COLUMNS",
    "read_counters",
    "write_counters",
    "read_link_loads",
    "write_link_loads",
    "read_node_totals",
    "interface_map_for",
    "TelemetrySimulator",
    "SimClock",
    "write_openmetrics",
    "PrometheusSource",
    "TelemetryError",
    "TelemetrySource",
    "SourceUnavailable",
    "LoadsSource",
    "CounterFileSource",
    "PrometheusTelemetry",
    "notes_between",
]
