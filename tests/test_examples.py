"""Named example networks."""

import math

import networkx as nx
import numpy as np
import pytest

from surgeguard import Network, ValidationError
from surgeguard import examples


def _undirected(net):
    g = nx.Graph()
    g.add_nodes_from(net.node_names)
    g.add_edges_from(zip(net.links["src"], net.links["dst"]))
    return g


@pytest.mark.parametrize("make, n_nodes, n_links", [
    (examples.triangle, 3, 6), (lambda: examples.ring(5), 5, 10), (examples.two_paths, 4, 8)])
def test_tiny_networks_validate(make, n_nodes, n_links):
    net = make()
    assert isinstance(net, Network)
    assert (net.n_nodes, net.n_links) == (n_nodes, n_links)
    assert (net.capacity > 0).all() and (net.metric > 0).all()
    assert nx.is_connected(_undirected(net))


def test_two_paths_has_routes_of_different_metric():
    net = examples.two_paths()
    g = nx.DiGraph()
    for _, lk in net.links.iterrows():
        g.add_edge(lk["src"], lk["dst"], weight=lk["metric"])
    paths = sorted(nx.all_simple_paths(g, "S", "T"), key=lambda p: nx.path_weight(g, p, "weight"))
    assert [nx.path_weight(g, p, "weight") for p in paths] == [2.0, 4.0]
    assert paths[0] == ["S", "A", "T"]


def test_ring_needs_three_nodes():
    with pytest.raises(ValidationError, match="n >= 3"):
        examples.ring(2)


def test_morocco_nodes_are_complete():
    net = examples.morocco()
    nd = net.nodes
    assert net.n_nodes >= 18
    must = ["Casablanca", "Rabat", "Tanger", "Fes", "Marrakech", "Agadir", "Oujda", "Meknes", "Tetouan",
            "Kenitra", "Laayoune", "Nador", "El-Jadida", "Beni-Mellal", "Safi", "Khouribga", "Settat",
            "Essaouira", "Errachidia", "Dakhla", "Guelmim", "Ouarzazate", "Taza", "Larache"]
    assert set(must) <= set(net.node_names)
    assert nd["region"].nunique() == 12
    assert (nd["population"] > 50_000).all()
    assert nd.loc["Casablanca", "population"] == nd["population"].max()
    assert nd["lon"].between(-17.5, -1.0).all() and nd["lat"].between(21.0, 36.0).all()
    assert sorted(nd.index[nd["hub"]]) == ["Casablanca", "Rabat"]
    assert nd.loc["Casablanca", "region"] == "Casablanca-Settat"
    assert net.meta["utc_offset_hours"] == 1.0


def test_morocco_links_follow_the_documented_rules():
    net = examples.morocco()
    lk = net.links
    assert (lk["capacity"] == 100e9).all()
    assert (lk["metric"] == np.ceil(lk["length_km"] / 10)).all()
    assert lk.loc["Rabat->Casablanca", "length_km"] == pytest.approx(1.2 * 85, abs=2)
    assert math.isclose(lk.loc["Rabat->Casablanca", "latency_ms"], lk.loc["Rabat->Casablanca", "length_km"] / 200)
    assert set(zip(lk["src"], lk["dst"])) == {(b, a) for a, b in zip(lk["src"], lk["dst"])}  # both directions


def test_morocco_is_connected_with_a_two_edge_connected_core():
    net = examples.morocco()
    g = _undirected(net)
    assert nx.is_connected(g)
    bridges = {frozenset(e) for e in nx.bridges(g)}
    south = {"Tiznit", "Guelmim", "Laayoune", "Dakhla"}
    # only the Atlantic south is a chain
    assert all(e & south for e in bridges)
    core = g.subgraph(set(g) - south)
    assert {"Casablanca", "Rabat"} <= set(core)
    assert nx.is_k_edge_connected(core, 2)
    assert min(dict(core.degree).values()) >= 2 and core.degree["Casablanca"] >= 3


@pytest.mark.parametrize("mod", ["surgeguard.examples", "surgeguard.scenario", "surgeguard.scenario.profile",
                                 "surgeguard.scenario.synthetic", "surgeguard.scenario.lockdown"])
def test_doctests(mod):
    import doctest
    import importlib

    res = doctest.testmod(importlib.import_module(mod))
    assert res.failed == 0 and res.attempted > 0
