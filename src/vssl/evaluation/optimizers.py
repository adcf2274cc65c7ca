"""Optimisers of the evaluation protocols (linear probe, fine-tuning), chosen by name in their configs."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from vssl.errors import ConfigError

EVAL_OPTIMIZERS = ("sgd", "adam")
SGD_MOMENTUM = 0.9  # Feichtenhofer et al. 2021 [code] (PySlowFast SOLVER.MOMENTUM) for both linear and fine-tuning protocols


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float,
                   key: str) -> torch.optim.Optimizer:
    """SGD with momentum 0.9, or Adam with PyTorch's default betas (SEVERE, Thoker 2023 Table B.2).

    ``key`` is the config key of ``name``, for the error message.
    """
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=SGD_MOMENTUM, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ConfigError(f"{key}: unknown optimiser '{name}' (valid: {', '.join(EVAL_OPTIMIZERS)})")
