"""Networks from files: a YAML layer list (a trained checkpoint is lowered by
``reference.lowering``, which owns torch).

YAML format (every key checked; unknown keys rejected)::

    name: tiny
    input: [3, 32, 32]            # channels, height, width
    quant: w1a1                   # optional body default (overridden by --quant)
    layers:
      - {name: conv1, type: conv, out_channels: 64, kernel: 3, padding: 1, quant: w1a8}
      - {name: pool1, type: maxpool, kernel: 2}
      - {name: conv2, type: conv, out_channels: 64, kernel: 3, padding: 1}
      - {name: res1, type: add, inputs: [conv2, pool1]}
      - {name: fc1, type: fc, out_features: 10}

``type`` is conv, fc, maxpool, avgpool, global_avgpool or add; a layer reads the previous one
unless ``inputs`` names others. A per-layer ``quant`` fixes that layer's format.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workloads.errors import ConfigError
from workloads.files import check_keys, is_printable_name, load_yaml
from workloads.layers import LIMITS
from workloads.network import Network, NetworkBuilder
from workloads.quant import QuantConfig, parse_layer_quant, parse_quant
from workloads.zoo import ZOO, get_network

__all__ = ["CHECKPOINT_SUFFIXES", "is_checkpoint_path", "is_lowered_path", "load_network",
           "network_from_yaml"]

#: File name endings of trained checkpoints (``bnnsim train --out``).
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")

_LAYER_KEYS = {
    "conv": ("out_channels", "kernel", "stride", "padding", "groups"),
    "fc": ("out_features",),
    "maxpool": ("kernel", "stride", "padding"),
    "avgpool": ("kernel", "stride", "padding"),
    "global_avgpool": (),
    "add": (),
}


_MAXIMUM = {"out_channels": LIMITS["channels"], "out_features": LIMITS["channels"],
            "groups": LIMITS["channels"], "kernel": LIMITS["kernel"],
            "stride": LIMITS["stride"], "padding": LIMITS["padding"]}


def _name(value: Any, *, file: str, key: str) -> str:
    """A name: a non-empty single-line string of at most 200 characters (or a number)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if (not isinstance(value, str) or not value.strip() or len(value) > 200
            or not is_printable_name(value)):
        raise ConfigError("must be a name: 1 to 200 printable characters on one line",
                          file=file, key=key, value=value, has_value=True)
    return value


def _int(layer: Mapping[str, Any], key: str, *, file: str, where: str, default: int | None = None,
         minimum: int = 1) -> int:
    value = layer.get(key, default)
    if value is None:
        raise ConfigError("missing required key", file=file, key=f"{where}.{key}")
    high = _MAXIMUM[key]
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= high:
        raise ConfigError(f"must be an integer in [{minimum}, {high:,}]", file=file,
                          key=f"{where}.{key}", value=value, has_value=True)
    return value


def network_from_yaml(path: str | Path, quant: str | Path | QuantConfig | None = None
                      ) -> Network:
    file = str(path)
    data = load_yaml(path)
    if not isinstance(data, Mapping):
        raise ConfigError("a network file must be a mapping", file=file)
    check_keys(data, allowed=("name", "input", "quant", "layers"),
               required=("name", "input", "layers"), file=file)
    shape = data["input"]
    highs = (LIMITS["channels"], LIMITS["size"], LIMITS["size"])
    if (not isinstance(shape, list) or len(shape) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= high
                       for v, high in zip(shape, highs, strict=True))):
        raise ConfigError(f"expected [channels, height, width]: integers in [1, "
                          f"{LIMITS['channels']:,}], [1, {LIMITS['size']:,}], "
                          f"[1, {LIMITS['size']:,}]", file=file, key="input", value=shape,
                          has_value=True)
    layers = data["layers"]
    if not isinstance(layers, list) or not layers:
        raise ConfigError("expected a non-empty list of layers", file=file, key="layers")
    b = NetworkBuilder(_name(data["name"], file=file, key="name"), (shape[0], shape[1], shape[2]))
    fixed: dict[str, Any] = {}
    shapes: dict[str, tuple[int, int, int]] = {"input": b.input_shape}
    for i, layer in enumerate(layers):
        where = f"layers[{i}]"
        if not isinstance(layer, Mapping):
            raise ConfigError("each layer must be a mapping", file=file, key=where)
        kind = layer.get("type")
        if not isinstance(kind, str) or kind not in _LAYER_KEYS:
            raise ConfigError(f"unknown layer type; allowed: {', '.join(_LAYER_KEYS)}",
                              file=file, key=f"{where}.type", value=kind, has_value=True)
        quantised = ("quant",) if kind in ("conv", "fc") else ()
        check_keys(layer, allowed=("name", "type", "inputs", *quantised, *_LAYER_KEYS[kind]),
                   required=("name", "type"), file=file, prefix=f"{where}.")
        name = _name(layer["name"], file=file, key=f"{where}.name")
        where = f"layers.{name}"
        inputs = layer.get("inputs", [b.current])
        if (not isinstance(inputs, list) or not inputs
                or any(not isinstance(x, str) or x not in shapes for x in inputs)):
            raise ConfigError(f"inputs must name earlier layers or 'input'; known: "
                              f"{', '.join(shapes)}", file=file, key=f"{where}.inputs",
                              value=inputs, has_value=True)
        if kind != "add" and len(inputs) != 1:
            raise ConfigError("this layer type reads exactly one input", file=file,
                              key=f"{where}.inputs", value=inputs, has_value=True)
        src = inputs[0]
        try:
            if kind == "conv":
                b.conv(name, _int(layer, "out_channels", file=file, where=where),
                       _int(layer, "kernel", file=file, where=where),
                       stride=_int(layer, "stride", file=file, where=where, default=1),
                       padding=_int(layer, "padding", file=file, where=where, default=0,
                                    minimum=0),
                       groups=_int(layer, "groups", file=file, where=where, default=1),
                       src=src, shape=shapes[src])
            elif kind == "fc":
                b.current, b.shape = src, shapes[src]
                b.fc(name, _int(layer, "out_features", file=file, where=where))
            elif kind == "global_avgpool":
                b.pool(name, 1, 1, mode="global_avg", src=src, shape=shapes[src])
            elif kind == "add":
                if len(inputs) != 2 or shapes[inputs[0]] != shapes[inputs[1]]:
                    raise ConfigError("an add reads two maps of equal shape", file=file,
                                      key=f"{where}.inputs", value=inputs, has_value=True)
                b.shape = shapes[src]
                b.add(name, inputs[0], inputs[1])
            else:
                k = _int(layer, "kernel", file=file, where=where)
                b.pool(name, k, _int(layer, "stride", file=file, where=where, default=k),
                       padding=_int(layer, "padding", file=file, where=where, default=0,
                                    minimum=0),
                       mode="max" if kind == "maxpool" else "avg", src=src, shape=shapes[src])
        except ConfigError as err:
            if err.file:
                raise
            raise ConfigError(err.message, file=file, key=err.key or where, value=err.value,
                              has_value=err.value is not None) from None
        if name in shapes:
            raise ConfigError("duplicate layer name", file=file, key=where)
        shapes[name] = b.shape
        if "quant" in layer:
            fixed[name] = parse_layer_quant(layer["quant"], source=file, key=f"{where}.quant")
    if quant is not None:
        body = parse_quant(quant)
    else:
        body = QuantConfig(parse_layer_quant(data.get("quant", "w1a1"), source=file, key="quant"),
                           source=file)
    merged = QuantConfig(body.default, body.first, body.last,
                         tuple(fixed.items()) + tuple(x for x in body.layers if x[0] not in fixed),
                         body.source)
    try:
        return b.build(merged, source=file)
    except ConfigError as err:
        if err.file:
            raise
        raise ConfigError(err.message, file=file, key=err.key, value=err.value,
                          has_value=err.value is not None) from None


def is_checkpoint_path(spec: str | Path) -> bool:
    """Whether ``--network`` names a trained checkpoint (lowered by ``reference.lowering``)."""
    return str(spec).endswith(CHECKPOINT_SUFFIXES)


def is_lowered_path(spec: str | Path) -> bool:
    """Whether ``--network`` names a lowered network (``bnnsim lower``'s ``.npz``)."""
    return str(spec).lower().endswith(".npz")


def load_network(spec: str | Path, quant: str | Path | QuantConfig | None = None) -> Network:
    """``--network``: a zoo name, a network YAML file or a lowered network (``.npz``, from
    ``bnnsim lower``; a checkpoint is lowered by ``reference.lowering.network_from_checkpoint``;
    see :func:`is_checkpoint_path`)."""
    text = str(spec)
    if text.lower() in ZOO:
        return get_network(text, quant)
    path = Path(text)
    if is_checkpoint_path(text):
        raise ValueError(f"{text!r} is a checkpoint: lower it with "
                         "reference.lowering.network_from_checkpoint")
    if is_lowered_path(text):  # a lowered network (bnnsim lower): its shapes
        from workloads.lowered import load_lowered

        if quant is not None:
            raise ConfigError("a lowered network carries its own quantisation; drop --quant",
                              key="--quant", value=str(quant), has_value=True)
        return load_lowered(path).with_weight_stats()
    if text.endswith((".yaml", ".yml")) or path.exists():
        return network_from_yaml(path, quant)
    return get_network(text, quant)  # raises with the list of zoo names
