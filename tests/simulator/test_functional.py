"""The functional model's arithmetic on packed bits: packing round-trips, XNOR-popcount is
the ±1 dot product, the bit-serial and ternary paths are the integer dot product, zero
padding contributes nothing, and every tiling of a layer gives the same integers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.functional import Tiling, _mac, pack_bits, popcount
from workloads.lowered import LoweredLayer, pack_weight_planes

SETTINGS = settings(max_examples=60, deadline=None)


def _unpack(words: np.ndarray, n: int) -> np.ndarray:
    return np.unpackbits(words.view(np.uint8), axis=-1, bitorder="little")[..., :n].astype(bool)


@SETTINGS
@given(st.integers(1, 300), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_packing_round_trips(n, rows, seed):
    bits = np.random.default_rng(seed).random((rows, n)) < 0.5
    words = pack_bits(bits)
    assert words.dtype == np.uint64 and words.shape == (rows, -(-n // 64))
    assert np.array_equal(_unpack(words, n), bits)
    assert np.array_equal(popcount(words), bits.sum(axis=1))
    assert not _unpack(words, words.shape[-1] * 64)[:, n:].any()  # spare bits are 0


@SETTINGS
@given(st.integers(1, 500), st.integers(0, 2**32 - 1))
def test_xnor_popcount_is_the_pm1_dot_product(n, seed):
    rng = np.random.default_rng(seed)
    a, w = rng.choice([-1, 1], n), rng.choice([-1, 1], n)
    aw, ww = pack_bits(a > 0), pack_bits(w > 0)
    assert n - 2 * int(popcount(aw ^ ww)) == int(a @ w)  # 2·popcount(XNOR) − n
    assert 2 * int(popcount(~(aw ^ ww) & pack_bits(np.ones(n, bool)))) - n == int(a @ w)


def test_int_weight_planes_round_trip():
    w = np.array([[-255, -1, 0, 1, 127, 255, -128, 3]], np.int16).reshape(1, 8, 1, 1)
    x, _ = _layer("fc", "int", "int", 8, 1, 8)
    y = LoweredLayer(**{**x.__dict__, "shape": (1, 8, 1, 1),
                        "weight_planes": pack_weight_planes("int", w, 8)})
    assert y.weight_codes().ravel().tolist() == w.ravel().tolist()


def _layer(kind, w_kind, a_kind, a_bits, k, c, f=1, stride=1, padding=0, seed=0, groups=1):
    rng = np.random.default_rng(seed)
    if w_kind == "int":  # 8-bit DoReFa weights: odd codes within ±255
        w = (2 * rng.integers(0, 256, (k, c // groups, f, f)) - 255).astype(np.int16)
    else:
        values = [-1, 1] if w_kind == "binary" else [-1, 0, 1]
        w = rng.choice(values, (k, c // groups, f, f)).astype(np.int8)
    packed = pack_weight_planes(w_kind, w, 8)
    return LoweredLayer(name="L", kind=kind, shape=(k, c // groups, f, f), stride=stride,
                        padding=padding, groups=groups, weight_kind=w_kind,
                        weight_bits=8 if w_kind == "int" else 1, weight_planes=packed,
                        weight_scale=np.ones(k), act_kind=a_kind, act_bits=a_bits,
                        act_scale=1.0, out_kind="logits", bn_scale=np.ones(k),
                        bn_shift=np.zeros(k)), w


def _codes(a_kind, a_bits, shape, rng):
    if a_kind == "binary":
        return rng.choice([-1, 1], shape).astype(np.int64)
    return rng.integers(0, 2**a_bits, shape).astype(np.int64)


def _torch_like_conv(a, w, stride, padding, groups=1):
    """The integer convolution with zero padding, by loops over the kernel."""
    if groups > 1:
        cg, kg = a.shape[1] // groups, w.shape[0] // groups
        return np.concatenate([_torch_like_conv(a[:, i * cg:(i + 1) * cg],
                                                w[i * kg:(i + 1) * kg], stride, padding)
                               for i in range(groups)], axis=1)
    n, c, h, wd = a.shape
    k, _, f, _ = w.shape
    p = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), np.int64)
    p[:, :, padding:padding + h, padding:padding + wd] = a
    oh, ow = (h + 2 * padding - f) // stride + 1, (wd + 2 * padding - f) // stride + 1
    out = np.zeros((n, k, oh, ow), np.int64)
    for dy in range(f):
        for dx in range(f):
            patch = p[:, :, dy:dy + stride * oh:stride, dx:dx + stride * ow:stride]
            out += np.einsum("nchw,kc->nkhw", patch, w[:, :, dy, dx].astype(np.int64))
    return out


@SETTINGS
@given(w_kind=st.sampled_from(["binary", "ternary", "int"]),
       act=st.sampled_from([("binary", 1), ("int", 2), ("int", 8)]),
       k=st.integers(1, 9), c=st.integers(1, 7), f=st.sampled_from([1, 3]),
       size=st.integers(3, 7), stride=st.integers(1, 2), padding=st.integers(0, 1),
       seed=st.integers(0, 2**32 - 1))
def test_conv_on_packed_bits_is_the_integer_convolution(w_kind, act, k, c, f, size, stride,
                                                        padding, seed):
    rng = np.random.default_rng(seed)
    x, w = _layer("conv", w_kind, *act, k, c, f, stride, padding, seed)
    a = _codes(*act, (2, c, size, size), rng)
    got, tiles = _mac(x, a, None)
    assert tiles == 1
    assert np.array_equal(got, _torch_like_conv(a, w, stride, padding))


@SETTINGS
@given(w_kind=st.sampled_from(["binary", "ternary", "int"]),
       act=st.sampled_from([("binary", 1), ("int", 3)]), k=st.integers(1, 12),
       c=st.integers(1, 10), tk=st.integers(1, 12), tc=st.integers(1, 10),
       toy=st.integers(1, 5), tox=st.integers(1, 5),
       order=st.permutations(["k", "c", "p"]), seed=st.integers(0, 2**32 - 1))
def test_every_tiling_and_order_gives_the_same_integers(w_kind, act, k, c, tk, tc, toy, tox,
                                                        order, seed):
    rng = np.random.default_rng(seed)
    x, _ = _layer("conv", w_kind, *act, k, c, 3, 1, 1, seed)
    a = _codes(*act, (3, c, 5, 5), rng)
    whole, _ = _mac(x, a, None)
    tiled, tiles = _mac(x, a, Tiling(min(tk, k), min(tc, c), toy, tox, tuple(order)))
    assert np.array_equal(tiled, whole)
    assert tiles == (len(range(0, k, min(tk, k))) * len(range(0, c, min(tc, c)))
                     * len(range(0, 5, toy)) * len(range(0, 5, tox)))


def test_fc_layers_and_thresholds():
    rng = np.random.default_rng(1)
    x, w = _layer("fc", "binary", "int", 8, 4, 70)
    a = _codes("int", 8, (5, 70, 1, 1), rng)
    got, _ = _mac(x, a, Tiling(3, 32, 1, 1))
    assert np.array_equal(got, a.reshape(5, 70) @ w.reshape(4, 70).T.astype(np.int64))
    t = LoweredLayer(**{**x.__dict__, "out_kind": "int", "out_bits": 2,
                        "thresholds": np.array([[-5, 0, 5]] * 4),
                        "direction": np.array([1, -1, 0, 1], np.int8),
                        "code_if_constant": np.array([0, 0, 2, 0])})
    acc = np.array([[-6, -6, 9, 5], [0, 0, 0, 0]])
    assert t.output_codes(acc).tolist() == [[0, 3, 2, 3], [2, 2, 2, 2]]


@pytest.mark.parametrize("drop", ["first", "last"])
def test_a_schedule_that_skips_a_tile_fails(monkeypatch, drop):
    """The coverage check: every output must receive each input channel exactly once."""
    import itertools

    from simulator import functional

    real = itertools.product

    def skipping(*lists):
        tiles = list(real(*lists))
        return tiles[1:] if drop == "first" else tiles[:-1]

    monkeypatch.setattr(functional.itertools, "product", skipping)
    x, _ = _layer("conv", "binary", "binary", 1, 4, 6, 3, 1, 1)
    a = _codes("binary", 1, (2, 6, 5, 5), np.random.default_rng(0))
    with pytest.raises(AssertionError, match="layer 'L': the schedule gave"):
        _mac(x, a, Tiling(2, 3, 2, 5))


@SETTINGS
@given(groups=st.integers(2, 4), kg=st.integers(1, 4), cg=st.integers(1, 4),
       act=st.sampled_from([("binary", 1), ("int", 2)]), tk=st.integers(1, 4),
       tc=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_grouped_convolutions_group_by_group(groups, kg, cg, act, tk, tc, seed):
    rng = np.random.default_rng(seed)
    x, w = _layer("conv", "binary", *act, groups * kg, groups * cg, 3, 1, 1, seed, groups)
    a = _codes(*act, (2, groups * cg, 5, 5), rng)
    expected = _torch_like_conv(a, w, 1, 1, groups)
    got, _ = _mac(x, a, None)
    assert np.array_equal(got, expected)
    tiling = Tiling(min(tk, kg), min(tc, cg), 2, 5)
    tiled, tiles = _mac(x, a, tiling)
    assert np.array_equal(tiled, expected)
    per_group = len(range(0, kg, min(tk, kg))) * len(range(0, cg, min(tc, cg))) * 3
    assert tiles == groups * per_group
    with pytest.raises(AssertionError, match="the mapper priced"):
        _mac(x, a, Tiling(min(tk, kg), min(tc, cg), 2, 5, tiles=tiles + 1))
