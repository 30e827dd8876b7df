"""A controller stand-in for the store's crash test: writes intervals to a DuckDB store in a loop.

    python tests/store_writer.py STORE --start 2020-03-20T00:00:00Z --count 40 [--step 300]
                                 [--nodes 12] [--pause 0.0]

It resumes where the store stops (``last_interval() + step``, or ``--start`` for an empty store)
and writes until the interval ``start + (count - 1) * step``. For each interval it prints
``writing <ds>`` before the write and ``stored <ds>`` only once ``write_interval`` has returned
(flushed at once), as a controller logs what it acknowledged. With ``--pause S`` it also prints
``inside <ds>`` in the middle of the write's transaction (after the estimates are inserted, before
the commit) and sleeps S seconds there, so that a kill lands inside a transaction for sure.

Each interval's content is a deterministic function of its ``ds`` (:func:`interval_data`), and
:func:`expected_counts` gives the rows it must hold per table; the test checks both.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from surgeguard.store import Decision, DuckDBStore, MatrixRecord


def node_names(n: int) -> list[str]:
    return [f"N{i:02d}" for i in range(n)]


def interval_data(ds: pd.Timestamp, n: int, step: pd.Timedelta) -> dict:
    """The keyword arguments of ``write_interval`` for interval ``ds`` on a full mesh of ``n`` nodes."""
    nodes = node_names(n)
    rng = np.random.default_rng(int(ds.timestamp()))
    pairs = [(a, b) for a in nodes for b in nodes if a != b]
    links = [f"{a}->{b}" for a, b in pairs]
    bps = rng.uniform(1e8, 1e10, len(links))
    bps[rng.integers(len(links))] = np.nan  # one link not measured
    tm = rng.uniform(1e6, 1e9, (n, n))
    np.fill_diagonal(tm, 0.0)
    fc = np.stack([tm * (1 + 0.01 * h) for h in range(3)])
    k = int(ds.timestamp() // step.total_seconds()) % 3  # 0, 1 or 2 alerts
    alerts = pd.DataFrame({"time": [ds] * k, "place": nodes[:k], "direction": ["out"] * k,
                           "shift": [0.2] * k, "detector": ["cusum"] * k, "score": [5.0] * k})
    w = rng.uniform(0.1, 0.9, len(pairs))
    splits = pd.DataFrame({
        "src": [a for a, _ in pairs] * 2, "dst": [b for _, b in pairs] * 2,
        "path": [0] * len(pairs) + [1] * len(pairs),
        "nodes": [[a, b] for a, b in pairs] + [[a, nodes[0] if a != nodes[0] and b != nodes[0] else nodes[1], b]
                                               for a, b in pairs],
        "links": [[f"{a}->{b}"] for a, b in pairs] + [["x", "y"] for _ in pairs],
        "weight": np.concatenate([w, 1 - w])})
    return dict(
        link_rates=pd.DataFrame({"link": links, "bps": bps}),
        node_totals=pd.DataFrame({"node": nodes, "ingress_bps": tm.sum(1), "egress_bps": tm.sum(0)}),
        estimate=MatrixRecord(tm, nodes, "tomogravity", residual=0.01),
        forecast=MatrixRecord(fc, nodes, "seasonal_naive", times=[ds + (h + 1) * step for h in range(3)]),
        alerts=alerts,
        decision=Decision("optimal", mlu=0.5, lower_bound=0.49, splits=splits),
        stages={"query": 0.01, "estimate": 0.02, "decide": 0.03},
    )


def expected_counts(ds: pd.Timestamp, n: int, step: pd.Timedelta) -> dict[str, int]:
    """Rows interval ``ds`` holds per table."""
    od = n * (n - 1)
    return {"link_rates": od, "node_totals": n, "estimates": od, "forecasts": 3 * od,
            "alerts": int(ds.timestamp() // step.total_seconds()) % 3, "decisions": 1, "splits": 2 * od}


class PausingStore(DuckDBStore):
    """Says when it is inside a write's transaction and waits there."""

    pause = 0.0

    def _insert(self, con, table, frame):
        super()._insert(con, table, frame)
        if self.pause and table == "estimates":
            print(f"inside {frame['ds'].iloc[0].isoformat()}", flush=True)
            time.sleep(self.pause)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--start", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--step", type=int, default=300, help="seconds")
    ap.add_argument("--nodes", type=int, default=12)
    ap.add_argument("--pause", type=float, default=0.0)
    a = ap.parse_args(argv)
    step = pd.Timedelta(seconds=a.step)
    start = pd.Timestamp(a.start)
    last_ds = start + (a.count - 1) * step
    PausingStore.pause = a.pause
    with PausingStore(a.store) as store:
        run = store.start_run({"step": a.step, "nodes": a.nodes}, network="mesh")
        last = store.last_interval()
        ds = start if last is None else last + step
        print(f"resume {ds.isoformat()}", flush=True)
        while ds <= last_ds:
            data = interval_data(ds, a.nodes, step)
            print(f"writing {ds.isoformat()}", flush=True)
            store.write_interval(ds, run=run, **data)
            print(f"stored {ds.isoformat()}", flush=True)  # only after the commit returned
            ds += step
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
