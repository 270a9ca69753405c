"""Torch models of the zoo, built from the zoo's own descriptions (``workloads.zoo``).

A :class:`QuantNet` is the workload graph of a :class:`~workloads.network.Network` in torch:
every multiply-accumulate layer is a :class:`~reference.layers.QConv2d` /
:class:`~reference.layers.QLinear` registered at its workload name (dots nest modules, so
``layer2.0.downsample.conv`` is a submodule path and its state-dict key is
``layer2.0.downsample.conv.weight``), followed by a batch-norm named ``<layer>_bn`` (so BN
folding needs no table). Pools and residual adds run where the workload puts them, so the
torch model and the simulated workload cannot disagree on a shape or an edge.

Nonlinearity: the sign (or the clipping of DoReFa / HWGQ, or ABC's bases) in each layer's input
quantiser is the network's activation function. Where that quantiser is linear — ``identity``
(full precision) or the signed ``uniform`` — the layer gets a ReLU before it (not the first
layer, whose inputs are pixels), so a full-precision baseline is not a linear model. The
exception is the ResNet's real-valued edges, the downsampling shortcut convs and the
classifier: they read the signed, unbounded residual stream (the zoo lists them as
``signed_inputs``), so they never get a ReLU (and their paper default is the signed
``uniform`` 8-bit quantiser, not DoReFa's [0, 1] clip). The 3×3 convs keep the rule: a ReLU
inside a branch (pre-activation style) leaves the stream itself signed.

Inputs are pixels scaled to [0, 1]. When the first layer's input quantiser is binary the model
first maps them to [−1, 1] (``2x − 1``, as Brevitas' bnn_pynq does), so that the sign means
something; ``model.input_transform`` records which.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from reference.layers import QConv2d, QLinear, make_qlayer
from workloads.layers import Add, Conv2d, LayerKind, Pool
from workloads.network import Network
from workloads.quant import LayerQuant, QuantConfig
from workloads.zoo import ZooNetwork, zoo_network

__all__ = [
    "LINEAR_INPUT_QUANTIZERS",
    "QuantNet",
    "build_model",
    "iter_bn_pairs",
    "mac_layers",
    "summary",
]

InputTransform = Literal["unit", "centered"]

#: Input quantisers that are linear (no activation function of their own).
LINEAR_INPUT_QUANTIZERS = frozenset({"identity", "uniform"})


def mac_layers(model: nn.Module) -> dict[str, QConv2d | QLinear]:
    """The quantised conv / FC layers of a model by name, in execution order."""
    return {n: m for n, m in model.named_modules() if isinstance(m, QConv2d | QLinear)}


def _register(root: nn.Module, path: str, module: nn.Module) -> None:
    """Register ``module`` at a dotted ``path``, creating empty parents as needed."""
    *parents, leaf = path.split(".")
    node = root
    for name in parents:
        child = node._modules.get(name)
        if child is None:
            child = nn.Module()
            node.add_module(name, child)
        node = child
    node.add_module(leaf, module)


def _pool_module(layer: Pool) -> nn.Module:
    if layer.mode == "global_avg":
        return nn.AdaptiveAvgPool2d(1)
    if layer.mode == "avg":
        return nn.AvgPool2d(layer.kernel, layer.stride, layer.padding)
    return nn.MaxPool2d(layer.kernel, layer.stride, layer.padding)


@dataclass(frozen=True, slots=True)
class _Step:
    name: str
    kind: LayerKind
    inputs: tuple[str, ...]


class QuantNet(nn.Module):
    """A quantised network built from a workload :class:`Network` and its layers' quantisation.

    ``network`` names the zoo entry, ``quant`` is the network's :class:`QuantConfig`;
    ``layer_quants`` gives every MAC layer's :class:`LayerQuant`; ``signed_inputs`` names the
    MAC layers that never get a ReLU in front of a linear input quantiser (see the module doc).
    """

    network: str
    quant: QuantConfig
    input_shape: tuple[int, int, int]
    num_classes: int
    input_transform: InputTransform

    def __init__(self, workload: Network, layer_quants: Mapping[str, LayerQuant], *,
                 quant: QuantConfig, dropout: float = 0.0,
                 signed_inputs: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.network = workload.name
        self.quant = quant
        self.input_shape = workload.input_shape
        self.num_classes = workload.layers[-1].out_shape[0]
        self.residual = any(isinstance(x, Add) for x in workload.layers)
        gates = workload.gate_branches  # (a gated layer's Gate module computes its gates)
        first = next(x.name for x in workload.mac_layers if x.name not in gates)
        steps = []
        for layer in workload.layers:
            if layer.name in gates:
                continue
            if isinstance(layer, Conv2d):
                lq = layer_quants[layer.name]
                relu = (layer.name != first and layer.name not in signed_inputs
                        and lq.activations.quantizer in LINEAR_INPUT_QUANTIZERS)
                if layer.kind is LayerKind.CONV:
                    module: nn.Module = make_qlayer(
                        lq, in_features=layer.in_shape[0], out_features=layer.out_channels,
                        kernel_size=layer.kernel[0], stride=layer.stride, padding=layer.padding,
                        groups=layer.groups, input_relu=relu, input_dropout=dropout)
                    bn: nn.Module = nn.BatchNorm2d(layer.out_channels)
                else:
                    src = (workload.inputs_of(layer.name) or ("input",))[0]
                    fed = (workload.input_shape if src == "input"
                           else workload.layer(src).out_shape)
                    module = make_qlayer(lq, in_features=layer.in_shape[0],
                                         out_features=layer.out_channels, input_relu=relu,
                                         input_dropout=dropout, gate_channels=fed[0])
                    bn = nn.BatchNorm1d(layer.out_channels)
                _register(self, layer.name, module)
                _register(self, f"{layer.name}_bn", bn)
            elif isinstance(layer, Pool):
                _register(self, layer.name, _pool_module(layer))
            reads = workload.inputs_of(layer.name) or ("input",)
            if isinstance(layer, Conv2d) and layer.gate:
                reads = reads[:1]  # the map; its gates come from the layer's Gate
            steps.append(_Step(layer.name, layer.kind, reads))
        self._steps = tuple(steps)
        # the step after which each tensor is no longer read (freed early in forward)
        last_use: dict[str, int] = {}
        for i, step in enumerate(self._steps):
            for src in step.inputs:
                last_use[src] = i
        self._frees = tuple(tuple(src for src in dict.fromkeys(step.inputs) if last_use[src] == i)
                            for i, step in enumerate(self._steps))
        first_layer = next(iter(mac_layers(self).values()))
        self.input_transform = "centered" if first_layer.input_kind == "binary" else "unit"

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """Map [0, 1] pixels to what the first layer expects (see ``input_transform``)."""
        return 2.0 * x - 1.0 if self.input_transform == "centered" else x

    def mac_layer_names(self) -> list[str]:
        """Names of the multiply-accumulate layers, in execution order."""
        return list(mac_layers(self))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict[str, torch.Tensor] = {"input": self.prepare_input(x)}
        out = values["input"]
        for step, frees in zip(self._steps, self._frees, strict=True):
            args = [values[src] for src in step.inputs]
            if step.kind is LayerKind.ADD:
                out = args[0] + args[1]
            elif step.kind is LayerKind.POOL:
                out = self.get_submodule(step.name)(args[0])
            else:
                h = args[0]
                if step.kind is LayerKind.FC and h.dim() > 2:
                    h = torch.flatten(h, 1)
                out = self.get_submodule(f"{step.name}_bn")(self.get_submodule(step.name)(h))
            for src in frees:
                del values[src]
            values[step.name] = out
        return out


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
    entry: ZooNetwork = zoo_network(name)
    qc = entry.quant_config(quant)
    workload = entry.network(qc, num_classes=num_classes, in_channels=in_channels)
    quants = entry.layer_quants(qc)
    p = entry.dropout if dropout is None else float(dropout)
    return QuantNet(workload, quants, quant=qc, dropout=p, signed_inputs=entry.signed_inputs)


def iter_bn_pairs(model: nn.Module) -> Iterator[tuple[str, QConv2d | QLinear, nn.Module | None]]:
    """Each MAC layer with the batch-norm that follows it (``<layer>_bn``), or ``None``."""
    modules = dict(model.named_modules())
    for name, layer in mac_layers(model).items():
        yield name, layer, modules.get(f"{name}_bn")


def _format(kind: str, bits: int) -> str:
    named = {"binary": "binary", "ternary": "ternary", "float": "float32",
             "bases": f"{bits} bases", "pow2": f"pow2 {bits}-bit"}
    return named.get(kind) or f"int{bits}"


@dataclass(frozen=True, slots=True, eq=False)
class ModelSummary:
    """Per-layer table of a model (one row per MAC layer) and its totals.

    Columns: ``layer``, ``kind`` (conv | fc, or gate: a Real-to-Binary gate's two FCs —
    trained in float, 8-bit on the simulated chip — before the layer it gates), ``weights``
    and ``activations`` (formats; the activations are the layer's inputs, "(relu)" when a
    ReLU precedes their quantiser), ``params`` (trained values: Group-Net's K branches each
    count),
    ``weight_bits``, ``macs`` (per image), ``output_shape`` (C×H×W or N),
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
        if layer.gate is not None:  # Real-to-Binary's gate: two small real FCs, 8-bit on chip
            fcs = (layer.gate.fc1, layer.gate.fc2)
            gate_params = sum(fc.weight.numel() for fc in fcs)
            rows.append({
                "layer": f"{name}.gate", "kind": "gate", "weights": "int8",
                "activations": "int8", "params": gate_params, "weight_bits": 8 * gate_params,
                "macs": gate_params, "output_shape": str(layer.gate.fc2.out_features),
                "packed_weight_bytes": gate_params})
        # Group-Net trains a latent weight per branch; the other bases derive from one
        branches = getattr(layer.weight_quantizer, "branches", ())
        params = layer.weight.numel() * (1 + len(branches))
        bits = layer.weight.numel() * layer.weight_bits
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
