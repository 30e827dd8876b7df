"""The store's tables, their units, and the numbered migrations that build them.

The layout is declared once, here, in plain SQL types that DuckDB and PostgreSQL both read
(``TIMESTAMPTZ``, ``DOUBLE``/``DOUBLE PRECISION``, ``VARCHAR``, ``VARCHAR[]``, ``BIGINT``,
``BOOLEAN``): :data:`TABLES` says what each column holds and in which unit, :data:`MIGRATIONS`
builds it step by step. A store at schema version ``v`` has had migrations ``1..v`` applied, each
in its own transaction, and records ``v`` in its ``meta`` table (key ``schema_version``).

Conventions:

* **Times** are ``TIMESTAMPTZ`` in UTC. An interval is named by its start ``ds``: a row stamped
  ``ds`` describes ``[ds, ds + step)`` (as in a :class:`~surgeguard.TrafficSeries`). Forecasts
  are stamped twice: ``made_at`` (the interval that made them) and ``ds`` (the interval they
  predict).
* **Rates** are ``DOUBLE`` bit/s. ``NULL`` means not measured or unknown (a link no counter
  covered, a node without edge interfaces); it reads back as NaN.
* **Per-interval rows**: every table but ``meta`` and ``runs`` has an interval column
  (:attr:`Table.interval`); re-writing an interval first deletes every row that column ties to
  it, in the same transaction.
* **Completeness**: ``intervals`` holds, per interval, how many rows it wrote to each table
  (``n_<table>``, schema version 2); :meth:`~surgeguard.store.Store.verify` compares them with
  the tables.

Adding a migration: append a :class:`Migration` with the next number and update
:data:`TABLES` to the layout it produces (``tests/test_store.py`` checks that a fresh store and
a store migrated from version 1 both match :data:`TABLES`). Never edit a released migration.

>>> CURRENT_VERSION, [t for t in TABLES][:3]
(3, ['runs', 'intervals', 'link_rates'])
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Table", "Migration", "TABLES", "INTERVAL_TABLES", "MIGRATIONS", "CURRENT_VERSION", "META_TABLE"]

#: the key-value table holding ``schema_version``, ``created_at`` and ``surgeguard_version``
META_TABLE = "meta"


@dataclass(frozen=True)
class Table:
    """One table of the current layout.

    Attributes
    ----------
    name : the table's name.
    columns : ``(name, SQL type, meaning with unit)`` per column, in order.
    interval : the column naming the interval a row belongs to ('' for ``runs``).
    order : the columns rows are sorted by when read (stable pagination).
    """

    name: str
    columns: tuple[tuple[str, str, str], ...]
    interval: str
    order: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c[0] for c in self.columns)

    def type_of(self, column: str) -> str:
        return dict((c[0], c[1]) for c in self.columns)[column]


_ROW_TABLES = ("link_rates", "node_totals", "estimates", "forecasts", "alerts", "decisions", "splits")

#: The current layout (schema version :data:`CURRENT_VERSION`), table by table.
TABLES: dict[str, Table] = {t.name: t for t in (
    Table("runs", (
        ("id", "BIGINT", "run number, 1, 2, ... in the order runs started"),
        ("started", "TIMESTAMPTZ", "when the run started (UTC)"),
        ("config", "VARCHAR", "the run's configuration, JSON text"),
        ("network", "VARCHAR", "name of the network it watched"),
        ("version", "VARCHAR", "surgeguard version of the run"),
    ), "", ("id",)),
    Table("intervals", (
        ("ds", "TIMESTAMPTZ", "interval start (UTC); the interval is [ds, ds + step)"),
        ("run", "BIGINT", "run that wrote it (runs.id), NULL when none was given"),
        ("acknowledged_at", "TIMESTAMPTZ", "wall-clock time (UTC) of the write that stored it"),
        ("stages", "VARCHAR", "seconds per stage, JSON object {stage: seconds}"),
        ("stale", "VARCHAR[]", "names of the inputs that were stale (carried forward) in it"),
    ) + tuple((f"n_{t}", "BIGINT", f"rows the interval wrote to {t}") for t in _ROW_TABLES), "ds", ("ds",)),
    Table("link_rates", (
        ("ds", "TIMESTAMPTZ", "interval start (UTC)"),
        ("link", "VARCHAR", "directed link name, 'src->dst'"),
        ("bps", "DOUBLE", "mean rate over the interval, bit/s; NULL when not measured"),
        ("stale", "BOOLEAN", "true when carried forward from an earlier interval"),
    ), "ds", ("ds", "link")),
    Table("node_totals", (
        ("ds", "TIMESTAMPTZ", "interval start (UTC)"),
        ("node", "VARCHAR", "node name"),
        ("ingress_bps", "DOUBLE", "traffic entering the network at the node, bit/s; NULL when unknown"),
        ("egress_bps", "DOUBLE", "traffic leaving the network at the node, bit/s; NULL when unknown"),
    ), "ds", ("ds", "node")),
    Table("estimates", (
        ("ds", "TIMESTAMPTZ", "interval start (UTC)"),
        ("src", "VARCHAR", "origin node"),
        ("dst", "VARCHAR", "destination node"),
        ("bps", "DOUBLE", "estimated demand, bit/s (pairs not stored are 0)"),
        ("method", "VARCHAR", "estimation method"),
        ("residual", "DOUBLE",
         "fit residual of the estimate (relative L2 misfit of the link loads); NULL when unknown"),
    ), "ds", ("ds", "src", "dst")),
    Table("forecasts", (
        ("made_at", "TIMESTAMPTZ", "interval that made the forecast (UTC)"),
        ("ds", "TIMESTAMPTZ", "interval forecast (UTC)"),
        ("src", "VARCHAR", "origin node"),
        ("dst", "VARCHAR", "destination node"),
        ("bps", "DOUBLE", "forecast demand, bit/s (pairs not stored are 0)"),
        ("model", "VARCHAR", "forecasting model"),
    ), "made_at", ("made_at", "ds", "src", "dst")),
    Table("alerts", (
        ("ds", "TIMESTAMPTZ", "interval that raised it (UTC)"),
        ("time", "TIMESTAMPTZ", "the alert's own time, last step the detector used (UTC)"),
        ("place", "VARCHAR", "'total' or a node name"),
        ("direction", "VARCHAR", "'total', 'in' or 'out'"),
        ("shift", "DOUBLE", "relative shift against the learned normal (0.15 = +15 %)"),
        ("score", "DOUBLE", "detector statistic when it fired (residual sigmas); NULL when unknown"),
        ("detector", "VARCHAR", "detector name"),
        ("kind", "VARCHAR", "what moved: 'level', 'step' or 'shape' (Alert.kind); NULL for alerts stored "
                            "before schema version 3"),
    ), "ds", ("ds", "time", "place", "direction", "detector")),
    Table("decisions", (
        ("ds", "TIMESTAMPTZ", "interval the routing is for (UTC)"),
        ("policy", "VARCHAR", "policy that chose the routing"),
        ("mlu", "DOUBLE", "predicted maximum link utilisation (fraction of capacity); NULL when not computed"),
        ("lower_bound", "DOUBLE", "certified lower bound on the best MLU; NULL when none"),
        ("status", "VARCHAR", "'ok' or 'fallback'"),
        ("reason", "VARCHAR", "why a fallback was taken ('' when ok)"),
        ("info", "VARCHAR", "solver facts, JSON object"),
    ), "ds", ("ds",)),
    Table("splits", (
        ("ds", "TIMESTAMPTZ", "interval the routing is for (UTC)"),
        ("src", "VARCHAR", "origin node"),
        ("dst", "VARCHAR", "destination node"),
        ("path", "INTEGER", "index of the path among the OD pair's candidate paths (0 = first)"),
        ("nodes", "VARCHAR[]", "node names along the path"),
        ("links", "VARCHAR[]", "link names along the path"),
        ("weight", "DOUBLE", "fraction of the OD pair's demand on the path, in [0, 1]"),
    ), "ds", ("ds", "src", "dst", "path")),
)}

#: tables whose rows belong to one interval (all but ``runs`` and ``intervals``)
INTERVAL_TABLES: tuple[str, ...] = _ROW_TABLES


@dataclass(frozen=True)
class Migration:
    """Schema version ``version``: ``statements`` applied in one transaction to a store at
    ``version - 1``."""

    version: int
    description: str
    statements: tuple[str, ...]


_V1 = (
    f"CREATE TABLE {META_TABLE} (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    "CREATE TABLE runs (id BIGINT PRIMARY KEY, started TIMESTAMPTZ NOT NULL, config VARCHAR NOT NULL, "
    "network VARCHAR NOT NULL, version VARCHAR NOT NULL)",
    "CREATE TABLE intervals (ds TIMESTAMPTZ PRIMARY KEY, run BIGINT, acknowledged_at TIMESTAMPTZ NOT NULL, "
    "stages VARCHAR NOT NULL, stale VARCHAR[] NOT NULL)",
    "CREATE TABLE link_rates (ds TIMESTAMPTZ NOT NULL, link VARCHAR NOT NULL, bps DOUBLE, stale BOOLEAN NOT NULL)",
    "CREATE TABLE node_totals (ds TIMESTAMPTZ NOT NULL, node VARCHAR NOT NULL, ingress_bps DOUBLE, "
    "egress_bps DOUBLE)",
    "CREATE TABLE estimates (ds TIMESTAMPTZ NOT NULL, src VARCHAR NOT NULL, dst VARCHAR NOT NULL, "
    "bps DOUBLE NOT NULL, method VARCHAR NOT NULL, residual DOUBLE)",
    "CREATE TABLE forecasts (made_at TIMESTAMPTZ NOT NULL, ds TIMESTAMPTZ NOT NULL, src VARCHAR NOT NULL, "
    "dst VARCHAR NOT NULL, bps DOUBLE NOT NULL, model VARCHAR NOT NULL)",
    "CREATE TABLE alerts (ds TIMESTAMPTZ NOT NULL, time TIMESTAMPTZ NOT NULL, place VARCHAR NOT NULL, "
    "direction VARCHAR NOT NULL, shift DOUBLE NOT NULL, score DOUBLE, detector VARCHAR NOT NULL)",
    "CREATE TABLE decisions (ds TIMESTAMPTZ NOT NULL, policy VARCHAR NOT NULL, mlu DOUBLE, lower_bound DOUBLE, "
    "status VARCHAR NOT NULL, reason VARCHAR NOT NULL, info VARCHAR NOT NULL)",
    "CREATE TABLE splits (ds TIMESTAMPTZ NOT NULL, src VARCHAR NOT NULL, dst VARCHAR NOT NULL, path INTEGER NOT NULL, "
    "nodes VARCHAR[] NOT NULL, links VARCHAR[] NOT NULL, weight DOUBLE NOT NULL)",
)

_V2 = tuple(f"ALTER TABLE intervals ADD COLUMN n_{t} BIGINT" for t in _ROW_TABLES) + tuple(
    f"UPDATE intervals SET n_{t} = (SELECT count(*) FROM {t} x WHERE x.{TABLES[t].interval} = intervals.ds)"
    for t in _ROW_TABLES)

#: Every migration, in order; version ``k`` is ``MIGRATIONS[k - 1]``.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tables for runs, intervals, link rates, node totals, estimates, forecasts, alerts, decisions "
                 "and splits", _V1),
    Migration(2, "per-table row counts of each interval (intervals.n_<table>), counted from the stored rows", _V2),
    Migration(3, "what each alert saw move (alerts.kind: level, step or shape); NULL for the alerts already stored",
              ("ALTER TABLE alerts ADD COLUMN kind VARCHAR",)),
)

#: the schema version this surgeguard writes and reads
CURRENT_VERSION: int = MIGRATIONS[-1].version
