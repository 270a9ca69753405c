"""The network zoo: one description per network, with its paper's quantisation.

Each :class:`ZooNetwork` is the single source of a network's shape: its layers (a builder
function), its input, classes and datasets, and its paper's quantisation. The simulator reads
the :class:`~workloads.network.Network` it builds; the torch reference (``reference.models``)
builds its model from the very same description, so the two cannot drift apart. MAC counts are
checked in the tests against hand-computed figures (FINN, Courbariaux et al., Krizhevsky et
al., He et al.).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from workloads.errors import ConfigError
from workloads.network import Network, NetworkBuilder, resolve_quants
from workloads.quant import (
    DefaultSpec,
    LayerQuant,
    NetworkQuantDefaults,
    QuantConfig,
    layer_spec,
    parse_quant,
)

__all__ = ["ZOO", "ZooNetwork", "get_network", "zoo_names", "zoo_network"]

#: Adds a network's layers to a builder; the int is the number of classes.
LayerRecipe = Callable[[NetworkBuilder, int], None]


@dataclass(frozen=True, slots=True)
class ZooNetwork:
    """One zoo network.

    ``signed_inputs`` names the MAC layers that read a signed, unbounded residual stream as is
    (no activation function in front of their input quantiser: Bi-Real's shortcut convs and
    classifier). ``dropout`` is the paper's dropout on every MAC layer's quantised input.
    """

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    datasets: tuple[str, ...]
    dropout: float
    paper: str
    quant: NetworkQuantDefaults
    recipe: LayerRecipe
    signed_inputs: frozenset[str] = frozenset()

    def builder(self, *, num_classes: int | None = None, in_channels: int | None = None
                ) -> NetworkBuilder:
        """A builder holding the layers (formats not yet resolved)."""
        classes = self.num_classes if num_classes is None else num_classes
        cin = self.input_shape[0] if in_channels is None else in_channels
        for key, value in (("num_classes", classes), ("in_channels", cin)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError("must be a positive integer", key=key, value=value,
                                  has_value=True)
        b = NetworkBuilder(self.name, (cin, self.input_shape[1], self.input_shape[2]))
        self.recipe(b, classes)
        return b

    def quant_config(self, quant: str | Path | QuantConfig | None = None) -> QuantConfig:
        """``quant`` parsed, or the paper's config when it is ``None``."""
        return self.quant.config() if quant is None else parse_quant(quant)

    def network(self, quant: str | Path | QuantConfig | None = None, *,
                num_classes: int | None = None, in_channels: int | None = None) -> Network:
        """The workload with ``quant`` (default: the paper's) over the paper's defaults."""
        return self.builder(num_classes=num_classes, in_channels=in_channels).build(
            self.quant_config(quant), defaults=self.quant, source=f"zoo:{self.name}")

    def layer_quants(self, quant: str | Path | QuantConfig | None = None
                     ) -> dict[str, LayerQuant]:
        """Every MAC layer's quantisation, quantisers included (what training needs)."""
        return resolve_quants(self.builder().mac_names, self.quant_config(quant), self.quant,
                              network=self.name)


# --------------------------------------------------------------------------- recipes
def _mlp(hidden: int) -> LayerRecipe:
    def recipe(b: NetworkBuilder, classes: int) -> None:
        for i in range(1, 4):
            b.fc(f"fc{i}", hidden)
        b.fc("fc4", classes)
    return recipe


def _cnv(b: NetworkBuilder, classes: int) -> None:
    """FINN CNV: 3×3 valid convs 64-64-P-128-128-P-256-256, fc 512-512-classes."""
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
    b.fc("fc3", classes)


def _mnist_cnv(b: NetworkBuilder, classes: int) -> None:
    """A small binary conv net for 28×28 digits: 3×3 'same' convs 32-32-P-64-64-P, fc
    256-classes (the functional model's conv test case: zero padding, pools, a flatten)."""
    b.conv("conv1", 32, 3, padding=1)
    b.conv("conv2", 32, 3, padding=1)
    b.pool("pool1", 2)
    b.conv("conv3", 64, 3, padding=1)
    b.conv("conv4", 64, 3, padding=1)
    b.pool("pool2", 2)
    b.fc("fc1", 256)
    b.fc("fc2", classes)


def _vgg_body(b: NetworkBuilder) -> None:
    """3×3 'same' convs 128-128-P-256-256-P-512-512-P (BNN CIFAR-10 / VGG-small)."""
    for i, (ch, pool) in enumerate(((128, False), (128, True), (256, False), (256, True),
                                    (512, False), (512, True)), start=1):
        b.conv(f"conv{i}", ch, 3, padding=1)
        if pool:
            b.pool(f"pool{i // 2}", 2)


def _bnn_cifar10(b: NetworkBuilder, classes: int) -> None:
    """Courbariaux et al. 2016: VGG body, fc 1024-1024-classes (616,966,144 MACs)."""
    _vgg_body(b)
    b.fc("fc1", 1024)
    b.fc("fc2", 1024)
    b.fc("fc3", classes)


def _vgg_small(b: NetworkBuilder, classes: int) -> None:
    """HWGQ / LQ-Nets VGG-Small: the same body and a single fc to the classes."""
    _vgg_body(b)
    b.fc("fc", classes)


def _alexnet(b: NetworkBuilder, classes: int) -> None:
    """Krizhevsky et al. 2012 with its two-group convs; 227×227 input (724,406,816 MACs)."""
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
    b.fc("fc8", classes)


def _resnet18(b: NetworkBuilder, classes: int) -> None:
    """ResNet-18 (ImageNet) with Bi-Real shortcuts: a real-valued add around every 3×3 conv;
    downsampling shortcut = 2×2 avg-pool + 1×1 conv (1,814,073,344 MACs)."""
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
    b.fc("fc", classes)


# --------------------------------------------------------------------------- paper defaults
#: FINN (Umuroglu et al. 2017) and BNN (Courbariaux et al. 2016): every weight binary, 8-bit
#: input pixels into the first layer.
_FINN = NetworkQuantDefaults("w1a1", first="w*a8")
#: Bi-Real's real-valued edges read the signed, unbounded residual stream (the downsampling
#: shortcut convs and the classifier): 8-bit weights and *signed* 8-bit inputs (``uniform``,
#: scaled per sample), never DoReFa's [0, 1] clip.
_RESNET18_SIGNED_EDGE = layer_spec("uniform", "int", 8)
_RESNET18_DOWNSAMPLE: tuple[tuple[str, DefaultSpec], ...] = tuple(
    (f"layer{i}.0.downsample.conv", _RESNET18_SIGNED_EDGE) for i in (2, 3, 4))

_ENTRIES = (
    ZooNetwork("sfc", (1, 28, 28), 10, ("mnist", "fashion-mnist"), 0.2,
               "FINN SFC (Umuroglu et al. 2017), Brevitas bnn_pynq dropout", _FINN, _mlp(256)),
    ZooNetwork("lfc", (1, 28, 28), 10, ("mnist", "fashion-mnist"), 0.2,
               "FINN LFC (Umuroglu et al. 2017), Brevitas bnn_pynq dropout", _FINN,
               _mlp(1024)),
    ZooNetwork("mnist-cnv", (1, 28, 28), 10, ("mnist", "fashion-mnist"), 0.0,
               "a small binary conv net for MNIST (bnnsim's own; the FINN quantisation)", _FINN,
               _mnist_cnv),
    ZooNetwork("cnv", (3, 32, 32), 10, ("cifar10",), 0.0, "FINN CNV (Umuroglu et al. 2017)",
               _FINN, _cnv),
    ZooNetwork("bnn-cifar10", (3, 32, 32), 10, ("cifar10",), 0.0,
               "BNN ConvNet (Courbariaux, Hubara et al. 2016)", _FINN, _bnn_cifar10),
    # HWGQ (Cai et al. 2017): binary weights scaled by their mean magnitude per filter (as
    # XNOR-Net's α), 2-bit half-wave Gaussian activations, first/last 8-bit.
    ZooNetwork("vgg-small", (3, 32, 32), 10, ("cifar10",), 0.0,
               "VGG-Small (Cai et al. HWGQ 2017; Zhang et al. LQ-Nets 2018)",
               NetworkQuantDefaults(layer_spec("hwgq", "int", 2, weights="xnor_weight",
                                               weight_kind="binary", weight_bits=1),
                                    first="w8a8", last="w8a8"), _vgg_small),
    # XNOR-Net AlexNet (Rastegari et al. 2016): α-scaled binary weights, K-scaled binary
    # activations; first and last layers 8-bit.
    ZooNetwork("alexnet", (3, 227, 227), 1000, (), 0.0,
               "AlexNet with grouped convs (Krizhevsky et al. 2012; XNOR-Net)",
               NetworkQuantDefaults(layer_spec("xnor_act", "binary", 1, weights="xnor_weight",
                                               weight_kind="binary", weight_bits=1),
                                    first="w8a8", last="w8a8"), _alexnet),
    # Bi-Real ResNet-18 (Liu et al. 2018): sign weights (its magnitude-aware weight scaling is
    # not implemented), ApproxSign activations; first conv 8-bit on the pixels, last layer and
    # downsampling convs 8-bit with signed inputs.
    ZooNetwork("resnet18", (3, 224, 224), 1000, (), 0.0, "Bi-Real ResNet-18 (Liu et al. 2018)",
               NetworkQuantDefaults(layer_spec("approx_sign", "binary", 1, weights="sign",
                                               weight_kind="binary", weight_bits=1),
                                    first="w8a8", last=_RESNET18_SIGNED_EDGE,
                                    layers=_RESNET18_DOWNSAMPLE),
               _resnet18,
               signed_inputs=frozenset({"fc", *(name for name, _ in _RESNET18_DOWNSAMPLE)})),
)

#: The zoo by name (read-only).
ZOO: Mapping[str, ZooNetwork] = MappingProxyType({x.name: x for x in _ENTRIES})


def zoo_names() -> list[str]:
    return list(ZOO)


def zoo_network(name: str) -> ZooNetwork:
    """The zoo entry ``name`` (case-insensitive); an unknown name is a :class:`ConfigError`
    listing the zoo."""
    try:
        return ZOO[str(name).lower()]
    except KeyError:
        raise ConfigError(f"unknown network; zoo networks: {', '.join(ZOO)}", key="network",
                          value=name, has_value=True) from None


def get_network(name: str, quant: str | Path | QuantConfig | None = None) -> Network:
    """A zoo network with its paper's quantisation, or with ``quant`` (spec string, YAML path or
    :class:`QuantConfig`) for the body and any overrides."""
    if str(name).lower() not in ZOO:
        raise ConfigError(f"unknown network; zoo networks: {', '.join(ZOO)} "
                          "(or a checkpoint .pt / network .yaml path)", key="--network",
                          value=name, has_value=True)
    return zoo_network(name).network(quant)
