"""``fast``: near-optimal minimum-MLU routing by a first-order method in PyTorch (CPU or CUDA).

The policy only; the solver, its operator and its certified bounds are in
:mod:`surgeguard.optimise.first_order` (torch is imported there, when a route is first asked for).
"""

from __future__ import annotations

from ..optimise.first_order import solve_fast
from ..validation import InstanceOf, Interval, NoneOr
from .policies import Policy, register_policy
from .routing import Routing

__all__ = ["FastTE"]


class FastTE(Policy):
    """Near-optimal min-MLU routing by a first-order method in PyTorch (see
    :mod:`surgeguard.optimise.first_order`).

    Parameters
    ----------
    tol : stop when the certified relative gap ``(MLU - lower bound) / MLU`` is at most this.
    max_iter : iteration limit (the result then carries its gap and status "iteration limit").
    device : "auto" (CUDA when available), "cpu", "cuda", "cuda:1", ...
    time_limit : seconds of wall clock per route (None: no limit). When it is spent the iterations
        stop and the best routing certified so far is returned, with ``info["status"] == "time
        limit"`` and its ``gap`` (how far from optimal it may be).
    threads : torch CPU threads (optional; default torch's own setting).

    ``route`` accepts ``warm=`` a previous routing over the same path set (from this policy or any
    other): a re-solve after a demand change starts from its splits and, when it came from this
    policy, its link weights. Every result's ``info`` carries ``mlu``, ``lower_bound``, ``gap``,
    ``iterations``, ``setup_seconds`` and ``solve_seconds``.

    Examples
    --------
    >>> import numpy as np
    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.routing import k_shortest_paths
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> tm = np.zeros((net.n_nodes,) * 2); tm[0, -1] = 15e9
    >>> r = FastTE(device="cpu").route(net, ps, tm)
    >>> round(r.info["mlu"], 2), r.info["gap"] <= 0.01
    (0.75, True)
    >>> FastTE(tol=-0.1).route(net, ps, tm)
    Traceback (most recent call last):
    ...
    surgeguard.exceptions.ValidationError: The 'tol' parameter of FastTE must be a float in [0, 1). Got -0.1 instead.
    """

    name = "fast"
    _parameter_constraints = {
        "tol": [Interval(float, 0, 1, closed="left")],
        "max_iter": [Interval(int, 0, None)],
        "device": [InstanceOf(str)],
        "time_limit": [NoneOr(), Interval(float, 0, None, closed="neither")],
        "threads": [NoneOr(), Interval(int, 1, None)],
    }

    def __init__(self, tol: float = 0.01, max_iter: int = 1000, device: str = "auto",
                 time_limit: float | None = None, threads: int | None = None):
        self.tol = tol
        self.max_iter = max_iter
        self.device = device
        self.time_limit = time_limit
        self.threads = threads

    def route(self, network, paths, tm, *, warm=None) -> Routing:
        self.validate()
        splits, info = solve_fast(network, paths, tm, tol=self.tol, max_iter=self.max_iter,
                                  device=self.device, warm=warm, time_limit=self.time_limit,
                                  threads=self.threads)
        info.pop("history", None)
        return Routing(paths, splits, self.name, info)


register_policy("fast", FastTE)
