"""The controller inside the API's process: a thread that runs it, and the embedded example.

DuckDB lets one process open a store file, so the API and the dashboard read the store from
inside the controller's process: :class:`ControllerRunner` runs :meth:`Controller.run` in a
thread beside the web server and keeps its last log lines for ``/api/v1/health``.

:func:`embedded_example` is what ``surgeguard serve --network morocco`` watches with no server
at all: the Morocco backbone, two and a half days of synthetic traffic at 5 minutes (from 19 March
2020 15:00 UTC) with the lockdown of 20 March 17:00 UTC, capacities sized for 60 % peak
utilisation, routed over the IGP and turned into router interface counters by the telemetry
simulator, written to a counters file and replayed from it (:class:`CounterFileSource`) at
``speed`` simulated seconds per wall second; the controller reads the first day to fit its
forecaster and surge detector, catches up ``catch_up`` intervals at once (so the charts start with
some history), then decides every interval as the replay reaches it, into a DuckDB store.
"""

from __future__ import annotations

import collections
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

from ...examples import morocco
from ...io.common import one_line
from ...plan.sizing import size_capacities
from ...scenario import get_scenario
from ...store import open_store
from ...telemetry.files import interface_map_for, write_counters
from ...telemetry.simulate import TelemetrySimulator
from ...telemetry.sources import CounterFileSource
from ..config import load_config
from ..controller import Controller
from ..loaders import synthetic_series

__all__ = ["ControllerRunner", "LogBuffer", "embedded_example", "EXAMPLE_TRAFFIC", "EXAMPLE_SCENARIO",
           "EXAMPLE_SETTINGS", "EXAMPLE_CLASSES"]

#: the example's traffic: a day of history, then the live part from 20 March 15:00 UTC
EXAMPLE_TRAFFIC = "synthetic:days=2.5,step=5min,start=2020-03-19T15:00,total=800e9,seed=1"
#: the lockdown, two hours into the live part
EXAMPLE_SCENARIO = "lockdown:start=2020-03-20T17:00Z"
#: critical-class protection, as ``make live``
EXAMPLE_CLASSES = "critical:0.05:1.5x,interactive:0.35,bulk:0.6"
#: the controller's settings for the example (``surgeguard run`` keys)
EXAMPLE_SETTINGS = {"controller.step": "5min", "controller.history": "1d", "forecast.model": "seasonal_naive",
                    "detect.detector": "cusum", "policy.name": "optimal", "policy.time_limit": 4.0,
                    "policy.classes": EXAMPLE_CLASSES, "metrics.enabled": False, "log.progress": "quiet"}


class LogBuffer:
    """Keeps the last ``n`` log lines (and passes each to ``echo`` when given)."""

    def __init__(self, n: int = 50, echo=None):
        self.lines: collections.deque[str] = collections.deque(maxlen=n)
        self.echo = echo

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        if self.echo is not None:
            self.echo(line)


class ControllerRunner:
    """Runs ``controller.run(stop=...)`` in a daemon thread; :meth:`stop` ends it after the interval in
    progress. ``error`` holds why it ended, when it failed."""

    def __init__(self, controller: Controller, log: LogBuffer | None = None):
        self.controller = controller
        self.log = log if log is not None else LogBuffer()
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.error: str | None = None
        self.finished = False

    def _main(self) -> None:
        try:
            self.controller.run(stop=self.stop_event)
        except Exception as err:  # noqa: BLE001 - kept for /health, and logged
            self.error = f"{type(err).__name__}: {one_line(err)}"
            self.log(f"controller stopped: {self.error}")
        finally:
            self.finished = True

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._main, name="surgeguard-controller", daemon=True)
            self.thread.start()

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout)


class _Example:
    """The example's parts: the controller, its log, and the folder holding the counters file."""

    def __init__(self, controller: Controller, log: LogBuffer, folder: Path, owned: bool, speed):
        self.controller, self.log, self.folder, self.owned, self.speed = controller, log, folder, owned, speed

    def close(self) -> None:
        self.controller.close()
        if self.owned:
            shutil.rmtree(self.folder, ignore_errors=True)


def embedded_example(*, speed: float | None = 60.0, store=":memory:", catch_up: int = 12, policy: str = "optimal",
                     folder=None, log: LogBuffer | None = None, warm_up: bool = True) -> _Example:
    """The Morocco lockdown replay with its controller, ready to run (module docstring).

    ``speed``: simulated seconds per wall second (60: a 5-minute interval every 5 s); None: every
    interval is ready at once (tests step the controller themselves). ``store``: the DuckDB store
    (``:memory:`` by default). ``folder``: where the counters file is written (default: a temporary
    folder removed by ``close()``).
    """
    log = log if log is not None else LogBuffer()
    raw = morocco()
    series = synthetic_series(EXAMPLE_TRAFFIC, raw)
    net = size_capacities(raw, series, target_util=0.6)
    series = get_scenario(EXAMPLE_SCENARIO).apply(series, network=net)
    owned = folder is None
    where = Path(tempfile.mkdtemp(prefix="surgeguard-serve-")) if owned else Path(folder)
    try:
        imap, _ = interface_map_for(net, None)
        sim = TelemetrySimulator(net, series, interfaces=imap, seed=0)
        counters = write_counters(sim.counter_frame(), where / "counters.parquet")
        cfg = load_config(None, {**EXAMPLE_SETTINGS, "policy.name": policy, "store.path": str(store)})
        source = CounterFileSource(counters, net, interfaces=imap, speed=speed)
        db = open_store(store)
        ctl = Controller(net, source, db, config=cfg, log=log)
        ctl.start()
        if warm_up:
            ctl.warm_up()
        if speed is not None:  # the replay's clock: the first interval, and `catch_up` more, are complete now
            ahead = (ctl.next_ds - source.times[0]).total_seconds() + (catch_up + 1) * cfg.step_seconds
            source.wall_start = time.time() - ahead / speed
    except BaseException:
        if owned:
            shutil.rmtree(where, ignore_errors=True)
        raise
    return _Example(ctl, log, where, owned, speed)


def utc_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")
