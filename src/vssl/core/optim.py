"""Optimisers and learning-rate schedules, the one place both pre-training and the evaluation protocols build them."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch

from vssl.core.config import ranged
from vssl.core.errors import ConfigError

OPTIMIZERS = ("sgd", "lars", "adam", "adamw")
EVAL_OPTIMIZERS = ("sgd", "adam")  # what the linear probe and fine-tuning accept
SGD_MOMENTUM = 0.9  # Feichtenhofer et al. 2021 [code] (PySlowFast SOLVER.MOMENTUM) for both linear and fine-tuning protocols
SCHEDULES = ("cosine", "step")


@dataclass
class OptimConfig:
    name: str = "sgd"  # sgd | lars | adam | adamw (Feichtenhofer et al. 2021 §B.1: SGD for MoCo, SGD+LARS for the others)
    lr: float = ranged(0.4, gt=0)  # Feichtenhofer et al. 2021 §B.1: ρMoCo base LR 0.4 (batch 512); tiny presets override
    weight_decay: float = ranged(1e-4, ge=0)  # Feichtenhofer et al. 2021 §B.1: ρMoCo 1e-4
    momentum: float = ranged(0.9, ge=0, le=1)  # Feichtenhofer et al. 2021 [code]: SGD momentum 0.9
    warmup_epochs: float = ranged(35.0, ge=0)  # Feichtenhofer et al. 2021 [code]: 35 of 200 epochs, linear warm-up
    warmup_start_lr: float = ranged(0.001, ge=0)  # Feichtenhofer et al. 2021 [code]: warm-up starts from LR 0.001
    lars_trust: float = ranged(0.001, gt=0)  # Feichtenhofer et al. 2021 §B.1: LARS trust coefficient
    schedule: str = "cosine"  # cosine (Feichtenhofer et al. 2021 §B.1: half-period cosine) | step (×gamma at each milestone)
    milestones: tuple[float, ...] = ranged((), ge=0)  # step schedule: epochs at which the LR is multiplied by gamma
    gamma: float = ranged(0.1, gt=0)


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, key: str,
                   momentum: float = SGD_MOMENTUM, lars_trust: float = 0.001,
                   valid: Sequence[str] = OPTIMIZERS) -> torch.optim.Optimizer:
    """The optimiser ``name`` (one of ``valid``): SGD with ``momentum``, LARS, or Adam/AdamW with PyTorch's default
    betas (SEVERE, Thoker 2023 Table B.2). ``key`` is the config key of ``name``, for the error message."""
    if name not in valid:
        raise ConfigError(f"{key}: unknown optimiser '{name}' (valid: {', '.join(valid)})")
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "lars":
        return LARS(params, lr=lr, momentum=momentum, weight_decay=weight_decay, trust=lars_trust)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def build_optimizer(params, config: OptimConfig) -> torch.optim.Optimizer:
    """The pre-training optimiser of ``config`` (the ``optim`` section)."""
    return make_optimizer(config.name, params, config.lr, config.weight_decay, "optim.name", config.momentum,
                          config.lars_trust)


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


def schedule_factor(schedule: str, steps_per_epoch: int, total_steps: int, warmup_epochs: float = 0.0,
                    start_factor: float = 0.0, milestones: Sequence[float] = (), gamma: float = 0.1,
                    key: str = "optim.schedule") -> Callable[[int], float]:
    """The LR multiplier per step: linear warm-up over ``warmup_epochs`` from ``start_factor``, then ``cosine``
    (to 0 at ``total_steps``) or ``step`` (×``gamma`` at each of ``milestones``, in epochs). One step per epoch
    (``steps_per_epoch=1``) gives an epoch-wise schedule. ``key`` is the config key of ``schedule``."""
    warmup_steps = min(int(warmup_epochs * steps_per_epoch), total_steps)
    if schedule == "cosine":
        return lambda step: warmup_cosine_factor(step, warmup_steps, total_steps, start_factor)
    if schedule == "step":
        milestone_steps = [int(round(m * steps_per_epoch)) for m in milestones]
        return lambda step: warmup_step_factor(step, warmup_steps, milestone_steps, gamma, start_factor)
    raise ConfigError(f"{key}: unknown schedule '{schedule}' (valid: {', '.join(SCHEDULES)})")


def build_scheduler(optimizer, config: OptimConfig, steps_per_epoch: int, total_steps: int):
    """The pre-training schedule of ``config``, stepped once per optimiser step: warm-up, then cosine or step decay."""
    start_factor = min(config.warmup_start_lr / config.lr, 1.0) if config.lr > 0 else 1.0
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule_factor(
        config.schedule, steps_per_epoch, total_steps, config.warmup_epochs, start_factor, config.milestones,
        config.gamma))
