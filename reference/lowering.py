"""Lowering a trained model to a workload (``workloads`` records the simulator reads).

By shape (:func:`network_from_checkpoint`): its zoo network with the checkpoint's
quantisation — what the timing models need. By value (:func:`lower_model`,
:func:`lowered_from_checkpoint`): the trained weights as packed integer bit planes and each
batch-norm with the next layer's input quantiser folded into integer thresholds with their
direction (``workloads.lowered``), which the functional model executes bit-exactly.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reference.checkpoint import load_checkpoint, verify_checkpoint
from workloads.errors import ConfigError
from workloads.network import Network
from workloads.quant import QuantConfig
from workloads.zoo import ZOO

__all__ = ["SUPPORTED", "lower_model", "lowered_from_checkpoint", "network_from_checkpoint",
           "reference_pre_activations"]


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


# --------------------------------------------------------------------------- weights
#: what lowering supports, named in its errors
SUPPORTED = ("weights: binary sign (sign, approx_sign, signswish, xnor_weight, "
             "bireal_weight), ternary with "
             "one scale per channel (twn), DoReFa k-bit (dorefa, k ≤ 8), INQ powers of two "
             "after the last stage (inq), ABC-Net bases (abc_weight), Group-Net branches "
             "(groupnet_weight) or an LQ-Nets basis (lq_weight); inputs: binary sign, "
             "DoReFa k-bit (dorefa_act, k ≤ 8), uniform "
             "HWGQ (hwgq, k ≤ 8), PACT (pact), ABC-Net bases (abc_act) or XNOR-Net's scaled "
             "sign (xnor_act), 8-bit pixels into the first layer; max-pooling; in residual "
             "networks (Bi-Real) real-valued adds and pools with sign or signed uniform "
             "(uniform) inputs")
_SIGN_ACTS = ("SteSign", "ApproxSign", "SignSwish")
_CAP = 2**62  # thresholds beyond any reachable accumulator
#: k-bit inputs lower up to this many bits (2^k − 1 thresholds per channel)
MAX_ACT_BITS = 8


def _unsupported(what: str, module: str, kind: str) -> ConfigError:
    return ConfigError(f"cannot lower {what} of module '{module}' ({kind}); supported: "
                       f"{SUPPORTED}", key=module)


def _weights(name: str, layer: Any) -> tuple[str, Any, Any]:
    """(kind, codes (K, C, FY, FX) int8, per-channel scale float64) of a MAC layer."""
    import numpy as np
    import torch

    q = layer.weight_quantizer
    kind = layer.weight_kind
    qname = type(q).__name__
    # M sign planes, one real scale each (ABC-Net's fitted bases, Group-Net's branches,
    # LQ-Nets' learned basis)
    if kind == "bases" and qname in ("AbcWeight", "GroupNetWeight", "LqWeight"):
        terms = q.int_repr(layer.weight.detach())
        codes = np.stack([c.to(torch.int8).numpy() for c, _ in terms])
        if codes.ndim == 3:
            codes = codes[:, :, :, None, None]
        return "bases", codes, np.array([float(a) for _, a in terms], np.float64)
    int_ok = ((kind == "int" and qname == "DorefaWeight" and layer.weight_bits <= MAX_ACT_BITS)
              or (kind == "pow2" and qname == "IncrementalPow2"))
    kind = "int" if kind == "pow2" else kind  # (lowered: the integer codes ±2^e or 0)
    if qname == "IncrementalPow2" and not q.complete:
        raise _unsupported("the weights", name, "IncrementalPow2 before its last stage (not "
                                                "every weight is a power of two yet)")
    if (kind not in ("binary", "ternary") and not int_ok) or not hasattr(q, "int_repr"):
        raise _unsupported("the weights", name, f"{qname}, {kind}"
                           + (f" {layer.weight_bits} bits" if kind == "int" else ""))
    codes, scale = q.int_repr(layer.weight.detach())
    k = codes.shape[0]
    scale = scale.detach().to(torch.float64)
    if scale.numel() == 1:
        per = np.full(k, float(scale))
    elif scale.numel() == k:
        per = scale.reshape(k).numpy()
    else:  # TTQ: a scale per sign, not per channel
        raise _unsupported("the weights", name, f"{qname}: one scale per sign")
    w = codes.to(torch.int16 if kind == "int" else torch.int8).numpy()
    if w.ndim == 2:
        w = w[:, :, None, None]
    return kind, w, per


@dataclass(frozen=True)
class _Inputs:
    """A MAC layer's input quantiser in integer terms: the codes' kind and bits, the value
    of one code step (``scale``), and how the previous layer's ``z`` becomes a code:
    ``rule`` ``sign`` (``z ≥ 0``), ``dorefa`` (``round(clip(z, 0, α)·n/α)``, halves to even;
    α = 1 but for PACT), ``above`` (the count of ``edges`` strictly below ``z``: HWGQ's nearest
    positive level, 0 for ``z ≤ 0``, ties to the lower), ``abc`` or ``xnor``; and in a
    real-valued stream also ``uniform``."""

    kind: str
    bits: int
    scale: float
    rule: str
    edges: tuple[float, ...] = ()  # HWGQ
    shifts: tuple[float, ...] = ()  # ABC-Net: v_n, one per base
    betas: tuple[float, ...] = ()  # ABC-Net: β_n
    alpha: float | None = None  # PACT's clipping level (None: DoReFa's 1)
    window: tuple[float, ...] = ()  # XNOR-Net: kernel, stride, padding, 1 for a K map

    def params(self) -> tuple[float, ...]:
        """What a layer quantising a real-valued input stores (``in_params``): PACT's α or
        XNOR-Net's window; nothing otherwise."""
        return (self.alpha,) if self.alpha is not None else self.window

    def ranks(self) -> Any:
        """Each ABC base's place when the bases are ordered by their level ½ − v_n
        (ascending, i.e. v descending: a larger shift passes first)."""
        import numpy as np

        order = np.argsort(-np.array(self.shifts), kind="stable")
        ranks = np.empty(len(order), np.int64)
        ranks[order] = np.arange(len(order))
        return ranks


def _input_format(name: str, layer: Any) -> _Inputs:
    q = layer.input_quantizer
    qname = type(q).__name__
    if qname in _SIGN_ACTS and not layer.input_relu:
        return _Inputs("binary", 1, 1.0, "sign")
    if qname == "UniformSymmetric" and not layer.input_relu:
        # signed codes, a scale per sample: a real-valued input quantised by its layer
        return _Inputs("int", int(q.bits), 1.0, "uniform")
    if qname in ("DorefaActivation", "HWGQ", "Pact"):
        if q.bits > MAX_ACT_BITS:
            raise _unsupported("the inputs", name, f"{qname}, {q.bits} bits (at most "
                                                    f"{MAX_ACT_BITS})")
        if qname == "DorefaActivation":
            return _Inputs("int", int(q.bits), 1.0 / (2**q.bits - 1), "dorefa")
        if qname == "Pact":  # DoReFa's rounding on [0, α]: levels (j − ½)·α/n, step α/n
            alpha = float(q._alpha(q.alpha).detach())
            return _Inputs("int", int(q.bits), alpha / (2**q.bits - 1), "dorefa",
                           alpha=alpha)
        if q.variant != "uniform":  # its levels are a table, not multiples of one step
            raise _unsupported("the inputs", name, f"{qname}, {q.variant} levels (uniform "
                                                    "only)")
        levels = q.levels
        # ReLU before HWGQ changes nothing: both send z ≤ 0 to code 0
        edges = (0.0, *(0.5 * (a + b) for a, b in itertools.pairwise(levels)))
        return _Inputs("int", int(q.bits), float(levels[0]), "above", edges)
    if qname == "AbcActivation" and not layer.input_relu:
        # H_n = +1 iff clip(x + v_n, 0, 1) ≥ ½; the codes count the bases passed
        return _Inputs("bases", int(q.bases), 1.0, "abc",
                       shifts=tuple(float(v) for v in q.shift.detach().double()),
                       betas=tuple(float(b) for b in q.beta.detach().double()))
    if qname == "XnorActivation" and not layer.input_relu:
        # ±1 codes; K (or β) from the real-valued input multiplies the output: the layer
        # quantises a real-valued stream itself
        return _Inputs("binary", 1, 1.0, "xnor",
                       window=(float(q.kernel_size), float(q.stride), float(q.padding),
                              1.0 if q.mode == "k_map" else 0.0))
    raise _unsupported("the inputs", name, f"{qname}"
                       + (" after a ReLU" if layer.input_relu else ""))


def _thresholds(alpha: Any, beta: Any, nxt: _Inputs) -> tuple[Any, Any, Any]:
    """Integer thresholds on ``acc`` for ``z = alpha·acc + beta`` quantised as the next
    layer's input: binary ``z ≥ 0``; k-bit DoReFa ``round(clip(z, 0, 1)·n)`` = the count of
    ``z ≥ (j − ½)/n``, j = 1…n; HWGQ the count of edges ``e_j < z``."""
    import numpy as np

    if nxt.rule == "sign":
        levels = np.array([0.0])
    elif nxt.rule == "abc":  # z ≥ ½ − v_n, in the bases' rank order (a thermometer count)
        levels = np.sort(0.5 - np.array(nxt.shifts))
    elif nxt.rule == "dorefa":  # (PACT: on [0, α])
        levels = (np.arange(1, 2**nxt.bits) - 0.5) / (2**nxt.bits - 1)
        if nxt.alpha is not None:
            levels = levels * nxt.alpha
    else:
        levels = np.array(nxt.edges)
    d = np.sign(alpha).astype(np.int8)
    safe = np.where(alpha != 0, alpha, 1.0)
    bound = (levels[None, :] - beta[:, None]) / safe[:, None]
    if nxt.rule == "above":  # z > e: acc > bound (alpha > 0) or acc < bound (alpha < 0)
        t = np.where(d[:, None] > 0, np.floor(bound) + 1, np.ceil(bound) - 1)
    else:
        t = np.where(d[:, None] > 0, np.ceil(bound), np.floor(bound))
    if nxt.rule == "dorefa":  # torch.round halves to even: z·n = j − ½ gives j only for even j
        odd = (np.arange(1, 2**nxt.bits) % 2 == 1)[None, :]
        tie = (bound == np.round(bound)) & odd
        t = t + np.where(tie, np.where(d[:, None] > 0, 1, -1), 0)
    t = np.clip(np.nan_to_num(t, nan=0.0, posinf=_CAP, neginf=-_CAP), -_CAP, _CAP)
    if nxt.rule == "above":
        constant = (beta[:, None] > levels[None, :]).sum(axis=1)
    else:
        constant = (beta[:, None] >= levels[None, :]).sum(axis=1)
    return t.astype(np.int64), d, constant.astype(np.int64)


def lower_model(model: Any) -> Any:
    """A trained :class:`~reference.models.QuantNet` as a
    :class:`~workloads.lowered.LoweredNetwork` (see that module for the integer form).
    A layer, pool or edge it cannot lower is one :class:`ConfigError` line naming the module,
    its type and what is supported."""
    import numpy as np
    from torch import nn

    from reference.export import _bn_affine
    from reference.models import mac_layers
    from workloads.layers import Add, Pool
    from workloads.lowered import LoweredLayer, LoweredNetwork, pack_weight_planes

    for name, mac in mac_layers(model).items():  # (before the workload's gate layers)
        if mac.gate is not None:
            raise _unsupported("the gate", name, "Real-to-Binary gating: a real scale per "
                                                 "sample and channel, not a fixed threshold")
    entry = ZOO[model.network]
    net = entry.network(model.quant, num_classes=model.num_classes,
                        in_channels=model.input_shape[0])
    # a residual network carries a real-valued stream: every layer passes its batch-norm's
    # output on, and the next layers quantise it themselves (adds and pools act on it)
    real = any(isinstance(layer, Add) for layer in net.layers) or any(
        type(m.input_quantizer).__name__ == "XnorActivation" for m in mac_layers(model).values())
    for layer in net.layers:
        if isinstance(layer, Pool) and layer.mode != "max" and not real:
            module = model.get_submodule(layer.name)
            raise _unsupported("the pooling", layer.name, type(module).__name__)
    macs = mac_layers(model)
    modules = dict(model.named_modules())
    names = list(macs)
    first = macs[names[0]]
    first_in = _input_format(names[0], first)
    if first_in.rule == "xnor":  # its K would come from the pixels, which nothing keeps
        raise _unsupported("the inputs", names[0], "XnorActivation on the input pixels (the "
                                                   "first layer)")
    if first_in.kind == "binary" and model.input_transform == "centered":
        input_codes = "sign"
    elif (first_in.kind, first_in.bits, first_in.rule) == ("int", 8, "dorefa") \
            and first_in.alpha is None and model.input_transform == "unit":  # (not PACT)
        input_codes = "pixels"
    else:
        raise _unsupported("the input pixels", names[0],
                           f"{type(first.input_quantizer).__name__}, {first_in.bits} bits")
    lowered = {}
    was_training = model.training
    model.eval()
    try:
        for i, name in enumerate(names):
            mac = macs[name]
            w_kind, w, w_scale = _weights(name, mac)
            shape = tuple(int(v) for v in (w.shape[1:] if w_kind == "bases" else w.shape))
            w_bits = int(mac.weight_bits)
            if w_kind == "int":  # the planes the codes need (INQ's ±2^k exceed its b bits)
                w_bits = max(w_bits if type(mac.weight_quantizer).__name__ == "DorefaWeight"
                             else 1, int(np.abs(w).max()).bit_length())
                if w_bits > MAX_ACT_BITS:
                    raise _unsupported("the weights", name, f"codes of {w_bits} bits (at most "
                                                            f"{MAX_ACT_BITS})")
            k = shape[0]
            inputs = _input_format(name, mac)
            a_kind, a_bits, a_scale = inputs.kind, inputs.bits, inputs.scale
            bn = modules.get(f"{name}_bn")
            if bn is None:
                bn_scale, bn_shift = np.ones(k), np.zeros(k)
            elif isinstance(bn, nn.BatchNorm1d | nn.BatchNorm2d):
                bn_scale, bn_shift = _bn_affine(bn)
            else:
                raise _unsupported("the normalisation", f"{name}_bn", type(bn).__name__)
            if getattr(mac, "bias", None) is not None:
                raise _unsupported("the bias", name, type(mac).__name__)
            geometry = {"stride": int(getattr(mac, "stride", (1,))[0]),
                        "padding": int(getattr(mac, "padding", (0,))[0]),
                        "groups": int(getattr(mac, "groups", 1))}
            bases = w_kind == "bases"
            common: dict[str, Any] = {
                      "name": name, "kind": net.layer(name).kind.value, "shape": shape,
                      **geometry, "weight_kind": w_kind, "weight_bits": w_bits,
                      "weight_planes": pack_weight_planes(w_kind, w, w_bits),
                      "weight_scale": np.ones(k) if bases else np.asarray(w_scale, np.float64),
                      "base_scales": (np.asarray(w_scale, np.float64) if bases
                                      else np.zeros(0)),
                      "act_kind": a_kind, "act_bits": a_bits, "act_scale": a_scale}
            if a_kind == "bases":
                common.update(act_base_scales=np.array(inputs.betas, np.float64),
                              act_ranks=inputs.ranks())
            if real and (bases or a_kind == "bases"):
                raise _unsupported("the weights", name, "ABC-Net bases in a residual network")
            if real and i > 0:  # it quantises the real stream itself
                if inputs.rule not in ("sign", "uniform", "dorefa", "xnor"):
                    raise _unsupported("the inputs", name,
                                       f"{type(mac.input_quantizer).__name__} on a real-valued "
                                       "stream (sign, uniform, dorefa_act or xnor_act only)")
                if inputs.rule == "uniform" and w_kind != "int":  # signed codes: a MAC unit
                    raise _unsupported("the weights", name, f"{w_kind} weights against signed "
                                                             "uniform inputs (k-bit weights only)")
                common["in_rule"] = inputs.rule
                if inputs.rule in ("xnor", "dorefa"):  # (dorefa: PACT's α, if any)
                    common["in_params"] = np.array(inputs.params(), np.float64)
            elif inputs.rule == "uniform":
                raise _unsupported("the inputs", name, "UniformSymmetric outside a residual "
                                                       "network (its scale is per sample)")
            if i + 1 == len(names) or real:
                lowered[name] = LoweredLayer(out_kind="logits" if i + 1 == len(names)
                                             else "real", bn_scale=bn_scale,
                                             bn_shift=bn_shift, **common)
                continue
            nxt = _input_format(names[i + 1], macs[names[i + 1]])
            if bases or a_kind == "bases":  # a real combination of M·N integer sums
                params = {"sign": (), "dorefa": (2**nxt.bits - 1, *nxt.params()),
                          "above": nxt.edges, "abc": nxt.shifts}[nxt.rule]
                lowered[name] = LoweredLayer(
                    out_kind=nxt.kind, out_bits=nxt.bits,
                    z_rule=nxt.rule, z_params=np.array(params, np.float64),
                    bn_scale=bn_scale, bn_shift=bn_shift, **common)
                continue
            alpha = bn_scale * a_scale * w_scale
            t, d, const = _thresholds(alpha, bn_shift, nxt)
            lowered[name] = LoweredLayer(out_kind=nxt.kind, out_bits=nxt.bits, thresholds=t,
                                         direction=d, code_if_constant=const, **common)
    finally:
        model.train(was_training)
    info = {"zoo": model.network, "quant": model.quant.to_dict(),
            "num_classes": model.num_classes, "in_channels": model.input_shape[0]}
    return LoweredNetwork(net, lowered, input_codes, f"model:{model.network}", info)


def _exact_acc(m: Any, codes: Any, w_codes: Any) -> Any:
    """The exact integer multiply-accumulate of a module on integer codes (float64)."""
    import torch

    codes, w_codes = codes.to(torch.float64), w_codes.to(torch.float64)
    if codes.dim() == 4:
        return torch.nn.functional.conv2d(codes, w_codes, None, m.stride, m.padding,
                                          m.dilation, m.groups)
    return torch.nn.functional.linear(codes, w_codes.reshape(w_codes.shape[0], -1))


def lowered_from_checkpoint(path: str | Path) -> Any:
    """Load, verify and lower a checkpoint (``bnnsim lower``, ``bnnsim verify``)."""
    from reference.checkpoint import build_from_checkpoint

    model = build_from_checkpoint(path)
    try:
        lowered = lower_model(model)
    except ConfigError as err:
        raise err.with_context(file=str(path)) from None
    return type(lowered)(lowered.network, lowered.layers, lowered.input_codes,
                         f"checkpoint:{path}", lowered.meta)


def reference_pre_activations(model: Any, lowered: Any, pixels: Any, *, batch: int = 500,
                              exact: bool = True
                              ) -> tuple[dict[str, Any], Any, dict[str, float]]:
    """What the torch model computes for uint8 images ``pixels`` (N, C, H, W), in the lowered
    network's integer terms: per MAC layer its integer pre-activations (int64), the logits
    (float64), and per layer the largest distance of the raw output from ``act_scale ·
    weight_scale · integer`` in units of that scale.

    ``exact=True`` (what ``verify`` judges by): the model runs in float64 with each
    multiply-accumulate replaced by the exact one on its quantisers' integer codes (a forward
    hook: ``acc`` = the convolution of input codes by weight codes, exact in float64 below
    2^53; the layer's output ``act_scale · weight_scale · acc``); batch-norm, quantisers,
    pooling and flattening are torch's own. Float sums would otherwise put a zero
    pre-activation at ±1e-16 and flip its sign. ``exact=False``: the model as it is (float32
    as trained), its integers recovered as ``round(y / scale)`` — for information."""
    import numpy as np
    import torch

    from reference.models import mac_layers

    macs = mac_layers(model)
    raw: dict[str, list[Any]] = {name: [] for name in macs}
    accs: dict[str, list[Any]] = {name: [] for name in macs}
    logits = []

    def exact_mac(name: str, *, replace: bool = True) -> Any:
        def hook(m: Any, inputs: tuple[Any, ...], out: Any) -> Any:
            x = m.input_activation(inputs[0])
            a_terms = m.input_quantizer.int_repr(x)
            w_terms = m.weight_quantizer.int_repr(m.weight.detach())
            if isinstance(a_terms, list) or isinstance(w_terms, list):
                return bases_mac(m, a_terms, w_terms, out, replace)
            codes, s_a = a_terms
            w_codes, s_w = w_terms
            acc = _exact_acc(m, codes, w_codes)
            accs[name].append(acc.round().to(torch.int64).numpy())
            scale = s_w.to(torch.float64).reshape(-1)
            shape = [1, -1] + [1] * (acc.dim() - 2)
            scale = (scale if scale.numel() > 1 else scale.expand(acc.shape[1])).reshape(shape)
            if type(m.input_quantizer).__name__ == "XnorActivation":
                # XNOR-Net's K at the output positions (or β per sample) times the output
                s_a = m.input_quantizer.output_scale(x).to(torch.float64)
                return ((acc * s_a) * scale).to(out.dtype)
            if s_a.numel() > 1:  # a scale per sample (the signed uniform quantiser)
                s_a = s_a.to(torch.float64).reshape([-1] + [1] * (acc.dim() - 1))
                return ((acc * s_a) * scale).to(out.dtype)
            return (acc * float(s_a) * scale).to(out.dtype)

        def bases_mac(m: Any, a_terms: Any, w_terms: Any, out: Any, replace: bool) -> Any:
            # ABC-Net: every (weight base, input base) pair's integer sum, and their real
            # combination Σ_m Σ_n (α_m·β_n)·P_mn in the order the lowered layer combines them
            a_list = a_terms if isinstance(a_terms, list) else [a_terms]
            w_list = w_terms if isinstance(w_terms, list) else [w_terms]
            parts, y = [], None
            for w_codes, s_w in w_list:
                sw = s_w.to(torch.float64).reshape(-1)
                for codes, s_a in a_list:
                    acc = _exact_acc(m, codes, w_codes)
                    parts.append(acc.round().to(torch.int64).numpy())
                    shape = [1, -1] + [1] * (acc.dim() - 2)
                    s = (sw * s_a.to(torch.float64)).reshape(-1)
                    s = (s if s.numel() > 1 else s.expand(acc.shape[1])).reshape(shape)
                    term = acc * s
                    y = term if y is None else y + term
            accs[name].append(np.stack(parts, axis=1))
            assert y is not None
            return y.to(out.dtype) if replace else out
        return hook

    if exact:
        model = copy.deepcopy(model).double()
        macs = mac_layers(model)
    multi = {name for name, x in lowered.layers.items() if x.multi_term}
    hooks = [m.register_forward_hook(
                 exact_mac(name) if exact else
                 exact_mac(name, replace=False) if name in multi else  # the float model's codes
                 (lambda _m, _i, out, n=name: raw[n].append(out.detach().double().numpy())))
             for name, m in macs.items()]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(pixels), batch):
                x = torch.from_numpy(np.ascontiguousarray(pixels[i:i + batch])).to(
                    torch.float64 if exact else torch.float32) / 255.0
                logits.append(model(x).double().numpy())
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    pre: dict[str, Any] = {}
    frac: dict[str, float] = {}
    for name, x in lowered.layers.items():
        if exact or name in multi:
            pre[name] = np.concatenate(accs[name])
            frac[name] = 0.0
            continue
        y = np.concatenate(raw[name])
        shape = [1, -1] + [1] * (y.ndim - 2)
        scale = x.act_scale * x.weight_scale.reshape(shape)
        with np.errstate(divide="ignore", invalid="ignore"):  # a zero scale: y is 0
            q = np.where(scale != 0, y / np.where(scale != 0, scale, 1.0), 0.0)
        pre[name] = np.rint(q).astype(np.int64)
        frac[name] = float(np.abs(q - pre[name]).max(initial=0.0))
    return pre, np.concatenate(logits).reshape(len(pixels), -1), frac
