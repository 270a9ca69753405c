"""The built-in network zoo as pure shape specs (no torch).

Names, layer names and shapes match ``reference.models`` so a trained checkpoint lowers onto
the same records. Each network's default quantisation follows its paper
(``reference.qconfig.NETWORK_DEFAULTS``). MAC counts are checked in the tests against
hand-computed figures (FINN, Courbariaux et al., Krizhevsky et al., He et al.).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from reference.files import ConfigError
from reference.qconfig import (
    Position,
    QuantConfig,
    default_quant,
    parse_quant,
    resolve_layer_quant,
)
from workloads.layers import Add, Conv2d, Layer, Linear, Pool, Precision, Shape
from workloads.network import Network

__all__ = ["ZOO", "NetworkBuilder", "get_network", "zoo_names"]

_PLACEHOLDER = Precision("binary", 1)


class NetworkBuilder:
    """Builds a :class:`Network` layer by layer, tracking the current tensor and its shape.

    MAC layers get their precision at :meth:`build` from the quantisation config, once the
    first and last MAC layers are known.
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
                                groups, _PLACEHOLDER, _PLACEHOLDER), (src,))

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

    def build(self, quant: QuantConfig, *, source: str = "") -> Network:
        macs = [x for x in self.layers if isinstance(x, Conv2d)]
        if not macs:
            raise ConfigError("a network needs at least one conv or fc layer", key="layers")
        quant.check_layer_names({x.name for x in macs}, network=self.name)
        first, last = macs[0].name, macs[-1].name
        layers: list[Layer] = []
        for layer in self.layers:
            if isinstance(layer, Conv2d):
                pos: Position = ("first" if layer.name == first
                                 else "last" if layer.name == last else "body")
                lq = resolve_layer_quant(quant, self.name, layer.name, pos)
                layer = dataclasses.replace(layer, weights=Precision.from_quant(lq.weights),
                                            activations=Precision.from_quant(lq.activations))
            layers.append(layer)
        return Network.build(self.name, self.input_shape, layers, self.inputs,
                             quant=quant.name, source=source or f"zoo:{self.name}")


def _mlp(name: str, hidden: int) -> Callable[[], NetworkBuilder]:
    def make() -> NetworkBuilder:
        b = NetworkBuilder(name, (1, 28, 28))
        for i in range(1, 4):
            b.fc(f"fc{i}", hidden)
        b.fc("fc4", 10)
        return b

    return make


def _cnv() -> NetworkBuilder:
    """FINN CNV: 3×3 valid convs 64-64-P-128-128-P-256-256, fc 512-512-10."""
    b = NetworkBuilder("cnv", (3, 32, 32))
    b.conv("conv1", 64, 3)
    b.conv("conv2", 64, 3)
    b.pool("pool1", 2)
    b.conv("conv3", 128, 3)
    b.conv("conv4", 128, 3)
    b.pool("pool2", 2)
    b.conv("conv5", 256, 3)
    b.conv("conv6", 256, 3)
    b.fc("fc1", 512)
    b.fc("fc2", 512)
    b.fc("fc3", 10)
    return b


def _vgg_body(b: NetworkBuilder) -> None:
    """3×3 'same' convs 128-128-P-256-256-P-512-512-P (BNN CIFAR-10 / VGG-small)."""
    for i, (ch, pool) in enumerate(((128, False), (128, True), (256, False), (256, True),
                                    (512, False), (512, True)), start=1):
        b.conv(f"conv{i}", ch, 3, padding=1)
        if pool:
            b.pool(f"pool{i // 2}", 2)


def _bnn_cifar10() -> NetworkBuilder:
    """Courbariaux et al. 2016: VGG body, fc 1024-1024-10 (616,966,144 MACs)."""
    b = NetworkBuilder("bnn-cifar10", (3, 32, 32))
    _vgg_body(b)
    b.fc("fc1", 1024)
    b.fc("fc2", 1024)
    b.fc("fc3", 10)
    return b


def _vgg_small() -> NetworkBuilder:
    """HWGQ / LQ-Nets VGG-Small: the same body and a single fc to 10 classes."""
    b = NetworkBuilder("vgg-small", (3, 32, 32))
    _vgg_body(b)
    b.fc("fc", 10)
    return b


def _alexnet() -> NetworkBuilder:
    """Krizhevsky et al. 2012 with its two-group convs; 227×227 input (724,406,816 MACs)."""
    b = NetworkBuilder("alexnet", (3, 227, 227))
    b.conv("conv1", 96, 11, stride=4)
    b.pool("pool1", 3, 2)
    b.conv("conv2", 256, 5, padding=2, groups=2)
    b.pool("pool2", 3, 2)
    b.conv("conv3", 384, 3, padding=1)
    b.conv("conv4", 384, 3, padding=1, groups=2)
    b.conv("conv5", 256, 3, padding=1, groups=2)
    b.pool("pool3", 3, 2)
    b.fc("fc6", 4096)
    b.fc("fc7", 4096)
    b.fc("fc8", 1000)
    return b


def _resnet18() -> NetworkBuilder:
    """ResNet-18 (ImageNet) with Bi-Real shortcuts: a real-valued add around every 3×3 conv;
    downsampling shortcut = 2×2 avg-pool + 1×1 conv (1,814,073,344 MACs)."""
    b = NetworkBuilder("resnet18", (3, 224, 224))
    b.conv("conv1", 64, 7, stride=2, padding=3)
    x = b.pool("pool1", 3, 2, padding=1)
    channels = 64
    for stage, width in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            p = f"layer{stage}.{block}"
            stride = 2 if stage > 1 and block == 0 else 1
            in_shape = b.shape
            if stride == 2 or width != channels:
                b.pool(f"{p}.downsample.pool", 2, 2, mode="avg", src=x, shape=in_shape)
                shortcut = b.conv(f"{p}.downsample.conv", width, 1)
            else:
                shortcut = x
            b.conv(f"{p}.conv1", width, 3, stride=stride, padding=1, src=x, shape=in_shape)
            x = b.add(f"{p}.add1", b.current, shortcut)
            b.conv(f"{p}.conv2", width, 3, padding=1)
            x = b.add(f"{p}.add2", b.current, x)
            channels = width
    b.pool("avgpool", 1, 1, mode="global_avg")
    b.fc("fc", 1000)
    return b


ZOO: dict[str, Callable[[], NetworkBuilder]] = {
    "sfc": _mlp("sfc", 256),
    "lfc": _mlp("lfc", 1024),
    "cnv": _cnv,
    "bnn-cifar10": _bnn_cifar10,
    "vgg-small": _vgg_small,
    "alexnet": _alexnet,
    "resnet18": _resnet18,
}


def zoo_names() -> list[str]:
    return list(ZOO)


def get_network(name: str, quant: str | Path | QuantConfig | None = None) -> Network:
    """A zoo network with its paper's quantisation, or with ``quant`` (spec string, YAML path or
    :class:`QuantConfig`) for the body and any overrides."""
    key = name.lower()
    if key not in ZOO:
        raise ConfigError(f"unknown network; zoo networks: {', '.join(ZOO)} "
                          "(or a checkpoint .pt / network .yaml path)", key="--network",
                          value=name, has_value=True)
    config = default_quant(key) if quant is None else parse_quant(quant)
    return ZOO[key]().build(config)
