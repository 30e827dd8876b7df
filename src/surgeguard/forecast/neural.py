"""``neural``: a per-flow neural traffic-matrix predictor in PyTorch (CPU by default).

One network is shared by every flow (OD pair). For flow s and target step t its input is

* the last ``window`` values of the flow (max-normalised per flow on the training part),
* the last ``window`` values of the network total (normalised by its training maximum): what the
  other flows are doing,
* the flow's values one day earlier around t (steps ``t - day - 1 .. t - day + 1``) when the
  training part holds at least three days (``season='auto'``),
* the time of day of t (sine, cosine; UTC),
* a learned embedding of the flow (``embedding`` numbers),

and its output is the change from the last value (the forecast is ``z[t-1] + output``, clipped
at 0). ``arch='mlp'`` feeds all of it to a two-layer perceptron; ``arch='gru'`` runs a GRU over
the two windows and joins the rest before the output layer. Training minimises the L1 error
(MAE) with Adam (:func:`~surgeguard.forecast.training.train_net`); the epoch count is chosen by
early stopping on the holdout part of the fit series (patience ``patience``), and the best
epoch's weights are kept. Multi-step forecasts are
recursive (each prediction becomes the next input). torch is imported lazily, inside this module's
functions, so importing :mod:`surgeguard.forecast` does not load it.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..validation import Boolean, Interval, NoneOr, Options
from .base import TMForecaster, register_forecaster, season_steps
from .training import torch_threads, train_net

__all__ = ["NeuralForecaster"]

_SEAS_OFFSETS = np.array([-1, 0, 1])


@register_forecaster("neural")
class NeuralForecaster(TMForecaster):
    """Per-flow MLP or GRU over a short input window, shared by all flows (PyTorch).

    Parameters
    ----------
    arch : 'mlp' or 'gru'.
    window : input window in steps (default 12: one hour at 5 minutes, as in published TM
        prediction results).
    hidden : width of the hidden layers (MLP) or of the GRU state.
    embedding : size of the learned per-flow embedding (0 for none).
    season : use the values one day earlier: True, False or 'auto' (when the training part holds
        at least three days).
    epochs : maximum training epochs; early stopping on the holdout usually stops sooner.
    patience : epochs without improvement on the holdout before stopping.
    batch_size, lr, weight_decay : optimiser settings (Adam).
    samples_per_epoch : draw at most this many training samples per epoch (None: all), to bound
        the training time on large networks.
    random_state : seed (weights, shuffling).
    device : torch device, e.g. 'cpu' or 'cuda'.
    n_threads : torch CPU threads while fitting and predicting (default 1: the model is small and
        more threads mostly add overhead on shared CPUs; None leaves torch's setting).
    holdout : fraction of the fit series held out for early stopping and conformal quantiles.

    Attributes
    ----------
    net_ : the trained torch module (on ``device``).
    history_ : per epoch, the mean training L1 and holdout L1 (scaled units) and seconds.
    best_epoch_ : the epoch whose weights were kept.
    fit_seconds_ : training wall time.
    """

    _parameter_constraints = {
        **TMForecaster._parameter_constraints,
        "arch": [Options({"mlp", "gru"})],
        "window": [Interval(int, 1, None)],
        "hidden": [Interval(int, 1, None)],
        "embedding": [Interval(int, 0, None)],
        "season": [Boolean(), Options({"auto"})],
        "epochs": [Interval(int, 1, None)],
        "patience": [Interval(int, 1, None)],
        "batch_size": [Interval(int, 1, None)],
        "lr": [Interval(float, 0, None, closed="neither")],
        "weight_decay": [Interval(float, 0, None)],
        "samples_per_epoch": [NoneOr(), Interval(int, 1, None)],
        "random_state": [Interval(int, 0, None)],
        "n_threads": [NoneOr(), Interval(int, 0, None)],
    }

    def __init__(self, *, arch: str = "mlp", window: int = 12, hidden: int = 128, embedding: int = 8,
                 season="auto", epochs: int = 40, patience: int = 5, batch_size: int = 1024, lr: float = 2e-3,
                 weight_decay: float = 0.0, samples_per_epoch: int | None = 300_000, random_state: int = 0,
                 device: str = "cpu", n_threads: int | None = 1, holdout: float = 0.1):
        self.arch = arch
        self.window = window
        self.hidden = hidden
        self.embedding = embedding
        self.season = season
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.samples_per_epoch = samples_per_epoch
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads
        self.holdout = holdout

    # ------------------------------------------------------------------ hooks
    def _min_train(self, step) -> int:
        self.day_ = season_steps(step, 1.0)
        return int(self.window) + 20

    def _fit(self, Z, times, Z_valid, times_valid) -> None:
        import torch  # lazy: torch is heavy and optional

        t_start = time.perf_counter()
        n_train, S = Z.shape
        use = self.season if self.season != "auto" else n_train >= 3 * self.day_
        self.use_season_ = bool(use) and n_train > self.day_ + int(self.window) + 10
        self.context_ = max(int(self.window), self.day_ + 2 if self.use_season_ else 0)
        self.tot_scale_ = float(max((Z * self.scale_).sum(axis=1).max(), 1e-12))
        self.n_features_ = 2 * int(self.window) + (3 if self.use_season_ else 0) + 2
        with torch_threads(self.n_threads):
            torch.manual_seed(int(self.random_state))
            dev = torch.device(self.device)
            L = self.context_
            train = self._samples(Z, times, np.arange(L, n_train))
            valid = None
            if Z_valid is not None and len(Z_valid):
                Zall, tall = np.vstack([Z, Z_valid]), times.append(times_valid)
                valid = self._samples(Zall, tall, np.arange(max(L, n_train), len(Zall)))
            if len(train[-1]) == 0:
                raise ValidationError("neural: no training samples; give a longer series or a shorter window")
            net = _build_net(self.arch, self.n_features_, int(self.window), S, int(self.hidden),
                             int(self.embedding)).to(dev)
            self.best_epoch_, self.history_ = train_net(
                net, train, valid, epochs=self.epochs, patience=self.patience, batch_size=self.batch_size,
                lr=self.lr, weight_decay=self.weight_decay, samples_per_epoch=self.samples_per_epoch,
                random_state=self.random_state, device=dev)
            self.net_ = net
        self.fit_seconds_ = time.perf_counter() - t_start

    def _min_history(self) -> int:
        return self.context_

    def _context(self):
        return self.context_

    def _forecast(self, Z, times, h):
        return self._rolling(Z, times, np.array([len(Z)]), h)[0]

    def _rolling(self, Z, times, origins, h):
        import torch  # lazy: torch is heavy and optional

        L, S = self.context_, Z.shape[1]
        totZ = (Z * self.scale_).sum(axis=1) / self.tot_scale_
        out = np.empty((len(origins), h, S))
        chunk = max(1, 200_000 // max(S * (L + h), 1))
        dev = torch.device(self.device)
        with torch_threads(self.n_threads):
            for a in range(0, len(origins), chunk):
                o = np.asarray(origins[a:a + chunk])
                n = len(o)
                rows = o[:, None] - L + np.arange(L)[None, :]
                B = np.zeros((n, L + h, S), dtype=np.float32)
                TB = np.zeros((n, L + h), dtype=np.float32)
                B[:, :L] = Z[rows]
                TB[:, :L] = totZ[rows]
                t_last = times[o - 1]
                b = np.arange(n)
                for j in range(h):
                    p = L + j
                    tt = pd.DatetimeIndex(t_last + self.step_ * (j + 1))
                    X = self._features(B, TB, b, np.full(n, p), tt)  # (n, S, F)
                    ids = np.broadcast_to(np.arange(S), (n, S)).reshape(-1)
                    with torch.no_grad():
                        d = self.net_(torch.as_tensor(X.reshape(n * S, -1)).to(dev),
                                      torch.as_tensor(ids.astype(np.int64)).to(dev)).cpu().numpy()
                    nxt = np.maximum(B[:, p - 1, :] + d.reshape(n, S), 0.0)
                    B[:, p, :] = nxt
                    TB[:, p] = (nxt * self.scale_).sum(axis=1) / self.tot_scale_
                out[a:a + len(o)] = B[:, L:, :]
        return out

    # ------------------------------------------------------------------ features
    def _features(self, X, TB, b, t, target_times) -> np.ndarray:
        """Inputs (P, S, F) float32 for targets at positions ``t`` of sequences ``X[b]`` (P, S)."""
        w = int(self.window)
        ar = np.arange(-w, 0)
        lags = X[b[:, None], t[:, None] + ar]                     # (P, w, S)
        P, _, S = lags.shape
        lags = lags.transpose(0, 2, 1)                            # (P, S, w)
        last = lags[:, :, -1:]
        # the last value, then the window as differences from it (the GRU reads both windows)
        parts = [np.concatenate([last, lags[:, :, :-1] - last], axis=2)]
        tl = TB[b[:, None], t[:, None] + ar]                      # (P, w)
        tl = np.concatenate([tl[:, -1:], tl[:, :-1] - tl[:, -1:]], axis=1)
        parts.append(np.broadcast_to(tl[:, None, :], (P, S, w)))
        if self.use_season_:
            seas = X[b[:, None], t[:, None] - self.day_ + _SEAS_OFFSETS]  # (P, 3, S)
            parts.append(seas.transpose(0, 2, 1) - last)
        tod = _tod(target_times)                                 # (P, 2)
        parts.append(np.broadcast_to(tod[:, None, :], (P, S, 2)))
        return np.concatenate(parts, axis=2).astype(np.float32, copy=False)

    def _samples(self, Z, times, targets):
        """Training rows for the given target steps of one sequence: X (P*S, F), ids, delta y."""
        if len(targets) == 0:
            return (np.zeros((0, self.n_features_), np.float32), np.zeros(0, np.int64), np.zeros(0, np.float32))
        Zf = Z.astype(np.float32)
        TB = ((Z * self.scale_).sum(axis=1) / self.tot_scale_).astype(np.float32)[None]
        X = self._features(Zf[None], TB, np.zeros(len(targets), dtype=int), targets, times[targets])
        S = Z.shape[1]
        ids = np.broadcast_to(np.arange(S), (len(targets), S)).reshape(-1).astype(np.int64)
        y = (Zf[targets] - Zf[targets - 1]).reshape(-1)
        return X.reshape(len(targets) * S, -1), ids, y


def _tod(times) -> np.ndarray:
    d = pd.DatetimeIndex(times)
    frac = (d.hour * 3600 + d.minute * 60 + d.second).to_numpy(dtype=float) / 86400.0
    return np.stack([np.sin(2 * np.pi * frac), np.cos(2 * np.pi * frac)], axis=1).astype(np.float32)


def _build_net(arch: str, n_features: int, window: int, n_flows: int, hidden: int, embedding: int):
    import torch  # lazy: torch is heavy and optional
    from torch import nn  # lazy: torch is heavy and optional

    class _Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(n_flows, embedding) if embedding > 0 else None
            extra = embedding if embedding > 0 else 0
            if arch == "mlp":
                self.body = nn.Sequential(
                    nn.Linear(n_features + extra, hidden), nn.GELU(),
                    nn.Linear(hidden, hidden), nn.GELU(),
                    nn.Linear(hidden, 1))
            else:
                self.gru = nn.GRU(input_size=2, hidden_size=hidden, batch_first=True)
                self.head = nn.Sequential(nn.Linear(hidden + n_features - 2 * window + extra, hidden), nn.GELU(),
                                          nn.Linear(hidden, 1))

        def forward(self, x, ids):
            e = [self.emb(ids)] if self.emb is not None else []
            if arch == "mlp":
                return self.body(torch.cat([x] + e, dim=1)).squeeze(1)
            seq = torch.stack([x[:, :window], x[:, window:2 * window]], dim=2)
            _, hN = self.gru(seq)
            rest = x[:, 2 * window:]
            return self.head(torch.cat([hN[-1], rest] + e, dim=1)).squeeze(1)

    return _Net()
