"""The functional model: a lowered network (``workloads.lowered``) executed on packed bits, the
way the accelerator computes it — numpy only, bit-exact.

Operands are bit planes packed 64 to a ``uint64`` word along each output's reduction
``(c, fy, fx)``; a multiply-accumulate is popcounts of word-wise logic:

* binary weights × binary inputs (XNOR): ``acc = 2·popcount(¬(a ⊕ w) ∧ m) − popcount(m)``,
  with ``m`` the mask of real inputs (zero padding is made on chip and contributes 0);
* binary weights × k-bit unsigned inputs (bit-serial, AND-popcount with the correction term):
  ``acc = Σ_b 2^b·(2·popcount(a_b ∧ w) − popcount(a_b))``;
* ternary weights (a sign and a non-zero mask: planes ``pos``, ``neg``) × binary inputs:
  ``acc = [2·pc(pos ∧ a ∧ m) − pc(pos ∧ m)] − [2·pc(neg ∧ a ∧ m) − pc(neg ∧ m)]``;
  × k-bit inputs: ``Σ_b 2^b·(pc(a_b ∧ pos) − pc(a_b ∧ neg))``.

Each layer runs **tile by tile in the mapper's schedule** when one is given (``tk`` output
channels × ``tc`` input channels × ``toy × tox`` output pixels, in the mapping's loop order):
partial sums of a split reduction accumulate in integers, and every output is checked to have
received each input channel exactly once — a schedule that misses or repeats work fails.
Layers with k-bit weights (8-bit first and last layers) run as an integer MAC unit does,
codes times codes in int64, in the same tile schedule. Outputs then pass the layer's integer
thresholds; max-pools act on the codes.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workloads.layers import Add, Conv2d, Pool
from workloads.lowered import LoweredLayer, LoweredNetwork

__all__ = ["Execution", "Tiling", "execute", "mapper_tilings", "pack_bits", "popcount"]

WORD = 64
#: images per vectorised block (bounds the (images × outputs × channels × words) temporaries)
IMAGES_PER_BLOCK = 64


@dataclass(frozen=True, slots=True)
class Tiling:
    """A layer's tile sizes and loop order (outer → inner), as the mapper chose them."""

    tk: int
    tc: int
    toy: int
    tox: int
    order: tuple[str, ...] = ("k", "c", "p")
    tiles: int | None = None  # the mapper's tile count (one frame), checked against the walk

    @classmethod
    def from_mapping(cls, m: Any) -> Tiling:
        def get(key: str) -> Any:
            return m[key] if isinstance(m, Mapping) else getattr(m, key)

        return cls(int(get("tk")), int(get("tc")), int(get("toy")), int(get("tox")),
                   tuple(get("order")), int(get("tiles")))


@dataclass
class Execution:
    """What the functional model computed for a batch of images."""

    pre_activations: dict[str, np.ndarray]  # per MAC layer: int64 (N[, M·N_a], K[, OH, OW])
    logits: np.ndarray  # float64 (N, classes)
    tiles: dict[str, int] = field(default_factory=dict)  # tiles run per layer (per image)

    @property
    def classes(self) -> np.ndarray:
        return np.argmax(self.logits, axis=1)


def popcount(words: np.ndarray, axis: int = -1) -> np.ndarray:
    """Set bits of ``uint64`` words, summed over ``axis`` (int64)."""
    return np.bitwise_count(words).sum(axis=axis, dtype=np.int64)


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Pack a boolean array's last axis 64 to a ``uint64`` word (bit i of the row is bit
    ``i % 64`` of word ``i // 64``; the last word is zero-filled)."""
    n = bits.shape[-1]
    words = -(-n // WORD)
    packed = np.packbits(bits, axis=-1, bitorder="little")
    out = np.zeros((*bits.shape[:-1], words * 8), np.uint8)
    out[..., :packed.shape[-1]] = packed
    return out.view("<u8")


def _weight_planes(x: LoweredLayer) -> list[np.ndarray]:
    """Boolean weight planes (K, reduction): binary [w = +1]; ternary [w = +1], [w = −1]."""
    w = x.weight_codes().reshape(x.shape[0], -1)
    return [w > 0] if x.weight_kind == "binary" else [w > 0, w < 0]


def _input_planes(x: LoweredLayer, a: np.ndarray) -> list[np.ndarray]:
    """Boolean planes of input codes: binary [a = +1]; k-bit unsigned: bit b of the code."""
    if x.act_kind == "binary":
        return [a > 0]
    return [((a >> b) & 1).astype(bool) for b in range(x.act_bits)]  # (codes ≥ 0)


def _im2col(plane: np.ndarray, x: LoweredLayer) -> np.ndarray:
    """(N, C, H, W) bits or codes → (N, OH·OW, C·FY·FX), zero padded, in torch's (c, fy, fx)
    reduction order."""
    n, c, h, w = plane.shape
    fy, fx, s, p = x.shape[2], x.shape[3], x.stride, x.padding
    oh, ow = (h + 2 * p - fy) // s + 1, (w + 2 * p - fx) // s + 1
    padded = np.zeros((n, c, h + 2 * p, w + 2 * p), plane.dtype)
    padded[:, :, p:p + h, p:p + w] = plane
    win = np.lib.stride_tricks.sliding_window_view(padded, (fy, fx), axis=(2, 3))
    win = win[:, :, ::s, ::s][:, :, :oh, :ow]  # (N, C, OH, OW, FY, FX)
    return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(n, oh * ow, -1)


def _tile_acc(x: LoweredLayer, a: list[np.ndarray], m: np.ndarray | None,
              w: list[np.ndarray], reduction: int) -> np.ndarray:
    """Σ a·w of one tile from packed words: input planes ``a`` (B, P, W), the real-input
    mask ``m`` (P, W; None: all real), weight planes ``w`` (K, W), over ``reduction``
    elements → int64 (B, P, K)."""
    wk = [p[None, None, :, :] for p in w]  # (1, 1, K, W)
    if x.act_kind == "binary":
        a0 = a[0][:, :, None, :]  # (B, P, 1, W)
        if m is None:  # every bit real (the last word's spare bits are 0 on both sides)
            if x.weight_kind == "binary":  # XNOR-popcount: n − 2·popcount(a ⊕ w)
                return reduction - 2 * popcount(a0 ^ wk[0])
            pos, neg = wk
            return (2 * popcount(pos & a0) - popcount(pos)) - (2 * popcount(neg & a0)
                                                                - popcount(neg))
        mk = m[None, :, None, :]  # (1, P, 1, W)
        if x.weight_kind == "binary":  # padding contributes 0: Σ over real inputs only
            return popcount(mk) - 2 * popcount((a0 ^ wk[0]) & mk)
        out = np.zeros((a0.shape[0], a0.shape[1], w[0].shape[0]), np.int64)
        for sign, plane in ((1, wk[0]), (-1, wk[1])):
            pm = plane & mk
            out += sign * (2 * popcount(pm & a0) - popcount(pm))
        return out
    out = np.zeros((a[0].shape[0], a[0].shape[1], w[0].shape[0]), np.int64)
    for b, plane in enumerate(a):  # bit-serial over the input's bit planes (padding: 0)
        ab = plane[:, :, None, :]
        if x.weight_kind == "binary":  # AND-popcount with the correction term
            part = 2 * popcount(ab & wk[0]) - popcount(ab)
        else:
            part = popcount(ab & wk[0]) - popcount(ab & wk[1])
        out += part << b
    return out


def _bases(x: LoweredLayer, a: np.ndarray, tiling: Tiling | None) -> tuple[np.ndarray, int]:
    """An ABC-Net layer: one binary pass per (weight base m, input base n), each in the
    layer's tile schedule — the passes the cost model prices — stacked m-major on axis 1.
    Input base n is +1 where the thermometer code reaches its rank."""
    m, n = x.terms
    outs, tiles = [], 0
    for i in range(m):
        wx = x if x.weight_kind != "bases" else dataclasses.replace(
            x, weight_kind="binary", weight_bits=1, weight_planes=x.weight_planes[i:i + 1])
        for j in range(n):
            if x.act_kind == "bases":
                part = dataclasses.replace(wx, act_kind="binary", act_bits=1)
                codes = np.where(a >= x.act_ranks[j] + 1, 1, -1)
            else:
                part, codes = wx, a
            acc, tiles = _mac(dataclasses.replace(part, z_rule=""), codes, tiling)
            outs.append(acc)
    return np.stack(outs, axis=1), tiles


def _mac(x: LoweredLayer, a: np.ndarray, tiling: Tiling | None) -> tuple[np.ndarray, int]:
    """A conv / FC layer on codes ``a``: int64 pre-activations and the tiles run per image.
    Images go through in blocks (a frame at a time on the chip; a block here bounds memory),
    each block through the whole tile schedule."""
    if x.multi_term:
        return _bases(x, a, tiling)
    if x.groups != 1:
        return _grouped(x, a, tiling)
    k, c = x.shape[0], x.shape[1]
    fyfx = x.shape[2] * x.shape[3]
    n = a.shape[0]
    if x.kind == "fc":
        oh = ow = 1
        mask = None
    else:
        h, w = a.shape[2], a.shape[3]
        oh = (h + 2 * x.padding - x.shape[2]) // x.stride + 1
        ow = (w + 2 * x.padding - x.shape[3]) // x.stride + 1
        mask = (_im2col(np.ones((1, c, h, w), bool), x)[0] if x.padding and
                x.act_kind == "binary" else None)
    p_total = oh * ow
    t = tiling or Tiling(k, c, oh, ow)
    weights = _weight_planes(x)
    pix = np.arange(p_total).reshape(oh, ow)
    tiles: dict[str, list[Any]] = {
        "k": [(k0, min(k0 + t.tk, k)) for k0 in range(0, k, t.tk)],
        "c": [(c0, min(c0 + t.tc, c)) for c0 in range(0, c, t.tc)],
        "p": [pix[y0:y0 + t.toy, x0:x0 + t.tox].ravel()
              for y0 in range(0, oh, t.toy) for x0 in range(0, ow, t.tox)]}
    schedule = list(itertools.product(*[tiles[d] for d in t.order]))
    if t.tiles is not None and len(schedule) != t.tiles:
        raise AssertionError(f"layer '{x.name}': the walk has {len(schedule)} tiles, the "
                             f"mapper priced {t.tiles}")
    covered = np.zeros((p_total, k), np.int64)  # input channels each output received
    for combo in schedule:
        tile = dict(zip(t.order, combo, strict=True))
        covered[tile["p"], tile["k"][0]:tile["k"][1]] += tile["c"][1] - tile["c"][0]
    if not np.all(covered == c):
        bad = np.argwhere(covered != c)[0]
        raise AssertionError(f"layer '{x.name}': the schedule gave pixel {bad[0]}, output "
                             f"channel {bad[1]} {covered[tuple(bad)]} of {c} input channels")
    w_packed: dict[tuple[int, int, int], list[np.ndarray]] = {}
    acc = np.zeros((n, p_total, k), np.int64)
    if x.weight_kind == "int":  # an integer MAC unit: codes times codes
        codes = x.weight_codes().reshape(k, -1).astype(np.int64)
        for i0 in range(0, n, IMAGES_PER_BLOCK):
            block = a[i0:i0 + IMAGES_PER_BLOCK].astype(np.int64)
            b = block.shape[0]
            cols_i = block.reshape(b, 1, -1) if x.kind == "fc" else _im2col(block, x)
            for combo in schedule:
                tile = dict(zip(t.order, combo, strict=True))
                (k0, k1), (c0, c1), px = tile["k"], tile["c"], tile["p"]
                r0, r1 = c0 * fyfx, c1 * fyfx
                acc[i0:i0 + b, px, k0:k1] += cols_i[:, px, r0:r1] @ codes[k0:k1, r0:r1].T
        out = np.ascontiguousarray(acc.transpose(0, 2, 1))
        return (out.reshape(n, k) if x.kind == "fc" else out.reshape(n, k, oh, ow)), len(
            schedule)
    for i0 in range(0, n, IMAGES_PER_BLOCK):
        block = a[i0:i0 + IMAGES_PER_BLOCK]
        b = block.shape[0]
        planes = _input_planes(x, block)
        cols = ([p.reshape(b, 1, -1) for p in planes] if x.kind == "fc"
                else [_im2col(p, x) for p in planes])
        packed: tuple[tuple[int, int], list[np.ndarray], np.ndarray | None] | None = None
        for combo in schedule:
            tile = dict(zip(t.order, combo, strict=True))
            (k0, k1), (c0, c1), px = tile["k"], tile["c"], tile["p"]
            r0, r1 = c0 * fyfx, c1 * fyfx
            key = (c0, int(px[0]))
            if packed is None or packed[0] != key:  # an input tile, packed once for its k tiles
                whole = len(px) == p_total
                a_t = [pack_bits(col[:, :, r0:r1] if whole else col[:, px, r0:r1])
                       for col in cols]
                m_t = None if mask is None else pack_bits(mask[:, r0:r1] if whole
                                                          else mask[px, r0:r1])
                packed = (key, a_t, m_t)
            wkey = (k0, r0, r1)
            if wkey not in w_packed:
                w_packed[wkey] = [pack_bits(p[k0:k1, r0:r1]) for p in weights]
            part = _tile_acc(x, packed[1], packed[2], w_packed[wkey], r1 - r0)
            acc[i0:i0 + b, px, k0:k1] += part
    out = np.ascontiguousarray(acc.transpose(0, 2, 1))
    return (out.reshape(n, k) if x.kind == "fc" else out.reshape(n, k, oh, ow)), len(schedule)


def _grouped(x: LoweredLayer, a: np.ndarray, tiling: Tiling | None) -> tuple[np.ndarray, int]:
    """A grouped convolution: each group's input channels through its own filters, one group
    after another (as the mapper schedules them), in the group's tiling."""
    g = x.groups
    kg, cg = x.shape[0] // g, x.shape[1]
    per_group = None if tiling is None else dataclasses.replace(tiling, tiles=None)
    outs, count = [], 0
    for i in range(g):
        sub = dataclasses.replace(
            x, name=f"{x.name}[group {i}]", shape=(kg, *x.shape[1:]), groups=1,
            weight_planes=x.weight_planes[:, i * kg:(i + 1) * kg],
            weight_scale=x.weight_scale[i * kg:(i + 1) * kg])
        out, tiles = _mac(sub, a[:, i * cg:(i + 1) * cg], per_group)
        outs.append(out)
        count += tiles
    if tiling is not None and tiling.tiles is not None and count != tiling.tiles:
        raise AssertionError(f"layer '{x.name}': the walk has {count} tiles, the mapper "
                             f"priced {tiling.tiles}")
    return np.concatenate(outs, axis=1), count


def _pool(a: np.ndarray, layer: Pool) -> np.ndarray:
    """Max-pooling of codes or of a real map; average pooling of a real map (the windows'
    means, no padding counted: the residual networks' 2×2 and global average pools)."""
    if layer.mode == "max":
        return _maxpool(a, layer)
    if a.dtype.kind != "f":
        raise ValueError(f"layer '{layer.name}': average pooling acts on a real-valued map")
    if layer.mode == "global_avg":
        return a.mean(axis=(2, 3), keepdims=True)
    k, s = layer.kernel, layer.stride
    if layer.padding:
        raise ValueError(f"layer '{layer.name}': padded average pooling is not lowered")
    win = np.lib.stride_tricks.sliding_window_view(a, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    oh, ow = layer.out_shape[1], layer.out_shape[2]
    return win[:, :, :oh, :ow].mean(axis=(4, 5))


def _maxpool(a: np.ndarray, layer: Pool) -> np.ndarray:
    k, s, p = layer.kernel, layer.stride, layer.padding
    real = a.dtype.kind == "f"
    low = -np.inf if real else np.iinfo(np.int64).min
    padded = np.full((*a.shape[:2], a.shape[2] + 2 * p, a.shape[3] + 2 * p), low,
                     np.float64 if real else np.int64)
    padded[:, :, p:p + a.shape[2], p:p + a.shape[3]] = a
    win = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    oh, ow = layer.out_shape[1], layer.out_shape[2]
    return win[:, :, :oh, :ow].max(axis=(4, 5))


def execute(lowered: LoweredNetwork, pixels: np.ndarray, *,
            tilings: Mapping[str, Tiling] | None = None) -> Execution:
    """Run ``lowered`` on uint8 images ``pixels`` (N, C, H, W), each MAC layer in the given
    tiling (default: one tile) — see the module doc."""
    net = lowered.network
    if pixels.dtype != np.uint8:
        raise ValueError(f"images must be uint8 pixels (0-255), not {pixels.dtype}")
    if pixels.ndim != 4 or tuple(pixels.shape[1:]) != tuple(net.input_shape):
        raise ValueError(f"images of shape {tuple(pixels.shape[1:])}; the network reads "
                         f"{tuple(net.input_shape)}")
    values: dict[str, np.ndarray] = {"input": lowered.input_from_pixels(pixels)}
    pre: dict[str, np.ndarray] = {}
    tiles: dict[str, int] = {}
    logits = None
    current = "input"
    for layer in net.layers:
        src = net.inputs_of(layer.name) or (current,)
        a = values[src[0]]
        if isinstance(layer, Pool):
            out = _pool(a, layer)
        elif isinstance(layer, Add):  # the residual stream's real-valued add
            out = a + values[src[1]]
        elif isinstance(layer, Conv2d):
            x = lowered.layers[layer.name]
            a_scale: Any = x.act_scale
            if x.in_rule:  # it quantises a real-valued map itself
                if x.kind == "fc":
                    a = a.reshape(a.shape[0], -1)
                a, a_scale = x.quantise_input(a)
            acc, tiles[layer.name] = _mac(x, a, (tilings or {}).get(layer.name))
            pre[layer.name] = acc
            if x.in_rule or x.out_kind == "real":
                out = x.real_output(acc, a_scale)
                if x.out_kind == "logits":
                    logits = out
            elif x.out_kind == "logits":
                logits = x.logits(acc)
                out = logits
            else:
                out = x.output_codes(acc)
        else:
            raise ValueError(f"layer '{layer.name}' ({layer.kind.value}) is not lowered")
        values[layer.name] = out
        current = layer.name
    if logits is None:
        raise ValueError("the network's last multiply-accumulate layer gives no logits")
    return Execution(pre, logits.reshape(logits.shape[0], -1), tiles)


def mapper_tilings(lowered: LoweredNetwork, chip: Any) -> dict[str, Tiling]:
    """The tiling the chip's mapper chose for each MAC layer of ``lowered`` (one frame), so
    :func:`execute` follows the schedule the timing model prices. ``chip``: a spec or a
    built-in name."""
    from simulator.api import simulate

    result = simulate(lowered.network, chip)
    out = {}
    for layer in result.layers:
        mapping = getattr(layer.details, "mapping", None)
        if layer.name in lowered.layers and mapping is not None:
            out[layer.name] = Tiling.from_mapping(mapping)
    return out
