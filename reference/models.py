"""The model zoo: quantised torch versions of the simulator's workload networks.

Layer names are the contract with ``workloads.zoo``: every multiply-accumulate layer is a
:class:`~reference.layers.QConv2d` / :class:`~reference.layers.QLinear` whose state-dict key is
``<layer>.weight``, followed by a batch-norm named ``<layer>_bn`` (so BN folding needs no
table). Pools are ``pool1``, ``pool2``…; the ResNet's blocks are ``layerL.B`` with ``conv1`` and
``conv2`` and a ``downsample`` (``pool`` → ``conv`` → ``conv_bn``) where the shape changes.

Nonlinearity: the sign (or the clipping of DoReFa / HWGQ, or ABC's bases) in each layer's input
quantiser is the network's activation function. Where that quantiser is linear — ``identity``
(full precision) or the signed ``uniform`` — the layer gets a ReLU before it (not the first
layer, whose inputs are pixels), so a full-precision baseline is not a linear model. The
exception is the ResNet's real-valued edges, the downsampling shortcut convs and the
classifier: they read the signed, unbounded residual stream, so they never get a ReLU (and
their paper default is the signed ``uniform`` 8-bit quantiser, not DoReFa's [0, 1] clip).
The 3×3 convs keep the rule: a ReLU inside a branch (pre-activation style) leaves the stream
itself signed.

Inputs are pixels scaled to [0, 1]. When the first layer's input quantiser is binary the model
first maps them to [−1, 1] (``2x − 1``, as Brevitas' bnn_pynq does), so that the sign means
something; ``model.input_transform`` records which.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from reference.files import ConfigError
from reference.layers import QConv2d, QLinear, make_qlayer
from reference.qconfig import (
    LayerQuant,
    Position,
    QuantConfig,
    default_quant,
    parse_quant,
    resolve_layer_quant,
)

__all__ = [
    "LINEAR_INPUT_QUANTIZERS",
    "MODELS",
    "BiRealResNet18",
    "ModelInfo",
    "ModelSummary",
    "QuantNet",
    "SequentialNet",
    "build_model",
    "iter_bn_pairs",
    "mac_layers",
    "model_info",
    "summary",
]

InputTransform = Literal["unit", "centered"]


@dataclass(frozen=True, slots=True)
class _Conv:
    name: str
    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    groups: int = 1


@dataclass(frozen=True, slots=True)
class _FC:
    name: str
    in_features: int
    out_features: int


@dataclass(frozen=True, slots=True)
class _MaxPool:
    name: str
    kernel_size: int
    stride: int
    padding: int = 0


_Step = _Conv | _FC | _MaxPool


class QuantNet(nn.Module):
    """Base class of the zoo models: the network's name, quantisation and input contract."""

    network: str
    quant: QuantConfig
    input_shape: tuple[int, int, int]
    num_classes: int
    input_transform: InputTransform

    def _init_meta(
        self, *, network: str, quant: QuantConfig, input_shape: tuple[int, int, int],
        num_classes: int,
    ) -> None:
        self.network = network
        self.quant = quant
        self.input_shape = input_shape
        self.num_classes = num_classes
        self.input_transform = "unit"

    def _finish(self) -> None:
        """Called once the layers exist: decide the input transform from the first layer."""
        first = next(iter(mac_layers(self).values()))
        self.input_transform = "centered" if first.input_kind == "binary" else "unit"

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """Map [0, 1] pixels to what the first layer expects (see ``input_transform``)."""
        return 2.0 * x - 1.0 if self.input_transform == "centered" else x

    def mac_layer_names(self) -> list[str]:
        """Names of the multiply-accumulate layers (see :func:`mac_layers` for the order)."""
        return list(mac_layers(self))


def mac_layers(model: nn.Module) -> dict[str, QConv2d | QLinear]:
    """The quantised conv / FC layers of a model by name, in registration order.

    That is execution order, except that a ResNet block lists its downsampling conv after
    ``conv2`` (it runs in parallel with ``conv1``).
    """
    return {n: m for n, m in model.named_modules() if isinstance(m, QConv2d | QLinear)}


def _position(index: int, count: int) -> Position:
    return "first" if index == 0 else "last" if index == count - 1 else "body"


#: Input quantisers that are linear (no activation function of their own).
LINEAR_INPUT_QUANTIZERS = frozenset({"identity", "uniform"})


def _quant_layer(
    quant: QuantConfig, network: str, name: str, position: Position, step: _Conv | _FC,
    *, input_dropout: float, signed_input: bool = False,
) -> QConv2d | QLinear:
    """The quantised layer ``name``; ``signed_input`` marks a layer whose input must keep its
    sign (ResNet's shortcut convs and classifier reading the residual stream): no ReLU."""
    lq: LayerQuant = resolve_layer_quant(quant, network, name, position)
    relu = (not signed_input and position != "first"
            and lq.activations.quantizer in LINEAR_INPUT_QUANTIZERS)
    if isinstance(step, _Conv):
        return make_qlayer(lq, in_features=step.in_channels, out_features=step.out_channels,
                           kernel_size=step.kernel_size, stride=step.stride,
                           padding=step.padding, groups=step.groups, input_relu=relu,
                           input_dropout=input_dropout)
    return make_qlayer(lq, in_features=step.in_features, out_features=step.out_features,
                       input_relu=relu, input_dropout=input_dropout)


class SequentialNet(QuantNet):
    """A plain network: conv / FC layers each followed by batch-norm, with max-pools between."""

    def __init__(
        self, *, network: str, steps: list[_Step], quant: QuantConfig,
        input_shape: tuple[int, int, int], num_classes: int, dropout: float,
    ) -> None:
        super().__init__()
        self._init_meta(network=network, quant=quant, input_shape=input_shape,
                        num_classes=num_classes)
        macs = [s for s in steps if not isinstance(s, _MaxPool)]
        quant.check_layer_names({s.name for s in macs}, network=network)
        self._order: list[str] = []
        for step in steps:
            if isinstance(step, _MaxPool):
                self.add_module(step.name, nn.MaxPool2d(step.kernel_size, step.stride,
                                                        step.padding))
                self._order.append(step.name)
                continue
            index = macs.index(step)
            layer = _quant_layer(quant, network, step.name, _position(index, len(macs)), step,
                                 input_dropout=dropout)
            self.add_module(step.name, layer)
            if isinstance(step, _Conv):
                bn: nn.Module = nn.BatchNorm2d(step.out_channels)
            else:
                bn = nn.BatchNorm1d(step.out_features)
            self.add_module(f"{step.name}_bn", bn)
            self._order += [step.name, f"{step.name}_bn"]
        self._finish()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare_input(x)
        for name in self._order:
            module = self.get_submodule(name)
            if isinstance(module, QLinear) and x.dim() > 2:
                x = torch.flatten(x, 1)
            x = module(x)
        return x


class _Downsample(nn.Module):
    """Bi-Real downsampling shortcut: 2×2 average pool, then a 1×1 conv and its batch-norm."""

    def __init__(self, conv: QConv2d, channels: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(2, 2)
        self.conv = conv
        self.conv_bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_bn(self.conv(self.pool(x)))


class _BiRealBlock(nn.Module):
    """Two 3×3 convs, each with its own real-valued shortcut (Liu et al., Bi-Real Net 2018)."""

    def __init__(self, conv1: QConv2d, conv2: QConv2d, downsample: _Downsample | None) -> None:
        super().__init__()
        self.conv1 = conv1
        self.conv1_bn = nn.BatchNorm2d(conv1.out_channels)
        self.conv2 = conv2
        self.conv2_bn = nn.BatchNorm2d(conv2.out_channels)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.conv1_bn(self.conv1(x)) + shortcut
        return self.conv2_bn(self.conv2(out)) + out


def _reads_stream_edge(name: str) -> bool:
    """Whether a ResNet layer is a real-valued edge reading the signed residual stream as is:
    a downsampling shortcut conv or the classifier (its input is the pooled stream)."""
    return name == "fc" or name.endswith(".downsample.conv")


class BiRealResNet18(QuantNet):
    """ResNet-18 for ImageNet with a Bi-Real shortcut around every 3×3 convolution."""

    def __init__(self, *, quant: QuantConfig, in_channels: int, num_classes: int,
                 dropout: float) -> None:
        super().__init__()
        network = "resnet18"
        self._init_meta(network=network, quant=quant, input_shape=(in_channels, 224, 224),
                        num_classes=num_classes)
        steps: list[_Conv | _FC] = [_Conv("conv1", in_channels, 64, 7, 2, 3)]
        plan: list[tuple[str, list[_Conv]]] = []
        cin = 64
        for li, cout in enumerate((64, 128, 256, 512), start=1):
            for b in range(2):
                stride = 2 if (li > 1 and b == 0) else 1
                convs = [_Conv(f"layer{li}.{b}.conv1", cin, cout, 3, stride, 1),
                         _Conv(f"layer{li}.{b}.conv2", cout, cout, 3, 1, 1)]
                if stride != 1 or cin != cout:
                    convs.append(_Conv(f"layer{li}.{b}.downsample.conv", cin, cout, 1))
                plan.append((f"layer{li}.{b}", convs))
                steps += convs
                cin = cout
        steps.append(_FC("fc", 512, num_classes))
        quant.check_layer_names({s.name for s in steps}, network=network)
        layers = {
            s.name: _quant_layer(quant, network, s.name, _position(i, len(steps)), s,
                                 input_dropout=dropout, signed_input=_reads_stream_edge(s.name))
            for i, s in enumerate(steps)
        }
        self.conv1 = layers["conv1"]
        self.conv1_bn = nn.BatchNorm2d(64)
        self.pool1 = nn.MaxPool2d(3, 2, 1)
        for li in range(1, 5):
            blocks = []
            for b in range(2):
                prefix = f"layer{li}.{b}"
                conv1, conv2 = layers[f"{prefix}.conv1"], layers[f"{prefix}.conv2"]
                ds_conv = layers.get(f"{prefix}.downsample.conv")
                assert isinstance(conv1, QConv2d) and isinstance(conv2, QConv2d)
                downsample = None
                if ds_conv is not None:
                    assert isinstance(ds_conv, QConv2d)
                    downsample = _Downsample(ds_conv, ds_conv.out_channels)
                blocks.append(_BiRealBlock(conv1, conv2, downsample))
            self.add_module(f"layer{li}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = layers["fc"]
        self.fc_bn = nn.BatchNorm1d(num_classes)
        self._finish()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.conv1_bn(self.conv1(self.prepare_input(x))))
        for stage in ("layer1", "layer2", "layer3", "layer4"):
            x = self.get_submodule(stage)(x)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc_bn(self.fc(x))


def _cnv_steps(cin: int, classes: int) -> list[_Step]:
    return [
        _Conv("conv1", cin, 64, 3), _Conv("conv2", 64, 64, 3), _MaxPool("pool1", 2, 2),
        _Conv("conv3", 64, 128, 3), _Conv("conv4", 128, 128, 3), _MaxPool("pool2", 2, 2),
        _Conv("conv5", 128, 256, 3), _Conv("conv6", 256, 256, 3),
        _FC("fc1", 256, 512), _FC("fc2", 512, 512), _FC("fc3", 512, classes),
    ]


def _vgg_convs(cin: int) -> list[_Step]:
    return [
        _Conv("conv1", cin, 128, 3, 1, 1), _Conv("conv2", 128, 128, 3, 1, 1),
        _MaxPool("pool1", 2, 2),
        _Conv("conv3", 128, 256, 3, 1, 1), _Conv("conv4", 256, 256, 3, 1, 1),
        _MaxPool("pool2", 2, 2),
        _Conv("conv5", 256, 512, 3, 1, 1), _Conv("conv6", 512, 512, 3, 1, 1),
        _MaxPool("pool3", 2, 2),
    ]


def _bnn_cifar10_steps(cin: int, classes: int) -> list[_Step]:
    return [*_vgg_convs(cin), _FC("fc1", 8192, 1024), _FC("fc2", 1024, 1024),
            _FC("fc3", 1024, classes)]


def _vgg_small_steps(cin: int, classes: int) -> list[_Step]:
    return [*_vgg_convs(cin), _FC("fc", 8192, classes)]


def _mlp_steps(hidden: int) -> Callable[[int, int], list[_Step]]:
    def steps(cin: int, classes: int) -> list[_Step]:
        return [_FC("fc1", cin * 28 * 28, hidden), _FC("fc2", hidden, hidden),
                _FC("fc3", hidden, hidden), _FC("fc4", hidden, classes)]
    return steps


def _alexnet_steps(cin: int, classes: int) -> list[_Step]:
    return [
        _Conv("conv1", cin, 96, 11, 4, 0), _MaxPool("pool1", 3, 2),
        _Conv("conv2", 96, 256, 5, 1, 2, groups=2), _MaxPool("pool2", 3, 2),
        _Conv("conv3", 256, 384, 3, 1, 1), _Conv("conv4", 384, 384, 3, 1, 1, groups=2),
        _Conv("conv5", 384, 256, 3, 1, 1, groups=2), _MaxPool("pool3", 3, 2),
        _FC("fc6", 9216, 4096), _FC("fc7", 4096, 4096), _FC("fc8", 4096, classes),
    ]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One zoo entry: its input shape (C, H, W), class count, datasets and paper."""

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    datasets: tuple[str, ...]
    dropout: float
    source: str
    steps: Callable[[int, int], list[_Step]] | None = None  # None: a custom class


#: The zoo. ``dropout`` is the paper default applied to every MAC layer's quantised input.
MODELS: Mapping[str, ModelInfo] = {
    "sfc": ModelInfo("sfc", (1, 28, 28), 10, ("mnist", "fashion-mnist"), 0.2,
                     "FINN SFC (Umuroglu et al. 2017), Brevitas bnn_pynq dropout",
                     _mlp_steps(256)),
    "lfc": ModelInfo("lfc", (1, 28, 28), 10, ("mnist", "fashion-mnist"), 0.2,
                     "FINN LFC (Umuroglu et al. 2017), Brevitas bnn_pynq dropout",
                     _mlp_steps(1024)),
    "cnv": ModelInfo("cnv", (3, 32, 32), 10, ("cifar10",), 0.0,
                     "FINN CNV (Umuroglu et al. 2017)", _cnv_steps),
    "bnn-cifar10": ModelInfo("bnn-cifar10", (3, 32, 32), 10, ("cifar10",), 0.0,
                             "BNN ConvNet (Courbariaux, Hubara et al. 2016)",
                             _bnn_cifar10_steps),
    "vgg-small": ModelInfo("vgg-small", (3, 32, 32), 10, ("cifar10",), 0.0,
                           "VGG-Small (Cai et al. HWGQ 2017; Zhang et al. LQ-Nets 2018)",
                           _vgg_small_steps),
    "alexnet": ModelInfo("alexnet", (3, 227, 227), 1000, (), 0.0,
                         "AlexNet with grouped convs (Krizhevsky et al. 2012; XNOR-Net)",
                         _alexnet_steps),
    "resnet18": ModelInfo("resnet18", (3, 224, 224), 1000, (), 0.0,
                          "Bi-Real ResNet-18 (Liu et al. 2018)", None),
}


def model_info(name: str) -> ModelInfo:
    """The zoo entry for ``name``; an unknown name is a :class:`ConfigError` listing the zoo."""
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model; known models: {', '.join(MODELS)}", key="model",
                          value=name, has_value=True) from None


def build_model(
    name: str,
    quant: QuantConfig | str | None = None,
    *,
    num_classes: int | None = None,
    in_channels: int | None = None,
    dropout: float | None = None,
) -> QuantNet:
    """Build a zoo network quantised as ``quant`` (``None``: the paper's default).

    ``quant`` may be a :class:`QuantConfig`, a compact spec (``w1a2``) or a YAML path.
    ``dropout`` of ``None`` takes the zoo default (0.2 for the MLPs, as Brevitas).
    """
    info = model_info(name)
    qc = default_quant(name) if quant is None else parse_quant(quant)
    classes = info.num_classes if num_classes is None else int(num_classes)
    cin = info.input_shape[0] if in_channels is None else int(in_channels)
    p = info.dropout if dropout is None else float(dropout)
    if classes < 1 or cin < 1:
        raise ConfigError("num_classes and in_channels must be positive")
    if info.steps is None:
        return BiRealResNet18(quant=qc, in_channels=cin, num_classes=classes, dropout=p)
    return SequentialNet(network=name, steps=info.steps(cin, classes), quant=qc,
                         input_shape=(cin, *info.input_shape[1:]), num_classes=classes,
                         dropout=p)


def iter_bn_pairs(model: nn.Module) -> Iterator[tuple[str, QConv2d | QLinear, nn.Module | None]]:
    """Each MAC layer with the batch-norm that follows it (``<layer>_bn``), or ``None``."""
    modules = dict(model.named_modules())
    for name, layer in mac_layers(model).items():
        yield name, layer, modules.get(f"{name}_bn")


def _format(kind: str, bits: int) -> str:
    return {"binary": "binary", "ternary": "ternary", "float": "float32"}.get(kind) or (
        f"{bits} bases" if kind == "bases" else f"int{bits}")


@dataclass(frozen=True, slots=True, eq=False)
class ModelSummary:
    """Per-layer table of a model (one row per MAC layer) and its totals.

    Columns: ``layer``, ``kind`` (conv | fc), ``weights`` and ``activations`` (formats; the
    activations are the layer's inputs, "(relu)" when a ReLU precedes their quantiser),
    ``params``, ``weight_bits``, ``macs`` (per image), ``output_shape`` (C×H×W or N),
    ``packed_weight_bytes`` (``ceil(weight_bits / 8)``).
    """

    network: str
    quant: str
    input_shape: tuple[int, int, int]
    table: Any  # pandas.DataFrame (pandas is imported lazily)

    @property
    def total_macs(self) -> int:
        return int(self.table["macs"].sum())

    @property
    def total_params(self) -> int:
        return int(self.table["params"].sum())

    @property
    def total_weight_bits(self) -> int:
        return int(self.table["weight_bits"].sum())

    @property
    def packed_weight_bytes(self) -> int:
        return int(self.table["packed_weight_bytes"].sum())

    def totals(self) -> dict[str, int]:
        """The four totals by column name."""
        return {"params": self.total_params, "weight_bits": self.total_weight_bits,
                "macs": self.total_macs, "packed_weight_bytes": self.packed_weight_bytes}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: header, rows and totals."""
        return {"network": self.network, "quant": self.quant,
                "input_shape": list(self.input_shape),
                "layers": self.table.to_dict(orient="records"), "totals": self.totals()}

    def to_string(self) -> str:
        """The table as text with a totals line, for the terminal."""
        t = self.totals()
        head = (f"{self.network} ({self.quant}), input {'×'.join(map(str, self.input_shape))}")
        foot = (f"total: {t['params']:,} params, {t['weight_bits']:,} weight bits "
                f"({t['packed_weight_bytes'] / 1024:,.1f} KiB packed), {t['macs']:,} MACs "
                f"per image")
        return f"{head}\n{self.table.to_string(index=False)}\n{foot}"


def summary(model: QuantNet) -> ModelSummary:
    """Shapes, formats, parameter/bit counts and MACs of every MAC layer of ``model``.

    Output shapes come from one forward pass of a zero image (in eval mode, without grad).
    """
    import pandas as pd

    shapes: dict[str, tuple[int, ...]] = {}
    layers = mac_layers(model)
    hooks = [layer.register_forward_hook(
        lambda _m, _i, out, n=name: shapes.__setitem__(n, tuple(out.shape[1:])))
        for name, layer in layers.items()]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *model.input_shape))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    rows = []
    for name, layer in layers.items():
        out = shapes[name]
        if isinstance(layer, QConv2d):
            kind, macs = "conv", layer.macs_per_sample((out[1], out[2]))
        else:
            kind, macs = "fc", layer.macs_per_sample()
        params = layer.weight.numel()
        bits = params * layer.weight_bits
        rows.append({
            "layer": name, "kind": kind,
            "weights": _format(layer.weight_kind, layer.weight_bits),
            "activations": _format(layer.input_kind, layer.input_bits)
            + (" (relu)" if layer.input_relu else ""),
            "params": params, "weight_bits": bits, "macs": macs,
            "output_shape": "×".join(map(str, out)), "packed_weight_bytes": -(-bits // 8),
        })
    return ModelSummary(network=model.network, quant=model.quant.name,
                        input_shape=model.input_shape, table=pd.DataFrame(rows))
