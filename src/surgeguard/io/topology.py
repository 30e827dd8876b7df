"""Topology readers: topohub keys, SNDlib XML, node-link JSON, Topology Zoo GraphML, CFR-RL text.

Every reader returns a :class:`~surgeguard.Network` with capacities in bit/s and lengths in km.
Undirected sources (topohub, SNDlib, undirected JSON or GraphML) give two directed links per edge.

Capacities are never guessed, and a value the source gives must be valid: a capacity, metric or
length that is not a number, NaN, infinite, zero or negative where it must be positive, or out of
its declared range (:data:`surgeguard.network.LINK_RANGES`) raises an error naming the file, the
link and the value; so do duplicate links in a simple (non-multigraph) graph or a repeated
SNDlib link id, links to undeclared nodes and files without links. Where a source has none (topohub, SNDlib files with only
``additionalModules`` such as GÉANT's, GraphML edges without ``LinkSpeedRaw``), the link gets
``default_capacity`` when given, else the placeholder :data:`PLACEHOLDER_CAPACITY` (1 bit/s), and
``network.meta['capacity_source']`` says so:

``'file'``
    every capacity comes from the source;
``'none'``
    no capacity in the source: every link holds the placeholder; size them before routing
    (e.g. ``surgeguard.plan.size_capacities``);
``'default'``
    no capacity in the source: every link holds ``default_capacity``;
``'partial'``
    some links hold the placeholder or ``default_capacity``; ``meta['capacity_missing']`` names them;
``'uniform'``
    :func:`read_topohub` with ``capacity=``: every link has that capacity.
"""

from __future__ import annotations

import difflib
import importlib.resources
import json
import re
import warnings
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import networkx as nx
import numpy as np
import topohub

from ..exceptions import InputError, SurgeguardError, ValidationError
from ..network import LINK_RANGES, Network
from ..units import to_bps
from .common import (PLACEHOLDER_CAPACITY, as_path, check_regular, choose_names, fill_capacity, link_number,
                     node_number, one_line, open_bytes, read_text, rename_nodes)

__all__ = [
    "ABILENE_NODES",
    "GEANT_NODES",
    "PLACEHOLDER_CAPACITY",
    "read_topohub",
    "topohub_keys",
    "read_sndlib_network",
    "read_node_link_json",
    "read_graphml",
    "read_cfrrl",
    "read_network",
]

#: The 12 Abilene PoPs in SNDlib order; the node order of Zhang's X files and of ``cfrrl_Abilene.txt``.
ABILENE_NODES: tuple[str, ...] = (
    "ATLAM5", "ATLAng", "CHINng", "DNVRng", "HSTNng", "IPLSng",
    "KSCYng", "LOSAng", "NYCMng", "SNVAng", "STTLng", "WASHng",
)

#: The 22 GÉANT (2005) routers in alphabetical SNDlib order; node ``k`` of the DOTE/FIGRET files
#: (``GEANT.json``, ``.hist``, ``tunnels.txt``) is ``GEANT_NODES[k]``.
GEANT_NODES: tuple[str, ...] = (
    "at1.at", "be1.be", "ch1.ch", "cz1.cz", "de1.de", "es1.es", "fr1.fr", "gr1.gr", "hr1.hr", "hu1.hu",
    "ie1.ie", "il1.il", "it1.it", "lu1.lu", "nl1.nl", "ny1.ny", "pl1.pl", "pt1.pt", "se1.se", "si1.si",
    "sk1.sk", "uk1.uk",
)

_TOPOHUB_EXAMPLES = ("sndlib/abilene", "topozoo/Marwan", "caida/2024-08/3356", "backbone/eurasia")
_KEY_RE = re.compile(r"^[A-Za-z0-9_.+\-]+(/[A-Za-z0-9_.+\-]+)+$")
_SCALAR = (str, int, float, bool, np.integer, np.floating, np.bool_)


def _build(nodes: list[dict], links: list[dict], *, what: str, name: str, bidirectional: bool, meta: dict,
           default_capacity: float | None) -> Network:
    """Fill capacities, record where they came from, and build the network.

    Given capacities are already checked (:func:`link_number`); a link without one has none in
    its record. Errors from the network's own checks are prefixed with ``what`` (the file).
    """
    if len(nodes) < 2:
        raise InputError(f"{what}: {len(nodes)} node(s); a network needs at least 2 nodes and one link")
    if not links:
        raise InputError(f"{what}: {len(nodes)} nodes but no links; a network needs at least one link")
    cap, source = fill_capacity((lk.get("capacity", np.nan) for lk in links), default_capacity)
    missing = [i for i, lk in enumerate(links) if "capacity" not in lk]
    for lk, c in zip(links, cap):
        lk["capacity"] = float(c)
    meta = dict(meta)
    meta["capacity_source"] = source
    if source in ("none", "partial") and default_capacity is None:
        meta["capacity_placeholder"] = PLACEHOLDER_CAPACITY
    try:
        net = Network.from_records(nodes, links, name=name, bidirectional=bidirectional, meta=meta)
    except ValidationError as err:
        raise ValidationError(f"{what}: {err}") from None
    if source == "partial":
        n = len(links)
        idx = missing + ([i + n for i in missing] if bidirectional else [])
        net.meta["capacity_missing"] = [net.link_names[i] for i in sorted(idx)]
    return net


def _extras(attrs: Mapping, skip: set) -> dict:
    """Scalar attributes not in ``skip`` (kept as extra columns)."""
    return {str(k): v for k, v in attrs.items() if k not in skip and isinstance(v, _SCALAR)}


def _flag(data: Mapping, key: str, default: bool, what: str) -> bool:
    v = data.get(key, default)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    raise InputError(f"{what}: {key!r} is {v!r}; it must be true or false")


def _no_duplicates(links: list[dict], what: str, directed: bool, fix: str) -> None:
    """Refuse a second link between the same nodes (either direction when undirected) and self-loops."""
    seen: dict = {}
    for k, lk in enumerate(links):
        s, t = lk["src"], lk["dst"]
        if s == t:
            raise InputError(f"{what}: link {k} ({s}->{t}) starts and ends at the same node; remove the self-loop")
        key = (s, t) if directed else tuple(sorted((s, t)))
        if key in seen:
            pair = f"{s}->{t}" if directed else f"{key[0]}-{key[1]}"
            raise InputError(f"{what}: links {seen[key]} and {k} both join {pair}; {fix}")
        seen[key] = k


_NODE_SKIP = {"id", "name", "pos", "lon", "lat", "Longitude", "Latitude", "longitude", "latitude", "label",
              "population"}


# ---------------------------------------------------------------------- node-link dicts
def _from_node_link(data: Mapping, *, what: str, name: str, node_names=None, default_capacity=None,
                    capacity_key: str | None = "capacity", directed: bool | None = None,
                    meta: dict | None = None) -> Network:
    """A network from a networkx node-link dict (``links`` or ``edges``)."""
    if not isinstance(data, Mapping) or "nodes" not in data:
        raise InputError(f"{what}: not a node-link graph (no 'nodes' list); expected networkx node-link JSON")
    edge_key = "links" if "links" in data else "edges" if "edges" in data else None
    if edge_key is None:
        raise InputError(f"{what}: node-link graph has no 'links' or 'edges' list; add one")
    raw_nodes, raw_links = data["nodes"], data[edge_key]
    if not isinstance(raw_nodes, list) or not isinstance(raw_links, list):
        raise InputError(f"{what}: 'nodes' and '{edge_key}' must be lists")
    try:
        ids = [nd["id"] for nd in raw_nodes]
    except (KeyError, TypeError):
        raise InputError(f"{what}: every node needs an 'id'; node-link JSON lists nodes as {{'id': ...}}") from None
    if len(set(map(str, ids))) != len(ids):
        raise InputError(f"{what}: duplicate node ids; each node id must appear once")
    if node_names is not None:
        names, used_labels = rename_nodes(ids, node_names, what), True
    else:
        names, used_labels = choose_names(ids, [nd.get("name") for nd in raw_nodes])
    id_to_name = {str(i): n for i, n in zip(ids, names)}
    nodes = []
    for nd, nm in zip(raw_nodes, names):
        rec = {"name": nm}
        pos = nd.get("pos")
        if isinstance(pos, (list, tuple)) and len(pos) >= 2:
            rec["lon"], rec["lat"] = node_number(pos[0], what, nm, "lon"), node_number(pos[1], what, nm, "lat")
        elif pos is not None:
            raise InputError(f"{what}: node {nm} has pos {pos!r}; give pos as [longitude, latitude]")
        for lon_k, lat_k in (("lon", "lat"), ("Longitude", "Latitude"), ("longitude", "latitude")):
            if lon_k in nd and lat_k in nd:
                rec["lon"], rec["lat"] = node_number(nd[lon_k], what, nm, "lon"), node_number(nd[lat_k], what, nm, "lat")
        if nd.get("population") is not None:
            rec["population"] = node_number(nd["population"], what, nm, "population")
        if not used_labels and nd.get("name") is not None:
            rec["label"] = str(nd["name"])
        rec.update(_extras(nd, _NODE_SKIP | set(rec)))
        nodes.append(rec)
    if directed is None:
        directed = _flag(data, "directed", False, what)
    multigraph = _flag(data, "multigraph", False, what)
    links = []
    for k, e in enumerate(raw_links):
        try:
            s, t = id_to_name[str(e["source"])], id_to_name[str(e["target"])]
        except KeyError as err:
            raise InputError(f"{what}: {edge_key}[{k}] refers to unknown node id {err.args[0]!r}; "
                             "list every end point in 'nodes'") from None
        except TypeError:
            raise InputError(f"{what}: {edge_key}[{k}] needs 'source' and 'target'") from None
        rec = {"src": s, "dst": t}
        label = f"{s}->{t}" if directed else f"{s}-{t}"
        if capacity_key and e.get(capacity_key) is not None:
            rec["capacity"] = link_number(e[capacity_key], what, label, "capacity")
        for field, keys in (("length_km", ("length_km", "dist")), ("metric", ("metric", "weight")),
                            ("latency_ms", ("latency_ms",))):
            key = next((k2 for k2 in keys if e.get(k2) is not None), None)
            if key is not None:
                rec[field] = link_number(e[key], what, label, field)
        rec.update(_extras(e, {"source", "target", "key", "id", "capacity", "length_km", "dist", "metric",
                               "weight", "src", "dst", "latency_ms", "srlg", "name", "link"}))
        if e.get("srlg") is not None:
            srlg = e["srlg"]
            rec["srlg"] = ",".join(map(str, srlg)) if isinstance(srlg, list) else str(srlg)
        links.append(rec)
    if not multigraph:
        _no_duplicates(links, what, directed, 'give each link once, or set "multigraph": true for parallel links')
    m = {"directed_source": directed}
    m.update(meta or {})
    return _build(nodes, links, what=what, name=name, bidirectional=not directed, meta=m,
                  default_capacity=default_capacity)


@lru_cache(maxsize=1)
def topohub_keys() -> tuple[str, ...]:
    """All topology keys stored in the installed ``topohub`` package, sorted.

    >>> "sndlib/abilene" in topohub_keys()
    True
    """
    root = importlib.resources.files(topohub) / "data"
    keys: list[str] = []

    def walk(node, prefix):
        for child in node.iterdir():
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".json"):
                keys.append(prefix + child.name[:-5])

    try:
        walk(root, "")
    except OSError:
        return ()
    return tuple(sorted(keys))


def _unknown_key(key: str) -> InputError:

    close = difflib.get_close_matches(key, topohub_keys(), n=3, cutoff=0.6)
    hint = f"did you mean {close}? " if close else ""
    return InputError(f"topohub key {key!r} not found; {hint}valid keys look like "
                      f"{', '.join(repr(k) for k in _TOPOHUB_EXAMPLES)} (see surgeguard.io.topohub_keys())")


def read_topohub(key: str, *, capacity: float | None = None, name: str | None = None) -> Network:
    """Read a topology shipped with the ``topohub`` package.

    Parameters
    ----------
    key : str
        A topohub key, ``group/name``: ``'sndlib/abilene'``, ``'topozoo/Marwan'``,
        ``'caida/2024-08/3356'``, ``'backbone/eurasia'``, ... (:func:`topohub_keys` lists them).
    capacity : float, optional
        Capacity in bit/s for every link. topohub has no capacities: by default every link gets
        the placeholder :data:`PLACEHOLDER_CAPACITY` and ``meta['capacity_source'] == 'none'``;
        size them before routing (e.g. ``surgeguard.plan.size_capacities``).
    name : str, optional
        Network name; default the key.

    Returns
    -------
    Network
        Two directed links per topohub edge, ``length_km`` from the edge's ``dist``. Nodes are
        named by their ``name`` when every node has one and the names are unique; otherwise
        (caida, backbone) by ``str(id)``, with the original names in a ``label`` column.

    Raises
    ------
    InputError
        If the key is unknown.

    Examples
    --------
    >>> net = read_topohub("sndlib/abilene")
    >>> net.n_nodes, net.n_links, net.meta["capacity_source"]
    (12, 30, 'none')
    """
    if not isinstance(key, str) or not _KEY_RE.match(key) or ".." in key.split("/"):
        raise _unknown_key(str(key))

    try:
        data = topohub.get(key)
    except (KeyError, OSError, ValueError):
        raise _unknown_key(key) from None
    meta = {"source": f"topohub:{key}"}
    if capacity is not None:
        if not LINK_RANGES["capacity"].accepts(capacity):
            raise InputError(f"read_topohub({key!r}): capacity {capacity!r} bit/s must be "
                             f"{LINK_RANGES['capacity'].describe()} bit/s")
        for e in data["edges"]:
            e["capacity"] = float(capacity)
    net = _from_node_link(data, what=f"topohub {key!r}", name=name or key, directed=False, meta=meta,
                          capacity_key="capacity" if capacity is not None else None)
    if capacity is not None:
        net.meta["capacity_source"] = "uniform"
    return net


def read_node_link_json(path, *, node_names=None, default_capacity: float | None = None,
                        name: str | None = None) -> Network:
    """Read a networkx node-link JSON file (as written by ``nx.node_link_data``).

    Parameters
    ----------
    path : str or Path
        The JSON file, e.g. DOTE/FIGRET's ``GEANT.json``. Links are under ``links`` or ``edges``;
        ``capacity`` is in bit/s; ``directed: false`` gives two directed links per edge.
        Optional per-link ``metric`` (or ``weight``) and ``length_km`` (or ``dist``); optional
        node ``pos = [lon, lat]`` (or ``lon``/``lat``).
    node_names : sequence or mapping, optional
        New node names: a mapping ``{id: name}``, or a sequence indexed by the node id when the
        ids are ``0..N-1`` (else by file order). ``GEANT.json`` uses ids 0..21 for
        :data:`GEANT_NODES`, so ``node_names=GEANT_NODES`` gives the SNDlib names. Default: the
        node's ``name`` attribute when all are present and unique, else ``str(id)``.
    default_capacity : float, optional
        Capacity (bit/s) for links without one; default the placeholder (see module notes).
    name : str, optional
        Network name; default the file stem.

    Returns
    -------
    Network

    Raises
    ------
    InputError
        If the file is not valid JSON or not a node-link graph.
    """

    p = as_path(path, "node-link JSON")
    try:
        data = json.loads(read_text(p))
    except json.JSONDecodeError as err:
        raise InputError(f"node-link JSON {str(path)!r} is not valid JSON ({one_line(err)}); fix or re-export the file") from None
    except RecursionError:
        raise InputError(f"node-link JSON {str(path)!r} is nested too deeply to be a node-link graph; "
                         "fix or re-export the file") from None
    return _from_node_link(data, what=f"node-link JSON {str(path)!r}", name=name or p.stem,
                           node_names=node_names, default_capacity=default_capacity,
                           meta={"source": str(p)})


# ---------------------------------------------------------------------- SNDlib XML
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(el, child: str):
    if el is None:
        return None
    for c in el:
        if _local(c.tag) == child:
            return (c.text or "").strip()
    return None


def _child(el, child: str):
    if el is None:
        return None
    for c in el:
        if _local(c.tag) == child:
            return c
    return None


def read_sndlib_network(path, *, default_capacity: float | None = None, name: str | None = None) -> Network:
    """Read an SNDlib network XML file (namespace ``http://sndlib.zib.de/network``).

    Parameters
    ----------
    path : str or Path
        The XML file. Node ``<coordinates>`` give ``x`` = longitude and ``y`` = latitude when
        ``coordinatesType="geographical"``. Each ``<link>`` is undirected and gives two
        directed links; its capacity is the ``<preInstalledModule><capacity>``, in the file's
        ``<meta><unit>`` (default ``MBITPERSEC``, Mbit/s), converted to bit/s.
    default_capacity : float, optional
        Capacity (bit/s) for links without a pre-installed module (GÉANT's SNDlib file has only
        ``additionalModules``); default the placeholder (see module notes).
    name : str, optional
        Network name; default the file stem.

    Returns
    -------
    Network
        ``meta`` holds ``source``, ``unit`` and ``capacity_source``; links keep the SNDlib link
        id in ``sndlib_id``.

    Raises
    ------
    InputError
        If the file is not well-formed XML or is not an SNDlib network.
    """
    p = as_path(path, "SNDlib network XML")
    what = f"SNDlib network XML {str(path)!r}"
    blob = open_bytes(p)
    try:
        root = ET.fromstring(blob)
    except (ET.ParseError, LookupError, ValueError) as err:  # LookupError: an unknown encoding
        raise InputError(f"{what} is not well-formed XML ({one_line(err)}); fix or re-download the file") from None
    struct = _child(root, "networkStructure")
    if _local(root.tag) != "network" or struct is None:
        raise InputError(f"{what}: not an SNDlib network (root <network> with <networkStructure> expected)")
    unit = _text(_child(root, "meta"), "unit") or "MBITPERSEC"
    try:
        factor = float(to_bps(1.0, unit))
    except SurgeguardError:
        raise InputError(f"{what}: unknown capacity unit {unit!r} in <meta><unit>; use MBITPERSEC") from None
    node_el, link_el = _child(struct, "nodes"), _child(struct, "links")
    geographic = node_el is None or (node_el.get("coordinatesType", "geographical") or "").lower().startswith("geo")
    nodes = []
    for nd in (node_el if node_el is not None else []):
        if _local(nd.tag) != "node":
            continue
        nid = (nd.get("id") or "").strip()
        if not nid:
            raise InputError(f"{what}: a <node> has no id attribute; give every node an id")
        coords = _child(nd, "coordinates")
        x = node_number(_text(coords, "x"), what, nid, "lon")
        y = node_number(_text(coords, "y"), what, nid, "lat")
        nodes.append({"name": nid, "lon": x, "lat": y} if geographic else {"name": nid, "x": x, "y": y})
    if not nodes:
        raise InputError(f"{what}: no <node> elements; not a network file")
    known = {nd["name"] for nd in nodes}
    links, seen_ids = [], {}
    for lk in (link_el if link_el is not None else []):
        if _local(lk.tag) != "link":
            continue
        s, t = _text(lk, "source"), _text(lk, "target")
        lid = lk.get("id", f"{s}_{t}")
        if not s or not t:
            raise InputError(f"{what}: link {lk.get('id')!r} lacks <source> or <target>")
        for end in (s, t):
            if end not in known:
                raise InputError(f"{what}: link {lid!r} refers to node {end!r}, which is not declared in <nodes>; "
                                 "declare it or fix the link")
        if s == t:
            raise InputError(f"{what}: link {lid!r} starts and ends at {s!r}; remove the self-loop")
        if lid in seen_ids:
            raise InputError(f"{what}: link id {lid!r} appears twice ({seen_ids[lid]} and {s}-{t}); give each link "
                             "once (parallel links need their own ids)")
        seen_ids[lid] = f"{s}-{t}"
        rec = {"src": s, "dst": t, "sndlib_id": lid}
        pre = _child(lk, "preInstalledModule")
        if pre is not None and _child(pre, "capacity") is not None:
            rec["capacity"] = link_number(_text(pre, "capacity"), what, f"{lid!r} ({s}-{t})", "capacity",
                                          factor=factor)
        links.append(rec)
    return _build(nodes, links, what=what, name=name or p.stem, bidirectional=True,
                  meta={"source": str(p), "unit": unit, "directed_source": False},
                  default_capacity=default_capacity)


# ---------------------------------------------------------------------- GraphML
def read_graphml(path, *, default_capacity: float | None = None, name: str | None = None) -> Network:
    """Read a GraphML topology, such as the Internet Topology Zoo's.

    Parameters
    ----------
    path : str or Path
        The GraphML file. Nodes may have ``Longitude``/``Latitude`` (degrees) and ``label``;
        edges may have ``LinkSpeedRaw`` (bit/s), used as capacity. An undirected graph gives two
        directed links per edge; parallel edges are kept (``A->B#0``, ``A->B#1``); self-loops
        are dropped and counted in ``meta['dropped_self_loops']``.
    default_capacity : float, optional
        Capacity (bit/s) for edges without ``LinkSpeedRaw``; default the placeholder (see module
        notes).
    name : str, optional
        Network name; default the graph's ``label``/``Network`` attribute, else the file stem.

    Returns
    -------
    Network
        Nodes are named by ``label`` when every node has one and labels are unique, else by
        GraphML node id (labels then kept in a ``label`` column).

    Raises
    ------
    InputError
        If the file is not readable GraphML.
    """

    p = as_path(path, "GraphML")
    what = f"GraphML {str(path)!r}"
    blob = open_bytes(p)
    try:
        root = ET.fromstring(blob)
        with warnings.catch_warnings():  # "No key type for id ...": the values are checked below
            warnings.simplefilter("ignore", UserWarning)
            g = nx.parse_graphml(blob, force_multigraph=True)
    except (ET.ParseError, nx.NetworkXError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            LookupError) as err:
        raise InputError(f"{what} cannot be read as GraphML ({type(err).__name__}: {one_line(err)}); "
                         "fix or re-export the file") from None
    declared = {el.get("id") for el in root.iter() if _local(el.tag) == "node"}
    for el in root.iter():
        if _local(el.tag) == "edge":
            for end in ("source", "target"):
                if el.get(end) not in declared:
                    raise InputError(f"{what}: edge {el.get('source')!r} -> {el.get('target')!r} refers to node "
                                     f"{el.get(end)!r}, which has no <node> element; declare it or fix the edge")
    ids = list(g.nodes)
    names, used_labels = choose_names(ids, [g.nodes[i].get("label") for i in ids])
    id_to_name = dict(zip(ids, names))
    nodes = []
    for i, nm in zip(ids, names):
        a = g.nodes[i]
        rec = {"name": nm, "lon": node_number(a.get("Longitude", a.get("lon")), what, nm, "lon"),
               "lat": node_number(a.get("Latitude", a.get("lat")), what, nm, "lat")}
        if a.get("population") is not None:
            rec["population"] = node_number(a["population"], what, nm, "population")
        if not used_labels and a.get("label") is not None:
            rec["label"] = str(a["label"])
        rec.update(_extras(a, {"Longitude", "Latitude", "lon", "lat", "label", "name", "id", "population"}))
        nodes.append(rec)
    links, loops = [], 0
    for u, v, a in g.edges(data=True):
        if u == v:
            loops += 1
            continue
        rec = {"src": id_to_name[u], "dst": id_to_name[v]}
        label = f"{rec['src']}->{rec['dst']}" if g.is_directed() else f"{rec['src']}-{rec['dst']}"
        speed = a.get("LinkSpeedRaw", a.get("capacity"))
        if speed is not None:
            rec["capacity"] = link_number(speed, what, label, "capacity")
        for field in ("metric", "length_km", "latency_ms"):
            if a.get(field) is not None:
                rec[field] = link_number(a[field], what, label, field)
        rec.update(_extras(a, {"LinkSpeedRaw", "capacity", "id", "key", "src", "dst", "metric", "length_km",
                               "latency_ms", "name", "link"}))
        links.append(rec)
    label = g.graph.get("label") or g.graph.get("Network") or g.graph.get("name")
    return _build(nodes, links, what=what, name=name or (str(label) if label else p.stem),
                  bidirectional=not g.is_directed(),
                  meta={"source": str(p), "directed_source": g.is_directed(), "dropped_self_loops": loops},
                  default_capacity=default_capacity)


# ---------------------------------------------------------------------- CFR-RL text
def read_cfrrl(path, *, node_names: Sequence[str] | None = None, name: str | None = None) -> Network:
    """Read a CFR-RL topology text file.

    The format is a first line ``Node_num: N<TAB>Edge_num: E``, a header line, then ``E`` lines
    ``Link_index Source Destination OSPF Capacity(kbps)`` with 0-based node indices. Links are
    directed; the OSPF weight becomes ``metric`` and the capacity is converted from kbit/s.

    Parameters
    ----------
    path : str or Path
        The text file, e.g. ``cfrrl_Abilene.txt``.
    node_names : sequence of str, optional
        Names of nodes ``0..N-1`` (``ABILENE_NODES`` for CFR-RL's Abilene); default ``str(index)``.
    name : str, optional
        Network name; default the file stem.

    Returns
    -------
    Network

    Raises
    ------
    InputError
        If the header or a link line is malformed.
    """
    p = as_path(path, "CFR-RL topology")
    what = f"CFR-RL topology {str(path)!r}"
    lines = [(k, ln) for k, ln in enumerate(read_text(p).splitlines(), start=1) if ln.strip()]
    m = re.match(r"\s*Node_num:\s*(\d{1,9})\s+Edge_num:\s*(\d{1,9})(?!\d)", lines[0][1] if lines else "")
    if not m:
        raise InputError(f"{what}: first line must read 'Node_num: N  Edge_num: E'; not a CFR-RL file")
    n, e = int(m.group(1)), int(m.group(2))
    rows = lines[2:]
    if len(rows) != e:
        raise InputError(f"{what}: header says Edge_num {e} but the file has {len(rows)} link lines")
    if n < 2 or e < 1:
        raise InputError(f"{what}: Node_num {n}, Edge_num {e}; a network needs at least 2 nodes and one link")
    parsed = []
    for k, ln in rows:
        parts = ln.split()
        try:
            if len(parts) != 5:
                raise ValueError
            s, t = int(parts[1]), int(parts[2])
        except ValueError:
            raise InputError(f"{what}, line {k}: expected 5 fields 'Link_index Source Destination OSPF "
                             f"Capacity(kbps)', got {ln.strip()[:80]!r}") from None
        if not (0 <= s < n and 0 <= t < n):
            raise InputError(f"{what}, line {k}: node index out of range 0..{n - 1} in {ln.strip()[:80]!r}")
        if s == t:
            raise InputError(f"{what}, line {k}: the link starts and ends at node {s}; remove the self-loop")
        parsed.append((k, s, t, parts[3], parts[4]))
    used = {s for _, s, _, _, _ in parsed} | {t for _, _, t, _, _ in parsed}
    if len(used) < n:
        first = next(i for i in range(n) if i not in used)
        raise InputError(f"{what}: Node_num {n} but the links use {len(used)} nodes (node {first} has no link); "
                         "fix Node_num")
    ids = list(range(n))
    names = rename_nodes(ids, node_names, what) if node_names is not None else [str(i) for i in ids]
    links = []
    for k, s, t, ospf, cap in parsed:
        label = f"{names[s]}->{names[t]} (line {k})"
        links.append({"src": names[s], "dst": names[t], "metric": link_number(ospf, what, label, "metric"),
                      "capacity": link_number(cap, what, label, "capacity", factor=float(to_bps(1.0, "kbps")))})
    _no_duplicates(links, what, True, "give each directed link once")
    return _build([{"name": nm} for nm in names], links, what=what, name=name or p.stem, bidirectional=False,
                  meta={"source": str(p), "directed_source": True}, default_capacity=None)


# ---------------------------------------------------------------------- dispatch
def _sniff(p: Path) -> str:
    try:
        with open(p, "rb") as fh:
            return fh.read(512).decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    except OSError as err:
        raise InputError(f"network {str(p)!r} cannot be read ({err.strerror or one_line(err)}); check the path") from None


def read_network(spec, **kwargs) -> Network:
    """Read a network from a file path or a topohub key.

    Parameters
    ----------
    spec : str or Path
        A file: ``.xml`` (SNDlib, :func:`read_sndlib_network`), ``.json`` (node-link,
        :func:`read_node_link_json`), ``.graphml`` (:func:`read_graphml`), ``.txt`` starting
        with ``Node_num`` (:func:`read_cfrrl`); or a topohub key such as ``'sndlib/abilene'``
        (:func:`read_topohub`), optionally written ``'topohub:sndlib/abilene'``.
    **kwargs
        Passed to the chosen reader (``node_names``, ``default_capacity``, ``capacity``, ``name``).

    Returns
    -------
    Network

    Raises
    ------
    InputError
        If ``spec`` is neither a readable file nor a topohub key.

    Examples
    --------
    >>> read_network("topozoo/Marwan").n_nodes
    6
    """
    s = str(spec)
    if isinstance(spec, str) and s.startswith("topohub:"):
        return read_topohub(s[len("topohub:"):], **kwargs)
    p = Path(s).expanduser()
    try:
        exists = p.exists()
    except (OSError, ValueError):
        exists = False
    if exists and not p.is_dir():
        check_regular(p, "network")
        suffix = p.suffix.lower()
        if suffix == ".xml":
            return read_sndlib_network(p, **kwargs)
        if suffix == ".json":
            return read_node_link_json(p, **kwargs)
        if suffix == ".graphml":
            return read_graphml(p, **kwargs)
        head = _sniff(p)
        if head.startswith("Node_num"):
            return read_cfrrl(p, **kwargs)
        if head.startswith("<?xml") or head.startswith("<"):
            if "graphml" in head:
                return read_graphml(p, **kwargs)
            return read_sndlib_network(p, **kwargs)
        if head.startswith("{"):
            return read_node_link_json(p, **kwargs)
        raise InputError(f"network {s!r}: unrecognised file format; give a path to .xml (SNDlib), .json "
                         "(node-link), .graphml or .txt (CFR-RL, starting 'Node_num')")
    known = topohub_keys()
    if isinstance(spec, str) and _KEY_RE.match(s) and (s in known or not known):
        return read_topohub(s, **kwargs)
    raise InputError(f"network {s!r}: not a file and not a topohub key; give a path to "
                     ".xml/.json/.graphml/.txt or a key such as 'sndlib/abilene'")
