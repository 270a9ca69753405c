"""Export of a trained model's weights in their packed hardware form.

Per MAC layer ``L`` the archive holds (all numpy, no pickles):

* ``L.weight.kind`` (``binary`` | ``ternary`` | ``int`` | ``bases`` | ``float``) and
  ``L.weight.shape``.
* binary: ``L.weight.bits`` — ``q ≥ 0`` packed 8 per byte (``np.packbits``, big bit order),
  one byte-aligned row per output channel; ``L.weight.scale`` — per-channel magnitude.
* ternary: ``L.weight.sign`` (1 where ``q > 0``) and ``L.weight.mask`` (1 where ``q ≠ 0``),
  packed the same way; ``L.weight.scale_pos`` / ``L.weight.scale_neg`` per channel
  (equal for TWN, two learnt values for TTQ).
* int (k bits): codes ``c`` with ``q = offset + step·c``; k < 8 as ``L.weight.planes``
  (``k × out × ceil(fan_in/8)``, plane b holds bit b), k = 8 as uint8 ``L.weight.codes``,
  k > 8 as uint16 codes; ``L.weight.step``, ``L.weight.offset``: one entry, or one per
  output channel when the scale is per channel (``uniform``).
* bases (ABC-Net, M bases): ``L.weight.bases`` (``M × out × ceil(fan_in/8)``, base i's
  ±1 codes packed as above) and ``L.weight.scales`` (M), from the quantiser's ``int_repr``.
* float (and any format whose values cannot be re-expressed exactly): the quantised weights
  as float32 ``L.weight.values``.
* ``L.bn.scale`` / ``L.bn.shift``: the following batch-norm as ``y·scale + shift``.
* ``L.threshold`` / ``L.threshold_dir``: when the next layer's input quantiser is binary (plain
  networks only), the folded BN + sign: output bit is +1 iff ``y ≥ threshold`` (dir +1) or
  ``y ≤ threshold`` (dir −1), with ``y`` the layer's raw output (quantised input × quantised
  weights, scales included); dir 0 means constant (+1 if threshold ≤ 0, else −1). Max-pools
  between the layers commute with the compare (an OR of bits).

``L.input_relu`` (bool) says whether a ReLU precedes the layer's input quantiser.
``meta.*`` entries name the network, its quantisation (JSON) and the input transform.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from reference.layers import QConv2d, QLinear
from reference.models import QuantNet, mac_layers

__all__ = ["pack_weights", "save_packed"]


def _pack_rows(bits: np.ndarray) -> np.ndarray:
    """Pack a boolean ``out × fan_in`` array 8 per byte, each row byte-aligned."""
    return np.packbits(bits.astype(np.uint8), axis=1)


def _per_channel_max(values: np.ndarray) -> np.ndarray:
    return values.max(axis=1) if values.shape[1] else np.zeros(values.shape[0], np.float32)


def _exact(q: np.ndarray, rebuilt: np.ndarray) -> bool:
    tol = 1e-5 * max(float(np.abs(q).max(initial=0.0)), 1e-12)
    return bool(np.allclose(q, rebuilt, rtol=0.0, atol=tol))


def _pack_binary(name: str, q: np.ndarray) -> dict[str, np.ndarray] | None:
    scale = np.abs(q).mean(axis=1).astype(np.float32)
    signs = q >= 0
    if not _exact(q, np.where(signs, 1.0, -1.0) * scale[:, None]):
        return None
    return {f"{name}.weight.bits": _pack_rows(signs), f"{name}.weight.scale": scale}


def _pack_ternary(name: str, q: np.ndarray) -> dict[str, np.ndarray] | None:
    pos, neg = q > 0, q < 0
    scale_pos = _per_channel_max(np.where(pos, q, 0.0)).astype(np.float32)
    scale_neg = _per_channel_max(np.where(neg, -q, 0.0)).astype(np.float32)
    rebuilt = np.where(pos, scale_pos[:, None], 0.0) - np.where(neg, scale_neg[:, None], 0.0)
    if not _exact(q, rebuilt):
        return None
    return {f"{name}.weight.sign": _pack_rows(pos), f"{name}.weight.mask": _pack_rows(pos | neg),
            f"{name}.weight.scale_pos": scale_pos, f"{name}.weight.scale_neg": scale_neg}


def _int_codes(layer: QConv2d | QLinear,
               q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Unsigned codes ``u`` with ``q = offset + step·u`` per row, from the quantiser's ``int_repr``.

    The signed codes ``c`` of ``int_repr`` may use a stride (DoReFa's are odd); dividing by the
    exact integer gcd of their differences gives the dense grid. Its scale may be one number
    or one per output channel (``uniform``); ``step``/``offset`` have one entry per row.
    Without ``int_repr`` the grid is inferred from the values (smallest gap between levels).
    """
    rows = q.shape[0]
    int_repr = getattr(layer.weight_quantizer, "int_repr", None)
    if int_repr is not None:
        rep = int_repr(layer.weight.detach())
        if isinstance(rep, list) or rep[1].numel() not in (1, rows):
            return None
        codes = rep[0].reshape(rep[0].shape[0], -1).cpu().numpy().astype(np.int64)
        scale = np.broadcast_to(rep[1].detach().double().cpu().numpy().reshape(-1), (rows,))
        levels = np.unique(codes)
        stride = int(np.gcd.reduce(np.diff(levels))) if levels.size > 1 else 1
        return (codes - levels[0]) // stride, scale * stride, scale * float(levels[0])
    levels = np.unique(q)
    step = float(np.diff(levels).min()) if levels.size > 1 else 1.0
    return (np.rint((q - levels[0]) / step).astype(np.int64), np.full(rows, step),
            np.full(rows, float(levels[0])))


def _per_row(values: np.ndarray) -> np.ndarray:
    """One float32 entry when every row shares the value, else one per row."""
    same = values.size > 0 and bool(np.all(values == values[0]))
    return np.asarray(values[:1] if same else values, dtype=np.float32)


def _pack_int(name: str, layer: QConv2d | QLinear, q: np.ndarray) -> dict[str, np.ndarray] | None:
    found = _int_codes(layer, q)
    bits = layer.weight_bits
    if found is None:
        return None
    codes, step, offset = found
    step_f, offset_f = _per_row(step), _per_row(offset)
    rebuilt = offset_f.astype(np.float64)[:, None] + step_f.astype(np.float64)[:, None] * codes
    if codes.max(initial=0) >= 2**bits or not _exact(q, rebuilt):
        return None
    out: dict[str, np.ndarray] = {f"{name}.weight.step": step_f,
                                  f"{name}.weight.offset": offset_f}
    if bits < 8:
        planes = [_pack_rows((codes >> b) & 1) for b in range(bits)]
        out[f"{name}.weight.planes"] = np.stack(planes)
    else:
        out[f"{name}.weight.codes"] = codes.astype(np.uint8 if bits == 8 else np.uint16)
    return out


def _pack_bases(name: str, layer: QConv2d | QLinear, q: np.ndarray) -> dict[str, np.ndarray] | None:
    int_repr = getattr(layer.weight_quantizer, "int_repr", None)
    if int_repr is None:
        return None
    rep = int_repr(layer.weight.detach())
    if not isinstance(rep, list):
        return None
    planes = [_pack_rows(codes.reshape(codes.shape[0], -1).cpu().numpy() > 0)
              for codes, _ in rep]
    scales = np.array([float(scale) for _, scale in rep], dtype=np.float32)
    rebuilt = sum(codes.reshape(codes.shape[0], -1).double().cpu().numpy() * float(scale)
                  for codes, scale in rep)
    if not _exact(q, np.asarray(rebuilt)):
        return None
    return {f"{name}.weight.bases": np.stack(planes), f"{name}.weight.scales": scales}


def _pack_layer(name: str, layer: QConv2d | QLinear) -> dict[str, np.ndarray]:
    weight = layer.quantized_weight().detach().to(torch.float64).cpu().numpy()
    q = weight.reshape(weight.shape[0], -1)
    kind = layer.weight_kind
    packed: dict[str, np.ndarray] | None = None
    if kind == "binary":
        packed = _pack_binary(name, q)
    elif kind == "ternary":
        packed = _pack_ternary(name, q)
    elif kind == "int":
        packed = _pack_int(name, layer, q)
    elif kind == "bases":
        packed = _pack_bases(name, layer, q)
    if packed is None:
        kind = "float"
        packed = {f"{name}.weight.values": weight.astype(np.float32)}
    packed[f"{name}.weight.kind"] = np.array(kind)
    packed[f"{name}.weight.shape"] = np.array(weight.shape, dtype=np.int64)
    return packed


def _bn_affine(bn: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    assert isinstance(bn, nn.BatchNorm1d | nn.BatchNorm2d)
    assert bn.running_mean is not None and bn.running_var is not None
    inv_std = torch.rsqrt(bn.running_var.double() + bn.eps)
    gamma = bn.weight.double() if bn.weight is not None else torch.ones_like(inv_std)
    beta = bn.bias.double() if bn.bias is not None else torch.zeros_like(inv_std)
    scale = gamma * inv_std
    shift = beta - bn.running_mean.double() * scale
    return scale.detach().numpy(), shift.detach().numpy()


def _thresholds(scale: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    direction = np.sign(scale).astype(np.int8)
    with np.errstate(divide="ignore", invalid="ignore"):
        threshold = np.where(scale != 0, -shift / np.where(scale != 0, scale, 1.0),
                             np.where(shift >= 0, -np.inf, np.inf))
    return threshold.astype(np.float32), direction


def pack_weights(model: nn.Module) -> dict[str, np.ndarray]:
    """The packed weights, scales and folded batch-norms of every MAC layer (see module doc)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            layers = mac_layers(model)
            modules = dict(model.named_modules())
            names = list(layers)
            out: dict[str, np.ndarray] = {}
            for i, (name, layer) in enumerate(layers.items()):
                out.update(_pack_layer(name, layer))
                out[f"{name}.input_relu"] = np.array(layer.input_relu)
                bn = modules.get(f"{name}_bn")
                if bn is None:
                    continue
                scale, shift = _bn_affine(bn)
                out[f"{name}.bn.scale"] = scale.astype(np.float32)
                out[f"{name}.bn.shift"] = shift.astype(np.float32)
                nxt = layers[names[i + 1]] if i + 1 < len(names) else None
                if isinstance(model, QuantNet) and not model.residual and nxt is not None \
                        and nxt.input_kind == "binary":
                    out[f"{name}.threshold"], out[f"{name}.threshold_dir"] = \
                        _thresholds(scale, shift)
    finally:
        model.train(was_training)
    if isinstance(model, QuantNet):
        out["meta.network"] = np.array(model.network)
        out["meta.quant"] = np.array(json.dumps(model.quant.to_dict(), sort_keys=True))
        out["meta.input_transform"] = np.array(model.input_transform)
        out["meta.layers"] = np.array(names)
    return out


def save_packed(model: nn.Module, path: str | Path) -> Path:
    """Write :func:`pack_weights` to an uncompressed ``.npz`` (its size is the real storage)."""
    p = Path(path)
    if p.suffix != ".npz":
        p = p.with_suffix(p.suffix + ".npz")
    p.parent.mkdir(parents=True, exist_ok=True)
    np.savez(p, **pack_weights(model))  # type: ignore[arg-type]
    return p
