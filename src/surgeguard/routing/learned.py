"""``learned``: a neural policy that maps the last H traffic matrices to split ratios.

The model (:class:`LearnedRouter`) is trained end to end on the quantity the network cares about,
the next interval's maximum link utilisation, as DOTE does (Perry et al., "DOTE: Rethinking
(Predictive) WAN Traffic Engineering", NSDI 2023): the MLU of a split vector is differentiable
almost everywhere,

    loads = R (splits ⊙ d_next[path_od]),   MLU = max_l loads_l / c_l,

with ``R`` the links x paths incidence of the :class:`~surgeguard.routing.PathSet`. Each sample's
MLU is divided by the optimum of the same matrix (the LP of :mod:`~surgeguard.optimise.mlu`,
solved once per training matrix), so the loss is the ratio to the oracle and every interval counts
the same whatever its volume.

Robustness term (after FIGRET, Liu et al., SIGCOMM 2024): a routing that puts most of a bursty OD
pair on one path whose bottleneck is thin is fragile. For OD ``k`` with burstiness ``sigma_k`` (the
standard deviation of its demand over the input window, bit/s), the utilisation that a one-sigma
burst adds to the bottleneck of its most-loaded path is ``sigma_k * max_{p in P(k)} split_p /
c_min(p)``; the term ``S`` is their sum over OD pairs divided by the oracle MLU, and the loss is ::

    MLU / MLU*  +  alpha * S / stopgrad(S)

(FIGRET balances its two terms the same way, so ``alpha`` weighs relative changes of S against
relative changes of the MLU ratio; ``alpha = 0`` is DOTE.)

Training details. The hard max feeds gradient only to the single most loaded link, and the optimum
of a real matrix balances several links at once (seven on Abilene), so training minimises a
smooth upper bound instead, ``smooth * logsumexp(util / (MLU* smooth))`` (``smooth=0.05``; on the
Abilene validation day it took the model from a mean ratio of 1.11 to 1.06). Adam, early stopping
on the validation ratio, the best epoch kept.

Hedging with the LP (``prior='robust'``, the default). The MLU is convex in the split vector, so
the average of two routings is never worse than the average of their MLUs, and better when they
err differently. The policy's routing is ``mix * robust + (1 - mix) * model``, where ``robust`` is
the min-mean-MLU routing of the last ``prior_window`` matrices (:mod:`~surgeguard.optimise.scenario`)
and ``mix`` is chosen on the validation part from :data:`MIX_GRID` (0 = the pure model, 1 = pure
``robust``). On the validation parts of the real series: Abilene pure model 1.052 / robust 1.047
/ mixed 1.033 mean ratio to the oracle; GÉANT 1.008 / 1.032 / 1.007.

Input features. The MLU-optimal routing does not change when every demand is multiplied by the
same factor, so the model sees the history divided by its mean total (traffic *shares*), then each
OD pair's share relative to its training mean, through ``log1p``: a lockdown that scales traffic by
+30 % gives the model the same input, by construction. The network is an MLP (two hidden layers
with ReLU and dropout); its output is one logit per candidate path and a softmax over each OD
pair's paths, so splits are >= 0 and sum to 1 per OD. The last layer's bias is a learned static
routing, initialised to equal splits.

Before H matrices of history exist, the policy falls back to ``robust`` over what history there is
(the min-MLU routing of the last matrix when there is one, ``shortest`` when there is none).

torch is imported only when a model is trained, loaded or used (:func:`_torch`); the report
section on the policy is :func:`surgeguard.report.sections.learned.learned_section`.
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..exceptions import InputError, NotFittedError, ValidationError
from ..io.output import atomic_path, make_output_dir
from ..network import Network
from ..optimise.first_order import torch_threads
from ..optimise.mlu import MluLP
from ..optimise.scenario import ScenarioLP
from ..paths import PathSet
from ..traffic import TrafficSeries
from ..validation import Boolean, Constraint, InstanceOf, Interval, NoneOr, Options, Params
from .policies import TIME_LIMIT, Policy, get_policy, policy_accepts, register_policy
from .routing import Routing

__all__ = ["LearnedRouter", "Learned", "load_learned", "ModelMismatchError"]

#: bumped when the saved file's layout changes
FORMAT_VERSION = 1

#: bit/s -> Gbit/s inside the loss
_GSCALE = 1e9

#: weights of the prior routing tried on the validation part when ``mix="auto"``
MIX_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


def _torch():
    try:
        import torch  # lazy: torch is heavy and optional
    except ImportError as exc:  # pragma: no cover - torch is a declared dependency
        raise ImportError("the learned policy needs PyTorch: pip install 'surgeguard[ai]'") from exc
    return torch


def _fingerprint(network: Network, paths: PathSet) -> dict:
    """What a model must be used with: node and link names, capacities, and the paths."""
    return {"nodes": list(network.node_names), "links": list(network.link_names),
            "capacity": [float(c) for c in network.capacity],
            "od_src": paths.od_src.tolist(), "od_dst": paths.od_dst.tolist(),
            "od_ptr": paths.od_ptr.tolist(), "link_ptr": paths.link_ptr.tolist(),
            "link_idx": paths.link_idx.tolist()}


def _pad_layout(od_ptr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_od, K) path index and mask: each OD pair's paths in one padded row (segment softmax)."""
    od_ptr = np.asarray(od_ptr, dtype=np.int64)
    counts = np.diff(od_ptr)
    K = int(counts.max()) if len(counts) else 1
    col = np.arange(K)
    mask = col[None, :] < counts[:, None]
    index = np.where(mask, od_ptr[:-1, None] + col[None, :], 0)
    return index, mask


class ModelMismatchError(ValidationError):
    """A learned model used with another network or other candidate paths than it was trained on."""


class _Widths(Constraint):
    """A non-empty sequence of positive integer layer widths, e.g. (256, 256)."""

    def accepts(self, value) -> bool:
        return (isinstance(value, (tuple, list)) and len(value) > 0
                and all(isinstance(h, (int, np.integer)) and not isinstance(h, bool) and h >= 1 for h in value))

    def describe(self) -> str:
        return "a tuple of positive layer widths such as (256, 256)"


class _SplitNet:
    """Factory for the torch module (kept out of module scope so torch loads lazily)."""

    @staticmethod
    def build(n_in: int, n_paths: int, hidden: tuple[int, ...], dropout: float, pad_index: np.ndarray,
              pad_mask: np.ndarray):
        torch = _torch()
        nn = torch.nn

        class SplitNet(nn.Module):
            def __init__(self):
                super().__init__()
                layers, width = [], n_in
                for h in hidden:
                    layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
                    width = h
                self.body = nn.Sequential(*layers)
                self.head = nn.Linear(width, n_paths)
                nn.init.zeros_(self.head.weight)  # starts as equal splits (static bias)
                nn.init.zeros_(self.head.bias)
                self.register_buffer("pad_index", torch.as_tensor(pad_index, dtype=torch.long))
                self.register_buffer("pad_mask", torch.as_tensor(pad_mask, dtype=torch.bool))

            def forward(self, x):
                logits = self.head(self.body(x))  # (B, n_paths)
                padded = logits[:, self.pad_index]  # (B, n_od, K)
                padded = padded.masked_fill(~self.pad_mask, float("-inf"))
                return torch.softmax(padded, dim=-1)[:, self.pad_mask]  # (B, n_paths), PathSet order

        return SplitNet()


class LearnedRouter(Params):
    """A split-ratio model for one (network, paths), trained to minimise the next MLU.

    Parameters
    ----------
    history : H, the number of past matrices the model reads.
    hidden : widths of the hidden layers.
    alpha : weight of the burst-robustness term (0 = DOTE's loss; see module notes).
    epochs : maximum training epochs.
    batch_size, lr, weight_decay, dropout : optimiser (Adam) and regularisation settings.
    patience : stop after this many epochs without a better validation ratio (with validation).
    max_seconds : stop training after this many seconds (the best state so far is kept).
    smooth : temperature of the log-sum-exp bound of the MLU ratio minimised in training (0: the
        hard max, as DOTE).
    prior : 'robust' (mix the model's routing with the scenario LP's, see module notes) or None.
    mix : weight of the prior routing, or 'auto' (chosen on the validation part; 0.5 without one).
    prior_window : matrices the prior LP looks back over.
    threads : torch threads during training and inference (1: see :func:`~surgeguard.optimise.first_order.torch_threads`; None or 0:
        torch's default).
    random_state : seed for torch and the sample order.

    Attributes
    ----------
    module_ : the trained torch module (after :meth:`fit` or :meth:`load`).
    fingerprint_ : the network and paths the model belongs to.
    od_mean_ : (n_od,) training mean of each OD pair's share of traffic, the input scale.
    log_ : per-epoch training loss and validation ratio (mean, p99); ``best_epoch_``.
    mix_ : the prior's weight in use; ``mix_log_`` the validation ratio of each candidate.
    trained_on_ : first and last time of the matrices used as training or validation targets.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from surgeguard import TrafficSeries
    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.routing import k_shortest_paths
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> v = np.zeros((40, 4, 4)); v[:, 0, 3] = np.linspace(5e9, 15e9, 40)
    >>> ts = TrafficSeries(v, net.node_names)
    >>> m = LearnedRouter(history=2, epochs=5, hidden=(16,)).fit(net, ps, ts, progress=False)
    >>> s = m.predict_splits(ts.total[-12:], network=net, paths=ps); k = ps.od_lookup[0, 3]
    >>> bool(abs(s[ps.od_ptr[k]:ps.od_ptr[k + 1]].sum() - 1) < 1e-6)
    True
    """

    _parameter_constraints = {
        "history": [Interval(int, 1, None)], "hidden": [_Widths()], "alpha": [Interval(float, 0, None)],
        "epochs": [Interval(int, 1, None)], "batch_size": [Interval(int, 1, None)],
        "lr": [Interval(float, 0, None, closed="neither")], "weight_decay": [Interval(float, 0, None)],
        "dropout": [Interval(float, 0, 1, closed="left")], "patience": [Interval(int, 1, None)],
        "max_seconds": [NoneOr(), Interval(float, 0, None)], "smooth": [Interval(float, 0, None)],
        "prior": [NoneOr(), Options({"robust"})], "mix": [Options({"auto"}), Interval(float, 0, 1)],
        "prior_window": [Interval(int, 1, None)], "threads": [NoneOr(), Interval(int, 0, None)],
        "random_state": [Interval(int, 0, None)]}

    def __init__(self, history: int = 12, hidden: tuple[int, ...] = (256, 256), alpha: float = 0.1,
                 epochs: int = 60, batch_size: int = 32, lr: float = 1e-3, weight_decay: float = 1e-4,
                 dropout: float = 0.1, patience: int = 10, max_seconds: float | None = None,
                 smooth: float = 0.05, prior: str | None = "robust", mix: float | str = "auto",
                 prior_window: int = 12,
                 threads: int | None = 1, random_state: int = 0):
        self.history = history
        self.hidden = hidden
        self.alpha = alpha
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.patience = patience
        self.max_seconds = max_seconds
        self.smooth = smooth
        self.prior = prior
        self.mix = mix
        self.prior_window = prior_window
        self.threads = threads
        self.random_state = random_state

    # ------------------------------------------------------------------ checks
    def _check_fitted(self):
        if getattr(self, "module_", None) is None:
            raise NotFittedError("this LearnedRouter is not trained yet; call fit(network, paths, series) "
                                 "or LearnedRouter.load(path)")

    def check_compatible(self, network: Network, paths: PathSet) -> None:
        """Raise :class:`ModelMismatchError` (a one-line :class:`~surgeguard.ValidationError`) unless
        the model was trained for this network and these paths."""
        self._check_fitted()
        fp = _fingerprint(network, paths)
        mine = self.fingerprint_
        for key, what in (("nodes", "node names"), ("links", "links"), ("capacity", "link capacities"),
                          ("od_ptr", "paths"), ("link_idx", "paths"), ("od_src", "OD pairs"),
                          ("od_dst", "OD pairs"), ("link_ptr", "paths")):
            a, b = mine[key], fp[key]
            same = (np.allclose(a, b, rtol=1e-9) if key == "capacity" and len(a) == len(b) else a == b)
            if not same:
                raise ModelMismatchError(
                    f"learned model was trained on other {what} ({len(mine['nodes'])} nodes, "
                    f"{len(mine['links'])} links, {mine['od_ptr'][-1]} paths) than this network/paths "
                    f"({len(fp['nodes'])} nodes, {len(fp['links'])} links, {fp['od_ptr'][-1]} paths); "
                    "use the network and candidate paths (the same paths file or k) the model was trained "
                    "with, or retrain it")

    def _prior_splits(self, network: Network, paths: PathSet, tms: np.ndarray) -> np.ndarray:
        """The prior routing (``robust``: min mean MLU over ``tms``), (n_paths,); its LP runs under
        ``prior_time_limit_`` seconds when set (by the ``learned`` policy's ``time_limit``)."""
        limit = getattr(self, "prior_time_limit_", None)
        key = (id(network), id(paths), limit)
        if getattr(self, "_prior_key_", None) != key:
            self._prior_lp_ = ScenarioLP(network, paths, time_limit=limit)
            self._prior_key_ = key
        if len(tms) == 0 or not np.asarray(tms).any():
            return Routing.first_path(paths).splits
        return self._prior_lp_.solve(tms, second_stage=False)[0]

    # ------------------------------------------------------------------ features
    def _features(self, D: np.ndarray):
        """(B, H, n_od) bit/s -> (B, H * n_od) float32 scale-free features."""
        tot = D.sum(axis=2, keepdims=True).mean(axis=1, keepdims=True)  # (B, 1, 1) mean total
        share = D / np.where(tot > 0, tot, 1.0)
        x = np.log1p(share / self.od_mean_[None, None, :])
        return x.reshape(len(D), -1).astype(np.float32)

    # ------------------------------------------------------------------ training
    def fit(self, network: Network, paths: PathSet, series: TrafficSeries, *, val_start: int | None = None,
            val_stop: int | None = None, progress: bool | None = None) -> "LearnedRouter":
        """Train on ``series``: steps ``history .. val_start-1`` are training targets, steps
        ``val_start .. val_stop-1`` validation targets (early stopping and model selection); steps
        from ``val_stop`` on are never read.

        Parameters
        ----------
        network, paths : the network and candidate paths the model routes over.
        series : traffic (bit/s) in any node order (it is aligned to the network).
        val_start, val_stop : the validation range; ``val_start=None``: no validation, train for
            ``epochs`` on every step (``val_stop`` then bounds the steps read).
        progress : show a progress bar (default: when stderr is a terminal).

        Returns
        -------
        self
        """
        with torch_threads(self.threads):
            return self._fit(network, paths, series, val_start, val_stop, progress)

    def _fit(self, network, paths, series, val_start, val_stop, progress):
        torch = _torch()
        self.validate()
        paths.check_network(network)
        series = series.reorder(network.node_names)
        H = int(self.history)
        n = len(series)
        stop = n if val_stop is None else int(val_stop)
        vs = stop if val_start is None else int(val_start)
        if not H < vs <= stop <= n:
            raise ValidationError(
                f"learned: need history ({H}) < val_start ({vs}) <= val_stop ({stop}) <= series length ({n}); "
                f"use a longer series (at least {H + 2} steps) or a shorter history")
        t_start = time.perf_counter()
        rng = np.random.default_rng(self.random_state)
        torch.manual_seed(int(self.random_state))
        ps = paths
        D = np.stack([ps.demand(series.total[t], what=f"traffic step {t}") for t in range(stop)])  # (T, n_od)
        # oracle MLU of every target (the loss is the ratio to it)
        lp = MluLP(network, ps)
        opt = np.zeros(stop)
        bar = tqdm(range(H, stop), desc="optima", unit="matrix", leave=False,
                   disable=(progress is False) if progress is not None else None)
        for t in bar:
            opt[t] = lp.solve(series.total[t], second_stage=False)[1]["mlu"] if D[t].any() else 0.0
        bar.close()
        tot = D[:vs].sum(axis=1, keepdims=True)
        share = D[:vs] / np.where(tot > 0, tot, 1.0)
        self.od_mean_ = np.maximum(share.mean(axis=0), 1e-6)
        pad_index, pad_mask = _pad_layout(ps.od_ptr)
        self.fingerprint_ = _fingerprint(network, ps)
        self.n_in_ = H * ps.n_od
        self.module_ = _SplitNet.build(self.n_in_, ps.n_paths, tuple(int(h) for h in self.hidden),
                                       float(self.dropout), pad_index, pad_mask)
        T_ = self._loss_tensors(network, ps)
        idx_all = np.arange(H, stop)
        keep = opt[idx_all] > 0
        idx_train = idx_all[(idx_all < vs) & keep]
        idx_val = idx_all[(idx_all >= vs) & keep]
        if len(idx_train) == 0:
            raise ValidationError("learned: no training step with traffic; give a series with non-zero demand")
        win = np.lib.stride_tricks.sliding_window_view(D, H, axis=0)  # (T-H+1, n_od, H): win[t-H] = D[t-H:t]

        def batch(idx):
            return self._batch(D, win, opt, idx)

        def mlu_of(splits, y):
            return self._mlu_of(T_, splits, y)

        def loss_fn(splits, sig, y, o):
            return self._loss(T_, splits, sig, y, o)

        Xv = batch(idx_val) if len(idx_val) else None
        opt_ = torch.optim.Adam(self.module_.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
        best, best_state, best_epoch, bad = np.inf, None, 0, 0
        self.log_ = []
        bar = _progress(int(self.epochs), progress)
        try:
            for epoch in range(int(self.epochs)):
                self.module_.train()
                order = rng.permutation(idx_train)
                losses = []
                for i in range(0, len(order), int(self.batch_size)):
                    x, sig, y, o = batch(order[i:i + int(self.batch_size)])
                    loss, _ = loss_fn(self.module_(x), sig, y, o)
                    opt_.zero_grad()
                    loss.backward()
                    opt_.step()
                    losses.append(float(loss.detach()))
                rec = {"epoch": epoch + 1, "train_loss": float(np.mean(losses))}
                if Xv is not None:
                    self.module_.eval()
                    with torch.no_grad():
                        r = (mlu_of(self.module_(Xv[0]), Xv[2]) / Xv[3]).numpy()
                    rec.update(val_ratio_mean=float(r.mean()), val_ratio_p99=float(np.percentile(r, 99)))
                    score = rec["val_ratio_mean"]
                    if score < best - 1e-5:
                        best, best_epoch, bad = score, epoch + 1, 0
                        best_state = copy.deepcopy(self.module_.state_dict())
                    else:
                        bad += 1
                self.log_.append(rec)
                bar.update(1)
                bar.set_postfix({k: round(v, 4) for k, v in rec.items() if k != "epoch"})
                if Xv is not None and bad >= int(self.patience):
                    break
                if self.max_seconds is not None and time.perf_counter() - t_start > float(self.max_seconds):
                    break
        finally:
            bar.close()
        if best_state is not None:
            self.module_.load_state_dict(best_state)
        self.best_epoch_ = best_epoch if best_state is not None else len(self.log_)
        self.module_.eval()
        self._last_out_ = None  # new weights: forget the last prediction (predict_splits)
        self.mix_, self.mix_log_ = self._choose_mix(network, ps, series, D, opt, idx_val, T_["Rt"], T_["cap"])
        self.trained_on_ = [series.times[H].isoformat(), series.times[stop - 1].isoformat()]
        self.train_seconds_ = time.perf_counter() - t_start
        return self

    def _choose_mix(self, network, ps, series, D, opt, idx_val, Rt, cap):
        """The weight of the prior routing: ``mix`` if it is a number, else the value of
        :data:`MIX_GRID` with the lowest mean validation ratio (0.5 without validation)."""
        torch = _torch()
        if not self.prior:
            return 0.0, []
        if self.mix != "auto":
            return float(self.mix), []
        if len(idx_val) == 0:
            return 0.5, []
        H, W = int(self.history), int(self.prior_window)
        win = np.stack([D[t - H:t] for t in idx_val])  # (V, H, n_od)
        with torch.no_grad():
            learned = self.module_(torch.as_tensor(self._features(win))).double().numpy()
        prior = np.stack([self._prior_splits(network, ps, series.total[max(0, t - W):t]) for t in idx_val])
        Rd = Rt.double().numpy()
        capd = cap.double().numpy()
        y = D[idx_val] / 1e9
        log = []
        for b in MIX_GRID:
            sp = b * prior + (1 - b) * learned
            r = ((sp * y[:, ps.path_od]) @ Rd / capd).max(axis=1) / opt[idx_val]
            log.append({"mix": b, "val_ratio_mean": float(r.mean()), "val_ratio_p99": float(np.percentile(r, 99))})
        best = min(log, key=lambda rec: rec["val_ratio_mean"])
        return float(best["mix"]), log


    # ------------------------------------------------------------------ the differentiable loss
    def _loss_tensors(self, network: Network, ps: PathSet) -> dict:
        """The tensors of the differentiable MLU for (network, paths), in Gbit/s."""
        torch = _torch()
        pad_index, pad_mask = _pad_layout(ps.od_ptr)
        cmin = ps.path_min(network.capacity) / _GSCALE  # bottleneck of each path
        return {"Rt": torch.as_tensor(ps.incidence.toarray().T, dtype=torch.float32),  # (n_paths, L)
                "cap": torch.as_tensor(network.capacity / _GSCALE, dtype=torch.float32),
                "path_od": torch.as_tensor(ps.path_od, dtype=torch.long),
                "inv_cmin": torch.as_tensor(1.0 / cmin, dtype=torch.float32),
                "pidx": torch.as_tensor(pad_index), "pmask": torch.as_tensor(pad_mask)}

    def _batch(self, D, win, opt, idx):
        """Inputs (features, burstiness), targets (Gbit/s) and optima of the target steps ``idx``."""
        torch = _torch()
        H = int(self.history)
        Dh = np.transpose(win[idx - H], (0, 2, 1))  # (B, H, n_od)
        x = torch.as_tensor(self._features(Dh))
        sig = torch.as_tensor(Dh.std(axis=1) / _GSCALE, dtype=torch.float32)
        y = torch.as_tensor(D[idx] / _GSCALE, dtype=torch.float32)
        o = torch.as_tensor(opt[idx], dtype=torch.float32)
        return x, sig, y, o

    @staticmethod
    def _mlu_of(T_, splits, y):
        flows = splits * y[:, T_["path_od"]]
        return ((flows @ T_["Rt"]) / T_["cap"]).max(dim=1).values

    def _loss(self, T_, splits, sig, y, o):
        """The training loss (module notes) and the MLU ratio of each sample."""
        torch = _torch()
        tau = float(self.smooth)
        util = ((splits * y[:, T_["path_od"]]) @ T_["Rt"]) / T_["cap"] / o[:, None]
        ratio = util.max(dim=1).values
        if tau > 0:  # log-sum-exp: a smooth upper bound of the max that feeds every near-max link
            loss = (tau * torch.logsumexp(util / tau, dim=1)).mean()
        else:
            loss = ratio.mean()
        if self.alpha > 0:
            pidx, pmask, inv_cmin = T_["pidx"], T_["pmask"], T_["inv_cmin"]
            sp = splits[:, pidx].masked_fill(~pmask, 0.0) * inv_cmin[pidx].masked_fill(~pmask, 0.0)
            sens = (sig * sp.max(dim=-1).values).sum(dim=1) / o  # (B,)
            s = sens.mean()
            loss = loss + float(self.alpha) * s / s.detach().clamp_min(1e-12)
        return loss, ratio

    def partial_fit(self, network: Network, paths: PathSet, series: TrafficSeries, *, epochs: int = 3,
                    lr: float | None = None, optima: dict | None = None, offset: int = 0) -> "LearnedRouter":
        """Keep training a fitted model on ``series`` (online learning, e.g. the last day seen).

        Every step from ``history`` on is a target; no validation, no early stopping: a few epochs
        at ``lr`` (default a third of the training rate) from the current weights. ``optima``
        maps ``offset + t`` to the min MLU of step ``t`` when the caller already knows it (the
        ``hedge`` policy does); the others are solved here. The input scale (``od_mean_``) and the
        robust mix stay as fitted. Returns self.
        """
        with torch_threads(self.threads):
            torch = _torch()
            self.check_compatible(network, paths)
            series = series.reorder(network.node_names)
            H, n = int(self.history), len(series)
            if n <= H:
                return self
            D = np.stack([paths.demand(series.total[t], what=f"traffic step {t}") for t in range(n)])
            opt = np.zeros(n)
            lp = None
            for t in range(H, n):
                known = (optima or {}).get(offset + t)
                if known is None:
                    lp = lp or MluLP(network, paths)
                    known = lp.solve(series.total[t], second_stage=False)[1]["mlu"] if D[t].any() else 0.0
                opt[t] = known
            idx = np.arange(H, n)[opt[H:] > 0]
            if len(idx) == 0:
                return self
            T_ = getattr(self, "_tensors_", None)
            if T_ is None or getattr(self, "_tensors_key_", None) != (id(network), id(paths)):
                T_ = self._tensors_ = self._loss_tensors(network, paths)
                self._tensors_key_ = (id(network), id(paths))
            win = np.lib.stride_tricks.sliding_window_view(D, H, axis=0)
            rng = np.random.default_rng(self.random_state + len(getattr(self, "online_log_", [])) + 1)
            step = float(lr) if lr is not None else float(self.lr) / 3.0
            adam = torch.optim.Adam(self.module_.parameters(), lr=step, weight_decay=float(self.weight_decay))
            self.module_.train()
            losses = []
            for _ in range(int(epochs)):
                order = rng.permutation(idx)
                for i0 in range(0, len(order), int(self.batch_size)):
                    x, sig, y, o = self._batch(D, win, opt, order[i0:i0 + int(self.batch_size)])
                    loss, _ = self._loss(T_, self.module_(x), sig, y, o)
                    adam.zero_grad()
                    loss.backward()
                    adam.step()
                    losses.append(float(loss.detach()))
            self.module_.eval()
            self._last_out_ = None  # new weights: forget the last prediction (predict_splits)
            self.online_log_ = getattr(self, "online_log_", []) + [
                {"steps": int(len(idx)), "epochs": int(epochs), "loss": float(np.mean(losses)),
                 "until": series.times[-1].isoformat()}]
        return self

    # ------------------------------------------------------------------ inference
    def predict_splits(self, history: np.ndarray | TrafficSeries, *, network: Network | None = None,
                       paths: PathSet | None = None, pure: bool = False) -> np.ndarray:
        """(n_paths,) split ratios for the interval after the last ``history`` matrices.

        Parameters
        ----------
        history : at least the last H matrices, (T, N, N) bit/s in the network's node order, or a
            TrafficSeries. With ``prior='robust'`` the last ``prior_window`` matrices (as many as
            there are) also feed the prior LP.
        network, paths : required with a prior (the LP needs them); checked against the model.
        pure : the model's own splits, without the prior mixed in.
        """
        torch = _torch()
        self._check_fitted()
        H = int(self.history)
        if isinstance(history, TrafficSeries):
            history = history.reorder(self.fingerprint_["nodes"]).total
        h = np.asarray(history, dtype=float)
        n = len(self.fingerprint_["nodes"])
        if h.ndim != 3 or h.shape[1:] != (n, n) or h.shape[0] < H:
            raise ValidationError(f"learned: needs the last {H} matrices as ({H}, {n}, {n}) bit/s; got shape {h.shape}")
        src = np.asarray(self.fingerprint_["od_src"])
        dst = np.asarray(self.fingerprint_["od_dst"])
        Dh = np.ascontiguousarray(h[-H:, src, dst][None])  # (1, H, n_od)
        # the model's output for the same last H matrices is remembered (once): a replay asks twice
        # per interval when ``learned`` and a ``hedge`` over the same model run side by side
        last = getattr(self, "_last_out_", None)
        if last is not None and last[0] == Dh.tobytes():
            s = last[1].copy()
        else:
            with torch.no_grad(), torch_threads(self.threads):
                s = self.module_(torch.as_tensor(self._features(Dh)))[0].double().numpy()
            self._last_out_ = (Dh.tobytes(), s.copy())
        if self.prior and self.mix_ > 0 and not pure:
            if network is None or paths is None:
                raise ValidationError("learned: this model mixes in a robust-LP prior; pass network= and paths=")
            self.check_compatible(network, paths)
            pr = self._prior_splits(network, paths, h[-int(self.prior_window):])
            s = self.mix_ * pr + (1.0 - self.mix_) * s
        return self._layout().normalise(np.clip(s, 0.0, None))

    def _layout(self) -> PathSet:
        """The candidate paths' layout (ODs and links of each path) read from the fingerprint."""
        if getattr(self, "layout_", None) is None:
            fp = self.fingerprint_
            n_paths = len(fp["link_ptr"]) - 1
            self.layout_ = PathSet(tuple(fp["nodes"]), tuple(fp["links"]), np.asarray(fp["od_src"]),
                                   np.asarray(fp["od_dst"]), np.asarray(fp["od_ptr"]), np.asarray(fp["link_ptr"]),
                                   np.asarray(fp["link_idx"]), np.zeros(n_paths), np.zeros(n_paths), "learned model")
        return self.layout_

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> Path:
        """Write the model (parameters, fitted state and weights) with ``torch.save``."""
        torch = _torch()
        self._check_fitted()
        p = Path(path)
        make_output_dir(p.parent)
        params = self.get_params()
        params["hidden"] = [int(h) for h in params["hidden"]]
        blob = {"format": "surgeguard-learned", "version": FORMAT_VERSION, "params": params,
                "fingerprint": self.fingerprint_, "od_mean": torch.as_tensor(self.od_mean_),
                "state_dict": self.module_.state_dict(), "log": self.log_, "best_epoch": self.best_epoch_,
                "trained_on": self.trained_on_, "train_seconds": self.train_seconds_,
                "mix": self.mix_, "mix_log": self.mix_log_, "online_log": getattr(self, "online_log_", [])}
        with atomic_path(p) as tmp:
            torch.save(blob, tmp)
        return p

    @classmethod
    def load(cls, path) -> "LearnedRouter":
        """Read a model written by :meth:`save` (``weights_only`` loading: no code is executed)."""
        torch = _torch()
        p = Path(path)
        if not p.is_file():
            raise InputError(f"learned model {str(p)!r} not found; give the path of a model saved by "
                             "LearnedRouter.save or `surgeguard train`")
        try:
            blob = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise InputError(f"learned model {str(p)!r} is not a readable surgeguard model ({type(exc).__name__}); "
                             "retrain it with `surgeguard train`") from None
        if not isinstance(blob, dict) or blob.get("format") != "surgeguard-learned":
            raise InputError(f"{str(p)!r} is not a surgeguard learned model; train one with `surgeguard train`")
        if blob.get("version") != FORMAT_VERSION:
            raise InputError(f"learned model {str(p)!r} has format version {blob.get('version')}, this surgeguard "
                             f"reads {FORMAT_VERSION}; retrain it")
        try:
            m = cls._from_blob(blob)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as exc:
            raise InputError(f"learned model {str(p)!r} is damaged or incomplete ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:120] if str(exc) else 'no detail'}); retrain it with "
                             "`surgeguard train`") from None
        bad = [k for k, v in m.module_.state_dict().items() if not bool(torch.isfinite(v).all())]
        if bad or not np.isfinite(m.od_mean_).all() or not np.isfinite(m.mix_):
            raise InputError(f"learned model {str(p)!r} holds non-finite values ({', '.join(bad[:3]) or 'scales'}); "
                             "retrain it with `surgeguard train`")
        return m

    @classmethod
    def _from_blob(cls, blob: dict) -> "LearnedRouter":
        params = dict(blob["params"])
        params["hidden"] = tuple(params["hidden"])
        m = cls(**params)
        fp = blob["fingerprint"]
        m.fingerprint_ = fp
        m.od_mean_ = np.asarray(blob["od_mean"].numpy(), dtype=float)
        n_od = len(fp["od_src"])
        pad_index, pad_mask = _pad_layout(np.asarray(fp["od_ptr"]))
        m.n_in_ = int(m.history) * n_od
        m.module_ = _SplitNet.build(m.n_in_, fp["od_ptr"][-1], m.hidden, float(m.dropout), pad_index, pad_mask)
        m.module_.load_state_dict(blob["state_dict"])
        m.module_.eval()
        m.log_, m.best_epoch_ = blob["log"], blob["best_epoch"]
        m.trained_on_, m.train_seconds_ = blob["trained_on"], blob["train_seconds"]
        m.mix_, m.mix_log_ = float(blob["mix"]), blob["mix_log"]
        m.online_log_ = list(blob.get("online_log", []))
        return m


def load_learned(path) -> LearnedRouter:
    """Read a model file written by ``surgeguard train`` or :meth:`LearnedRouter.save`."""
    return LearnedRouter.load(path)


def _progress(total: int, progress: bool | None):
    return tqdm(total=total, desc="train", unit="epoch", leave=False,
                disable=(progress is False) if progress is not None else None)


class Learned(Policy):
    """``learned``: split ratios from a :class:`LearnedRouter` reading the last H matrices.

    Parameters
    ----------
    model : a trained :class:`LearnedRouter`, or the path of a model file (written by
        :meth:`LearnedRouter.save` or ``surgeguard train``). Required.
    pure : use the model's own splits without its robust-LP mix (the ``hedge`` policy blends
        ``robust`` itself).
    fallback : the policy used while fewer than H matrices of history exist (default ``robust``:
        the mean-MLU routing of the matrices seen so far; with none, ``shortest``).
    time_limit : seconds per solve (None: no limit), given to the fallback policy (when it takes
        one) and to the model's robust-LP prior; either stopped by it without an optimum raises
        :class:`~surgeguard.SolverError`.

    Notes
    -----
    ``route(tm)`` for one known matrix (``surgeguard solve``) feeds the model H copies of ``tm``:
    the routing it would choose after H intervals of that same matrix; its ``info["mlu"]`` is that
    routing's MLU on ``tm``.
    """

    name = "learned"
    #: the CLI asks for a model up front
    requires_model = True
    _parameter_constraints = {"model": [NoneOr(), InstanceOf(LearnedRouter, str, os.PathLike)],
                              "fallback": [InstanceOf(str)], "time_limit": TIME_LIMIT, "pure": [Boolean()]}

    def __init__(self, model: "LearnedRouter | str | Path | None" = None, fallback: str = "robust",
                 time_limit: float | None = None, pure: bool = False):
        self.model = model
        self.pure = pure
        self.fallback = fallback
        self.time_limit = time_limit

    def _router(self, network, paths) -> LearnedRouter:
        if getattr(self, "router_", None) is None:
            self.validate()
            if self.model is None:
                raise ValidationError("the learned policy needs a trained model: pass model= a trained "
                                      "LearnedRouter or the path of a saved model")
            self.router_ = self.model if isinstance(self.model, LearnedRouter) else LearnedRouter.load(self.model)
        self.router_.prior_time_limit_ = self.time_limit
        key = (id(network), id(paths))
        if getattr(self, "_checked_", None) != key:
            self.router_.check_compatible(network, paths)
            self._checked_ = key
        return self.router_

    def route(self, network, paths, tm, *, warm=None) -> Routing:
        m = self._router(network, paths)
        tm = np.asarray(tm, dtype=float)
        t0 = time.perf_counter()
        s = m.predict_splits(np.repeat(tm[None], max(int(m.history), int(m.prior_window) if m.prior else 1), axis=0),
                             network=network, paths=paths, pure=bool(self.pure))
        r = Routing(paths, s, self.name, {"solve_seconds": time.perf_counter() - t0})
        r.info["mlu"] = float((r.link_loads(tm) / network.capacity).max(initial=0.0))
        return r

    def decide(self, network, paths, history: TrafficSeries, *, warm=None) -> Routing:
        m = self._router(network, paths)
        if len(history) < int(m.history):
            if getattr(self, "fallback_", None) is None:
                opts = {"time_limit": self.time_limit} if (self.time_limit is not None and
                                                           policy_accepts(self.fallback, "time_limit")) else {}
                self.fallback_ = get_policy(self.fallback, **opts)
            r = self.fallback_.decide(network, paths, history, warm=warm)
            return Routing(paths, r.splits, self.name, {**r.info, "fallback": self.fallback})
        t0 = time.perf_counter()
        need = max(int(m.history), int(m.prior_window) if (m.prior and not self.pure) else 1)
        s = m.predict_splits(history.total[-need:], network=network, paths=paths, pure=bool(self.pure))
        return Routing(paths, s, self.name, {"solve_seconds": time.perf_counter() - t0})


register_policy("learned", Learned)
