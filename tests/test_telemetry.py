"""Telemetry files: LinkLoads, interface maps, octet counters (wraps, resets, gaps) and the readers."""

import numpy as np
import pandas as pd
import pytest

from surgeguard.examples import ring, triangle
from surgeguard.exceptions import InputError, ValidationError
from surgeguard.igp import ecmp_routing_matrix
from surgeguard.network import Network
from surgeguard.telemetry import (InterfaceCounters, InterfaceMap, LinkLoads, TelemetryWarning, counter_rates,
                                  read_counters, read_interface_map, read_link_loads, write_counters,
                                  write_link_loads)
from surgeguard.traffic import TrafficSeries

STEP = 300  # seconds
T0 = pd.Timestamp("2024-03-01", tz="UTC")


def times(n, step=STEP):
    return pd.date_range(T0, periods=n, freq=f"{step}s")


def one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def loads_for(net: Network, T: int, seed: int = 0) -> LinkLoads:
    """Loads from a random series routed over the IGP, with rates that are whole octets per step."""
    rng = np.random.default_rng(seed)
    # octets per step -> bit/s = octets * 8 / STEP; integer octets keep counters exact
    tm = rng.integers(0, 10**9, size=(T, net.n_nodes, net.n_nodes)).astype(float) * 8 / STEP
    ts = TrafficSeries(tm, net.node_names, times(T), name="random")
    return LinkLoads.from_traffic(ecmp_routing_matrix(net), ts)


def counters_for(imap: InterfaceMap, loads: LinkLoads, start: np.ndarray, speed_mbps=None):
    """The counter samples a router would export for ``loads`` (one more sample than intervals),
    starting at ``start`` octets per (interface, direction) and wrapping modulo 2**64, and the
    link loads they encode exactly (whole octets per step: ECMP halves are rounded)."""
    i_bps, o_bps = imap.interface_rates_from_loads(loads)
    T, n = i_bps.shape
    rows, exact = [], []
    for rates, first in ((i_bps, start[0]), (o_bps, start[1])):
        inc = np.rint(rates * STEP / 8).astype(np.uint64)  # octets per step
        exact.append(inc.astype(float) * 8 / STEP)
        c = np.zeros((T + 1, n), dtype=np.uint64)
        c[0] = first
        with np.errstate(over="ignore"):
            for t in range(T):
                c[t + 1] = c[t] + inc[t]  # uint64 arithmetic wraps like the router's counter
        rows.append(c)
    ds = np.repeat(times(T + 1), n)
    df = pd.DataFrame({"ds": ds, "instance": np.tile(imap.instance, T + 1), "ifName": np.tile(imap.ifname, T + 1),
                       "in_octets": rows[0].ravel(), "out_octets": rows[1].ravel()})
    if speed_mbps is not None:
        df["speed_mbps"] = speed_mbps
    return df, imap.rates_to_loads(exact[0], exact[1], loads.times)


# ---------------------------------------------------------------------- LinkLoads
def test_link_loads_validates_values_and_times():
    with pytest.raises(ValidationError, match=r"negative rate -1.0 bit/s at step 1 .* link B->A"):
        LinkLoads(times(2), ["A->B", "B->A"], [[1.0, 2.0], [3.0, -1.0]])
    with pytest.raises(ValidationError, match="times must increase"):
        LinkLoads(times(2)[::-1], ["A->B"], [[1.0], [2.0]])
    with pytest.raises(ValidationError, match="duplicate link names"):
        LinkLoads(times(1), ["A->B", "A->B"], [[1.0, 2.0]])
    with pytest.raises(ValidationError, match="shape"):
        LinkLoads(times(2), ["A->B"], [[1.0, 2.0]])
    ll = LinkLoads(times(3), ["A->B"], [[1.0], [np.nan], [3.0]])  # NaN = not measured
    assert ll.step == pd.Timedelta(seconds=STEP) and len(ll.window(1, 3)) == 2


def test_from_traffic_totals_and_conservation():
    net = ring(6)
    ll = loads_for(net, 4)
    rm = ecmp_routing_matrix(net)
    ts = TrafficSeries(np.ones((1, 6, 6)) * 1e6, net.node_names, times(1))
    one = LinkLoads.from_traffic(rm, ts)
    np.testing.assert_allclose(one.ingress, 6e6)  # the diagonal counts in the totals
    # flow conservation at every node: in over links + ingress = out over links + egress
    into = np.zeros((4, 6)); out = np.zeros((4, 6))
    np.add.at(into.T, net.dst, ll.bps.T)
    np.add.at(out.T, net.src, ll.bps.T)
    np.testing.assert_allclose(into + ll.ingress, out + ll.egress, rtol=1e-12)


def test_align_names_unknown_links_and_marks_missing_ones():
    net = triangle()
    ll = LinkLoads(times(1), ["B->A", "A->B"], [[2.0, 1.0]])
    al = ll.align(net)
    assert al.links == net.link_names
    assert al.bps[0, net.link_names.index("A->B")] == 1.0 and np.isnan(al.bps).sum() == 4
    assert any("4 link(s)" in n for n in al.notes)
    with pytest.raises(InputError, match=r"'A->Z'"):
        LinkLoads(times(1), ["A->Z"], [[1.0]]).align(net)


# ---------------------------------------------------------------------- interface map
def test_default_map_round_trip_and_rates_inverse(tmp_path):
    net = ring(5)
    imap = InterfaceMap.default(net)
    assert len(imap) == net.n_links + net.n_nodes
    f = tmp_path / "map.csv"
    imap.to_frame().to_csv(f, index=False)
    back = read_interface_map(f, net)
    pd.testing.assert_frame_equal(back.to_frame(), imap.to_frame())
    ll = loads_for(net, 3)
    i_bps, o_bps = imap.interface_rates_from_loads(ll)
    again = imap.rates_to_loads(i_bps, o_bps, ll.times)
    np.testing.assert_array_equal(again.bps, ll.bps)
    np.testing.assert_array_equal(again.ingress, ll.ingress)
    np.testing.assert_array_equal(again.egress, ll.egress)
    # an unknown out counter is taken from the far end's in counter
    o_bps[1, imap.out_of_link[0]] = np.nan
    filled = imap.rates_to_loads(i_bps, o_bps, ll.times)
    assert filled.bps[1, 0] == ll.bps[1, 0] and "far end" in filled.notes[0]


def test_map_refuses_an_interface_that_maps_to_no_link():
    net = triangle()
    df = InterfaceMap.default(net).to_frame()
    df.loc[3, "link"] = "B->Z"
    with pytest.raises(InputError) as err:
        InterfaceMap.from_frame(df, net, what="map.csv")
    assert "data row 4" in one_line(err) and "'B->Z'" in one_line(err) and "maps to no link" in one_line(err)


def test_map_refuses_bad_rows():
    net = triangle()
    base = InterfaceMap.default(net).to_frame()
    cases = [("role", 0, "router", "role 'router' in data row 1"),
             ("node", 1, "Q", "node 'Q' in data row 2"),
             ("link", 0, "B->C", "starts at B"),
             ("link", 6, "A->B", "edge interface"),
             ("ifName", 2, "et-0/0/0", "data rows 1 and 3 both describe interface A/et-0/0/0")]
    for col, row, value, msg in cases:
        df = base.copy()
        df.loc[row, col] = value
        with pytest.raises(InputError) as err:
            InterfaceMap.from_frame(df, net, what="map.csv")
        assert msg in one_line(err), (col, one_line(err))
    df = base.copy()
    df.loc[2, "link"] = "A->B"  # A's second interface claims A->B too
    df.loc[2, "in_link"] = ""
    with pytest.raises(InputError, match="data rows 1 and 3 both measure link A->B"):
        InterfaceMap.from_frame(df, net)


def test_map_warns_for_links_and_nodes_without_interfaces():
    net = triangle()
    df = InterfaceMap.default(net).to_frame()
    df = df[~((df["link"] == "A->B") | (df["link"] == "B->A") | (df["node"] == "C") & (df["role"] == "edge"))]
    df = df.assign(in_link="")
    with pytest.warns(TelemetryWarning) as rec:
        imap = InterfaceMap.from_frame(df, net)
    text = " ".join(str(w.message) for w in rec)
    assert "2 link(s) have no interface" in text and "A->B, B->A" in text
    assert "node(s) have no edge" in text and ": C" in text
    i_bps = np.ones((1, len(imap)))
    ll = imap.rates_to_loads(i_bps, i_bps, times(1))
    gone = [net.link_names.index("A->B"), net.link_names.index("B->A")]
    assert np.isnan(ll.bps[0, gone]).all() and np.isfinite(np.delete(ll.bps[0], gone)).all()
    assert np.isnan(ll.ingress[0, 2]) and ll.ingress[0, 0] == 1.0


def test_map_from_network_attributes():
    links = [{"src": "A", "dst": "B", "capacity": 1e9, "ifName": "xe-1/0/0"},
             {"src": "B", "dst": "A", "capacity": 1e9, "ifName": "xe-2/0/0"}]
    nodes = [{"name": "A", "instance": "a.example:9116", "edge_ifName": "ae1, ae2"},
             {"name": "B", "edge_ifName": "ae1"}]
    net = Network.from_records(nodes, links)
    imap = InterfaceMap.from_network(net)
    pos = imap.lookup(["a.example:9116", "B", "B", "A"], ["xe-1/0/0", "ae1", "xe-2/0/0", "xe-1/0/0"])
    assert (pos[:3] >= 0).all() and pos[3] == -1  # A's instance label is its exporter address
    assert net.link_names[imap.link[pos[0]]] == "A->B" and net.link_names[imap.in_link[pos[2]]] == "A->B"
    assert not imap.core[pos[1]] and int((~imap.core).sum()) == 3
    with pytest.raises(InputError, match="no 'ifName' link attribute"):
        InterfaceMap.from_network(triangle())


# ---------------------------------------------------------------------- counters
def test_counter_wrap_gives_the_same_rates_as_no_wrap():
    net = ring(4)
    imap = InterfaceMap.default(net)
    ll = loads_for(net, 12)
    n = len(imap)
    rng = np.random.default_rng(3)
    low = rng.integers(0, 10**12, size=(2, n)).astype(np.uint64)
    # starting a few steps' worth below 2**64 makes every counter wrap in mid-series
    i_bps, o_bps = imap.interface_rates_from_loads(ll)
    per_step = (np.maximum(i_bps.max(axis=0), o_bps.max(axis=0)) * STEP / 8).astype(np.uint64)
    high = (np.uint64(2**64 - 1) - per_step * np.uint64(5)).astype(np.uint64)
    high = np.stack([high, high])
    plain = InterfaceCounters.from_frame(counters_for(imap, ll, low)[0]).rates()
    df, exact = counters_for(imap, ll, high)
    wrapped = InterfaceCounters.from_frame(df).rates()
    np.testing.assert_array_equal(wrapped.in_bps, plain.in_bps)
    np.testing.assert_array_equal(wrapped.out_bps, plain.out_bps)
    assert not any("wrap" in x for x in plain.notes)
    assert any("R0/et-0/0/0 out: 64-bit counter wrap" in x for x in wrapped.notes)
    back = wrapped.to_link_loads(imap)
    np.testing.assert_array_equal(back.bps, exact.bps)
    np.testing.assert_array_equal(back.ingress, exact.ingress)
    np.testing.assert_allclose(back.bps, ll.bps, rtol=1e-7)  # within half an octet per step


def test_counter_reset_is_reported_and_not_a_huge_rate():
    t = times(5)
    c = np.array([[1000], [4000], [7000], [500], [3500]], dtype=np.uint64)
    notes = []
    r = counter_rates(t, c, labels=["r1/et-0/0/0 in"], notes=notes)
    assert r[[0, 1, 3], 0].tolist() == [80.0, 80.0, 80.0] and np.isnan(r[2, 0])
    assert len(notes) == 1 and "r1/et-0/0/0 in: counter reset" in notes[0] and "2024-03-01 00:10:00" in notes[0]
    # a drop from above 2**63 whose wrapped increase the interface cannot carry is a reset too
    big = np.array([[2**63 + 10], [2**63 + 20], [5]], dtype=np.uint64)
    notes = []
    r = counter_rates(times(3), big, speed_bps=np.array([1e9]), labels=["x"], notes=notes)
    assert np.isnan(r[1, 0]) and "reset" in notes[0]
    # the same drop with an increase the interface can carry is a wrap
    near = np.array([[2**64 - 1000], [2**64 - 10], [990]], dtype=np.uint64)
    r = counter_rates(times(3), near, speed_bps=np.array([1e9]))
    assert r[:, 0].tolist() == [990 * 8 / STEP, 1000 * 8 / STEP]


def test_gaps_over_speed_and_times():
    t = times(8)
    c = np.arange(8, dtype=np.uint64)[:, None] * np.uint64(3000) * np.array([1, 1], dtype=np.uint64)
    present = np.ones((8, 2), bool)
    present[2, 0] = False  # one missing sample: two intervals at the mean rate
    present[3:7, 1] = False  # five steps without samples: longer than max_gap, unknown
    notes = []
    r = counter_rates(t, c, present, labels=["a", "b"], notes=notes, max_gap=3)
    assert np.all(r[:, 0] == 80.0)
    assert np.isnan(r[2:7, 1]).all() and r[0, 1] == 80.0 and r[1, 1] == 80.0
    assert any("a: 1 missing sample(s)" in x and "mean rate" in x for x in notes)
    assert any("b: 4 missing sample(s)" in x and "unknown" in x for x in notes)
    notes = []
    r = counter_rates(t, c, speed_bps=np.array([50.0, np.nan]), labels=["a", "b"], notes=notes)
    assert np.isnan(r[:, 0]).all() and np.all(r[:, 1] == 80.0)
    assert "exceeds the interface speed 50 bit/s" in notes[0]
    with pytest.raises(ValidationError, match="must increase"):
        counter_rates(t[[0, 2, 1, 3, 4, 5, 6, 7]], c)


def test_irregular_scrape_times_are_resampled():
    # two routers scraped at their own offsets, constant rates: exact on the regular grid
    rows = []
    for inst, off, rate in (("r1", 7, 800.0), ("r2", 131, 1600.0)):
        ts = pd.date_range(T0, periods=10, freq=f"{STEP}s") + pd.Timedelta(seconds=off)
        octets = (np.arange(10) * rate * STEP / 8).astype(np.uint64)
        rows.append(pd.DataFrame({"ds": ts, "instance": inst, "ifName": "ae0", "in_octets": octets,
                                  "out_octets": octets}))
    c = InterfaceCounters.from_frame(pd.concat(rows))
    r = c.rates()
    assert r.times.freq is None and (np.diff(r.times.asi8) == STEP * 10**9).all()
    assert r.times[0] == T0 + pd.Timedelta(seconds=STEP)
    ok = ~np.isnan(r.in_bps).any(axis=1)
    assert ok.sum() >= 7
    np.testing.assert_allclose(r.in_bps[ok], [[800.0, 1600.0]] * int(ok.sum()), rtol=1e-12)
    assert any("irregular times resampled" in x for x in r.notes)


# ---------------------------------------------------------------------- files
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_counter_file_to_link_loads(tmp_path, suffix):
    net = ring(5)
    imap = InterfaceMap.default(net)
    ll = loads_for(net, 6)
    start = np.random.default_rng(1).integers(0, 2**63, size=(2, len(imap)), dtype=np.uint64)
    start[1, 0] = np.uint64(2**64 - 1)  # one counter wraps at once
    df, exact = counters_for(imap, ll, start, speed_mbps=10_000)
    f = write_counters(df, tmp_path / f"counters{suffix}")
    c = read_counters(f)
    assert c.in_octets.dtype == np.uint64 and c.out_octets[0, list(c.ifname).index("et-0/0/0")] == 2**64 - 1
    got = read_link_loads(f, net)  # no map: the simulator's naming
    assert got.links == net.link_names and len(got) == len(ll)
    np.testing.assert_array_equal(got.bps, exact.bps)
    np.testing.assert_array_equal(got.ingress, exact.ingress)
    np.testing.assert_array_equal(got.egress, exact.egress)
    np.testing.assert_allclose(got.bps, ll.bps, rtol=1e-7)
    np.testing.assert_array_equal(got.capacity, 10e9)  # ifHighSpeed 10,000 Mbit/s
    assert any("simulator" in n for n in got.notes) and any("wrap" in n for n in got.notes)
    # the same through an explicit map file, and node totals from a file replacing the edge counters
    imap.to_frame().to_csv(tmp_path / "map.csv", index=False)
    totals = ll.to_frames()[1].assign(ingress_bps=1.0)
    totals.to_csv(tmp_path / "totals.csv", index=False)
    got2 = read_link_loads(f, net, interfaces=tmp_path / "map.csv", node_totals=tmp_path / "totals.csv")
    np.testing.assert_array_equal(got2.bps, got.bps)
    assert (got2.ingress == 1.0).all() and np.array_equal(got2.egress, ll.egress)
    assert any("node totals from" in n for n in got2.notes)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_rate_file_round_trip(tmp_path, suffix):
    net = ring(5)
    ll = loads_for(net, 4)
    bps = ll.bps.copy()
    bps[2, 3] = np.nan
    ll = LinkLoads(ll.times, ll.links, bps, ll.nodes, ll.ingress, ll.egress)
    f = write_link_loads(ll, tmp_path / f"loads{suffix}", node_totals=tmp_path / f"totals{suffix}")
    back = read_link_loads(f, net, node_totals=tmp_path / f"totals{suffix}")
    np.testing.assert_array_equal(back.bps, ll.bps)  # exact, NaN where not measured
    np.testing.assert_array_equal(back.ingress, ll.ingress)
    assert back.times.equals(ll.times)


def test_rate_file_by_pair_with_unit_and_missing_rows(tmp_path):
    net = triangle()
    f = tmp_path / "r.csv"
    f.write_text("ds,src,dst,mbps\n2024-03-01T00:00:00Z,A,B,2.5\n2024-03-01T01:00:00+01:00,B,A,1\n"
                 "2024-03-01 00:05,C,A,\n")
    ll = read_link_loads(f, net)
    assert len(ll) == 2 and ll.times[0] == T0
    assert ll.bps[0, net.link_names.index("A->B")] == 2.5e6 and ll.bps[0, net.link_names.index("B->A")] == 1e6
    assert np.isnan(ll.bps[1]).all() and ll.ingress is None
    assert any("empty mbps" in n for n in ll.notes)


@pytest.mark.parametrize("body, fragment", [
    ("ds,src,dst,bps\n2024-03-01,A,B,abc\n", "bps 'abc' in data row 1 is not a number"),
    ("ds,src,dst,bps\n2024-03-01,A,B,-5\n", "negative rate -5.0 bit/s at data row 1 (A->B)"),
    ("ds,src,dst,bps\n2024-03-01,A,Z,5\n", "data row 1 names link A->Z"),
    ("ds,src,dst,bps\nyesterday,A,B,5\n", "ds 'yesterday' in data row 1 is not a time"),
    ("ds,src,dst,bps\n2024-03-01,A,B,5\n2024-03-01T00:00Z,A,B,6\n", "data rows 1 and 2 both give"),
    ("ds,source,target,bps\n2024-03-01,A,B,5\n", "neither counters"),
    ("ds,instance,ifName,in_octets,out_octets\n2024-03-01,A,ae0,12.5,0\n", "in_octets '12.5' in data row 1"),
    ("ds,instance,ifName,in_octets,out_octets\n2024-03-01,A,ae0,-1,0\n", "is negative"),
    ("ds,instance,ifName,in_octets,out_octets\n2024-03-01,A,ae0,18446744073709551616,0\n", "above 2**64 - 1"),
    ("ds,instance,ifName,in_octets,out_octets\n2024-03-01,A,ae0,1,0\n2024-03-01,A,ae0,2,0\n",
     "data rows 1 and 2 both give a sample of A/ae0"),
    ("ds,instance,ifName,in_octets,out_octets,speed_mbps\n2024-03-01,A,ae0,1,0,fast\n",
     "speed_mbps 'fast' in data row 1"),
    ("ds,instance,ifName,in_octets,out_octets\n2024-03-01,nobody,ae0,1,0\n2024-03-01 00:05,nobody,ae0,2,0\n",
     "none of the 1 interfaces"),
])
def test_bad_files_give_one_line_naming_the_input(tmp_path, body, fragment):
    f = tmp_path / "bad.csv"
    f.write_text(body)
    with pytest.raises((InputError, ValidationError)) as err:
        read_link_loads(f, triangle())
    text = one_line(err)
    assert fragment in text, text
    if "neither" not in fragment and "none of" not in fragment:
        assert str(f) in text


def test_unreadable_and_empty_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_link_loads(tmp_path / "none.csv", triangle())
    (tmp_path / "e.csv").write_text("ds,src,dst,bps\n")
    with pytest.raises(InputError, match="no rows"):
        read_link_loads(tmp_path / "e.csv", triangle())
    with pytest.raises(InputError, match="unknown extension"):
        write_link_loads(LinkLoads(times(1), ["A->B"], [[1.0]]), tmp_path / "x.txt")


# ---------------------------------------------------------------------- real data
def test_abilene_loads_from_measured_series(shared_data):
    from surgeguard.io import ABILENE_NODES, read_cfrrl, read_zhang

    d = shared_data / "abilene"
    net = read_cfrrl(d / "topology" / "cfrrl_Abilene.txt", node_names=ABILENE_NODES)
    ts = read_zhang(d / "zhang_real_od" / "X01_real_144col.txt.xz", nodes=net, keep_diagonal=True)
    rm = ecmp_routing_matrix(net)
    ll = LinkLoads.from_traffic(rm, ts)
    tm = ts.total
    assert ll.bps.shape == (len(ts), net.n_links) and np.isfinite(ll.bps).all()
    np.testing.assert_allclose(ll.ingress, tm.sum(axis=2), rtol=1e-12)
    np.testing.assert_allclose(ll.egress, tm.sum(axis=1), rtol=1e-12)
    assert np.diagonal(tm, axis1=1, axis2=2).sum() > 0  # the diagonal is in the totals
    into = np.zeros((len(ts), net.n_nodes)); out = np.zeros_like(into)
    np.add.at(into.T, net.dst, ll.bps.T)
    np.add.at(out.T, net.src, ll.bps.T)
    np.testing.assert_allclose(into + ll.ingress, out + ll.egress, rtol=1e-9)
    # OSPF weights matter: the loads differ from hop-count routing
    hop = LinkLoads.from_traffic(ecmp_routing_matrix(Network(net.nodes, net.links.assign(metric=1.0), name="hops")), ts)
    assert not np.allclose(hop.bps, ll.bps)
