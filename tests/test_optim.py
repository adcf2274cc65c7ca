"""Optimisers and schedules against hand computations."""

import math

import pytest
import torch

from vssl.train.optim import LARS, OptimConfig, build_optimizer, warmup_cosine_factor


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
    from vssl.errors import ConfigError
    with pytest.raises(ConfigError, match="optim.name.*'rmsprop'"):
        build_optimizer(params, OptimConfig(name="rmsprop"))


def test_warmup_cosine_factor():
    assert warmup_cosine_factor(0, 10, 110, 0.1) == pytest.approx(0.1)
    assert warmup_cosine_factor(5, 10, 110, 0.1) == pytest.approx(0.55)
    assert warmup_cosine_factor(10, 10, 110, 0.1) == pytest.approx(1.0)
    assert warmup_cosine_factor(60, 10, 110, 0.1) == pytest.approx(0.5)  # half-way through the cosine
    assert warmup_cosine_factor(110, 10, 110, 0.1) == pytest.approx(0.0)
