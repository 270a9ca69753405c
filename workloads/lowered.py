"""Lowered workloads: a network's shapes *and* its trained numbers, in the integer form the
hardware executes — what the torch reference produces (``reference.lowering``) and the
simulator's functional model runs (``simulator.functional``).

Per multiply-accumulate layer (:class:`LoweredLayer`):

* **weights** as integer codes ``w`` (``±1`` binary, ``−1/0/+1`` ternary, odd integers within
  ``±(2^k − 1)`` for k-bit DoReFa weights), stored as packed bit planes — binary: one plane
  (bit = 1 where ``w = +1``); ternary: a sign plane and a non-zero mask; k-bit: ``k + 1``
  planes of the two's complement, least significant first — each output channel's row
  packed 8 per byte in the reduction order ``(c, fy, fx)`` (torch's weight layout), with a
  real per-channel ``weight_scale`` (``q = scale · w``);
* **inputs** as codes ``a``: ``±1`` (binary) or unsigned ``0 … 2^k − 1`` (k-bit) with a real
  step ``act_scale`` (signed k-bit codes only where a layer quantises a real-valued stream
  itself, ``in_rule`` ``uniform``, against integer weights) — so the layer's raw output is
  ``y = act_scale · weight_scale · acc`` with the **integer pre-activation**
  ``acc = Σ a · w`` (zero padding contributes nothing);
* **output**: the batch-norm and the next layer's input quantiser folded into integer
  thresholds on ``acc`` — the output code is the count of thresholds passed (``acc ≥ t`` for
  direction +1, ``acc ≤ t`` for −1; direction 0: the constant ``code_if_constant``); binary
  outputs are −1 / +1 (0 or 1 threshold passed). The last layer keeps the batch-norm as
  ``logit = bn_scale · y + bn_shift`` (float64) instead.

**ABC-Net bases** (``weight_kind`` / ``act_kind`` ``bases``): M weight bases are M ±1 sign
planes with one real scale α_m each (``base_scales``); N input bases arrive as a thermometer
code ``0 … N`` (the count of the bases' levels passed, monotone, so max-pools still act on
codes) decoded into ±1 planes by each base's rank (``act_ranks``), with scales β_n
(``act_base_scales``). Such a layer's pre-activation is the M·N integer XNOR-popcounts
``P_mn`` (stacked on axis 1); its raw output ``y = Σ_m Σ_n (α_m·β_n)·P_mn`` is real, so its
output is computed from ``z = bn_scale·y + bn_shift`` by the next quantiser's own rule
(``z_rule``: ``sign``, ``dorefa``, ``above`` — HWGQ — or ``abc``, with ``z_params``) instead of
integer thresholds — as the post-processing unit's real-valued scale multiplies do.

**A real-valued stream** (Bi-Real's residual networks: real adds between layers): each MAC
layer's output is ``z = bn_scale·y + bn_shift`` itself (``out_kind`` ``real``), pools and adds
act on those real maps, and each layer quantises its real input by its own rule
(``in_rule``: ``sign`` — ±1, +1 for ``x ≥ 0`` — or ``uniform``, signed k-bit codes
``round(x / s)`` with ``s = max|x| / (2^(k−1) − 1)`` per sample). The integer
pre-activations stay exact; the real arithmetic between them is the post-processing unit's.

Max-pools between layers act on the codes (a pool of a monotone quantiser's outputs is the
quantiser of the pool). A lowered network saves as one ``.npz`` with an embedded JSON
description (no pickle), read back checked: :func:`save_lowered`, :func:`load_lowered`.

numpy is imported here, never by ``import workloads``.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workloads.errors import ConfigError
from workloads.files import note_read, read_regular
from workloads.layers import Conv2d, LayerKind
from workloads.network import Network
from workloads.weight_stats import weight_stats

__all__ = ["FORMAT", "LoweredLayer", "LoweredNetwork", "load_lowered", "pack_weight_planes",
           "save_lowered"]

#: The ``format`` recorded in a lowered file (checked on load).
FORMAT = "bnnsim-lowered-1"
#: Largest lowered file read.
MAX_LOWERED_BYTES = 2 * 2**30

_ARRAYS = ("weight_planes", "weight_scale", "thresholds", "direction", "code_if_constant",
           "bn_scale", "bn_shift", "base_scales", "act_base_scales", "act_ranks", "z_params",
           "in_params")
#: arrays a file written before ABC-Net bases lowered may lack (empty: no bases)
_OPTIONAL = {"base_scales": np.float64, "act_base_scales": np.float64, "act_ranks": np.int64,
             "z_params": np.float64, "in_params": np.float64}


@dataclass(frozen=True, eq=False)
class LoweredLayer:
    """One multiply-accumulate layer in integer form (see the module doc)."""

    name: str
    kind: str  # conv | fc
    shape: tuple[int, ...]  # weights: (K, C/groups, FY, FX); an FC layer (K, C, 1, 1)
    stride: int
    padding: int
    groups: int
    weight_kind: str  # binary | ternary | int
    weight_planes: np.ndarray  # uint8 (planes, K, ⌈C·FY·FX/8⌉): sign (binary); sign, mask
    weight_scale: np.ndarray  # float64 (K,)
    act_kind: str  # binary | int
    act_bits: int
    act_scale: float
    out_kind: str  # binary | int | logits
    out_bits: int = 0
    thresholds: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    direction: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    code_if_constant: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    bn_scale: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bn_shift: np.ndarray = field(default_factory=lambda: np.zeros(0))
    base_scales: np.ndarray = field(default_factory=lambda: np.zeros(0))  # α_m (bases)
    act_base_scales: np.ndarray = field(default_factory=lambda: np.zeros(0))  # β_n (bases)
    act_ranks: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    z_rule: str = ""  # real-valued output (bases layers): sign | dorefa | above | abc
    z_params: np.ndarray = field(default_factory=lambda: np.zeros(0))
    in_rule: str = ""  # a real-valued input quantised here: sign|uniform|dorefa|xnor ("": codes)
    #: xnor: (kernel, stride, padding, 1 for XNOR-Net's K map / 0 for a β per sample)
    in_params: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def quantise_input(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        """(codes, input scale) of a real input map ``x`` (N, …) by :attr:`in_rule`: ``sign``
        ±1 (scale :attr:`act_scale`); ``uniform`` signed codes and a scale per sample
        (N, 1, …), as the reference's symmetric uniform quantiser computes them."""
        if self.in_rule == "sign":
            return np.where(x >= 0, 1, -1).astype(np.int16), self.act_scale
        if self.in_rule == "dorefa":  # (PACT: on [0, α], α in in_params)
            n = 2**self.act_bits - 1
            if len(self.in_params):
                a = self.in_params[0]
                return (np.round(np.minimum(np.maximum(x, 0), a) * n / a).astype(np.int64),
                        self.act_scale)
            return np.round(np.clip(x, 0, 1) * n).astype(np.int64), self.act_scale
        if self.in_rule == "xnor":  # ±1 codes, and XNOR-Net's K (or β) for the output
            return np.where(x >= 0, 1, -1).astype(np.int16), self._xnor_scale(x)
        qmax = 2 ** (self.act_bits - 1) - 1
        peak = np.abs(x).max(axis=tuple(range(1, x.ndim)), keepdims=True)
        scale = np.where(peak > 0, peak / qmax, 1.0)
        return np.clip(np.round(x / scale), -qmax, qmax).astype(np.int64), scale

    def _xnor_scale(self, x: np.ndarray) -> np.ndarray:
        """XNOR-Net's K at the output positions — the mean |x| over channels, averaged over a
        k×k window (zero padding counted) at the layer's stride — or β per sample."""
        k, s, p, kmap = (int(v) for v in self.in_params)
        if not kmap or x.ndim != 4:
            return np.abs(x).mean(axis=tuple(range(1, x.ndim)), keepdims=True)
        a = np.abs(x).mean(axis=1, keepdims=True)
        padded = np.zeros((a.shape[0], 1, a.shape[2] + 2 * p, a.shape[3] + 2 * p))
        padded[:, :, p:p + a.shape[2], p:p + a.shape[3]] = a
        win = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(2, 3))
        return win[:, :, ::s, ::s].sum(axis=(4, 5)) / (k * k)

    def real_output(self, acc: np.ndarray, a_scale: Any) -> np.ndarray:
        """``z = bn_scale·y + bn_shift`` with ``y = (acc · a_scale) · weight_scale`` (the
        reference's order) — the real map a real-stream layer passes on, or the logits."""
        shape = [1] * acc.ndim
        shape[1] = -1
        y = (acc * a_scale) * self.weight_scale.reshape(shape)
        return y * self.bn_scale.reshape(shape) + self.bn_shift.reshape(shape)

    @property
    def terms(self) -> tuple[int, int]:
        """(weight bases M, input bases N); (1, 1) for a plain layer."""
        return (self.weight_bits if self.weight_kind == "bases" else 1,
                self.act_bits if self.act_kind == "bases" else 1)

    @property
    def multi_term(self) -> bool:
        return self.terms != (1, 1)

    def combine(self, acc: np.ndarray) -> np.ndarray:
        """The raw output ``y`` (float64) of a bases layer's stacked partial sums ``acc``
        (N, M·N_a, K, …): ``Σ_m Σ_n (s_m·t_n)·P_mn`` in that order (s: α_m, or the
        per-channel weight scale; t: β_n, or the input scale)."""
        m, n = self.terms
        shape = [1] * (acc.ndim - 1)
        shape[1] = -1  # the channel axis of one term (N, K, …)
        w = ([np.full(1, a) for a in self.base_scales] if self.weight_kind == "bases"
             else [self.weight_scale])
        a = list(self.act_base_scales) if self.act_kind == "bases" else [self.act_scale]
        y = None
        for i in range(m):
            for j in range(n):
                term = acc[:, i * n + j] * (w[i] * a[j]).reshape(shape)
                y = term if y is None else y + term
        assert y is not None
        return y

    def _z(self, acc: np.ndarray) -> np.ndarray:
        y = self.combine(acc)
        shape = [1] * y.ndim
        shape[1] = -1
        return y * self.bn_scale.reshape(shape) + self.bn_shift.reshape(shape)

    @property
    def reduction(self) -> int:
        return int(np.prod(self.shape[1:]))

    weight_bits: int = 1  # int weights: codes within ±(2^bits − 1), bits + 1 planes

    def weight_codes(self) -> np.ndarray:
        """The integer weights, shape :attr:`shape` (int8, or int16 for int weights; bases:
        (M, *shape), the ±1 codes of each base)."""
        n = self.reduction
        bits = np.unpackbits(self.weight_planes, axis=-1, count=n).astype(np.int16)
        if self.weight_kind == "bases":
            return (2 * bits - 1).reshape(len(bits), *self.shape).astype(np.int8)
        if self.weight_kind == "binary":
            codes = 2 * bits[0] - 1
        elif self.weight_kind == "ternary":
            codes = (2 * bits[0] - 1) * bits[1]
        else:  # two's complement over the planes, least significant first
            top = len(bits) - 1
            codes = sum((bits[b] << b for b in range(top)), np.zeros_like(bits[0]))
            codes = codes - (bits[top] << top)
        return codes.reshape(self.shape).astype(np.int8 if self.weight_kind != "int"
                                                 else np.int16)

    def output_codes(self, acc: np.ndarray) -> np.ndarray:
        """The next layer's input codes (int16) from integer pre-activations ``acc`` (…, K, …)
        with the channel on axis ``1`` (a bases layer's: (N, M·N_a, K, …), its codes from the
        real-valued ``z`` by :attr:`z_rule`)."""
        if self.z_rule:
            return self._codes_of(self._z(acc))
        shape = [1] * acc.ndim
        shape[1] = -1
        d = self.direction.reshape(shape).astype(np.int64)
        signed = acc * d  # acc ≥ t (d = +1) or acc ≤ t (d = −1): d·acc ≥ d·t
        passed = np.zeros(acc.shape, np.int16)
        for j in range(self.thresholds.shape[1]):
            passed += np.greater_equal(signed, self.thresholds[:, j].reshape(shape) * d)
        if not self.direction.all():
            passed = np.where(d == 0, self.code_if_constant.reshape(shape).astype(np.int16),
                              passed)
        if self.out_kind == "binary":
            passed *= 2
            passed -= 1
        return passed

    def _codes_of(self, z: np.ndarray) -> np.ndarray:
        """The next quantiser's codes of real ``z``, by its own arithmetic (float64)."""
        if self.z_rule == "sign":
            return np.where(z >= 0, 1, -1).astype(np.int16)
        if self.z_rule == "dorefa":  # PACT: on [0, α], α the second parameter
            if len(self.z_params) > 1:
                a = self.z_params[1]
                return np.round(np.minimum(np.maximum(z, 0), a) * self.z_params[0] / a
                                ).astype(np.int16)
            return np.round(np.clip(z, 0, 1) * self.z_params[0]).astype(np.int16)
        if self.z_rule == "above":  # HWGQ: the count of edges strictly below z
            return (z[..., None] > self.z_params).sum(axis=-1).astype(np.int16)
        # ABC-Net bases: the thermometer count of clip(z + v_n, 0, 1) ≥ ½
        return sum((np.clip(z + v, 0, 1) >= 0.5).astype(np.int16) for v in self.z_params)

    def logits(self, acc: np.ndarray) -> np.ndarray:
        """The last layer's outputs (float64): batch-norm of ``y``."""
        if self.multi_term:
            return self._z(acc)
        shape = [1] * acc.ndim
        shape[1] = -1
        y = acc * (self.act_scale * self.weight_scale.reshape(shape))
        return y * self.bn_scale.reshape(shape) + self.bn_shift.reshape(shape)

    def meta(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "shape": list(self.shape),
                "stride": self.stride, "padding": self.padding, "groups": self.groups,
                "weight_kind": self.weight_kind, "weight_bits": self.weight_bits,
                "act_kind": self.act_kind,
                "act_bits": self.act_bits, "act_scale": self.act_scale,
                "out_kind": self.out_kind, "out_bits": self.out_bits, "z_rule": self.z_rule,
                "in_rule": self.in_rule}


@dataclass(frozen=True, eq=False)
class LoweredNetwork:
    """A workload (shapes and formats) with every MAC layer lowered, and how its input
    pixels become the first layer's codes (``input_codes``: ``pixels`` — 8-bit codes equal
    to the 0–255 pixels — or ``sign`` — +1 where a pixel ≥ 128, else −1)."""

    network: Network
    layers: dict[str, LoweredLayer]
    input_codes: str
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def with_weight_stats(self) -> Network:
        """The network with each lowered layer's :class:`~workloads.weight_stats.WeightStats`
        (what its trained weights let a cost model skip or share)."""
        layers = [dataclasses.replace(x, weight_stats=weight_stats(
                      self.layers[x.name].weight_codes(), self.layers[x.name].groups))
                  if isinstance(x, Conv2d) and x.name in self.layers else x
                  for x in self.network.layers]
        n = self.network
        return Network(n.name, n.input_shape, tuple(layers), n.inputs, n.quant, n.source)

    def input_from_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """First-layer codes (int64) of uint8 images (N, C, H, W)."""
        p = pixels.astype(np.int64)
        return np.where(p >= 128, 1, -1) if self.input_codes == "sign" else p


def pack_weight_planes(kind: str, codes: np.ndarray, bits: int = 1) -> np.ndarray:
    """The stored planes of integer weight codes (K, …) — the inverse of
    :meth:`LoweredLayer.weight_codes`: binary ``[w = +1]``; ternary ``[w > 0]``, ``[w ≠ 0]``;
    k-bit ``bits + 1`` two's-complement planes, least significant first; bases (M, K, …) a
    sign plane per base; each output
    channel's row packed 8 per byte (uint8, (planes, K, ⌈R/8⌉))."""
    if kind == "bases":  # (M, K, …): one sign plane per base
        return np.stack([pack_weight_planes("binary", c)[0] for c in codes])
    rows = codes.reshape(codes.shape[0], -1).astype(np.int64)
    if kind == "binary":
        planes = [rows > 0]
    elif kind == "ternary":
        planes = [rows > 0, rows != 0]
    else:
        u = rows & ((1 << (bits + 1)) - 1)
        planes = [((u >> b) & 1).astype(bool) for b in range(bits + 1)]
    return np.stack([np.packbits(p.astype(np.uint8), axis=1) for p in planes])


def save_lowered(lowered: LoweredNetwork, path: str | Path) -> None:
    """Write ``lowered`` to ``path`` (an ``.npz``: arrays plus ``meta.json``). The network is
    recorded by its zoo entry and quantisation (``lowered.meta``: ``zoo``, ``quant``,
    ``num_classes``, ``in_channels``) and its digest, checked when it is read back."""
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for name, x in lowered.layers.items():
        layers.append(x.meta())
        for key in _ARRAYS:
            arrays[f"{name}/{key}"] = np.asarray(getattr(x, key))
    meta = {"format": FORMAT, "digest": lowered.network.digest(),
            "input_codes": lowered.input_codes, "layers": layers, "source": lowered.source,
            "meta": lowered.meta}
    arrays["meta.json"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]


def load_lowered(path: str | Path) -> LoweredNetwork:
    """A lowered network written by :func:`save_lowered`, checked: one :class:`ConfigError`
    line naming the file for anything else (not an archive, another format, missing or
    inconsistent arrays)."""
    from workloads.quant import parse_quant
    from workloads.zoo import ZOO

    text = str(path)
    data = read_regular(path, limit=MAX_LOWERED_BYTES, what="lowered network")
    note_read(path)
    try:
        z = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):  # a single .npy array under a .npz name
            raise ValueError("a single array, not an archive of them")
        with z:
            arrays: dict[str, Any] = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise ConfigError(f"is not a lowered network (.npz) ({str(err).splitlines()[0][:120]})",
                          file=text) from None
    try:
        meta = json.loads(arrays.pop("meta.json").tobytes().decode())
    except (KeyError, ValueError, UnicodeDecodeError, RecursionError, AttributeError):
        raise ConfigError("is not a lowered network: no readable meta.json", file=text) from None
    if not isinstance(meta, Mapping) or meta.get("format") != FORMAT:
        raise ConfigError(f"is not a lowered network of format {FORMAT}", file=text)
    try:
        info = meta["meta"]
        if info["zoo"] not in ZOO:
            raise ConfigError(f"lowered from model '{info['zoo']}', which is not in the zoo",
                              file=text)
        net = ZOO[info["zoo"]].network(parse_quant(info["quant"]),
                                       num_classes=info.get("num_classes"),
                                       in_channels=info.get("in_channels"))
        if net.digest() != meta["digest"]:
            raise ConfigError("its network does not match this bnnsim's zoo entry (digest "
                              f"{meta['digest']}, now {net.digest()})", file=text)
        net = Network(net.name, net.input_shape, net.layers, net.inputs, net.quant,
                      f"lowered:{text}")
        layers = {}
        for m in meta["layers"]:
            kw = {k: m[k] for k in ("name", "kind", "stride", "padding", "groups",
                                    "weight_kind", "act_kind", "act_bits", "out_kind",
                                    "out_bits")}
            stored: dict[str, Any] = {
                k: arrays[f"{m['name']}/{k}"] if f"{m['name']}/{k}" in arrays
                or k not in _OPTIONAL else np.zeros(0, _OPTIONAL[k]) for k in _ARRAYS}
            x = LoweredLayer(shape=tuple(int(v) for v in m["shape"]),
                             act_scale=float(m["act_scale"]),
                             weight_bits=int(m.get("weight_bits", 1)),
                             z_rule=str(m.get("z_rule", "")), in_rule=str(m.get("in_rule", "")),
                             **stored, **kw)
            _check_layer(x, net, text)
            layers[x.name] = x
    except ConfigError as err:
        raise err.with_context(file=text) from None
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ConfigError(f"is not a consistent lowered network ({type(err).__name__}: "
                          f"{str(err)[:120]})", file=text) from None
    if [x.name for x in net.mac_layers] != list(layers):
        raise ConfigError("its lowered layers are not the network's multiply-accumulate layers",
                          file=text)
    chain = list(layers.values())
    if chain and chain[0].in_rule:
        raise ConfigError("its first layer reads the input codes; it quantises nothing itself",
                          file=text, key=f"layers.{chain[0].name}")
    for x, nxt in itertools.pairwise(chain):
        if nxt.in_rule and x.out_kind != "real":
            raise ConfigError(f"layer '{nxt.name}' quantises a real-valued input, but "
                              f"'{x.name}' passes on codes", file=text, key=f"layers.{nxt.name}")
        if x.z_rule == "abc" and nxt.act_kind == "bases":  # the ranks follow the shifts
            order = np.argsort(-x.z_params, kind="stable")
            ranks = np.empty(len(order), np.int64)
            ranks[order] = np.arange(len(order))
            if not np.array_equal(ranks, nxt.act_ranks):
                raise ConfigError(f"layer '{nxt.name}' decodes its bases in another order than "
                                  f"'{x.name}' codes them", file=text,
                                  key=f"layers.{nxt.name}")
        if x.out_kind == "real":  # a real-valued stream: the next layer quantises it
            if not nxt.in_rule:
                raise ConfigError(f"its real-valued output needs the next layer '{nxt.name}' "
                                  "to quantise its input (in_rule)", file=text,
                                  key=f"layers.{x.name}")
            continue
        if (x.out_kind, x.out_bits if x.out_kind in ("int", "bases") else 1) != (
                nxt.act_kind, nxt.act_bits):
            raise ConfigError(f"its output codes ({x.out_kind}) are not what the next layer "
                              f"'{nxt.name}' reads ({nxt.act_kind}, {nxt.act_bits} bits)",
                              file=text, key=f"layers.{x.name}")
    if chain[-1].out_kind != "logits":
        raise ConfigError("its last layer must give logits", file=text,
                          key=f"layers.{chain[-1].name}")
    if meta.get("input_codes") not in ("pixels", "sign"):
        raise ConfigError("input_codes must be 'pixels' or 'sign'", file=text)
    return LoweredNetwork(net, layers, str(meta["input_codes"]), text, dict(info))


def _check_layer(x: LoweredLayer, net: Network, file: str) -> None:
    """Every field of a lowered layer against the network layer it claims to be."""
    layer = net.layer(x.name)
    k = x.shape[0]
    planes = {"binary": 1, "ternary": 2, "bases": x.weight_bits}.get(x.weight_kind,
                                                                       x.weight_bits + 1)
    where = f"layers.{x.name}"
    if not isinstance(layer, Conv2d):
        raise ConfigError("is not a multiply-accumulate layer of the network", file=file,
                          key=where)
    c, h, w = layer.in_shape
    want = ((k, c * h * w, 1, 1) if layer.kind is LayerKind.FC
            else (layer.out_channels, c // layer.groups, *layer.kernel))
    geometry = (x.stride, x.padding, x.groups) == (
        (1, 0, 1) if layer.kind is LayerKind.FC else (layer.stride, layer.padding, layer.groups))
    if tuple(x.shape) != want or not geometry or x.kind != layer.kind.value:
        raise ConfigError(f"its shape {list(x.shape)}, stride {x.stride}, padding {x.padding} "
                          f"or groups {x.groups} are not the network layer's ({list(want)}, "
                          f"{layer.stride}, {layer.padding}, {layer.groups})", file=file,
                          key=where)
    fmt = layer.activations
    if (x.act_kind, x.act_bits) != ((fmt.kind, fmt.bits) if fmt.kind in ("binary", "bases")
                                    else ("int", fmt.bits)):
        raise ConfigError(f"its input format ({x.act_kind}, {x.act_bits} bits) is not the "
                          f"network layer's ({fmt.label})", file=file, key=where)
    if not (0 < x.act_scale < float("inf")):
        raise ConfigError("its input scale must be a positive number", file=file, key=where)
    if not 1 <= x.weight_bits <= 8:
        raise ConfigError("weight_bits must be 1 to 8", file=file, key=where)
    if (x.weight_kind not in ("binary", "ternary", "int", "bases")
            or x.act_kind not in ("binary", "int", "bases")
            or x.out_kind not in ("binary", "int", "bases", "logits", "real")
            or x.z_rule not in ("", "sign", "dorefa", "above", "abc")
            or x.in_rule not in ("", "sign", "uniform", "dorefa", "xnor")
            or (x.in_rule in ("sign", "xnor") and x.act_kind != "binary")
            or (x.in_rule == "dorefa" and (x.act_kind != "int" or len(x.in_params) > 1))
            or (x.in_rule == "xnor" and (x.in_params.shape != (4,)
                                         or not (x.in_params[:2] >= 1).all()))
            or (x.in_rule == "uniform" and (x.act_kind != "int" or x.act_bits < 2
                                            or x.weight_kind != "int"))):
        raise ConfigError("unknown weight, input or output kind", file=file, key=where)
    m, n = x.terms
    if (x.base_scales.shape != ((m,) if x.weight_kind == "bases" else (0,))
            or x.act_base_scales.shape != ((n,) if x.act_kind == "bases" else (0,))
            or x.act_ranks.shape != ((n,) if x.act_kind == "bases" else (0,))
            or (x.act_kind == "bases" and sorted(x.act_ranks.tolist()) != list(range(n)))
            or not np.isfinite(x.base_scales).all()
            or not np.isfinite(x.act_base_scales).all()):
        raise ConfigError("its base scales or ranks do not match its bases", file=file,
                          key=where)
    if getattr(layer, "out_channels", None) != k or x.weight_planes.shape != (
            planes, k, -(-x.reduction // 8)) or x.weight_planes.dtype != np.uint8:
        raise ConfigError("weights do not match the layer's shape", file=file, key=where)
    if x.weight_scale.shape != (k,):
        raise ConfigError("needs one weight scale per output channel", file=file, key=where)
    if x.out_kind in ("logits", "real") or x.z_rule:
        if x.bn_scale.shape != (k,) or x.bn_shift.shape != (k,):
            raise ConfigError("needs one batch-norm scale and shift per channel", file=file,
                              key=where)
        if x.z_rule and (not x.multi_term or x.out_kind == "logits"
                         or not np.isfinite(x.z_params).all()):
            raise ConfigError("a real-valued output rule belongs to a bases layer's output",
                              file=file, key=where)
        if x.out_kind == "real" and x.multi_term:
            raise ConfigError("a bases layer cannot pass on a real-valued stream", file=file,
                              key=where)
        rules: dict[str, tuple[str, int]] = {
            "sign": ("binary", 0), "dorefa": ("int", -1), "above": ("int", 2**x.out_bits - 1),
            "abc": ("bases", x.out_bits)}
        if x.z_rule:
            kind, params = rules[x.z_rule]
            n = len(x.z_params)
            if x.out_kind != kind or (params >= 0 and n != params) or (
                    x.z_rule == "dorefa" and (n not in (1, 2) or x.z_params[0] != 2**x.out_bits - 1
                                              or (n == 2 and not x.z_params[1] > 0))):
                raise ConfigError(f"its output rule {x.z_rule} does not make {x.out_kind} codes "
                                  f"of {x.out_bits} bits from {n} parameter(s)", file=file,
                                  key=where)
    elif x.multi_term:
        raise ConfigError("a bases layer's output needs a real-valued rule (z_rule)",
                          file=file, key=where)
    else:
        levels = {"binary": 1, "bases": x.out_bits}.get(x.out_kind, 2**x.out_bits - 1)
        if (x.thresholds.shape != (k, levels) or x.thresholds.dtype != np.int64
                or x.direction.shape != (k,) or x.code_if_constant.shape != (k,)
                or not np.isin(x.direction, (-1, 0, 1)).all()
                or not ((x.code_if_constant >= 0) & (x.code_if_constant <= levels)).all()
                or (not 0 < x.out_bits <= 8 and x.out_kind == "int")):
            raise ConfigError(f"needs {levels} integer threshold(s), a direction (−1, 0, +1) "
                              "and a constant code per channel", file=file, key=where)
