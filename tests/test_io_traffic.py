"""Traffic readers: SNDlib demand XML, Zhang X files, DOTE .hist and tunnels, long frames, dispatch."""

import lzma
import os
import time

import numpy as np
import pandas as pd
import pytest

from surgeguard import InputError, Network, TrafficSeries, ValidationError
from surgeguard.io import (ABILENE_NODES, GEANT_NODES, read_dote_hist, read_frame, read_node_link_json,
                           read_sndlib_demands, read_traffic, read_tunnels, read_zhang, write_frame)

ABILENE_TAR = "abilene/sndlib_abilene_5min_xml_20040301-20040310.tar.xz"
GEANT_TAR = "geant/sndlib_geant_15min_xml_20050504T1500-20050507T2345.tar.xz"
X01 = "abilene/zhang_real_od/X01_real_144col.txt.xz"
X02 = "abilene/zhang_real_od/X02_first3days_real_144col.txt.xz"
YATES = "abilene/yates_sample/X01_first36_720col.txt.xz"
OFF = ~np.eye(12, dtype=bool)


@pytest.fixture(scope="module")
def abilene_xml(shared_data):
    t0 = time.perf_counter()
    ts = read_sndlib_demands(shared_data / ABILENE_TAR)
    ts.meta["load_s"] = time.perf_counter() - t0
    return ts


# ---------------------------------------------------------------------- SNDlib demands
def test_sndlib_abilene_tar(abilene_xml):
    ts = abilene_xml
    assert ts.meta["load_s"] < 15, f"Abilene tar took {ts.meta['load_s']:.1f} s"
    assert len(ts) == 2880 and ts.nodes == ABILENE_NODES
    assert ts.times[0] == pd.Timestamp("2004-03-01 00:00", tz="UTC")
    assert ts.times[-1] == pd.Timestamp("2004-03-10 23:55", tz="UTC")
    assert (np.diff(ts.times) == pd.Timedelta("5min")).all()  # no gaps
    assert str(ts.times.tz) == "UTC"
    assert ts.meta["empty_steps"] == [] and ts.meta["dropped_empty"] == []
    totals = ts.total.sum(axis=(1, 2))
    assert 1.7e9 < totals.min() and totals.max() < 6.3e9  # SOURCE.md: about 1.8 to 6.2 Gbit/s
    assert np.all(np.einsum("tii->ti", ts.values) == 0)  # no self-demands


def test_sndlib_geant_tar_empty_steps(shared_data):
    ts = read_sndlib_demands(shared_data / GEANT_TAR)
    assert len(ts) == 322 and ts.nodes == GEANT_NODES
    assert ts.step == pd.Timedelta("15min")
    assert ts.times[0] == pd.Timestamp("2005-05-04 15:30", tz="UTC")
    assert ts.meta["dropped_empty"] == ["2005-05-04T15:00:00+00:00", "2005-05-04T15:15:00+00:00"]
    assert np.median(ts.total.sum(axis=(1, 2))) == pytest.approx(46e9, rel=0.1)
    kept = read_sndlib_demands(shared_data / GEANT_TAR, nodes=GEANT_NODES, drop_empty=False)
    assert len(kept) == 324 and kept.meta["empty_steps"] == [0, 1]
    assert kept.values[:2].sum() == 0
    np.testing.assert_array_equal(kept.values[2:], ts.values)


def _demand_xml(stamp, demands, unit="MBITPERSEC", nodes=("A", "B", "C")):
    nd = "".join(f'<node id="{n}"><coordinates><x>0</x><y>0</y></coordinates></node>' for n in nodes)
    dm = "".join(f'<demand id="{s}_{t}"><source>{s}</source><target>{t}</target>'
                 f"<demandValue> {v} </demandValue></demand>" for s, t, v in demands)
    return (f'<?xml version="1.0"?>\n<network xmlns="http://sndlib.zib.de/network" version="1.0">'
            f"<meta><granularity>5min</granularity><time>{stamp}</time><unit>{unit}</unit></meta>"
            f'<networkStructure><nodes coordinatesType="geographical">{nd}</nodes><links></links>'
            f"</networkStructure><demands>{dm}</demands></network>\n")


def test_sndlib_folder_single_file_and_errors(tmp_path):
    d = tmp_path / "tms"
    d.mkdir()
    (d / "b.xml").write_text(_demand_xml("20200101-0005", [("A", "B", 2.0)]))
    (d / "a.xml").write_text(_demand_xml("20200101-0000", [("A", "B", 1.0), ("C", "A", 0.5)]))
    (d / "c.xml").write_text(_demand_xml("20200101-0010", []))
    ts = read_sndlib_demands(d)
    assert ts.nodes == ("A", "B", "C") and len(ts) == 2
    assert ts.values[0, 0, 1] == 1e6 and ts.values[0, 2, 0] == 0.5e6 and ts.values[1, 0, 1] == 2e6
    assert ts.meta["dropped_empty"] == ["2020-01-01T00:10:00+00:00"]
    one = read_sndlib_demands(d / "a.xml", nodes=["C", "B", "A"])
    assert one.values[0, 2, 1] == 1e6 and len(one) == 1
    with pytest.raises(ValidationError, match=r"\['C'\]"):
        read_sndlib_demands(d, nodes=["A", "B"])
    (d / "c.xml").write_text(_demand_xml("20200101-0000", [("A", "B", 1.0)]))
    with pytest.raises(InputError, match="share the time"):
        read_sndlib_demands(d)
    (d / "c.xml").write_text(_demand_xml("20200101-0010", [("A", "B", 1.0)])[:-40])
    with pytest.raises(InputError, match="c.xml.*not well-formed"):
        read_sndlib_demands(d)
    with pytest.raises(InputError, match="no such file"):
        read_sndlib_demands(tmp_path / "missing.tar.xz")
    (tmp_path / "fake.tar.xz").write_bytes(b"not an archive")
    with pytest.raises(InputError, match="not a readable tar archive"):
        read_sndlib_demands(tmp_path / "fake.tar.xz")


# ---------------------------------------------------------------------- Zhang
@pytest.mark.slow
def test_zhang_equals_sndlib(shared_data, abilene_xml):
    """Zhang X01 and X02 (first 3 days) hold the same measurements as SNDlib's XML files."""
    x01 = read_zhang(shared_data / X01)
    x02 = read_zhang(shared_data / X02)
    assert len(x01) == 2016 and len(x02) == 864
    assert x01.times[0] == pd.Timestamp("2004-03-01", tz="UTC")
    assert x02.times[0] == pd.Timestamp("2004-03-08", tz="UTC")
    assert x01.times.equals(abilene_xml.times[:2016]) and x02.times.equals(abilene_xml.times[2016:])
    # SNDlib rounds Mbit/s to 6 decimals: 0.5 bit/s absolute
    np.testing.assert_allclose(x01.values, abilene_xml.values[:2016], rtol=1e-6, atol=1.0)
    np.testing.assert_allclose(x02.values, abilene_xml.values[2016:], rtol=1e-6, atol=1.0)
    # the diagonal (PoP-local traffic) is only in Zhang's files
    full = read_zhang(shared_data / X01, keep_diagonal=True)
    assert full.values[:, OFF].sum() == pytest.approx(x01.values.sum())
    assert full.meta["diagonal_share"] == pytest.approx(0.172, abs=0.01)


def test_zhang_720_columns(shared_data):
    y = read_zhang(shared_data / YATES)
    x = read_zhang(shared_data / X01)
    assert len(y) == 36 and y.meta["columns"] == 720
    np.testing.assert_array_equal(y.values, x.values[:36])
    z = read_zhang(shared_data / YATES, start="2004-03-01 12:00", step="10min")
    assert z.times[1] == pd.Timestamp("2004-03-01 12:10", tz="UTC")


def test_zhang_wrong_columns(tmp_path):
    f = tmp_path / "X03_bad.txt"
    f.write_text("1 2 3\n4 5 6\n")
    with pytest.raises(InputError, match="3 columns, expected 144"):
        read_zhang(f)
    f.write_text("1 2 3 4\n4 5 6 7\n")
    two = read_zhang(f, nodes=["a", "b"])
    assert two.times[0] == pd.Timestamp("2004-03-15", tz="UTC")  # week X03
    assert two.values[0, 0, 1] == pytest.approx(2 * 8 / 3) and two.values[0, 0, 0] == 0


# ---------------------------------------------------------------------- DOTE
def test_dote_hist_geant(shared_data):
    ts = read_dote_hist(shared_data / "geant/dote_format/train/5.hist", GEANT_NODES)
    assert ts.values.shape == (16, 22, 22)
    assert ts.meta["synthetic_times"] is True
    assert ts.values[0, 0, 1] == pytest.approx(20806188.0)  # row-major: index src*22 + dst
    assert np.all(np.einsum("tii->ti", ts.values) == 0)
    net = read_node_link_json(shared_data / "geant/dote_format/GEANT.json")
    assert read_dote_hist(shared_data / "geant/dote_format/train/5.hist", net).nodes == net.node_names
    with pytest.raises(InputError, match="484 values but 12 nodes need 144"):
        read_dote_hist(shared_data / "geant/dote_format/train/5.hist", ABILENE_NODES)


def test_dote_hist_ragged(tmp_path):
    f = tmp_path / "bad.hist"
    f.write_text("0 1 2 0\n0 1 2\n")
    with pytest.raises(InputError, match="bad.hist.*line 2: 3 values where line 1 has 4"):
        read_dote_hist(f, ["a", "b"])


def test_tunnels_geant(shared_data):
    tunnels = read_tunnels(shared_data / "geant/dote_format/tunnels.txt", GEANT_NODES)
    assert len(tunnels) == 462 == 22 * 21
    assert all(len(paths) == 3 for _, _, paths in tunnels)
    src, dst, paths = tunnels[0]
    assert (src, dst) == ("at1.at", "be1.be")
    assert paths[0] == ["at1.at", "ch1.ch", "fr1.fr", "be1.be"]
    net = read_node_link_json(shared_data / "geant/dote_format/GEANT.json", node_names=GEANT_NODES)
    links = set(net.link_names)
    for s, t, ps in tunnels:
        for p in ps:
            assert p[0] == s and p[-1] == t
            assert all(f"{a}->{b}" in links for a, b in zip(p, p[1:]))


def test_tunnels_errors(tmp_path):
    f = tmp_path / "tunnels.txt"
    f.write_text("0 1:0-2-1\n")
    with pytest.raises(InputError, match="out of range"):
        read_tunnels(f, ["a", "b"])
    f.write_text("0 1:0-1,1-0\n")
    with pytest.raises(InputError, match="does not run from 0 to 1"):
        read_tunnels(f, ["a", "b"])


# ---------------------------------------------------------------------- frames
def _series():
    v = np.zeros((3, 2, 3, 3))
    v[0, 0, 0, 1] = 1e6
    v[0, 1, 1, 0] = 2.5e6
    v[2, 0, 2, 1] = 3e9
    # step 1 is all zero
    return TrafficSeries(v, ["A", "B", "C"], pd.date_range("2024-01-01", periods=3, freq="15min", tz="UTC"),
                         classes=["gold", "silver"], name="toy")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_frame_round_trip(tmp_path, suffix):
    ts = _series()
    f = write_frame(ts, tmp_path / f"tm{suffix}")
    back = read_frame(f)
    assert back.nodes == ts.nodes and back.classes == ts.classes
    assert back.times.equals(ts.times)  # the all-zero step survives
    np.testing.assert_array_equal(back.values, ts.values)
    agg = TrafficSeries(ts.total, ts.nodes, ts.times)
    agg_back = read_frame(write_frame(agg, tmp_path / f"agg{suffix}"), nodes=["C", "B", "A", "D"])
    np.testing.assert_array_equal(agg_back.reorder(ts.nodes).values, agg.values)
    assert read_traffic(f).values.sum() == pytest.approx(ts.values.sum())


def test_frame_units_and_naive_times(tmp_path):
    f = tmp_path / "tm.csv"
    pd.DataFrame({"ds": ["2024-01-01 00:00", "2024-01-01 00:05"], "src": ["A", "B"], "dst": ["B", "A"],
                  "Mbps": [1.5, 2.0]}).to_csv(f, index=False)
    ts = read_frame(f)
    assert ts.values[0, 0, 1] == 1.5e6 and ts.values[1, 1, 0] == 2e6
    assert ts.times[0] == pd.Timestamp("2024-01-01", tz="UTC")


def test_frame_missing_rate_column(tmp_path):
    f = tmp_path / "tm.csv"
    pd.DataFrame({"ds": ["2024-01-01"], "src": ["A"], "dst": ["B"], "load": [1.0]}).to_csv(f, index=False)
    with pytest.raises(InputError, match="tm.csv.*no rate column"):
        read_frame(f)


def test_frame_negative_demand(tmp_path):
    f = tmp_path / "tm.csv"
    pd.DataFrame({"ds": ["2024-01-01"], "src": ["A"], "dst": ["B"], "bps": [-5.0]}).to_csv(f, index=False)
    with pytest.raises(ValidationError, match="negative demand"):
        read_frame(f)


def test_frame_unknown_node(tmp_path):
    f = tmp_path / "tm.csv"
    pd.DataFrame({"ds": ["2024-01-01"], "src": ["A"], "dst": ["Z"], "bps": [5.0]}).to_csv(f, index=False)
    with pytest.raises(ValidationError, match=r"unknown node\(s\) \['Z'\]"):
        read_frame(f, nodes=["A", "B"])


# ---------------------------------------------------------------------- dispatch
def test_read_traffic_dispatch(shared_data, tmp_path):
    x = read_traffic(shared_data / YATES)
    assert x.meta["columns"] == 720
    assert len(read_traffic(str(shared_data / GEANT_TAR))) == 322
    h = read_traffic(shared_data / "geant/dote_format/train/5.hist", nodes=GEANT_NODES)
    assert h.values.shape == (16, 22, 22)
    with pytest.raises(InputError, match="pass nodes="):
        read_traffic(shared_data / "geant/dote_format/train/5.hist")
    # an explicit prefix overrides detection
    odd = tmp_path / "week.dat"
    with lzma.open(shared_data / YATES, "rt") as src:
        odd.write_text(src.read())
    with pytest.raises(InputError, match="unrecognised format"):
        read_traffic(odd)
    assert len(read_traffic(f"zhang:{odd}")) == 36
    with pytest.raises(InputError, match="no such file"):
        read_traffic("frame:/no/such.csv")


def test_read_traffic_zhang_by_name(tmp_path):
    f = tmp_path / "X05_part.txt"
    f.write_text("1 2 3\n")
    with pytest.raises(InputError, match="X05_part.txt.*3 columns, expected 144"):
        read_traffic(f)
    f.write_text(" ".join(["1"] * 144) + "\n")
    assert read_traffic(f).times[0] == pd.Timestamp("2004-03-29", tz="UTC")


# ---------------------------------------------------------------------- invalid values (issue 10)
def _csv(path, rows, rate="bps", extra=None):
    df = pd.DataFrame(rows, columns=["ds", "src", "dst", rate])
    for k, v in (extra or {}).items():
        df[k] = v
    df.to_csv(path, index=False)
    return path


def test_frame_duplicate_rows_are_an_error(tmp_path):
    f = _csv(tmp_path / "tm.csv", [("2020-03-20 00:00", "A", "B", 1.0), ("2020-03-20 00:05", "A", "B", 2.0),
                                   ("2020-03-20T00:00:00Z", "A", "B", 3.0)])  # same time as row 1, other spelling
    with pytest.raises(ValidationError) as err:
        read_frame(f)
    msg = str(err.value)
    assert "tm.csv" in msg and "first data rows 1 and 3" in msg and "A->B" in msg and "\n" not in msg
    # with a class column the class is part of the key
    g = _csv(tmp_path / "cls.csv", [("2020-03-20", "A", "B", 1.0), ("2020-03-20", "A", "B", 2.0)],
             extra={"class": ["gold", "bulk"]})
    assert read_frame(g).classes == ("bulk", "gold")
    g = _csv(tmp_path / "cls.csv", [("2020-03-20", "A", "B", 1.0), ("2020-03-20", "A", "B", 2.0)],
             extra={"class": ["gold", "gold"]})
    with pytest.raises(ValidationError, match=r"repeated \(ds, src, dst, class\).*class gold"):
        read_frame(g)
    pq = tmp_path / "tm.parquet"
    pd.read_csv(f).to_parquet(pq)
    with pytest.raises(ValidationError, match="tm.parquet.*repeated"):
        read_frame(pq)


def test_frame_header_only_and_empty_cells(tmp_path):
    f = tmp_path / "tm.csv"
    f.write_text("ds,src,dst,bps\n")
    with pytest.raises(InputError, match="tm.csv' has a header but no rows"):
        read_frame(f)
    f.write_text("ds,src,dst,bps\n2020-03-20,A,B,\n")
    with pytest.raises(ValidationError, match="bps value in data row 1 is missing"):
        read_frame(f)
    f.write_text("ds,src,dst,bps\n2020-03-20,,B,5\n")
    with pytest.raises(ValidationError, match="data row 1 has no src"):
        read_frame(f)
    f.write_text("ds,src,dst,bps\n,A,B,5\n")
    with pytest.raises(InputError, match="data row 1 has no ds"):
        read_frame(f)


@pytest.mark.parametrize("value,match", [("abc", "'abc' is not a number"), ("inf", "infinite demand"),
                                         ("1e308", "too large demand"), ("-1", "negative demand"),
                                         ("NaN", "missing")])
def test_frame_invalid_demands(tmp_path, value, match):
    f = tmp_path / "tm.csv"
    f.write_text(f"ds,src,dst,mbps\n2020-03-20,A,B,1\n2020-03-20,B,A,{value}\n")
    with pytest.raises(ValidationError, match=match) as err:
        read_frame(f)
    assert "tm.csv" in str(err.value) and "\n" not in str(err.value)


def test_frame_upper_bound_keeps_sums_finite(tmp_path):
    """1e308 demands used to give an MLU of 5e297 or 'Infinity'; 1 Pbit/s is the declared maximum."""
    from surgeguard.units import MAX_RATE_BPS

    f = tmp_path / "tm.csv"
    f.write_text(f"ds,src,dst,bps\n2020-03-20,A,B,{MAX_RATE_BPS!r}\n2020-03-20,B,A,{MAX_RATE_BPS!r}\n")
    ts = read_frame(f)
    assert np.isfinite(ts.values.sum()) and ts.values.max() == MAX_RATE_BPS
    f.write_text("ds,src,dst,gbps\n2020-03-20,A,B,1000001\n")  # 1.000001 Pbit/s
    with pytest.raises(ValidationError, match=r"too large demand 1000001.0 gbps \(= 1000001000000000.0 bit/s\).*\[0, 1e\+15\]"):
        read_frame(f)


@pytest.mark.parametrize("token,word", [("nan", "NaN"), ("inf", "infinite"), ("-3", "negative"), ("1e308", "too large")])
def test_zhang_and_dote_refuse_invalid_demands(tmp_path, token, word):
    h = tmp_path / "bad.hist"
    h.write_text(f"0 1 2 0\n0 {token} 2 0\n")
    with pytest.raises(ValidationError, match=rf"bad.hist', line 2, value 2 \(a->b\): {word} demand"):
        read_dote_hist(h, ["a", "b"])
    z = tmp_path / "X01_bad.txt"
    z.write_text(f"1 2 3 4\n4 5 {token} 7\n")
    with pytest.raises(ValidationError, match=rf"X01_bad.txt', line 2, value 3 \(b->a\): {word} demand"):
        read_zhang(z, nodes=["a", "b"])


@pytest.mark.parametrize("value,word", [("NaN", "NaN"), ("1e300", "too large"), ("-2", "negative"), ("x", "not a number")])
def test_sndlib_demands_refuse_invalid_values(tmp_path, value, word):
    f = tmp_path / "tm.xml"
    f.write_text(_demand_xml("20200101-0000", [("A", "B", 1.0), ("B", "C", value)]))
    with pytest.raises(ValidationError, match=rf"tm.xml'.*demandValue '{value}'.*B->C.*{word}"):
        read_sndlib_demands(f)


def test_sndlib_demands_duplicates_and_bad_time(tmp_path):
    f = tmp_path / "tm.xml"
    f.write_text(_demand_xml("20200101-0000", [("A", "B", 1.0), ("A", "B", 2.0)]))
    with pytest.raises(InputError, match="tm.xml' lists the demand A->B more than once"):
        read_sndlib_demands(f)
    f.write_text(_demand_xml("20201399-0000", [("A", "B", 1.0)]))
    with pytest.raises(InputError, match="time '20201399-0000' is not a valid"):
        read_sndlib_demands(f)
    f.write_text(_demand_xml("20200101-0000", [("A", "B", 1.0)]).replace('version="1.0"?>',
                                                                        'version="1.0" encoding="U-F-8"?>')[:-20])
    with pytest.raises(InputError, match="tm.xml' is not well-formed XML"):
        read_sndlib_demands(f)


def test_tunnels_empty_binary_and_malformed(tmp_path, shared_data):
    from surgeguard.routing import read_tunnels_file

    net = read_node_link_json(shared_data / "geant/dote_format/GEANT.json")
    f = tmp_path / "tunnels.txt"
    f.write_text("")
    for read in (lambda: read_tunnels(f, GEANT_NODES), lambda: read_tunnels_file(net, f)):
        with pytest.raises(InputError, match="tunnels.txt' is empty"):
            read()
    f.write_bytes(bytes(range(256)) * 4)
    for read in (lambda: read_tunnels(f, GEANT_NODES), lambda: read_tunnels_file(net, f)):
        with pytest.raises(InputError, match="tunnels.txt', line 1"):
            read()
    for text, match in [("0 1:0-2-6-1\n0 1:0-4-6-1\n", "lines 1 and 2 both list paths for 0 1"),
                        ("0 0:0\n", "source and destination are both 0"), ("0 1:\n", "no path for 0 1"),
                        ("0 1:0-2-0-1\n", "visits a node twice"), ("0 1:0-+2-1\n", "expected 'src dst:"),
                        ("0 1:0--1-1\n", "expected 'src dst:")]:
        f.write_text(text)
        with pytest.raises(InputError, match=match):
            read_tunnels(f, GEANT_NODES)
    f.write_text("0 1:0-1\n")  # 0-1 is not a GÉANT link
    with pytest.raises(ValidationError, match="tunnels.txt': path at1.at-be1.be uses|tunnels.txt': path 0-1 uses"):
        read_tunnels_file(net, f)


@pytest.mark.parametrize("name", ["tm.csv", "tm.parquet", "X01.txt", "w.hist", "tm.xml", "d.tar.xz"])
def test_garbage_traffic_files_are_input_errors(tmp_path, name):
    f = tmp_path / name
    f.write_bytes(bytes(range(256)) * 8 + b"\x00\xff" * 100)
    with pytest.raises((InputError, ValidationError)) as err:
        read_traffic(f, nodes=["a", "b"] if name.endswith(".hist") else None)
    assert name in str(err.value) and "\n" not in str(err.value)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["tm.csv", "X01.txt", "w.hist", "tm.xml", "d.tar.xz", "tunnels.txt"])
def test_traffic_readers_refuse_a_fifo(tmp_path, name):
    """A FIFO given as traffic used to block forever."""
    from surgeguard.routing import read_tunnels_file

    fifo = tmp_path / name
    os.mkfifo(fifo)
    calls = [lambda: read_traffic(fifo, nodes=["a", "b"])]
    if name == "tunnels.txt":
        calls = [lambda: read_tunnels(fifo, ["a", "b"]),
                 lambda: read_tunnels_file(Network.from_records([{"name": "a"}, {"name": "b"}],
                                                                [{"src": "a", "dst": "b", "capacity": 1.0}]), fifo)]
    elif name.endswith(".csv"):
        calls.append(lambda: read_frame(fifo))
    elif name.endswith(".hist"):
        calls.append(lambda: read_dote_hist(fifo, ["a", "b"]))
    elif name.endswith(".txt"):
        calls.append(lambda: read_zhang(fifo, ["a", "b"]))
    else:
        calls.append(lambda: read_sndlib_demands(fifo))
    for call in calls:
        with pytest.raises(InputError, match=r"is a named pipe \(FIFO\), not a regular file"):
            call()


def test_frame_mixed_offsets_and_naive_times_each_parsed_on_their_own(tmp_path):
    # pandas' vectorised ISO 8601 parser gives a naive time the offset of the row before it
    p = tmp_path / "tm.csv"
    p.write_text("ds,src,dst,bps\n2004-03-01T00:05:00+01:00,a,b,1\n2004-03-01 00:05,a,b,2\n")
    ts = read_frame(p)
    assert [str(t) for t in ts.times] == ["2004-02-29 23:05:00+00:00", "2004-03-01 00:05:00+00:00"]
    assert ts.values[:, 0, 1].tolist() == [1.0, 2.0]
