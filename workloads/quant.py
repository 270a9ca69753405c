"""Quantisation configurations as data, shared by training, lowering and the explorer.

One :class:`QuantConfig` names one trained network's number formats. It is written either as a
compact string (``w1a1``, ``w1a2``, ``w2a2``, ``wta2`` for ternary weights, ``wb3ab2`` for
ABC-Net with 3 weight bases and 2 activation bases, ``w32a32`` / ``fp32`` for full precision)
or as a YAML file with per-layer overrides::

    default: w1a2            # the body of the network
    first: w8a8              # optional; otherwise the network's paper default
    last: w8a8               # optional
    layers:                  # optional per-layer overrides, by layer name
      conv3: w2a2
      conv4:
        weights: {kind: ternary, quantizer: ttq}
        activations: {kind: int, bits: 2, quantizer: hwgq}

"activations" of a layer are its *input* activations (for the first layer: the input pixels).
An operand's quantisation is its :class:`~workloads.formats.NumberFormat` plus the name of the
training rule (quantiser) that produces it. Pure Python (no torch).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from workloads.errors import ConfigError
from workloads.files import check_keys, load_yaml
from workloads.formats import FORMAT_KINDS, FormatKind, NumberFormat
from workloads.layers import LIMITS

__all__ = [
    "ACTIVATION_QUANTIZERS",
    "MAX_GATE_REDUCTION",
    "WEIGHT_QUANTIZERS",
    "DefaultSpec",
    "LayerQuant",
    "NetworkQuantDefaults",
    "OperandQuant",
    "Position",
    "QuantConfig",
    "default_quantizer",
    "layer_spec",
    "parse_layer_quant",
    "parse_quant",
    "resolve_layer_quant",
]

Position = Literal["first", "body", "last"]
_KINDS: tuple[str, ...] = FORMAT_KINDS

#: Registry names (see ``reference.quantizers``) valid for weights and for activations.
WEIGHT_QUANTIZERS: dict[str, tuple[str, ...]] = {
    "binary": ("sign", "xnor_weight", "bireal_weight", "approx_sign", "signswish"),
    "ternary": ("twn", "ttq"),
    "int": ("dorefa_weight", "uniform"),
    "pow2": ("inq",),
    "bases": ("abc_weight", "groupnet_weight", "lq_weight"),
    "float": ("identity",),
}
ACTIVATION_QUANTIZERS: dict[str, tuple[str, ...]] = {
    "binary": ("sign", "xnor_act", "approx_sign", "signswish"),
    "ternary": (),
    "int": ("dorefa_act", "hwgq", "pact", "uniform"),
    "pow2": (),
    "bases": ("abc_act", "lq_act"),
    "float": ("identity",),
}
_DEFAULT_QUANTIZER = {
    ("weights", "binary"): "sign",
    ("weights", "ternary"): "twn",
    ("weights", "int"): "dorefa_weight",
    ("weights", "pow2"): "inq",
    ("weights", "bases"): "abc_weight",
    ("weights", "float"): "identity",
    ("activations", "binary"): "sign",
    ("activations", "int"): "dorefa_act",
    ("activations", "bases"): "abc_act",
    ("activations", "float"): "identity",
}


def default_quantizer(role: Literal["weights", "activations"], kind: FormatKind) -> str:
    """The quantiser a compact spec implies for ``role`` and ``kind`` (``sign`` for binary,
    ``twn`` for ternary weights, DoReFa for integers, ABC-Net for bases, ``identity``)."""
    try:
        return _DEFAULT_QUANTIZER[(role, kind)]
    except KeyError:
        raise ConfigError(f"{kind} {role} are not supported", key=role, value=kind,
                          has_value=True) from None


@dataclass(frozen=True, slots=True)
class OperandQuant:
    """How one operand (weights or input activations) of a layer is quantised: its number
    format and the registered quantiser (training rule) that produces it."""

    format: NumberFormat
    quantizer: str

    @property
    def kind(self) -> FormatKind:
        return self.format.kind

    @property
    def bits(self) -> int:
        return self.format.bits

    @property
    def bases(self) -> int:
        return self.format.bases

    @property
    def planes(self) -> int:
        """Binary planes a bit-serial datapath processes (see :attr:`NumberFormat.planes`)."""
        return self.format.planes

    def compact(self) -> str:
        """The compact token (``1``, ``t``, ``4``, ``b3``, ``32``) without the w/a prefix."""
        return self.format.label

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "bits": self.bits, "quantizer": self.quantizer}
        if self.kind == "bases":
            out["bases"] = self.bases
        return out


#: The largest gate reduction ratio (the hidden width is the input channels // r, ≥ 1).
MAX_GATE_REDUCTION = LIMITS["gate"]


@dataclass(frozen=True, slots=True)
class LayerQuant:
    """Weight and input-activation formats of one layer, and its Real-to-Binary gate:
    ``gate`` r > 0 scales each output channel by a gate computed from the layer's real-valued
    input (global average → FC to channels // r → ReLU → FC → sigmoid; Martinez et al., ICLR
    2020), 0 for none. Compact specs write it as a ``g<r>`` suffix (``w1a1g8``)."""

    weights: OperandQuant
    activations: OperandQuant
    gate: int = 0

    def __post_init__(self) -> None:
        if self.activations.kind == "ternary":
            raise ConfigError("ternary activations are not supported; use ternary weights (wt)")
        if (isinstance(self.gate, bool) or not isinstance(self.gate, int)
                or not 0 <= self.gate <= MAX_GATE_REDUCTION):
            raise ConfigError(f"a gate's reduction ratio is 1 to {MAX_GATE_REDUCTION} (0: no "
                              "gate)", key="gate", value=self.gate, has_value=True)

    def compact(self) -> str:
        gate = f"g{self.gate}" if self.gate else ""
        return f"w{self.weights.compact()}a{self.activations.compact()}{gate}"

    def to_dict(self) -> dict[str, Any]:
        out = {"weights": self.weights.to_dict(), "activations": self.activations.to_dict()}
        return out | ({"gate": self.gate} if self.gate else {})


@dataclass(frozen=True, slots=True)
class QuantConfig:
    """A network's quantisation: a body default, optional first/last and per-layer overrides.

    ``first``/``last`` of ``None`` mean "the network's paper default"; see
    :func:`resolve_layer_quant` for how one layer's format is decided.
    """

    default: LayerQuant
    first: LayerQuant | None = None
    last: LayerQuant | None = None
    layers: tuple[tuple[str, LayerQuant], ...] = field(default=())
    source: str = field(default="", compare=False)

    @property
    def name(self) -> str:
        """A short name: the compact body string, with a ``+`` when there are overrides."""
        extra = self.first is not None or self.last is not None or bool(self.layers)
        return self.default.compact() + ("+" if extra else "")

    def to_dict(self) -> dict[str, Any]:
        """A plain dict that :func:`parse_quant` turns back into an equal config."""
        out: dict[str, Any] = {"default": self.default.to_dict()}
        if self.first is not None:
            out["first"] = self.first.to_dict()
        if self.last is not None:
            out["last"] = self.last.to_dict()
        if self.layers:
            out["layers"] = {n: lq.to_dict() for n, lq in self.layers}
        return out

    def check_layer_names(self, names: set[str], *, network: str) -> None:
        """Fail when an override names a layer the network does not have."""
        for layer_name, _ in self.layers:
            if layer_name not in names:
                raise ConfigError(
                    f"network '{network}' has no layer of that name; its layers: "
                    + ", ".join(sorted(names)),
                    file=self.source or None,
                    key=f"layers.{layer_name}",
                )


_TOKEN = r"(1|t|32|[2-9]|1[0-6]|b[1-8]|p[2-5])"
_COMPACT = re.compile(rf"^w{_TOKEN}a{_TOKEN}(?:g([0-9]{{1,5}}))?$")


def _operand_from_token(token: str, role: str, *, source: str, key: str) -> OperandQuant:
    fmt = NumberFormat.parse(token)
    if role == "activations" and fmt.kind in ("ternary", "pow2"):
        what = {"ternary": "ternary", "pow2": "power-of-two"}[fmt.kind]
        raise ConfigError(f"{what} activations are not supported", file=source or None,
                          key=key, value=token, has_value=True)
    return OperandQuant(fmt, _DEFAULT_QUANTIZER[(role, fmt.kind)])


def _parse_compact(text: str, *, source: str, key: str) -> LayerQuant:
    t = text.strip().lower()
    if t in ("fp32", "fp", "float"):
        t = "w32a32"
    m = _COMPACT.match(t)
    if not m:
        raise ConfigError(
            "not a quantisation spec; expected w<W>a<A> with W in 1, t (ternary), 2-16, "
            "b1-b8 (binary bases), p2-p5 (INQ's powers of two), 32 and A in 1, 2-16, b1-b8, "
            "32, and an optional g<r> for a "
            "Real-to-Binary gate — e.g. w1a1, w1a2, wta2, w2a2, w1a1g8",
            file=source or None, key=key or None, value=text, has_value=True,
        )
    try:
        return LayerQuant(
            _operand_from_token(m.group(1), "weights", source=source, key=key),
            _operand_from_token(m.group(2), "activations", source=source, key=key),
            gate=int(m.group(3)) if m.group(3) else 0,
        )
    except ConfigError as err:
        if err.key != "gate":
            raise
        raise ConfigError(err.message, file=source or None, key=key or None, value=text,
                          has_value=True) from None


def _parse_operand(data: Any, role: str, *, source: str, key: str) -> OperandQuant:
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping with kind, bits, quantizer", file=source or None,
                          key=key, value=data, has_value=True)
    check_keys(data, allowed=("kind", "bits", "quantizer", "bases"), required=("kind",),
               file=source or None, prefix=f"{key}.")
    kind = data["kind"]
    if kind == "int" and data.get("quantizer") == "inq":  # (written before the pow2 kind)
        kind = "pow2"
    if kind not in _KINDS:
        raise ConfigError(f"allowed: {', '.join(_KINDS)}", file=source or None, key=f"{key}.kind",
                          value=kind, has_value=True)
    bases = data.get("bases", 1)
    default_bits = {"binary": 1, "ternary": 2, "float": 32, "bases": bases}.get(kind)
    bits = data.get("bits", default_bits)
    for k, v in (("bits", bits), ("bases", bases)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise ConfigError("must be an integer", file=source or None, key=f"{key}.{k}",
                              value=v, has_value=True)
    allowed_q = (WEIGHT_QUANTIZERS if role == "weights" else ACTIVATION_QUANTIZERS)[kind]
    if not allowed_q:
        raise ConfigError(f"{kind} {role} are not supported", file=source or None,
                          key=f"{key}.kind", value=kind, has_value=True)
    quantizer = data.get("quantizer", _DEFAULT_QUANTIZER[(role, kind)])
    if quantizer not in allowed_q:
        raise ConfigError(f"allowed for {kind} {role}: {', '.join(allowed_q)}",
                          file=source or None, key=f"{key}.quantizer", value=quantizer,
                          has_value=True)
    if kind == "int" and not 2 <= bits <= 16:  # 1-bit operands are written as binary
        raise ConfigError("integer operands take 2 to 16 bits", file=source or None,
                          key=f"{key}.bits", value=bits, has_value=True)
    try:
        fmt = NumberFormat(kind, bits, bases)
    except ConfigError as err:
        raise ConfigError(err.message, file=source or None, key=f"{key}.{err.key or 'bits'}",
                          value=err.value if err.has_value else bits, has_value=True) from None
    return OperandQuant(fmt, quantizer)


def parse_layer_quant(data: Any, *, source: str = "", key: str = "") -> LayerQuant:
    """A :class:`LayerQuant` from a compact string or a ``{weights:, activations:}`` mapping."""
    if isinstance(data, str):
        return _parse_compact(data, source=source, key=key)
    if isinstance(data, Mapping):
        prefix = f"{key}." if key else ""
        check_keys(data, allowed=("weights", "activations", "gate"),
                   required=("weights", "activations"), file=source or None, prefix=prefix)
        gate = data.get("gate", 0)
        if (isinstance(gate, bool) or not isinstance(gate, int)
                or not 0 <= gate <= MAX_GATE_REDUCTION):
            raise ConfigError(f"a gate's reduction ratio is an integer, 1 to "
                              f"{MAX_GATE_REDUCTION} (0: no gate)", file=source or None,
                              key=f"{prefix}gate", value=gate, has_value=True)
        return LayerQuant(
            _parse_operand(data["weights"], "weights", source=source, key=f"{prefix}weights"),
            _parse_operand(data["activations"], "activations", source=source,
                           key=f"{prefix}activations"),
            gate=gate,
        )
    raise ConfigError("expected a compact spec such as w1a2 or a mapping", file=source or None,
                      key=key or None, value=data, has_value=True)


def _from_mapping(data: Mapping[str, Any], *, source: str) -> QuantConfig:
    check_keys(data, allowed=("default", "first", "last", "layers"), required=("default",),
               file=source or None)
    layers_raw = data.get("layers")
    layers_raw = {} if layers_raw is None else layers_raw
    if not isinstance(layers_raw, Mapping):
        raise ConfigError("expected a mapping of layer name to spec", file=source or None,
                          key="layers")
    return QuantConfig(
        default=parse_layer_quant(data["default"], source=source, key="default"),
        first=None if data.get("first") is None
        else parse_layer_quant(data["first"], source=source, key="first"),
        last=None if data.get("last") is None
        else parse_layer_quant(data["last"], source=source, key="last"),
        layers=tuple(
            (str(name), parse_layer_quant(spec, source=source, key=f"layers.{name}"))
            for name, spec in layers_raw.items()
        ),
        source=source,
    )


def parse_quant(spec: str | Path | Mapping[str, Any] | QuantConfig) -> QuantConfig:
    """Parse a quantisation spec: compact string, path to a YAML file, or a mapping.

    >>> parse_quant("w1a2").default.activations.bits
    2
    >>> parse_quant("wta2").default.weights.kind
    'ternary'
    """
    if isinstance(spec, QuantConfig):
        return spec
    if isinstance(spec, Mapping):
        return _from_mapping(spec, source="")
    text = str(spec)
    path = Path(text)
    try:
        is_file = path.is_file()
    except (OSError, ValueError):  # a name too long (or with NUL) for a path: not a file
        is_file = False
    if text.endswith((".yaml", ".yml")) or is_file:
        data = load_yaml(path)
        if isinstance(data, str):
            return QuantConfig(default=parse_layer_quant(data, source=str(path)), source=str(path))
        if not isinstance(data, Mapping):
            raise ConfigError("expected a mapping with a 'default' key", file=path)
        return _from_mapping(data, source=str(path))
    return QuantConfig(default=parse_layer_quant(text, key="--quant"), source=text)


#: A paper default for one layer (or the body): a compact spec, ``*`` meaning "as the body"
#: (``w*a8``), or a ``{weights:, activations:}`` mapping as :func:`parse_layer_quant` takes it.
DefaultSpec = str | Mapping[str, Any]


def layer_spec(activations: str, kind: FormatKind, bits: int, *,
               weights: str = "dorefa_weight", weight_kind: FormatKind = "int",
               weight_bits: int = 8) -> dict[str, Any]:
    """A ``{weights:, activations:}`` mapping naming both quantisers (for paper defaults)."""
    return {"weights": {"kind": weight_kind, "bits": weight_bits, "quantizer": weights},
            "activations": {"kind": kind, "bits": bits, "quantizer": activations}}


def _merge_edge(spec: DefaultSpec, body: LayerQuant, *, key: str) -> LayerQuant:
    if not isinstance(spec, str):
        return parse_layer_quant(spec, key=key)
    w_tok, _, a_tok = spec[1:].partition("a")
    w = body.weights if w_tok == "*" else _parse_compact(f"w{w_tok}a1", source="", key=key).weights
    a = body.activations if a_tok == "*" else _parse_compact(f"w1a{a_tok}", source="",
                                                              key=key).activations
    return LayerQuant(w, a)


@dataclass(frozen=True, slots=True)
class NetworkQuantDefaults:
    """A network's quantisation as its paper trains it, quantisers included.

    Each entry is a :data:`DefaultSpec`. Compact ``first``/``last``/``layers`` specs may use
    ``*`` for "as the body": ``w*a8`` keeps the body's weights and feeds 8-bit input pixels
    (FINN, BNN). A mapping names the quantisers too (XNOR-Net's ``xnor_weight``/``xnor_act``,
    Bi-Real's ``approx_sign``, HWGQ's ``hwgq``). ``None`` means "as the body". ``layers``
    gives paper defaults for named layers (Bi-Real's 8-bit downsampling convs). Every entry is
    parsed here, so a bad default fails at import, not when a layer is built.
    """

    body: DefaultSpec
    first: DefaultSpec | None = None
    last: DefaultSpec | None = None
    layers: tuple[tuple[str, DefaultSpec], ...] = ()

    def __post_init__(self) -> None:
        body = self.body_quant()
        for key, spec in (("first", self.first), ("last", self.last), *self.layers):
            if spec is not None:
                _merge_edge(spec, body, key=key)

    def body_quant(self) -> LayerQuant:
        """The body's :class:`LayerQuant` (what :func:`default_quant` puts in ``default``)."""
        if isinstance(self.body, str) and "*" in self.body:
            raise ConfigError("the body spec cannot use '*'", key="body", value=self.body,
                              has_value=True)
        return parse_layer_quant(self.body, key="body")

    @property
    def name(self) -> str:
        """The body as a compact spec (``w1a2``): kinds and bits, without the quantisers."""
        return self.body_quant().compact()

    def config(self) -> QuantConfig:
        """The paper's :class:`QuantConfig`: its body, quantisers included (the edges and named
        layers are applied by :func:`resolve_layer_quant`)."""
        return QuantConfig(default=self.body_quant(), source="")


def resolve_layer_quant(
    config: QuantConfig, defaults: NetworkQuantDefaults | None, name: str, position: Position
) -> LayerQuant:
    """The quantisation of one layer of a network whose paper defaults are ``defaults``.

    Precedence: the config's per-layer override, then its ``first``/``last``, then the
    network's paper default for that layer, then its paper edge default (``*`` filled from the
    config's body), then the config's body.
    """
    for layer_name, lq in config.layers:
        if layer_name == name:
            return lq
    if position == "first" and config.first is not None:
        return config.first
    if position == "last" and config.last is not None:
        return config.last
    if defaults is not None:
        for layer_name, spec in defaults.layers:
            if layer_name == name:
                return _merge_edge(spec, config.default, key=name)
        edge = {"first": defaults.first, "last": defaults.last}.get(position)
        if edge is not None:
            return _merge_edge(edge, config.default, key=position)
    return config.default
