"""``lstm`` and ``gru``: the published per-flow recurrent baseline of traffic-matrix prediction.

What the literature reports (e.g. per-flow LSTM/GRU TM predictors, Computer Communications 2022)
and what is trained here on the same data as every other surgeguard forecaster:

* each flow (OD pair) is divided by its maximum over the training part (per-flow max
  normalisation; the base class does this);
* the input is the flow's last ``window`` = 12 normalised values, nothing else (no calendar, no
  other flows), read by one recurrent layer (LSTM or GRU) whose last state feeds a linear layer
  that outputs the next value;
* **one sequence model over all flows' windows** (weights shared by every flow, trained on the
  windows of all flows together), not one model per flow: with 7 days of data a model per flow
  has ~2,000 windows to learn from, the shared one ~260,000 on Abilene;
* loss: mean squared error, as published; Adam; early stopping on the holdout part (the best
  epoch's weights are kept);
* multi-step forecasts are recursive (each prediction becomes the next input).

torch is imported lazily, inside this module's functions.
"""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np

from ..exceptions import ValidationError
from ..validation import Interval, NoneOr
from .base import TMForecaster, register_forecaster
from .training import predict_batches, torch_threads, train_net

__all__ = ["LSTMForecaster", "GRUForecaster"]


class _RecurrentBaseline(TMForecaster):
    """Shared body of :class:`LSTMForecaster` and :class:`GRUForecaster` (``cell`` differs)."""

    cell: ClassVar[str] = "lstm"
    _parameter_constraints = {
        **TMForecaster._parameter_constraints,
        "window": [Interval(int, 1, None)],
        "hidden": [Interval(int, 1, None)],
        "epochs": [Interval(int, 1, None)],
        "patience": [Interval(int, 1, None)],
        "batch_size": [Interval(int, 1, None)],
        "lr": [Interval(float, 0, None, closed="neither")],
        "samples_per_epoch": [NoneOr(), Interval(int, 1, None)],
        "random_state": [Interval(int, 0, None)],
        "n_threads": [NoneOr(), Interval(int, 0, None)],
    }

    def __init__(self, *, window: int = 12, hidden: int = 64, epochs: int = 40, patience: int = 5,
                 batch_size: int = 512, lr: float = 1e-3, samples_per_epoch: int | None = 200_000,
                 random_state: int = 0, device: str = "cpu", n_threads: int | None = 1, holdout: float = 0.1):
        self.window = window
        self.hidden = hidden
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.lr = lr
        self.samples_per_epoch = samples_per_epoch
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads
        self.holdout = holdout

    def _min_train(self, step) -> int:
        return int(self.window) + 20

    def _min_history(self) -> int:
        return int(self.window)

    def _context(self):
        return int(self.window)

    def _fit(self, Z, times, Z_valid, times_valid) -> None:
        import torch  # lazy: torch is heavy and optional

        t_start = time.perf_counter()
        W = int(self.window)
        train = _windows(Z, np.arange(W, len(Z)), W)
        if len(train[-1]) == 0:
            raise ValidationError(f"{self.name}: no training windows; give a longer series or a shorter window")
        valid = None
        if Z_valid is not None and len(Z_valid):
            Zall = np.vstack([Z, Z_valid])
            valid = _windows(Zall, np.arange(max(W, len(Z)), len(Zall)), W)
        dev = torch.device(self.device)
        with torch_threads(self.n_threads):
            torch.manual_seed(int(self.random_state))
            self.net_ = _build_rnn(self.cell, int(self.hidden)).to(dev)
            self.best_epoch_, self.history_ = train_net(
                self.net_, train, valid, epochs=self.epochs, patience=self.patience, batch_size=self.batch_size,
                lr=self.lr, weight_decay=0.0, samples_per_epoch=self.samples_per_epoch,
                random_state=self.random_state, device=dev, loss="mse")
        self.fit_seconds_ = time.perf_counter() - t_start

    def _forecast(self, Z, times, h):
        return self._rolling(Z, times, np.array([len(Z)]), h)[0]

    def _rolling(self, Z, times, origins, h):
        import torch  # lazy: torch is heavy and optional

        W, S = int(self.window), Z.shape[1]
        origins = np.asarray(origins, dtype=int)
        B = np.zeros((len(origins), W + h, S), dtype=np.float32)
        B[:, :W] = Z[origins[:, None] - W + np.arange(W)[None, :]]
        dev = torch.device(self.device)
        with torch_threads(self.n_threads):
            for j in range(h):
                x = B[:, j:j + W].transpose(0, 2, 1).reshape(-1, W, 1)      # (n * S, W, 1)
                B[:, W + j] = np.maximum(predict_batches(self.net_, (x,), dev).reshape(len(origins), S), 0.0)
        return B[:, W:].astype(float)


def _windows(Z: np.ndarray, targets: np.ndarray, W: int):
    """Every flow's window before each target step (P * S, W, 1) and the target (P * S,)."""
    Zf = Z.astype(np.float32)
    x = Zf[targets[:, None] - W + np.arange(W)[None, :]].transpose(0, 2, 1).reshape(-1, W, 1)
    return np.ascontiguousarray(x), Zf[targets].reshape(-1)


def _build_rnn(cell: str, hidden: int):
    from torch import nn  # lazy: torch is heavy and optional

    class _RNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(input_size=1, hidden_size=hidden, batch_first=True)
            self.out = nn.Linear(hidden, 1)

        def forward(self, x):
            seq, _ = self.rnn(x)
            return self.out(seq[:, -1]).squeeze(1)

    return _RNN()


@register_forecaster("lstm")
class LSTMForecaster(_RecurrentBaseline):
    """The published per-flow LSTM baseline (12-step window, per-flow max-normalised, one
    LSTM shared by all flows, MSE loss, recursive multi-step); see :mod:`surgeguard.forecast.rnn`.

    Parameters
    ----------
    window : input steps (12, as published); hidden : LSTM state size.
    epochs, patience, batch_size, lr, samples_per_epoch : training (Adam, early stopping on the
        holdout part).
    random_state, device, n_threads, holdout : as for ``neural``.

    Attributes
    ----------
    net_ : the trained module; best_epoch_, history_, fit_seconds_.
    """

    cell = "lstm"


@register_forecaster("gru")
class GRUForecaster(_RecurrentBaseline):
    """The published per-flow GRU baseline: :class:`LSTMForecaster` with a GRU cell.

    Parameters
    ----------
    window, hidden, epochs, patience, batch_size, lr, samples_per_epoch, random_state, device,
    n_threads, holdout : as for :class:`LSTMForecaster`.
    """

    cell = "gru"
