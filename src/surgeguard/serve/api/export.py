"""A stored decision as SR-TE policies (``GET /api/v1/export/sr``): the files a network engineer
pushes, one per head-end, in the format asked (:mod:`surgeguard.deploy.formats`).

The decision is the newest stored one, or the one of ``ds``. Its routing is the controller's own
object when the controller runs in this process and still holds it; otherwise it is rebuilt from
the stored splits (:func:`stored_routing`). The weights are chosen on, and every MLU evaluated on,
the matrix the decision routed: the forecast made at ``ds`` for the next interval (else the
interval's estimate). The files are written by :func:`~surgeguard.deploy.formats.write_export`
into a temporary folder and read back, so the API serves byte for byte what ``surgeguard export
sr`` writes, ``summary.json`` included; answers are cached per decision and parameters.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...deploy import FORMATS, export_sr, few_policies, write_export
from ...deploy.sr import safe_node_names
from ...deploy.formats import SUMMARY_FILE
from ...evaluate import evaluate
from ...exceptions import ValidationError
from ...network import Network
from ...paths import PathSet
from ...routing.routing import Routing
from ...store import utc_time
from .state import US, ApiState, NotFound, Unavailable

__all__ = ["ExportQuery", "DecisionExport", "export_decision", "stored_routing", "decision_matrix", "export_zip",
           "zip_name", "file_headend", "MEDIA_TYPES"]

#: the media type of each format's files (pola's YAML, IOS-XR and FRR configuration are text)
MEDIA_TYPES = {"json": "application/json", "iosxr": "text/plain", "frr": "text/plain", "pola": "application/yaml"}
#: seconds for the weight-rounding integer program of one export (two of them per export)
MILP_SECONDS = 2.0


@dataclass(frozen=True)
class ExportQuery:
    """What ``GET /api/v1/export/sr`` asks (checked by the router; the cache key)."""

    fmt: str = "json"
    ds: pd.Timestamp | None = None
    slots: int = 64
    max_sid_depth: int = 10
    vendor_drop: bool = False
    color: int = 100
    max_policies: int | None = None
    target_gap: float | None = None


@dataclass(frozen=True)
class DecisionExport:
    """The export of one decision: its row, the matrix used, the files ``{name: text}`` and the
    ``summary.json`` document."""

    ds: pd.Timestamp
    decision: dict
    matrix: str
    matrix_ds: pd.Timestamp | None
    files: dict
    summary: dict


def _decision_row(state: ApiState, ds) -> pd.Series:
    store = state.store
    if ds is None:
        t = store.last_interval(with_rows="decisions")
        if t is None:
            raise Unavailable("the store holds no decision yet; the controller stores one per interval: ask again "
                              "after its first interval (GET /api/v1/health says when)")
    else:
        t = ds
    dec = store.decisions(t, t + US)
    if not len(dec):
        raise NotFound(f"query.ds {t.isoformat()}: no decision is stored for that interval; give the ds of a stored "
                       "decision (GET /api/v1/decisions lists them)")
    return dec.iloc[0]


def stored_routing(network: Network, paths: PathSet, splits: pd.DataFrame, policy: str) -> Routing:
    """The routing of a stored decision: its splits (``src, dst, links, weight`` rows, as
    :func:`surgeguard.store.splits_frame` writes them) over ``paths``, a stored path that is not a
    candidate of ``paths`` (matched by its links) being added to its OD pair. An OD pair without
    stored splits keeps its first path. Stored names that ``network`` lacks are a
    :class:`~surgeguard.ValidationError`.

    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.paths import k_shortest_paths
    >>> from surgeguard.store import splits_frame
    >>> net = two_paths(); one, two = k_shortest_paths(net, k=1), k_shortest_paths(net, k=2)
    >>> decided = Routing(two, two.normalise(np.ones(two.n_paths)), "optimal")
    >>> back = stored_routing(net, one, splits_frame(decided), "optimal"); k = one.od_lookup[0, 3]
    >>> int(back.paths.paths_per_od[k]), back.splits[back.paths.od_ptr[k]:back.paths.od_ptr[k + 1]].tolist()
    (2, [0.5, 0.5])
    """
    paths.check_network(network)
    node_pos = pd.Index(list(network.node_names))
    link_pos = {n: i for i, n in enumerate(network.link_names)}
    si, di = node_pos.get_indexer(splits["src"]), node_pos.get_indexer(splits["dst"])
    if (si < 0).any() or (di < 0).any():
        k = int(np.flatnonzero((si < 0) | (di < 0))[0])
        raise ValidationError(f"the stored decision names node {splits['src'].iloc[k]!r} or {splits['dst'].iloc[k]!r}, "
                              f"not a node of {network.name!r}; export it with the network the controller ran on")
    ods = paths.od_lookup[si, di]
    if (ods < 0).any():
        j = int(np.flatnonzero(ods < 0)[0])
        raise ValidationError(f"the stored decision routes {splits['src'].iloc[j]}->{splits['dst'].iloc[j]}, an OD "
                              "pair without candidate paths; export it with the controller's paths")
    keys = []
    for k, links in zip(ods, splits["links"]):
        try:
            keys.append((int(k), tuple(link_pos[str(n)] for n in links)))
        except KeyError as err:
            raise ValidationError(f"the stored decision routes over link {err.args[0]!r}, not a link of "
                                  f"{network.name!r}; export it with the network the controller ran on") from None

    def index(ps: PathSet) -> dict:
        return {(int(k), tuple(int(x) for x in ps.link_idx[ps.link_ptr[p]:ps.link_ptr[p + 1]])): p
                for k in np.unique(ods) for p in range(ps.od_ptr[k], ps.od_ptr[k + 1])}

    have = index(paths)
    extra = list(dict.fromkeys(key for key in keys if key not in have))
    aug = paths.with_paths(network, [k for k, _ in extra], [list(lk) for _, lk in extra])[0] if extra else paths
    at = index(aug) if extra else have
    s = np.zeros(aug.n_paths)
    np.add.at(s, np.array([at[key] for key in keys], dtype=np.int64), splits["weight"].to_numpy(dtype=float))
    first = np.zeros(aug.n_paths)
    first[aug.od_ptr[:-1]] = 1.0
    return Routing(aug, aug.normalise(s, fallback=first), policy=policy, info={"restored": True})


def decision_matrix(state: ApiState, ds: pd.Timestamp) -> tuple[np.ndarray | None, str, pd.Timestamp | None]:
    """``(matrix, what, its interval)``: the forecast made at ``ds`` (what the decision routed),
    else the estimate of ``ds``, else ``(None, "none", None)``."""
    nodes = list(state.node_names)
    fc = state.store.forecasts(ds, ds + US)
    if len(fc):
        first = fc["ds"].min()
        fc = fc[fc["ds"] == first]
        pos = pd.Index(nodes)
        si, di = pos.get_indexer(fc["src"]), pos.get_indexer(fc["dst"])
        ok = (si >= 0) & (di >= 0)
        tm = np.zeros((len(nodes), len(nodes)))
        tm[si[ok], di[ok]] = fc["bps"].to_numpy(dtype=float)[ok]
        return tm, "forecast", first
    try:
        t, tm = state.store.estimate_matrix(nodes, ds)
    except ValidationError:
        return None, "none", None
    return tm, "estimate", t


def _routing_at(state: ApiState, ds: pd.Timestamp, row: pd.Series) -> Routing:
    if state.runner is not None:
        for res in reversed(list(state.runner.controller.results)):
            if res.ds == ds and res.routing is not None:
                return res.routing
    sp = state.store.splits(ds, ds + US)
    if not len(sp):
        raise Unavailable(f"query.ds {ds.isoformat()}: the decision stores no splits (the controller ran with "
                          "[store] splits = false); give the ds of a decision with splits")
    return stored_routing(state.network, state.paths, sp, str(row["policy"]))


def export_decision(state: ApiState, q: ExportQuery) -> DecisionExport:
    """The export of the decision ``q.ds`` (default: the newest), cached per decision and query."""
    if q.fmt not in FORMATS:
        raise ValidationError(f"query.format {q.fmt!r} is not a format; give one of {', '.join(FORMATS)}")
    if q.max_policies is not None and q.target_gap is not None:
        raise ValidationError("query.max_policies and query.target_gap exclude each other; give one of them")
    row = _decision_row(state, None if q.ds is None else utc_time(q.ds, "query.ds"))
    ds = pd.Timestamp(row["ds"])

    def make() -> DecisionExport:
        routing = _routing_at(state, ds, row)
        tm, what, mds = decision_matrix(state, ds)
        net = state.network
        curve = None
        if q.max_policies is not None or q.target_gap is not None:
            if tm is None:
                raise Unavailable(f"query.ds {ds.isoformat()}: no matrix is stored for this decision, and a "
                                  "few-policies export needs one; leave out max_policies and target_gap")
            ref = float(evaluate(net, routing, tm).mlu)
            routing, curve = few_policies(net, routing.paths, tm, max_policies=q.max_policies,
                                          target_gap=q.target_gap, reference_mlu=ref if ref > 0 else None)
        export = export_sr(net, routing, tm, max_sid_depth=q.max_sid_depth, slots=q.slots, vendor_drop=q.vendor_drop,
                           color=q.color, curve=curve, milp_seconds=MILP_SECONDS)
        with tempfile.TemporaryDirectory(prefix="surgeguard-export-") as tmp:
            write_export(export, tmp, q.fmt)
            root = Path(tmp)
            summary = json.loads((root / SUMMARY_FILE).read_text())
            files = {name: (root / name).read_text() for name in summary["files"]}
        info = {}
        try:
            info = json.loads(row["info"]) if isinstance(row["info"], str) and row["info"] else {}
        except ValueError:
            pass
        decision = {"ds": ds, "for_interval": info.get("for"), "policy": str(row["policy"]),
                    "status": str(row["status"]), "mlu": row["mlu"]}
        summary.update(ds=ds.isoformat(), decision_policy=str(row["policy"]), matrix=what,
                       matrix_ds=None if mds is None else pd.Timestamp(mds).isoformat())
        return DecisionExport(ds, decision, what, mds, files, summary)

    return state.cache.get(("sr-export", ds, q.fmt, q.slots, q.max_sid_depth, q.vendor_drop, q.color,
                            q.max_policies, q.target_gap), make)


def file_headend(network: Network, name: str) -> str:
    """The head-end a file of the export configures (``<headend>.<ext>``, pola ``<headend>/<policy>.yaml``)."""
    stem = name.split("/", 1)[0] if "/" in name else name.rsplit(".", 1)[0]
    return dict(zip(safe_node_names(network), network.node_names)).get(stem, stem)


def zip_name(result: DecisionExport) -> str:
    """``surgeguard-sr-<format>-<ds>.zip``."""
    return f"surgeguard-sr-{result.summary['format']}-{result.ds.strftime('%Y%m%dT%H%M%SZ')}.zip"


def export_zip(result: DecisionExport) -> bytes:
    """The files and ``summary.json`` in one zip, under a folder named after the zip (the folder
    ``surgeguard export sr --out`` would write); entries dated by the decision, so the same
    export is the same bytes."""
    top = zip_name(result)[:-4]
    when = result.ds.tz_convert("UTC").timetuple()[:6]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in [(SUMMARY_FILE, json.dumps(result.summary, indent=2, default=str) + "\n"),
                           *sorted(result.files.items())]:
            info = zipfile.ZipInfo(f"{top}/{name}", date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, text)
    return buf.getvalue()
