"""Topology readers: topohub keys, SNDlib XML, node-link JSON, GraphML, CFR-RL text, dispatch."""

import json
import os

import networkx as nx
import numpy as np
import pytest

from surgeguard import InputError, Network, ValidationError
from surgeguard.io import (ABILENE_NODES, GEANT_NODES, PLACEHOLDER_CAPACITY, read_cfrrl, read_graphml,
                           read_network, read_node_link_json, read_sndlib_network, read_topohub,
                           topohub_keys)


# ---------------------------------------------------------------------- topohub
def test_topohub_abilene_named_nodes_and_placeholder_capacity():
    import topohub

    net = read_topohub("sndlib/abilene")
    assert isinstance(net, Network)
    assert net.n_nodes == 12 and net.n_links == 30
    assert set(net.node_names) == set(ABILENE_NODES)
    assert net.meta["capacity_source"] == "none"
    assert net.meta["capacity_placeholder"] == PLACEHOLDER_CAPACITY
    assert np.all(net.capacity == PLACEHOLDER_CAPACITY)
    # length comes from topohub's dist, both directions
    raw = topohub.get("sndlib/abilene")
    names = {n["id"]: n["name"] for n in raw["nodes"]}
    e = raw["edges"][0]
    a, b = names[e["source"]], names[e["target"]]
    assert net.links.loc[f"{a}->{b}", "length_km"] == pytest.approx(e["dist"])
    assert net.links.loc[f"{b}->{a}", "length_km"] == pytest.approx(e["dist"])
    assert net.links["latency_ms"].notna().all()


def test_topohub_uniform_capacity():
    net = read_topohub("topozoo/Marwan", capacity=10e9)
    assert net.n_nodes == 6 and net.n_links == 12
    assert net.meta["capacity_source"] == "uniform"
    assert np.all(net.capacity == 10e9)
    assert "Marrkech" in net.node_names  # topohub's spelling, kept as is
    with pytest.raises(InputError, match="capacity"):
        read_topohub("topozoo/Marwan", capacity=-1)


def test_topohub_caida_uses_ids_when_names_clash():
    net = read_topohub("caida/2024-08/3356")
    assert net.n_nodes == 404
    assert net.n_links == 2 * 1997
    assert "label" in net.nodes.columns
    assert all(n.isdigit() for n in net.node_names)
    assert net.nodes["label"].notna().sum() >= 400


def test_topohub_backbone_loads():
    net = read_topohub("backbone/eurasia")  # its load time is measured by the benchmarks, not asserted here
    assert net.n_nodes == 2031
    assert net.n_links == 2 * 2848


def test_topohub_unknown_key():
    with pytest.raises(InputError) as err:
        read_topohub("sndlib/abilenne")
    msg = str(err.value)
    assert "'sndlib/abilenne'" in msg and "sndlib/abilene" in msg and "\n" not in msg
    with pytest.raises(InputError, match="not found"):
        read_topohub("../../etc/passwd")
    assert "backbone/eurasia" in topohub_keys()


# ---------------------------------------------------------------------- SNDlib XML
def test_sndlib_abilene(shared_data):
    net = read_sndlib_network(shared_data / "abilene/topology/sndlib_abilene.xml")
    assert net.n_nodes == 12 and net.n_links == 30
    assert net.node_names == ABILENE_NODES
    assert net.meta["capacity_source"] == "file"
    assert set(np.unique(net.capacity)) == {2480e6, 9920e6}
    assert net.nodes.loc["ATLAM5", "lon"] == pytest.approx(-84.3833)
    assert net.nodes.loc["ATLAM5", "lat"] == pytest.approx(33.75)
    # undirected SNDlib link -> both directions with the same capacity
    assert net.links.loc["ATLAng->IPLSng", "capacity"] == net.links.loc["IPLSng->ATLAng", "capacity"] == 2480e6
    assert (net.links["length_km"] > 0).all()


def test_sndlib_geant_without_capacities(shared_data):
    path = shared_data / "geant/topology/sndlib_geant.xml"
    net = read_sndlib_network(path)
    assert net.n_nodes == 22 and net.n_links == 72
    assert net.node_names == GEANT_NODES
    assert net.meta["capacity_source"] == "none"
    assert np.all(net.capacity == PLACEHOLDER_CAPACITY)
    sized = read_sndlib_network(path, default_capacity=10e9)
    assert sized.meta["capacity_source"] == "default" and np.all(sized.capacity == 10e9)


def test_sndlib_partial_capacity_and_units(tmp_path):
    xml = """<?xml version="1.0"?>
<network xmlns="http://sndlib.zib.de/network" version="1.0">
 <meta><unit>GBIT/S</unit></meta>
 <networkStructure>
  <nodes coordinatesType="geographical">
   <node id="A"><coordinates><x>0</x><y>0</y></coordinates></node>
   <node id="B"><coordinates><x>1</x><y>0</y></coordinates></node>
   <node id="C"><coordinates><x>1</x><y>1</y></coordinates></node>
  </nodes>
  <links>
   <link id="L1"><source>A</source><target>B</target>
     <preInstalledModule><capacity>2.5</capacity><cost>0</cost></preInstalledModule></link>
   <link id="L2"><source>B</source><target>C</target></link>
  </links>
 </networkStructure>
</network>"""
    f = tmp_path / "tiny.xml"
    f.write_text(xml)
    net = read_sndlib_network(f)
    assert net.links.loc["A->B", "capacity"] == 2.5e9
    assert net.meta["capacity_source"] == "partial"
    assert sorted(net.meta["capacity_missing"]) == ["B->C", "C->B"]
    assert net.links.loc["A->B", "sndlib_id"] == "L1"


def test_sndlib_malformed_xml(tmp_path):
    f = tmp_path / "broken.xml"
    f.write_text('<?xml version="1.0"?><network xmlns="http://sndlib.zib.de/network"><networkStructure><nodes>')
    with pytest.raises(InputError, match="broken.xml.*not well-formed"):
        read_sndlib_network(f)
    g = tmp_path / "other.xml"
    g.write_text("<html><body/></html>")
    with pytest.raises(InputError, match="not an SNDlib network"):
        read_sndlib_network(g)


# ---------------------------------------------------------------------- node-link JSON
def test_node_link_json_geant(shared_data):
    path = shared_data / "geant/dote_format/GEANT.json"
    net = read_node_link_json(path)
    assert net.n_nodes == 22 and net.n_links == 72
    assert net.node_names == tuple(str(i) for i in range(22))
    assert net.meta["capacity_source"] == "file"
    caps, counts = np.unique(net.capacity, return_counts=True)
    assert dict(zip(caps, counts)) == {155e6: 8, 2.4e9: 32, 10e9: 32}
    named = read_node_link_json(path, node_names=GEANT_NODES)
    assert named.node_names == GEANT_NODES
    # ids in alphabetical SNDlib order give exactly the SNDlib GÉANT link set
    sndlib = read_sndlib_network(shared_data / "geant/topology/sndlib_geant.xml")
    assert set(named.link_names) == set(sndlib.link_names)


def test_node_link_json_undirected_edges_key_and_errors(tmp_path):
    data = {"directed": False, "nodes": [{"id": 0, "name": "X", "pos": [0, 0]}, {"id": 1, "name": "Y", "pos": [1, 0]}],
            "edges": [{"source": 0, "target": 1, "capacity": 1e9, "metric": 5}]}
    f = tmp_path / "g.json"
    f.write_text(json.dumps(data))
    net = read_node_link_json(f)
    assert net.link_names == ("X->Y", "Y->X")
    assert net.links.loc["Y->X", "metric"] == 5
    assert net.links.loc["X->Y", "length_km"] == pytest.approx(111.2, abs=0.5)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json.*not valid JSON"):
        read_node_link_json(bad)
    with pytest.raises(InputError, match="node_names has 3 names for 2 nodes"):
        read_node_link_json(f, node_names=["a", "b", "c"])


# ---------------------------------------------------------------------- GraphML
def _zoo_graph():
    g = nx.MultiGraph(label="TinyZoo")
    g.add_node(0, label="Rabat", Longitude=-6.84, Latitude=34.02, Internal=1)
    g.add_node(1, label="Casablanca", Longitude=-7.59, Latitude=33.57, Internal=1)
    g.add_node(2, label="Fes", Longitude=-5.0, Latitude=34.03, Internal=1)
    g.add_edge(0, 1, LinkSpeedRaw=10e9, LinkLabel="10G")
    g.add_edge(0, 1, LinkSpeedRaw=1e9)  # parallel
    g.add_edge(0, 2)  # no speed
    g.add_edge(2, 2)  # self-loop
    return g


def test_graphml_topology_zoo_like(tmp_path):
    f = tmp_path / "tiny.graphml"
    nx.write_graphml(_zoo_graph(), f)
    net = read_graphml(f)
    assert net.name == "TinyZoo"
    assert set(net.node_names) == {"Rabat", "Casablanca", "Fes"}
    assert net.n_links == 6  # 3 edges x 2 directions, self-loop dropped
    assert net.meta["dropped_self_loops"] == 1
    assert net.meta["capacity_source"] == "partial"
    assert sorted(net.meta["capacity_missing"]) == ["Fes->Rabat", "Rabat->Fes"]
    assert sorted(net.links.loc[net.links["src"].eq("Rabat") & net.links["dst"].eq("Casablanca"), "capacity"]) == [1e9, 10e9]
    assert net.links.loc["Rabat->Casablanca#0", "length_km"] == pytest.approx(85, abs=1)
    assert read_network(f).n_links == 6


def test_graphml_duplicate_labels_and_malformed(tmp_path):
    g = _zoo_graph()
    g.nodes[2]["label"] = "Rabat"
    f = tmp_path / "dup.graphml"
    nx.write_graphml(g, f)
    net = read_graphml(f)
    assert net.node_names == ("0", "1", "2")
    assert list(net.nodes["label"]) == ["Rabat", "Casablanca", "Rabat"]
    bad = tmp_path / "bad.graphml"
    bad.write_text("<graphml><graph><node id='a'>")
    with pytest.raises(InputError, match="bad.graphml"):
        read_graphml(bad)


# ---------------------------------------------------------------------- CFR-RL
def test_cfrrl_abilene_matches_sndlib(shared_data):
    path = shared_data / "abilene/topology/cfrrl_Abilene.txt"
    net = read_cfrrl(path)
    assert net.n_nodes == 12 and net.n_links == 30
    assert net.node_names == tuple(str(i) for i in range(12))
    assert net.links.loc["1->4", "metric"] == 1176
    named = read_cfrrl(path, node_names=ABILENE_NODES)
    sndlib = read_sndlib_network(shared_data / "abilene/topology/sndlib_abilene.xml")
    assert set(named.link_names) == set(sndlib.link_names)
    assert named.links["capacity"].sort_index().equals(sndlib.links["capacity"].sort_index())


def test_cfrrl_malformed(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("Node_num: 2\tEdge_num: 2\nLink_index\tSource\tDestination\tOSPF\tCapacity(kbps)\n0\t0\t1\t1\t100\n")
    with pytest.raises(InputError, match="Edge_num 2 but the file has 1 link lines"):
        read_cfrrl(f)
    f.write_text("Node_num: 2\tEdge_num: 1\nheader\n0\t0\t7\t1\t100\n")
    with pytest.raises(InputError, match="out of range"):
        read_cfrrl(f)
    f.write_text("Node_num: 2\tEdge_num: 1\nheader\n0\t0\t1\t1\t-100\n")
    with pytest.raises(ValidationError, match="capacity"):
        read_cfrrl(f)


# ---------------------------------------------------------------------- dispatch
def test_read_network_dispatch(shared_data, tmp_path):
    assert read_network(shared_data / "abilene/topology/sndlib_abilene.xml").meta["capacity_source"] == "file"
    assert read_network(str(shared_data / "geant/dote_format/GEANT.json")).n_links == 72
    assert read_network(shared_data / "abilene/topology/cfrrl_Abilene.txt").n_links == 30
    assert read_network("sndlib/abilene").n_nodes == 12
    assert read_network("topohub:topozoo/Marwan").n_nodes == 6
    with pytest.raises(InputError) as err:
        read_network("no/such/thing")
    assert str(err.value) == ("network 'no/such/thing': not a file and not a topohub key; give a path to "
                              ".xml/.json/.graphml/.txt or a key such as 'sndlib/abilene'")
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    with pytest.raises(InputError, match="unrecognised file format"):
        read_network(junk)


# ---------------------------------------------------------------------- invalid given values (issue 10)
def _json_net(path, cap=1e9, *, extra=None, multigraph=None, directed=False):
    """Three nodes, links 0-1 (attributes ``cap`` and ``extra``) and 1-2 (1 Gbit/s)."""
    first = {"source": 0, "target": 1, **({} if cap is None else {"capacity": cap}), **(extra or {})}
    data = {"directed": directed, "nodes": [{"id": 0}, {"id": 1}, {"id": 2}],
            "links": [first, {"source": 1, "target": 2, "capacity": 1e9}]}
    if multigraph is not None:
        data["multigraph"] = multigraph
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("cap,shown", [(float("nan"), "nan"), (float("inf"), "inf"), (-1e9, "-1000000000.0"),
                                       (0, "0"), ("10 Gbps", "'10 Gbps'"), (True, "True"), (2e15, "2000000000000000.0")])
def test_node_link_json_refuses_invalid_capacity(tmp_path, cap, shown):
    f = _json_net(tmp_path / "g.json", cap)
    with pytest.raises((InputError, ValidationError)) as err:
        read_node_link_json(f)
    msg = str(err.value)
    assert "g.json" in msg and "link 0-1" in msg and "capacity" in msg and shown in msg and "\n" not in msg


def test_node_link_json_missing_capacity_is_still_a_placeholder(tmp_path):
    net = read_node_link_json(_json_net(tmp_path / "g.json", None))
    assert net.meta["capacity_source"] == "partial"
    assert net.links.loc["0->1", "capacity"] == PLACEHOLDER_CAPACITY
    assert read_node_link_json(_json_net(tmp_path / "h.json", None), default_capacity=5e9).links.loc["1->0", "capacity"] == 5e9
    with pytest.raises(ValidationError, match="default_capacity"):
        read_node_link_json(_json_net(tmp_path / "h.json", None), default_capacity=float("nan"))


@pytest.mark.parametrize("extra,field", [({"weight": "heavy"}, "metric"), ({"metric": 0}, "metric"),
                                         ({"metric": float("inf")}, "metric"), ({"dist": -5}, "length_km"),
                                         ({"length_km": "far"}, "length_km"), ({"latency_ms": float("nan")}, "latency_ms")])
def test_node_link_json_refuses_invalid_metric_and_length(tmp_path, extra, field):
    with pytest.raises((InputError, ValidationError), match=rf"g.json.*link 0-1 has {field}"):
        read_node_link_json(_json_net(tmp_path / "g.json", extra=extra))


def test_node_link_json_duplicate_links(tmp_path, shared_data):
    with pytest.raises(InputError, match=r"g.json.*links 0 and 2 both join 0-1"):
        f = _json_net(tmp_path / "g.json")
        data = json.loads(f.read_text())
        data["links"].append({"source": 1, "target": 0, "capacity": 1e9})  # undirected: the same pair
        f.write_text(json.dumps(data))
        read_node_link_json(f)
    data["multigraph"] = True
    f.write_text(json.dumps(data))
    assert read_node_link_json(f).n_links == 6  # parallel links kept when the graph says so
    # the case: GEANT.json with one link repeated used to give 73 links
    geant = json.loads((shared_data / "geant/dote_format/GEANT.json").read_text())
    geant["links"].append(dict(geant["links"][0]))
    g = tmp_path / "geant_dup.json"
    g.write_text(json.dumps(geant))
    with pytest.raises(InputError, match=r"geant_dup.json.*links 0 and 72 both join 0->2"):
        read_node_link_json(g)


def test_node_link_json_structure_errors(tmp_path):
    f = tmp_path / "g.json"
    f.write_text(json.dumps({"nodes": [{"id": 0}, {"id": 1}], "links": []}))
    with pytest.raises(InputError, match="g.json.*no links"):
        read_node_link_json(f)
    f.write_text(json.dumps({"directed": "no", "nodes": [{"id": 0}, {"id": 1}], "links": [{"source": 0, "target": 1}]}))
    with pytest.raises(InputError, match="'directed' is 'no'"):
        read_node_link_json(f)
    f.write_text(json.dumps({"nodes": [{"id": 0}, {"id": 1}], "links": [{"source": 0, "target": 0}]}))
    with pytest.raises(InputError, match="self-loop"):
        read_node_link_json(f)
    f.write_text("[" * 100000)
    with pytest.raises(InputError, match="g.json"):
        read_node_link_json(f)


_SNDLIB_TWO = """<?xml version="1.0"?>
<network xmlns="http://sndlib.zib.de/network" version="1.0">
 <networkStructure>
  <nodes coordinatesType="geographical">
   <node id="A"><coordinates><x>0</x><y>0</y></coordinates></node>
   <node id="B"><coordinates><x>1</x><y>0</y></coordinates></node>
  </nodes>
  <links>
   <link id="L1"><source>A</source><target>{target}</target>
     <preInstalledModule><capacity>{cap}</capacity><cost>0</cost></preInstalledModule></link>
  </links>
 </networkStructure>
</network>"""


@pytest.mark.parametrize("cap", ["NaN", "Infinity", "-2.5", "0", "10 Gbps", "", "1e400", "2e9"])
def test_sndlib_network_refuses_invalid_capacity(tmp_path, cap):
    f = tmp_path / "two.xml"
    f.write_text(_SNDLIB_TWO.format(target="B", cap=cap))
    with pytest.raises((InputError, ValidationError)) as err:
        read_sndlib_network(f)
    msg = str(err.value)
    assert "two.xml" in msg and "'L1'" in msg and repr(cap) in msg and "\n" not in msg


def test_sndlib_network_values_and_structure(tmp_path):
    f = tmp_path / "two.xml"
    f.write_text(_SNDLIB_TWO.format(target="B", cap="2.5"))
    assert read_sndlib_network(f).capacity.tolist() == [2.5e6, 2.5e6]  # Mbit/s to bit/s
    f.write_text(_SNDLIB_TWO.format(target="Z", cap="2.5"))
    with pytest.raises(InputError, match="'L1' refers to node 'Z', which is not declared"):
        read_sndlib_network(f)
    f.write_text(_SNDLIB_TWO.format(target="B", cap="2.5").replace("<x>1</x>", "<x>east</x>"))
    with pytest.raises(InputError, match="node B has lon 'east'"):
        read_sndlib_network(f)
    f.write_text(_SNDLIB_TWO.format(target="B", cap="2.5").split("<links>")[0] + "<links/></networkStructure></network>")
    with pytest.raises(InputError, match="2 nodes but no links"):
        read_sndlib_network(f)
    twice = _SNDLIB_TWO.format(target="B", cap="2.5")
    link = twice[twice.index('<link id="L1">'):twice.index("</link>") + 7]
    f.write_text(twice.replace(link, link + link.replace("<source>A</source><target>B</target>",
                                                         "<source>B</source><target>A</target>")))
    with pytest.raises(InputError, match="link id 'L1' appears twice"):
        read_sndlib_network(f)
    f.write_text(_SNDLIB_TWO.format(target="B", cap="2.5").replace('version="1.0"?>', 'version="1.0" encoding="U-F-8"?>'))
    with pytest.raises(InputError, match=r"two.xml' is not well-formed XML \(unknown encoding"):  # was a LookupError
        read_sndlib_network(f)


def _graphml_with_speed(path, speed, *, typ="double"):
    path.write_text(f"""<?xml version="1.0"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
 <key id="s" for="edge" attr.name="LinkSpeedRaw" attr.type="{typ}"/>
 <graph edgedefault="undirected">
  <node id="a"/><node id="b"/>
  <edge source="a" target="b"><data key="s">{speed}</data></edge>
 </graph>
</graphml>""")
    return path


@pytest.mark.parametrize("speed,typ", [("NaN", "double"), ("INF", "double"), ("-1e9", "double"), ("0", "double"),
                                       ("10 Gbps", "string"), ("1e16", "double")])
def test_graphml_refuses_invalid_link_speed(tmp_path, speed, typ):
    f = _graphml_with_speed(tmp_path / "z.graphml", speed, typ=typ)
    with pytest.raises((InputError, ValidationError)) as err:
        read_graphml(f)
    msg = str(err.value)
    assert "z.graphml" in msg and "link a-b" in msg and "capacity" in msg and "\n" not in msg


def test_graphml_edge_to_undeclared_node(tmp_path):
    f = _graphml_with_speed(tmp_path / "z.graphml", "1e9")
    assert read_graphml(f).capacity.tolist() == [1e9, 1e9]
    text = f.read_text()
    f.write_text(text.replace('target="b"', 'target="c"'))
    with pytest.raises(InputError, match=r"z.graphml.*refers to node 'c', which has no <node> element"):
        read_graphml(f)
    f.write_text(text.replace('version="1.0"?>', 'version="1.0" encoding="U-F-8"?>'))
    with pytest.raises(InputError, match="z.graphml' cannot be read as GraphML"):
        read_graphml(f)


@pytest.mark.parametrize("line,match", [("0\t0\t1\t1\tnan", "capacity 'nan'"), ("0\t0\t1\t1\tinf", "capacity 'inf'"),
                                        ("0\t0\t1\t1\t0", "capacity '0'"), ("0\t0\t1\t1\t10 Gbps", "5 fields"),
                                        ("0\t0\t1\t0\t100", "metric '0'"), ("0\t0\t1\tNaN\t100", "metric 'NaN'"),
                                        ("0\t0\t0\t1\t100", "self-loop"), ("0\t-1\t1\t1\t100", "5 fields|out of range")])
def test_cfrrl_refuses_invalid_values(tmp_path, line, match):
    f = tmp_path / "t.txt"
    f.write_text(f"Node_num: 2\tEdge_num: 1\nheader\n{line}\n")
    with pytest.raises((InputError, ValidationError), match=match):
        read_cfrrl(f)


def test_cfrrl_node_count_and_units(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("Node_num: 2\tEdge_num: 1\nheader\n0\t0\t1\t7\t2500\n")
    net = read_cfrrl(f)
    assert net.capacity.tolist() == [2.5e6] and net.metric.tolist() == [7.0]  # kbit/s to bit/s
    f.write_text("Node_num: 999999999\tEdge_num: 1\nheader\n0\t0\t1\t7\t2500\n")
    with pytest.raises(InputError, match="Node_num 999999999 but the links use 2 nodes"):
        read_cfrrl(f)
    f.write_text("Node_num: 3\tEdge_num: 0\nheader\n")
    with pytest.raises(InputError, match="at least 2 nodes and one link"):
        read_cfrrl(f)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("reader", [read_network, read_node_link_json, read_sndlib_network, read_graphml, read_cfrrl])
def test_topology_readers_refuse_a_fifo(tmp_path, reader):
    fifo = tmp_path / "net.json"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"net.json' is a named pipe \(FIFO\), not a regular file"):
        reader(fifo)
    with pytest.raises(InputError, match="is a directory"):
        reader(tmp_path) if reader is not read_network else read_sndlib_network(tmp_path)
