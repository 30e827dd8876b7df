"""The embedded store: one DuckDB file (or ``:memory:``) behind the :class:`~surgeguard.store.Store`
interface.

Durability. :meth:`DuckDBStore.write_interval` runs ``BEGIN``; deletes the interval's rows;
inserts the new ones; records the interval; ``COMMIT``. DuckDB appends the committed transaction
to its write-ahead log (``<file>.wal``) before ``COMMIT`` returns and replays the log when the
file is next opened, so a process killed with ``kill -9`` at any moment keeps every interval whose
write returned and none of the one in progress (``tests/test_store.py`` kills a writer at random
moments and checks this). The log is folded into the file at checkpoints and on :meth:`close`.

Processes and threads. DuckDB lets **one process** open a database file for writing, and while it
does, no other process can open it at all, not even read-only: a second process gets a one-line
:class:`~surgeguard.InputError` ("in use by another process (PID n)"). So the controller's process
owns the store: the REST API and dashboard read it from inside that process (through the same
:class:`DuckDBStore`; each read uses its own DuckDB cursor and sees the last committed state,
so reads from other threads never see half an interval), and other processes read a Parquet
export (:meth:`DuckDBStore.export_parquet`) or go through the API. ``read_only=True`` opens a
store no process is writing (for reports, or after the controller stopped). Where several
controllers or processes must share one history, a server database (PostgreSQL) is the place;
it would implement the same :class:`~surgeguard.store.Store` interface.

Example (in memory):

>>> store = DuckDBStore(":memory:")
>>> run = store.start_run({"policy": "optimal", "interval": "5min"}, network="abilene")
>>> stored = store.write_interval("2020-03-20 10:05", run=run, link_rates={"A->B": 1.5e9, "B->A": 2e9},
...                               stages={"query": 0.12, "estimate": 0.03})
>>> print(stored)  # log this only now: the interval is committed
stored 2020-03-20T10:05:00Z (2 rows)
>>> store.last_interval()
Timestamp('2020-03-20 10:05:00+0000', tz='UTC')
>>> print(store.link_rates().to_string(index=False))
                       ds link          bps  stale
2020-03-20 10:05:00+00:00 A->B 1500000000.0  False
2020-03-20 10:05:00+00:00 B->A 2000000000.0  False
>>> store.close()
"""

from __future__ import annotations

import numbers
import os
import re
import threading
from pathlib import Path
from typing import Mapping

import duckdb
import numpy as np
import pandas as pd

from .. import __version__
from ..exceptions import InputError, ValidationError
from ..io.common import check_regular, one_line
from ..io.output import OutputError, atomic_path, json_text, make_output_dir
from .base import IntervalRows, Store, Stored, iso, utc_time
from .schema import CURRENT_VERSION, INTERVAL_TABLES, META_TABLE, MIGRATIONS, TABLES

__all__ = ["DuckDBStore", "MEMORY"]

#: the location of an in-memory store (gone on close; for tests and examples)
MEMORY = ":memory:"


def _sql_string(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


class DuckDBStore(Store):
    """A :class:`~surgeguard.store.Store` in one DuckDB file.

    Parameters
    ----------
    path : the database file (created, with its folder, when absent) or ``":memory:"``.
    read_only : open without writing (refused when the file does not exist, or needs a migration).
    migrate : bring an older schema up to date on open (default). With False an older store opens
        but every read and write refuses until :meth:`migrate` is called.

    A file that is not a DuckDB database, a DuckDB database that is not a surgeguard store, a
    store written by a newer surgeguard (a newer schema version), or a file another process has
    open, are refused with a one-line :class:`~surgeguard.InputError` naming the file and the fix.
    """

    def __init__(self, path=MEMORY, *, read_only: bool = False, migrate: bool = True):
        self.read_only = bool(read_only)
        self._lock = threading.RLock()
        self._con = None
        if str(path) == MEMORY:
            if self.read_only:
                raise InputError("an in-memory store cannot be read-only (it starts empty); give a store file")
            self.location, self._path = MEMORY, None
        else:
            p = Path(os.fspath(path)).expanduser()
            self.location, self._path = str(p), p
            if os.path.lexists(p):
                check_regular(p, "store")  # a folder, a FIFO, a device: one-line InputError
            elif self.read_only:
                raise InputError(f"store {self.location!r} does not exist; give the path of an existing store "
                                 "(read_only opens no new one)")
            else:
                make_output_dir(p.parent, what="store folder")
        self._con = self._connect()
        try:
            self._con.execute("SET TimeZone='UTC'")
            version = self._read_version(self._con)
            if version > CURRENT_VERSION:
                raise InputError(f"store {self.location!r} has schema version {version}, newer than this surgeguard "
                                 f"({__version__}) knows (up to {CURRENT_VERSION}); open it with a newer surgeguard, "
                                 "or give this one another store file")
            if version < CURRENT_VERSION:
                if self.read_only:
                    what = "is an empty database, not a surgeguard store" if version == 0 else \
                        f"has schema version {version}, older than {CURRENT_VERSION}"
                    raise InputError(f"store {self.location!r} {what}; open it once without read_only to "
                                     + ("create" if version == 0 else "migrate") + " it")
                if migrate:
                    self.migrate()
        except BaseException:
            self._con.close()
            self._con = None
            raise

    # ------------------------------------------------------------------ opening
    def _connect(self):
        target = MEMORY if self._path is None else str(self._path)
        try:
            return duckdb.connect(target, read_only=self.read_only)
        except duckdb.Error as err:
            raise InputError(self._open_error(err)) from None

    def _open_error(self, err: Exception) -> str:
        msg = str(err)
        where = f"store {self.location!r}"
        if "lock" in msg.lower():
            pid = re.search(r"PID (\d+)", msg)
            who = f" (PID {pid.group(1)})" if pid else ""
            return (f"{where} is in use by another process{who}: DuckDB lets one process open a store file, and "
                    "only it can read it while it runs; read through that process (its API) or a Parquet export "
                    "(export_parquet), or stop it first")
        if "not a valid DuckDB database" in msg or "not a valid" in msg.lower():
            return (f"{where} is not a DuckDB database file; give the path of a surgeguard store, or a new file "
                    "name to create one")
        if "different configuration" in msg:
            return (f"{where} is already open in this process with read_only={not self.read_only}; share that "
                    "store object (reads are safe from several threads) or close it first")
        if "newer version" in msg.lower() or "storage version" in msg.lower():
            return f"{where} was written by another DuckDB version ({one_line(err)}); open it with a matching duckdb"
        return f"cannot open {where}: {one_line(err)}"

    def _tables(self, con) -> set[str]:
        rows = con.execute("SELECT table_name FROM information_schema.tables "
                           "WHERE table_schema = 'main' AND table_catalog = current_database()").fetchall()
        return {r[0] for r in rows}

    def _read_version(self, con) -> int:
        tables = self._tables(con)
        if META_TABLE not in tables:
            if tables:
                raise InputError(f"store {self.location!r} is a DuckDB database but not a surgeguard store (no "
                                 f"'{META_TABLE}' table; it holds {', '.join(sorted(tables)[:5])}); give another "
                                 "file")
            return 0
        row = con.execute(f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'").fetchone()
        try:
            return int(row[0])
        except (TypeError, ValueError):
            raise InputError(f"store {self.location!r} has no valid schema_version in its '{META_TABLE}' table "
                             f"(found {None if row is None else row[0]!r}); give a surgeguard store") from None

    @property
    def schema_version(self) -> int:
        with self._lock:
            return self._read_version(self._live())

    def migrate(self) -> list[int]:
        """Apply the missing migrations of :data:`~surgeguard.store.schema.MIGRATIONS` in order,
        each in its own transaction (a failing one is rolled back and leaves the store at the
        version before it); returns the versions applied."""
        self._writable("migrate")
        applied = []
        with self._lock:
            con = self._live()
            start = self._read_version(con)
            for m in MIGRATIONS[start:]:
                con.execute("BEGIN TRANSACTION")
                try:
                    for stmt in m.statements:
                        con.execute(stmt)
                    now = iso(pd.Timestamp.now(tz="UTC"))
                    meta = {"schema_version": str(m.version), "surgeguard_version": __version__,
                            f"migrated_{m.version}": now}
                    if m.version == 1:
                        meta["created_at"] = now
                    for k, v in meta.items():
                        con.execute(f"INSERT OR REPLACE INTO {META_TABLE} VALUES (?, ?)", [k, v])
                    con.execute("COMMIT")
                except duckdb.Error as err:
                    con.execute("ROLLBACK")
                    raise InputError(f"store {self.location!r}: migration {m.version} ({m.description}) failed "
                                     f"({one_line(err)}); the store stays at schema version "
                                     f"{m.version - 1}") from None
                applied.append(m.version)
        return applied

    def meta(self) -> dict[str, str]:
        """The ``meta`` table: ``schema_version``, ``created_at``, ``surgeguard_version``, ..."""
        with self._cursor() as cur:
            return dict(cur.execute(f"SELECT key, value FROM {META_TABLE} ORDER BY key").fetchall())

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def __repr__(self) -> str:
        state = "closed" if self._con is None else ("read-only" if self.read_only else "open")
        return f"DuckDBStore({self.location!r}, {state})"

    # ------------------------------------------------------------------ guards
    def _live(self):
        if self._con is None:
            raise InputError(f"store {self.location!r} is closed; open it again")
        return self._con

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise InputError(f"store {self.location!r} is open read-only; cannot {what} (open it without read_only)")

    def _current(self, con) -> None:
        v = self._read_version(con)
        if v != CURRENT_VERSION:
            raise InputError(f"store {self.location!r} has schema version {v}, older than {CURRENT_VERSION}; call "
                             "migrate() (or open it with migrate=True)")

    def _cursor(self):
        """A DuckDB cursor of its own (thread-safe use), in UTC, on the last committed state."""
        with self._lock:
            cur = self._live().cursor()
        cur.execute("SET TimeZone='UTC'")
        return cur

    # ------------------------------------------------------------------ runs
    def start_run(self, config: Mapping | None = None, *, network: str = "", version: str | None = None) -> int:
        self._writable("start a run")
        if config is not None and not isinstance(config, Mapping):
            raise ValidationError(f"store {self.location!r}: a run's config must be a mapping, got "
                                  f"{type(config).__name__}")
        if not isinstance(network, str):
            raise ValidationError(f"store {self.location!r}: a run's network must be a name, got {network!r}")
        text = json_text(dict(config or {}))
        with self._lock:
            con = self._live()
            self._current(con)
            con.execute("BEGIN TRANSACTION")
            try:
                run = int(con.execute("SELECT coalesce(max(id), 0) + 1 FROM runs").fetchone()[0])
                con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?)",
                            [run, pd.Timestamp.now(tz="UTC"), text, network, version or __version__])
                con.execute("COMMIT")
            except duckdb.Error as err:
                con.execute("ROLLBACK")
                raise OutputError(f"cannot record a run in store {self.location!r} ({one_line(err)})") from None
        return run

    # ------------------------------------------------------------------ writes
    def commit_interval(self, rows: IntervalRows) -> Stored:
        self._writable(f"write interval {iso(rows.ds)}")
        counts = rows.counts
        with self._lock:
            con = self._live()
            self._current(con)
            con.execute("BEGIN TRANSACTION")
            try:
                if rows.run is not None and not con.execute("SELECT 1 FROM runs WHERE id = ?", [rows.run]).fetchone():
                    raise ValidationError(f"store interval {iso(rows.ds)}: run {rows.run} is not in store "
                                          f"{self.location!r}; give the id start_run returned")
                for t in INTERVAL_TABLES:
                    con.execute(f"DELETE FROM {t} WHERE {TABLES[t].interval} = ?", [rows.ds])
                con.execute("DELETE FROM intervals WHERE ds = ?", [rows.ds])
                for t in INTERVAL_TABLES:
                    self._insert(con, t, rows.frames[t])
                acknowledged = pd.Timestamp.now(tz="UTC").floor("us")
                cols = TABLES["intervals"].column_names
                con.execute(f"INSERT INTO intervals ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                            [rows.ds, rows.run, acknowledged, json_text(rows.stages), list(rows.stale)]
                            + [counts[t] for t in INTERVAL_TABLES])
                con.execute("COMMIT")
            except BaseException as err:
                try:
                    con.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                if isinstance(err, duckdb.Error):
                    raise OutputError(f"cannot store interval {iso(rows.ds)} in {self.location!r} "
                                      f"({one_line(err)}); nothing of it was stored") from None
                raise
        return Stored(rows.ds, acknowledged, counts)

    def _insert(self, con, table: str, frame: pd.DataFrame) -> None:
        """Insert ``frame`` (columns in the table's order) into ``table``, each column cast to its
        declared type."""
        if not len(frame):
            return
        t = TABLES[table]
        view = f"sg_rows_{table}"
        con.register(view, frame)
        try:
            cols = ", ".join(f"CAST({c} AS {t.type_of(c)}) AS {c}" for c in t.column_names)
            con.execute(f"INSERT INTO {table} SELECT {cols} FROM {view}")
        finally:
            con.unregister(view)

    # ------------------------------------------------------------------ reads
    def _query(self, table: str, start, end, where: Mapping | None) -> tuple[str, list]:
        if table not in TABLES:
            raise ValidationError(f"unknown store table {table!r}; choose one of: {', '.join(TABLES)}")
        t = TABLES[table]
        col = t.interval or "started"
        clauses, params = [], []
        if start is not None:
            clauses.append(f"{col} >= ?")
            params.append(utc_time(start, "start"))
        if end is not None:
            clauses.append(f"{col} < ?")
            params.append(utc_time(end, "end"))
        for c, v in dict(where or {}).items():
            if c not in t.column_names:
                raise ValidationError(f"store table {table!r} has no column {c!r}; filter on one of: "
                                      f"{', '.join(t.column_names)}")
            values = list(v) if isinstance(v, (list, tuple, set, np.ndarray, pd.Index, pd.Series)) else [v]
            if t.type_of(c) == "TIMESTAMPTZ":
                values = [utc_time(x, c) for x in values]
            if not values:
                clauses.append("FALSE")
                continue
            clauses.append(f"{c} IN ({', '.join('?' * len(values))})")
            params.extend(values)
        sql = f"FROM {table}" + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
        return sql, params

    @staticmethod
    def _page(limit, offset) -> str:
        for name, v in (("limit", limit), ("offset", offset)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (numbers.Integral, np.integer)) or v < 0):
                raise ValidationError(f"The '{name}' parameter of a store read must be an int >= 0 or None. "
                                      f"Got {v!r} instead.")
        return (f" LIMIT {int(limit)}" if limit is not None else "") + (f" OFFSET {int(offset)}" if offset else "")

    def read(self, table: str, start=None, end=None, *, where: Mapping | None = None, limit: int | None = None,
             offset: int = 0) -> pd.DataFrame:
        sql, params = self._query(table, start, end, where)
        t = TABLES[table]
        page = self._page(limit, offset)
        with self._cursor() as cur:
            self._current(cur)
            df = cur.execute(f"SELECT {', '.join(t.column_names)} {sql} ORDER BY {', '.join(t.order)}{page}",
                             params).df()
        for c in t.column_names:
            kind = t.type_of(c)
            if kind == "TIMESTAMPTZ":
                df[c] = pd.DatetimeIndex(df[c]).tz_convert("UTC").as_unit("ns") if len(df) else \
                    pd.Series([], dtype="datetime64[ns, UTC]")
            elif kind.endswith("[]"):
                df[c] = pd.Series([list(x) for x in df[c]], dtype=object, index=df.index)
            elif kind == "DOUBLE":
                df[c] = df[c].astype(float)
        return df

    def count(self, table: str, start=None, end=None, *, where: Mapping | None = None) -> int:
        sql, params = self._query(table, start, end, where)
        with self._cursor() as cur:
            self._current(cur)
            return int(cur.execute(f"SELECT count(*) {sql}", params).fetchone()[0])

    def last_interval(self, run: int | None = None, *, with_rows: str | None = None) -> pd.Timestamp | None:
        clauses, params = [], []
        if run is not None:
            clauses.append("run = ?")
            params.append(int(run))
        if with_rows is not None:
            if with_rows not in INTERVAL_TABLES:
                raise ValidationError(f"unknown store table {with_rows!r}; choose one of: {', '.join(INTERVAL_TABLES)}")
            clauses.append(f"n_{with_rows} > 0")
        sql = "SELECT max(ds) FROM intervals" + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
        with self._cursor() as cur:
            self._current(cur)
            v = cur.execute(sql, params).fetchone()[0]
        return None if v is None else pd.Timestamp(v).tz_convert("UTC").as_unit("ns")

    def verify(self, start=None, end=None) -> pd.DataFrame:
        bounds = [(op, utc_time(v, name)) for op, v, name in ((">=", start, "start"), ("<", end, "end"))
                  if v is not None]

        def cond(alias: str) -> tuple[str, list]:
            return " AND ".join([f"{alias}.ds {op} ?" for op, _ in bounds] or ["TRUE"]), [v for _, v in bounds]
        parts, params = [], []
        for t in INTERVAL_TABLES:
            col = TABLES[t].interval
            found = f"(SELECT {col} AS ds, count(*) AS n FROM {t} GROUP BY {col})"
            ci, pi = cond("i")
            cc, pc = cond("c")
            parts.append(f"SELECT i.ds, '{t}' AS \"table\", i.n_{t} AS expected, coalesce(c.n, 0) AS found "
                         f"FROM intervals i LEFT JOIN {found} c ON c.ds = i.ds "
                         f"WHERE i.n_{t} IS DISTINCT FROM coalesce(c.n, 0) AND {ci}")
            parts.append(f"SELECT c.ds, '{t}' AS \"table\", NULL AS expected, c.n AS found FROM {found} c "
                         f"WHERE c.ds NOT IN (SELECT ds FROM intervals) AND {cc}")
            params += pi + pc
        sql = " UNION ALL ".join(parts) + " ORDER BY ds, \"table\""
        with self._cursor() as cur:
            self._current(cur)
            df = cur.execute(sql, params).df()
        df["ds"] = pd.DatetimeIndex(df["ds"]).tz_convert("UTC").as_unit("ns") if len(df) else \
            pd.Series([], dtype="datetime64[ns, UTC]")
        return df.astype({"expected": "Int64", "found": "Int64"})

    # ------------------------------------------------------------------ export
    def export_parquet(self, folder) -> dict[str, Path]:
        """Write ``meta`` and every table to ``folder/<table>.parquet`` (Parquet, zstd) from one
        snapshot (one read transaction), each file atomically (a reader never sees half a file;
        an interrupted export leaves earlier files whole). Times are UTC timestamps, rates bit/s.
        Returns ``{table: path}``."""
        out_dir = make_output_dir(folder, what="Parquet export folder")
        out: dict[str, Path] = {}
        with self._cursor() as cur:
            self._current(cur)
            cur.execute("BEGIN TRANSACTION")
            try:
                for name in (META_TABLE, *TABLES):
                    order = "key" if name == META_TABLE else ", ".join(TABLES[name].order)
                    dest = out_dir / f"{name}.parquet"
                    with atomic_path(dest) as tmp:
                        try:
                            cur.execute(f"COPY (SELECT * FROM {name} ORDER BY {order}) TO {_sql_string(tmp)} "
                                        "(FORMAT parquet, COMPRESSION zstd)")
                        except duckdb.Error as err:
                            raise OutputError(f"cannot write {str(dest)!r} ({one_line(err)})") from None
                    out[name] = dest
            finally:
                cur.execute("COMMIT")
        return out

