"""``surgeguard train``: fit the ``learned`` routing policy on a traffic series and save it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..exceptions import ValidationError
from ..routing.learned import LearnedRouter
from ..io.output import json_text
from .loaders import load_routing_inputs
from .options import (AT_LEAST_ONE, FORCE_HELP, NON_NEGATIVE_INT, POSITIVE, UTILISATION, claim_output_file,
                      in_range)

NON_NEGATIVE = in_range(float, 0, None)


app = typer.Typer()


@app.command()
def train(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key"),
    traffic: str = typer.Option(..., "--traffic", "-t", help="traffic series file/dir (bit/s after unit conversion)"),
    out: Path = typer.Option(..., "--out", "-o",
                             help="the model file to write (a torch file; an existing file needs --force)"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    paths_file: Optional[str] = typer.Option(None, "--paths", help="tunnels file (src dst:n-n-n,...)"),
    k: int = typer.Option(4, "--k", callback=AT_LEAST_ONE,
                          help="candidate paths per OD pair (k shortest), without --paths"),
    epochs: int = typer.Option(60, "--epochs", callback=AT_LEAST_ONE, help="maximum training epochs"),
    history: int = typer.Option(12, "--history", callback=AT_LEAST_ONE, help="H: past matrices the model reads"),
    alpha: float = typer.Option(0.1, "--alpha", callback=NON_NEGATIVE,
                                help="weight of the burst-robustness term (0 = DOTE)"),
    smooth: float = typer.Option(0.05, "--smooth", callback=NON_NEGATIVE,
                                 help="log-sum-exp temperature of the training MLU (0 = hard max)"),
    prior: str = typer.Option("robust", "--prior",
                              help="'robust' (mix with the scenario LP, weight chosen on validation) or 'none'"),
    val_frac: float = typer.Option(0.1, "--val-frac", callback=in_range(float, 0, 1, "left"),
                                   help="last share of the steps read, used for early stopping and the robust mix "
                                        "only (0: none, train for --epochs)"),
    holdout: float = typer.Option(0.0, "--holdout", callback=in_range(float, 0, 1, "left"),
                                  help="last share of the series never read (kept for a later replay test)"),
    resume: Optional[Path] = typer.Option(None, "--resume",
                                          help="keep training this saved model on --traffic (online learning: "
                                               "--epochs epochs at a third of the rate, no validation)"),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", callback=POSITIVE,
                                                help="stop training after this long"),
    seed: int = typer.Option(0, "--seed", callback=NON_NEGATIVE_INT, help="random seed"),
    scale: float = typer.Option(1.0, "--scale", callback=POSITIVE, help="multiply all demands by this factor"),
    size_util: Optional[float] = typer.Option(None, "--size-util", callback=UTILISATION,
                                              help="size capacities for this peak utilisation, in (0, 1]"),
    as_json: bool = typer.Option(False, "--json", help="print the training summary as JSON"),
):
    """Train the learned routing policy (minimises the next interval's MLU) and save it for
    `replay/solve --policy learned|hedge --model OUT`. It learns from the whole series; the last
    10% (--val-frac) only picks the best epoch and the robust mix, and --holdout keeps a last share
    unread. With --resume MODEL it keeps training a saved model on new traffic instead."""
    out = claim_output_file(out, "--out", force=force)
    if not val_frac + holdout < 1:
        raise ValidationError(f"--val-frac {val_frac} and --holdout {holdout} leave nothing to train on; "
                              "their sum must be below 1, e.g. --val-frac 0.1 --holdout 0.2")
    prior_opt = None if prior.lower() in ("none", "") else prior.lower()
    if prior_opt not in (None, "robust"):
        raise ValidationError(f"--prior {prior!r} is not known; use --prior none or --prior robust")
    net, ts, ps = load_routing_inputs(network, traffic, paths_file=paths_file, k=k, scale=scale,
                                      size_util=size_util)
    n = len(ts)
    val_stop = int(round((1 - holdout) * n))
    if resume is not None:
        model = LearnedRouter.load(resume)
        model.check_compatible(net, ps)
        model.partial_fit(net, ps, ts.window(0, val_stop), epochs=epochs)
        model.save(out)
        last = model.online_log_[-1] if model.online_log_ else {}
        summary = {"model": str(out), "resumed_from": str(resume), "steps": last.get("steps", 0),
                   "epochs": epochs, "loss": last.get("loss"), "until": last.get("until")}
        typer.echo(json_text(summary) if as_json else
                   f"kept training {resume} on {summary['steps']} steps for {epochs} epochs "
                   f"(loss {summary['loss'] if summary['loss'] is None else round(summary['loss'], 4)}); "
                   f"model written to {out}")
        return
    val_start = int(round((1 - holdout - val_frac) * n)) if val_frac > 0 else None
    if val_start is not None and val_stop <= val_start:
        raise ValidationError(f"--val-frac {val_frac} of {n} steps leaves no validation step; raise it or set 0")
    if (val_start or val_stop) <= history + 1:
        raise ValidationError(f"--traffic has {n} steps: --val-frac {val_frac} and --holdout {holdout} leave "
                              f"{val_start or val_stop} training steps, not more than --history {history} + 1; "
                              "give a longer series or a smaller --history")
    model = LearnedRouter(history=history, alpha=alpha, epochs=epochs, smooth=smooth, prior=prior_opt,
                          max_seconds=None if max_minutes is None else 60.0 * max_minutes, random_state=seed)
    model.fit(net, ps, ts, val_start=val_start, val_stop=val_stop, progress=None if not as_json else False)
    model.save(out)
    best = model.log_[model.best_epoch_ - 1] if model.log_ else {}
    summary = {"model": str(out), "network": net.name, "paths": ps.n_paths, "od_pairs": ps.n_od,
               "history": history, "epochs_run": len(model.log_), "best_epoch": model.best_epoch_,
               "train_seconds": round(model.train_seconds_, 2), "trained_on": model.trained_on_,
               "val_ratio_mean": best.get("val_ratio_mean"), "val_ratio_p99": best.get("val_ratio_p99")}
    if as_json:
        typer.echo(json_text(summary))
    else:
        v = (f"; validation MLU ratio to optimum: mean {summary['val_ratio_mean']:.4f}, "
             f"p99 {summary['val_ratio_p99']:.4f}") if summary["val_ratio_mean"] is not None else ""
        typer.echo(f"trained on {net.describe()}; {ps.n_od} OD pairs, {ps.n_paths} paths; "
                   f"{len(model.log_)} epochs in {model.train_seconds_:.1f} s (best {model.best_epoch_}){v}")
        typer.echo(f"model written to {out}; use it with: surgeguard replay ... --policy learned --model {out}")
