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

from reference.files import ConfigError
from workloads.layers import Add, Conv2d, Layer, Pool, Precision, Shape

__all__ = ["LOGITS", "Network"]

#: Format of the network's final scores (the accumulator output of the last layer).
LOGITS = Precision("int", 16)


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
    def mac_layers(self) -> tuple[Conv2d, ...]:
        return tuple(x for x in self.layers if isinstance(x, Conv2d))

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def weight_bits(self) -> int:
        return sum(layer.weight_bits for layer in self.layers)

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
        reads: dict[str, list[Precision]] = {x.name: [] for x in layers}
        fixed: dict[str, Layer] = {}
        for layer in reversed(layers):  # consumers come after producers
            formats = reads[layer.name]
            out = max(formats, key=lambda p: p.storage_bits) if formats else LOGITS
            if isinstance(layer, Pool):
                layer = dataclasses.replace(layer, activations=out)  # pooling keeps the format
            fixed[layer.name] = dataclasses.replace(layer, output=out)
            for src in inputs.get(layer.name, ()):
                if src in reads:
                    reads[src].append(layer.activations)
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
    elif isinstance(layer, Pool):
        d.update(kernel=layer.kernel, stride=layer.stride, padding=layer.padding, mode=layer.mode)
    elif isinstance(layer, Add):
        d.update(activations=layer.activations.label)
    d["output"] = layer.output.label
    d["macs"] = layer.macs
    d["weight_bits"] = layer.weight_bits
    return d

