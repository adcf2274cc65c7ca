"""Optimisers and learning-rate schedules, the one place both pre-training and the evaluation protocols build them."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from vssl.core.config import ranged
from vssl.core.errors import ConfigError

OPTIMIZERS = ("sgd", "lars", "adam", "adamw")
EVAL_OPTIMIZERS = ("sgd", "adam")  # what the linear probe and fine-tuning accept (see EvalOptimizer)
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


def check_optimizer(name: str, key: str, valid: Sequence[str]) -> None:
    """ConfigError naming the config ``key`` unless ``name`` is one of ``valid``."""
    if name not in valid:
        raise ConfigError(f"{key}: unknown optimiser '{name}' (valid: {', '.join(valid)})")


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, key: str,
                   momentum: float = SGD_MOMENTUM, lars_trust: float = 0.001) -> torch.optim.Optimizer:
    """The pre-training optimiser ``name``: SGD with ``momentum``, LARS, or Adam/AdamW with PyTorch's default betas.
    ``key`` is the config key of ``name``, for the error message."""
    check_optimizer(name, key, OPTIMIZERS)
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


class EvalOptimizer:
    """An evaluation protocol's optimiser, written out without ``torch.optim.Optimizer``, whose construction and step
    import ``torch._dynamo`` (about 1.5 s of every `vssl eval` process).

    Subclasses perform torch.optim's update with the very tensor operations of its ``foreach`` form, grouped by
    device and dtype as torch.optim groups them, so the parameters come out bit-identical to torch.optim's
    defaults: its foreach form on CUDA, its per-tensor form on the CPU, whose ``_foreach_*`` ops run tensor by
    tensor (``tests/test_optim.py``). The learning rate is ``lr × factor(k)`` after ``k`` calls of
    ``next_lr``, as under ``torch.optim.lr_scheduler.LambdaLR``; ``param_groups`` is what ``GradScaler`` reads.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float,
                 factor: Callable[[int], float]):
        self.params, self.base_lr, self.weight_decay, self.factor = list(params), lr, weight_decay, factor
        self.param_groups = [{"params": self.params, "lr": lr * factor(0)}]
        self.lr_steps = 0
        self.state: dict[torch.Tensor, Any] = {}  # per parameter, as torch.optim's

    def next_lr(self) -> None:
        """Move the learning rate on by one step of its schedule."""
        self.lr_steps += 1
        self.param_groups[0]["lr"] = self.base_lr * self.factor(self.lr_steps)

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient."""
        groups: dict[tuple, list[torch.Tensor]] = {}
        for param in self.params:
            if param.grad is not None:
                groups.setdefault((param.device, param.dtype), []).append(param)
        for params in groups.values():
            self.update(params, [param.grad for param in params], self.param_groups[0]["lr"])

    def update(self, params: list[torch.Tensor], grads: list[torch.Tensor], lr: float) -> None:
        raise NotImplementedError


class EvalSGD(EvalOptimizer):
    """``torch.optim.SGD(params, lr, momentum=0.9, weight_decay=weight_decay)``: no dampening, no Nesterov."""

    momentum = SGD_MOMENTUM

    def update(self, params, grads, lr):
        if self.weight_decay != 0:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        buffers = [self.state.get(param) for param in params]  # the momentum buffers
        if all(buffer is not None for buffer in buffers):
            torch._foreach_mul_(buffers, self.momentum)
            torch._foreach_add_(buffers, grads, alpha=1)
        else:  # some parameter's first step: as torch.optim, tensor by tensor
            for i, (param, grad) in enumerate(zip(params, grads)):
                if buffers[i] is None:
                    buffers[i] = self.state[param] = grad.detach().clone()
                else:
                    buffers[i].mul_(self.momentum).add_(grad, alpha=1)
        torch._foreach_add_(params, buffers, alpha=-lr)


class EvalAdam(EvalOptimizer):
    """``torch.optim.Adam(params, lr, weight_decay=weight_decay)``: betas (0.9, 0.999), eps 1e-8, L2 weight decay
    added to the gradient."""

    betas, eps = (0.9, 0.999), 1e-8

    def update(self, params, grads, lr):
        beta1, beta2 = self.betas
        for param in params:
            if param not in self.state:
                self.state[param] = {"step": 0, "exp_avg": torch.zeros_like(param),
                                     "exp_avg_sq": torch.zeros_like(param)}
            self.state[param]["step"] += 1
        states = [self.state[param] for param in params]
        averages, squares = [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states]
        if self.weight_decay != 0:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        torch._foreach_lerp_(averages, grads, 1 - beta1)
        torch._foreach_mul_(squares, beta2)
        torch._foreach_addcmul_(squares, grads, grads, 1 - beta2)
        steps = [float(s["step"]) for s in states]  # torch.optim keeps the step count as a float tensor
        step_sizes = [(lr / (1 - beta1 ** step)) * -1 for step in steps]
        denominators = torch._foreach_sqrt(squares)
        torch._foreach_div_(denominators, [(1 - beta2 ** step) ** 0.5 for step in steps])
        torch._foreach_add_(denominators, self.eps)
        torch._foreach_addcdiv_(params, averages, denominators, step_sizes)


def make_eval_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, key: str,
                        factor: Callable[[int], float]) -> EvalOptimizer:
    """The linear probe's or fine-tuning's optimiser ``name`` (one of ``EVAL_OPTIMIZERS``: SGD with momentum 0.9,
    or Adam with PyTorch's default betas, SEVERE, Thoker 2023 Table B.2) with the LR multiplier ``factor`` per
    ``next_lr`` call. ``key`` is the config key of ``name``, for the error message."""
    check_optimizer(name, key, EVAL_OPTIMIZERS)
    return (EvalSGD if name == "sgd" else EvalAdam)(params, lr, weight_decay, factor)


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
