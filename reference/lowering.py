"""Lowering a trained model to a workload (``workloads`` records the simulator reads).

Today a checkpoint lowers by shape: its zoo network with the checkpoint's quantisation (the
simulator needs shapes and number formats). Lowering the weights themselves — packed bit
planes, folded thresholds — for kernel decomposition and the functional model is the next step.
"""

from __future__ import annotations

from pathlib import Path

from reference.checkpoint import load_checkpoint, verify_checkpoint
from workloads.errors import ConfigError
from workloads.network import Network
from workloads.quant import QuantConfig
from workloads.zoo import ZOO

__all__ = ["network_from_checkpoint"]


def network_from_checkpoint(path: str | Path, *, quant: str | Path | QuantConfig | None = None
                            ) -> Network:
    """The workload of a trained checkpoint: the zoo network it was trained as, with its
    quantisation, class count and input channels. The checkpoint is verified first (see
    ``reference.checkpoint``). ``quant`` must be ``None`` (a checkpoint carries its own; a
    ``--quant`` given with it is a :class:`ConfigError`)."""
    text = str(path)
    if quant is not None:
        raise ConfigError("a checkpoint carries its own quantisation; drop --quant",
                          key="--quant", value=str(quant), has_value=True)
    ckpt = load_checkpoint(path)
    if ckpt.model_name not in ZOO:
        raise ConfigError(f"checkpoint of model '{ckpt.model_name}', which has no workload; "
                          f"known: {', '.join(ZOO)}", file=text)
    verify_checkpoint(ckpt)  # the weights are the claimed model's, and finite
    entry = ZOO[ckpt.model_name]
    try:
        net = entry.network(ckpt.quant, num_classes=ckpt.meta.get("num_classes"),
                            in_channels=ckpt.meta.get("in_channels"))
    except ConfigError as err:
        raise err.with_context(file=text) from None
    acc = f", accuracy {ckpt.accuracy:.4f}" if ckpt.accuracy is not None else ""
    return Network(net.name, net.input_shape, net.layers, net.inputs, net.quant,
                   f"checkpoint:{path}{acc}")
