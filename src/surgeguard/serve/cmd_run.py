"""``surgeguard run``: the controller (:mod:`surgeguard.serve.controller`) as a long-running process.

``surgeguard run --config FILE`` reads the TOML configuration (:mod:`surgeguard.serve.config`);
every key is also a flag, which overrides the file (``surgeguard run --config live.toml --policy
fast --intervals 12``). Each interval is logged in one line once it is stored; the controller's
metrics are served at ``/metrics``. Ctrl-C (or SIGTERM) stops it after the interval in progress;
restarted, it resumes after the store's last interval.
"""

from __future__ import annotations

import inspect
import signal
import sys
import threading
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from .config import SETTINGS, load_config
from .controller import build_controller

app = typer.Typer(help="The controller: a routing decision every interval from live telemetry.")

_TYPES = {str: Optional[str], int: Optional[int], float: Optional[float], bool: Optional[bool]}


def _param(s) -> inspect.Parameter:
    flags = [s.flag]
    return inspect.Parameter(f"{s.section}__{s.key}", inspect.Parameter.KEYWORD_ONLY, annotation=_TYPES[s.type],
                             default=typer.Option(None, *flags, help=f"{s.help} (config: {s.section}.{s.key}; "
                                                                     f"default {s.default!r})",
                                                  show_default=False, rich_help_panel=f"config section {s.section}"))


class _Logger:
    """One line per event: plain print, or rich with a spinner while waiting for the next interval."""

    def __init__(self, mode: str):
        if mode == "auto":
            mode = "rich" if sys.stdout.isatty() else "plain"
        self.mode = mode
        self.status = None
        if mode == "rich":
            self.console = Console()

    def __call__(self, line: str) -> None:
        if self.mode == "quiet":
            return
        if self.mode == "rich":
            if self.status is not None:
                self.status.stop()
                self.status = None
            style = "bold red" if "FALLBACK" in line or "unavailable" in line else None
            self.console.log(line, style=style, markup=False, highlight=False)
        else:
            print(line, flush=True)

    def waiting(self, ds, seconds: float) -> None:
        if self.mode != "rich":
            return
        text = f"waiting for interval {ds:%Y-%m-%d %H:%M} UTC (about {seconds:.0f} s)"
        if self.status is None:
            self.status = self.console.status(text)
            self.status.start()
        else:
            self.status.update(text)

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


def run(config: Optional[Path] = None, **flags) -> None:
    """Run the controller: read telemetry, estimate, forecast, detect, decide and store, every interval."""
    values = {k.replace("__", "."): v for k, v in flags.items()}
    cfg = load_config(config, values)
    log = _Logger(cfg.log.progress)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_signal)
    ctl = None
    try:
        ctl = build_controller(cfg, log=log, stop=stop)
        ctl.on_wait = log.waiting
        results = ctl.run(stop=stop)
        log(f"done: {len(results)} interval(s) stored in {cfg.store.path}")
    except KeyboardInterrupt:
        stop.set()
        n = len(ctl.results) if ctl is not None else 0
        last = ctl.results[-1].ds if n else None
        log(f"stopped: {n} interval(s) stored in this run" + (f", the last {last:%Y-%m-%dT%H:%M:%SZ}" if last else "")
            + f"; restart resumes after the store's last interval")
    finally:
        signal.signal(signal.SIGTERM, old)
        log.close()
        if ctl is not None:
            ctl.close()


run.__signature__ = inspect.Signature(
    [inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[Path],
                       default=typer.Option(None, "--config", "-c", help="TOML configuration file (every key is also "
                                                                          "a flag below, which overrides it)"))]
    + [_param(s) for s in SETTINGS])
run.__annotations__ = {p.name: p.annotation for p in run.__signature__.parameters.values()}
app.command("run")(run)
