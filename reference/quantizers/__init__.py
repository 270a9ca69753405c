"""Binary, ternary and low-bit quantisers from the literature, looked up by name.

Each quantiser is a small ``nn.Module`` whose forward pass holds one paper's
forward/backward rule, with ``kind`` and ``bits`` as metadata and ``int_repr(x)`` giving
the integer codes and real scales a bit-exact hardware model consumes::

    >>> from reference.quantizers import get, names
    >>> q = get("dorefa_act", bits=2)
    >>> (q.kind, q.bits)
    ('int', 2)
    >>> get("sign").kind
    'binary'

The registry below is the one place names are bound to classes; ``workloads.quant``'s
``WEIGHT_QUANTIZERS`` / ``ACTIVATION_QUANTIZERS`` name entries of it.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from reference.quantizers._base import CODE_DTYPE, Codes, IntRepr, Quantizer, straight_through
from reference.quantizers.bases import AbcActivation, AbcWeight
from reference.quantizers.binary import ApproxSign, SignSwish, SteSign
from reference.quantizers.dorefa import DorefaActivation, DorefaWeight
from reference.quantizers.groupnet import GroupNetWeight
from reference.quantizers.hwgq import HWGQ, half_gaussian_levels
from reference.quantizers.inq import IncrementalPow2
from reference.quantizers.lq import LqActivation, LqWeight
from reference.quantizers.pact import Pact
from reference.quantizers.regularizers import BNNPlusRegularizer, bnnplus_regularizer
from reference.quantizers.ternary import TernaryWeight, TrainedTernary
from reference.quantizers.uniform import FloatIdentity, UniformSymmetric
from reference.quantizers.xnor import BiRealWeight, XnorActivation, XnorWeight

__all__ = [
    "CODE_DTYPE",
    "HWGQ",
    "REGISTRY",
    "AbcActivation",
    "AbcWeight",
    "ApproxSign",
    "BNNPlusRegularizer",
    "BiRealWeight",
    "Codes",
    "DorefaActivation",
    "DorefaWeight",
    "FloatIdentity",
    "GroupNetWeight",
    "IncrementalPow2",
    "IntRepr",
    "LqActivation",
    "LqWeight",
    "Pact",
    "Quantizer",
    "SignSwish",
    "SteSign",
    "TernaryWeight",
    "TrainedTernary",
    "UniformSymmetric",
    "XnorActivation",
    "XnorWeight",
    "bnnplus_regularizer",
    "get",
    "half_gaussian_levels",
    "names",
    "straight_through",
]

#: Registry name → quantiser class (read-only).
REGISTRY: Mapping[str, type[Quantizer]] = MappingProxyType({
    "sign": SteSign,
    "xnor_weight": XnorWeight,
    "bireal_weight": BiRealWeight,
    "xnor_act": XnorActivation,
    "dorefa_weight": DorefaWeight,
    "dorefa_act": DorefaActivation,
    "hwgq": HWGQ,
    "pact": Pact,
    "twn": TernaryWeight,
    "inq": IncrementalPow2,
    "ttq": TrainedTernary,
    "abc_weight": AbcWeight,
    "abc_act": AbcActivation,
    "lq_weight": LqWeight,
    "lq_act": LqActivation,
    "groupnet_weight": GroupNetWeight,
    "approx_sign": ApproxSign,
    "signswish": SignSwish,
    "uniform": UniformSymmetric,
    "identity": FloatIdentity,
})


def names() -> tuple[str, ...]:
    """The registered quantiser names, sorted."""
    return tuple(sorted(REGISTRY))


def get(name: str, **kwargs: Any) -> Quantizer:
    """A new instance of the quantiser registered as ``name``, built with keyword ``kwargs``.

    Raises ``ValueError`` for an unknown name (listing the valid ones) and ``TypeError`` for
    a keyword the quantiser does not take (listing the ones it does).

    >>> get("hwgq", bits=2).levels[0] > 0.5
    True
    """
    try:
        cls = REGISTRY[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), REGISTRY, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(f"unknown quantizer {name!r}{hint}; valid names: "
                         + ", ".join(names())) from None
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise TypeError(f"quantizer '{name}' takes no argument(s) {', '.join(unknown)}; "
                        f"it takes: {', '.join(accepted) or 'none'}")
    return cls(**kwargs)
