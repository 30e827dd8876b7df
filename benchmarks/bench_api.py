"""Load on the REST API while the controller runs (issue 13).

Usage: python benchmarks/bench_api.py [--clients 50] [--seconds 30] [--speed 60]

The server is what ``surgeguard serve`` runs: the embedded Morocco example (counters file,
controller with critical-class protection, DuckDB in memory) in this process, its controller
deciding a 5-minute interval every ``300 / speed`` wall seconds, and uvicorn serving the API on
loopback. A separate process (this script with ``--client``) runs ``--clients`` concurrent
clients (a minimal asyncio HTTP/1.1 client, one keep-alive connection each) for ``--seconds``, each looping over the
read endpoints the dashboard uses. Measured: latency per request (p50, p99, max; all endpoints and
per endpoint), errors (non-2xx or failed connections), and the controller's deadline during the
load: interval ``ds`` becomes readable at ``ready_at(ds)``; it is missed when it is not stored
(``acknowledged_at``) before the next interval becomes readable. Writes
benchmarks/results/api.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"
ENDPOINTS = ["/api/v1/health", "/api/v1/utilisation/latest", "/api/v1/network", "/api/v1/decisions?limit=50",
             "/api/v1/charts/mlu?hours=24", "/api/v1/charts/traffic?hours=24", "/api/v1/classes?hours=24",
             "/api/v1/alerts?limit=100", "/api/v1/utilisation?limit=500", "/api/v1/matrices/estimated?limit=500",
             "/api/v1/utilisation/worst-case"]
TARGET_P99_MS = 100.0


# ---------------------------------------------------------------------------------------------- client
async def _get(reader, writer, host: str, path: str) -> int:
    """One GET on a keep-alive HTTP/1.1 connection (a minimal client: the load generator must cost
    little CPU, it shares the machine with the server); returns the status code."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(x.split(":", 1)[1]) for x in lines if x.lower().startswith("content-length:"))
    await reader.readexactly(length)
    return status


async def _clients(host: str, port: int, n: int, seconds: float) -> list:
    out = []
    stop = time.perf_counter() + seconds

    async def one(k: int):
        reader, writer = await asyncio.open_connection(host, port)
        i = k
        try:
            while time.perf_counter() < stop:
                path = ENDPOINTS[i % len(ENDPOINTS)]
                i += 1
                t = time.perf_counter()
                try:
                    code = await asyncio.wait_for(_get(reader, writer, f"{host}:{port}", path), 10.0)
                except Exception as err:  # noqa: BLE001 - counted as an error; reconnect
                    code = type(err).__name__
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                out.append((path, (time.perf_counter() - t) * 1e3, code, time.time()))
        finally:
            writer.close()
    await asyncio.gather(*(one(k) for k in range(n)))
    return out


def client_main(base: str, n: int, seconds: float) -> None:
    host, port = base.rsplit("/", 1)[-1].rsplit(":", 1)
    rows = asyncio.run(_clients(host, int(port), n, seconds))
    json.dump(rows, sys.stdout)


# ---------------------------------------------------------------------------------------------- server
def _http_impl() -> str:
    try:
        import httptools  # noqa: F401 - uvicorn uses it when installed (a main dependency)
        return "httptools"
    except ImportError:
        return "h11 (pure Python: install httptools, about 3x the throughput)"


def percentiles(ms) -> dict:
    a = np.asarray(ms, dtype=float)
    if not len(a):
        return {"n": 0}
    return {"n": int(len(a)), "p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "max_ms": float(a.max()), "mean_ms": float(a.mean())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--speed", type=float, default=60.0)
    ap.add_argument("--client", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        client_main(args.client, args.clients, args.seconds)
        return
    import pandas as pd
    import uvicorn

    from surgeguard.serve.api import ApiSettings, ApiState, ControllerRunner, create_app, embedded_example

    ex = embedded_example(speed=args.speed)
    ctl = ex.controller
    state = ApiState(ctl.network, ctl.store, settings=ApiSettings(token="bench-token-0123456789"),
                     runner=ControllerRunner(ctl, ex.log))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    while not server.started:
        time.sleep(0.05)
    # steady state: the controller has caught up with the replay's clock, and every endpoint was asked
    # once (as an open dashboard does); the start-up's first renders are not measured
    t0 = time.time()
    while time.time() - t0 < 90:
        latest = ctl.source.latest(ctl.step_s)
        if ctl.next_ds is not None and latest is not None and ctl.next_ds > latest and len(ctl.results) > 12:
            break
        time.sleep(0.2)
    import httpx
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
        for path in ENDPOINTS:
            c.get(path).raise_for_status()
    time.sleep(0.5)
    gc.freeze()   # as `surgeguard serve` does: the start-up objects leave the collector's scans
    n_before = len(ctl.results)
    load_before = os.getloadavg()
    load_start = time.time()
    proc = subprocess.run([sys.executable, __file__, "--client", f"http://127.0.0.1:{port}", "--clients",
                           str(args.clients), "--seconds", str(args.seconds)], capture_output=True, text=True,
                          check=True)
    load_end = time.time()
    load_after = os.getloadavg()
    rows = json.loads(proc.stdout)
    time.sleep(ctl.step_s / args.speed + 1.0)   # the interval due at the end of the load is stored too
    server.should_exit = True
    th.join(15)
    state.runner.stop()
    # the controller's deadline during the load
    iv = ctl.store.intervals()
    wall = ctl.step_s / args.speed
    deadlines = []
    for ds, ack in zip(iv["ds"], iv["acknowledged_at"]):
        ready = ctl.source.ready_at(ds, ctl.step_s)
        if load_start <= ready <= load_end:
            late = ack.timestamp() - ready
            deadlines.append({"ds": ds.isoformat(), "stored_after_s": late, "missed": bool(late > wall)})
    secs = [r.seconds for r in ctl.results[n_before:]]
    ok = [r for r in rows if isinstance(r[2], int) and 200 <= r[2] < 300]
    errors = [r for r in rows if not (isinstance(r[2], int) and 200 <= r[2] < 300)]
    per = {p: percentiles([r[1] for r in ok if r[0] == p]) for p in ENDPOINTS}
    summary = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine_info(),
        "clients": args.clients, "seconds": args.seconds, "speed": args.speed, "http_parser": _http_impl(),
        "load_average_before": load_before, "load_average_after": load_after,
        "interval_wall_seconds": wall, "requests": len(rows), "requests_per_second": len(rows) / args.seconds,
        "errors": len(errors), "error_kinds": sorted({str(r[2]) for r in errors}),
        "latency": percentiles([r[1] for r in ok]), "per_endpoint": per,
        "controller": {"intervals_during_load": len(deadlines), "deadline_misses": sum(d["missed"] for d in deadlines),
                       "stored_after_s_max": max((d["stored_after_s"] for d in deadlines), default=None),
                       "interval_seconds_p50": float(np.median(secs)) if secs else None,
                       "interval_seconds_max": float(max(secs)) if secs else None,
                       "fallbacks": sum(r.status != "ok" for r in ctl.results), "intervals": deadlines},
        "target": {"p99_ms": TARGET_P99_MS, "errors": 0, "deadline_misses": 0},
    }
    summary["meets_target"] = bool(summary["latency"].get("p99_ms", 1e9) <= TARGET_P99_MS and not errors
                                   and summary["controller"]["deadline_misses"] == 0)
    ex.close()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "api.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    m = summary["machine"]
    lat = summary["latency"]
    c = summary["controller"]
    lines = [
        "# REST API under load while the controller runs",
        "",
        f"`python benchmarks/bench_api.py --clients {args.clients} --seconds {args.seconds:g} --speed {args.speed:g}` "
        f"on {m.get('cpu', '?')} ({m.get('cpu_count')} cores), {summary['date']}.",
        "",
        "Server: `surgeguard serve`'s setup (embedded Morocco replay, controller with critical-class protection, "
        f"DuckDB in memory, uvicorn with the {_http_impl()} HTTP parser on loopback) in one process; the controller decides an interval every {wall:g} s "
        f"of wall time. Load: {args.clients} concurrent keep-alive clients (a minimal asyncio HTTP/1.1 client, another process on the "
        f"same {m.get('cpu_count')} cores), after the controller caught up with the replay and each endpoint was "
        f"asked once (steady state, as with an open dashboard), looping over {len(ENDPOINTS)} read endpoints for {args.seconds:g} s. "
        f"Load average before/after (other work on the machine included): {load_before[0]:.2f} / {load_after[0]:.2f}.",
        "",
        f"| requests | req/s | errors | p50 ms | p99 ms | max ms | target p99 |",
        f"|---:|---:|---:|---:|---:|---:|---:|",
        f"| {summary['requests']} | {summary['requests_per_second']:.0f} | {summary['errors']} | {lat.get('p50_ms', 0):.1f} | "
        f"{lat.get('p99_ms', 0):.1f} | {lat.get('max_ms', 0):.1f} | {TARGET_P99_MS:g} ms |",
        "",
        "| endpoint | n | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for p, s in per.items():
        if s.get("n"):
            lines.append(f"| `{p}` | {s['n']} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | {s['max_ms']:.1f} |")
    lines += [
        "",
        f"Controller during the load: {c['intervals_during_load']} intervals due, **{c['deadline_misses']} deadline "
        f"misses** (an interval missed = not stored before the next one became readable, {wall:g} s later); stored at "
        f"most {c['stored_after_s_max'] if c['stored_after_s_max'] is not None else float('nan'):.2f} s after it became "
        f"readable; seconds per interval p50 {c['interval_seconds_p50'] or float('nan'):.2f}, max "
        f"{c['interval_seconds_max'] or float('nan'):.2f}; {c['fallbacks']} fallbacks.",
        "",
        f"Meets the target (p99 <= {TARGET_P99_MS:g} ms, 0 errors, 0 deadline misses): "
        f"**{'yes' if summary['meets_target'] else 'no'}**.",
    ]
    (OUT / "api.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
