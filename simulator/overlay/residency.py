"""The network as the overlay runs it: which layers fuse, and where each step's weights,
inputs and outputs live (DRAM, or on chip).

**Fusion** (``ppu.fuse_pool``, ``ppu.fuse_add``, off by default: the chip must say so). A
pooling whose only input is the convolution just before it, and which is that convolution's
only reader, runs in the convolution's post-processing when its windows do not overlap
(kernel = stride, no padding): the convolution stores one value per window. A residual add
of the convolution just before it (its only reader) and a shortcut runs there too: the
post-processing reads the shortcut tile and adds it before the store. The fused layer has no
step of its own; the step is named ``conv+pool`` / ``conv+add``.

The overlay runs one step at a time, so by default every step reads its inputs and weights
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
from workloads.layers import Add, Conv2d, Layer, Pool
from workloads.network import Network

__all__ = ["Placement", "Step", "plan_network", "plan_residency"]


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


@dataclass(frozen=True, slots=True)
class Step:
    """One layer as the overlay runs it, with a pooling or residual add fused into it."""

    layer: Layer
    placement: Placement
    pool: Pool | None = None
    add: Add | None = None

    @property
    def name(self) -> str:
        fused = self.pool or self.add
        return f"{self.layer.name}+{fused.name}" if fused else self.layer.name

    @property
    def last(self) -> Layer:
        """The layer whose output the step produces."""
        return self.pool or self.add or self.layer


def _readers(net: Network) -> dict[str, int]:
    out: dict[str, int] = {}
    for layer in net.layers:
        for src in net.inputs_of(layer.name):
            out[src] = out.get(src, 0) + 1
    return out


def _fuses(net: Network, chip: Chip, layer: Layer, nxt: Layer, readers: dict[str, int]
           ) -> str | None:
    """``pool`` or ``add`` when ``nxt`` fuses into ``layer``'s post-processing."""
    if not isinstance(layer, Conv2d) or readers.get(layer.name) != 1:
        return None
    if (isinstance(nxt, Pool) and chip.fuse_pool and net.inputs_of(nxt.name) == (layer.name,)
            and nxt.mode in ("max", "avg") and nxt.kernel == nxt.stride and nxt.padding == 0):
        return "pool"
    if isinstance(nxt, Add) and chip.fuse_add and layer.name in net.inputs_of(nxt.name):
        return "add"
    return None


def plan_network(net: Network, chip: Chip, *, frames: int = 1) -> tuple[list[Step], int]:
    """The steps the overlay runs, in order, and the weight bytes preloaded before the first
    frame (0 when the weights stream from DRAM)."""
    readers = _readers(net)
    layers = net.layers
    groups: list[tuple[Layer, Pool | None, Add | None]] = []
    i = 0
    while i < len(layers):
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        how = _fuses(net, chip, layers[i], nxt, readers) if nxt is not None else None
        if how == "pool":
            groups.append((layers[i], nxt, None))  # type: ignore[arg-type]
            i += 2
        elif how == "add":
            groups.append((layers[i], None, nxt))  # type: ignore[arg-type]
            i += 2
        else:
            groups.append((layers[i], None, None))
            i += 1
    weights = weight_storage_bits(net)
    keep_w = chip.keep_weights and 0 < weights <= chip.weight_buffer.size_bits
    n = len(groups)
    out, inp = [True] * n, [True] * n
    if chip.keep_activations and chip.output_buffer.double_buffered:
        for j in range(1, n):
            prev = groups[j - 1][1] or groups[j - 1][2] or groups[j - 1][0]
            cur = groups[j][0]
            fits = prev.output_bits * frames <= chip.output_buffer.tile_bits
            if (net.inputs_of(cur.name) == (prev.name,) and readers.get(prev.name) == 1
                    and fits):
                out[j - 1] = inp[j] = False
    # a gated layer's gates (its second input: out_channels 16-bit scales) are written into
    # the post-processing unit's scale registers, not to DRAM
    gates = {net.inputs_of(x.name)[1] for x in layers
             if isinstance(x, Conv2d) and x.gate and len(net.inputs_of(x.name)) == 2}
    for j, (layer, pool, add) in enumerate(groups):
        if layer.name in gates and pool is None and add is None:
            out[j] = False
    steps = [Step(layer, Placement(in_dram=inp[j], out_dram=out[j], w_dram=not keep_w),
                  pool, add) for j, (layer, pool, add) in enumerate(groups)]
    return steps, (-(-weights // 8) if keep_w else 0)


def plan_residency(net: Network, chip: Chip, *, frames: int = 1
                   ) -> tuple[list[Placement], int]:
    """Each step's :class:`Placement`, in order, and the preloaded weight bytes (see
    :func:`plan_network`; without fusion a step is a layer)."""
    steps, preload = plan_network(net, chip, frames=frames)
    return [s.placement for s in steps], preload
