"""The controller's store: what it measured, estimated, forecast, detected and decided, interval
by interval, kept transactionally (a ``kill -9`` loses no acknowledged interval).

* :mod:`~surgeguard.store.base`: the :class:`Store` interface (a PostgreSQL store would implement
  it), the input records (:class:`MatrixRecord`, :class:`Decision`) and their checks.
* :mod:`~surgeguard.store.duckdb_store`: :class:`DuckDBStore`, the embedded implementation (one
  DuckDB file; Parquet export).
* :mod:`~surgeguard.store.schema`: the tables with their units, the schema version and the
  numbered migrations.

:func:`open_store` opens a store by location (a file path, ``duckdb:PATH`` or ``:memory:``).
"""

from __future__ import annotations

from ..exceptions import InputError
from .base import (ALERT_DIRECTIONS, DECISION_STATUSES, Decision, IntervalRows, MatrixRecord, Store, Stored,
                   interval_rows, splits_frame, utc_time)
from .duckdb_store import MEMORY, DuckDBStore
from .schema import CURRENT_VERSION, INTERVAL_TABLES, MIGRATIONS, TABLES, Migration, Table

__all__ = [
    "Store", "DuckDBStore", "open_store", "MEMORY",
    "MatrixRecord", "Decision", "IntervalRows", "Stored", "interval_rows", "splits_frame", "utc_time",
    "DECISION_STATUSES", "ALERT_DIRECTIONS",
    "TABLES", "INTERVAL_TABLES", "MIGRATIONS", "CURRENT_VERSION", "Table", "Migration",
]


def open_store(location, *, read_only: bool = False) -> Store:
    """The store at ``location``: a DuckDB file path (``duckdb:`` prefix optional) or ``:memory:``.
    Server URLs (``postgresql://...``) are refused: only the embedded store is built so far.

    >>> open_store(":memory:").schema_version == CURRENT_VERSION
    True
    >>> open_store("postgresql://db/surgeguard")
    Traceback (most recent call last):
    ...
    surgeguard.exceptions.InputError: store 'postgresql://db/surgeguard': only DuckDB stores are supported (a file path or :memory:); PostgreSQL is not built yet
    """
    text = str(location)
    if text.startswith("duckdb:"):
        text = text[len("duckdb:"):]
        if text.startswith("//"):
            text = text[2:]
    elif "://" in text:
        raise InputError(f"store {text!r}: only DuckDB stores are supported (a file path or :memory:); "
                         "PostgreSQL is not built yet")
    return DuckDBStore(text, read_only=read_only)
