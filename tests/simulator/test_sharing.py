"""Kernel decomposition and result sharing: the decomposed and shared convolutions equal the
direct one bit for bit on random weights and inputs, and the operation counts by hand."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.sharing import (
    count_operations,
    decomposed_conv,
    direct_conv,
    shared_conv,
    sub_kernels,
)


@settings(max_examples=80, deadline=None)
@given(k=st.integers(1, 40), c=st.integers(1, 5), f=st.sampled_from([1, 2, 3]),
       bits=st.integers(1, 8), size=st.integers(3, 6), stride=st.integers(1, 2),
       padding=st.integers(0, 1), repeat=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_decomposed_shared_and_direct_agree(k, c, f, bits, size, stride, padding, repeat, seed):
    rng = np.random.default_rng(seed)
    w = rng.choice([-1, 1], (k, c, f, f)).astype(np.int8)
    if repeat and k > 2:  # make some sub-kernels repeat and some appear negated
        w[1] = w[0]
        w[2] = -w[0]
    a = rng.integers(0, 2**bits, (2, c, size, size))
    direct = direct_conv(a, w, stride=stride, padding=padding)
    assert np.array_equal(decomposed_conv(a, w, stride=stride, padding=padding), direct)
    assert np.array_equal(shared_conv(a, w, stride=stride, padding=padding), direct)


def test_sub_kernels_up_to_sign():
    w = np.array([[[[1, -1], [1, 1]]], [[[-1, 1], [-1, -1]]], [[[1, 1], [1, 1]]]], np.int8)
    ids, signs = sub_kernels(w)
    assert ids[0, 0] == ids[1, 0] != ids[2, 0]  # filter 1 is filter 0 negated
    assert signs[:, 0].tolist() == [1, -1, 1]


def test_operation_counts_by_hand():
    # K = 3 filters over C = 1 channel of 2×2: [+ − + +], its negation, [+ + + +]
    w = np.array([[[[1, -1], [1, 1]]], [[[-1, 1], [-1, -1]]], [[[1, 1], [1, 1]]]], np.int8)
    n = count_operations(w)
    assert n.direct == 3 * 4
    # rarer signs: 1, 1, 0 positions; the window sum 4; 2S − J per filter 3
    assert n.decomposed == (1 + 1 + 0) + 4 + 3
    # 2 distinct sub-kernels up to sign, 4 inputs each; each output accumulates C = 1 result
    assert n.distinct_sub_kernels == 2 and n.shared == 2 * 4 + 3 * 1
    # window sum 4; distinct [+ − + +]: 1 + 1; [+ + + +]: 0 + 1; combination 3
    assert n.shared_decomposed == 4 + 2 + 1 + 3
    assert 0 < n.saving("decomposed") < 1


def test_with_nothing_to_share_sharing_costs_more():
    rng = np.random.default_rng(3)
    w = np.stack([np.sign(rng.standard_normal((1, 3, 3))) for _ in range(8)]).astype(np.int8)
    w[w == 0] = 1
    assert len({tuple((x * x.flat[0]).ravel()) for x in w}) == 8  # all distinct up to sign
    n = count_operations(w)
    assert n.shared > n.direct and n.saving("shared") < 0


def test_sub_kernels_beyond_64_positions():
    """(a packed 64-bit code would merge these 9×9 kernels)"""
    rng = np.random.default_rng(0)
    w = rng.choice([-1, 1], (2, 1, 9, 9)).astype(np.int8)
    w[1] = w[0]
    w[1, 0, 8, 8] *= -1  # the same but for the 81st position
    ids, _ = sub_kernels(w)
    assert ids[0, 0] != ids[1, 0]
    a = rng.integers(0, 4, (1, 1, 9, 9))
    assert np.array_equal(shared_conv(a, w), direct_conv(a, w))


def test_random_weights_save_about_half_by_decomposition():
    rng = np.random.default_rng(0)
    n = count_operations(rng.choice([-1, 1], (256, 128, 3, 3)).astype(np.int8))
    assert 0.45 < n.saving("decomposed") < 0.52  # ≈ ½ of the inputs, less the window sum
    # 256 filters over 2^9 / 2 = 256 sub-kernels per channel: many repeat
    assert n.distinct_sub_kernels < 0.7 * n.sub_kernels


@settings(max_examples=60, deadline=None)
@given(k=st.integers(1, 30), c=st.integers(1, 6), fy=st.integers(1, 9), fx=st.integers(1, 9),
       repeat=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_distinct_sub_kernels_counted_in_one_pass_match_per_channel(k, c, fy, fx, repeat,
                                                                     seed):
    """count_operations finds distinct sub-kernels with one unique over (channel, bits) keys
    (two encodings, by kernel size); per channel with sub_kernels' ids, the same counts."""
    rng = np.random.default_rng(seed)
    w = rng.choice([-1, 1], (k, c, fy, fx)).astype(np.int8)
    if repeat and k > 2:
        w[1], w[2] = w[0], -w[0]
    n = count_operations(w)
    ids, _ = sub_kernels(w)
    f = fy * fx
    flat = w.reshape(k, c, f)
    distinct = rarer = 0
    for j in range(c):
        _, first = np.unique(ids[:, j], return_index=True)
        distinct += len(first)
        p = (flat[first, j] > 0).sum(axis=1)
        rarer += int(np.minimum(p, f - p).sum())
    assert (n.distinct_sub_kernels, n.distinct_rarer) == (distinct, rarer)
