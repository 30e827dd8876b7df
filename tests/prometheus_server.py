"""Test helper: a REAL Prometheus server (Debian package ``prometheus``: ``/usr/bin/prometheus`` and
``promtool``), started on a free port with a temporary TSDB and a generated configuration, and
stopped at the end (terminate, wait, kill). Never a mock.

* :func:`require_prometheus` skips the calling test when the binaries are absent, unless
  ``SURGEGUARD_REQUIRE_PROMETHEUS`` is set (CI sets it: there a missing server is a failure);
* :func:`scrape_config` / :func:`scrape_job` / :func:`prometheus_config`: the YAML for scraping a
  telemetry simulator, either its ``/metrics``
  (every router, ``honor_labels: true`` keeps its ``instance`` labels) or, as ``snmp_exporter``
  is scraped, ``/snmp?target=ROUTER&module=if_mib`` with ``instance`` set by relabelling;
* :class:`PrometheusServer` / :func:`running_prometheus`: start, wait for ``/-/ready``, stop;
* :func:`create_blocks`: ``promtool tsdb create-blocks-from openmetrics FILE DIR``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, Sequence

import pytest

#: the environment variable that turns a missing Prometheus into a failure (CI sets it)
REQUIRE_ENV = "SURGEGUARD_REQUIRE_PROMETHEUS"


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    path = Path("/usr/bin") / name
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def require_prometheus() -> tuple[str, str]:
    """``(prometheus, promtool)`` paths; skips (or fails, with ``SURGEGUARD_REQUIRE_PROMETHEUS``
    set) when one is missing."""
    prom, tool = _binary("prometheus"), _binary("promtool")
    if prom and tool:
        return prom, tool
    missing = " and ".join(n for n, p in (("prometheus", prom), ("promtool", tool)) if not p)
    msg = (f"{missing} not found: the Prometheus tests run the real server; install the Debian package "
           "`prometheus` (scripts/install_services.sh)")
    if os.environ.get(REQUIRE_ENV, "") not in ("", "0"):
        pytest.fail(f"{msg} ({REQUIRE_ENV} is set)")
    pytest.skip(msg)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape_job(target: str, *, job: str = "surgeguard-sim", routers: Sequence[str] = (), interval: str = "250ms",
               params: dict[str, str] | None = None) -> str:
    """One ``scrape_configs`` entry (YAML) scraping the simulator at ``target`` (``host:port``).

    Without ``routers``: its ``/metrics`` with ``honor_labels: true`` (the samples' own
    ``instance`` labels are kept). With ``routers``: one target per router through ``/snmp``,
    relabelled exactly as an ``snmp_exporter`` deployment is (``__param_target`` from the router,
    ``instance`` = router, ``__address__`` = the exporter). ``params``: extra URL parameters
    (e.g. ``{"timestamps": "1"}``).
    """
    out = f"  - job_name: '{job}'\n    scrape_interval: {interval}\n    scrape_timeout: {interval}\n"
    par = dict(params or {})
    if routers:
        par.setdefault("module", "if_mib")
    if par:
        out += "    params:\n" + "".join(f"      {k}: ['{v}']\n" for k, v in par.items())
    if not routers:
        return out + f"    honor_labels: true\n    static_configs:\n      - targets: ['{target}']\n"
    listed = "".join(f"          - '{r}'\n" for r in routers)
    return (out + "    metrics_path: /snmp\n"
            f"    static_configs:\n      - targets:\n{listed}"
            "    relabel_configs:\n"
            "      - source_labels: [__address__]\n        target_label: __param_target\n"
            "      - source_labels: [__param_target]\n        target_label: instance\n"
            f"      - target_label: __address__\n        replacement: '{target}'\n")


def prometheus_config(*jobs: str) -> str:
    """A whole configuration from :func:`scrape_job` entries."""
    return "global:\n  evaluation_interval: 1m\nscrape_configs:\n" + "".join(jobs) if jobs else \
        "scrape_configs: []\n"


def scrape_config(target: str, *, routers: Sequence[str] = (), interval: str = "250ms",
                  job: str = "surgeguard-sim") -> str:
    """A configuration with one job scraping the simulator at ``target`` (see :func:`scrape_job`)."""
    return prometheus_config(scrape_job(target, job=job, routers=routers, interval=interval))


class PrometheusServer:
    """A real ``prometheus`` process on 127.0.0.1 with its own TSDB folder and configuration.

    ``start()`` waits for ``/-/ready`` (or fails with the server's log); ``stop()`` terminates it,
    waits, and kills it if it does not exit. ``url`` is the base URL of its HTTP API.
    """

    def __init__(self, workdir: Path, config: str = "scrape_configs: []\n", *, data_dir: Path | None = None,
                 retention: str = "36500d"):
        self.binary, _ = require_prometheus()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_file = self.workdir / "prometheus.yml"
        self.config_file.write_text(config)
        self.data_dir = Path(data_dir) if data_dir is not None else self.workdir / "tsdb"
        self.log_file = self.workdir / "prometheus.log"
        self.retention = retention
        self.port: int | None = None
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def start(self, timeout: float = 30.0) -> "PrometheusServer":
        for attempt in range(3):  # a free port can be taken between the probe and the bind
            self.port = free_port()
            args = [self.binary, f"--config.file={self.config_file}", f"--storage.tsdb.path={self.data_dir}",
                    f"--web.listen-address=127.0.0.1:{self.port}", f"--storage.tsdb.retention.time={self.retention}",
                    "--log.level=info"]
            with open(self.log_file, "ab") as log:
                self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
                        if r.status == 200:
                            return self
                except (urllib.error.URLError, OSError):
                    pass
                time.sleep(0.1)
            code = self.process.poll()
            self.stop()
            if code is not None and "address already in use" in self.log() and attempt < 2:
                continue
            raise RuntimeError(f"prometheus did not become ready in {timeout:g} s (exit code {code}); its log "
                               f"ends:\n{self.log()[-3000:]}")
        raise AssertionError("unreachable")

    def stop(self) -> None:
        p, self.process = self.process, None
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=15)

    def __enter__(self) -> "PrometheusServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def running_prometheus(workdir: Path, config: str = "scrape_configs: []\n", *,
                       data_dir: Path | None = None) -> Iterator[PrometheusServer]:
    """A started :class:`PrometheusServer`, stopped when the block ends (also on failure)."""
    server = PrometheusServer(workdir, config, data_dir=data_dir)
    try:
        yield server.start()
    finally:
        server.stop()


def create_blocks(openmetrics_file: Path, data_dir: Path, *, timeout: float = 120.0) -> str:
    """Run ``promtool tsdb create-blocks-from openmetrics FILE DIR``; returns its output, raises
    with it when promtool fails."""
    _, promtool = require_prometheus()
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    res = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(openmetrics_file),
                          str(data_dir)], capture_output=True, text=True, timeout=timeout)
    out = res.stdout + res.stderr
    if res.returncode != 0:
        raise RuntimeError(f"promtool failed (exit code {res.returncode}):\n{out[-3000:]}")
    return out


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    """Poll ``predicate()`` until it returns a true value (returned); fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")
