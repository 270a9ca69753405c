"""Training on synthetic data: the loss falls, runs are reproducible, optimisers behave."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from reference.data import synthetic_dataset
from reference.models import build_model, mac_layers
from reference.train import Bop, _schedule, evaluate, train
from workloads.errors import ConfigError


def _pair(shape: tuple[int, int, int], n_train: int, n_test: int):
    return (synthetic_dataset(split="train", shape=shape, size=n_train),
            synthetic_dataset(split="test", shape=shape, size=n_test))


def test_lfc_learns_synthetic_data() -> None:
    result = train("lfc", "w1a1", _pair((1, 28, 28), 512, 256), 3, batch_size=64, lr=5e-3,
                   seed=0, progress=False)
    losses = [h.loss for h in result.history]
    assert losses[-1] < losses[0]
    assert result.accuracy > 0.9  # ten templates, each clearly visible through the noise
    assert result.steps == 3 * 8
    assert not result.model.training
    # Latent binary weights stay clipped to [−1, 1].
    for layer in mac_layers(result.model).values():
        assert float(layer.weight.detach().abs().max()) <= 1.0


def test_pact_learns_synthetic_data_and_its_alpha_moves() -> None:
    """PACT's clipping levels are trained with the weights (and the loss falls)."""
    quant = {"default": {"weights": {"kind": "binary", "quantizer": "sign"},
                         "activations": {"kind": "int", "bits": 2, "quantizer": "pact"}}}
    result = train("sfc", quant, _pair((1, 28, 28), 512, 128), 3, batch_size=64, lr=5e-3,
                   seed=0, progress=False)
    losses = [h.loss for h in result.history]
    assert losses[-1] < losses[0]
    alphas = [float(m.alpha.detach()) for m in result.model.modules() if hasattr(m, "alpha")
              and isinstance(m.alpha, nn.Parameter)]
    assert alphas and any(abs(a - 10.0) > 1e-3 for a in alphas)


def test_inq_trains_in_stages_to_powers_of_two(tmp_path) -> None:
    """INQ (5-bit weights, the paper's 50 / 75 / 87.5 / 100 % schedule over the run): the loss
    falls, every final weight is ±2^n or 0, the checkpoint (with the freeze masks) reads back,
    and the network lowers and runs bit-exact."""
    import numpy as np

    from reference.checkpoint import build_from_checkpoint
    from reference.lowering import lower_model, reference_pre_activations
    from reference.quantizers import IncrementalPow2
    from simulator.functional import execute

    quant = {"default": {"weights": {"kind": "int", "bits": 5, "quantizer": "inq"},
                         "activations": {"kind": "int", "bits": 2, "quantizer": "dorefa_act"}},
             "first": "w8a8", "last": "w8a8"}
    result = train("sfc", quant, _pair((1, 28, 28), 512, 128), 4, batch_size=64, lr=5e-3,
                   seed=0, progress=False, out=tmp_path / "inq.pt")
    losses = [h.loss for h in result.history]
    assert losses[-1] < losses[0]
    inq = [m for m in result.model.modules() if isinstance(m, IncrementalPow2)]
    assert inq and all(q.complete for q in inq)
    for layer in mac_layers(result.model).values():
        if isinstance(layer.weight_quantizer, IncrementalPow2):
            w = layer.quantized_weight().detach().double()
            nonzero = w[w != 0].abs()
            assert torch.equal(torch.exp2(torch.round(torch.log2(nonzero))), nonzero)
    back = build_from_checkpoint(tmp_path / "inq.pt")
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(back(x), result.model(x))
    lowered = lower_model(back)
    pixels = (np.random.default_rng(0).random((4, 1, 28, 28)) * 255).astype(np.uint8)
    run = execute(lowered, pixels)
    ref, _, _ = reference_pre_activations(back, lowered, pixels)
    assert all(np.array_equal(ref[n], run.pre_activations[n]) for n in lowered.layers)


def test_a_short_inq_run_still_freezes_every_weight() -> None:
    """Stages that would start past the last step start on it: one step freezes all."""
    from reference.quantizers import IncrementalPow2

    quant = {"default": {"weights": {"kind": "int", "bits": 4, "quantizer": "inq"},
                         "activations": {"kind": "int", "bits": 2, "quantizer": "dorefa_act"}}}
    for steps in (1, 2, 3):
        result = train("sfc", quant, _pair((1, 28, 28), 128, 32), 1, batch_size=64,
                       seed=0, progress=False, max_steps=steps)
        inq = [m for m in result.model.modules() if isinstance(m, IncrementalPow2)]
        assert inq and all(q.complete for q in inq), steps


def test_same_seed_same_weights() -> None:
    data = _pair((1, 28, 28), 128, 32)
    a = train("sfc", "w1a2", data, 1, batch_size=32, seed=3, progress=False, max_steps=3)
    b = train("sfc", "w1a2", data, 1, batch_size=32, seed=3, progress=False, max_steps=3)
    c = train("sfc", "w1a2", data, 1, batch_size=32, seed=4, progress=False, max_steps=3)
    sa, sb, sc = (r.model.state_dict() for r in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


@pytest.mark.parametrize("name", ["cnv", "bnn-cifar10"])
def test_cifar_models_train_a_few_steps(name: str) -> None:
    data = _pair((3, 32, 32), 8, 4)
    data[0].augment = True
    result = train(name, "w1a1", data, 1, batch_size=4, seed=0, progress=False, max_steps=2)
    assert result.steps == 2 and len(result.history) == 1
    assert 0.0 <= result.accuracy <= 1.0


def test_bop_flips_binary_weights_and_adam_trains_the_rest() -> None:
    data = _pair((1, 28, 28), 256, 64)
    torch.manual_seed(0)  # train() seeds torch with `seed` right before building the model
    initial = {n: layer.weight.detach().clone()
               for n, layer in mac_layers(build_model("sfc", "w1a1", num_classes=10)).items()}

    def flips(model: nn.Module) -> int:
        return sum(int(((layer.weight >= 0) != (initial[n] >= 0)).sum())
                   for n, layer in mac_layers(model).items())

    # Control: with an unreachable threshold nothing flips, so `initial` is the real start.
    frozen = train("sfc", "w1a1", data, 1, batch_size=32, optimizer="bop", bop_gamma=1e-2,
                   bop_threshold=1e9, seed=0, progress=False, max_steps=2)
    assert flips(frozen.model) == 0
    result = train("sfc", "w1a1", data, 2, batch_size=32, optimizer="bop", bop_gamma=1e-2,
                   bop_threshold=1e-6, seed=0, progress=False)
    for layer in mac_layers(result.model).values():
        assert torch.all(layer.weight.abs() == 0.5)  # only signs change under Bop
    assert flips(result.model) > 0
    assert result.history[-1].loss < result.history[0].loss


def test_bop_rule() -> None:
    w = nn.Parameter(torch.tensor([0.5, 0.5, -0.5, -0.5]))
    opt = Bop([w], lr=0.5, threshold=0.1)
    w.grad = torch.tensor([1.0, -1.0, 1.0, 0.01])
    opt.step()
    # m = 0.5·g: flip where |m| > 0.1 and sign(m) == sign(w).
    assert w.tolist() == [-0.5, 0.5, -0.5, -0.5]
    with pytest.raises(ValueError):
        Bop([w], lr=0.0)


def test_bnnplus_regulariser_and_step_schedule_run() -> None:
    data = _pair((1, 28, 28), 64, 16)
    result = train("sfc", "w1a1", data, 1, batch_size=32, bnnplus_reg=1e-4, schedule="step",
                   seed=0, progress=False)
    assert math.isfinite(result.history[0].loss)


def test_schedules() -> None:
    cosine, step = _schedule("cosine", 100), _schedule("step", 100)
    assert cosine(0) == 1.0 and abs(cosine(50) - 0.5) < 1e-12 and cosine(100) == 0.0
    assert step(49) == 1.0 and abs(step(50) - 0.1) < 1e-12 and abs(step(75) - 0.01) < 1e-12
    with pytest.raises(ConfigError):
        _schedule("linear", 10)  # type: ignore[arg-type]


def test_bad_inputs_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="takes 1×28×28 inputs"):
        train("lfc", "w1a1", _pair((3, 32, 32), 8, 4), 1, progress=False)
    with pytest.raises(ConfigError, match="zoo networks"):
        train("mlp", "w1a1", "synthetic", 1, progress=False)
    with pytest.raises(ConfigError, match="adam, bop"):
        train("lfc", "w1a1", "synthetic", 1, optimizer="sgd", progress=False)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not a quantisation spec"):
        train("lfc", "w9a9x", "synthetic", 1, progress=False)


@pytest.mark.parametrize("stages", [(0.5, 0.75), (0.75, 0.5, 1.0), (), (0.0, 1.0), (0.5, 1.5)])
def test_bad_inq_stages_are_config_errors(stages: tuple) -> None:
    with pytest.raises(ConfigError, match=r"key 'inq_stages'.*increasing portions"):
        train("sfc", "w1a1", "synthetic", 1, progress=False, inq_stages=stages)


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"lr": math.nan}, "lr"), ({"lr": math.inf}, "lr"), ({"lr": 0.0}, "lr"),
    ({"bnnplus_reg": -1.0}, "bnnplus_reg"), ({"bnnplus_reg": math.nan}, "bnnplus_reg"),
    ({"bnnplus_reg": math.inf}, "bnnplus_reg"),
    ({"pact_decay": -1.0}, "pact_decay"), ({"pact_decay": math.nan}, "pact_decay"),
])
def test_non_finite_or_negative_hyperparameters_are_config_errors(kwargs: dict,
                                                                  key: str) -> None:
    with pytest.raises(ConfigError, match=f"key '{key}'.*finite"):
        train("sfc", "w1a1", "synthetic", 1, progress=False, **kwargs)


def test_evaluate_model_on_dataset() -> None:
    data = _pair((1, 28, 28), 64, 32)
    result = train("sfc", "w1a1", data, 1, batch_size=32, seed=0, progress=False)
    again = evaluate(result.model, data[1])
    assert again.samples == 32 and again.accuracy == result.accuracy


@pytest.mark.parametrize("label", sorted(__import__("reference.methods").methods.METHODS))
def test_every_method_trains_and_its_loss_goes_down(label: str) -> None:
    """Each method of ``reference.methods`` (its quantisers on SFC's body; Real-to-Binary's
    gates here without its distillation, which tests/reference/test_distill.py covers) trains
    a few steps on synthetic data and its loss goes down."""
    from reference.methods import METHODS

    result = train("sfc", METHODS[label].quant, _pair((1, 28, 28), 192, 32), 3, batch_size=64,
                   lr=5e-3, seed=0, progress=False)
    losses = [h.loss for h in result.history]
    assert all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0], losses
