"""Topology readers: topohub keys, SNDlib XML, node-link JSON, GraphML, CFR-RL text, dispatch."""

import json
import time

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


def test_topohub_backbone_loads_fast():
    t0 = time.perf_counter()
    net = read_topohub("backbone/eurasia")
    elapsed = time.perf_counter() - t0
    assert net.n_nodes == 2031
    assert net.n_links == 2 * 2848
    assert elapsed < 5.0, f"backbone/eurasia took {elapsed:.1f} s"


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
