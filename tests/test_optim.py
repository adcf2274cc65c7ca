"""Optimisers and schedules against hand computations."""

import copy
import math
import subprocess
import sys

import pytest
import torch
from torch import nn

from vssl.core.errors import ConfigError
from vssl.core.optim import (LARS, OptimConfig, build_optimizer, build_scheduler, make_eval_optimizer, schedule_factor,
                             warmup_cosine_factor)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_lars_step_by_hand():
    weight = torch.nn.Parameter(torch.tensor([[3.0, 4.0]]))  # ‖w‖ = 5
    bias = torch.nn.Parameter(torch.tensor([1.0]))
    optimizer = LARS([weight, bias], lr=1.0, momentum=0.0, weight_decay=0.0, trust=0.001)
    weight.grad = torch.tensor([[0.6, 0.8]])  # ‖g‖ = 1 → local rate 0.001·5/1 = 0.005
    bias.grad = torch.tensor([0.5])  # 1-D: plain SGD step
    optimizer.step()
    assert torch.allclose(weight, torch.tensor([[3.0 - 0.003, 4.0 - 0.004]]))
    assert torch.allclose(bias, torch.tensor([0.5]))


def test_lars_weight_decay_and_momentum_by_hand():
    weight = torch.nn.Parameter(torch.tensor([[1.0, 0.0]]))
    optimizer = LARS([weight], lr=0.1, momentum=0.9, weight_decay=1.0, trust=1.0)
    weight.grad = torch.tensor([[0.0, 1.0]])  # g + wd·w = [1, 1], ‖·‖ = √2, ‖w‖ = 1 → scaled to [1, 1]/√2
    optimizer.step()
    first = torch.tensor([[1.0, 0.0]]) - 0.1 * torch.tensor([[1.0, 1.0]]) / math.sqrt(2)
    assert torch.allclose(weight, first, atol=1e-6)


def test_build_optimizer_names_and_unknown():
    params = [torch.nn.Parameter(torch.ones(2, 2))]
    assert isinstance(build_optimizer(params, OptimConfig(name="lars")), LARS)
    from vssl.core.errors import ConfigError
    with pytest.raises(ConfigError, match="optim.name.*'rmsprop'"):
        build_optimizer(params, OptimConfig(name="rmsprop"))


def test_warmup_cosine_factor():
    assert warmup_cosine_factor(0, 10, 110, 0.1) == pytest.approx(0.1)
    assert warmup_cosine_factor(5, 10, 110, 0.1) == pytest.approx(0.55)
    assert warmup_cosine_factor(10, 10, 110, 0.1) == pytest.approx(1.0)
    assert warmup_cosine_factor(60, 10, 110, 0.1) == pytest.approx(0.5)  # half-way through the cosine
    assert warmup_cosine_factor(110, 10, 110, 0.1) == pytest.approx(0.0)


def test_step_schedule_by_hand():
    """Warm-up over 1 epoch of 4 steps from 0.01 to 0.1, then ×0.1 at epochs 2 and 3."""
    param = torch.nn.Parameter(torch.zeros(1))
    config = OptimConfig(name="sgd", lr=0.1, warmup_epochs=1, warmup_start_lr=0.01, schedule="step",
                         milestones=(2, 3), gamma=0.1)
    optimizer = build_optimizer([param], config)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch=4, total_steps=20)
    lrs = []
    for _ in range(16):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    expected = [0.01, 0.0325, 0.055, 0.0775] + [0.1] * 4 + [0.01] * 4 + [0.001] * 4
    assert lrs == pytest.approx(expected)


def test_unknown_schedule_names_the_key():
    config = OptimConfig(schedule="poly")
    optimizer = build_optimizer([torch.nn.Parameter(torch.zeros(1))], config)
    with pytest.raises(ConfigError, match="optim.schedule.*poly"):
        build_scheduler(optimizer, config, steps_per_epoch=4, total_steps=20)


# the eval presets' settings (src/vssl/configs/eval): SGD (momentum 0.9) at LR 4.0 (rho_linear_k400) and 0.025
# (rho_finetune_ucf101), Adam at 0.01 (severe_linear) and 1e-4 (severe_finetune), all without weight decay; and
# weight decay 1e-4, which a user may set
EVAL_SETTINGS = [("sgd", 4.0, 0.0), ("sgd", 0.025, 0.0), ("sgd", 0.025, 1e-4),
                 ("adam", 0.01, 0.0), ("adam", 1e-4, 0.0), ("adam", 1e-4, 1e-4)]


def torch_optimizer(name, params, lr, weight_decay, foreach):
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay, foreach=foreach)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, foreach=foreach)


@pytest.mark.parametrize("device, foreach", [("cpu", None), ("cpu", True), pytest.param("cuda", None, marks=CUDA)])
@pytest.mark.parametrize("name, lr, weight_decay", EVAL_SETTINGS)
def test_eval_optimizer_is_bit_identical_to_torch_optim(name, lr, weight_decay, device, foreach):
    """24 steps under a warm-up + step schedule (as LambdaLR); a layer joins at step 6 (its first update then,
    as when a parameter has no gradient), and every parameter must equal torch.optim's exactly, every step."""
    torch.manual_seed(0)
    ours = nn.ModuleList([nn.Linear(6, 5), nn.Linear(5, 3), nn.Linear(6, 3)]).to(device)
    theirs = copy.deepcopy(ours)
    factor = schedule_factor("step", 4, 24, warmup_epochs=1, start_factor=0.1, milestones=(3, 5), gamma=0.1)
    optimizer = make_eval_optimizer(name, ours.parameters(), lr, weight_decay, "linear.optimizer", factor)
    reference = torch_optimizer(name, theirs.parameters(), lr, weight_decay, foreach)
    scheduler = torch.optim.lr_scheduler.LambdaLR(reference, factor)
    for step in range(24):
        x, y = torch.randn(8, 6, device=device), torch.randint(0, 3, (8,), device=device)
        for model, opt in ((ours, optimizer), (theirs, reference)):
            opt.zero_grad()
            logits = model[1](model[0](x).relu()) + (model[2](x) if step >= 6 else 0)
            nn.functional.cross_entropy(logits, y).backward()
            opt.step()
        optimizer.next_lr()
        scheduler.step()
        assert optimizer.param_groups[0]["lr"] == reference.param_groups[0]["lr"]
        assert all(torch.equal(a, b) for a, b in zip(ours.parameters(), theirs.parameters(), strict=True)), step


def test_eval_optimizer_names_the_key():
    with pytest.raises(ConfigError, match="finetune.optimizer.*'adamw'"):
        make_eval_optimizer("adamw", [nn.Parameter(torch.zeros(1))], 0.1, 0.0, "finetune.optimizer", lambda s: 1.0)


def test_eval_optimizer_does_not_import_dynamo():
    """torch.optim.Optimizer's construction and step import torch._dynamo (about 1.5 s); the eval optimisers not."""
    code = ("import sys, torch; from vssl.core.optim import make_eval_optimizer\n"
            "layer = torch.nn.Linear(3, 2)\n"
            "for name in ('sgd', 'adam'):\n"
            "    opt = make_eval_optimizer(name, layer.parameters(), 0.1, 1e-4, 'key', lambda s: 1.0)\n"
            "    layer(torch.ones(1, 3)).sum().backward(); opt.step(); opt.next_lr(); opt.zero_grad()\n"
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
