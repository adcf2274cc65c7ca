"""Optimisers and schedules against hand computations."""

import math

import pytest
import torch

from vssl.core.errors import ConfigError
from vssl.core.optim import LARS, OptimConfig, build_optimizer, build_scheduler, warmup_cosine_factor


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
