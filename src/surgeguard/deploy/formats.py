"""SR policies (:class:`~surgeguard.deploy.sr.SrExport`) as the files devices and controllers read.

One file per head-end (pola: per policy), every file written atomically under one folder:

* ``json``: ``<headend>.json``, the RFC 9256 terms (policy: colour, endpoint; candidate path:
  preference, protocol origin, discriminator; segment lists: weight, segments of type A (MPLS
  label) each with its NAI (node or adjacency)). surgeguard adds ``split`` (the exact share) and
  ``path`` (node names) per list; a list whose share rounds to no slot stays with weight 0 (the
  device formats leave it out). :func:`read_json_policies` reads them back, and
  :func:`~surgeguard.deploy.sr.routing_from_policies` turns them into the same
  :class:`~surgeguard.routing.Routing`.
* ``iosxr``: ``<headend>.cfg``, Cisco IOS-XR ``segment-routing traffic-eng``: named segment lists
  of MPLS labels, one policy per endpoint with one explicit candidate path whose segment lists
  carry their ``weight`` (weighted ECMP).
* ``frr``: ``<headend>.conf``, FRR ``pathd``. FRR 8.4's candidate path carries one segment list
  (no weights), so each policy keeps one list (:attr:`SrPolicy.single`, chosen for the MLU); the file says so in comments and the MLU
  of what it expresses is the export's ``single_list`` MLU. :func:`check_frr_config` runs FRR's own
  parser (``vtysh -C -f FILE``).
* ``pola``: ``<headend>/<policy>.yaml``, the input of ``pola sr-policy add -f FILE
  --no-sid-validate`` (nttcom/pola: ``srPolicy`` with pcepSessionAddr, srcAddr, dstAddr, name,
  color, segmentList of ``sid`` + ``localAddr``/``remoteAddr``). One segment list per policy, as FRR.

Every folder also gets ``summary.json`` (:meth:`SrExport.summary`, what the format expresses and
the files written); re-exporting into it removes the files of the earlier export (same format)
that the new one does not write.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from ..exceptions import InputError, ValidationError
from ..io.output import atomic_write_json, atomic_write_text, json_text, make_output_dir
from .sr import Segment, SidPlan, SrExport, SrPolicy, safe_node_names

__all__ = ["FORMATS", "output_names", "render", "write_export", "read_json_policies", "check_frr_config", "FORMAT_NOTES",
           "JSON_FORMAT", "SUMMARY_FILE"]

#: the formats and the file suffix of each
FORMATS = {"json": ".json", "iosxr": ".cfg", "frr": ".conf", "pola": ".yaml"}
#: what each format can express, written into ``summary.json`` and the files' comments
FORMAT_NOTES = {
    "json": "every segment list with its weight (RFC 9256 weighted ECMP)",
    "iosxr": "every segment list with its weight (weighted ECMP)",
    "frr": "one segment list per candidate path (FRR 8.4 pathd has no weights): one list per policy, chosen to keep the MLU low",
    "pola": "one segment list per SR policy (pola sr-policy add): one list per policy, chosen to keep the MLU low",
}
#: the ``format`` value of surgeguard's JSON documents
JSON_FORMAT = "surgeguard-sr-policy/1"
SUMMARY_FILE = "summary.json"


def _mlu_of(export: SrExport, fmt: str):
    return export.mlu.get("single_list" if fmt in ("frr", "pola") else "quantised")


def _segment_json(seg: Segment, export: SrExport) -> dict:
    net, plan = export.network, _plan(export)
    if seg.kind == "node":
        nai = {"type": "node", "node": seg.node, "address": plan.address(net.node_index[seg.node])}
    else:
        l = net.link_names.index(seg.link)
        nai = {"type": "adjacency", "link": seg.link, "local_node": net.node_names[net.src[l]],
               "remote_node": seg.node, "local_address": plan.address(int(net.src[l])),
               "remote_address": plan.address(int(net.dst[l]))}
    return {"segment_type": "A", "sid": seg.sid, "nai": nai}


def _plan(export: SrExport) -> SidPlan:
    p = export.params
    return SidPlan(p["srgb_base"], p["adjacency_base"], p["loopback_base"])


def _json_doc(export: SrExport, head: str, policies: list[SrPolicy]) -> dict:
    net = export.network
    return {
        "format": JSON_FORMAT,
        "network": net.name,
        "headend": {"node": head, "address": _plan(export).address(net.node_index[head])},
        "sid_plan": _plan(export).as_dict(),
        "slots": export.params["slots"],
        "policies": [{
            "name": p.name, "color": p.color, "endpoint": p.endpoint_address, "endpoint_node": p.endpoint,
            "candidate_paths": [{
                "preference": p.preference, "protocol_origin": "config", "originator": "surgeguard",
                "discriminator": 1, "name": f"{p.name}_cp",
                "segment_lists": [{"weight": sl.weight, "split": sl.split, "path": list(sl.path),
                                   "segments": [_segment_json(s, export) for s in sl.segments]}
                                  for sl in p.segment_lists]}]}
            for p in policies],
    }


def _segment_list_lines(name: str, sl, close: str) -> list[str]:
    """A named segment list of MPLS labels, indices 10, 20, ... (IOS-XR and FRR alike)."""
    return ([f"  segment-list {name}"] + [f"   index {10 * j} mpls label {seg.sid}" for j, seg in enumerate(sl.segments, 1)]
            + [close])


def _iosxr(export: SrExport, head: str, policies: list[SrPolicy]) -> str:
    lines = [f"! surgeguard SR-TE policies for head-end {head} ({export.network.name}); "
             f"weights are weighted-ECMP slots out of {export.params['slots']}",
             "segment-routing", " traffic-eng"]
    for p in policies:
        for i, sl in enumerate(p.deployed, 1):
            lines += _segment_list_lines(f"{p.name}_{i}", sl, "  !")
    for p in policies:
        lines += [f"  policy {p.name}", f"   color {p.color} end-point ipv4 {p.endpoint_address}",
                  "   candidate-paths", f"    preference {p.preference}"]
        for i, sl in enumerate(p.deployed, 1):
            lines += [f"     explicit segment-list {p.name}_{i}", f"      weight {sl.weight}", "     !"]
        lines += ["    !", "   !", "  !"]
    lines += [" !", "!"]
    return "\n".join(lines) + "\n"


def _frr(export: SrExport, head: str, policies: list[SrPolicy]) -> str:
    mlu = export.mlu.get("single_list")
    shown = "n/a" if mlu is None else f"{mlu:.6g}"
    lines = [f"! surgeguard SR-TE policies for head-end {head} ({export.network.name})",
             "! FRR 8.4 pathd carries one segment list per candidate path (no weighted ECMP): each policy",
             f"! keeps one segment list, chosen for the MLU; the MLU of what these files express is {shown}",
             "segment-routing", " traffic-eng"]
    for p in policies:
        sl = p.single
        dropped = len(p.segment_lists) - 1
        if dropped:
            lines.append(f"  ! {p.name}: {dropped} more segment list(s) not expressible here "
                         f"(kept: share {sl.split:.3f} of the weighted split)")
        lines += _segment_list_lines(f"{p.name}_1", sl, "  exit")
    for p in policies:
        lines += [f"  policy color {p.color} endpoint {p.endpoint_address}", f"   name {p.name}",
                  f"   candidate-path preference {p.preference} name {p.name}_cp explicit segment-list {p.name}_1",
                  "  exit"]
    lines += [" exit", "exit"]
    return "\n".join(lines) + "\n"


def _pola(export: SrExport, p: SrPolicy) -> str:
    net, plan = export.network, _plan(export)
    sl = p.single
    lines = [f"# surgeguard SR policy {p.name} ({net.name}) for `pola sr-policy add -f FILE --no-sid-validate`",
             f"# pola carries one segment list per policy: one of {len(p.segment_lists)} "
             f"(share {sl.split:.3f} of the weighted split) is kept",
             "srPolicy:", f"  pcepSessionAddr: {p.headend_address}", f"  srcAddr: {p.headend_address}",
             f"  dstAddr: {p.endpoint_address}", f"  name: {p.name}", f"  color: {p.color}", "  segmentList:"]
    for seg in sl.segments:
        if seg.kind == "node":
            lines += [f'    - sid: "{seg.sid}"', f"      localAddr: {plan.address(net.node_index[seg.node])}"]
        else:
            l = net.link_names.index(seg.link)
            lines += [f'    - sid: "{seg.sid}"', f"      localAddr: {plan.address(int(net.src[l]))}",
                      f"      remoteAddr: {plan.address(int(net.dst[l]))}"]
    return "\n".join(lines) + "\n"


def output_names(network, fmt: str) -> tuple[str, ...]:
    """Every file name ``fmt`` may write directly under the folder, ``summary.json`` first (pola
    writes into one folder per head-end, which are not listed)."""
    if fmt == "pola":
        return (SUMMARY_FILE,)
    return (SUMMARY_FILE,) + tuple(f"{n}{FORMATS[fmt]}" for n in safe_node_names(network))


def render(export: SrExport, fmt: str) -> dict[str, str]:
    """The files of one format: {relative file name: text}.

    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.paths import k_shortest_paths
    >>> from surgeguard.routing import Routing
    >>> from surgeguard.deploy import export_sr
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> ex = export_sr(net, Routing.uniform(ps))
    >>> sorted(render(ex, "frr"))[:2]
    ['A.conf', 'B.conf']
    """
    if fmt not in FORMATS:
        raise ValidationError(f"The 'fmt' parameter of render must be one of {sorted(FORMATS)}. Got {fmt!r} instead.")
    by_head: dict[str, list[SrPolicy]] = {}
    for p in export.policies:
        by_head.setdefault(p.headend, []).append(p)
    safe = dict(zip(export.network.node_names, safe_node_names(export.network)))
    out = {}
    for head in export.headends():
        pols = by_head[head]
        if fmt == "json":
            out[f"{safe[head]}.json"] = json_text(_json_doc(export, head, pols), indent=2) + "\n"
        elif fmt == "iosxr":
            out[f"{safe[head]}.cfg"] = _iosxr(export, head, pols)
        elif fmt == "frr":
            out[f"{safe[head]}.conf"] = _frr(export, head, pols)
        else:
            for p in pols:
                out[f"{safe[head]}/{p.name}.yaml"] = _pola(export, p)
    return out


def write_export(export: SrExport, out, fmt: str) -> list[Path]:
    """Write the files of ``fmt`` and ``summary.json`` under the folder ``out`` (atomically, file
    by file); returns the paths written."""
    files = render(export, fmt)
    root = make_output_dir(out)
    _remove_stale(root, fmt, set(files))
    written = []
    for name, text in files.items():
        p = root / name
        if p.parent != root:
            make_output_dir(p.parent)
        written.append(atomic_write_text(p, text))
    summary = export.summary()
    summary.update(format=fmt, expresses=FORMAT_NOTES[fmt], mlu_of_format=_mlu_of(export, fmt),
                   files=sorted(files))
    written.append(atomic_write_json(root / SUMMARY_FILE, summary))
    return written


def _remove_stale(root: Path, fmt: str, keep: set[str]) -> None:
    """Files an earlier export of the same format wrote there (its ``summary.json`` lists them)
    that this one does not: a head-end without policies now must not keep old ones."""
    try:
        old = json.loads((root / SUMMARY_FILE).read_text())
    except (OSError, ValueError):
        return
    if not isinstance(old, dict) or old.get("format") != fmt or not isinstance(old.get("files"), list):
        return
    for name in old["files"]:
        p = root / str(name)
        if str(name) not in keep and p.is_file() and p.resolve().is_relative_to(root.resolve()):
            p.unlink()


def read_json_policies(paths) -> list[tuple[str, str, list]]:
    """The policies of surgeguard JSON documents (files or folders of ``*.json``, ``summary.json``
    skipped) as ``(headend, endpoint, [(segments, weight, split), ...])`` for
    :func:`~surgeguard.deploy.sr.routing_from_policies`."""
    files = []
    for p in ([paths] if isinstance(paths, (str, Path)) else list(paths)):
        p = Path(p)
        files += sorted(x for x in p.glob("*.json") if x.name != SUMMARY_FILE) if p.is_dir() else [p]
    if not files:
        raise InputError(f"no SR policy JSON files in {str(paths)!r}; give the folder `export sr --format json` wrote")
    out = []
    for f in files:
        try:
            doc = json.loads(Path(f).read_text())
            if doc.get("format") != JSON_FORMAT:
                raise KeyError("format")
            head = doc["headend"]["node"]
            for pol in doc["policies"]:
                cps = sorted(pol["candidate_paths"], key=lambda c: -c["preference"])
                lists = []
                for sl in cps[0]["segment_lists"]:
                    segs = []
                    for s in sl["segments"]:
                        nai = s["nai"]
                        if nai["type"] == "node":
                            segs.append(Segment("node", int(s["sid"]), nai["node"]))
                        else:
                            segs.append(Segment("adjacency", int(s["sid"]), nai["remote_node"], nai["link"]))
                    lists.append((segs, int(sl["weight"]), float(sl.get("split", 0.0))))
                out.append((head, pol["endpoint_node"], lists))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise InputError(f"{str(f)!r} is not a surgeguard SR policy document ({JSON_FORMAT}): "
                             f"{type(exc).__name__} {exc}; give a file `export sr --format json` wrote") from None
    return out


def check_frr_config(path, vtysh: str | None = None) -> tuple[bool, str]:
    """Run FRR's own configuration parser on a file: ``vtysh -C -f FILE`` (exit 0 when every line
    parses; otherwise it names the bad line). Returns (ok, its output). :class:`InputError` when
    vtysh is not installed (``scripts/install_services.sh`` installs FRR)."""
    exe = vtysh or shutil.which("vtysh")
    if exe is None:
        raise InputError("FRR's vtysh is not installed; run scripts/install_services.sh (Debian package frr)")
    res = subprocess.run([exe, "-C", "-f", str(path)], capture_output=True, text=True, timeout=60)
    return res.returncode == 0, (res.stdout + res.stderr).strip()

