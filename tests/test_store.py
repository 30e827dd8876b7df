"""The embedded store: round trips, idempotent interval writes, paging, Parquet export, schema
migrations, refusals, bad input, and the kill -9 crash-and-resume test (issue 12, section 1)."""

from __future__ import annotations

import queue
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from surgeguard.detect.base import Alert
from surgeguard.examples import ring
from surgeguard.exceptions import InputError, ValidationError
from surgeguard.paths import k_shortest_paths
from surgeguard.routing.routing import Routing
from surgeguard.store import (CURRENT_VERSION, INTERVAL_TABLES, MIGRATIONS, TABLES, Decision, DuckDBStore,
                              MatrixRecord, open_store)
from surgeguard.telemetry import LinkLoads
from surgeguard.traffic import TrafficSeries

from store_writer import expected_counts, interval_data

WRITER = Path(__file__).with_name("store_writer.py")
T0 = pd.Timestamp("2020-03-20T10:00:00Z")
STEP = pd.Timedelta(minutes=5)


def one_line(excinfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text, text
    return text


@pytest.fixture
def net():
    return ring(5)


@pytest.fixture
def store():
    s = DuckDBStore(":memory:")
    yield s
    s.close()


def full_interval(net, ds, seed=0):
    """write_interval arguments with every part, from the package's own objects."""
    rng = np.random.default_rng(seed)
    N, L = net.n_nodes, net.n_links
    times = pd.date_range(ds - STEP, periods=2, freq=STEP)
    bps = rng.uniform(1e8, 1e9, (2, L))
    bps[1, 2] = np.nan
    loads = LinkLoads(times, net.link_names, bps, nodes=net.node_names, ingress=rng.uniform(1e8, 1e9, (2, N)),
                      egress=rng.uniform(1e8, 1e9, (2, N)))
    tm = rng.uniform(1e6, 1e8, (N, N))
    np.fill_diagonal(tm, 0.0)
    fc = TrafficSeries(np.stack([tm, 2 * tm]), net.node_names, times=[ds + STEP, ds + 2 * STEP], name="ets")
    ps = k_shortest_paths(net, k=2)
    routing = Routing.uniform(ps, "robust")
    routing.info.update({"mlu": 0.61, "lower_bound": 0.6, "solve_seconds": 0.01, "prices": np.ones(3)})
    alerts = [Alert(ds, "R1", "in", 0.3, "cusum", 7.5), Alert(ds, "total", "total", -0.1, "residual", kind="shape")]
    return dict(link_rates=loads, node_totals=loads, estimate=MatrixRecord(tm, net.node_names, "tomogravity", 0.02),
                forecast=fc, alerts=alerts, decision=Decision.from_routing(routing),
                stages={"query": 0.1, "estimate": 0.2}, stale=["R0->R1"]), tm, loads, routing


# ---------------------------------------------------------------------------------------------- round trip
def test_an_interval_round_trips_through_every_table(store, net):
    run = store.start_run({"policy": "robust", "nested": {"k": 2}}, network="ring5")
    kw, tm, loads, routing = full_interval(net, T0)
    stored = store.write_interval(T0, run=run, **kw)
    assert stored.ds == T0 and str(stored).startswith("stored 2020-03-20T10:00:00Z")
    assert stored.rows == {"link_rates": net.n_links, "node_totals": net.n_nodes, "estimates": 20, "forecasts": 40,
                           "alerts": 2, "decisions": 1, "splits": routing.paths.n_paths}
    assert store.verify().empty

    lr = store.link_rates()
    assert list(lr.columns) == ["ds", "link", "bps", "stale"] and str(lr["ds"].dtype) == "datetime64[ns, UTC]"
    assert lr.set_index("link").loc["R0->R1", "stale"] and lr["stale"].sum() == 1
    np.testing.assert_array_equal(lr.set_index("link").loc[list(net.link_names), "bps"].to_numpy(), loads.bps[1])
    times, arr = store.link_rate_array(net.link_names)
    assert list(times) == [T0] and np.isnan(arr[0, 2])
    np.testing.assert_array_equal(arr[0], loads.bps[1])

    nt = store.node_totals()
    np.testing.assert_allclose(nt.set_index("node").loc[list(net.node_names), "ingress_bps"], loads.ingress[1])

    ds, m = store.estimate_matrix(net.node_names)
    assert ds == T0
    np.testing.assert_array_equal(m, tm)
    est = store.estimates()
    assert set(est["method"]) == {"tomogravity"} and np.allclose(est["residual"], 0.02)

    fc = store.forecasts()
    assert set(fc["made_at"]) == {T0} and sorted(set(fc["ds"])) == [T0 + STEP, T0 + 2 * STEP]
    assert set(fc["model"]) == {"ets"}

    al = store.alerts()
    assert al[["place", "direction"]].values.tolist() == [["R1", "in"], ["total", "total"]]
    assert np.isnan(al["score"].iloc[1]) and al["time"].iloc[0] == T0
    assert al["kind"].tolist() == ["level", "shape"]

    dec = store.decisions()
    assert dec.loc[0, ["policy", "mlu", "lower_bound", "status"]].tolist() == ["robust", 0.61, 0.6, "ok"]
    assert '"solve_seconds": 0.01' in dec.loc[0, "info"] and "prices" not in dec.loc[0, "info"]

    sp = store.splits()
    assert np.allclose(sp.groupby(["src", "dst"])["weight"].sum(), 1.0)
    ps = routing.paths
    for _, row in sp.iterrows():  # the stored node and link lists are the candidate paths'
        k = ps.od_lookup[net.node_names.index(row["src"]), net.node_names.index(row["dst"])]
        p = ps.od_ptr[k] + row["path"]
        assert row["nodes"] == ps.path_nodes(p)
        assert row["links"] == [net.link_names[i] for i in ps.link_idx[ps.link_ptr[p]:ps.link_ptr[p + 1]]]

    iv = store.intervals()
    assert iv.loc[0, "run"] == run and iv.loc[0, "stale"] == ["R0->R1"] and '"query": 0.1' in iv.loc[0, "stages"]
    runs = store.runs()
    assert runs["network"].tolist() == ["ring5"] and '"k": 2' in runs.loc[0, "config"]


def test_rewriting_an_interval_replaces_it(store, net):
    kw, *_ = full_interval(net, T0, seed=1)
    store.write_interval(T0, **kw)
    store.write_interval(T0 + STEP, link_rates={"A->B": 5.0})
    kw2, tm2, *_ = full_interval(net, T0, seed=2)
    kw2.pop("alerts")
    store.write_interval(T0, **kw2)
    store.write_interval(T0, **kw2)  # twice: still once
    assert store.count("intervals") == 2 and store.verify().empty
    assert store.count("estimates", T0, T0 + STEP) == 20 and store.count("alerts") == 0
    np.testing.assert_array_equal(store.estimate_matrix(net.node_names, T0)[1], tm2)
    assert store.link_rates(T0 + STEP)["bps"].tolist() == [5.0]  # the other interval is untouched
    assert store.last_interval() == T0 + STEP


def test_a_failed_write_leaves_nothing_of_it(store, net, monkeypatch):
    kw, tm, *_ = full_interval(net, T0)
    store.write_interval(T0, **kw)
    before = {t: store.count(t) for t in (*INTERVAL_TABLES, "intervals")}
    calls = []

    def failing(con, table, frame):
        calls.append(table)
        if table == "forecasts":
            raise duckdb.IOException("disk full (injected)")
        return original(con, table, frame)
    original = store._insert
    monkeypatch.setattr(store, "_insert", failing)
    kw2, *_ = full_interval(net, T0, seed=5)
    with pytest.raises(Exception) as exc:  # an OutputError naming the interval
        store.write_interval(T0, **kw2)
    assert "cannot store interval 2020-03-20T10:00:00Z" in one_line(exc) and "nothing of it" in str(exc.value)
    assert "estimates" in calls  # it failed after deleting and inserting some tables
    monkeypatch.undo()
    assert {t: store.count(t) for t in before} == before
    np.testing.assert_array_equal(store.estimate_matrix(net.node_names, T0)[1], tm)  # the old content survived
    store.write_interval(T0 + STEP, link_rates={"A->B": 1.0})  # and the store still works


def test_reads_filter_by_interval_and_page_stably(store):
    for k in range(10):
        store.write_interval(T0 + k * STEP, link_rates={f"L{j}": float(k * 10 + j) for j in range(4)})
    assert store.count("link_rates") == 40
    assert store.count("link_rates", T0 + 2 * STEP, T0 + 5 * STEP) == 12  # [start, end)
    pages = [store.link_rates(limit=7, offset=o) for o in range(0, 40, 7)]
    whole = pd.concat(pages, ignore_index=True)
    assert whole["bps"].tolist() == [float(k * 10 + j) for k in range(10) for j in range(4)]
    assert store.link_rates(links=["L1", "L3"], start="2020-03-20 10:45").shape == (2, 4)  # naive = UTC
    assert store.read("link_rates", where={"ds": [T0, T0 + 9 * STEP]}).shape[0] == 8
    assert store.intervals(limit=3, offset=8)["ds"].tolist() == [T0 + 8 * STEP, T0 + 9 * STEP]
    assert store.link_rates(links=[]).empty
    assert store.last_interval(with_rows="estimates") is None and store.last_interval(run=1) is None
    with pytest.raises(ValidationError) as exc:
        store.read("link_rates", where={"bogus": 1})
    assert "no column 'bogus'" in one_line(exc)
    with pytest.raises(ValidationError) as exc:
        store.read("nope")
    assert "unknown store table 'nope'" in one_line(exc)
    with pytest.raises(ValidationError) as exc:
        store.link_rates(limit=-1)
    assert "'limit'" in one_line(exc)


def test_estimate_series_gives_the_history_as_a_traffic_series(store, net):
    mats = []
    for k in range(3):
        kw, tm, *_ = full_interval(net, T0 + k * STEP, seed=k)
        store.write_interval(T0 + k * STEP, estimate=kw["estimate"])
        mats.append(tm)
    store.write_interval(T0 + 3 * STEP, link_rates={"R0->R1": 1.0})  # no estimate there
    ts = store.estimate_series(net.node_names, end=T0 + 10 * STEP)
    assert isinstance(ts, TrafficSeries) and list(ts.times) == [T0 + k * STEP for k in range(3)]
    np.testing.assert_array_equal(ts.values, np.stack(mats))
    assert store.estimate_matrix(net.node_names)[0] == T0 + 2 * STEP
    with pytest.raises(ValidationError) as exc:
        store.estimate_series(net.node_names[:3])
    assert "names node" in one_line(exc)


def test_run_ids_and_last_interval_per_run(store):
    r1, r2 = store.start_run({"a": 1}), store.start_run({"a": 2}, network="geant")
    assert (r1, r2) == (1, 2)
    store.write_interval(T0, run=r1, link_rates={"x": 1.0})
    store.write_interval(T0 + STEP, run=r2, link_rates={"x": 1.0})
    assert store.last_interval(r1) == T0 and store.last_interval() == T0 + STEP
    assert store.intervals(run=r2)["ds"].tolist() == [T0 + STEP]
    with pytest.raises(ValidationError) as exc:
        store.write_interval(T0, run=7, link_rates={"x": 1.0})
    assert "run 7 is not in store" in one_line(exc)


# ---------------------------------------------------------------------------------------------- export
def test_parquet_export_has_one_file_per_table(tmp_path, net):
    path = tmp_path / "s.duckdb"
    with DuckDBStore(path) as store:
        store.start_run({"x": 1})
        kw, *_ = full_interval(net, T0)
        store.write_interval(T0, run=1, **kw)
        counts = {t: store.count(t) for t in TABLES}
        out = store.export_parquet(tmp_path / "export")
        out2 = store.export_parquet(tmp_path / "export")  # again: replaced in place
    assert out == out2 and set(out) == {"meta", *TABLES}
    assert sorted(p.name for p in (tmp_path / "export").iterdir()) == sorted(f"{t}.parquet" for t in out)
    for t, n in counts.items():
        df = pd.read_parquet(out[t])
        assert len(df) == n and list(df.columns) == list(TABLES[t].column_names)
    lr = pd.read_parquet(out["link_rates"])
    assert str(lr["ds"].dt.tz) == "UTC" and lr["bps"].isna().sum() == 1
    assert pd.read_parquet(out["splits"])["nodes"].map(len).min() >= 2
    meta = pd.read_parquet(out["meta"]).set_index("key")["value"]
    assert meta["schema_version"] == str(CURRENT_VERSION)
    with DuckDBStore(path, read_only=True) as ro:  # a read-only store exports too
        ro.export_parquet(tmp_path / "export2")


# ---------------------------------------------------------------------------------------------- schema
def _layout(con) -> dict:
    rows = con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()
    out: dict = {}
    for t, c, ty in rows:
        out.setdefault(t, []).append((c, ty))
    return out


def _declared() -> dict:
    names = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}
    out = {t.name: [(c, names.get(ty, ty)) for c, ty, _ in t.columns] for t in TABLES.values()}
    out["meta"] = [("key", "VARCHAR"), ("value", "VARCHAR")]
    return out


def test_a_fresh_store_has_the_declared_layout(tmp_path):
    path = tmp_path / "fresh.duckdb"
    with DuckDBStore(path) as store:
        assert store.schema_version == CURRENT_VERSION
        assert store.migrate() == []  # up to date: nothing to do
        assert {"created_at", "schema_version", "surgeguard_version"} <= set(store.meta())
    con = duckdb.connect(str(path))
    assert _layout(con) == _declared()
    con.close()


def test_a_version_1_store_is_migrated_and_keeps_its_data(tmp_path):
    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))  # a version-1 store, made by hand
    for stmt in MIGRATIONS[0].statements:
        con.execute(stmt)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1'), ('created_at', '2020-01-01T00:00:00Z')")
    con.execute("INSERT INTO runs VALUES (1, '2020-03-20 09:00:00+00', '{}', 'abilene', '0.0.9')")
    con.execute("INSERT INTO intervals VALUES ('2020-03-20 10:00:00+00', 1, '2020-03-20 10:00:01+00', '{}', []), "
                "('2020-03-20 10:05:00+00', 1, '2020-03-20 10:05:01+00', '{}', ['A->B'])")
    con.execute("INSERT INTO link_rates VALUES ('2020-03-20 10:00:00+00', 'A->B', 1e9, false), "
                "('2020-03-20 10:00:00+00', 'B->A', NULL, false), ('2020-03-20 10:05:00+00', 'A->B', 2e9, true)")
    con.execute("INSERT INTO estimates VALUES ('2020-03-20 10:05:00+00', 'A', 'B', 3e8, 'gravity', NULL)")
    con.execute("INSERT INTO alerts VALUES ('2020-03-20 10:05:00+00', '2020-03-20 10:05:00+00', 'total', 'total', "
                "0.2, 5.0, 'cusum')")
    assert "n_link_rates" not in dict(_layout(con)["intervals"])
    con.close()

    with DuckDBStore(path) as store:
        assert store.schema_version == CURRENT_VERSION
        assert {"migrated_2", "created_at"} <= set(store.meta()) and store.meta()["created_at"].startswith("2020")
        iv = store.intervals()
        assert iv["n_link_rates"].tolist() == [2, 1] and iv["n_estimates"].tolist() == [0, 1]
        assert iv["n_forecasts"].tolist() == [0, 0] and iv["n_alerts"].tolist() == [0, 1]
        assert store.verify().empty
        al = store.alerts()  # an alert stored before alerts had a kind: kept, its kind unknown
        assert al["shift"].tolist() == [0.2] and al["kind"].isna().all()
        lr = store.link_rates()
        assert lr["bps"].isna().tolist() == [False, True, False] and lr["stale"].tolist() == [False, False, True]
        assert store.runs()["version"].tolist() == ["0.0.9"]
        assert store.last_interval(with_rows="estimates") == pd.Timestamp("2020-03-20 10:05", tz="UTC")
        store.write_interval("2020-03-20 10:10", link_rates={"A->B": 1.0})  # and it takes new intervals
    con = duckdb.connect(str(path))
    assert _layout(con) == _declared()
    con.close()


def test_an_old_store_read_only_or_unmigrated_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    for stmt in MIGRATIONS[0].statements:
        con.execute(stmt)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.close()
    with pytest.raises(InputError) as exc:
        DuckDBStore(path, read_only=True)
    assert f"schema version 1, older than {CURRENT_VERSION}" in one_line(exc) and "without read_only" in str(exc.value)
    with DuckDBStore(path, migrate=False) as store:
        assert store.schema_version == 1
        with pytest.raises(InputError) as exc:
            store.link_rates()
        assert "call migrate()" in one_line(exc)
        assert store.migrate() == list(range(2, CURRENT_VERSION + 1)) and store.link_rates().empty


def test_a_newer_store_is_refused(tmp_path):
    path = tmp_path / "new.duckdb"
    DuckDBStore(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(InputError) as exc:
        DuckDBStore(path)
    msg = one_line(exc)
    assert str(path) in msg and "schema version 99" in msg and f"up to {CURRENT_VERSION}" in msg
    assert "newer surgeguard" in msg


def test_files_that_are_not_stores_are_refused(tmp_path):
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"surgeguard? no." * 500)
    empty = tmp_path / "empty.duckdb"
    empty.touch()
    for p in (junk, empty):
        with pytest.raises(InputError) as exc:
            DuckDBStore(p)
        assert f"store {str(p)!r} is not a DuckDB database file" in one_line(exc)
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE sales (x INTEGER)")
    con.close()
    with pytest.raises(InputError) as exc:
        DuckDBStore(other)
    assert "not a surgeguard store" in one_line(exc) and "sales" in str(exc.value)
    with pytest.raises(InputError) as exc:
        DuckDBStore(tmp_path)
    assert str(tmp_path) in one_line(exc)
    with pytest.raises(InputError) as exc:
        DuckDBStore(tmp_path / "absent.duckdb", read_only=True)
    assert "does not exist" in one_line(exc)
    assert not (tmp_path / "absent.duckdb").exists()
    with pytest.raises(InputError) as exc:
        open_store("postgresql://db/x")
    assert "PostgreSQL" in one_line(exc)


def test_read_only_and_closed_stores_refuse_writes(tmp_path):
    path = tmp_path / "s.duckdb"
    with open_store(f"duckdb:{path}") as store:
        store.write_interval(T0, link_rates={"x": 1.0})
        with pytest.raises(InputError) as exc:
            DuckDBStore(path, read_only=True)  # same process, other configuration
        assert "already open in this process" in one_line(exc)
    with DuckDBStore(path, read_only=True) as ro:
        assert ro.last_interval() == T0
        with pytest.raises(InputError) as exc:
            ro.write_interval(T0 + STEP, link_rates={"x": 1.0})
        assert "read-only" in one_line(exc)
        with pytest.raises(InputError):
            ro.start_run({})
    ro.close()
    with pytest.raises(InputError) as exc:
        ro.last_interval()
    assert "is closed" in one_line(exc)


def test_readers_in_other_threads_never_see_half_an_interval(tmp_path):
    kw = interval_data(T0, 8, STEP)
    seen, errors = [], []
    with DuckDBStore(tmp_path / "t.duckdb") as store:
        done = threading.Event()

        def reader():
            try:
                while not done.is_set():
                    bad = store.verify()  # one query, one snapshot
                    if len(bad):
                        errors.append(bad)
                    seen.append(store.count("intervals"))
            except Exception as err:  # pragma: no cover - reported below
                errors.append(err)
        threads = [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        for k in range(25):
            store.write_interval(T0 + k * STEP, **{**kw, "forecast": None})
        done.set()
        for t in threads:
            t.join()
    assert not errors and seen and max(seen) <= 25


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("change, needle", [
    (dict(link_rates={"A->B": -5.0}), "link_rates.bps is negative (-5.0) for link 'A->B'"),
    (dict(link_rates={"A->B": float("inf")}), "link_rates.bps is infinite"),
    (dict(link_rates=pd.DataFrame({"link": ["A->B", "A->B"], "bps": [1.0, 2.0]})), "link_rates has repeated rows"),
    (dict(link_rates=pd.DataFrame({"link": ["A->B"], "rate": [1.0]})), "link_rates lacks column(s) bps"),
    (dict(link_rates=pd.DataFrame({"link": ["A->B"], "bps": ["fast"]})), "link_rates.bps must be numbers in bit/s"),
    (dict(node_totals=pd.DataFrame({"node": ["A"], "ingress_bps": [1.0], "egress_bps": [-1.0]})),
     "node_totals.egress_bps is negative"),
    (dict(estimate=MatrixRecord([[0, np.nan], [1, 0]], ["A", "B"], "gravity")),
     "estimate.values is NaN (nan) for A->B"),
    (dict(estimate=pd.DataFrame({"src": ["A"], "dst": ["B"], "bps": [np.nan], "method": ["gravity"]})),
     "estimate.bps is NaN (nan) for A->B"),
    (dict(estimate=MatrixRecord(np.ones((2, 3)), ["A", "B"], "gravity")), "estimate.values has shape (2, 3)"),
    (dict(estimate=MatrixRecord(np.ones((2, 2)), ["A", "B"], "")), "estimate.method must be a non-empty string"),
    (dict(forecast=MatrixRecord(np.ones((1, 2, 2)), ["A", "B"], "ets", times=["2020-03-20T10:05:00Z"])),
     "forecast.times has time-zone-aware times but ds is naive"),
    (dict(forecast=pd.DataFrame({"ds": ["2020-03-20 10:05", "2020-03-20T10:10Z"], "src": "A", "dst": "B",
                                 "bps": 1.0, "model": "ets"})), "forecast.ds mixes naive and time-zone-aware"),
    (dict(link_rates=pd.DataFrame({"ds": ["2020-03-20 10:05"], "link": ["A->B"], "bps": [1.0]})),
     "link_rates.ds has rows for 2020-03-20T10:05:00Z"),
    (dict(link_rates=pd.DataFrame({"ds": ["yesterday-ish"], "link": ["A->B"], "bps": [1.0]})),
     "link_rates.ds 'yesterday-ish' in row 1 is not a time"),
    (dict(alerts=[Alert(pd.Timestamp("2020-03-20 10:00"), "A", "sideways", 0.1, "cusum")]),
     "alerts.direction 'sideways'"),
    (dict(alerts=["an alert"]), "alerts[0] is a str, not an Alert"),
    (dict(decision=Decision("optimal", status="maybe")), "decision.status 'maybe' is not one of ok, fallback"),
    (dict(decision=Decision("shortest", status="fallback")), "decision.reason is empty for a fallback"),
    (dict(decision=Decision("optimal", mlu=0.5, lower_bound=0.7)), "decision.lower_bound 0.7 exceeds"),
    (dict(decision=Decision("optimal", mlu=float("inf"))), "decision.mlu is infinite"),
    (dict(decision=Decision("optimal", mlu="high")), "decision.mlu must be a number, got 'high'"),
    (dict(decision=Decision("optimal", splits=pd.DataFrame({"src": ["A"], "dst": ["B"], "path": [0],
                                                            "nodes": [["A", "B"]], "links": [["A->B"]],
                                                            "weight": [0.7]}))),
     "decision.splits.weight of A->B sums to 0.7, not 1"),
    (dict(decision="optimal"), "decision must be a Decision or a Routing"),
    (dict(stages={"decide": -1.0}), "stages['decide'] is negative"),
    (dict(stale="A->B"), "stale must be a list of input names"),
    (dict(run=0), "run must be a run id"),
])
def test_bad_input_is_refused_in_one_line_naming_the_field(store, change, needle):
    kw = {"link_rates": {"A->B": 1.0}, **change}
    with pytest.raises(ValidationError) as exc:
        store.write_interval(pd.Timestamp("2020-03-20 10:00"), **kw)  # naive: UTC
    msg = one_line(exc)
    assert msg.startswith("store interval 2020-03-20T10:00:00Z: ") and needle in msg, msg
    assert store.count("intervals") == 0  # nothing was written


def test_nan_is_allowed_where_it_means_unknown(store):
    stored = store.write_interval(
        T0, link_rates={"A->B": np.nan},
        node_totals=pd.DataFrame({"node": ["A"], "ingress_bps": [np.nan], "egress_bps": [None]}),
        alerts=pd.DataFrame({"time": [T0], "place": ["A"], "direction": ["out"], "shift": [0.2], "detector": ["x"]}),
        decision=Decision("shortest", status="fallback", reason="solver timeout; no prediction"))
    assert stored.rows["link_rates"] == 1 and store.node_totals()[["ingress_bps", "egress_bps"]].isna().all(axis=None)
    assert np.isnan(store.decisions()["mlu"].iloc[0]) and store.decisions()["reason"].iloc[0].startswith("solver")
    with pytest.raises(ValidationError) as exc:
        store.write_interval("not a time")
    assert "ds 'not a time' is not a time" in one_line(exc)


# ---------------------------------------------------------------------------------------------- crash safety
class Writer:
    """tests/store_writer.py as a subprocess, its stdout read line by line in a thread."""

    def __init__(self, path, count, *, nodes=12, pause=0.0):
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(WRITER), str(path), "--start", T0.isoformat(), "--count", str(count),
             "--step", str(int(STEP.total_seconds())), "--nodes", str(nodes), "--pause", str(pause)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def wait_for(self, prefix: str, n: int = 1, timeout: float = 20.0) -> str:
        """Block until the n-th new line starting with ``prefix``; return it."""
        deadline, got = time.monotonic() + timeout, 0
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"writer ended before {prefix!r}: {self.proc.stderr.read()}")
            self.seen.append(line)
            if line.startswith(prefix):
                got += 1
                if got == n:
                    return line

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL
        self.proc.wait()
        self._t.join(10)
        while True:  # lines already in the pipe were printed before the kill
            line = self.lines.get_nowait() if not self.lines.empty() else None
            if line is None:
                break
            self.seen.append(line)

    def finish(self, timeout: float = 30.0) -> None:
        self.proc.wait(timeout)
        self._t.join(10)
        while not self.lines.empty():
            line = self.lines.get_nowait()
            if line is not None:
                self.seen.append(line)
        assert self.proc.returncode == 0, self.proc.stderr.read()

    def stamps(self, prefix: str) -> list[pd.Timestamp]:
        return [pd.Timestamp(x.split(" ", 1)[1]) for x in self.seen if x.startswith(prefix + " ")]


def check_store(path, acknowledged: set, nodes: int) -> list[pd.Timestamp]:
    """Every acknowledged interval is there and complete, nothing is duplicated or partial, and the
    stored intervals run without gaps from T0. Returns the stored intervals."""
    with DuckDBStore(path) as store:
        iv = store.intervals()
        stored = list(iv["ds"])
        assert acknowledged <= set(stored), sorted(acknowledged - set(stored))
        assert stored == [T0 + k * STEP for k in range(len(stored))]  # resumed without gaps or repeats
        assert store.verify().empty  # every table holds exactly the rows each interval recorded
        for _, row in iv.iterrows():
            want = expected_counts(row["ds"], nodes, STEP)
            assert {t: row[f"n_{t}"] for t in INTERVAL_TABLES} == want, row["ds"]
        for t in INTERVAL_TABLES:  # and no rows outside the recorded intervals
            assert store.count(t) == sum(expected_counts(d, nodes, STEP)[t] for d in stored)
        if stored:  # content too, not only counts: the last interval's estimate is the one written
            ds, m = store.estimate_matrix([f"N{i:02d}" for i in range(nodes)])
            np.testing.assert_array_equal(m, interval_data(ds, nodes, STEP)["estimate"].values)
    return stored


def test_kill_9_loses_no_acknowledged_interval_and_a_restart_resumes(tmp_path):
    path, nodes, total = tmp_path / "crash.duckdb", 12, 60
    rng = random.Random(12)
    acknowledged: set = set()
    committed_unacked: set = set()
    # inside: killed in the middle of a write's transaction (guaranteed); stored: right after an
    # acknowledgement; random: at a random moment of the loop
    for mode in ("inside", "stored", "random", "random", "random"):
        w = Writer(path, total, nodes=nodes, pause=0.5 if mode == "inside" else 0.0)
        if mode == "inside":
            w.wait_for("stored", 2)
            inside = w.wait_for("inside")
        elif mode == "stored":
            w.wait_for("stored", rng.randint(2, 5))
        else:
            w.wait_for("writing")
            time.sleep(rng.uniform(0.0, 0.25))
        w.kill()
        assert "done" not in w.seen, "the writer finished before it was killed; give it more intervals"
        acknowledged |= set(w.stamps("stored"))
        stored = check_store(path, acknowledged, nodes)
        # a kill between the commit and the acknowledgement line leaves one durable interval that was never
        # acknowledged: allowed, but only the last one stored
        unacked = set(stored) - acknowledged - committed_unacked
        assert unacked <= {stored[-1]}, sorted(unacked)
        committed_unacked |= unacked
        if mode == "inside":
            lost = pd.Timestamp(inside.split(" ", 1)[1])
            assert lost not in stored and lost not in w.stamps("stored")  # the open transaction left nothing
        assert len(stored) < total
    w = Writer(path, total, nodes=nodes)  # the restarted controller finishes the job
    w.finish()
    assert w.seen[0] == f"resume {(stored[-1] + STEP).isoformat()}"
    acknowledged |= set(w.stamps("stored"))
    final = check_store(path, acknowledged, nodes)
    assert final == [T0 + k * STEP for k in range(total)] and acknowledged | committed_unacked == set(final)


def test_a_second_process_is_refused_while_the_writer_runs(tmp_path):
    path = tmp_path / "busy.duckdb"
    w = Writer(path, 50, nodes=4, pause=2.0)
    try:
        w.wait_for("inside")
        for ro in (True, False):
            with pytest.raises(InputError) as exc:
                DuckDBStore(path, read_only=ro)
            msg = one_line(exc)
            assert f"store {str(path)!r} is in use by another process (PID {w.proc.pid})" in msg
            assert "export" in msg
    finally:
        w.kill()
    with DuckDBStore(path, read_only=True) as store:  # once it is gone, the file opens
        assert store.verify().empty
