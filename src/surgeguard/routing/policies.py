"""One signature for every routing policy, and the registry the CLI and replay use.

A policy answers two questions:

* ``route(network, paths, tm)``: the routing for a known traffic matrix (``surgeguard solve``);
* ``decide(network, paths, history)``: the routing for the *next* interval, knowing only the
  past (``surgeguard replay``). ``history`` is a :class:`~surgeguard.traffic.TrafficSeries` of the
  steps before the one being decided; the policy never sees the matrix it will be judged on.

The default ``decide`` routes the last observed matrix, and with no history yet falls back to
shortest-path routing (what a network runs before any controller has data).
"""

from __future__ import annotations

import inspect
from typing import Callable

import numpy as np

from ..network import Network
from ..traffic import TrafficSeries
from ..paths import PathSet
from ..validation import Interval, NoneOr, Params, Registry
from .routing import Routing

__all__ = ["Policy", "POLICIES", "register_policy", "get_policy", "policy_names", "solve", "policy_accepts",
           "TIME_LIMIT"]


class Policy(Params):
    """Base class: subclasses implement :meth:`route`; ``__init__`` only stores parameters.

    Parameters are declared in ``_parameter_constraints`` and checked by :meth:`validate`
    (:mod:`surgeguard.validation`); ``get_params`` reads the ``__init__`` signature.

    Time limits: every policy that solves an optimisation problem takes ``time_limit`` (seconds of
    wall clock per solve, ``None`` = no limit; declared as :data:`TIME_LIMIT`). The LP policies
    (``optimal``, ``optimal-last``, ``optimal-forecast``, ``robust``, ``priority``) raise
    :class:`~surgeguard.SolverError` naming the solve and the limit when HiGHS stops there without
    an optimum (a later stage that is cut short keeps the first stage's routing and says so in
    ``info["stage2_status"]``); ``fast`` returns the best routing it has certified so far with
    ``info["status"] == "time limit"`` and its ``gap``; ``learned`` and ``switching`` pass the limit
    to the policies they run.
    """

    name: str = "policy"
    #: the policy used by :meth:`decide` before any history exists
    fallback: str = "shortest"

    def route(self, network: Network, paths: PathSet, tm: np.ndarray, *, warm: Routing | None = None) -> Routing:
        raise NotImplementedError

    def decide(self, network: Network, paths: PathSet, history: TrafficSeries,
               *, warm: Routing | None = None) -> Routing:
        if len(history) == 0:
            return get_policy(self.fallback).route(network, paths, np.zeros((network.n_nodes,) * 2))
        return self.route(network, paths, history.matrix(-1), warm=warm)


#: every routing policy by name (the CLI's ``--policy``); see :func:`register_policy`.
POLICIES = Registry("policy")

#: the declared range of every policy's ``time_limit``: None (no limit) or seconds > 0
TIME_LIMIT = [NoneOr(), Interval(float, 0, None, closed="neither")]


def policy_accepts(policy: str | type, param: str) -> bool:
    """Whether the policy registered as ``policy`` (or the class) takes the constructor parameter
    ``param`` (e.g. ``time_limit``).

    >>> policy_accepts("optimal", "time_limit"), policy_accepts("shortest", "time_limit")
    (True, False)
    """
    factory = POLICIES[policy] if isinstance(policy, str) else policy
    target = factory.__init__ if isinstance(factory, type) else factory
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):  # pragma: no cover - a builtin factory
        return False
    return param in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def register_policy(name: str, factory: Callable[..., Policy]) -> None:
    """Make ``factory`` available as ``get_policy(name)`` and on the CLI's ``--policy``."""
    POLICIES.register(name, factory)


def policy_names() -> list[str]:
    """The registered policy names, sorted."""
    return POLICIES.names()


def get_policy(name: str | Policy, **options) -> Policy:
    """The policy registered under ``name``; unknown names raise a one-line error listing them."""
    if isinstance(name, Policy):
        return name
    return POLICIES.get(name, **options)


def solve(network: Network, paths: PathSet, tm: np.ndarray, policy: str | Policy = "optimal",
          **options) -> Routing:
    """Route ``tm`` with ``policy``: the one-call entry point of the Python API.

    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.routing import k_shortest_paths
    >>> net = two_paths()
    >>> ps = k_shortest_paths(net, k=2)
    >>> import numpy as np
    >>> tm = np.zeros((net.n_nodes,) * 2); tm[0, -1] = 15e9
    >>> r = solve(net, ps, tm, "optimal")
    >>> round(r.info["mlu"], 3)
    0.75
    """
    paths.check_network(network)
    return get_policy(policy, **options).route(network, paths, tm)
