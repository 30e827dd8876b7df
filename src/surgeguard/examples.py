"""Named example networks for tests, docs and demos.

Tiny ones with explicit capacities (bit/s) and IGP metrics -- :func:`triangle`, :func:`ring`,
:func:`two_paths` -- and :func:`morocco`, a Moroccan national backbone built from public facts.

Examples
--------
>>> from surgeguard import examples
>>> examples.triangle().n_links, examples.ring(5).n_links, examples.two_paths().n_nodes
(6, 10, 4)
>>> net = examples.morocco()
>>> net.n_nodes >= 18, bool(net.nodes.loc["Casablanca", "hub"])
(True, True)
"""

from __future__ import annotations

import math

from .exceptions import ValidationError
from .network import Network
from .units import great_circle_km

__all__ = ["triangle", "ring", "two_paths", "morocco", "MOROCCO_CITIES", "MOROCCO_LINKS",
           "MOROCCO_ROUTE_FACTOR"]


def triangle(capacity: float = 10e9) -> Network:
    """Three nodes A, B, C, fully meshed; every link ``capacity`` bit/s (10 Gbit/s), metric 1.

    No populations, so gravity traffic is uniform.
    """
    links = [{"src": "A", "dst": "B"}, {"src": "B", "dst": "C"}, {"src": "A", "dst": "C"}]
    for lk in links:
        lk.update(capacity=float(capacity), metric=1.0)
    return Network.from_records(nodes=[{"name": n} for n in "ABC"], links=links, bidirectional=True,
                                name="triangle")


def ring(n: int = 6, capacity: float = 10e9) -> Network:
    """``n`` nodes R0 .. R{n-1} on a ring; every link ``capacity`` bit/s (10 Gbit/s), metric 1."""
    if int(n) != n or n < 3:
        raise ValidationError(f"ring(n={n!r}): a ring needs an integer n >= 3")
    n = int(n)
    nodes = [{"name": f"R{i}"} for i in range(n)]
    links = [{"src": f"R{i}", "dst": f"R{(i + 1) % n}", "capacity": float(capacity), "metric": 1.0}
             for i in range(n)]
    return Network.from_records(nodes=nodes, links=links, bidirectional=True, name=f"ring{n}")


def two_paths(capacity: float = 10e9) -> Network:
    """Two parallel routes from S to T: S-A-T (metric 1 + 1) and S-B-T (metric 2 + 2).

    Every link has ``capacity`` bit/s (10 Gbit/s). Shortest-path routing puts all S->T traffic on
    the upper route; a load-balancing policy can halve the maximum utilisation by splitting.
    """
    c = float(capacity)
    links = [{"src": "S", "dst": "A", "capacity": c, "metric": 1.0},
             {"src": "A", "dst": "T", "capacity": c, "metric": 1.0},
             {"src": "S", "dst": "B", "capacity": c, "metric": 2.0},
             {"src": "B", "dst": "T", "capacity": c, "metric": 2.0}]
    return Network.from_records(nodes=[{"name": n} for n in "SABT"], links=links, bidirectional=True,
                                name="two_paths")


# ---------------------------------------------------------------------------------------- Morocco
#: (node id, city, lon, lat, region (2015), population (RGPH 2014), hub).
#:
#: Population: legal municipal population of the 2014 General Census of Population and Housing
#: (Haut-Commissariat au Plan, RGPH 2014, "Population légale des régions, provinces, préfectures,
#: municipalités et communes du Royaume", published by decree 2-15-294, BO 6354, 2015). Municipal
#: figures: the Rabat node stands for Rabat only (Salé, Témara are separate municipalities).
#: Coordinates: city centres (WGS84), rounded to about 1 km. Regions: the 12 regions of the 2015
#: regionalisation (decree 2-15-40). Hubs: Casablanca and Rabat, the main data-centre and
#: interconnection sites, used by the lockdown's upload asymmetry.
MOROCCO_CITIES: tuple[tuple[str, str, float, float, str, int, bool], ...] = (
    ("Casablanca", "Casablanca", -7.5898, 33.5731, "Casablanca-Settat", 3_359_818, True),
    ("Fes", "Fès", -5.0078, 34.0331, "Fès-Meknès", 1_112_072, False),
    ("Tanger", "Tanger", -5.8340, 35.7595, "Tanger-Tétouan-Al Hoceïma", 947_952, False),
    ("Marrakech", "Marrakech", -7.9811, 31.6295, "Marrakech-Safi", 928_850, False),
    ("Rabat", "Rabat", -6.8498, 34.0209, "Rabat-Salé-Kénitra", 577_827, True),
    ("Meknes", "Meknès", -5.5473, 33.8935, "Fès-Meknès", 520_428, False),
    ("Oujda", "Oujda", -1.9086, 34.6814, "L'Oriental", 494_252, False),
    ("Kenitra", "Kénitra", -6.5802, 34.2610, "Rabat-Salé-Kénitra", 431_282, False),
    ("Agadir", "Agadir", -9.5981, 30.4278, "Souss-Massa", 421_844, False),
    ("Tetouan", "Tétouan", -5.3684, 35.5889, "Tanger-Tétouan-Al Hoceïma", 380_787, False),
    ("Safi", "Safi", -9.2372, 32.2994, "Marrakech-Safi", 308_508, False),
    ("Laayoune", "Laâyoune", -13.2033, 27.1536, "Laâyoune-Sakia El Hamra", 217_732, False),
    ("Khouribga", "Khouribga", -6.9063, 32.8811, "Béni Mellal-Khénifra", 196_196, False),
    ("El-Jadida", "El Jadida", -8.5007, 33.2316, "Casablanca-Settat", 194_934, False),
    ("Beni-Mellal", "Béni Mellal", -6.3498, 32.3373, "Béni Mellal-Khénifra", 192_676, False),
    ("Nador", "Nador", -2.9335, 35.1681, "L'Oriental", 161_726, False),
    ("Taza", "Taza", -4.0103, 34.2100, "Fès-Meknès", 148_456, False),
    ("Settat", "Settat", -7.6164, 33.0011, "Casablanca-Settat", 142_250, False),
    ("Larache", "Larache", -6.1560, 35.1932, "Tanger-Tétouan-Al Hoceïma", 125_008, False),
    ("Guelmim", "Guelmim", -10.0574, 28.9870, "Guelmim-Oued Noun", 118_318, False),
    ("Dakhla", "Dakhla", -15.9570, 23.6848, "Dakhla-Oued Ed-Dahab", 106_277, False),
    ("Errachidia", "Errachidia", -4.4244, 31.9314, "Drâa-Tafilalet", 92_374, False),
    ("Essaouira", "Essaouira", -9.7595, 31.5085, "Marrakech-Safi", 77_966, False),
    ("Tiznit", "Tiznit", -9.7316, 29.6974, "Souss-Massa", 74_699, False),
    ("Ouarzazate", "Ouarzazate", -6.8936, 30.9189, "Drâa-Tafilalet", 71_067, False),
    ("Al-Hoceima", "Al Hoceïma", -3.9372, 35.2517, "Tanger-Tétouan-Al Hoceïma", 56_716, False),
)

#: Undirected fibre routes, following the main road/rail corridors.
MOROCCO_LINKS: tuple[tuple[str, str], ...] = (
    # Atlantic coast: Tanger - Larache - Kénitra - Rabat - Casablanca - El Jadida - Safi - Essaouira - Agadir
    ("Tanger", "Larache"), ("Larache", "Kenitra"), ("Kenitra", "Rabat"), ("Rabat", "Casablanca"),
    ("Casablanca", "El-Jadida"), ("El-Jadida", "Safi"), ("Safi", "Essaouira"), ("Essaouira", "Agadir"),
    # Atlantic south (N1): a chain, as in reality
    ("Agadir", "Tiznit"), ("Tiznit", "Guelmim"), ("Guelmim", "Laayoune"), ("Laayoune", "Dakhla"),
    # North-east: Rabat - Meknès - Fès - Taza - Oujda - Nador
    ("Rabat", "Meknes"), ("Meknes", "Fes"), ("Fes", "Taza"), ("Taza", "Oujda"), ("Oujda", "Nador"),
    # Mediterranean: Tanger - Tétouan - Al Hoceïma - Nador (closes the northern ring)
    ("Tanger", "Tetouan"), ("Tetouan", "Al-Hoceima"), ("Al-Hoceima", "Nador"),
    # Centre: Casablanca - Settat - Marrakech - Agadir; Casablanca - Khouribga - Béni Mellal
    ("Casablanca", "Settat"), ("Settat", "Marrakech"), ("Marrakech", "Agadir"),
    ("Casablanca", "Khouribga"), ("Khouribga", "Beni-Mellal"), ("Beni-Mellal", "Marrakech"),
    ("Beni-Mellal", "Fes"),  # N8 via Khénifra and Azrou
    ("Marrakech", "Safi"),
    # Atlas and south-east: Marrakech - Ouarzazate - Errachidia - Meknès (N13 via Midelt); Agadir - Ouarzazate (N10)
    ("Marrakech", "Ouarzazate"), ("Ouarzazate", "Errachidia"), ("Errachidia", "Meknes"),
    ("Agadir", "Ouarzazate"),
)

#: Fibre length / great-circle distance (fibre follows roads and railways).
MOROCCO_ROUTE_FACTOR = 1.2


def morocco(capacity: float = 100e9) -> Network:
    """A Moroccan national backbone: 26 cities, 32 fibre routes (both directions).

    Nodes carry ``city`` (display name), ``lon``/``lat``, ``region`` (the 12 regions of 2015),
    ``population`` (HCP, RGPH 2014 legal municipal population) and ``hub`` (True for Casablanca
    and Rabat, the data-centre and interconnection sites). See :data:`MOROCCO_CITIES` for sources.

    Links follow the main corridors (:data:`MOROCCO_LINKS`): the Atlantic coast, the north-east
    Rabat-Fès-Oujda axis, the Mediterranean coast, the Casablanca-Marrakech-Agadir axis, Béni
    Mellal-Khouribga-Casablanca and the Atlas routes. The north and the centre form rings (no
    single fibre cut isolates a city there); the Atlantic south Agadir-Tiznit-Guelmim-Laâyoune-
    Dakhla is a chain, as the real N1 corridor is.

    Rules: ``length_km`` = great-circle distance x :data:`MOROCCO_ROUTE_FACTOR` (1.2), rounded to
    1 km; ``metric`` = ceil(length_km / 10) (one unit per 10 km, a common length-based IGP rule);
    latency from length at 200 km/ms.

    Capacity: a provisional uniform ``capacity`` (100 Gbit/s per direction) -- real capacities are
    not public. The demo sizes them from the traffic with the project's sizing rule
    (``surgeguard.plan.size_capacities``). ``meta['utc_offset_hours']`` = 1 (Morocco kept UTC+1 from
    October 2018 except during Ramadan; 20 March 2020 was UTC+1).
    """
    nodes = [{"name": nid, "city": city, "lon": lon, "lat": lat, "region": region,
              "population": float(pop), "hub": bool(hub)}
             for nid, city, lon, lat, region, pop, hub in MOROCCO_CITIES]
    pos = {r["name"]: (r["lon"], r["lat"]) for r in nodes}
    links = []
    for a, b in MOROCCO_LINKS:
        gc = float(great_circle_km(*pos[a], *pos[b]))
        length = float(round(gc * MOROCCO_ROUTE_FACTOR))
        links.append({"src": a, "dst": b, "capacity": float(capacity), "length_km": length,
                      "metric": float(math.ceil(length / 10.0))})
    return Network.from_records(
        nodes=nodes, links=links, bidirectional=True, name="morocco",
        meta={"utc_offset_hours": 1.0,
              "population_source": "HCP, RGPH 2014 legal municipal population",
              "regions": "12 regions of the 2015 regionalisation",
              "metric_rule": "ceil(length_km / 10), length_km = 1.2 x great-circle distance",
              "capacity_note": ("provisional uniform capacity; size with "
                                "surgeguard.plan.size_capacities before reading utilisation")})
