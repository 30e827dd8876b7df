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


def test_forced_links_are_per_od_lists_and_chunked_util_is_bitwise_the_same(paths, monkeypatch):
    """Forced links held as one int32 link list per OD (no OD index per pair); ``forced_util``
    summed a few links at a time gives bit for bit what one ``np.bincount`` over all (OD, link)
    pairs gives, with and without a path mask."""
    op = FastOperator(paths, "cpu", compressed=True)
    count, links = op._forced
    assert count.dtype == np.int32 and links.dtype == np.int32
    assert len(count) == paths.n_od and int(count.sum()) == len(links) > 0
    o, l = op.forced_pairs
    o_ref, l_ref = FastOperator._forced_pairs(paths)
    np.testing.assert_array_equal(o, o_ref)
    np.testing.assert_array_equal(l, l_ref)
    rng = np.random.default_rng(3)
    d = rng.random(paths.n_od) * 1e9
    cap = rng.random(paths.n_links) * 1e10 + 1e9
    link_of = np.repeat(np.arange(paths.n_paths), np.diff(paths.link_ptr))
    usable = ~np.isin(np.arange(paths.n_paths), link_of[paths.link_idx == np.bincount(paths.link_idx).argmax()])
    assert not usable.all()
    # the reference: one weighted bincount over the pairs (the kept ODs' pairs first, then the lost ODs')
    want = np.bincount(l, weights=d[o], minlength=paths.n_links) / cap
    n_use = paths.od_sum(usable)
    lost = n_use < paths.paths_per_od
    hit = np.flatnonzero(lost)
    o2, l2 = FastOperator._forced_pairs(paths, usable, hit)
    keep = ~lost[o]
    om, lm = np.concatenate([o[keep], o2]), np.concatenate([l[keep], l2])
    want_mask = np.bincount(lm, weights=d[om], minlength=paths.n_links) / cap
    for chunk in (FastOperator.FORCED_CHUNK, 5):
        monkeypatch.setattr(FastOperator, "FORCED_CHUNK", chunk)
        assert np.array_equal(op.forced_util(d, cap), want)
        assert np.array_equal(op.forced_util(d, cap, paths, usable), want_mask)
        assert np.array_equal(op.forced_util(d, cap, paths, usable, n_use), want_mask)


def test_slot_of_path_is_int32_with_the_same_slots(paths):
    """The slot of each path is held int32 where the slots fit (half of a per-path int64 array)."""
    op = FastOperator(paths, "cpu", compressed=True)
    rank = np.arange(paths.n_paths) - np.repeat(paths.od_ptr[:-1], paths.paths_per_od)
    assert op.slot_of_path.dtype == np.int32
    np.testing.assert_array_equal(op.slot_of_path, rank * paths.n_od + paths.path_od)
    assert op.valid_np.reshape(-1)[op.slot_of_path].all() and op.valid_np.sum() == paths.n_paths
