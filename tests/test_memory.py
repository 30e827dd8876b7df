"""Memory of the ``fast`` operator and the scalable path builder (issue 16): narrow index arrays,
no second copies, and chunked set-up steps that give the same matrices as one piece."""

import numpy as np
import pytest
import torch

from surgeguard.io import read_topohub
from surgeguard.optimise import first_order
from surgeguard.optimise.first_order import FastOperator
from surgeguard.paths import k_shortest_paths


@pytest.fixture(scope="module")
def paths():
    return k_shortest_paths(read_topohub("sndlib/germany50"), k=4, method="deviation")


def test_builder_arrays_are_narrow(paths):
    tr = paths.meta["_trees"]
    assert paths.link_idx.dtype == np.int32
    assert tr["q_idx"].dtype == np.int32 and tr["q_sgn"].dtype == np.int8
    assert tr["q_idx"].max() < len(tr["sources"]) * tr["n_nodes"] + paths.n_links


@pytest.mark.parametrize("compressed", [True, False])
def test_operator_index_arrays_are_int32_and_shared(paths, compressed):
    """The torch matrices' index arrays are the operator's own int32 arrays (no int64 originals
    kept beside int32 copies); the forced-link pairs are int32."""
    op = FastOperator(paths, "cpu", compressed=compressed)
    assert op.kind == ("tree" if compressed else "links")
    parts = {"fw": op._fw, "bw": op._bw, **({"ctl": op._ctl} if compressed else {})}
    for name, (ptr, idx, _) in parts.items():
        assert ptr.dtype == np.int32 and idx.dtype == np.int32, name
        crow, col = op._index[name]
        assert crow.data_ptr() == ptr.ctypes.data and col.data_ptr() == idx.ctypes.data, name
    o, l = op.forced_pairs
    assert o.dtype == np.int32 and l.dtype == np.int32 and len(o) > 0


@pytest.mark.parametrize("compressed", [True, False])
def test_chunked_slot_order_gives_the_same_operator(paths, compressed, monkeypatch):
    """Rows gathered into slot order a few paths at a time: the same arrays as in one piece, and
    products equal to the path-link matrix's."""
    one = FastOperator(paths, "cpu", compressed=compressed)
    monkeypatch.setattr(first_order, "ROWS_CHUNK", 7)
    many = FastOperator(paths, "cpu", compressed=compressed)
    for a, b in zip(one._fw[:2] + one._bw[:2], many._fw[:2] + many._bw[:2]):
        np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(0)
    f = rng.random(paths.n_paths)
    slots = np.zeros(many.n_od * many.K)
    slots[many.slot_of_path] = f
    np.testing.assert_allclose(many.loads(torch.from_numpy(slots)).numpy(), paths.incidence @ f, rtol=1e-9)
    y = rng.random(paths.n_links)
    pr = many.prices(torch.from_numpy(y)).numpy()[many.slot_of_path]
    np.testing.assert_allclose(pr, paths.incidence.T @ y, rtol=1e-9)
