"""``optimal``: the exact minimum-MLU routing over the candidate paths (the LP of
:mod:`surgeguard.optimise.mlu`, solved by HiGHS)."""

from __future__ import annotations

import hashlib
import weakref
from collections import OrderedDict

import numpy as np

from ..optimise.mlu import MluLP, solve_mlu_lp
from ..validation import Boolean, Interval, NoneOr, Options
from .policies import Policy, register_policy
from .routing import Routing

__all__ = ["Optimal", "MluLP", "solve_mlu_lp"]


class Optimal(Policy):
    """Exact min-MLU routing over the candidate paths (HiGHS LP, see module notes).

    Parameters
    ----------
    solver : "auto" (simplex up to 50,000 paths, interior point beyond), "simplex", "ipm", "pdlp",
        "central" (interior point without crossover: a routing near the centre of the optimal face,
        ``optimal-last``'s default; :func:`surgeguard.optimise.highs.solver_options`).
    second_stage : among MLU-optimal routings, pick the one with least demand-weighted latency.
    time_limit : seconds per HiGHS run (None: no limit). When the min-MLU stage stops at it
        without an optimum, :class:`~surgeguard.SolverError` names the LP and the limit (no routing
        is returned: an LP stopped early holds no routing worth trusting); when the latency stage
        stops at it, the stage-1 routing (MLU-optimal) is returned with ``info["stage2_status"]``.

    In a replay, ``decide`` routes the previous interval's matrix: what a controller can know.
    The LP is built on the first call and re-solved from the previous basis on later calls with
    the same network and paths. The last few optima are remembered per path set (whatever the
    instance): the same matrix with the same settings is solved once, e.g. by a replay's oracle and
    then by ``optimal-last`` inside ``hedge`` one interval later.
    """

    name = "optimal"
    _parameter_constraints = {
        "solver": [Options({"auto", "central", "simplex", "ipm", "pdlp"})],
        "second_stage": [Boolean()],
        "time_limit": [NoneOr(), Interval(float, 0, None, closed="neither")],
        "threads": [NoneOr(), Interval(int, 1, None)],
    }

    def __init__(self, solver: str = "auto", second_stage: bool = True, time_limit: float | None = None,
                 threads: int | None = None):
        self.solver = solver
        self.second_stage = second_stage
        self.time_limit = time_limit
        self.threads = threads

    def route(self, network, paths, tm, *, warm=None) -> Routing:
        self.validate()
        key = (id(network), id(paths))
        if getattr(self, "_lp_key_", None) != key:  # one live model per (network, paths)
            self.lp_ = MluLP(network, paths, solver=self.solver, time_limit=self.time_limit, threads=self.threads)
            self._lp_key_ = key
        tm = np.asarray(tm, dtype=float)
        memo = _MEMO.setdefault(paths, OrderedDict())
        key = (id(network), hashlib.blake2b(np.ascontiguousarray(network.capacity, dtype=float).tobytes() +
                                            np.ascontiguousarray(tm).tobytes(), digest_size=16).digest(),
               self.solver, bool(self.second_stage), self.time_limit, self.threads)
        if key in memo:
            memo.move_to_end(key)
            splits, info = memo[key]
            return Routing(paths, splits.copy(), self.name, {**info, "memo": True})
        splits, info = self.lp_.solve(tm, second_stage=self.second_stage)
        memo[key] = (np.array(splits, dtype=float), dict(info))
        while len(memo) > _MEMO_SIZE:
            memo.popitem(last=False)
        return Routing(paths, splits, self.name, info)


#: optima remembered per path set: (network id, digest of capacities and matrix, settings) -> (splits, info)
_MEMO: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_MEMO_SIZE = 4

register_policy("optimal", Optimal)
