"""Turn the CLI's NET / SERIES / paths / policy arguments into library objects, with one-line errors.

Every command reads its inputs through these functions, so a network, a series or a policy list
given on the command line means the same thing in every command.
"""

from __future__ import annotations

import inspect
import math
import sys

import pandas as pd

from ..examples import morocco
from ..exceptions import ValidationError
from ..io import read_network, read_traffic
from ..network import Network
from ..paths import PathSet, k_shortest_paths, read_tunnels_file
from ..plan.sizing import size_capacities
from ..routing import get_policy
from ..scenario.synthetic import gravity_matrix, gravity_series
from ..traffic import TrafficSeries

__all__ = ["load_network", "load_traffic", "load_paths", "load_inputs", "load_routing_inputs",
           "parse_policies", "with_model", "accepts", "needs_sizing", "note", "synthetic_series", "SYNTHETIC_DEFAULTS"]


def needs_sizing(net: Network) -> bool:
    """Whether the network's source gave no capacities (they must be sized from the traffic)."""
    return net.meta.get("capacity_source") == "none"


def load_network(spec: str) -> Network:
    """A network from a file path or a topohub key (see :func:`surgeguard.io.read_network`)."""
    if spec in ("morocco", "example:morocco"):
        return morocco()
    return read_network(spec)


def load_traffic(spec: str, net: Network) -> TrafficSeries:
    """A traffic series in the network's node order.

    ``gravity`` or ``gravity:total=40e9`` gives one gravity matrix from node populations
    (default total: 10% of the total link capacity, or 10 Gbit/s per node where the network has
    no capacities yet).
    """
    if spec == "gravity" or spec.startswith("gravity:"):
        opts = {}
        for kv in (spec.split(":", 1)[1].split(",") if ":" in spec else []):
            key, sep, val = kv.partition("=")
            if not sep or not key.strip():
                raise ValidationError(f"option --traffic {spec!r}: {kv!r} is not KEY=VALUE; use gravity or "
                                      "gravity:total=BPS, e.g. gravity:total=40e9")
            opts[key.strip()] = val.strip()
        bad = set(opts) - {"total"}
        if bad:
            raise ValidationError(f"option --traffic {spec!r}: unknown option(s) {sorted(bad)}; use gravity:total=BPS")
        default = 10e9 * net.n_nodes if needs_sizing(net) else 0.1 * net.capacity.sum()
        try:
            total = float(opts.get("total", default))
        except ValueError:
            total = None
        if total is None or not math.isfinite(total) or total <= 0:
            raise ValidationError(f"option --traffic {spec!r}: total must be a finite number of bit/s > 0, "
                                  "e.g. gravity:total=40e9")
        tm = gravity_matrix(net, total)
        return TrafficSeries(tm[None], net.node_names, name=f"gravity({total:.3g} bit/s)")
    ts = read_traffic(spec, nodes=list(net.node_names))
    return ts.reorder(net.node_names)


def load_paths(net: Network, paths_file: str | None, k: int) -> PathSet:
    """The tunnels of ``paths_file`` when given, else the ``k`` shortest paths of every OD pair."""
    if paths_file:
        return read_tunnels_file(net, paths_file)
    return k_shortest_paths(net, k=k)


def parse_policies(text: str) -> list[str]:
    """Policy names from a comma-separated list; an unknown name is a one-line error."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    if not names:
        raise ValidationError("--policy is empty; give one or more names, e.g. --policy shortest,optimal")
    for n in names:
        if n != "oracle":
            get_policy(n)  # raises a one-line error for unknown names
    seen = [n.lower() for n in names]
    if len(set(seen)) != len(seen):
        twice = sorted({n for n in seen if seen.count(n) > 1})
        raise ValidationError(f"--policy {text!r} names {', '.join(twice)} twice; give each policy once")
    return names


def note(msg: str) -> None:
    """A note for the user on stderr (stdout stays machine-readable)."""
    print(msg, file=sys.stderr)


def load_inputs(network: str, traffic: str, *, scale: float = 1.0, size_util: float | None = None):
    """Network and traffic as every command reads them.

    Demands are multiplied by ``scale``; capacities are sized (shortest-path peak load /
    ``size_util``, standard ports) when ``size_util`` is given or the source has none (then at
    60%, with a note on stderr).
    """
    net = load_network(network)
    ts = load_traffic(traffic, net)
    if scale != 1.0:
        ts = ts.scale(scale)
    if size_util is not None or needs_sizing(net):
        util = size_util if size_util is not None else 0.6
        if needs_sizing(net):
            note(f"note: {network!r} has no capacities; sizing them for {util:.0%} peak utilisation of the "
                 "traffic on shortest paths (standard ports); set --size-util to change")
        net = size_capacities(net, ts, target_util=util)
    return net, ts


def load_routing_inputs(network: str, traffic: str, *, paths_file: str | None = None, k: int = 4,
                        scale: float = 1.0, size_util: float | None = None):
    """Network, traffic (:func:`load_inputs`) and candidate paths (:func:`load_paths`) in one call."""
    net, ts = load_inputs(network, traffic, scale=scale, size_util=size_util)
    return net, ts, load_paths(net, paths_file, k)


def with_model(names: list[str], model: str | None, *, time_limit: float | None = None) -> list:
    """Policies for ``names`` (``oracle`` stays a name); those whose constructor takes ``model`` get it,
    and those whose constructor takes ``time_limit`` (seconds per solve) get it when it is given.

    A policy that needs a trained model without one, or a model that no policy takes, is a one-line
    error; a time limit that no policy takes is a note on stderr.
    """
    out, used, timed = [], False, False
    for n in names:
        if n == "oracle":
            out.append(n)
            continue
        pol = get_policy(n)
        accepts = inspect.signature(type(pol)).parameters
        options = {}
        if model is not None and "model" in accepts:
            options["model"], used = model, True
        elif model is None and getattr(pol, "requires_model", False):
            raise ValidationError(f"policy {n!r} needs a trained model: add --model MODEL (from `surgeguard train`)")
        if time_limit is not None and "time_limit" in accepts:
            options["time_limit"], timed = time_limit, True
        out.append(get_policy(n, **options) if options else pol)
    if model is not None and not used:
        raise ValidationError(f"--model is given but none of the policies {names} takes a model; "
                              "use --policy learned or drop --model")
    if time_limit is not None and not timed:
        note(f"note: --time-limit does not apply to {', '.join(names)} (no solver with a time limit)")
    return out


def accepts(func, name: str) -> bool:
    """Whether ``func`` (a function or class) takes a parameter called ``name``."""
    return name in inspect.signature(func).parameters


#: defaults of ``synthetic[:days=..,step=..,total=..,seed=..,start=..]`` (total: 10% of the total
#: link capacity, or 10 Gbit/s per node where the network has none)
SYNTHETIC_DEFAULTS = {"days": "1", "step": "5min", "seed": "0", "start": "2020-03-20T00:00Z"}


def synthetic_series(spec: str, net: Network) -> TrafficSeries:
    """A synthetic traffic series (:func:`surgeguard.scenario.gravity_series`: gravity demands from
    node weights with the fitted diurnal/weekly shape and noise) from
    ``synthetic[:days=D,step=S,total=BPS,seed=N,start=ISO]`` (see :data:`SYNTHETIC_DEFAULTS`).

    >>> from surgeguard.examples import triangle
    >>> ts = synthetic_series("synthetic:days=0.5,step=1h,total=3e9", triangle())
    >>> len(ts), str(ts.step), ts.times[0].isoformat()
    (12, '0 days 01:00:00', '2020-03-20T00:00:00+00:00')
    """
    name, _, rest = spec.strip().partition(":")
    example = "synthetic:days=2,step=5min,total=400e9,seed=1"
    if name.strip().lower() != "synthetic":
        raise ValidationError(f"option --traffic {spec!r} is not a synthetic spec; use e.g. {example}")
    opts = dict(SYNTHETIC_DEFAULTS)
    for kv in (p.strip() for p in rest.split(",") if p.strip()):
        key, sep, val = kv.partition("=")
        if not sep or key.strip() not in ("days", "step", "total", "seed", "start"):
            raise ValidationError(f"option --traffic {spec!r}: {kv!r} is not one of days=, step=, total=, seed=, "
                                  f"start=; use e.g. {example}")
        opts[key.strip()] = val.strip()
    default = 10e9 * net.n_nodes if needs_sizing(net) else 0.1 * net.capacity.sum()
    try:
        days, total, seed = float(opts["days"]), float(opts.get("total", default)), int(opts["seed"])
        step = pd.Timedelta(opts["step"])
        start = pd.Timestamp(opts["start"])
    except (ValueError, TypeError):
        raise ValidationError(f"option --traffic {spec!r}: days and total must be numbers, seed an integer, step a "
                              f"duration (5min, 1h) and start a time; use e.g. {example}") from None
    if not (math.isfinite(days) and days > 0 and math.isfinite(total) and total > 0 and seed >= 0
            and step > pd.Timedelta(0) and start is not pd.NaT):
        raise ValidationError(f"option --traffic {spec!r}: days, total and step must be > 0 and seed >= 0; use e.g. "
                              f"{example}")
    periods = max(1, int(round(pd.Timedelta(days=days) / step)))
    return gravity_series(net, start, periods, step, total_bps=total, random_state=seed,
                          name=f"synthetic:{net.name}")

