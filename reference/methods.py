"""The literature's methods as the reference trains them: one entry per method, its paper, the
quantisation of a network's body it stands for (the quantisers that are its rules, and the
formats the simulator prices) and the training options it needs beyond the common recipe.

The method comparison (``benchmarks/method_comparison.py``, docs/accuracy.md) and the test
that every method trains both read this table, so a method added here is compared and tested.

>>> METHODS["group-net-wb4a1"].quant["default"]["weights"]["quantizer"]
'groupnet_weight'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["METHODS", "Method"]


@dataclass(frozen=True)
class Method:
    """One method: ``label`` (its short name), ``paper``, ``quant`` (a quantisation spec of
    the body, as :func:`workloads.quant.parse_quant` takes it) and ``train``: how it trains
    beyond the common recipe — so far only ``{"staged": True}``, Real-to-Binary's
    progressive distillation (:func:`reference.train.real_to_binary`)."""

    label: str
    paper: str
    quant: Any
    train: Mapping[str, Any] = field(default_factory=dict)


def _body(weights: dict[str, Any], activations: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"default": {"weights": weights, "activations": activations, **extra}}


_BIN = {"kind": "binary", "quantizer": "sign"}
_A2 = {"kind": "int", "bits": 2, "quantizer": "dorefa_act"}

METHODS: Mapping[str, Method] = MappingProxyType({m.label: m for m in (
    Method("bnn", "BNN (Courbariaux et al. 2016)", _body(_BIN, _BIN)),
    Method("bnn+", "BNN+ SignSwish (Darabi et al. 2018)",
           _body({"kind": "binary", "quantizer": "signswish"},
                 {"kind": "binary", "quantizer": "signswish"})),
    Method("bireal", "Bi-Real approx-sign, magnitude-aware weights (Liu et al. 2018)",
           _body({"kind": "binary", "quantizer": "bireal_weight"},
                 {"kind": "binary", "quantizer": "approx_sign"})),
    Method("xnor", "XNOR-Net (Rastegari et al. 2016)",
           _body({"kind": "binary", "quantizer": "xnor_weight"},
                 {"kind": "binary", "quantizer": "xnor_act"})),
    Method("dorefa-w1a2", "DoReFa (Zhou et al. 2016)", _body(_BIN, _A2)),
    Method("hwgq-w1a2", "HWGQ (Cai et al. 2017)",
           _body({"kind": "binary", "quantizer": "xnor_weight"},
                 {"kind": "int", "bits": 2, "quantizer": "hwgq"})),
    Method("pact-w1a2", "PACT (Choi et al. 2018)",
           _body(_BIN, {"kind": "int", "bits": 2, "quantizer": "pact"})),
    Method("twn-wta2", "TWN (Li et al. 2016)", _body({"kind": "ternary", "quantizer": "twn"},
                                                     _A2)),
    Method("ttq-wta2", "TTQ (Zhu et al. 2017)", _body({"kind": "ternary", "quantizer": "ttq"},
                                                      _A2)),
    Method("inq-wp5a2", "INQ (Zhou et al. 2017)",
           _body({"kind": "pow2", "bits": 5, "quantizer": "inq"}, _A2)),
    Method("dorefa-w2a2", "DoReFa (Zhou et al. 2016)",
           _body({"kind": "int", "bits": 2, "quantizer": "dorefa_weight"}, _A2)),
    Method("abc-wb3ab2", "ABC-Net (Lin et al. 2017)",
           _body({"kind": "bases", "bases": 3, "quantizer": "abc_weight"},
                 {"kind": "bases", "bases": 2, "quantizer": "abc_act"})),
    Method("group-net-wb4a1", "Group-Net, 4 branches (Zhuang et al. 2019)",
           _body({"kind": "bases", "bases": 4, "quantizer": "groupnet_weight"}, _BIN)),
    Method("lq-wb2ab2", "LQ-Nets (Zhang et al. 2018)",
           _body({"kind": "bases", "bases": 2, "quantizer": "lq_weight"},
                 {"kind": "bases", "bases": 2, "quantizer": "lq_act"})),
    Method("real-to-binary-w1a1g8", "Real-to-Binary, gated, staged distillation "
           "(Martinez et al. 2020)", _body(_BIN, _BIN, gate=8), {"staged": True}),
)})
