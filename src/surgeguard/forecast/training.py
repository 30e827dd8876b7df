"""The one training loop of the PyTorch forecasters (``direct``, ``lstm``, ``gru``).

:func:`train_net` minimises the mean absolute error (L1, on per-flow max-normalised values; or
the mean squared error) with Adam over shuffled mini-batches, draws at most ``samples_per_epoch`` samples per epoch, stops
early when the holdout error (same loss) has not improved for ``patience`` epochs and keeps the best epoch's
weights. ``torch_threads`` (from :mod:`surgeguard.optimise.first_order`, re-exported here) sets torch's CPU
thread count for a block and restores it.
torch is imported lazily, inside the functions, so importing :mod:`surgeguard.forecast` does not
load it.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from ..optimise.first_order import torch_threads  # the package's one thread-count helper

__all__ = ["train_net", "torch_threads", "predict_batches"]


def predict_batches(net, inputs: Sequence, device, batch: int = 65536) -> np.ndarray:
    """``net(*inputs)`` in evaluation mode over batches of rows, as a NumPy array."""
    import torch  # lazy: torch is heavy and optional

    n = len(inputs[0])
    if n == 0:
        return np.zeros((0,), dtype=np.float32)
    outs = []
    with torch.no_grad():
        for a in range(0, n, batch):
            outs.append(net(*(torch.as_tensor(x[a:a + batch]).to(device) for x in inputs)).cpu().numpy())
    return np.concatenate(outs, axis=0)


def train_net(net, train: Sequence[np.ndarray], valid: Sequence[np.ndarray] | None, *, epochs: int, patience: int,
              batch_size: int, lr: float, weight_decay: float, samples_per_epoch: int | None, random_state: int,
              device, loss: str = "l1") -> tuple[int, list[dict]]:
    """Train ``net`` in place to minimise ``loss``; returns ``(best_epoch, history)``.

    Parameters
    ----------
    net : a torch module called as ``net(*inputs)``, giving an output of the target's shape.
    train, valid : ``(*inputs, target)`` arrays with one sample per row; ``valid`` None: early
        stopping on the training error.
    epochs, patience : at most ``epochs`` epochs; stop after ``patience`` epochs without a better
        holdout error (the best epoch's weights are restored).
    batch_size, lr, weight_decay : Adam settings.
    samples_per_epoch : at most this many shuffled training rows per epoch (None: all).
    random_state : seed of the shuffling.
    device : torch device.
    loss : 'l1' (mean absolute error) or 'mse' (mean squared error).

    Returns
    -------
    best_epoch, history (per epoch: ``epoch``, ``train_loss``, ``holdout_loss``, ``seconds``).
    """
    import torch  # lazy: torch is heavy and optional

    def err(pred, target):
        d = pred - target
        return d.abs() if loss == "l1" else d * d

    gen = torch.Generator().manual_seed(int(random_state))
    opt = torch.optim.Adam(net.parameters(), lr=float(lr), weight_decay=float(weight_decay))
    tr = [torch.as_tensor(a) for a in train]
    va = [torch.as_tensor(a).to(device) for a in valid] if valid is not None and len(valid[-1]) else None
    n = len(tr[-1])
    per_epoch = n if not samples_per_epoch else min(n, int(samples_per_epoch))
    bs = int(batch_size)
    best, best_state, best_epoch, wait, hist = np.inf, None, 0, 0, []
    for epoch in range(int(epochs)):
        e0 = time.perf_counter()
        net.train()
        perm = torch.randperm(n, generator=gen)[:per_epoch]
        tot, cnt = 0.0, 0
        for a in range(0, per_epoch, bs):
            idx = perm[a:a + bs]
            batch = [t[idx].to(device) for t in tr]
            value = err(net(*batch[:-1]), batch[-1]).mean()
            opt.zero_grad()
            value.backward()
            opt.step()
            tot += float(value.detach()) * len(idx)
            cnt += len(idx)
        train_loss = tot / max(cnt, 1)
        if va is not None:
            net.eval()
            with torch.no_grad():
                val = float(torch.cat([err(net(*(t[a:a + 65536] for t in va[:-1])), va[-1][a:a + 65536]).reshape(-1)
                                       for a in range(0, len(va[-1]), 65536)]).mean())
        else:
            val = train_loss
        hist.append({"epoch": epoch, "train_loss": train_loss, "holdout_loss": val, "seconds": time.perf_counter() - e0})
        if val < best - 1e-7:
            best, wait, best_epoch = val, 0, epoch
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            wait += 1
            if wait >= int(patience):
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return best_epoch, hist
