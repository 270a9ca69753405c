"""A network workload: an ordered list of layer records and which layer feeds which.

Layers run in list order (the overlay accelerator runs one layer at a time). ``inputs`` maps
each layer to the tensors it reads: ``"input"`` (the image) or earlier layers' names. Output
precisions are derived from the consumers: a layer's output is stored in the widest format any
consumer reads (a binary conv reads only the sign plane of an 8-bit map stored bit-plane-wise).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from workloads.errors import ConfigError
from workloads.formats import BINARY, INT8, LOGITS, NumberFormat
from workloads.layers import Add, Conv2d, Layer, Linear, Pool, Shape
from workloads.memo import per_object
from workloads.quant import (
    LayerQuant,
    NetworkQuantDefaults,
    Position,
    QuantConfig,
    resolve_layer_quant,
)

__all__ = ["GATE", "Network", "NetworkBuilder", "gate_layers", "resolve_quants"]

#: The gates a gated layer reads: 16-bit fixed-point scales, as the post-processing unit's
#: multiplier takes them (``simulator.overlay.energy.SCALE_BITS``).
GATE = NumberFormat("int", 16)


@dataclass(frozen=True, slots=True)
class Network:
    """A workload: layers in execution order plus their input edges.

    ``quant`` names the quantisation it was built with (e.g. ``w1a1``); ``source`` says where
    it came from (zoo name, YAML path or checkpoint path).
    """

    name: str
    input_shape: Shape
    layers: tuple[Layer, ...]
    inputs: tuple[tuple[str, tuple[str, ...]], ...]
    quant: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise ConfigError("duplicate layer name", key=f"layers.{dup}")
        if not self.layers:
            raise ConfigError("a network needs at least one layer", key="layers")
        edges = dict(self.inputs)
        seen = {"input"}
        for layer in self.layers:
            for src in edges.get(layer.name, ()):
                if src not in seen:
                    raise ConfigError(f"reads '{src}', which is not an earlier layer",
                                      key=f"{layer.name}.inputs")
            seen.add(layer.name)

    # ------------------------------------------------------------------ queries
    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def inputs_of(self, name: str) -> tuple[str, ...]:
        return dict(self.inputs).get(name, ())

    @property
    def gate_branches(self) -> frozenset[str]:
        """The layers that compute gated layers' gates (see :func:`gate_layers`): from each
        gated layer's second input back to the map it gates."""
        edges = dict(self.inputs)
        out: set[str] = set()
        for layer in self.layers:
            reads = edges.get(layer.name, ())
            if isinstance(layer, Conv2d) and layer.gate and len(reads) == 2:
                src, node = reads
                while node != src and node not in out and node in edges:
                    out.add(node)
                    node = edges[node][0]
        return frozenset(out)

    @property
    def mac_layers(self) -> tuple[Conv2d, ...]:
        return tuple(x for x in self.layers if isinstance(x, Conv2d))

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def weight_bits(self) -> int:
        return sum(layer.weight_bits for layer in self.layers)

    @per_object
    def digest(self) -> str:
        """A short hash of the layer records, for provenance."""
        payload = json.dumps([_layer_dict(x) for x in self.layers], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "quant": self.quant,
            "source": self.source,
            "layers": [_layer_dict(x) | {"inputs": list(self.inputs_of(x.name))}
                       for x in self.layers],
        }

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        name: str,
        input_shape: Shape,
        layers: Sequence[Layer],
        inputs: Mapping[str, Sequence[str]],
        *,
        quant: str = "",
        source: str = "",
    ) -> Network:
        """Assemble a network and set every layer's ``output`` precision from its consumers."""
        reads: dict[str, list[NumberFormat]] = {x.name: [] for x in layers}
        fixed: dict[str, Layer] = {}
        for layer in reversed(layers):  # consumers come after producers
            formats = reads[layer.name]
            out = max(formats, key=lambda p: p.storage_bits) if formats else LOGITS
            if isinstance(layer, Pool):
                layer = dataclasses.replace(layer, activations=out)  # pooling keeps the format
            fixed[layer.name] = dataclasses.replace(layer, output=out)
            for i, src in enumerate(inputs.get(layer.name, ())):
                if src in reads:  # a gated conv's second input: its gates, as scales
                    gates = i == 1 and isinstance(layer, Conv2d) and layer.gate
                    reads[src].append(GATE if gates else layer.activations)
        ordered = tuple(fixed[x.name] for x in layers)
        return cls(name, input_shape, ordered,
                   tuple((k, tuple(v)) for k, v in inputs.items()), quant, source)


def _layer_dict(layer: Layer) -> dict:
    d: dict = {"name": layer.name, "kind": layer.kind.value, "in_shape": list(layer.in_shape),
               "out_shape": list(layer.out_shape)}
    if isinstance(layer, Conv2d):
        d.update(kernel=list(layer.kernel), stride=layer.stride, padding=layer.padding,
                 groups=layer.groups, weights=layer.weights.label,
                 activations=layer.activations.label)
        if layer.weight_stats is not None:  # a lowered network's trained weights
            d["weight_stats"] = layer.weight_stats.to_dict()
        if layer.gate:  # (absent when 0: an ungated network's digest is unchanged)
            d["gate"] = layer.gate
    elif isinstance(layer, Pool):
        d.update(kernel=layer.kernel, stride=layer.stride, padding=layer.padding, mode=layer.mode)
    elif isinstance(layer, Add):
        d.update(activations=layer.activations.label)
    d["output"] = layer.output.label
    d["macs"] = layer.macs
    d["weight_bits"] = layer.weight_bits
    return d



def resolve_quants(mac_names: Sequence[str], quant: QuantConfig,
                   defaults: NetworkQuantDefaults | None, *, network: str
                   ) -> dict[str, LayerQuant]:
    """The quantisation of every MAC layer (in execution order) of a network: ``quant``
    over the network's paper ``defaults`` (see :func:`~workloads.quant.resolve_layer_quant`).
    An override naming a layer the network lacks is a :class:`ConfigError`."""
    if not mac_names:
        raise ConfigError("a network needs at least one conv or fc layer", key="layers")
    quant.check_layer_names(set(mac_names), network=network)
    first, last = mac_names[0], mac_names[-1]
    out = {}
    for name in mac_names:
        pos: Position = "first" if name == first else "last" if name == last else "body"
        out[name] = resolve_layer_quant(quant, defaults, name, pos)
    return out


class NetworkBuilder:
    """Builds a :class:`Network` layer by layer, tracking the current tensor and its shape.

    MAC layers get their number formats at :meth:`build` from the quantisation config, once
    the first and last MAC layers are known.
    """

    def __init__(self, name: str, input_shape: Shape) -> None:
        self.name = name
        self.input_shape = input_shape
        self.layers: list[Layer] = []
        self.inputs: dict[str, tuple[str, ...]] = {}
        self.current = "input"
        self.shape: Shape = input_shape

    def _add(self, layer: Layer, inputs: tuple[str, ...]) -> str:
        self.layers.append(layer)
        self.inputs[layer.name] = inputs
        self.current = layer.name
        self.shape = layer.out_shape
        return layer.name

    def conv(self, name: str, out_channels: int, kernel: int, *, stride: int = 1,
             padding: int = 0, groups: int = 1, src: str | None = None,
             shape: Shape | None = None) -> str:
        src = src or self.current
        in_shape = shape or self.shape
        return self._add(Conv2d(name, in_shape, out_channels, (kernel, kernel), stride, padding,
                                groups, BINARY, BINARY), (src,))

    def fc(self, name: str, out_features: int) -> str:
        c, h, w = self.shape
        return self._add(Linear(name, c * h * w, out_features), (self.current,))

    def pool(self, name: str, kernel: int, stride: int | None = None, *, padding: int = 0,
             mode: str = "max", src: str | None = None, shape: Shape | None = None) -> str:
        src = src or self.current
        layer = Pool(name, shape or self.shape, kernel, stride or kernel, padding,
                     mode)  # type: ignore[arg-type]
        return self._add(layer, (src,))

    def add(self, name: str, a: str, b: str) -> str:
        return self._add(Add(name, self.shape), (a, b))

    @property
    def mac_names(self) -> list[str]:
        return [x.name for x in self.layers if isinstance(x, Conv2d)]

    def build(self, quant: QuantConfig, *, defaults: NetworkQuantDefaults | None = None,
              source: str = "") -> Network:
        """The network with every MAC layer's formats resolved from ``quant`` over the paper
        ``defaults`` (``None`` for a network without any)."""
        quants = resolve_quants(self.mac_names, quant, defaults, network=self.name)
        layers: list[Layer] = []
        inputs = dict(self.inputs)
        for layer in self.layers:
            if isinstance(layer, Conv2d):
                lq = quants[layer.name]
                layer = dataclasses.replace(layer, weights=lq.weights.format,
                                            activations=lq.activations.format, gate=lq.gate)
                if lq.gate:
                    src = inputs[layer.name][0]
                    shape = self.input_shape if src == "input" else next(
                        x.out_shape for x in layers if x.name == src)
                    branch = gate_layers(layer, src, shape)
                    for g, src in branch:
                        layers.append(g)
                        inputs[g.name] = (src,)
                    inputs[layer.name] = (inputs[layer.name][0], branch[-1][0].name)
            layers.append(layer)
        return Network.build(self.name, self.input_shape, layers, inputs,
                             quant=quant.name, source=source or f"zoo:{self.name}")


def gate_layers(layer: Conv2d, src: str, shape: Shape) -> list[tuple[Layer, str]]:
    """The layers that compute a gated layer's gates (Real-to-Binary, Martinez et al. 2020),
    each with the tensor it reads: a global average per channel of the real-valued input map
    ``src`` of ``shape`` (skipped when the map is a vector), an 8-bit FC to ``C // r`` (at
    least 1) and an 8-bit FC to the layer's output channels. The ReLU between them and the
    sigmoid after are the post-processing unit's (a compare and a lookup per value); the gate
    multiplies each output in the gated layer's post-processing. The average reads the input
    as 8-bit values: the real map the gate needs, which a binary network's previous layer
    then stores at 8 bits."""
    c = shape[0]
    hidden = max(1, c // layer.gate)
    out: list[tuple[Layer, str]] = []
    if shape[1:] != (1, 1):
        pool = Pool(f"{layer.name}.gate_pool", shape, 1, 1, 0, "global_avg")
        out.append((pool, src))
        src = pool.name
    fc1 = Linear(f"{layer.name}.gate_fc1", c, hidden, weights=INT8, activations=INT8)
    fc2 = Linear(f"{layer.name}.gate_fc2", hidden, layer.out_channels, weights=INT8,
                 activations=INT8)
    return [*out, (fc1, src), (fc2, fc1.name)]
