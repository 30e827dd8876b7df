"""``hedge``: an online combination of routing policies, weighted by how each did on the matrices
already seen (exponentially weighted forecaster with fixed share).

Why. A model trained on some weeks routes well on weeks like them and can lose to re-optimising
on the last matrix when traffic moves (on GÉANT, trained in May and replayed in August, ``learned``
scored a mean ratio to the oracle of 1.198 where ``robust`` scored 1.043). No single policy is best
on every period: ``optimal-last`` is best when traffic is smooth, ``robust`` when it is bursty,
the learned model when the period resembles its training. Which one is best *now* is visible
after the fact: once an interval's matrix is known, the MLU that each policy's routing for that
interval would have given, and the optimum of that matrix, are both computable. No oracle is used
at decision time; the weights only use intervals that have passed.

How.
* Experts: the base policies (default ``optimal-last`` and ``robust``, plus the pure learned model
  when one is given) each decide the next interval as usual.
* Candidates: the convex combinations of the experts' split vectors on a grid of weights
  (multiples of ``1/grid``, e.g. 15 combinations of 3 experts for ``grid=4``). Link loads are
  linear in the splits, so each candidate's utilisation on a matrix is the same combination of
  the experts' utilisations, at almost no cost; and because the MLU is convex in the splits, a
  blend is never worse than the blend of its experts' MLUs and often better (two routings that
  err on different links: on the Abilene validation day, learned 1.052 and robust 1.047 mean
  ratio alone, 1.033 blended 3:1).
* Loss: once interval ``t``'s matrix is known, each candidate's realised MLU on it divided by that
  matrix's optimum, minus one (the optimum is the ``optimal-last`` expert's next decision, solved
  anyway; without that expert one LP is solved).
* Weights: exponentially weighted (Hedge, Freund & Schapire 1997), ``w_c <- w_c exp(-eta loss_c)``,
  then fixed share (Herbster & Warmuth 1998), ``w <- (1 - share) w + share / n``: the share keeps
  every candidate's weight away from zero, so the weights can move to another candidate within a
  few intervals when traffic shifts, instead of being stuck with what was best on the past weeks.
  The tracking regret bound holds for any loss in [0, 1]; ratios above 2 are clipped.
* Decision: the weighted average of the candidates, which is a convex combination of the experts
  (so splits stay on the simplex per OD pair).
* Start: at its first decision (or after a gap in the history) the policy replays the last
  ``warmup`` intervals of the history through its experts to set the weights, so it does not
  start from uniform weights.

``eta``, ``share`` and ``grid`` defaults were chosen on a development fold inside the training part of
the shift benchmark (``benchmarks/bench_shift.py``), before its test folds were run.

Online learning (``refit_every``): with a learned model, every ``refit_every`` intervals the model
is fine-tuned for ``refit_epochs`` epochs on the last ``refit_window`` matrices seen (never a
future one), with the optima computed for the weights (:meth:`LearnedRouter.partial_fit`).
"""

from __future__ import annotations

import collections
import itertools
import time

import numpy as np

from ..exceptions import ValidationError
from ..optimise.mlu import MluLP
from ..traffic import TrafficSeries
from ..validation import InstanceOf, Interval, NoneOr
from .learned import Learned, LearnedRouter
from .policies import TIME_LIMIT, Policy, get_policy, policy_accepts, register_policy
from .routing import Routing

__all__ = ["Hedge", "simplex_grid"]

#: scored intervals kept in ``Hedge.history_`` (a week at 5 minutes): a controller runs for months
HISTORY_KEPT = 2016


def simplex_grid(n: int, grid: int) -> np.ndarray:
    """(C, n) every weight vector whose entries are multiples of ``1/grid`` summing to 1.

    >>> simplex_grid(2, 2).tolist()
    [[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]]
    >>> simplex_grid(3, 4).shape
    (15, 3)
    """
    rows = [c for c in itertools.product(range(grid + 1), repeat=n) if sum(c) == grid]
    return np.asarray(rows, dtype=float) / float(grid)


class Hedge(Policy):
    """``hedge``: the online weighted blend of several policies (see module notes).

    Parameters
    ----------
    model : a trained :class:`LearnedRouter` or the path of a saved model: adds the pure learned
        model (without its own robust mix) as an expert. None: no learned expert.
    experts : the other experts, as policy names (default ``optimal-last`` and ``robust``) or
        :class:`Policy` instances (named by their ``name``).
    grid : the blends tried are the weight vectors in multiples of ``1/grid`` (1: the experts alone).
    eta : learning rate of the exponential weights (per unit of ratio loss).
    share : fixed-share mixing per interval, in [0, 1).
    warmup : intervals of the history replayed at the first decision to set the weights.
    refit_every, refit_window, refit_epochs : online fine-tuning of the learned model every
        ``refit_every`` intervals on the last ``refit_window`` (None: never).
    time_limit : seconds per solve, given to the experts that take one.

    Attributes (after a decision)
    ----------
    weights_ : (C,) current weight of each blend; ``blends_`` (C, n_experts) the blends;
    expert_names_ : the experts' names; ``history_`` one record per scored interval (the last
        :data:`HISTORY_KEPT`).

    Examples
    --------
    >>> import numpy as np
    >>> from surgeguard import TrafficSeries
    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.routing import k_shortest_paths
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> v = np.zeros((30, 4, 4)); v[:, 0, 3] = np.linspace(5e9, 15e9, 30)
    >>> h = Hedge(warmup=8)
    >>> r = h.decide(net, ps, TrafficSeries(v, net.node_names))
    >>> h.expert_names_, bool(np.allclose(ps.od_sum(r.splits), 1.0)), len(h.history_)
    (['optimal-last', 'robust'], True, 8)
    """

    name = "hedge"
    _parameter_constraints = {
        "model": [NoneOr(), InstanceOf(LearnedRouter, str)], "experts": [InstanceOf(tuple, list)],
        "grid": [Interval(int, 1, 12)], "eta": [Interval(float, 0, None)],
        "share": [Interval(float, 0, 1, closed="left")], "warmup": [Interval(int, 0, None)],
        "refit_every": [NoneOr(), Interval(int, 1, None)], "refit_window": [Interval(int, 2, None)],
        "refit_epochs": [Interval(int, 1, None)], "time_limit": TIME_LIMIT}

    def __init__(self, model: "LearnedRouter | str | None" = None, experts=("optimal-last", "robust"),
                 grid: int = 4, eta: float = 30.0, share: float = 0.05, warmup: int = 24,
                 refit_every: int | None = None, refit_window: int = 288, refit_epochs: int = 3,
                 time_limit: float | None = None):
        self.model = model
        self.experts = experts
        self.grid = grid
        self.eta = eta
        self.share = share
        self.warmup = warmup
        self.refit_every = refit_every
        self.refit_window = refit_window
        self.refit_epochs = refit_epochs
        self.time_limit = time_limit

    # ------------------------------------------------------------------ set-up
    def _setup(self, network, paths):
        key = (id(network), id(paths))
        if getattr(self, "_key_", None) == key:
            return
        self.validate()
        names = [e.name if isinstance(e, Policy) else str(e) for e in self.experts]
        if len(set(names)) != len(names) or not names and self.model is None:
            raise ValidationError(f"hedge: experts {names} must be distinct policy names, at least one "
                                  "(or a learned model)")
        if "hedge" in names:
            raise ValidationError("hedge: an expert cannot be hedge itself; use e.g. experts=('optimal-last', 'robust')")
        pols = []
        for e in self.experts:
            if isinstance(e, Policy):  # an instance (e.g. shared with another policy in a replay)
                pols.append(e)
                continue
            opts = {"time_limit": self.time_limit} if (self.time_limit is not None and
                                                         policy_accepts(e, "time_limit")) else {}
            pols.append(get_policy(e, **opts))
        if self.model is not None:
            pols.append(Learned(model=self.model, pure=True, time_limit=self.time_limit))
            names.append("learned")
        self.expert_names_ = names
        self.experts_ = pols
        self.blends_ = simplex_grid(len(pols), int(self.grid))
        self.weights_ = np.full(len(self.blends_), 1.0 / len(self.blends_))
        self._oracle_idx = names.index("optimal-last") if "optimal-last" in names else None
        self._lp = None if self._oracle_idx is not None else MluLP(network, paths, time_limit=self.time_limit)
        self._pending = None  # (history length it was decided for, (E, n_paths) expert splits)
        self._warm = [None] * len(pols)
        self._since_refit = 0
        self._opt_cache: dict[int, float] = {}
        self.history_ = collections.deque(maxlen=HISTORY_KEPT)
        self._key_ = key

    # ------------------------------------------------------------------ pieces
    def _expert_splits(self, network, paths, history: TrafficSeries) -> tuple[np.ndarray, list]:
        out, routings = [], []
        for i, pol in enumerate(self.experts_):
            r = pol.decide(network, paths, history, warm=self._warm[i])
            self._warm[i] = r
            out.append(np.asarray(r.splits, dtype=float))
            routings.append(r)
        return np.stack(out), routings

    def _optimum(self, network, paths, tm: np.ndarray, routings: list | None) -> float:
        """The min MLU of ``tm``: the optimal-last expert's routing of it when there is one."""
        if routings is not None and self._oracle_idx is not None:
            mlu = routings[self._oracle_idx].info.get("mlu")
            if mlu is not None:
                return float(mlu)
        if self._lp is None:
            self._lp = MluLP(network, paths, time_limit=self.time_limit)
        return float(self._lp.solve(tm, second_stage=False)[1]["mlu"])

    def _score(self, network, paths, E: np.ndarray, tm: np.ndarray, opt: float, t: int) -> None:
        """Update the weights with each blend's realised ratio on ``tm`` (the matrix of interval t)."""
        if not opt > 0:
            return
        d = paths.demand(tm)
        flows = E * d[paths.path_od][None, :]  # (E, P)
        util = (paths.incidence @ flows.T).T / network.capacity[None, :]  # (E, L)
        blend_util = self.blends_ @ util  # (C, L), exact: loads are linear in the splits
        ratio = blend_util.max(axis=1) / opt
        loss = np.clip(ratio - 1.0, 0.0, 1.0)
        w = self.weights_ * np.exp(-float(self.eta) * (loss - loss.min()))
        w /= w.sum()
        n = len(w)
        self.weights_ = (1.0 - float(self.share)) * w + float(self.share) / n
        expert_ratio = util.max(axis=1) / opt
        mixed = float((self.weights_ @ self.blends_) @ util.max(axis=1))  # for the record only
        self.history_.append({"step": int(t), "opt_mlu": opt,
                              **{f"ratio_{n_}": float(r) for n_, r in zip(self.expert_names_, expert_ratio)},
                              "best_blend_ratio": float(ratio.min()), "mixed_bound": mixed / opt})

    def _refit(self, network, paths, history: TrafficSeries) -> None:
        """Fine-tune the learned expert on the last ``refit_window`` matrices (online learning)."""
        learned = self.experts_[-1]
        router = learned._router(network, paths)
        n = len(history)
        start = max(0, n - int(self.refit_window))
        router.partial_fit(network, paths, history.window(start, n), epochs=int(self.refit_epochs),
                           optima=self._opt_cache, offset=start)

    # ------------------------------------------------------------------ policy
    def route(self, network, paths, tm, *, warm=None) -> Routing:
        """A known matrix: every expert's routing of it, blended with the current weights."""
        self._setup(network, paths)
        rs = [p.route(network, paths, tm) for p in self.experts_]
        v = self.weights_ @ self.blends_
        s = np.tensordot(v, np.stack([r.splits for r in rs]), axes=1)
        r = Routing(paths, paths.normalise(s), self.name, {"expert_weights": dict(zip(self.expert_names_, v.tolist()))})
        r.info["mlu"] = float((r.link_loads(np.asarray(tm, float)) / network.capacity).max(initial=0.0))
        return r

    def decide(self, network, paths, history: TrafficSeries, *, warm=None) -> Routing:
        self._setup(network, paths)
        T = len(history)
        if T == 0:
            return get_policy("shortest").decide(network, paths, history)
        t0 = time.perf_counter()
        if self._pending is None or self._pending[0] != T - 1:
            self._catch_up(network, paths, history)
        E = self._advance(network, paths, history)
        if self.model is not None and self.refit_every is not None:
            self._since_refit += 1
            if self._since_refit >= int(self.refit_every):
                self._refit(network, paths, history)
                self._since_refit = 0
        v = self.weights_ @ self.blends_
        s = paths.normalise(np.tensordot(v, E, axes=1))
        return Routing(paths, s, self.name, {"solve_seconds": time.perf_counter() - t0,
                                             "expert_weights": dict(zip(self.expert_names_, v.round(4).tolist()))})

    def _catch_up(self, network, paths, history: TrafficSeries) -> None:
        """Replay the last ``warmup`` intervals of ``history`` through the experts to set the weights."""
        T = len(history)
        self.weights_ = np.full(len(self.blends_), 1.0 / len(self.blends_))
        self._pending = None
        for t in range(max(1, T - int(self.warmup)), T):
            self._advance(network, paths, history.window(0, t))
        # the last warm-up decision (for interval T-1) is scored by decide, with the optimum of matrix T-1

    def _advance(self, network, paths, h: TrafficSeries) -> np.ndarray:
        """One interval: the experts' splits for the interval after ``h``, the optimum of ``h``'s last
        matrix, and the pending decision (made for that matrix) scored on it. Returns the splits."""
        t = len(h)
        E, routings = self._expert_splits(network, paths, h)
        opt = self._optimum(network, paths, h.matrix(t - 1), routings)
        if self.refit_every is not None:  # the optima a refit reuses: the last refit_window only
            self._opt_cache[t - 1] = opt
            self._opt_cache.pop(t - 1 - int(self.refit_window), None)
        if self._pending is not None and self._pending[0] == t - 1:
            self._score(network, paths, self._pending[1], h.matrix(t - 1), opt, t - 1)
        self._pending = (t, E)
        return E

register_policy("hedge", Hedge)
