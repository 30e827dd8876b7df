"""Property-based fuzzing of every reader and of the Network and TrafficSeries models (hypothesis).

For each reader: files generated valid read back to the values written (capacities in Mbit/s or
kbit/s become exactly the same number of bit/s, demands likewise), and mutated or garbage files
(truncated, random bytes, NaN/inf/huge/negative/non-numeric numbers in fields, repeated entries)
give either a valid object (finite, in the declared ranges, consistent shapes) or a
:class:`~surgeguard.SurgeguardError` with a one-line message: never another exception.

Bounded and reproducible: ``derandomize=True`` (a fixed seed per test), no example database, a
fixed number of examples per test (the file runs in well under a minute on two cores).
"""

from __future__ import annotations

import io
import json
import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from surgeguard import Network, SurgeguardError, TrafficSeries
from surgeguard.io import (read_cfrrl, read_dote_hist, read_frame, read_graphml, read_network,
                           read_node_link_json, read_sndlib_demands, read_sndlib_network, read_traffic,
                           read_tunnels, read_zhang)
from surgeguard.network import LINK_RANGES
from surgeguard.routing import read_tunnels_file
from surgeguard.units import MAX_RATE_BPS

#: valid files that must read back exactly (each example builds a Network or a series: a few ms)
FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
#: mutated and garbage files (most fail fast, so more of them)
MUT = settings(FUZZ, max_examples=80)
FEW = settings(FUZZ, max_examples=20)

NAN, INF = float("nan"), float("inf")

# ---------------------------------------------------------------------- value strategies
#: positive rates in any unit that stay within MAX_RATE_BPS after conversion from Mbit/s
pos_values = st.one_of(st.floats(min_value=1e-3, max_value=1e8, allow_nan=False),
                       st.integers(min_value=1, max_value=10**8))
demand_values = st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=1e8, allow_nan=False),
                          st.integers(min_value=0, max_value=10**8))
#: values no reader may accept for a capacity or a metric (text as it would appear in a file)
bad_tokens = st.sampled_from(["NaN", "nan", "Infinity", "inf", "-inf", "-1", "-2.5e9", "0", "1e400", "1e308",
                              "10 Gbps", "abc", "1,5", "--1", "0x10", "", " ", "None", "true"])
#: values no reader may accept for a demand
bad_demand_tokens = st.sampled_from(["NaN", "nan", "Infinity", "inf", "-inf", "-1", "-0.5", "1e400", "1e308",
                                     "1e300", "10Mbps", "abc", "0x10"])
#: node names that survive a CSV round trip as text (a leading letter: '01' would come back as 1)
names_st = st.builds(lambda a, b: a + b, st.sampled_from("ABCDEFGHJKxyz"), st.text("ABCxyz019_-.", max_size=5))


def _outcome(call):
    """Run a reader: its value, or the SurgeguardError it raised (one line); anything else fails."""
    try:
        return call()
    except SurgeguardError as err:
        msg = str(err)
        assert msg and "\n" not in msg, f"error message is not one line: {msg!r}"
        return err


def _valid_network(net: Network) -> None:
    assert isinstance(net, Network)
    assert net.n_nodes >= 2 and net.n_links >= 1
    cap, met = net.capacity, net.metric
    assert cap.shape == met.shape == (net.n_links,)
    assert np.isfinite(cap).all() and (cap > 0).all() and (cap <= MAX_RATE_BPS).all()
    assert np.isfinite(met).all() and (met > 0).all()
    length = net.links["length_km"].to_numpy(float)
    assert ((length >= 0) | np.isnan(length)).all()
    assert (0 <= net.src).all() and (net.src < net.n_nodes).all() and (net.dst < net.n_nodes).all()
    assert (net.src != net.dst).all()
    assert len(set(net.link_names)) == net.n_links and len(set(net.node_names)) == net.n_nodes
    assert math.isfinite(float(cap.sum()))


def _valid_series(ts: TrafficSeries) -> None:
    assert isinstance(ts, TrafficSeries)
    n = len(ts.nodes)
    assert n >= 1 and len(set(ts.nodes)) == n
    assert ts.values.ndim in (3, 4) and ts.values.shape[-2:] == (n, n) and len(ts.times) == len(ts)
    assert len(ts) >= 1, "a reader returned an empty series"
    assert np.isfinite(ts.values).all() and (ts.values >= 0).all() and (ts.values <= MAX_RATE_BPS).all()
    assert math.isfinite(float(ts.values.sum()))
    assert ts.times.notna().all() and (np.diff(ts.times.asi8) > 0).all()


def _valid_or_error(value, check):
    if not isinstance(value, SurgeguardError):
        check(value)


@st.composite
def mutated(draw, text: str):
    """``text`` (as bytes) truncated, with bytes flipped, inserted or deleted, with another XML
    encoding declared, or replaced by noise."""
    raw = text if isinstance(text, bytes) else text.encode()
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "garbage", "prefix", "encoding"]))
    if kind == "encoding" and b"UTF-8" in raw:  # an XML declaration naming an unknown or wrong encoding
        return raw.replace(b"UTF-8", draw(st.sampled_from([b"U-F-8", b"UTF-16", b"ascii", b"", b"utf-32-be"])), 1)
    if kind == "truncate":
        return raw[: draw(st.integers(0, max(len(raw) - 1, 0)))]
    if kind == "garbage":
        return draw(st.binary(min_size=0, max_size=300))
    if kind == "prefix":
        return draw(st.binary(min_size=1, max_size=20)) + raw
    out = bytearray(raw)
    for _ in range(draw(st.integers(1, 6))):
        if not out:
            break
        i = draw(st.integers(0, len(out) - 1))
        if kind == "flip":
            out[i] = draw(st.integers(0, 255))
        elif kind == "insert":
            out[i:i] = draw(st.binary(min_size=1, max_size=4))
        else:
            del out[i]
    return bytes(out)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _write(path, data):
    (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
    return path


# ---------------------------------------------------------------------- topologies
@st.composite
def graphs(draw, max_nodes=6):
    """``(n, links)``: n nodes, at least one link, no self-loop, no repeated unordered pair;
    each link ``(u, v, capacity or None, metric or None)``."""
    n = draw(st.integers(2, max_nodes))
    pairs = [(u, v) for u in range(n) for v in range(u + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=len(pairs), unique=True))
    links = []
    for u, v in chosen:
        if draw(st.booleans()):
            u, v = v, u
        cap = draw(st.one_of(st.none(), pos_values))
        metric = draw(st.one_of(st.none(), st.integers(1, 65535)))
        links.append((u, v, cap, metric))
    return n, links


def _node_link_text(n, links, directed):
    data = {"directed": directed, "multigraph": False, "graph": {},
            "nodes": [{"id": i, "pos": [float(i), float(i % 3)]} for i in range(n)],
            "links": [{"source": u, "target": v, **({} if c is None else {"capacity": c}),
                       **({} if m is None else {"weight": m})} for u, v, c, m in links]}
    return json.dumps(data)


@FUZZ
@given(g=graphs(), directed=st.booleans())
def test_node_link_json_round_trip(work, g, directed):
    n, links = g
    f = _write(work / "nl.json", _node_link_text(n, links, directed))
    net = read_node_link_json(f)
    _valid_network(net)
    assert net.n_links == len(links) * (1 if directed else 2)
    for u, v, c, m in links:
        for a, b in ([(u, v)] if directed else [(u, v), (v, u)]):
            row = net.links.loc[f"{a}->{b}"]
            assert row["capacity"] == (1.0 if c is None else float(c))  # bit/s as given, or the placeholder
            assert row["metric"] == (1.0 if m is None else float(m))
    assert net.meta["capacity_source"] == ("file" if all(c is not None for _, _, c, _ in links) else
                                           "none" if all(c is None for _, _, c, _ in links) else "partial")


@MUT
@given(g=graphs(), data=st.data())
def test_node_link_json_mutated(work, g, data):
    n, links = g
    text = _node_link_text(n, links, data.draw(st.booleans()))
    f = _write(work / "nlm.json", data.draw(mutated(text)))
    _valid_or_error(_outcome(lambda: read_node_link_json(f)), _valid_network)


@MUT
@given(g=graphs(), field=st.sampled_from(["capacity", "weight", "dist"]),
       bad=st.sampled_from([NAN, INF, -INF, -1.0, 1e300, "10 Gbps", "", True, False, [], {}, 10 ** 400, "NaN"]),
       multigraph_dup=st.booleans())
def test_node_link_json_invalid_values_are_refused(work, g, field, bad, multigraph_dup):
    n, links = g
    data = json.loads(_node_link_text(n, links, False))
    if field == "dist" and bad == 1e300:
        bad = 1e6  # 1e300 km is refused, so is anything above MAX_LENGTH_KM
    data["links"][0][field] = bad
    if multigraph_dup:
        data["links"].append(dict(data["links"][-1]))
        data["links"][-1][field] = 1.0  # a valid value: the duplicate alone must be refused
        data["links"][0].pop(field)
    f = _write(work / "nlb.json", json.dumps(data))
    out = _outcome(lambda: read_node_link_json(f))
    assert isinstance(out, SurgeguardError), f"accepted {field}={bad!r}"
    assert "nlb.json" in str(out)


def _sndlib_net_text(n, links, unit="MBITPERSEC", cap_text=None):
    nodes = "".join(f'<node id="N{i}"><coordinates><x>{i * 1.5}</x><y>{-i}</y></coordinates></node>' for i in range(n))
    lk = []
    for k, (u, v, c, _) in enumerate(links):
        text = cap_text if (cap_text is not None and k == 0) else (None if c is None else repr(float(c)))
        pre = "" if text is None else f"<preInstalledModule><capacity>{text}</capacity><cost>1</cost></preInstalledModule>"
        lk.append(f'<link id="L{k}"><source>N{u}</source><target>N{v}</target>{pre}</link>')
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<network xmlns="http://sndlib.zib.de/network" version="1.0">'
            f"<meta><unit>{unit}</unit></meta><networkStructure><nodes coordinatesType=\"geographical\">{nodes}"
            f"</nodes><links>{''.join(lk)}</links></networkStructure></network>\n")


@FUZZ
@given(g=graphs())
def test_sndlib_network_round_trip(work, g):
    n, links = g
    f = _write(work / "net.xml", _sndlib_net_text(n, links))
    net = read_sndlib_network(f)
    _valid_network(net)
    assert net.n_links == 2 * len(links)
    for k, (u, v, c, _) in enumerate(links):
        want = 1.0 if c is None else float(c) * 1e6  # Mbit/s to bit/s, exactly
        assert net.links.loc[f"N{u}->N{v}", "capacity"] == want == net.links.loc[f"N{v}->N{u}", "capacity"]
        assert net.links.loc[f"N{u}->N{v}", "sndlib_id"] == f"L{k}"


@MUT
@given(g=graphs(), data=st.data())
def test_sndlib_network_mutated(work, g, data):
    n, links = g
    f = _write(work / "netm.xml", data.draw(mutated(_sndlib_net_text(n, links))))
    _valid_or_error(_outcome(lambda: read_sndlib_network(f)), _valid_network)


@MUT
@given(g=graphs(), bad=bad_tokens)
def test_sndlib_network_invalid_capacity_is_refused(work, g, bad):
    n, links = g
    f = _write(work / "netb.xml", _sndlib_net_text(n, links, cap_text=bad))
    out = _outcome(lambda: read_sndlib_network(f))
    assert isinstance(out, SurgeguardError), f"accepted capacity {bad!r}"
    assert "netb.xml" in str(out) and "'L0'" in str(out)


def _graphml_text(n, links, *, first_speed=None, speed_type="double"):
    keys = ('<key id="lab" for="node" attr.name="label" attr.type="string"/>'
            '<key id="lon" for="node" attr.name="Longitude" attr.type="double"/>'
            '<key id="lat" for="node" attr.name="Latitude" attr.type="double"/>'
            f'<key id="sp" for="edge" attr.name="LinkSpeedRaw" attr.type="{speed_type}"/>')
    nodes = "".join(f'<node id="n{i}"><data key="lab">City{i}</data><data key="lon">{i}</data>'
                    f'<data key="lat">{-i}</data></node>' for i in range(n))
    edges = []
    for k, (u, v, c, _) in enumerate(links):
        speed = first_speed if (first_speed is not None and k == 0) else None if c is None else repr(float(c) * 1e6)
        data = "" if speed is None else f'<data key="sp">{speed}</data>'
        edges.append(f'<edge source="n{u}" target="n{v}">{data}</edge>')
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
            f'{keys}<graph edgedefault="undirected"><data key="lab">fuzz</data>{nodes}{"".join(edges)}</graph></graphml>\n')


@FEW
@given(g=graphs())
def test_graphml_round_trip(work, g):
    n, links = g
    f = _write(work / "z.graphml", _graphml_text(n, links))
    net = read_graphml(f)
    _valid_network(net)
    assert net.n_links == 2 * len(links)
    for u, v, c, _ in links:
        assert net.links.loc[f"City{u}->City{v}", "capacity"] == (1.0 if c is None else float(c) * 1e6)
    # the same graph through networkx's writer
    g2 = nx.MultiGraph()
    for i in range(n):
        g2.add_node(f"n{i}", label=f"City{i}")
    for u, v, c, _ in links:
        g2.add_edge(f"n{u}", f"n{v}", **({} if c is None else {"LinkSpeedRaw": float(c) * 1e6}))
    nx.write_graphml(g2, work / "z2.graphml")
    assert sorted(read_graphml(work / "z2.graphml").capacity) == sorted(net.capacity)


@MUT
@given(g=graphs(), data=st.data())
def test_graphml_mutated(work, g, data):
    n, links = g
    kind = data.draw(st.sampled_from(["bytes", "speed", "undeclared"]))
    if kind == "bytes":
        blob = data.draw(mutated(_graphml_text(n, links)))
    elif kind == "speed":
        bad = data.draw(bad_tokens)
        blob = _graphml_text(n, links, first_speed=bad, speed_type=data.draw(st.sampled_from(["double", "string"])))
    else:
        u, v = links[0][:2]
        blob = _graphml_text(n, links).replace(f'<edge source="n{u}" target="n{v}">',
                                               f'<edge source="n{u}" target="ghost">', 1)
    f = _write(work / "zm.graphml", blob)
    out = _outcome(lambda: read_graphml(f))
    _valid_or_error(out, _valid_network)
    if kind != "bytes":
        assert isinstance(out, SurgeguardError), f"accepted a GraphML with a {kind} problem"


def _cfrrl_text(n, links, cap_token=None, metric_token=None):
    rows = [f"{k}\t{u}\t{v}\t{metric_token if (metric_token and k == 0) else (m or 1)}\t"
            f"{cap_token if (cap_token and k == 0) else repr(float(c if c is not None else 1000))}"
            for k, (u, v, c, m) in enumerate(links)]
    return f"Node_num: {n}\tEdge_num: {len(links)}\nLink_index\tSource\tDestination\tOSPF\tCapacity(kbps)\n" + \
        "\n".join(rows) + "\n"


@st.composite
def connected_graphs(draw):
    """Graphs whose links touch every node (CFR-RL files list no isolated nodes)."""
    n, links = draw(graphs())
    used = {u for u, *_ in links} | {v for _, v, *_ in links}
    assume(len(used) == n)
    return n, links


@FUZZ
@given(g=connected_graphs())
def test_cfrrl_round_trip(work, g):
    n, links = g
    f = _write(work / "cfrrl.txt", _cfrrl_text(n, links))
    net = read_cfrrl(f)
    _valid_network(net)
    assert net.n_links == len(links)
    for u, v, c, m in links:
        assert net.links.loc[f"{u}->{v}", "capacity"] == float(c if c is not None else 1000) * 1e3  # kbit/s
        assert net.links.loc[f"{u}->{v}", "metric"] == float(m or 1)
    assert read_network(f).n_links == len(links)


@MUT
@given(g=connected_graphs(), data=st.data())
def test_cfrrl_mutated(work, g, data):
    n, links = g
    kind = data.draw(st.sampled_from(["bytes", "cap", "metric"]))
    if kind == "bytes":
        blob = data.draw(mutated(_cfrrl_text(n, links)))
    else:
        tok = data.draw(bad_tokens.filter(lambda t: t.strip() and " " not in t))
        blob = _cfrrl_text(n, links, **({"cap_token": tok} if kind == "cap" else {"metric_token": tok}))
    f = _write(work / "cfrrlm.txt", blob)
    out = _outcome(lambda: read_cfrrl(f))
    _valid_or_error(out, _valid_network)
    if kind != "bytes":
        assert isinstance(out, SurgeguardError), f"accepted {kind} {tok!r}"


# ---------------------------------------------------------------------- traffic
def _demand_xml(stamp, demands, nodes):
    nd = "".join(f'<node id="{x}"><coordinates><x>0</x><y>0</y></coordinates></node>' for x in nodes)
    dm = "".join(f'<demand id="{s}_{t}"><source>{s}</source><target>{t}</target>'
                 f"<demandValue> {v} </demandValue></demand>" for s, t, v in demands)
    return (f'<?xml version="1.0"?>\n<network xmlns="http://sndlib.zib.de/network" version="1.0">'
            f"<meta><granularity>5min</granularity><time>{stamp}</time><unit>MBITPERSEC</unit></meta>"
            f'<networkStructure><nodes coordinatesType="geographical">{nd}</nodes><links></links>'
            f"</networkStructure><demands>{dm}</demands></network>\n")


@st.composite
def demand_sets(draw, max_nodes=4):
    n = draw(st.integers(2, max_nodes))
    nodes = [f"P{i}" for i in range(n)]
    pairs = [(a, b) for a in nodes for b in nodes if a != b]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=len(pairs), unique=True))
    return nodes, [(a, b, draw(demand_values)) for a, b in chosen]


@FUZZ
@given(d=demand_sets())
def test_sndlib_demands_round_trip(work, d):
    nodes, demands = d
    f = _write(work / "tm.xml", _demand_xml("20200320-0000", [(a, b, repr(float(v))) for a, b, v in demands], nodes))
    ts = read_sndlib_demands(f, drop_empty=False)
    _valid_series(ts)
    assert ts.nodes == tuple(nodes) and len(ts) == 1
    for a, b, v in demands:
        assert ts.values[0, nodes.index(a), nodes.index(b)] == float(v) * 1e6  # Mbit/s to bit/s, exactly


@MUT
@given(d=demand_sets(), data=st.data())
def test_sndlib_demands_mutated(work, d, data):
    nodes, demands = d
    kind = data.draw(st.sampled_from(["bytes", "value", "repeat", "time"]))
    rows = [(a, b, repr(float(v))) for a, b, v in demands]
    stamp = "20200320-0000"
    if kind == "value":
        rows[0] = (rows[0][0], rows[0][1], data.draw(bad_demand_tokens))
    elif kind == "repeat":
        rows.append(rows[0])
    elif kind == "time":
        stamp = data.draw(st.sampled_from(["20201399-9999", "2020", "x", "99999999-0000", ""]))
    text = _demand_xml(stamp, rows, nodes)
    f = _write(work / "tmm.xml", data.draw(mutated(text)) if kind == "bytes" else text)
    out = _outcome(lambda: read_sndlib_demands(f))
    _valid_or_error(out, _valid_series)
    if kind in ("value", "repeat"):
        assert isinstance(out, SurgeguardError) and "tmm.xml" in str(out)


@st.composite
def matrices(draw, max_nodes=3, max_rows=4):
    n = draw(st.integers(1, max_nodes))
    rows = draw(st.lists(st.lists(demand_values, min_size=n * n, max_size=n * n), min_size=1, max_size=max_rows))
    return n, rows


def _rows_text(rows):
    return "\n".join(" ".join(repr(float(x)) for x in r) for r in rows) + "\n"


@FUZZ
@given(m=matrices())
def test_zhang_and_dote_round_trip(work, m):
    n, rows = m
    nodes = [f"v{i}" for i in range(n)]
    z = read_zhang(_write(work / "X02_fuzz.txt", _rows_text(rows)), nodes=nodes, keep_diagonal=True)
    h = read_dote_hist(_write(work / "fuzz.hist", _rows_text(rows)), nodes)
    for ts in (z, h):
        _valid_series(ts)
        assert ts.values.shape == (len(rows), n, n)
    arr = np.array(rows, dtype=float).reshape(len(rows), n, n)
    np.testing.assert_array_equal(h.values, arr)  # bit/s as written
    np.testing.assert_array_equal(z.values, arr * (100.0 * 8.0 / 300.0))  # 100 bytes per 5 min to bit/s
    assert z.times[0] == pd.Timestamp("2004-03-08", tz="UTC")


@MUT
@given(m=matrices(), data=st.data())
def test_zhang_and_dote_mutated(work, m, data):
    n, rows = m
    nodes = [f"v{i}" for i in range(n)]
    text = _rows_text(rows)
    kind = data.draw(st.sampled_from(["bytes", "value"]))
    if kind == "value":
        toks = text.split()
        toks[data.draw(st.integers(0, len(toks) - 1))] = data.draw(bad_demand_tokens)
        per = n * n
        blob = "\n".join(" ".join(toks[i:i + per]) for i in range(0, len(toks), per)) + "\n"
    else:
        blob = data.draw(mutated(text))
    for call in (lambda: read_zhang(_write(work / "X03_m.txt", blob), nodes=nodes),
                 lambda: read_dote_hist(_write(work / "m.hist", blob), nodes),
                 lambda: read_traffic(_write(work / "m2.hist", blob), nodes=nodes)):
        out = _outcome(call)
        _valid_or_error(out, _valid_series)
        if kind == "value":
            assert isinstance(out, SurgeguardError)


@st.composite
def frames(draw, classes=False):
    nodes = draw(st.lists(names_st, min_size=2, max_size=4, unique=True))
    times = pd.date_range("2020-03-20", periods=draw(st.integers(1, 3)), freq="5min", tz="UTC")
    keys = [(t, s, d) for t in times for s in nodes for d in nodes if s != d]
    chosen = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=min(len(keys), 12), unique=True))
    rows = [{"ds": t.isoformat(), "src": s, "dst": d, "mbps": float(draw(demand_values))} for t, s, d in chosen]
    if classes:
        for r in rows:
            r["class"] = "gold"
    return nodes, pd.DataFrame(rows)


@FUZZ
@given(fr=frames(), parquet=st.booleans())
def test_frame_round_trip(work, fr, parquet):
    nodes, df = fr
    f = work / ("fr.parquet" if parquet else "fr.csv")
    df.to_parquet(f, index=False) if parquet else df.to_csv(f, index=False)
    ts = read_frame(f, nodes=nodes)
    _valid_series(ts)
    for r in df.itertuples():
        t = ts.times.get_loc(pd.Timestamp(r.ds))
        assert ts.values[t, nodes.index(r.src), nodes.index(r.dst)] == r.mbps * 1e6  # Mbit/s to bit/s, exactly
    assert ts.values.sum() == pytest.approx(df["mbps"].sum() * 1e6)


@MUT
@given(fr=frames(), data=st.data())
def test_frame_mutated(work, fr, data):
    nodes, df = fr
    kind = data.draw(st.sampled_from(["bytes", "value", "repeat", "empty", "header", "parquet"]))
    df = df.astype({"mbps": object})
    must_fail = kind in ("value", "repeat", "empty", "header")
    if kind == "value":
        df.loc[data.draw(st.integers(0, len(df) - 1)), "mbps"] = data.draw(bad_demand_tokens)
    elif kind == "repeat":
        df = pd.concat([df, df.iloc[[data.draw(st.integers(0, len(df) - 1))]]], ignore_index=True)
    elif kind == "empty":
        df.loc[data.draw(st.integers(0, len(df) - 1)), data.draw(st.sampled_from(["ds", "src", "dst", "mbps"]))] = None
    elif kind == "header":
        df = df.iloc[:0]
    if kind == "parquet":
        buf = io.BytesIO()
        df.astype({"mbps": float}).to_parquet(buf, index=False)
        f = _write(work / "frm.parquet", data.draw(mutated(buf.getvalue())))
    else:
        text = df.to_csv(index=False)
        f = _write(work / "frm.csv", data.draw(mutated(text)) if kind == "bytes" else text)
    out = _outcome(lambda: read_frame(f))
    _valid_or_error(out, _valid_series)
    if must_fail:
        assert isinstance(out, SurgeguardError), f"accepted a frame with a {kind} problem"


def _tunnels_text(n, ods):
    return "".join(f"{s} {t}:{','.join('-'.join(map(str, p)) for p in paths)}\n" for s, t, paths in ods)


@st.composite
def tunnel_sets(draw):
    n = draw(st.integers(2, 5))
    pairs = [(s, t) for s in range(n) for t in range(n) if s != t]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=len(pairs), unique=True))
    ods = []
    for s, t in chosen:
        mids = draw(st.lists(st.lists(st.sampled_from([i for i in range(n) if i not in (s, t)] or [s]),
                                      max_size=n - 2, unique=True), min_size=1, max_size=3))
        paths = [[s] + [m for m in mid if m not in (s, t)] + [t] for mid in mids]
        ods.append((s, t, paths))
    return n, ods


@FUZZ
@given(ts_=tunnel_sets())
def test_tunnels_round_trip(work, ts_):
    n, ods = ts_
    names = [f"r{i}" for i in range(n)]
    f = _write(work / "tunnels.txt", _tunnels_text(n, ods))
    out = read_tunnels(f, names)
    assert [(s, t) for s, t, _ in out] == [(names[s], names[t]) for s, t, _ in ods]
    assert [p for _, _, ps in out for p in ps] == [[names[i] for i in p] for _, _, ps in ods for p in ps]
    # on a full mesh every hop is a link
    net = Network.from_records([{"name": x} for x in names],
                               [{"src": a, "dst": b, "capacity": 1e9} for a in names for b in names if a != b])
    ps = read_tunnels_file(net, f)
    assert ps.n_paths == sum(len(p) for _, _, p in ods) and ps.n_od == len(ods)


@MUT
@given(ts_=tunnel_sets(), data=st.data())
def test_tunnels_mutated(work, ts_, data):
    n, ods = ts_
    names = [f"r{i}" for i in range(n)]
    f = _write(work / "tunm.txt", data.draw(mutated(_tunnels_text(n, ods))))
    net = Network.from_records([{"name": x} for x in names],
                               [{"src": a, "dst": b, "capacity": 1e9} for a in names for b in names if a != b])
    for call in (lambda: read_tunnels(f, names), lambda: read_tunnels_file(net, f)):
        out = _outcome(call)
        if isinstance(out, list):
            for s, t, paths in out:
                assert paths and all(p[0] == s and p[-1] == t and len(set(p)) == len(p) for p in paths)
        elif not isinstance(out, SurgeguardError):
            assert out.n_paths >= 1 and out.incidence.shape == (net.n_links, out.n_paths)


# ---------------------------------------------------------------------- the models
any_value = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10**20),
                      st.sampled_from(["1e9", "10 Gbps", "", "nan", "-5", True, False]))


@MUT
@given(nodes=st.lists(st.fixed_dictionaries({"name": st.sampled_from("ABCD")},
                                            optional={"lon": any_value, "lat": any_value, "population": any_value}),
                      min_size=0, max_size=4),
       links=st.lists(st.fixed_dictionaries({"src": st.sampled_from("ABCDE"), "dst": st.sampled_from("ABCDE")},
                                            optional={"capacity": any_value, "metric": any_value,
                                                      "length_km": any_value, "latency_ms": any_value}),
                      min_size=0, max_size=5),
       bidirectional=st.booleans(), default=st.one_of(st.none(), any_value))
def test_network_from_records_fuzzed(nodes, links, bidirectional, default):
    out = _outcome(lambda: Network.from_records(nodes, links, bidirectional=bidirectional, default_capacity=default))
    _valid_or_error(out, _valid_network)
    if not isinstance(out, SurgeguardError):
        given_caps = [lk["capacity"] for lk in links if lk.get("capacity") is not None
                      and not (isinstance(lk["capacity"], float) and math.isnan(lk["capacity"]))]
        for c in given_caps:  # every given capacity was a valid number and is kept
            assert LINK_RANGES["capacity"].accepts(float(c))


@FUZZ
@given(caps=st.lists(st.floats(min_value=1e-3, max_value=MAX_RATE_BPS), min_size=1, max_size=4))
def test_network_from_records_keeps_valid_values(caps):
    links = [{"src": "A", "dst": "B", "capacity": c, "metric": k + 1} for k, c in enumerate(caps)]
    net = Network.from_records([{"name": "A"}, {"name": "B"}], links, bidirectional=True)
    _valid_network(net)
    assert net.capacity.tolist() == caps + caps


@MUT
@given(values=st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 10**18)),
                       min_size=1, max_size=18),
       n=st.integers(1, 3), nodes=st.lists(st.sampled_from("ABCD"), min_size=0, max_size=4),
       times=st.one_of(st.none(), st.lists(st.sampled_from(["2020-01-01", "2020-01-02", "2019-12-31", None, "x"]),
                                           min_size=1, max_size=2)))
def test_traffic_series_fuzzed(values, n, nodes, times):
    arr = np.array(values, dtype=float)
    t = len(arr) // (n * n)
    assume(t >= 1)
    arr = arr[: t * n * n].reshape(t, n, n)
    out = _outcome(lambda: TrafficSeries(arr, nodes, times))
    if not isinstance(out, SurgeguardError):
        _valid_series(out)
        np.testing.assert_array_equal(out.values, arr)  # accepted values are kept as they are
    else:
        ok = ((arr >= 0) & (arr <= MAX_RATE_BPS)).all() and len(set(nodes)) == len(nodes) == n
        if ok and times is None:
            pytest.fail(f"refused a valid series: {out}")
