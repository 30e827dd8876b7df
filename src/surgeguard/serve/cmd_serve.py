"""``surgeguard serve``: the REST API and the live dashboard (:mod:`surgeguard.serve.api`).

* ``surgeguard serve --network morocco`` (the default): the embedded example, no server needed:
  the Morocco lockdown replay as router counters in a file, the controller deciding every interval
  (a 5-minute interval every 5 s at ``--speed 60``) into a DuckDB store, in this process; the
  dashboard at http://127.0.0.1:8000/.
* ``surgeguard serve --config FILE``: the controller of ``surgeguard run --config FILE`` (same
  TOML), run in this process with the API beside it (DuckDB lets one process open the store, so
  the API lives where the controller writes). ``--read-only`` serves the store of a controller
  that is not running.

Bound to 127.0.0.1 unless ``--host`` says otherwise. Every write (what-ifs, plans) needs the bearer
token: ``--token-file FILE`` or the ``SURGEGUARD_API_TOKEN`` environment variable, else a random
one is made for this run and printed in the dashboard's address (``#token=...``).
"""

from __future__ import annotations

import gc
import ipaddress
import socket
from pathlib import Path
from typing import List, Optional

import typer
import uvicorn

from ..exceptions import InputError
from ..store import open_store
from .api import (ApiSettings, ApiState, ControllerRunner, LogBuffer, create_app, embedded_example, new_token,
                  token_from_env)
from .api.settings import DEFAULT_HOST, DEFAULT_PORT, MAX_BODY_BYTES, TOKEN_ENV
from .config import load_config
from .controller import build_controller
from .loaders import load_network
from .options import OptionError, in_range, option_message

app = typer.Typer()

#: the networks the embedded example knows
EXAMPLES = ("morocco",)


def _token(token_file: Optional[Path]) -> tuple[str, str]:
    """(token, where it came from)."""
    if token_file is not None:
        try:
            text = Path(token_file).read_text().strip()
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"token file {str(token_file)!r} cannot be read ({getattr(err, 'strerror', None) or err}); "
                             "give a text file holding the token") from None
        if not text:
            raise InputError(f"token file {str(token_file)!r} is empty; write the token in it")
        return text, f"from {token_file}"
    env = token_from_env()
    if env:
        return env, f"from {TOKEN_ENV}"
    return new_token(), "made for this run"


def _socket(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise OptionError(f"option --port: cannot listen on {host}:{port} ({err.strerror or err}); choose another "
                          "port (or stop what listens there)") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@app.command()
def serve(
    network: str = typer.Option("morocco", "--network", "-n",
                                help="the embedded example to watch (morocco); ignored with --config"),
    config: Optional[Path] = typer.Option(None, "--config", "-c",
                                          help="a controller's TOML configuration (as surgeguard run): run it here "
                                               "and serve its store"),
    read_only: bool = typer.Option(False, "--read-only",
                                   help="with --config: serve the store without running the controller"),
    host: str = typer.Option(DEFAULT_HOST, "--host", help="address to listen on (127.0.0.1: this machine only)"),
    port: int = typer.Option(DEFAULT_PORT, "--port", "-p", callback=in_range(int, 0, 65535),
                             help="port to listen on (0: any free port)"),
    speed: float = typer.Option(60.0, "--speed", callback=in_range(float, 0, 1e6, closed="right"),
                                help="embedded example: simulated seconds per wall second (60: an interval every 5 s)"),
    store: str = typer.Option(":memory:", "--store",
                              help="embedded example: the DuckDB store (a new file path, or :memory:)"),
    token_file: Optional[Path] = typer.Option(None, "--token-file",
                                              help=f"file holding the bearer token for writes (else {TOKEN_ENV}, "
                                                   "else a random one for this run)"),
    cors_origin: Optional[List[str]] = typer.Option(None, "--cors-origin",
                                                    help="an origin (scheme://host:port) allowed to call the API from "
                                                         "a page it did not serve (repeat); none by default"),
    max_body: int = typer.Option(MAX_BODY_BYTES, "--max-body", callback=in_range(int, 1024, 64 * 2 ** 20),
                                 help="largest request body accepted, bytes"),
    quiet: bool = typer.Option(False, "--quiet", help="do not print the controller's lines"),
):
    """Serve the REST API (/api/v1) and the live dashboard (/) over a controller's store."""
    if read_only and config is None:
        raise OptionError("option --read-only needs --config FILE (the store to serve)")
    if config is None and network.strip().lower() not in EXAMPLES:
        raise OptionError(option_message("--network", f"one of the embedded examples ({', '.join(EXAMPLES)}); to "
                                                      "serve another network run its controller with --config FILE",
                                         network))
    token, token_from = _token(token_file)
    settings = ApiSettings(token=token, cors_origins=tuple(cors_origin or ()), max_body_bytes=max_body)
    sock = _socket(host, port)
    echo = None if quiet else (lambda line: typer.echo(f"controller: {line}"))
    log = LogBuffer(echo=echo)
    try:
        if config is None:
            if store != ":memory:" and Path(store).exists():
                raise OptionError(option_message("--store", "a new file (the example starts a new history) or "
                                                            ":memory:", store))
            typer.echo(f"embedded example: Morocco, lockdown replay at speed {speed:g} (building, a few seconds)")
            ex = embedded_example(speed=speed, store=store, log=log)
            ctl = ex.controller
            state = ApiState(ctl.network, ctl.store, settings=settings, runner=ControllerRunner(ctl, log),
                             on_close=ex.close)
        elif read_only:
            cfg = load_config(config)
            net = load_network(cfg.network.topology)
            db = open_store(cfg.store.path, read_only=True)
            state = ApiState(net, db, settings=settings, classes=cfg.policy.classes, on_close=db.close)
        else:
            cfg = load_config(config)
            ctl = build_controller(cfg, log=log)
            state = ApiState(ctl.network, ctl.store, settings=settings, runner=ControllerRunner(ctl, log),
                             on_close=ctl.close)
    except BaseException:
        sock.close()
        raise
    bound = sock.getsockname()
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    base = f"http://{shown}:{bound[1]}"
    typer.echo(f"API: {base}/api/v1 (schema {base}/api/v1/openapi.json); writes need the bearer token ({token_from})")
    typer.echo(f"dashboard: {base}/dashboard/#token={token}")
    if host not in ("127.0.0.1", "::1", "localhost"):
        typer.echo(f"note: listening on {host}, reachable from other machines; reads need no token")
    server = uvicorn.Server(uvicorn.Config(create_app(state), log_level="warning", access_log=False))
    gc.freeze()   # the start-up's objects (network, paths, models) leave the collector's scans
    server.run(sockets=[sock])
