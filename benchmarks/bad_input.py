"""Bad input never yields a wrong answer: a table-driven battery of malformed and hostile inputs.

Usage: python benchmarks/bad_input.py [--data ../shared/data] [--workers 2] [--only SUBSTRING]

Every row of :data:`CASES` is one input given to the real command line (the console script's
``main()`` in a process of its own, with a timeout and a 4 GiB data-segment limit so that a missing
memory guard fails with ``MemoryError`` instead of swapping the machine) or to one reader of the
library (run the same way, through this file's ``--call`` driver, which prints ``error: <message>``
and exits 2 on a surgeguard error, as the CLI does). Each case's process is forked from a "zygote"
that imported the CLI once (about 1.5 s of CPU less per case; what the import printed is copied to
every case's output); ``SURGEGUARD_BAD_INPUT_FORK=0`` starts a new interpreter per case instead.
Each row says what it expects:

* ``error``: exit code 2, exactly one line on stderr starting ``error: ``, nothing on stdout, no
  file already on disk changed (``sentinel``), no output folder left behind (``absent``), and the
  line names the input (``must``: the option or the file);
* ``ok``: exit code 0 and a correct answer (``check`` states and tests it);
* ``bounded`` (an XML bomb): refused as ``error``, or read without expanding it, giving the ``ok`` answer.

Every input is built by the row's ``setup`` in a fresh folder (small: the triangle and a ring written
as node-link JSON, ten days of hourly traffic on the triangle); rows marked ``data`` read the real
Abilene/GÉANT files in ``../shared/data`` and are left out where it is absent.

Grades: **well** (as expected), **weak** (right exit code, but several lines on stderr, a message
that does not name the input, or a folder left behind), **failed** (wrong exit code, a traceback, a
hang, a result printed from invalid input, a file overwritten, or a wrong answer).

Writes ``benchmarks/results/bad_input.{json,md}``: per command, the cases by grade, every weak and
failed case with what it printed, and the machine's description. ``tests/test_bad_input.py`` runs
the same table (this module is the one copy).
"""

from __future__ import annotations

import argparse
import atexit
import concurrent.futures as cf
import io
import json
import math
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"

#: the twelve commands, in the order of the report
COMMANDS = ("info", "solve", "replay", "forecast", "detect", "train", "whatif", "sweep", "plan", "runout",
            "demo", "bench te")
#: the readers every one of which the battery exercises (``Case.reader``)
READERS = ("topohub", "sndlib-network", "node-link-json", "graphml", "cfrrl", "sndlib-demands", "zhang",
           "dote-hist", "tunnels", "frame-csv", "frame-parquet", "failures", "model")
#: probable owners of a failing case (the issue's three fixes)
OWNERS = ("readers/models", "cli/outputs", "resources/solvers")
GRADES = ("well", "weak", "failed")
#: data-segment limit of every command (bytes): a missing memory guard gives MemoryError, not swap
MEMORY_LIMIT = 4 << 30
#: the triangle's node-link file's nodes and demands of the valid series (bit/s at the daily mean)
TRI_NODES = ("A", "B", "C")
TRI_BASE = {("A", "B"): 1.0e9, ("A", "C"): 0.6e9, ("B", "A"): 0.8e9, ("B", "C"): 0.4e9,
            ("C", "A"): 0.7e9, ("C", "B"): 0.5e9}
CAP = 10e9
ABILENE = ("ATLAM5", "ATLAng", "CHINng", "DNVRng", "HSTNng", "IPLSng", "KSCYng", "LOSAng", "NYCMng",
           "SNVAng", "STTLng", "WASHng")


# ====================================================================== the case
@dataclass(frozen=True)
class Case:
    """One malformed (or valid) input and what must happen.

    ``args`` holds the command line after ``surgeguard`` (for a CLI case) or
    ``("module:function", [args], {kwargs})`` (for a reader case, ``command == "reader"``). In both,
    ``{B}`` is the folder of shared valid inputs, ``{W}`` the case's own folder (also the working
    directory) and ``{D}`` the real-data folder.
    """

    id: str
    command: str
    args: tuple
    expect: str                      # 'error' | 'ok' | 'bounded' (a bomb: refused, or read correctly)
    what: str                        # the input, in words
    owner: str                       # probable owner when it fails
    setup: Callable | None = None    # setup(ws: Path) builds the inputs
    check: Callable | None = None    # ok cases: check(outcome) -> None | 'weak: ...' | failure text
    must: tuple = ()                 # error cases: words the error line must contain (any case; 'a|b': either)
    timeout: float = 30.0
    sentinel: str | None = None      # a file (relative to {W}) written first that must stay unchanged
    absent: str | None = None        # a path (relative to {W}) that must not exist after a failure
    data: bool = False               # reads ../shared/data
    reader: str | None = None        # the reader this case exercises (see READERS)


@dataclass
class Outcome:
    """What a case did and its grade."""

    case: Case
    rc: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool
    ws: Path
    data: str = ""                   # the real-data folder the case saw
    grade: str = ""
    detail: str = ""

    def describe(self) -> str:
        return (f"{self.case.id} [{self.case.command}] expected {self.case.expect}: {self.grade}: {self.detail}\n"
                f"  input: {self.case.what}\n  rc={self.rc} in {self.seconds:.1f} s\n"
                f"  stdout: {self.stdout[:400]!r}\n  stderr: {self.stderr[-800:]!r}")


# ====================================================================== file builders
def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def node_link(nodes, links, *, directed=True, multigraph=False, edge_key="links") -> str:
    """Node-link JSON text (``json.dumps`` writes NaN/Infinity literals, as a careless exporter would)."""
    return json.dumps({"directed": directed, "multigraph": multigraph, "graph": {},
                       "nodes": [{"id": n} for n in nodes],
                       edge_key: [dict(source=s, target=t, **attrs) for s, t, attrs in links]})


def tri_links(cap=CAP, **override):
    """The triangle's six directed links; ``override[(s, t)] = attrs`` replaces one link's attributes."""
    out = []
    for s in TRI_NODES:
        for t in TRI_NODES:
            if s != t:
                attrs = {"capacity": cap, "metric": 1.0}
                attrs.update(override.get(f"{s}{t}", {}))
                out.append((s, t, attrs))
    return out


def tri_json(path: Path, cap=CAP, **override) -> Path:
    return write(path, node_link(TRI_NODES, tri_links(cap, **override)))


def ring_json(path: Path, names, cap=CAP) -> Path:
    n = len(names)
    links = []
    for i in range(n):
        a, b = names[i], names[(i + 1) % n]
        links += [(a, b, {"capacity": cap}), (b, a, {"capacity": cap})]
    return write(path, node_link(names, links))


def sndlib_net(path: Path, caps=("10000.0", "10000.0", "10000.0"), *, unit="MBITPERSEC", nodes=TRI_NODES,
               links=None, doctype="", tail="</network>\n") -> Path:
    """An SNDlib network XML of the triangle; ``caps`` are the three links' capacity texts."""
    links = links if links is not None else [("A", "B"), ("B", "C"), ("A", "C")]
    nd = "".join(f'   <node id="{n}"><coordinates><x>{i}.0</x><y>{i}.5</y></coordinates></node>\n'
                 for i, n in enumerate(nodes))
    lk = "".join(f'   <link id="{s}_{t}"><source>{s}</source><target>{t}</target>'
                 f'<preInstalledModule><capacity>{c}</capacity><cost>0.0</cost></preInstalledModule></link>\n'
                 for (s, t), c in zip(links, caps))
    text = (f'<?xml version="1.0" encoding="ISO-8859-1"?>\n{doctype}'
            f'<network xmlns="http://sndlib.zib.de/network" version="1.0">\n'
            f' <meta><unit>{unit}</unit></meta>\n <networkStructure>\n  <nodes coordinatesType="geographical">\n'
            f'{nd}  </nodes>\n  <links>\n{lk}  </links>\n </networkStructure>\n{tail}')
    return write(path, text)


def sndlib_demands(path: Path, values=None, *, time_="20200301-0000", unit="MBITPERSEC", nodes=TRI_NODES,
                   doctype="", entity_ref="") -> Path:
    """One SNDlib demand XML on the triangle; ``values[(s, t)]`` are demandValue texts (Mbit/s)."""
    values = values if values is not None else {k: f"{v / 1e6:.1f}" for k, v in TRI_BASE.items()}
    nd = "".join(f'   <node id="{n}"><coordinates><x>0</x><y>0</y></coordinates></node>\n' for n in nodes)
    dm = "".join(f'  <demand id="{s}_{t}"><source>{s}</source><target>{t}</target>'
                 f'<demandValue> {v} </demandValue></demand>\n' for (s, t), v in values.items())
    text = (f'<?xml version="1.0"?>\n{doctype}<network xmlns="http://sndlib.zib.de/network" version="1.0">\n'
            f' <meta><granularity>5min</granularity><time>{time_}</time><unit>{unit}</unit>'
            f'<origin>{entity_ref}</origin></meta>\n'
            f' <networkStructure>\n  <nodes coordinatesType="geographical">\n{nd}  </nodes>\n </networkStructure>\n'
            f' <demands>\n{dm} </demands>\n</network>\n')
    return write(path, text)


def graphml(path: Path, edges, *, nodes=TRI_NODES, directed=False, speed_type="double", doctype="",
            label_ref="") -> Path:
    """A Topology-Zoo-like GraphML; ``edges`` are ``(src, dst, LinkSpeedRaw text or None)``."""
    nd = "".join(f'    <node id="{n}"><data key="d1">{n}{label_ref}</data></node>\n' for n in nodes)
    ed = "".join(f'    <edge source="{s}" target="{t}">'
                 + (f'<data key="d0">{v}</data>' if v is not None else "") + "</edge>\n" for s, t, v in edges)
    text = (f'<?xml version="1.0" encoding="utf-8"?>\n{doctype}'
            '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'
            f'  <key id="d0" for="edge" attr.name="LinkSpeedRaw" attr.type="{speed_type}"/>\n'
            '  <key id="d1" for="node" attr.name="label" attr.type="string"/>\n'
            f'  <graph edgedefault="{"directed" if directed else "undirected"}">\n{nd}{ed}  </graph>\n</graphml>\n')
    return write(path, text)


TRI_EDGES = [("A", "B", "10000000000"), ("B", "C", "10000000000"), ("A", "C", "10000000000")]


def cfrrl(path: Path, rows, n=3, e=None) -> Path:
    """CFR-RL text; ``rows`` are ``(src, dst, ospf, capacity-kbps text)`` with 0-based indices."""
    e = len(rows) if e is None else e
    body = "".join(f"{k}\t{s}\t{t}\t{w}\t{c}\n" for k, (s, t, w, c) in enumerate(rows))
    return write(path, f"Node_num: {n}\tEdge_num: {e}\nLink_index\tSource\tDestination\tOSPF\tCapacity(kbps)\n{body}")


TRI_CFRRL = [(s, t, 1, "10000000") for s in range(3) for t in range(3) if s != t]


def series_values(t: int) -> dict:
    """The valid long series at hour ``t``: TRI_BASE x (1 + 0.3 sin(2 pi t / 24) + 0.001 t)."""
    f = 1 + 0.3 * math.sin(2 * math.pi * t / 24) + 0.001 * t
    return {k: v * f for k, v in TRI_BASE.items()}


def stamp(t: int) -> str:
    return f"2020-03-{1 + t // 24:02d}T{t % 24:02d}:00:00Z"


def csv_rows(rows, header="ds,src,dst,bps") -> str:
    return header + "\n" + "".join(",".join(str(x) for x in r) + "\n" for r in rows)


def series_csv(path: Path, steps: int, rate="bps", factor=1.0, extra=()) -> Path:
    rows = [(stamp(t), s, d, repr(v * factor)) for t in range(steps) for (s, d), v in series_values(t).items()]
    return write(path, csv_rows(list(rows) + list(extra), header=f"ds,src,dst,{rate}"))


def hist(path: Path, steps: int, n=3, names=TRI_NODES) -> Path:
    lines = []
    for t in range(steps):
        v = series_values(t)
        lines.append(" ".join(repr(v.get((a, b), 0.0)) for a in names for b in names))
    return write(path, "\n".join(lines) + "\n")


def tunnels(path: Path) -> Path:
    lines = [f"{s} {t}:{s}-{t},{s}-{3 - s - t}-{t}" for s in range(3) for t in range(3) if s != t]
    return write(path, "\n".join(lines) + "\n")


def tar_xz(path: Path, members: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:xz") as tf:
        for name, text in members.items():
            data = text.encode() if isinstance(text, str) else text
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


BILLION_LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                            for i in range(1, 10)) + "]>\n")
QUADRATIC = '<!DOCTYPE q [<!ENTITY a "' + "A" * 200_000 + '">]>\n'
XXE = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
GARBAGE = bytes(range(256)) * 64


def big_ring(path: Path, n: int) -> Path:
    """A node-link ring of ``n`` nodes with capacities (a 50,000-node topology is ~4 MB)."""
    links = []
    for i in range(n):
        j = (i + 1) % n
        links.append({"source": i, "target": j, "capacity": CAP})
    return write(path, json.dumps({"directed": False, "multigraph": False, "graph": {},
                                   "nodes": [{"id": i} for i in range(n)], "links": links}))


# ====================================================================== the shared valid inputs
def build_base(base: Path, python: str = sys.executable) -> None:
    """The valid inputs every case may read (``{B}``): networks, series, paths, a trained model."""
    base.mkdir(parents=True, exist_ok=True)
    tri_json(base / "tri.json")
    ring_json(base / "ring5.json", [f"R{i}" for i in range(5)])
    ring_json(base / "abl.json", ABILENE)
    series_csv(base / "long.csv", 240)
    series_csv(base / "short.csv", 4)
    hist(base / "tri.hist", 4)
    tunnels(base / "tun.txt")
    write(base / "fail.txt", "# one fibre cut\nA->B, B->A\n")
    sndlib_net(base / "tri.xml")
    graphml(base / "tri.graphml", TRI_EDGES)
    cfrrl(base / "tri_cfrrl.txt", TRI_CFRRL)
    env = _env()
    r = subprocess.run(surgeguard_cmd() + ["train", "-n", str(base / "tri.json"), "-t", str(base / "long.csv"),
                                           "--out", str(base / "tri.pt"), "--epochs", "1", "--json"],
                       capture_output=True, text=True, env=env, timeout=300)
    if r.returncode != 0 or not (base / "tri.pt").is_file():
        # the model cases then fail on their own; the battery still runs
        write(base / "train_failed.txt", r.stderr[-4000:])
        return
    code = (
        "import sys, torch\n"
        "b = torch.load(sys.argv[1], map_location='cpu', weights_only=True)\n"
        "torch.save({'format': 'surgeguard-learned', 'version': b['version']}, sys.argv[2])\n"
        "v = dict(b); v['version'] = 999; torch.save(v, sys.argv[3])\n"
        "s = dict(b); sd = dict(s['state_dict']); k = next(iter(sd)); sd[k] = torch.zeros(3, 3)\n"
        "s['state_dict'] = sd; torch.save(s, sys.argv[4])\n"
        "import collections; torch.save(collections.Counter(a=1), sys.argv[5])\n"
        "n = dict(b); n['od_mean'] = b['od_mean'] * float('nan'); torch.save(n, sys.argv[6])\n")
    subprocess.run([python, "-c", code, str(base / "tri.pt"), str(base / "model_fields.pt"),
                    str(base / "model_version.pt"), str(base / "model_shape.pt"), str(base / "model_pickle.pt"),
                    str(base / "model_nan.pt")], capture_output=True, text=True, env=env, timeout=300)


# ====================================================================== checks of valid answers
def _strict_json(text: str):
    """``json.loads`` that refuses NaN and Infinity (which are not JSON)."""
    def bad(name):
        raise ValueError(f"{name} is not valid JSON")
    return json.loads(text, parse_constant=bad)


def _json_lines(out: Outcome) -> list:
    return [_strict_json(line) for line in out.stdout.splitlines() if line.strip()]


def _close(a, b, rel=1e-6) -> bool:
    return a is not None and b is not None and math.isfinite(a) and abs(a - b) <= rel * abs(b) + 1e-12


def check_lines(fn):
    """A check over the stdout's strict JSON lines; exceptions become the failure text."""
    def check(out: Outcome):
        try:
            return fn(_json_lines(out))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            return f"stdout is not the expected JSON ({type(exc).__name__}: {str(exc)[:120]})"
    return check


def shortest_mlu(t: int, factor=1.0) -> float:
    """MLU of shortest-path routing on the triangle (every OD on its direct link) at step ``t``."""
    return max(series_values(t).values()) * factor / CAP


def expect_mlus(expected: list, policy=None):
    def fn(recs):
        if len(recs) != len(expected):
            return f"{len(recs)} JSON lines, expected {len(expected)}"
        for r, want in zip(recs, expected):
            if policy and r.get("policy") != policy:
                return f"policy {r.get('policy')!r}, expected {policy!r}"
            if not _close(r["mlu"], want):
                return f"MLU {r['mlu']!r} at index {r['index']}, expected {want!r}"
        return None
    return check_lines(fn)


def stdout_has(*words, weak_words=()):
    def check(out: Outcome):
        low = out.stdout.lower()
        missing = [w for w in words if w.lower() not in low]
        if missing:
            return f"stdout lacks {missing}: {out.stdout[:160]!r}"
        weak = [w for w in weak_words if w.lower() not in low]
        if weak:
            return f"weak: the answer does not say {weak}"
        return None
    return check


def reader_result(fn):
    """A check of the ``--call`` driver's JSON summary of a reader's result."""
    def check(out: Outcome):
        try:
            res = _strict_json(out.stdout)
        except ValueError as exc:
            return f"no result summary ({exc})"
        try:
            return fn(res)
        except (KeyError, TypeError, IndexError) as exc:
            return f"unexpected result {res!r:.160} ({exc})"
    return check


def _check_geant_opt(data: Path):
    def fn(recs):
        opt = [float(x) for x in (data / "geant" / "dote_format" / "train" / "5.opt").read_text().split()]
        if len(recs) != len(opt):
            return f"{len(recs)} lines, expected {len(opt)}"
        for r, want in zip(recs, opt):
            if not _close(r["mlu"], want):
                return f"MLU {r['mlu']} at {r['index']} differs from the published optimum {want}"
        return None
    return check_lines(fn)


# ====================================================================== the table
def _cases() -> list[Case]:  # noqa: C901, PLR0915 (one long table on purpose)
    cases: list[Case] = []

    def cli(id_, command, args, expect, what, owner, **kw):
        words = command.split() + list(args)
        cases.append(Case(id_, command, tuple(words), expect, what, owner, **kw))

    def bad(id_, command, args, what, owner, **kw):
        cli(id_, command, args, "error", what, owner, **kw)

    def reader(id_, func, args, kwargs, expect, what, owner, reader_name, **kw):
        cases.append(Case(id_, "reader", (func, list(args), dict(kwargs)), expect, what, owner,
                          reader=reader_name, **kw))

    R, C, S = OWNERS
    T = ["-n", "{B}/tri.json"]
    TS = T + ["-t", "{B}/short.csv"]
    TL = T + ["-t", "{B}/long.csv"]

    def net(name, builder):
        """setup writing {W}/<name> with ``builder(path)``."""
        return lambda ws: builder(ws / name)

    # ------------------------------------------------------------------ info: node-link JSON
    for cid, cap, what in [("nan", float("nan"), "NaN"), ("infinity", float("inf"), "Infinity"),
                           ("gbps-string", "10 Gbps", '"10 Gbps"'), ("negative", -5e9, "-5e9"),
                           ("zero", 0, "0"), ("bool", True, "true"), ("list", [1, 2], "[1, 2]")]:
        bad(f"info/json-capacity-{cid}", "info", ["-n", "{W}/net.json"],
            f"node-link JSON whose link A->B has capacity {what}", R,
            setup=net("net.json", lambda p, cap=cap: tri_json(p, AB={"capacity": cap})),
            must=("net.json",), reader="node-link-json")
    bad("info/json-duplicate-link", "info", ["-n", "{W}/net.json"],
        "non-multigraph node-link JSON listing A->B twice", R,
        setup=net("net.json", lambda p: write(p, node_link(TRI_NODES, tri_links() + [("A", "B", {"capacity": CAP})]))),
        must=("net.json",), reader="node-link-json")
    bad("info/json-nodes-no-links", "info", ["-n", "{W}/net.json"], "nodes but an empty links list", R,
        setup=net("net.json", lambda p: write(p, node_link(TRI_NODES, []))), must=("net.json",),
        reader="node-link-json")
    bad("info/json-one-node", "info", ["-n", "{W}/net.json"], "a single node, no links", R,
        setup=net("net.json", lambda p: write(p, node_link(["A"], []))), reader="node-link-json")
    bad("info/json-empty-file", "info", ["-n", "{W}/net.json"], "an empty .json file", R,
        setup=net("net.json", lambda p: write(p, "")), must=("net.json",), reader="node-link-json")
    bad("info/json-truncated", "info", ["-n", "{W}/net.json"], "node-link JSON cut in the middle", R,
        setup=net("net.json", lambda p: write(p, node_link(TRI_NODES, tri_links())[:-40])), must=("net.json",),
        reader="node-link-json")
    bad("info/json-array", "info", ["-n", "{W}/net.json"], "a JSON array instead of a graph", R,
        setup=net("net.json", lambda p: write(p, "[]")), must=("net.json",), reader="node-link-json")
    bad("info/json-unknown-node", "info", ["-n", "{W}/net.json"], "a link to node Z that is not in 'nodes'", R,
        setup=net("net.json", lambda p: write(p, node_link(TRI_NODES, tri_links() + [("A", "Z", {"capacity": CAP})]))),
        must=("net.json",), reader="node-link-json")
    bad("info/json-duplicate-node", "info", ["-n", "{W}/net.json"], "node A listed twice", R,
        setup=net("net.json", lambda p: write(p, node_link(list(TRI_NODES) + ["A"], tri_links()))),
        must=("net.json",), reader="node-link-json")
    bad("info/json-self-loop", "info", ["-n", "{W}/net.json"], "a link A->A", R,
        setup=net("net.json", lambda p: write(p, node_link(TRI_NODES, tri_links() + [("A", "A", {"capacity": CAP})]))),
        reader="node-link-json")
    bad("info/json-metric-nan", "info", ["-n", "{W}/net.json"], "IGP metric NaN on A->B", R,
        setup=net("net.json", lambda p: tri_json(p, AB={"metric": float("nan")})), must=("net.json",),
        reader="node-link-json")
    bad("info/json-metric-negative", "info", ["-n", "{W}/net.json"], "IGP metric -1 on A->B", R,
        setup=net("net.json", lambda p: tri_json(p, AB={"metric": -1})), reader="node-link-json")
    bad("info/json-binary", "info", ["-n", "{W}/net.json"], "binary garbage named .json", R,
        setup=net("net.json", lambda p: write(p, GARBAGE)), must=("net.json",), reader="node-link-json")
    bad("info/json-deep-nesting", "info", ["-n", "{W}/net.json"], "JSON nested 200,000 levels deep", R,
        setup=net("net.json", lambda p: write(p, "[" * 200_000 + "]" * 200_000)), must=("net.json",),
        reader="node-link-json")
    bad("info/csv-as-network", "info", ["-n", "{B}/long.csv"], "a traffic CSV given as the network", R,
        must=("long.csv",))
    bad("info/directory", "info", ["-n", "{W}"], "a directory as the network", R)
    bad("info/missing-file", "info", ["-n", "{W}/nope.json"], "a path that does not exist", R, must=("nope.json",))
    bad("info/unknown-topohub-key", "info", ["-n", "sndlib/nosuchnet"], "an unknown topohub key", R,
        must=("sndlib/nosuchnet",), reader="topohub")
    bad("info/empty-network-arg", "info", ["-n", ""], "an empty --network", C)
    bad("info/fifo-network", "info", ["-n", "{W}/net.json"], "a FIFO named net.json (nobody writes to it)", S,
        setup=lambda ws: os.mkfifo(ws / "net.json"), timeout=20, reader="node-link-json")
    bad("info/dev-zero-json", "info", ["-n", "{W}/net.json"], "net.json linked to /dev/zero (endless)", S,
        setup=lambda ws: os.symlink("/dev/zero", ws / "net.json"), timeout=20)
    cli("info/json-edges-key", "info", ["-n", "{W}/net.json"], "ok", "valid node-link JSON with 'edges' (not 'links')",
        R, setup=net("net.json", lambda p: write(p, node_link(TRI_NODES, tri_links(), edge_key="edges"))),
        check=stdout_has("3 nodes, 6 directed links", "capacity source: file"), reader="node-link-json")
    cli("info/json-valid", "info", ["-n", "{B}/tri.json"], "ok", "the valid triangle", R,
        check=stdout_has("3 nodes, 6 directed links", "10-10 Gbit/s"), reader="node-link-json")
    cli("info/topohub-valid", "info", ["-n", "sndlib/abilene"], "ok", "topohub sndlib/abilene (no capacities)", R,
        check=stdout_has("12 nodes, 30 directed links", "capacity source: none"), reader="topohub")

    # ------------------------------------------------------------------ info: SNDlib network XML
    for cid, cap in [("nan", "NaN"), ("infinity", "Infinity"), ("gbps-string", "10 Gbps"), ("negative", "-100"),
                     ("zero", "0")]:
        bad(f"info/sndlib-capacity-{cid}", "info", ["-n", "{W}/net.xml"],
            f"SNDlib XML whose link A_B has capacity {cap!r}", R,
            setup=net("net.xml", lambda p, cap=cap: sndlib_net(p, (cap, "10000.0", "10000.0"))), must=("net.xml",),
            reader="sndlib-network")
    bad("info/sndlib-truncated", "info", ["-n", "{W}/net.xml"], "SNDlib XML without its closing tags", R,
        setup=net("net.xml", lambda p: sndlib_net(p, tail="")), must=("net.xml",), reader="sndlib-network")
    bad("info/sndlib-billion-laughs", "info", ["-n", "{W}/net.xml"], "SNDlib XML with a billion-laughs entity", R,
        setup=net("net.xml", lambda p: sndlib_net(p, doctype=BILLION_LAUGHS, unit="MBITPERSEC&lol9;")),
        must=("net.xml",), reader="sndlib-network")
    bad("info/sndlib-quadratic", "info", ["-n", "{W}/net.xml"], "SNDlib XML with a 200 kB entity used 2,000 times", R,
        setup=net("net.xml", lambda p: sndlib_net(p, doctype=QUADRATIC, unit="&a;" * 2000)), reader="sndlib-network")
    bad("info/sndlib-xxe", "info", ["-n", "{W}/net.xml"], "SNDlib XML with an external entity (file:///etc/passwd)",
        R, setup=net("net.xml", lambda p: sndlib_net(p, doctype=XXE, unit="&xxe;")), reader="sndlib-network")
    bad("info/sndlib-undeclared-node", "info", ["-n", "{W}/net.xml"], "SNDlib link to undeclared node Z", R,
        setup=net("net.xml", lambda p: sndlib_net(p, links=[("A", "B"), ("B", "C"), ("A", "Z")])), must=("net.xml",),
        reader="sndlib-network")
    bad("info/sndlib-no-links", "info", ["-n", "{W}/net.xml"], "SNDlib XML with nodes and no links", R,
        setup=net("net.xml", lambda p: sndlib_net(p, links=[])), must=("net.xml",), reader="sndlib-network")
    bad("info/sndlib-duplicate-link", "info", ["-n", "{W}/net.xml"], "SNDlib XML with link A_B twice", R,
        setup=net("net.xml", lambda p: sndlib_net(p, caps=("10000",) * 4, links=[("A", "B"), ("B", "C"), ("A", "C"),
                                                                               ("A", "B")])),
        must=("net.xml",), reader="sndlib-network")
    bad("info/sndlib-unknown-unit", "info", ["-n", "{W}/net.xml"], "SNDlib <unit>FURLONGS</unit>", R,
        setup=net("net.xml", lambda p: sndlib_net(p, unit="FURLONGS")), must=("FURLONGS",), reader="sndlib-network")
    bad("info/sndlib-wrong-root", "info", ["-n", "{W}/net.xml"], "an XML file that is not an SNDlib network", R,
        setup=net("net.xml", lambda p: write(p, "<?xml version='1.0'?><foo><bar/></foo>")), must=("net.xml",),
        reader="sndlib-network")
    bad("info/sndlib-empty", "info", ["-n", "{W}/net.xml"], "an empty .xml file", R,
        setup=net("net.xml", lambda p: write(p, "")), must=("net.xml",), reader="sndlib-network")
    cli("info/sndlib-valid", "info", ["-n", "{B}/tri.xml"], "ok", "valid SNDlib triangle (10000 Mbit/s links)", R,
        check=stdout_has("3 nodes, 6 directed links", "10-10 Gbit/s", "capacity source: file"),
        reader="sndlib-network")
    cli("info/sndlib-real-abilene", "info", ["-n", "{D}/abilene/topology/sndlib_abilene.xml"], "ok",
        "the real SNDlib Abilene", R, check=stdout_has("12 nodes, 30 directed links", "capacity source: file"),
        data=True, reader="sndlib-network")

    # ------------------------------------------------------------------ info: GraphML
    bad("info/graphml-undeclared-node", "info", ["-n", "{W}/net.graphml"], "GraphML edge to undeclared node Z", R,
        setup=net("net.graphml", lambda p: graphml(p, TRI_EDGES + [("A", "Z", "10000000000")])),
        must=("net.graphml",), reader="graphml")
    for cid, val in [("nan", "NaN"), ("negative", "-1e9"), ("infinity", "INF")]:
        bad(f"info/graphml-speed-{cid}", "info", ["-n", "{W}/net.graphml"], f"GraphML LinkSpeedRaw {val}", R,
            setup=net("net.graphml", lambda p, val=val: graphml(p, [("A", "B", val)] + TRI_EDGES[1:])),
            must=("net.graphml",), reader="graphml")
    bad("info/graphml-speed-text", "info", ["-n", "{W}/net.graphml"], 'GraphML LinkSpeedRaw "10 Gbps"', R,
        setup=net("net.graphml", lambda p: graphml(p, [("A", "B", "10 Gbps")] + TRI_EDGES[1:])),
        must=("net.graphml",), reader="graphml")
    bad("info/graphml-truncated", "info", ["-n", "{W}/net.graphml"], "GraphML cut in the middle", R,
        setup=lambda ws: write(ws / "net.graphml", graphml(ws / "x.graphml", TRI_EDGES).read_text()[:-60]),
        must=("net.graphml",), reader="graphml")
    bad("info/graphml-billion-laughs", "info", ["-n", "{W}/net.graphml"], "GraphML with a billion-laughs label", R,
        setup=net("net.graphml", lambda p: graphml(p, TRI_EDGES, doctype=BILLION_LAUGHS, label_ref="&lol9;")),
        reader="graphml")
    bad("info/graphml-no-edges", "info", ["-n", "{W}/net.graphml"], "GraphML with nodes and no edges", R,
        setup=net("net.graphml", lambda p: graphml(p, [])), must=("net.graphml",), reader="graphml")
    cli("info/graphml-valid", "info", ["-n", "{B}/tri.graphml"], "ok", "valid GraphML triangle, 10 Gbit/s edges", R,
        check=stdout_has("3 nodes, 6 directed links", "10-10 Gbit/s"), reader="graphml")

    # ------------------------------------------------------------------ info: CFR-RL text
    for cid, cap in [("nan", "nan"), ("infinity", "inf"), ("gbps-string", "10Gbps"), ("negative", "-5")]:
        bad(f"info/cfrrl-capacity-{cid}", "info", ["-n", "{W}/net.txt"], f"CFR-RL capacity {cap!r} on link 0", R,
            setup=net("net.txt", lambda p, cap=cap: cfrrl(p, [(0, 1, 1, cap)] + TRI_CFRRL[1:])), must=("net.txt",),
            reader="cfrrl")
    bad("info/cfrrl-edge-count", "info", ["-n", "{W}/net.txt"], "CFR-RL header Edge_num 9 for 6 lines", R,
        setup=net("net.txt", lambda p: cfrrl(p, TRI_CFRRL, e=9)), must=("net.txt",), reader="cfrrl")
    bad("info/cfrrl-index-range", "info", ["-n", "{W}/net.txt"], "CFR-RL link to node index 7 of 3", R,
        setup=net("net.txt", lambda p: cfrrl(p, TRI_CFRRL[:-1] + [(2, 7, 1, "10000000")])), must=("net.txt",),
        reader="cfrrl")
    bad("info/cfrrl-zero-nodes", "info", ["-n", "{W}/net.txt"], "CFR-RL Node_num: 0", R,
        setup=net("net.txt", lambda p: cfrrl(p, [], n=0)), reader="cfrrl")
    bad("info/cfrrl-binary", "info", ["-n", "{W}/net.txt"], "binary garbage named .txt", R,
        setup=net("net.txt", lambda p: write(p, GARBAGE)), must=("net.txt",))
    cli("info/cfrrl-valid", "info", ["-n", "{B}/tri_cfrrl.txt"], "ok", "valid CFR-RL triangle, 10 Gbit/s", R,
        check=stdout_has("3 nodes, 6 directed links", "10-10 Gbit/s"), reader="cfrrl")
    cli("info/cfrrl-real-abilene", "info", ["-n", "{D}/abilene/topology/cfrrl_Abilene.txt"], "ok",
        "the real CFR-RL Abilene", R, check=stdout_has("12 nodes, 30 directed links"), data=True, reader="cfrrl")

    # ------------------------------------------------------------------ solve: capacities and networks
    bad("solve/capacity-nan-json", "solve", ["-n", "{W}/net.json", "-t", "{B}/short.csv", "--json"],
        "solve on a network with a NaN capacity (the issue: mlu 520260521)", R,
        setup=net("net.json", lambda p: tri_json(p, AB={"capacity": float("nan")})), must=("net.json",),
        reader="node-link-json")
    bad("solve/capacity-string-sndlib", "solve", ["-n", "{W}/net.xml", "-t", "{B}/short.csv", "--json"],
        'solve on SNDlib XML with capacity "10 Gbps"', R,
        setup=net("net.xml", lambda p: sndlib_net(p, ("10 Gbps", "10000.0", "10000.0"))), must=("net.xml",),
        reader="sndlib-network")
    bad("solve/capacity-infinity-cfrrl", "solve", ["-n", "{W}/net.txt", "-t", "gravity", "--json"],
        "solve on CFR-RL with capacity Infinity", R,
        setup=net("net.txt", lambda p: cfrrl(p, [(0, 1, 1, "Infinity")] + TRI_CFRRL[1:])), must=("net.txt",),
        reader="cfrrl")
    bad("solve/nodes-no-links", "solve", ["-n", "{W}/net.json", "-t", "gravity", "--json"],
        "a network with nodes but no links", R,
        setup=net("net.json", lambda p: write(p, node_link(TRI_NODES, []))), reader="node-link-json")
    bad("solve/big-topology-gravity", "solve", ["-n", "{W}/big.json", "-t", "gravity", "-p", "shortest", "--json"],
        "a 50,000-node ring with gravity traffic (18.6 GiB of demands)", S,
        setup=net("big.json", lambda p: big_ring(p, 50_000)), timeout=90, reader="node-link-json")

    # ------------------------------------------------------------------ solve: traffic files
    def tri_csv(rows, header="ds,src,dst,bps"):
        return lambda ws: write(ws / "tm.csv", csv_rows(rows, header))

    good_rows = [(stamp(0), s, d, v) for (s, d), v in TRI_BASE.items()]
    TM = T + ["-t", "{W}/tm.csv", "--json"]
    bad("solve/demand-1e308", "solve", TM, "one demand of 1e308 bit/s (the issue: MLU 5e297)", R,
        setup=tri_csv(good_rows[:-1] + [(stamp(0), "C", "B", "1e308")]), must=("tm.csv",), reader="frame-csv")
    bad("solve/demand-all-1e308", "solve", TM, "every demand 1e308 bit/s (the issue: mlu Infinity)", R,
        setup=tri_csv([(stamp(0), s, d, "1e308") for (s, d) in TRI_BASE]), must=("tm.csv",), reader="frame-csv")
    bad("solve/csv-header-only", "solve", TM, "a CSV with only its header", R,
        setup=tri_csv([]), must=("tm.csv",), reader="frame-csv")
    bad("solve/csv-duplicate-rows", "solve", TM, "the row (ds, A, B) twice in a CSV", R,
        setup=tri_csv(good_rows + [good_rows[0]]), must=("tm.csv",), reader="frame-csv")
    for cid, val in [("nan", "nan"), ("negative", "-5"), ("infinity", "inf"), ("text", "lots")]:
        bad(f"solve/csv-demand-{cid}", "solve", TM, f"a demand {val!r} in a CSV", R,
            setup=tri_csv(good_rows[:-1] + [(stamp(0), "C", "B", val)]), must=("tm.csv",), reader="frame-csv")
    bad("solve/csv-unknown-node", "solve", TM, "a CSV demand to node Z", R,
        setup=tri_csv(good_rows + [(stamp(0), "A", "Z", 1e9)]), must=("Z",), reader="frame-csv")
    bad("solve/csv-bad-time", "solve", TM, "a CSV ds of 'yesterday'", R,
        setup=tri_csv(good_rows + [("yesterday", "A", "B", 1e9)]), must=("tm.csv",), reader="frame-csv")
    bad("solve/csv-no-rate", "solve", TM, "a CSV without a rate column", R,
        setup=tri_csv([r[:3] + ("x",) for r in good_rows], header="ds,src,dst,volume"), must=("tm.csv",),
        reader="frame-csv")
    bad("solve/csv-two-rates", "solve", TM, "a CSV with bps and mbps columns", R,
        setup=tri_csv([r + (1,) for r in good_rows], header="ds,src,dst,bps,mbps"), must=("tm.csv",),
        reader="frame-csv")
    bad("solve/csv-empty", "solve", TM, "an empty .csv file", R,
        setup=lambda ws: write(ws / "tm.csv", ""), must=("tm.csv",), reader="frame-csv")
    bad("solve/csv-binary", "solve", TM, "binary garbage named .csv", R,
        setup=lambda ws: write(ws / "tm.csv", GARBAGE), must=("tm.csv",), reader="frame-csv")
    bad("solve/parquet-garbage", "solve", T + ["-t", "{W}/tm.parquet", "--json"], "text named .parquet", R,
        setup=lambda ws: write(ws / "tm.parquet", "ds,src,dst,bps\n"), must=("tm.parquet",), reader="frame-parquet")
    bad("solve/fifo-traffic", "solve", T + ["-t", "{W}/tm.csv", "--json"], "a FIFO as the traffic (blocks on open)",
        S, setup=lambda ws: os.mkfifo(ws / "tm.csv"), timeout=20, reader="frame-csv")
    bad("solve/dev-zero-traffic", "solve", T + ["-t", "{W}/tm.csv", "--json"], "tm.csv linked to /dev/zero", S,
        setup=lambda ws: os.symlink("/dev/zero", ws / "tm.csv"), timeout=20, reader="frame-csv")
    bad("solve/traffic-unknown-format", "solve", T + ["-t", "{W}/tm.dat"], "a traffic file with extension .dat", R,
        setup=lambda ws: write(ws / "tm.dat", "1 2 3\n"), must=("tm.dat",))
    bad("solve/traffic-is-network", "solve", T + ["-t", "{B}/tri.json"], "the network JSON given as traffic", R,
        must=("tri.json",))
    bad("solve/traffic-empty-dir", "solve", T + ["-t", "{W}/tmdir"], "an empty folder as SNDlib traffic", R,
        setup=lambda ws: (ws / "tmdir").mkdir(), must=("tmdir",), reader="sndlib-demands")
    cli("solve/csv-unsorted-missing-rows", "solve", T + ["-t", "{W}/tm.csv", "-p", "shortest", "--json"], "ok",
        "a valid CSV with rows out of order and absent ODs (zero)", R,
        setup=tri_csv([(stamp(1), "B", "C", 2e9), (stamp(0), "A", "B", 3e9)]),
        check=expect_mlus([0.3, 0.2], "shortest"), reader="frame-csv")
    cli("solve/csv-kbps", "solve", T + ["-t", "{W}/tm.csv", "-p", "shortest", "--json"], "ok",
        "a valid CSV in kbps (A->B 4e6 kbps = 4 Gbit/s)", R,
        setup=tri_csv([(stamp(0), "A", "B", 4e6)], header="ds,src,dst,kbps"), check=expect_mlus([0.4]),
        reader="frame-csv")
    cli("solve/parquet-valid", "solve", T + ["-t", "{W}/tm.parquet", "-p", "shortest", "--json"], "ok",
        "a valid Parquet frame (A->B 5 Gbit/s)", R,
        setup=lambda ws: _parquet(ws / "tm.parquet", [(stamp(0), "A", "B", 5e9)]), check=expect_mlus([0.5]),
        reader="frame-parquet")

    # SNDlib demand XML as traffic
    SD = T + ["-t", "{W}/dm.xml", "--json"]

    def dm(values=None, **kw):
        return lambda ws: sndlib_demands(ws / "dm.xml", values, **kw)

    base_dm = {k: f"{v / 1e6:.1f}" for k, v in TRI_BASE.items()}
    for cid, val in [("nan", "NaN"), ("text", "lots"), ("negative", "-1.0"), ("1e308", "1e308")]:
        bad(f"solve/sndlib-demand-{cid}", "solve", SD, f"SNDlib demandValue {val!r}", R,
            setup=dm({**base_dm, ("A", "B"): val}), must=("dm.xml",), reader="sndlib-demands")
    bad("solve/sndlib-demand-unknown-node", "solve", SD, "SNDlib demand to node Z", R,
        setup=dm({**base_dm, ("A", "Z"): "1.0"}, nodes=("A", "B", "C", "Z")), must=("Z",), reader="sndlib-demands")
    cli("solve/sndlib-demands-billion-laughs", "solve", SD + ["-p", "shortest"], "bounded",
        "SNDlib demand XML with a billion-laughs entity: refused, or read without expanding it", R,
        setup=dm(doctype=BILLION_LAUGHS, entity_ref="&lol9;"), check=expect_mlus([0.1]), reader="sndlib-demands")
    bad("solve/sndlib-demands-truncated", "solve", SD, "SNDlib demand XML cut in the middle", R,
        setup=lambda ws: write(ws / "dm.xml", sndlib_demands(ws / "x.xml").read_text()[:-120]), must=("dm.xml",),
        reader="sndlib-demands")
    bad("solve/sndlib-archive-not-archive", "solve", T + ["-t", "{W}/dm.tar.xz"], "garbage named .tar.xz", R,
        setup=lambda ws: write(ws / "dm.tar.xz", GARBAGE), must=("dm.tar.xz",), reader="sndlib-demands")
    bad("solve/sndlib-archive-truncated", "solve", T + ["-t", "{W}/dm.tar.xz"], "a .tar.xz cut in half", R,
        setup=lambda ws: _truncated_tar(ws), must=("dm.tar.xz",), reader="sndlib-demands")
    bad("solve/sndlib-archive-no-xml", "solve", T + ["-t", "{W}/dm.tar.xz"], "a .tar.xz holding only a README", R,
        setup=lambda ws: tar_xz(ws / "dm.tar.xz", {"README": "nothing here\n"}), must=("dm.tar.xz",),
        reader="sndlib-demands")
    bad("solve/sndlib-duplicate-times", "solve", T + ["-t", "{W}/dms"], "two demand files with the same <time>", R,
        setup=lambda ws: (sndlib_demands(ws / "dms" / "a.xml"), sndlib_demands(ws / "dms" / "b.xml")),
        must=("dms",), reader="sndlib-demands")
    cli("solve/sndlib-demands-valid", "solve", T + ["-t", "{W}/dms", "-p", "shortest", "--json"], "ok",
        "a folder of two valid SNDlib demand files (A->B 1000 and 2000 Mbit/s)", R,
        setup=lambda ws: (sndlib_demands(ws / "dms" / "a.xml", {("A", "B"): "1000.0"}, time_="20200301-0000"),
                          sndlib_demands(ws / "dms" / "b.xml", {("A", "B"): "2000.0"}, time_="20200301-0005")),
        check=expect_mlus([0.1, 0.2]), reader="sndlib-demands")

    # DOTE .hist and Zhang
    bad("solve/hist-wrong-columns", "solve", T + ["-t", "{W}/tm.hist"], "a .hist line of 8 values for 3 nodes", R,
        setup=lambda ws: write(ws / "tm.hist", "1 2 3 4 5 6 7 8\n"), must=("tm.hist",), reader="dote-hist")
    bad("solve/hist-nan", "solve", T + ["-t", "{W}/tm.hist"], "a .hist value NaN", R,
        setup=lambda ws: write(ws / "tm.hist", "0 1 nan 1 0 1 1 1 0\n"), must=("tm.hist",), reader="dote-hist")
    bad("solve/hist-empty", "solve", T + ["-t", "{W}/tm.hist"], "an empty .hist", R,
        setup=lambda ws: write(ws / "tm.hist", ""), must=("tm.hist",), reader="dote-hist")
    bad("solve/hist-ragged", "solve", T + ["-t", "{W}/tm.hist"], "a .hist whose second line is short", R,
        setup=lambda ws: write(ws / "tm.hist", "0 1 1 1 0 1 1 1 0\n0 1 1\n"), must=("tm.hist",), reader="dote-hist")
    cli("solve/hist-valid", "solve", T + ["-t", "{B}/tri.hist", "-p", "shortest", "--json"], "ok",
        "a valid 4-line .hist", R, check=expect_mlus([shortest_mlu(t) for t in range(4)]), reader="dote-hist")
    AB = ["-n", "{B}/abl.json"]
    bad("solve/zhang-wrong-columns", "solve", AB + ["-t", "{W}/X01.txt"], "a Zhang X01 file with 143 columns", R,
        setup=lambda ws: write(ws / "X01.txt", " ".join(["1"] * 143) + "\n"), must=("X01.txt",), reader="zhang")
    bad("solve/zhang-nan", "solve", AB + ["-t", "{W}/X01.txt"], "a Zhang X01 file with a NaN", R,
        setup=lambda ws: write(ws / "X01.txt", " ".join(["nan"] + ["1"] * 143) + "\n"), must=("X01.txt",),
        reader="zhang")
    bad("solve/zhang-negative", "solve", AB + ["-t", "{W}/X01.txt"], "a Zhang X01 file with -1", R,
        setup=lambda ws: write(ws / "X01.txt", " ".join(["1"] + ["-1"] + ["1"] * 142) + "\n"), must=("X01.txt",),
        reader="zhang")
    bad("solve/zhang-xz-corrupt", "solve", AB + ["-t", "{W}/X01.txt.xz"], "garbage named X01.txt.xz", R,
        setup=lambda ws: write(ws / "X01.txt.xz", GARBAGE), must=("X01.txt.xz",), reader="zhang")
    cli("solve/zhang-valid", "solve", AB + ["-t", "{W}/X01.txt", "-p", "shortest", "--json"], "ok",
        "a valid Zhang line: ATLAM5->ATLAng 3.75e8 x 100 bytes/5 min = 1 Gbit/s on a 10G ring", R,
        setup=lambda ws: write(ws / "X01.txt", " ".join(["0", "375000000"] + ["0"] * 142) + "\n"),
        check=expect_mlus([0.1]), reader="zhang")

    # ------------------------------------------------------------------ solve: options
    bad("solve/gravity-foo", "solve", T + ["-t", "gravity:foo"], "-t gravity:foo", C, must=("gravity:foo",))
    bad("solve/gravity-unknown-key", "solve", T + ["-t", "gravity:scale=2"], "-t gravity:scale=2", C,
        must=("gravity",))
    for cid, val in [("nan", "nan"), ("negative", "-1"), ("1e308", "1e308"), ("text", "lots")]:
        bad(f"solve/gravity-total-{cid}", "solve", T + ["-t", f"gravity:total={val}", "--json"],
            f"-t gravity:total={val}", C, must=("gravity",))
    bad("solve/k-0", "solve", T + ["-t", "gravity", "--k", "0"], "--k 0 (the issue: a five-line box)", C,
        must=("--k",))
    bad("solve/k-text", "solve", T + ["-t", "gravity", "--k", "four"], "--k four", C, must=("--k",))
    bad("solve/k-10000-geant", "solve", ["-n", "{D}/geant/dote_format/GEANT.json", "-t", "gravity", "--k", "10000",
                                         "--json"],
        "--k 10000 on GÉANT (the issue: runs past two minutes); must fail fast", S, must=("10000",), timeout=60,
        data=True)
    for cid, val in [("nan", "nan"), ("negative", "-1"), ("zero", "0"), ("infinity", "inf")]:
        bad(f"solve/scale-{cid}", "solve", TS + ["--scale", val, "--json"], f"--scale {val}", C, must=("--scale",))
    for cid, val in [("nan", "nan"), ("negative", "-0.5"), ("zero", "0")]:
        bad(f"solve/size-util-{cid}", "solve", TS + ["--size-util", val, "--json"], f"--size-util {val}", C,
            must=("--size-util",))
    bad("solve/at-out-of-range", "solve", TS + ["--at", "99", "--json"], "--at 99 on a 4-step series", C,
        must=("--at",))
    bad("solve/at-nan", "solve", TS + ["--at", "nan"], "--at nan", C, must=("--at",))
    bad("solve/policy-unknown", "solve", TS + ["-p", "fastest"], "--policy fastest", C, must=("fastest",))
    bad("solve/policy-empty", "solve", TS + ["-p", ""], "--policy ''", C, must=("--policy",))
    bad("solve/learned-no-model", "solve", TS + ["-p", "learned"], "--policy learned without --model", C,
        must=("--model",))
    bad("solve/model-with-shortest", "solve", TS + ["-p", "shortest", "--model", "{B}/tri.pt"],
        "--model with a policy that takes none", C, must=("--model",))
    M = TS + ["-p", "learned", "--json", "--model"]
    bad("solve/model-missing", "solve", M + ["{W}/nope.pt"], "a model path that does not exist", S,
        must=("nope.pt",), reader="model")
    bad("solve/model-empty", "solve", M + ["{W}/m.pt"], "an empty model file", S,
        setup=lambda ws: write(ws / "m.pt", b""), must=("m.pt",), reader="model")
    bad("solve/model-garbage", "solve", M + ["{W}/m.pt"], "binary garbage as the model", S,
        setup=lambda ws: write(ws / "m.pt", GARBAGE), must=("m.pt",), reader="model")
    bad("solve/model-directory", "solve", M + ["{W}"], "a folder as the model", S, reader="model")
    bad("solve/model-missing-fields", "solve", M + ["{B}/model_fields.pt"], "a model with the format tag only", S,
        must=("model_fields.pt",), reader="model")
    bad("solve/model-version", "solve", M + ["{B}/model_version.pt"], "a model of format version 999", S,
        must=("model_version.pt",), reader="model")
    bad("solve/model-wrong-shapes", "solve", M + ["{B}/model_shape.pt"], "a model whose weights have wrong shapes",
        S, must=("model_shape.pt",), reader="model")
    bad("solve/model-pickle", "solve", M + ["{B}/model_pickle.pt"], "a pickled Counter, not a model", S,
        must=("model_pickle.pt",), reader="model")
    bad("solve/model-nan-state", "solve", M + ["{B}/model_nan.pt"], "a model whose fitted state is NaN", S,
        must=("model_nan.pt",), reader="model")
    bad("solve/model-other-network", "solve", ["-n", "{B}/ring5.json", "-t", "gravity", "-p", "learned", "--json",
                                               "--model", "{B}/tri.pt"],
        "a model trained on the triangle used on a 5-ring", S, must=("--network",), reader="model")
    cli("solve/learned-valid", "solve", TS + ["-p", "learned", "--model", "{B}/tri.pt", "--json"], "ok",
        "the learned policy with its own model", C, reader="model",
        check=check_lines(lambda recs: None if len(recs) == 4 and all(
            sum(series_values(r["index"]).values()) / (6 * CAP) - 1e-9 <= r["mlu"] <= 1 for r in recs)
            else f"MLUs {[r['mlu'] for r in recs]} outside [lower bound, 1]"))
    P = T + ["-t", "gravity", "--json", "--paths"]
    bad("solve/tunnels-empty", "solve", P + ["{W}/tun.txt"], "an empty tunnels file", S,
        setup=lambda ws: write(ws / "tun.txt", ""), must=("tun.txt",), reader="tunnels")
    bad("solve/tunnels-binary", "solve", P + ["{W}/tun.txt"], "a binary tunnels file", S,
        setup=lambda ws: write(ws / "tun.txt", GARBAGE), must=("tun.txt",), reader="tunnels")
    bad("solve/tunnels-wrong-ends", "solve", P + ["{W}/tun.txt"], "a tunnel 0 1:0-2 (does not reach 1)", S,
        setup=lambda ws: write(ws / "tun.txt", "0 1:0-2\n"), must=("tun.txt",), reader="tunnels")
    bad("solve/tunnels-index-range", "solve", P + ["{W}/tun.txt"], "a tunnel through node index 9 of 3", S,
        setup=lambda ws: write(ws / "tun.txt", "0 1:0-9-1\n"), must=("tun.txt",), reader="tunnels")
    bad("solve/tunnels-missing", "solve", P + ["{W}/nope.txt"], "a tunnels path that does not exist", S,
        must=("nope.txt",), reader="tunnels")
    bad("solve/tunnels-not-a-link", "solve", ["-n", "{B}/ring5.json", "-t", "gravity", "--paths", "{W}/tun.txt"],
        "a 5-ring tunnel 0 2:0-2 over a link that does not exist", S,
        setup=lambda ws: write(ws / "tun.txt", "0 2:0-2\n"), reader="tunnels")
    bad("solve/tunnels-fifo", "solve", P + ["{W}/tun.txt"], "a FIFO as the tunnels file", S,
        setup=lambda ws: os.mkfifo(ws / "tun.txt"), timeout=20, reader="tunnels")
    cli("solve/tunnels-valid", "solve", T + ["-t", "gravity:total=3e9", "--paths", "{B}/tun.txt", "-p", "optimal",
                                             "--json"], "ok",
        "valid tunnels, uniform gravity 3 Gbit/s: optimal MLU 0.05", S, check=expect_mlus([0.05]), reader="tunnels")
    cli("solve/all-zero-demands", "solve", T + ["-t", "{W}/tm.csv", "-p", "optimal", "--json"], "ok",
        "valid traffic that is zero everywhere: MLU 0", S,
        setup=tri_csv([(stamp(0), s, d, 0.0) for (s, d) in TRI_BASE]), check=expect_mlus([0.0]), reader="frame-csv")
    cli("solve/gravity-optimal", "solve", T + ["-t", "gravity:total=3e9", "-p", "optimal", "--json"], "ok",
        "uniform gravity 3 Gbit/s on the triangle: optimal MLU 0.05", S, check=expect_mlus([0.05], "optimal"))
    cli("solve/shortest-scale-2", "solve", TS + ["-p", "shortest", "--scale", "2", "--json"], "ok",
        "--scale 2 doubles the shortest-path MLU", S, check=expect_mlus([shortest_mlu(t, 2) for t in range(4)]))
    cli("solve/geant-published-optimum", "solve",
        ["-n", "{D}/geant/dote_format/GEANT.json", "--paths", "{D}/geant/dote_format/tunnels.txt",
         "-t", "{D}/geant/dote_format/train/5.hist", "-p", "optimal", "--json"], "ok",
        "the README's GÉANT example: the 16 MLUs equal the published optima (5.opt)", S,
        data=True, timeout=90, reader="dote-hist", check=_lazy_geant_check)

    # ------------------------------------------------------------------ replay
    bad("replay/gravity", "replay", T + ["-t", "gravity"], "replay -t gravity (a single matrix)", C,
        must=("gravity",))
    bad("replay/start-99999", "replay", TS + ["--start", "99999"], "--start 99999 on a 4-step series", C,
        must=("--start",))
    bad("replay/start-reversed", "replay", TS + ["--start", "3", "--stop", "1"], "--start 3 --stop 1", C,
        must=("revers",))
    bad("replay/start-negative", "replay", TS + ["--start", "-1"], "--start -1 (the issue: a five-line box)", C,
        must=("--start",))
    bad("replay/start-equals-stop", "replay", TS + ["--start", "2", "--stop", "2"], "--start 2 --stop 2 (empty)", C,
        must=("--st",))
    bad("replay/k-0", "replay", TS + ["--k", "0"], "--k 0", C, must=("--k",))
    bad("replay/out-is-file", "replay", TS + ["--out", "{W}/out", "--json"], "--out names an existing file", C,
        sentinel="out", must=("--out",))
    bad("replay/out-below-file", "replay", TS + ["--out", "{W}/out/sub", "--json"], "--out lies below a file", C,
        sentinel="out", must=("--out",))
    bad("replay/keeps-old-results", "replay", TS + ["--out", "{W}/res", "--start", "99999"],
        "invalid --start with an --out folder holding earlier results", C, sentinel="res/summary.json",
        must=("--start|--out",))
    bad("replay/scenario-unknown", "replay", TS + ["-s", "earthquake"], "--scenario earthquake", C,
        must=("earthquake",))
    bad("replay/scenario-unknown-key", "replay", TS + ["-s", "lockdown:boost=2"], "--scenario lockdown:boost=2", C,
        must=("boost",))
    for cid, val in [("nan", "nan"), ("below-minus-one", "-2"), ("text", "lots")]:
        bad(f"replay/scenario-growth-{cid}", "replay", TS + ["-s", f"lockdown:growth={val}"],
            f"--scenario lockdown:growth={val}", C, must=("growth",))
    bad("replay/scenario-start-before-series", "replay", TS + ["-s", "lockdown:start=1990-01-01"],
        "a lockdown starting 30 years before the series", C, must=("start",))
    bad("replay/scenario-regions-unknown", "replay", TS + ["-s", "lockdown:regions=Mars:1.5"],
        "--scenario lockdown:regions=Mars:1.5 (no such region)", C, must=("Mars",))
    bad("replay/scenario-hubs-unknown", "replay", TS + ["-s", "lockdown:hubs=Z"], "--scenario lockdown:hubs=Z", C,
        must=("Z",))
    bad("replay/scale-nan", "replay", TS + ["--scale", "nan"], "--scale nan", C, must=("--scale",))
    cli("replay/out-valid", "replay", TS + ["-p", "shortest", "--out", "{W}/res", "--json"], "ok",
        "a replay that writes steps.csv, steps.parquet and summary.json to a new folder", C,
        check=lambda out: None if all((out.ws / "res" / f).is_file() for f in ("steps.csv", "steps.parquet",
                                                                               "summary.json"))
        else f"files {sorted(x.name for x in (out.ws / 'res').glob('*')) if (out.ws / 'res').is_dir() else None}")
    bad("replay/policy-duplicate", "replay", TS + ["-p", "shortest,shortest"], "--policy shortest,shortest", C,
        must=("shortest",))
    bad("replay/policy-unknown", "replay", TS + ["-p", "shortest,nosuch"], "--policy shortest,nosuch", C,
        must=("nosuch",))
    cli("replay/valid", "replay", TS + ["-p", "shortest,optimal", "--json"], "ok",
        "a valid replay: oracle ratio 1, shortest MLU mean equals the direct-link loads", S,
        check=check_lines(lambda recs: _check_replay(recs[0])))

    # ------------------------------------------------------------------ forecast
    bad("forecast/horizon-1e8", "forecast", TL + ["-H", "100000000"],
        "--horizon 100000000 (the issue: MemoryError, 98 GiB on GÉANT)", S, must=("horizon",), timeout=60)
    for cid, val in [("zero", "0"), ("negative", "-5")]:
        bad(f"forecast/horizon-{cid}", "forecast", TL + ["-H", val], f"--horizon {val}", C, must=("--horizon",))
    bad("forecast/model-unknown", "forecast", TL + ["-m", "oracle9000"], "--model oracle9000", C,
        must=("oracle9000",))
    bad("forecast/quantile-out-of-range", "forecast", TL + ["-q", "0.1,1.5"], "--quantiles 0.1,1.5", C,
        must=("--quantiles",))
    bad("forecast/quantile-text", "forecast", TL + ["-q", "low,high"], "--quantiles low,high", C,
        must=("--quantiles",))
    for cid, val in [("nan", "nan"), ("above-one", "1.5"), ("negative", "-0.1")]:
        bad(f"forecast/holdout-{cid}", "forecast", TL + ["--holdout", val], f"--holdout {val}", C,
            must=("--holdout",))
    bad("forecast/out-extension", "forecast", TL + ["-o", "{W}/f.txt"], "--out f.txt", C, must=("--out",))
    bad("forecast/out-exists", "forecast", TL + ["-o", "{W}/f.csv"], "--out names an existing file (no --force)", C,
        sentinel="f.csv", must=("--out",))
    bad("forecast/out-below-file", "forecast", TL + ["-o", "{W}/f/x.csv"], "--out lies below a file", C,
        sentinel="f", must=("--out",))
    bad("forecast/out-dev-full", "forecast", TL + ["-o", "{W}/f.csv"], "--out f.csv linked to /dev/full (no space)",
        C, setup=lambda ws: os.symlink("/dev/full", ws / "f.csv"), must=("f.csv|--out|/dev/full",))
    cli("forecast/out-valid", "forecast", TL + ["-m", "naive", "-H", "2", "-o", "{W}/new/f.parquet", "--json"], "ok",
        "a naive forecast written to a new folder: 2 steps x 6 ODs", C,
        check=lambda out: _check_parquet_rows(out.ws / "new" / "f.parquet", 12))
    bad("forecast/single-matrix", "forecast", T + ["-t", "gravity"], "a forecast from a single matrix", C)
    cli("forecast/naive-valid", "forecast", TL + ["-m", "naive", "-H", "2", "--json"], "ok",
        "naive forecast: every step's total equals the last observed total", S,
        check=check_lines(lambda recs: _check_naive(recs[0])))

    # ------------------------------------------------------------------ detect
    for cid, val in [("nan", "nan"), ("1e308", "1e308"), ("zero", "0"), ("longer-than-series", "100")]:
        bad(f"detect/reference-days-{cid}", "detect", TL + ["--reference-days", val], f"--reference-days {val}", C,
            must=("--reference-days",))
    bad("detect/detector-unknown", "detect", TL + ["-d", "psychic"], "--detector psychic", C, must=("psychic",))
    bad("detect/places-unknown", "detect", TL + ["--places", "moon"], "--places moon", C, must=("moon",))
    for cid, val in [("nan", "nan"), ("negative", "-1")]:
        bad(f"detect/threshold-{cid}", "detect", TL + ["--threshold", val], f"--threshold {val}", C,
            must=("--threshold",))
    bad("detect/scenario-start-before-series", "detect", TL + ["-s", "lockdown:growth=0.3,start=1990-01-01"],
        "a surge scenario starting 30 years before the series", C, must=("start",))
    bad("detect/gravity", "detect", T + ["-t", "gravity"], "detect on a single matrix", C)
    bad("detect/series-too-short", "detect", TS, "4 hours of traffic, 3 reference days", C,
        must=("--reference-days",))
    cli("detect/valid", "detect", TL + ["--reference-days", "3", "--json"], "ok",
        "a valid run: strict JSON lines, the summary counts the alerts", S,
        check=check_lines(lambda recs: None if recs and recs[-1].get("summary") is True
                          and recs[-1]["alerts"] == len(recs) - 1 else f"summary {recs[-1:]!r:.160}"))

    # ------------------------------------------------------------------ train
    TR = TL + ["--epochs", "1"]
    bad("train/out-directory", "train", TR + ["--out", "{W}"], "--out names a folder", C, must=("--out",))
    bad("train/out-below-file", "train", TR + ["--out", "{W}/f/m.pt"], "--out lies below a file", C, sentinel="f",
        must=("--out",))
    bad("train/out-exists", "train", TR + ["--out", "{W}/m.pt"], "--out names an existing file (no --force)", C,
        sentinel="m.pt", must=("--out",))
    for cid, val in [("negative", "-1"), ("nan", "nan")]:
        bad(f"train/max-minutes-{cid}", "train", TR + ["--out", "{W}/m.pt", "--max-minutes", val],
            f"--max-minutes {val}", C, must=("--max-minutes",), absent="m.pt")
    bad("train/epochs-0", "train", TL + ["--out", "{W}/m.pt", "--epochs", "0"], "--epochs 0 (the issue: a box)", C,
        must=("--epochs",), absent="m.pt")
    bad("train/history-0", "train", TR + ["--out", "{W}/m.pt", "--history", "0"], "--history 0", C,
        must=("--history",), absent="m.pt")
    for cid, val in [("above-one", "1.5"), ("nan", "nan")]:
        bad(f"train/train-frac-{cid}", "train", TR + ["--out", "{W}/m.pt", "--train-frac", val],
            f"--train-frac {val}", C, must=("--train-frac",), absent="m.pt")
    bad("train/alpha-nan", "train", TR + ["--out", "{W}/m.pt", "--alpha", "nan"], "--alpha nan", C,
        must=("--alpha",), absent="m.pt")
    bad("train/smooth-infinity", "train", TR + ["--out", "{W}/m.pt", "--smooth", "inf"], "--smooth inf", C,
        must=("--smooth",), absent="m.pt")
    bad("train/scale-infinity", "train", TR + ["--out", "{W}/m.pt", "--scale", "inf"], "--scale inf", C,
        must=("--scale",), absent="m.pt")
    bad("train/prior-unknown", "train", TR + ["--out", "{W}/m.pt", "--prior", "magic"], "--prior magic", C,
        must=("--prior",), absent="m.pt")
    bad("train/series-too-short", "train", TS + ["--out", "{W}/m.pt"], "4 steps of traffic for --history 12", C,
        must=("--history|--val-frac|--train-frac",), absent="m.pt")
    cli("train/valid", "train", TR + ["--out", "{W}/m.pt", "--json"], "ok",
        "one epoch on ten days: writes the model and a strict JSON summary", C,
        check=lambda out: _check_train(out))

    # ------------------------------------------------------------------ whatif
    bad("whatif/top-0", "whatif", TS + ["--top", "0"], "--top 0", C, must=("--top",))
    bad("whatif/failures-unknown-kind", "whatif", TS + ["-f", "double-link"], "--failures double-link", C,
        must=("double-link",), reader="failures")
    F = TS + ["-f", "{W}/f.txt"]
    bad("whatif/failures-unknown-link", "whatif", F, "a failures file naming link A->Z", R,
        setup=lambda ws: write(ws / "f.txt", "A->Z\n"), must=("A->Z",), reader="failures")
    bad("whatif/failures-empty", "whatif", F, "an empty failures file", R,
        setup=lambda ws: write(ws / "f.txt", ""), must=("f.txt",), reader="failures")
    bad("whatif/failures-binary", "whatif", F, "a binary failures file", R,
        setup=lambda ws: write(ws / "f.txt", GARBAGE), must=("f.txt",), reader="failures")
    bad("whatif/failures-fifo", "whatif", F, "a FIFO as the failures file", S,
        setup=lambda ws: os.mkfifo(ws / "f.txt"), timeout=20, reader="failures")
    bad("whatif/at-out-of-range", "whatif", TS + ["--at", "99"], "--at 99 on a 4-step series", C, must=("--at",))
    bad("whatif/scale-nan", "whatif", TS + ["--scale", "nan"], "--scale nan", C, must=("--scale",))
    bad("whatif/at-and-peak", "whatif", TS + ["--at", "1", "--peak"], "--at with --peak", C, must=("--at",))
    bad("whatif/igp-unknown", "whatif", TS + ["--igp", "rip"], "--igp rip", C, must=("rip",))
    bad("whatif/policy-oracle", "whatif", TS + ["-p", "oracle"], "--policy oracle", C, must=("oracle",))
    bad("whatif/out-is-file", "whatif", TS + ["--out", "{W}/out", "--json"], "--out names an existing file", C,
        sentinel="out", must=("--out",))
    bad("whatif/keeps-old-results", "whatif", TS + ["--out", "{W}/res", "--top", "0"],
        "invalid --top with an --out folder holding earlier results", C, sentinel="res/summary.json",
        must=("--top|--out",))
    bad("whatif/big-topology-gravity", "whatif", ["-n", "{W}/big.json", "-t", "gravity"],
        "a 50,000-node ring with gravity traffic", S, setup=net("big.json", lambda p: big_ring(p, 50_000)),
        timeout=90)
    cli("whatif/valid", "whatif", TS + ["--json"], "ok", "three fibre cuts on the triangle", S,
        check=check_lines(lambda recs: None if recs[0]["failures"] == 3 and recs[0]["links"] == 6
                          else f"failures {recs[0].get('failures')}"))
    cli("whatif/failures-file-valid", "whatif", TS + ["-f", "{B}/fail.txt", "--json"], "ok",
        "a failures file with a comment and one fibre cut", S, reader="failures",
        check=check_lines(lambda recs: None if recs[0]["failures"] == 1 else f"failures {recs[0].get('failures')}"))

    # ------------------------------------------------------------------ sweep
    for cid, val in [("fraction", "1.5"), ("out-of-range", "99"), ("text", "first")]:
        bad(f"sweep/steps-{cid}", "sweep", TS + ["--steps", val], f"--steps {val}", C, must=("--steps",))
    for cid, val in [("nan", "nan"), ("below-minus-one", "-2"), ("1e308", "1e308")]:
        bad(f"sweep/surge-{cid}", "sweep", TS + ["--surge", val], f"--surge {val}", C, must=("--surge",))
    for cid, val in [("zero", "0"), ("negative", "-1")]:
        bad(f"sweep/peaks-{cid}", "sweep", TS + ["--peaks", val], f"--peaks {val}", C, must=("--peaks",))
    bad("sweep/ray-unreachable", "sweep", TS + ["--ray", "127.0.0.1:1"],
        "--ray 127.0.0.1:1 (nothing listens; the issue: retries forever)", S, must=("127.0.0.1:1",), timeout=60)
    bad("sweep/size-util-negative", "sweep", TS + ["--size-util", "-1"], "--size-util -1", C, must=("--size-util",))
    bad("sweep/workers-0", "sweep", TS + ["--workers", "0"], "--workers 0", C, must=("--workers",))
    bad("sweep/out-below-file", "sweep", TS + ["--out", "{W}/out/sub"], "--out lies below a file", C,
        sentinel="out", must=("--out",))
    bad("sweep/keeps-old-results", "sweep", TS + ["--out", "{W}/res", "--steps", "99"],
        "invalid --steps with an --out folder holding earlier results", C, sentinel="res/summary.json",
        must=("--steps|--out",))
    bad("sweep/policy-unknown", "sweep", TS + ["-p", "teleport"], "--policy teleport", C, must=("teleport",))
    cli("sweep/valid", "sweep", TS + ["--json"], "ok", "three fibre cuts at the peak step", S,
        check=check_lines(lambda recs: None if recs[0]["meta"]["failures"] == 3 else f"meta {recs[0].get('meta')}"))

    # ------------------------------------------------------------------ plan
    for cid, val in [("zero", "0"), ("above-one", "1.5"), ("nan", "nan")]:
        bad(f"plan/target-util-{cid}", "plan", TS + ["--target-util", val], f"--target-util {val}", C,
            must=("--target-util",))
    bad("plan/failure-util-nan", "plan", TS + ["--failure-util", "nan"], "--failure-util nan", C,
        must=("--failure-util",))
    bad("plan/modules-garbage", "plan", TS + ["--modules", "fast:cheap"], "--modules fast:cheap", C,
        must=("fast:cheap",))
    bad("plan/modules-negative-cost", "plan", TS + ["--modules", "10G:-1"], "--modules 10G:-1", C, must=("10G",))
    bad("plan/classes-share-nan", "plan", TS + ["--classes", "gold:nan,bulk:0.5"], "--classes gold:nan,bulk:0.5",
        C, must=("gold",))
    bad("plan/method-unknown", "plan", TS + ["--method", "guess"], "--method guess", C, must=("guess",))
    for cid, val in [("zero", "0"), ("nan", "nan")]:
        bad(f"plan/time-limit-{cid}", "plan", TS + ["--time-limit", val], f"--time-limit {val}", C,
            must=("--time-limit",))
    bad("plan/size-util-nan", "plan", TS + ["--size-util", "nan"], "--size-util nan", C, must=("--size-util",))
    bad("plan/top-days-0", "plan", TS + ["--top-days", "0"], "--top-days 0", C, must=("--top-days",))
    bad("plan/failures-unknown", "plan", TS + ["-f", "everything"], "--failures everything", C,
        must=("everything",))
    bad("plan/protect-unknown", "plan", TS + ["--protect", "vip"], "--protect vip", C, must=("vip",))
    bad("plan/k-0", "plan", TS + ["--k", "0"], "--k 0", C, must=("--k",))
    bad("plan/out-is-file", "plan", TS + ["--out", "{W}/out"], "--out names an existing file", C, sentinel="out",
        must=("--out",))
    bad("plan/keeps-old-results", "plan", TS + ["--out", "{W}/res", "--target-util", "0"],
        "invalid --target-util with an --out folder holding earlier results", C, sentinel="res/plan.json",
        must=("--target-util|--out",))
    cli("plan/valid", "plan", TS + ["--json"], "ok", "a lightly loaded triangle needs nothing: cost 0", S,
        check=check_lines(lambda recs: None if recs[0]["cost"] == 0 else f"cost {recs[0].get('cost')}"))

    # ------------------------------------------------------------------ runout
    bad("runout/thresholds-reversed", "runout", TL + ["--growth", "0.3", "--thresholds", "0.9,0.7"],
        "--thresholds 0.9,0.7 (warning above critical)", C, must=("--thresholds",))
    for cid, val in [("one", "0.7"), ("nan", "nan,0.9"), ("zero", "0,0.9"), ("above-one", "0.7,1.5")]:
        bad(f"runout/thresholds-{cid}", "runout", TL + ["--growth", "0.3", "--thresholds", val],
            f"--thresholds {val}", C, must=("--thresholds",))
    bad("runout/top-negative", "runout", TL + ["--growth", "0.3", "--top", "-1"], "--top -1", C, must=("--top",))
    for cid, val in [("1e308", "1e308"), ("nan", "nan"), ("below-minus-one", "-2")]:
        bad(f"runout/growth-{cid}", "runout", TL + ["--growth", val], f"--growth {val}", C, must=("--growth",))
    for cid, val in [("zero", "0"), ("nan", "nan")]:
        bad(f"runout/window-days-{cid}", "runout", TL + ["--growth", "0.3", "--window-days", val],
            f"--window-days {val}", C, must=("--window-days",))
    bad("runout/scale-zero", "runout", TL + ["--growth", "0.3", "--scale", "0"], "--scale 0", C, must=("--scale",))
    bad("runout/model-unknown", "runout", TL + ["--growth", "0.3", "--model", "exponential"], "--model exponential",
        C, must=("exponential",))
    bad("runout/forecast-unknown", "runout", TL + ["--forecast", "crystal-ball"], "--forecast crystal-ball", C,
        must=("crystal-ball",))
    bad("runout/forecast-days-nan", "runout", TL + ["--forecast", "naive", "--forecast-days", "nan"],
        "--forecast-days nan", C, must=("--forecast-days",))
    bad("runout/growth-and-forecast", "runout", TL + ["--growth", "0.3", "--forecast", "naive"],
        "--growth with --forecast", C, must=("--growth",))
    bad("runout/policy-unknown", "runout", TL + ["--growth", "0.3", "-p", "nosuch"], "--policy nosuch", C,
        must=("nosuch",))
    cli("runout/valid-json", "runout", TL + ["--growth", "0.3", "--json"], "ok",
        "a valid run: strict JSON (no NaN), six links with a status each", C,
        check=check_lines(lambda recs: None if len(recs[0]["links"]) == 6 and all(
            lk["critical_status"] in ("crossed", "ahead", "not in horizon") for lk in recs[0]["links"])
            else f"links {recs[0].get('links')!r:.160}"))
    cli("runout/readme-abilene", "runout",
        ["-n", "{D}/abilene/topology/sndlib_abilene.xml", "-t",
         "{D}/abilene/sndlib_abilene_5min_xml_20040301-20040310.tar.xz", "--growth", "0.3"], "ok",
        "the README's runout --growth 0.3 on real Abilene (the issue: OutOfBoundsTimedelta)", S, data=True,
        timeout=90, reader="sndlib-demands", check=stdout_has("ATLAng->IPLSng", weak_words=("horizon",)))

    # ------------------------------------------------------------------ demo
    for cid, val in [("nan", "nan"), ("1e308", "1e308"), ("zero", "0"), ("negative", "-1")]:
        bad(f"demo/days-{cid}", "demo", ["--days", val, "--out", "{W}/d"], f"--days {val}", C, must=("--days",),
            absent="d")
    bad("demo/out-is-file", "demo", ["--days", "1", "--out", "{W}/d"], "--out names an existing file", C,
        sentinel="d", must=("--out",))
    bad("demo/out-below-file", "demo", ["--days", "1", "--out", "{W}/d/sub"], "--out lies below a file", C,
        sentinel="d", must=("--out",))

    # ------------------------------------------------------------------ bench te
    bad("bench/device-bogus", "bench te", ["--device", "bogus", "--quick", "--out", "{W}/r"], "--device bogus", C,
        must=("--device",), absent="r")
    bad("bench/topologies-unknown", "bench te", ["--topologies", "atlantis", "--out", "{W}/r"],
        "--topologies atlantis", C, must=("atlantis",), absent="r")
    bad("bench/sizing-unknown", "bench te", ["--sizing", "huge", "--quick", "--out", "{W}/r"], "--sizing huge", C,
        must=("huge",), absent="r")
    bad("bench/out-below-file", "bench te", ["--quick", "--out", "{W}/r/sub"], "--out lies below a file", C,
        sentinel="r", must=("--out",))
    bad("bench/out-is-file", "bench te", ["--quick", "--out", "{W}/r"], "--out names an existing file", C,
        sentinel="r", must=("--out",))

    # ------------------------------------------------------------------ readers, called directly
    def rd(id_, func, args, expect, what, owner, reader_name, kwargs=None, **kw):
        reader(f"reader/{id_}", func, args, kwargs or {}, expect, what, owner, reader_name, **kw)

    net_ok = reader_result(lambda r: None if (r["nodes"], r["links"]) == (3, 6) and r["capacity_min"] == CAP
                           else f"network {r!r:.160}")
    rd("read_network-none", "surgeguard.io:read_network", [None], "error", "read_network(None)", R, "topohub")
    rd("read_topohub-capacity-nan", "surgeguard.io:read_topohub", ["sndlib/abilene"], "error",
       "read_topohub(capacity=NaN)", R, "topohub", {"capacity": float("nan")})
    rd("read_topohub-traversal", "surgeguard.io:read_topohub", ["../../etc/passwd"], "error",
       "a topohub key that climbs out of the package", R, "topohub")
    rd("read_node_link_json-default-negative", "surgeguard.io:read_node_link_json", ["{W}/n.json"], "error",
       "default_capacity=-1 for links without one", R, "node-link-json", {"default_capacity": -1},
       setup=lambda ws: write(ws / "n.json", node_link(TRI_NODES, [(s, t, {}) for s, t, _ in tri_links()])))
    rd("read_node_link_json-node-names-short", "surgeguard.io:read_node_link_json", ["{B}/tri.json"], "error",
       "node_names with 2 names for 3 nodes", R, "node-link-json", {"node_names": ["X", "Y"]})
    rd("read_node_link_json-valid", "surgeguard.io:read_node_link_json", ["{B}/tri.json"], "ok",
       "the valid triangle", R, "node-link-json", check=net_ok)
    rd("read_sndlib_network-capacity-nan", "surgeguard.io:read_sndlib_network", ["{W}/n.xml"], "error",
       "capacity NaN", R, "sndlib-network", setup=lambda ws: sndlib_net(ws / "n.xml", ("NaN", "1", "1")))
    rd("read_sndlib_network-valid", "surgeguard.io:read_sndlib_network", ["{B}/tri.xml"], "ok",
       "the valid SNDlib triangle (10000 Mbit/s = 10 Gbit/s)", R, "sndlib-network", check=net_ok)
    rd("read_graphml-undeclared", "surgeguard.io:read_graphml", ["{W}/n.graphml"], "error",
       "an edge to undeclared node Z", R, "graphml",
       setup=lambda ws: graphml(ws / "n.graphml", TRI_EDGES + [("C", "Z", "1e10")]))
    rd("read_graphml-default-nan", "surgeguard.io:read_graphml", ["{W}/n.graphml"], "error",
       "default_capacity=NaN for edges without a speed", R, "graphml", {"default_capacity": float("nan")},
       setup=lambda ws: graphml(ws / "n.graphml", [(s, t, None) for s, t, _ in TRI_EDGES]))
    rd("read_graphml-valid", "surgeguard.io:read_graphml", ["{B}/tri.graphml"], "ok", "the valid GraphML triangle",
       R, "graphml", check=net_ok)
    rd("read_cfrrl-node-names-dup", "surgeguard.io:read_cfrrl", ["{B}/tri_cfrrl.txt"], "error",
       "node_names with a repeated name", R, "cfrrl", {"node_names": ["A", "A", "B"]})
    rd("read_cfrrl-capacity-nan", "surgeguard.io:read_cfrrl", ["{W}/c.txt"], "error", "capacity nan", R, "cfrrl",
       setup=lambda ws: cfrrl(ws / "c.txt", [(0, 1, 1, "nan")] + TRI_CFRRL[1:]))
    rd("read_cfrrl-valid", "surgeguard.io:read_cfrrl", ["{B}/tri_cfrrl.txt"], "ok", "the valid CFR-RL triangle", R,
       "cfrrl", check=net_ok)
    rd("read_sndlib_demands-nodes-string", "surgeguard.io:read_sndlib_demands", ["{W}/d.xml"], "error",
       "nodes='ABC' (a string, not a list)", R, "sndlib-demands", {"nodes": "ABC"},
       setup=lambda ws: sndlib_demands(ws / "d.xml"))
    rd("read_sndlib_demands-infinity", "surgeguard.io:read_sndlib_demands", ["{W}/d.xml"], "error",
       "demandValue Infinity", R, "sndlib-demands",
       setup=lambda ws: sndlib_demands(ws / "d.xml", {("A", "B"): "Infinity"}))
    rd("read_sndlib_demands-bad-time", "surgeguard.io:read_sndlib_demands", ["{W}/d.xml"], "error",
       "a <time> of 'soon' and no stamp in the name", R, "sndlib-demands",
       setup=lambda ws: sndlib_demands(ws / "d.xml", time_="soon"))
    rd("read_sndlib_demands-valid", "surgeguard.io:read_sndlib_demands", ["{W}/d.xml"], "ok",
       "one valid file: 4.0 Gbit/s in total", R, "sndlib-demands",
       setup=lambda ws: sndlib_demands(ws / "d.xml"),
       check=reader_result(lambda r: None if r["T"] == 1 and _close(r["sum"], sum(TRI_BASE.values()))
                           else f"series {r!r:.160}"))
    rd("read_zhang-start-garbage", "surgeguard.io:read_zhang", ["{W}/X01.txt"], "error", "start='the beginning'",
       R, "zhang", {"start": "the beginning"},
       setup=lambda ws: write(ws / "X01.txt", " ".join(["1"] * 144) + "\n"))
    rd("read_zhang-step-negative", "surgeguard.io:read_zhang", ["{W}/X01.txt"], "error", "step='-5min'", R, "zhang",
       {"step": "-5min"}, setup=lambda ws: write(ws / "X01.txt", " ".join(["1"] * 144) + "\n"))
    rd("read_zhang-nodes-dup", "surgeguard.io:read_zhang", ["{W}/X01.txt"], "error",
       "nodes with a repeated name", R, "zhang", {"nodes": ["A"] * 12},
       setup=lambda ws: write(ws / "X01.txt", " ".join(["1"] * 144) + "\n"))
    rd("read_zhang-valid", "surgeguard.io:read_zhang", ["{W}/X01.txt"], "ok",
       "two lines of 144 values 3 (100 bytes/5 min): 132 off-diagonal ODs x 8 bit/s", R, "zhang",
       setup=lambda ws: write(ws / "X01.txt", (" ".join(["3"] * 144) + "\n") * 2),
       check=reader_result(lambda r: None if r["T"] == 2 and _close(r["sum"], 2 * 132 * 8.0)
                           else f"series {r!r:.160}"))
    rd("read_dote_hist-no-nodes", "surgeguard.io:read_dote_hist", ["{B}/tri.hist", []], "error", "nodes=[]", R,
       "dote-hist")
    rd("read_dote_hist-step-zero", "surgeguard.io:read_dote_hist", ["{B}/tri.hist", list(TRI_NODES)], "error",
       "step='0min'", R, "dote-hist", {"step": "0min"})
    rd("read_dote_hist-valid", "surgeguard.io:read_dote_hist", ["{B}/tri.hist", list(TRI_NODES)], "ok",
       "the valid 4-line .hist", R, "dote-hist",
       check=reader_result(lambda r: None if r["T"] == 4 and _close(
           r["sum"], sum(sum(series_values(t).values()) for t in range(4))) else f"series {r!r:.160}"))
    rd("read_frame-not-a-path", "surgeguard.io:read_frame", [123], "error", "read_frame(123)", R, "frame-csv")
    rd("read_frame-duplicate-rows", "surgeguard.io:read_frame", ["{W}/t.csv"], "error",
       "a repeated (ds, src, dst) row", R, "frame-csv",
       setup=lambda ws: write(ws / "t.csv", csv_rows([(stamp(0), "A", "B", 1), (stamp(0), "A", "B", 2)])))
    rd("read_frame-header-only", "surgeguard.io:read_frame", ["{W}/t.csv"], "error", "a header-only CSV", R,
       "frame-csv", setup=lambda ws: write(ws / "t.csv", "ds,src,dst,bps\n"))
    rd("read_frame-parquet-nan", "surgeguard.io:read_frame", ["{W}/t.parquet"], "error", "a NaN rate in Parquet",
       R, "frame-parquet", setup=lambda ws: _parquet(ws / "t.parquet", [(stamp(0), "A", "B", float("nan"))]))
    rd("read_frame-parquet-valid", "surgeguard.io:read_frame", ["{W}/t.parquet"], "ok",
       "a valid Parquet frame in mbps (A->B 1500 mbps)", R, "frame-parquet",
       setup=lambda ws: _parquet(ws / "t.parquet", [(stamp(0), "A", "B", 1500.0)], rate="mbps"),
       check=reader_result(lambda r: None if r["T"] == 1 and _close(r["sum"], 1.5e9) else f"series {r!r:.160}"))
    rd("read_traffic-unknown-prefix", "surgeguard.io:read_traffic", ["magic:{B}/long.csv"], "error",
       "an unknown reader prefix magic:", R, "frame-csv")
    rd("read_traffic-hist-without-nodes", "surgeguard.io:read_traffic", ["{B}/tri.hist"], "error",
       "a .hist without nodes", R, "dote-hist")
    rd("read_tunnels-no-nodes", "surgeguard.io:read_tunnels", ["{B}/tun.txt", []], "error", "nodes=[]", S,
       "tunnels")
    rd("read_tunnels-binary", "surgeguard.io:read_tunnels", ["{W}/t.txt", list(TRI_NODES)], "error",
       "a binary tunnels file", S, "tunnels", setup=lambda ws: write(ws / "t.txt", GARBAGE))
    rd("read_tunnels_file-empty", "surgeguard.paths:read_tunnels_file", [{"$net": "{B}/tri.json"}, "{W}/t.txt"],
       "error", "an empty tunnels file", S, "tunnels", setup=lambda ws: write(ws / "t.txt", ""))
    rd("read_tunnels_file-duplicate-od", "surgeguard.paths:read_tunnels_file",
       [{"$net": "{B}/tri.json"}, "{W}/t.txt"], "error", "the OD 0 1 on two lines", S, "tunnels",
       setup=lambda ws: write(ws / "t.txt", "0 1:0-1\n0 1:0-2-1\n"))
    rd("read_tunnels_file-valid", "surgeguard.paths:read_tunnels_file", [{"$net": "{B}/tri.json"}, "{B}/tun.txt"],
       "ok", "valid tunnels: 6 ODs x 2 paths", S, "tunnels",
       check=reader_result(lambda r: None if r.get("n_paths") == 12 else f"paths {r!r:.160}"))
    rd("read_failures_file-unknown-node", "surgeguard.failures:read_failures_file",
       [{"$net": "{B}/tri.json"}, "{W}/f.txt"], "error", "a failure naming node Z", R, "failures",
       setup=lambda ws: write(ws / "f.txt", "Z\n"))
    rd("read_failures_file-missing", "surgeguard.failures:read_failures_file",
       [{"$net": "{B}/tri.json"}, "{W}/nope.txt"], "error", "a failures path that does not exist", R, "failures")
    rd("read_failures_file-valid", "surgeguard.failures:read_failures_file",
       [{"$net": "{B}/tri.json"}, "{B}/fail.txt"], "ok", "one fibre cut (two directed links)", R, "failures",
       check=reader_result(lambda r: None if r.get("len") == 1 else f"failures {r!r:.160}"))
    rd("load_learned-garbage", "surgeguard.routing.learned:load_learned", ["{W}/m.pt"], "error",
       "garbage as a model", S, "model", setup=lambda ws: write(ws / "m.pt", GARBAGE))
    rd("load_learned-missing-fields", "surgeguard.routing.learned:load_learned", ["{B}/model_fields.pt"], "error",
       "a model with the format tag only", S, "model")
    rd("load_learned-valid", "surgeguard.routing.learned:load_learned", ["{B}/tri.pt"], "ok",
       "the model written by train", S, "model",
       check=reader_result(lambda r: None if r.get("type") == "LearnedRouter" else f"loaded {r!r:.160}"))
    rd("write_frame-unknown-extension", "surgeguard.io:write_frame", [{"$series": "{B}/short.csv"}, "{W}/out.txt"],
       "error", "write_frame to a .txt path", C, "frame-csv")
    return cases


def _parquet(path: Path, rows, rate="bps"):
    import pandas as pd  # noqa: PLC0415 (only the cases that write Parquet need pandas)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["ds", "src", "dst", rate]).to_parquet(path, index=False)
    return path


def _truncated_tar(ws: Path):
    p = tar_xz(ws / "full.tar.xz", {f"d/demandMatrix-tri-2020030{i}-0000.xml":
                                    sndlib_demands(ws / f"x{i}.xml", time_=f"2020030{i}-0000").read_text()
                                    for i in range(1, 8)})
    data = p.read_bytes()
    write(ws / "dm.tar.xz", data[: len(data) // 2])


def _check_parquet_rows(path: Path, rows: int) -> str | None:
    import pandas as pd  # noqa: PLC0415 (only this check reads Parquet)
    if not path.is_file():
        return f"{path.name} was not written"
    n = len(pd.read_parquet(path))
    return None if n == rows else f"{path.name} has {n} rows, expected {rows}"


def _check_replay(summary) -> str | None:
    pol = summary["policies"]
    if set(pol) != {"shortest", "optimal", "oracle"}:
        return f"policies {sorted(pol)}"
    if not _close(pol["oracle"]["ratio_max"], 1.0):
        return f"oracle ratio_max {pol['oracle']['ratio_max']}"
    want = sum(shortest_mlu(t) for t in range(4)) / 4
    if not _close(pol["shortest"]["mlu_mean"], want):
        return f"shortest mlu_mean {pol['shortest']['mlu_mean']}, expected {want}"
    return None


def _check_naive(doc) -> str | None:
    last = sum(series_values(239).values())
    totals = [s.get("total_naive") for s in doc["steps"]]
    if len(totals) != 2 or not all(_close(x, last) for x in totals):
        return f"totals {totals}, expected [{last}, {last}]"
    return None


def _check_train(out: Outcome) -> str | None:
    try:
        doc = _strict_json(out.stdout)
    except ValueError as exc:
        return f"summary is not strict JSON ({exc})"
    if not (out.ws / "m.pt").is_file() or (out.ws / "m.pt").stat().st_size == 0:
        return "no model file written"
    return None if doc.get("epochs_run") == 1 else f"epochs_run {doc.get('epochs_run')}"


def _lazy_geant_check(out: Outcome):
    return _check_geant_opt(Path(out.data))(out)


CASES: list[Case] = _cases()


# ====================================================================== running
def surgeguard_cmd() -> list[str]:
    """The command line that runs the CLI: the console script beside this Python, else ``-m``."""
    script = Path(sys.executable).with_name("surgeguard")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "surgeguard.serve.cli"]


def _env() -> dict:
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    env.update({"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    return env


_LIMITED = ("import os, resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_DATA, (int(sys.argv[1]), int(sys.argv[1])))\n"
            "resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n"
            "os.execv(sys.argv[2], sys.argv[2:])\n")


def _subst(x, ctx: dict):
    if isinstance(x, str):
        for k, v in ctx.items():
            x = x.replace("{" + k + "}", v)
        return x
    if isinstance(x, list):
        return [_subst(v, ctx) for v in x]
    if isinstance(x, tuple):
        return tuple(_subst(v, ctx) for v in x)
    if isinstance(x, dict):
        return {k: _subst(v, ctx) for k, v in x.items()}
    return x


def command_line(case: Case, ctx: dict) -> list[str]:
    if case.command == "reader":
        func, args, kwargs = _subst(case.args, ctx)
        spec = json.dumps({"func": func, "args": args, "kwargs": kwargs})
        return [sys.executable, str(Path(__file__).resolve()), "--call", spec]
    return surgeguard_cmd() + list(_subst(case.args, ctx))


def run_case(case: Case, base: Path, root: Path, data: Path | None, zygote: "Zygote | None" = None) -> Outcome:
    """Build the case's inputs in its own folder, run it with a timeout (in a child of ``zygote``, else
    in a new interpreter), grade it."""
    ws = root / re.sub(r"[^A-Za-z0-9_.-]+", "_", case.id)
    if ws.exists():
        shutil.rmtree(ws)
    ws.mkdir(parents=True)
    ctx = {"B": str(base), "W": str(ws), "D": str(data or DEFAULT_DATA)}
    sentinel_text = f"sentinel of {case.id} written {time.time()!r}\n"
    try:
        if case.setup is not None:
            case.setup(ws)
        if case.sentinel:
            write(ws / case.sentinel, sentinel_text)
    except Exception as exc:  # a broken builder is the battery's bug, reported as such
        out = Outcome(case, None, "", f"setup failed: {type(exc).__name__}: {exc}", 0.0, False, ws)
        out.grade, out.detail = "failed", f"battery setup failed: {type(exc).__name__}: {exc}"
        return out
    if zygote is not None:
        return _run_forked(case, ws, ctx, sentinel_text, zygote)
    cmd = [sys.executable, "-c", _LIMITED, str(MEMORY_LIMIT)] + command_line(case, ctx)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ws, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=case.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the case's own process group (workers included)
        except ProcessLookupError:
            pass
        stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - t0
    out = Outcome(case, None if timed_out else proc.returncode, stdout, stderr, seconds, timed_out, ws, ctx["D"])
    out.grade, out.detail = grade(out, sentinel_text)
    return out


def _run_forked(case: Case, ws: Path, ctx: dict, sentinel_text: str, zygote: "Zygote") -> Outcome:
    io_dir = ws.parent / "_io"
    io_dir.mkdir(exist_ok=True)
    out_path, err_path = io_dir / f"{ws.name}.out", io_dir / f"{ws.name}.err"
    req = {"cwd": str(ws), "out": str(out_path), "err": str(err_path), "timeout": case.timeout, "mem": MEMORY_LIMIT}
    if case.command == "reader":
        func, args, kwargs = _subst(case.args, ctx)
        req.update(kind="call", spec=json.dumps({"func": func, "args": args, "kwargs": kwargs}))
    else:
        req.update(kind="cli", argv=list(_subst(case.args, ctx)))
    ans = zygote.run(req)
    out = Outcome(case, ans["rc"], out_path.read_text(errors="replace"), err_path.read_text(errors="replace"),
                  ans["seconds"], ans["timed_out"], ws, ctx["D"])
    out.grade, out.detail = grade(out, sentinel_text)
    return out


_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s*File \".*\", line \d+", re.M)
_BOX = re.compile(r"[╭╰│─]")


def _last_line(text: str) -> str:
    lines = [ln.strip(" │╭╰─╮╯") for ln in text.splitlines() if ln.strip(" │╭╰─╮╯")]
    return lines[-1][:200] if lines else ""


def _first_line(text: str) -> str:
    lines = [ln.strip(" │╭╰─╮╯") for ln in text.splitlines() if ln.strip(" │╭╰─╮╯")]
    return lines[0][:200] if lines else ""


def grade(out: Outcome, sentinel_text: str) -> tuple[str, str]:
    """``(grade, one-line detail)`` of a finished case."""
    case = out.case
    err_lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    if out.timed_out:
        return "failed", f"hang: no answer within {case.timeout:.0f} s (stderr: {_last_line(out.stderr)!r})"
    if case.sentinel:
        s = out.ws / case.sentinel
        if not s.is_file() or s.read_text(errors="replace") != sentinel_text:
            return "failed", f"{case.sentinel} (already on disk) was changed or removed"
    if _TRACEBACK.search(out.stderr):
        return "failed", f"exit {out.rc} with a traceback: {_last_line(out.stderr)}"
    if case.expect == "ok" or (case.expect == "bounded" and out.rc == 0):
        if out.rc != 0:
            return "failed", f"exit {out.rc} on valid input: {_last_line(out.stderr)}"
        problem = case.check(out) if case.check else None
        if problem and not problem.startswith("weak:"):
            return "failed", f"wrong answer: {problem}"
        warn = [ln for ln in err_lines if "Warning" in ln]
        if problem:
            return "weak", problem[len("weak:"):].strip()
        if warn:
            return "weak", f"correct, but a warning on stderr: {warn[0][:160]}"
        return "well", "correct answer"
    # expect error
    if out.rc == 0:
        shown = _first_line(out.stdout) or _first_line(out.stderr)
        return "failed", f"exit 0 on invalid input (silent answer): {shown}"
    if out.rc != 2:
        return "failed", f"exit {out.rc}: {_last_line(out.stderr)}"
    if out.stdout.strip():
        return "failed", f"exit 2 but a result on stdout: {_first_line(out.stdout)}"
    if case.absent and (out.ws / case.absent).exists():
        left = f"left {case.absent} behind"
    else:
        left = ""
    if len(err_lines) != 1 or not err_lines[0].startswith("error: "):
        kind = "a usage box" if _BOX.search(out.stderr) else f"{len(err_lines)} lines"
        msg = next((ln.strip(" │") for ln in err_lines if "error" in ln.lower() or "invalid" in ln.lower()),
                   _first_line(out.stderr))
        return "weak", f"exit 2, {kind} on stderr: {msg[:180]}" + (f"; {left}" if left else "")
    line = err_lines[0]
    missing = [w for w in case.must if not any(a.lower() in line.lower() for a in w.split("|"))]
    if missing:
        return "weak", f"message does not name {missing}: {line[:200]}" + (f"; {left}" if left else "")
    if left:
        return "weak", f"{left}: {line[:160]}"
    return "well", line[:200]


def run_cases(cases, root: Path, *, data: Path | None = None, workers: int = 2, base: Path | None = None,
              progress=None, fork: bool | None = None) -> dict[str, Outcome]:
    """Run ``cases`` (``workers`` at a time) in folders under ``root``; returns ``{id: Outcome}``.

    ``fork`` (default: on, unless ``SURGEGUARD_BAD_INPUT_FORK=0``): run each case in a child forked from
    a zygote that has imported the CLI once, instead of a new interpreter per case (same entry point,
    about 1.5 s of CPU less per case).
    """
    root.mkdir(parents=True, exist_ok=True)
    if fork is None:
        fork = os.environ.get("SURGEGUARD_BAD_INPUT_FORK", "1") != "0" and hasattr(os, "fork")
    if base is None:
        base = root / "_base"
        build_base(base)
    results: dict[str, Outcome] = {}
    local, zygotes, lock = threading.local(), [], threading.Lock()

    def one(case):
        z = None
        if fork:
            z = getattr(local, "zygote", None)
            if z is None or z.proc.poll() is not None:
                with lock:
                    z = local.zygote = Zygote(root / f"_zygote{len(zygotes)}.log")
                    zygotes.append(z)
        try:
            return run_case(case, base, root, data, z)
        except (RuntimeError, OSError, ValueError):  # the zygote broke: this case in a new interpreter
            if z is not None:
                z.close()
                local.zygote = None
            return run_case(case, base, root, data, None)

    # the slowest first, so that a pool of two is not left waiting on one long case at the end
    order = sorted(cases, key=lambda c: -c.timeout)
    try:
        with cf.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pool.submit(one, c): c for c in order}
            for fut in cf.as_completed(futures):
                out = fut.result()
                results[out.case.id] = out
                if progress:
                    progress(out)
    finally:
        for z in zygotes:
            z.close()
    return results


# ====================================================================== the reader driver (--call)
def _summary(res):
    from surgeguard import Network, TrafficSeries  # noqa: PLC0415 (driver only)
    if isinstance(res, Network):
        cap = [float(c) for c in res.capacity]
        return {"type": "Network", "nodes": res.n_nodes, "links": res.n_links, "node_names": list(res.node_names),
                "capacity_min": min(cap) if cap else None, "capacity_max": max(cap) if cap else None,
                "capacity_source": res.meta.get("capacity_source")}
    if isinstance(res, TrafficSeries):
        return {"type": "TrafficSeries", "T": len(res), "N": res.n_nodes, "nodes": list(res.nodes),
                "sum": float(res.values.sum()), "max": float(res.values.max())}
    if isinstance(res, (list, tuple)):
        return {"type": type(res).__name__, "len": len(res), "head": [repr(x)[:80] for x in res[:3]]}
    if hasattr(res, "n_paths"):
        return {"type": type(res).__name__, "n_paths": int(res.n_paths), "n_od": int(res.n_od)}
    return {"type": type(res).__name__, "repr": repr(res)[:200]}


def _resolve(x):
    if isinstance(x, dict) and "$net" in x:
        from surgeguard.io import read_network  # noqa: PLC0415 (driver only)
        return read_network(x["$net"])
    if isinstance(x, dict) and "$series" in x:
        from surgeguard.io import read_frame  # noqa: PLC0415 (driver only)
        return read_frame(x["$series"])
    return x


def call_main(spec_text: str) -> int:
    """Call one reader as the CLI would: ``error: <message>`` and exit 2 on a surgeguard error."""
    import importlib  # noqa: PLC0415 (driver only)
    from surgeguard.exceptions import SurgeguardError  # noqa: PLC0415 (driver only)
    spec = json.loads(spec_text)
    module, name = spec["func"].split(":")
    func = getattr(importlib.import_module(module), name)
    try:
        res = func(*[_resolve(a) for a in spec["args"]], **{k: _resolve(v) for k, v in spec["kwargs"].items()})
    except SurgeguardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(_summary(res)))
    return 0


# ====================================================================== the fork server ("zygote")
# Interpreter start-up and ``import surgeguard.serve.cli`` cost about 1.5 s of CPU per case; a zygote
# imports the CLI once and forks one child per case. The child is a process of its own (own session,
# memory limit, working directory, stdout/stderr files, exit code) that calls the console script's
# ``main()`` exactly as ``surgeguard`` does, and prints an uncaught exception with ``sys.excepthook``
# as the interpreter would; whatever the import printed in the zygote is copied to every child's
# output, so a warning at import time is not lost.
_ZYGOTE_BOOT = "import sys; sys.path.insert(0, {bench!r}); import bad_input; bad_input.zygote_main()"


def zygote_main() -> None:
    """The zygote's loop: one JSON request per line on stdin, one JSON answer per line on the
    original stdout (``{"rc", "timed_out", "seconds"}``)."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_RDWR)
    captured = []
    saved = [os.dup(1), os.dup(2)]
    for fd in (1, 2):
        tmp = tempfile.TemporaryFile()
        captured.append(tmp)
        os.dup2(tmp.fileno(), fd)
    try:
        import surgeguard.serve.cli as cli  # noqa: PLC0415 (the zygote's one import of the CLI)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
    boot = []
    for tmp in captured:
        tmp.seek(0)
        boot.append(tmp.read())
        tmp.close()
    try:  # warm: the learned/fast policies import torch lazily (silent; about 3 s a case otherwise)
        import torch  # noqa: F401, PLC0415 lazy: heavy and optional
    except ImportError:
        pass
    os.dup2(devnull, 1)  # a stray print in the zygote must not reach the protocol pipe
    for line in sys.stdin:
        req = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            _zygote_child(req, cli, boot, proto.fileno(), devnull)
        rc, timed_out = _zygote_wait(pid, req["timeout"])
        proto.write(json.dumps({"rc": rc, "timed_out": timed_out, "seconds": time.perf_counter() - t0}) + "\n")


def _zygote_child(req: dict, cli, boot: list, proto_fd: int, devnull: int) -> None:
    code = 70
    try:
        os.close(proto_fd)
        os.setsid()
        resource.setrlimit(resource.RLIMIT_DATA, (req["mem"], req["mem"]))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.chdir(req["cwd"])
        os.dup2(devnull, 0)
        for fd, path, head in ((1, req["out"], boot[0]), (2, req["err"], boot[1])):
            f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(f, fd)
            os.close(f)
            if head:
                os.write(fd, head)
        try:
            if req["kind"] == "cli":
                sys.argv = ["surgeguard", *req["argv"]]
                cli.main()
                code = 0
            else:
                sys.argv = ["bad_input.py", "--call", req["spec"]]
                code = call_main(req["spec"])
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except BaseException:  # noqa: BLE001 (what the interpreter does with an uncaught exception)
            sys.excepthook(*sys.exc_info())
            code = 1
        try:
            atexit._run_exitfuncs()
        except BaseException:  # noqa: BLE001
            pass
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001 (the harness's own failure: say so on the case's stderr)
        import traceback  # noqa: PLC0415
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(code if isinstance(code, int) and 0 <= code < 256 else 1)


def _zygote_wait(pid: int, timeout: float) -> tuple[int | None, bool]:
    t0, delay, timed_out = time.monotonic(), 0.002, False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - t0 > timeout:
            timed_out = True
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(delay)
        delay = min(2 * delay, 0.05)
    try:
        os.killpg(pid, signal.SIGKILL)  # what the case left running in its session (workers, Ray)
    except (ProcessLookupError, PermissionError):
        pass
    if timed_out:
        return None, True
    return (os.waitstatus_to_exitcode(status)), False


class Zygote:
    """One zygote process (one per worker thread)."""

    def __init__(self, log: Path):
        self.log = open(log, "w")
        boot = _ZYGOTE_BOOT.format(bench=str(Path(__file__).resolve().parent))
        self.proc = subprocess.Popen([sys.executable, "-c", boot], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, env=_env(), start_new_session=True)

    def run(self, req: dict) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], req["timeout"] + 60)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"the zygote stopped answering (see {self.log.name})")
        return json.loads(line)

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
        self.log.close()


# ====================================================================== the report
def tally(results: dict[str, Outcome]) -> dict:
    per: dict[str, dict] = {}
    for out in results.values():
        key = out.case.command if out.case.command != "reader" else "readers (library calls)"
        row = per.setdefault(key, {g: 0 for g in GRADES} | {"total": 0})
        row[out.grade] += 1
        row["total"] += 1
    return per


def write_report(results: dict[str, Outcome], seconds: float, machine: dict, workers: int,
                 out_dir: Path = RESULTS, fork: bool = True) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    per = tally(results)
    keys = [c for c in COMMANDS if c in per] + [k for k in per if k not in COMMANDS]
    totals = {g: sum(per[k][g] for k in per) for g in GRADES} | {"total": len(results)}
    cases = [{"id": o.case.id, "command": o.case.command, "expect": o.case.expect, "input": o.case.what,
              "owner": o.case.owner, "reader": o.case.reader, "grade": o.grade, "detail": o.detail,
              "exit": o.rc, "seconds": round(o.seconds, 2), "timed_out": o.timed_out,
              "args": [str(a) for a in (o.case.args if o.case.command != "reader" else o.case.args[:2])]}
             for o in sorted(results.values(), key=lambda o: (o.case.command, o.case.id))]
    stamp_ = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    mode = "fork (one child per case from a zygote that imported the CLI once)" if fork else "subprocess"
    doc = {"benchmark": "bad_input", "run": stamp_, "seconds": round(seconds, 1), "workers": workers, "mode": mode,
           "machine": machine, "totals": totals, "per_command": {k: per[k] for k in keys}, "cases": cases}
    jpath = out_dir / "bad_input.json"
    jpath.write_text(json.dumps(doc, indent=1) + "\n")
    cpu = machine.get("cpu", machine.get("machine", "?"))
    lines = ["# Bad input: a battery of malformed and hostile inputs", "",
             f"Machine: {cpu}, {machine.get('cpu_count')} cores, {machine.get('mem_total_gb', '?')} GB; "
             f"Python {machine.get('python')}; run {stamp_}; {len(results)} cases in {seconds:.0f} s "
             f"({workers} at a time, each its own process: {mode}; 4 GiB data limit).", "",
             "Expected: exit 2 with exactly one line on stderr starting `error: ` that names the input, nothing "
             "on stdout, nothing on disk changed (or, for valid input, exit 0 and the correct answer). "
             "**well**: as expected; **weak**: the right exit code but several lines, a usage box, a message that "
             "does not name the input, or a folder left behind; **failed**: a wrong exit code, a traceback, a "
             "hang, a result printed from invalid input, a file changed, or a wrong answer. The table is "
             "`benchmarks/bad_input.py` (`tests/test_bad_input.py` runs it).", "",
             "| command | cases | well | weak | failed |", "|---|---|---|---|---|"]
    for k in keys:
        r = per[k]
        lines.append(f"| {k} | {r['total']} | {r['well']} | {r['weak']} | {r['failed']} |")
    lines.append(f"| **all** | {totals['total']} | {totals['well']} | {totals['weak']} | {totals['failed']} |")
    for g in ("failed", "weak"):
        bad = [o for o in results.values() if o.grade == g]
        if not bad:
            continue
        lines += ["", f"## {g.capitalize()} ({len(bad)}), by probable owner", ""]
        for owner in OWNERS:
            mine = sorted((o for o in bad if o.case.owner == owner), key=lambda o: o.case.id)
            if not mine:
                continue
            lines += [f"### {owner} ({len(mine)})", ""]
            for o in mine:
                lines.append(f"* `{o.case.id}` ({o.case.what}): {o.detail.replace('|', '/')}")
            lines.append("")
    mpath = out_dir / "bad_input.md"
    mpath.write_text("\n".join(lines).rstrip() + "\n")
    return jpath, mpath


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--call", help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the real-data folder (../shared/data)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", default=None, help="run only the cases whose id contains this")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where bad_input.{json,md} go")
    args = ap.parse_args(argv)
    if args.call:
        return call_main(args.call)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import machine_info  # noqa: PLC0415 (the benchmarks' shared helper, beside this file)
    data = args.data if args.data.is_dir() else None
    cases = [c for c in CASES if (data or not c.data) and (args.only is None or args.only in c.id)]
    skipped = len(CASES) - len(cases)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="surgeguard-bad-input-") as tmp:
        def show(o):
            print(f"{o.grade:>6}  {o.seconds:5.1f}s  {o.case.id}: {o.detail[:110]}", flush=True)
        fork = os.environ.get("SURGEGUARD_BAD_INPUT_FORK", "1") != "0" and hasattr(os, "fork")
        results = run_cases(cases, Path(tmp), data=data, workers=args.workers, progress=show, fork=fork)
    seconds = time.perf_counter() - t0
    jpath, mpath = write_report(results, seconds, machine_info(), args.workers, args.out, fork)
    per = tally(results)
    print(f"{len(results)} cases ({skipped} skipped: no data folder or --only) in {seconds:.0f} s: "
          + ", ".join(f"{sum(r[g] for r in per.values())} {g}" for g in GRADES))
    print(f"wrote {jpath} and {mpath}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
