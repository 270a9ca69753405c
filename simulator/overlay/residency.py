"""Where each layer's weights, inputs and outputs live: DRAM, or on chip.

The overlay runs one layer at a time, so by default every layer reads its inputs and weights
from DRAM and writes its outputs back. Two things stay on chip instead when they fit:

* **Activations** (``residency.activations``): a layer's output map stays in the output
  buffer for the next layer when the next layer reads nothing else, no later layer reads the
  map (a residual shortcut would), and the whole map — all frames of a batch — fits one slot
  of a double-buffered output buffer (ping-pong: the map fills one half while the producer's
  accumulators use the other; the consumer reads it from there and writes its own outputs to
  the other half). The producer skips its stores and the consumer its input loads; neither
  takes input slots.
* **Weights** (``residency.weights``): when every layer's weights together fit the weight
  buffer they are loaded once, before the first frame (``weight_preload_bytes``), and no
  frame moves a weight or takes a weight slot.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.overlay.chip import Chip
from workloads.layers import Conv2d
from workloads.network import Network

__all__ = ["Placement", "plan_residency"]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one layer's streams live (``True``: DRAM)."""

    in_dram: bool = True
    out_dram: bool = True
    w_dram: bool = True


def weight_storage_bits(net: Network) -> int:
    """Bits every layer's weights take in the weight buffer (float weights as 8 bits)."""
    return sum(x.out_channels * x.in_channels_per_group * x.kernel[0] * x.kernel[1]
               * x.weights.storage_bits for x in net.layers if isinstance(x, Conv2d))


def plan_residency(net: Network, chip: Chip, *, frames: int = 1
                   ) -> tuple[list[Placement], int]:
    """Each layer's :class:`Placement`, in order, and the weight bytes preloaded before the
    first frame (0 when the weights stream from DRAM)."""
    weights = weight_storage_bits(net)
    keep_w = chip.keep_weights and 0 < weights <= chip.weight_buffer.size_bits
    layers = net.layers
    readers: dict[str, int] = {}
    for layer in layers:
        for src in net.inputs_of(layer.name):
            readers[src] = readers.get(src, 0) + 1
    out = [True] * len(layers)
    inp = [True] * len(layers)
    if chip.keep_activations and chip.output_buffer.double_buffered:
        for i in range(1, len(layers)):
            prev, cur = layers[i - 1], layers[i]
            fits = prev.output_bits * frames <= chip.output_buffer.tile_bits
            if (net.inputs_of(cur.name) == (prev.name,) and readers.get(prev.name) == 1
                    and fits):
                out[i - 1] = inp[i] = False
    plans = [Placement(in_dram=inp[i], out_dram=out[i], w_dram=not keep_w)
             for i in range(len(layers))]
    return plans, (-(-weights // 8) if keep_w else 0)
