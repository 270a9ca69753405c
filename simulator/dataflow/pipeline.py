"""A network as a streaming pipeline: one stage per layer, rows flowing between them.

Every matrix layer (convolution or fully connected) is a matrix-vector-threshold unit (FINN's
MVAU): a layer lowered to a matrix of ``MH`` rows (output channels) and ``MW`` columns
(input channels × kernel) applied to ``V`` input vectors (output pixels) takes
``(MH / PE) · (MW / SIMD) · V`` cycles a frame, ``PE`` dividing ``MH`` and ``SIMD``
dividing ``MW`` (FINN's ``matrixvectoractivation.py``); a depthwise convolution is a
vector-vector unit, ``(C · K² / PE / SIMD) · V`` with PE dividing C and SIMD dividing K²
(``vectorvectoractivation.py``). A convolution's sliding-window generator feeds it
(FINN's ``ConvolutionInputGenerator``: ``W_in · K · C/S + H_out · max(W_out · K² · C/S,
stride · W_in · C/S)`` cycles with S its SIMD); the stage takes the slower of the two.
Pools, residual adds and the frame's input and output DMAs are stages too. Bases, bit-serial
weights or activations (ABC-Net, Group-Net, LQ-Nets) repeat the matrix once per pair of
bases.

Between stages flow *rows*: a convolution's or pool's output row (``W_out`` pixels of all
channels), a fully connected layer's whole output vector. A stage can produce output row
``y`` once the rows its window needs have arrived (``y · stride + K − pad`` input rows).

Resources follow FINN-R (Blott et al., ACM TRETS 2018) as FINN's code implements them
(:mod:`.resources`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.dataflow.chip import DataflowChip
from simulator.dataflow.resources import (
    Resources,
    mvau_resources,
    stage_resources,
    swg_resources,
)
from workloads.errors import ConfigError
from workloads.formats import NumberFormat
from workloads.layers import Add, Conv2d, Layer, LayerKind, Pool
from workloads.network import Network

__all__ = ["FC_ROWS", "INPUT", "OUTPUT", "Edge", "Folded", "Stage", "build_pipeline",
           "check_divides", "divisors"]


def divisors(n: int) -> list[int]:
    """The divisors of ``n``, ascending."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted({*small, *(n // d for d in small)})


def _bits(fmt: NumberFormat) -> int:
    """Bits of one operand as the datapath sees it (a base or a bit-serial plane: 1)."""
    return 1 if fmt.kind == "bases" else fmt.storage_bits


@dataclass(frozen=True, slots=True)
class Folded:
    """The matrix of one MAC layer and its folding: ``mh × mw`` applied to ``vectors``
    input vectors ``passes × groups`` times; ``pe`` output rows and ``simd`` columns per
    cycle. A depthwise layer (``depthwise``) folds channels by PE and the window by SIMD."""

    mh: int
    mw: int
    vectors: int
    pe: int
    simd: int
    passes: int = 1
    groups: int = 1
    depthwise: bool = False

    @property
    def neuron_folds(self) -> int:
        return self.mh // self.pe

    @property
    def synapse_folds(self) -> int:
        return self.mw // self.simd

    @property
    def cycles(self) -> int:
        """Cycles a frame (FINN's ``get_exp_cycles``; bases and groups repeat it)."""
        return self.passes * self.groups * self.neuron_folds * self.synapse_folds * self.vectors

    @property
    def weight_count(self) -> int:
        return self.passes * self.groups * self.mh * self.mw


@dataclass(frozen=True, slots=True)
class Edge:
    """A FIFO from ``src`` to ``dst`` holding ``depth`` rows of ``row_bits`` bits (``None``
    until it is sized: a residual add's input, :func:`..engines.fifo_needs`)."""

    src: str
    dst: str
    depth: int | None
    row_bits: int

    @property
    def slots(self) -> int:
        """The FIFO's depth in rows (once sized)."""
        if self.depth is None:
            raise RuntimeError(f"the FIFO {self.src} → {self.dst} was never sized")
        return self.depth


@dataclass(frozen=True, slots=True)
class Stage:
    """One pipeline stage a frame: ``cycles`` busy in ``rows_out`` output rows, reading
    ``rows_in`` rows from each input; ``window`` (kernel, stride, pad) says which input rows
    an output row needs (``None``: all of them, as a fully connected layer). ``first_fold``:
    a fully connected layer's cycles that overlap its input's arrival (its first neuron fold
    consumes the vector as it streams in)."""

    name: str
    kind: str  # in | out | mvau | vvau | pool | add
    layer: Layer | None
    cycles: int
    rows_in: int
    rows_out: int
    inputs: tuple[str, ...]
    window: tuple[int, int, int] | None
    folded: Folded | None
    resources: Resources
    swg_cycles: int = 0
    first_fold: int = 0
    weight_bytes: int = 0  # streamed from DRAM each frame (weights.location: dram)
    macs: int = 0
    channels_per_cycle: int = 0  # a pool's or add's PE: channels of a pixel a cycle

    def need(self, y: int) -> int:
        """Input rows output row ``y`` needs (of ``rows_in``)."""
        if self.window is None:
            return self.rows_in
        k, s, p = self.window
        return max(1, min(self.rows_in, y * s + k - p))

    def row_cycles(self, y: int) -> int:
        """Busy cycles of output row ``y`` (the frame's cycles spread evenly over its rows)."""
        c, r = self.cycles - self.first_fold, self.rows_out
        return (y + 1) * c // r - y * c // r


#: Most rows a fully connected stage's output vector streams in (its neuron folds grouped).
FC_ROWS = 32

#: The pipeline's own stages, named so no layer can clash with them.
INPUT, OUTPUT = "<input>", "<output>"


def check_divides(name: str, what: str, value: int, total: int, key: str) -> None:
    if total % value:
        good = [str(d) for d in divisors(total)]
        shown = ", ".join(good if len(good) <= 24 else [*good[:12], "…", *good[-6:]])
        raise ConfigError(f"{what} {value} does not divide layer '{name}''s {total}; valid: "
                          f"{shown}", key=key or None, value=value, has_value=True)


def fold_layer(layer: Conv2d, pe: int, simd: int, *, key: str = "folding") -> Folded:
    """The layer's matrix folded by ``pe`` and ``simd``; a :class:`ConfigError` listing the
    valid divisors when they do not divide it."""
    w, a = layer.weights, layer.activations
    passes = (w.bases if w.kind == "bases" else 1) * (a.bases if a.kind == "bases" else 1)
    kh, kw = layer.kernel
    depthwise = layer.groups > 1 and layer.groups == layer.in_shape[0] == layer.out_channels
    if depthwise:
        check_divides(layer.name, "pe", pe, layer.out_channels, f"{key}.pe")
        check_divides(layer.name, "simd", simd, kh * kw, f"{key}.simd")
        return Folded(layer.out_channels, kh * kw, layer.out_h * layer.out_w, pe, simd,
                      passes, 1, True)
    mh, mw = layer.out_channels_per_group, layer.in_channels_per_group * kh * kw
    check_divides(layer.name, "pe", pe, mh, f"{key}.pe")
    check_divides(layer.name, "simd", simd, mw, f"{key}.simd")
    return Folded(mh, mw, layer.out_h * layer.out_w, pe, simd, passes, layer.groups)


def swg_cycles(layer: Conv2d, simd: int) -> tuple[int, int]:
    """(cycles a frame, SIMD) of a convolution's sliding-window generator fed ``simd``
    channels wide (the largest divisor of the input channels not above the unit's SIMD)."""
    c, _, w = layer.in_shape
    s = max(d for d in divisors(c) if d <= max(1, simd))
    kh, kw = layer.kernel
    folds = c // s
    write = layer.out_w * kw * kh * folds
    read = layer.stride * (w + 2 * layer.padding) * folds
    return (w + 2 * layer.padding) * kh * folds + layer.out_h * max(write, read), s


def mac_stage(layer: Conv2d, chip: DataflowChip, *, pe: int, simd: int, inputs: tuple[str, ...],
              rows_in: int, ram_style: str, last: bool, key: str) -> Stage:
    """The stage of one matrix layer folded by ``pe``/``simd``."""
    f = fold_layer(layer, pe, simd, key=key)
    w_bits, a_bits = _bits(layer.weights), _bits(layer.activations)
    out_bits = 0 if last else layer.output.storage_bits
    res = mvau_resources(f, w_bits, a_bits, signed_inputs=layer.activations.kind != "int",
                         out_bits=out_bits, ram_style=ram_style,
                         on_chip=chip.weights_on_chip)
    cycles, swg = f.cycles, 0
    window: tuple[int, int, int] | None = None
    first = 0
    if layer.kind is LayerKind.CONV:
        window = (layer.kernel[0], layer.stride, layer.padding)
        if layer.kernel != (1, 1) or layer.stride != 1:
            # a depthwise unit's window generator feeds PE channels (FINN sets its SIMD to
            # the VVAU's PE); a dense one's the unit's SIMD channels
            swg, s = swg_cycles(layer, f.pe if f.depthwise else f.simd)
            res = res + swg_resources(layer, s, a_bits)
            cycles = max(cycles, swg)
        rows_out = layer.out_h
    else:  # the first neuron fold consumes the vector as it arrives; the output vector
        # streams out as its neuron folds finish (grouped into at most FC_ROWS rows)
        first = f.passes * f.groups * f.synapse_folds
        rows_out = min(FC_ROWS, f.neuron_folds)
    weight_bytes = 0 if chip.weights_on_chip else -(-f.weight_count * w_bits // 8)
    return Stage(layer.name, "vvau" if f.depthwise else "mvau", layer, cycles, rows_in,
                 rows_out, inputs, window, f, res, swg_cycles=swg, first_fold=first,
                 weight_bytes=weight_bytes, macs=layer.macs)


def build_pipeline(net: Network, chip: DataflowChip,
                   folding: dict[str, tuple[int, int, int | None, str]]) -> tuple[list[Stage],
                                                                            list[Edge]]:
    """The stages (input DMA, one per layer, output DMA) and FIFOs of ``net`` folded by
    ``folding`` (layer name → (pe, simd, input FIFO depth, ram style); see
    :func:`simulator.dataflow.folding.resolve`)."""
    if net.gate_branches:
        raise ConfigError("Real-to-Binary gates are not modelled by the dataflow family; use "
                          "an overlay chip", key="--quant")
    c, h, w = net.input_shape
    in_bits = c * w * 8  # the input frame: 8-bit pixels, one row at a time
    frame_bytes = c * h * w
    stages = [Stage(INPUT, "in", None, max(1, math.ceil(frame_bytes / chip.in_bytes_per_cycle)),
                    0, h, (), None, None, Resources())]
    row_bits = {INPUT: in_bits}
    rows = {INPUT: h}
    edges: list[Edge] = []
    macs = net.mac_layers
    last_mac = macs[-1].name if macs else ""
    for layer in net:
        srcs = tuple(INPUT if x == "input" else x
                     for x in net.inputs_of(layer.name) or (stages[-1].name,))
        pe, simd, depth, ram = folding[layer.name]
        rows_in = rows[srcs[0]]
        if isinstance(layer, Conv2d):
            st = mac_stage(layer, chip, pe=pe, simd=simd, inputs=srcs, rows_in=rows_in,
                           ram_style=ram, last=layer.name == last_mac,
                           key=f"folding.layers.{layer.name}")
        elif isinstance(layer, Pool):
            ch, ih, iw = layer.in_shape
            par = max(d for d in divisors(ch) if d <= pe)
            oh = layer.out_shape[1]
            cycles = ih * iw * (ch // par)  # one input pixel of `par` channels a cycle
            window = ((layer.kernel, layer.stride, layer.padding) if layer.mode != "global_avg"
                      else None)
            st = Stage(layer.name, "pool", layer, max(1, cycles), rows_in, oh if window else 1,
                       srcs, window, None,
                       stage_resources(par, layer.activations.storage_bits),
                       channels_per_cycle=par)
        elif isinstance(layer, Add):
            ch, ih, iw = layer.in_shape
            par = max(d for d in divisors(ch) if d <= pe)
            st = Stage(layer.name, "add", layer, ih * iw * (ch // par), rows_in, ih, srcs,
                       (1, 1, 0), None, stage_resources(par, layer.activations.storage_bits),
                       channels_per_cycle=par)
        else:  # pragma: no cover - the workload has no other layer kind
            raise TypeError(f"the dataflow family cannot run a {type(layer).__name__}")
        out_c, out_h, out_w = layer.out_shape
        row_bits[layer.name] = -(-out_c * out_h * out_w * layer.output.storage_bits
                                 // st.rows_out)
        rows[layer.name] = st.rows_out
        for src in srcs:
            # a FIFO left to the pipeline: a vector stage's holds a frame of its input (it
            # takes it all in its first fold, then works on); a residual add's is sized by
            # its branches (None: the family's fifo_needs); others take the chip's default
            if depth is not None:
                d: int | None = depth
            elif st.window is None and st.first_fold:
                d = max(chip.fifo_depth, rows[src])
            else:
                d = None if isinstance(layer, Add) else chip.fifo_depth
            edges.append(Edge(src, layer.name, d, row_bits[src]))
        stages.append(st)
    last = stages[-1]
    out_bytes = -(-rows[last.name] * row_bits[last.name] // 8)
    stages.append(Stage(OUTPUT, "out", None,
                        max(1, math.ceil(out_bytes / chip.out_bytes_per_cycle)), last.rows_out,
                        1, (last.name,), None, None, Resources()))
    edges.append(Edge(last.name, OUTPUT, chip.fifo_depth, row_bits[last.name]))
    return stages, edges
