"""Optimisers and learning-rate schedules shared by pre-training and evaluation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from vssl.errors import ConfigError


@dataclass
class OptimConfig:
    name: str = "sgd"  # sgd | lars | adam | adamw (Feichtenhofer et al. 2021 §B.1: SGD for MoCo, SGD+LARS for the others)
    lr: float = 0.4  # Feichtenhofer et al. 2021 §B.1: ρMoCo base LR 0.4 (batch 512); tiny presets override
    weight_decay: float = 1e-4  # Feichtenhofer et al. 2021 §B.1: ρMoCo 1e-4
    momentum: float = 0.9  # Feichtenhofer et al. 2021 [code]: SGD momentum 0.9
    warmup_epochs: float = 35.0  # Feichtenhofer et al. 2021 [code]: 35 of 200 epochs, linear warm-up
    warmup_start_lr: float = 0.001  # Feichtenhofer et al. 2021 [code]: warm-up starts from LR 0.001
    lars_trust: float = 0.001  # Feichtenhofer et al. 2021 §B.1: LARS trust coefficient
    schedule: str = "cosine"  # cosine (Feichtenhofer et al. 2021 §B.1: half-period cosine) | step (×gamma at each milestone)
    milestones: tuple[float, ...] = ()  # step schedule: epochs at which the LR is multiplied by gamma
    gamma: float = 0.1


def build_optimizer(params, config: OptimConfig) -> torch.optim.Optimizer:
    if config.name == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.name == "lars":
        return LARS(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
                    trust=config.lars_trust)
    if config.name == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.name == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    raise ConfigError(f"optim.name: unknown optimiser '{config.name}' (valid: sgd, lars, adam, adamw)")


class LARS(torch.optim.Optimizer):
    """SGD with momentum and layer-wise adaptive rate scaling (You et al. 2017), as used by Feichtenhofer et al. 2021 §B.1.

    For every weight tensor: g ← g + wd·w, then g ← g · trust·‖w‖/‖g‖; biases and norm parameters (1-D tensors)
    get neither weight decay nor adaptation. Then v ← μ·v + g and w ← w − lr·v.
    """

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, trust: float = 0.001):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay, "trust": trust})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                update = param.grad
                if param.ndim > 1:
                    update = update.add(param, alpha=group["weight_decay"])
                    param_norm, update_norm = param.norm(), update.norm()
                    if param_norm > 0 and update_norm > 0:
                        update = update * (group["trust"] * param_norm / update_norm)
                buffer = self.state[param].get("momentum_buffer")
                if buffer is None:
                    buffer = self.state[param]["momentum_buffer"] = torch.zeros_like(param)
                buffer.mul_(group["momentum"]).add_(update)
                param.add_(buffer, alpha=-group["lr"])
        return loss


def warmup_cosine_factor(step: int, warmup_steps: int, total_steps: int, start_factor: float) -> float:
    """LR multiplier: linear warm-up from ``start_factor`` to 1, then half-period cosine to 0 (Feichtenhofer et al. 2021 §B.1)."""
    if step < warmup_steps:
        return start_factor + (1.0 - start_factor) * step / warmup_steps
    progress = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
    return 0.5 * (math.cos(math.pi * min(progress, 1.0)) + 1.0)


def warmup_step_factor(step: int, warmup_steps: int, milestone_steps: list[int], gamma: float,
                       start_factor: float) -> float:
    """LR multiplier: linear warm-up from ``start_factor`` to 1, then ×``gamma`` at every milestone passed."""
    if step < warmup_steps:
        return start_factor + (1.0 - start_factor) * step / warmup_steps
    return gamma ** sum(step >= m for m in milestone_steps)


def build_scheduler(optimizer, config: OptimConfig, steps_per_epoch: int, total_steps: int):
    """The configured schedule, stepped once per optimiser step: warm-up, then cosine or step decay."""
    warmup_steps = min(int(config.warmup_epochs * steps_per_epoch), total_steps)
    start_factor = min(config.warmup_start_lr / config.lr, 1.0) if config.lr > 0 else 1.0
    if config.schedule == "cosine":
        factor = lambda step: warmup_cosine_factor(step, warmup_steps, total_steps, start_factor)  # noqa: E731
    elif config.schedule == "step":
        milestones = [int(round(m * steps_per_epoch)) for m in config.milestones]
        factor = lambda step: warmup_step_factor(step, warmup_steps, milestones, config.gamma,  # noqa: E731
                                                 start_factor)
    else:
        raise ConfigError(f"optim.schedule: unknown schedule '{config.schedule}' (valid: cosine, step)")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def parameter_groups(module: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on weights only; biases and norm parameters (1-D tensors) get none."""
    decay, no_decay = [], []
    for param in module.parameters():
        if param.requires_grad:
            (no_decay if param.ndim <= 1 else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
