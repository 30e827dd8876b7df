"""``surgeguard forecast``: fit a forecaster on a traffic series and forecast the next matrices."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import typer

from ..exceptions import ValidationError
from ..forecast import get_forecaster
from ..io.output import atomic_path, json_text, make_output_dir
from .loaders import load_network, load_traffic
from .options import AT_LEAST_ONE, FORCE_HELP, NON_NEGATIVE_INT, claim_output_file, in_range


def _parse_quantiles(text: Optional[str]):
    if not text:
        return None
    try:
        qs = [float(x) for x in text.split(",") if x.strip()]
    except (ValueError, OverflowError):
        raise ValidationError(f"--quantiles {text!r} must be comma-separated numbers in (0, 1), e.g. 0.1,0.9") from None
    if not qs or any(not 0 < q < 1 for q in qs):
        raise ValidationError(f"--quantiles {text!r} must be numbers strictly between 0 and 1, e.g. 0.1,0.9")
    return sorted(set(qs))


def forecast_frame(forecaster, h: int, quantiles=None):
    """Long frame ``ds, src, dst, <model>[, <model>-q<q>...]`` (bit/s) of the next ``h`` steps for
    the OD pairs the forecaster models."""
    res = forecaster.predict(h, quantiles=quantiles)
    point = res["mean"] if isinstance(res, dict) else res
    n = len(forecaster.nodes_)
    od = np.flatnonzero(forecaster.active_)
    nodes = np.asarray(forecaster.nodes_, dtype=object)
    times = forecaster.forecast_times(h)
    out = pd.DataFrame({"ds": np.repeat(times.to_numpy(), len(od)),
                        "src": np.tile(nodes[od // n], h), "dst": np.tile(nodes[od % n], h)})
    name = forecaster.name
    out[name] = point.reshape(h, n * n)[:, od].ravel()
    for q in quantiles or []:
        out[f"{name}-q{q:g}"] = res[q].reshape(h, n * n)[:, od].ravel()
    return out


app = typer.Typer()


@app.command()
def forecast(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key"),
    traffic: str = typer.Option(..., "--traffic", "-t", help="traffic series file/dir (the history)"),
    model: str = typer.Option("seasonal_naive", "--model", "-m",
                              help="naive, seasonal_naive, ets, mstl, lgbm, neural, direct, linear, "
                                   "blend, lstm or gru"),
    horizon: int = typer.Option(1, "--horizon", "-H", callback=AT_LEAST_ONE, help="steps to forecast after the series ends"),
    quantiles: Optional[str] = typer.Option(None, "--quantiles", "-q", help="e.g. 0.1,0.9 (conformal bands)"),
    holdout: float = typer.Option(0.1, "--holdout", callback=in_range(float, 0, 0.5, "left"), help="share of the series held out for early stopping and "
                                                          "the conformal quantiles"),
    seed: int = typer.Option(0, "--seed", callback=NON_NEGATIVE_INT, help="random seed (lgbm, neural, direct, lstm, gru)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="write the forecast to this file (.csv or .parquet; an existing file "
                                            "needs --force)"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    as_json: bool = typer.Option(False, "--json", help="print a JSON summary instead of the table"),
):
    """Fit MODEL on the whole series and forecast the next HORIZON traffic matrices (bit/s, UTC).

    The long frame (ds, src, dst, <model>, <model>-q<q>...) goes to --out; the terminal shows the
    forecast network total per step."""
    qs = _parse_quantiles(quantiles)
    if out is not None and out.suffix.lower() not in (".csv", ".parquet"):
        raise ValidationError(f"--out {str(out)!r} must end in .csv or .parquet")
    out = claim_output_file(out, "--out", force=force)
    params = {"holdout": holdout}
    probe = get_forecaster(model)  # unknown model: one-line error listing the known ones
    if "random_state" in probe.get_params():
        params["random_state"] = seed
    fc = get_forecaster(model, **params)
    net = load_network(network)
    ts = load_traffic(traffic, net)
    t0 = time.perf_counter()
    fc.fit(ts)
    fit_s = time.perf_counter() - t0
    frame = forecast_frame(fc, horizon, qs)
    if out is not None:
        make_output_dir(out.parent)
        with atomic_path(out) as tmp:
            if out.suffix.lower() == ".csv":
                frame.to_csv(tmp, index=False)
            else:
                frame.to_parquet(tmp, index=False)
    totals = frame.groupby("ds", sort=True).sum(numeric_only=True)
    if as_json:
        steps = [{"ds": t.isoformat(), **{f"total_{c}": float(v) for c, v in row.items()}}
                 for t, row in totals.iterrows()]
        typer.echo(json_text({"model": fc.name, "params": fc.get_params(), "fit_seconds": fit_s,
                               "history_steps": len(ts), "step": str(ts.step), "horizon": horizon,
                               "calibration": fc.calibration_, "od_pairs": int(fc.active_.sum()),
                               "out": str(out) if out else None, "steps": steps}))
        return
    typer.echo(f"{fc!r}: fitted on {len(ts)} steps of {ts.step} in {fit_s:.1f} s; "
               f"{int(fc.active_.sum())} OD pairs; quantiles: {fc.calibration_}")
    cols = list(totals.columns)
    typer.echo(f"{'time (UTC)':<17} " + " ".join(f"{c + ' Gbit/s':>22}" for c in cols))
    for t, row in totals.iterrows():
        typer.echo(f"{pd_fmt(t):<17} " + " ".join(f"{row[c] / 1e9:>22.3f}" for c in cols))
    if out is not None:
        typer.echo(f"forecast ({len(frame)} rows: ds, src, dst, {', '.join(frame.columns[3:])}) written to {out}")


def pd_fmt(t) -> str:
    return pd.Timestamp(t).strftime("%Y-%m-%d %H:%M")
