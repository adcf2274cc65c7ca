"""Process-level settings: thread counts next to data workers, quieter Lightning logs, and where evaluation runs."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from vssl.core.errors import ConfigError

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N"
AMP_CHOICES = ("auto", "bf16", "fp16", "off")
DENSE_CONV3D_SHARE = 0.5  # channels_last_3d pays off when dense 3D convolutions hold most of the weights


def available_cpus() -> int:
    """The cores this process may run on (its affinity mask: `taskset`, container cpusets), not all of the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity call on this platform (macOS, Windows)
        return os.cpu_count() or 1


def share_cpu_with_workers(num_workers: int) -> None:
    """Leave one core per data worker: more compute threads than free cores slows CPU training down."""
    torch.set_num_threads(max(1, available_cpus() - num_workers))


def quiet_lightning() -> None:
    """Drop Lightning's start-up banners and tips; warnings that matter still print."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


def resolve_device(spec: str, key: str = "device") -> torch.device:
    """``auto`` (CUDA when available, else CPU) | ``cpu`` | ``cuda`` | ``cuda:N`` → a device that exists here.

    Anything else, CUDA on a machine without it, or a CUDA index this machine lacks is a one-line ConfigError
    naming ``key`` and the value.
    """
    text = str(spec).strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if match is None:
        raise ConfigError(f"{key}={spec!r}: unknown device (valid: {DEVICE_CHOICES})")
    if not torch.cuda.is_available():
        raise ConfigError(f"{key}={spec!r}: CUDA is not available on this machine (use auto or cpu)")
    count = torch.cuda.device_count()
    if match.group(1) is not None and int(match.group(1)) >= count:
        raise ConfigError(f"{key}={spec!r}: no such CUDA device (this machine has {count}: cuda:0..cuda:{count - 1})")
    return torch.device(text)


def bf16_supported(device: torch.device) -> bool:
    """Native bf16 on ``device``: always on CPU, Ampere or newer on CUDA."""
    if device.type != "cuda":
        return device.type == "cpu"
    with torch.cuda.device(device):
        return torch.cuda.is_bf16_supported(including_emulation=False)


def resolve_amp(spec: str | bool, device: torch.device, key: str = "amp") -> torch.dtype | None:
    """The autocast dtype for ``spec`` on ``device`` (None = fp32): ``auto`` = bf16 where CUDA supports it, else fp16,
    and fp32 off CUDA; ``bf16`` (CUDA with bf16, or CPU); ``fp16`` (CUDA only); ``off`` (also False: YAML reads a
    bare ``off`` as false)."""
    text = "off" if spec is False else str(spec).strip().lower()
    if text not in AMP_CHOICES:
        raise ConfigError(f"{key}={spec!r}: unknown mixed precision (valid: {', '.join(AMP_CHOICES)})")
    if text == "off" or (text == "auto" and device.type != "cuda"):
        return None
    if text == "auto":
        return torch.bfloat16 if bf16_supported(device) else torch.float16
    if text == "fp16" and device.type != "cuda":
        raise ConfigError(f"{key}={spec!r}: fp16 autocast needs a CUDA device (device is {device}; use bf16 or off)")
    if text == "bf16" and not bf16_supported(device):
        raise ConfigError(f"{key}={spec!r}: {device} has no native bf16 (use fp16 or off)")
    return torch.bfloat16 if text == "bf16" else torch.float16


def dense_conv3d(module: nn.Module) -> bool:
    """True for a 3D CNN whose weights are mostly dense (ungrouped) 3D convolutions; False for grouped or
    depthwise nets and transformers, where ``benchmarks/backbones.py`` found channels_last_3d slower."""
    convs = [m for m in module.modules() if isinstance(m, nn.Conv3d)]
    if not convs or any(m.groups > 1 for m in convs):
        return False
    conv_weights = sum(m.weight.numel() for m in convs)
    return conv_weights > DENSE_CONV3D_SHARE * sum(p.numel() for p in module.parameters())


@dataclass(frozen=True)
class Placement:
    """Where a model runs: its device, the autocast dtype (None = fp32) and whether weights and clips use
    ``channels_last_3d``. Modules and batches move through it together; results come back with :meth:`host`."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    amp: torch.dtype | None = None
    channels_last: bool = False

    @classmethod
    def of(cls, module: nn.Module) -> Placement:
        """Where ``module`` already is (its first parameter's device; CPU without parameters), in fp32."""
        parameter = next(module.parameters(), None)
        return cls(torch.device("cpu") if parameter is None else parameter.device)

    @classmethod
    def for_eval(cls, device: str, amp: str | bool) -> Placement:
        """From ``EvalConfig.device`` / ``.amp``; channels_last_3d is allowed on CUDA with autocast (see
        :meth:`for_model`)."""
        resolved = resolve_device(device)
        dtype = resolve_amp(amp, resolved)
        return cls(resolved, dtype, channels_last=resolved.type == "cuda" and dtype is not None)

    def for_model(self, module: nn.Module) -> Placement:
        """This placement for ``module``: channels_last_3d only where allowed and the model is a dense 3D CNN."""
        return replace(self, channels_last=self.channels_last and dense_conv3d(module))

    @property
    def pin_memory(self) -> bool:
        """Whether loaders should pin host memory (for asynchronous copies to a CUDA device)."""
        return self.device.type == "cuda"

    def module(self, module: nn.Module) -> nn.Module:
        """Move ``module`` (in place) to the device and memory format; returns it."""
        module.to(self.device)
        if self.channels_last:
            module.to(memory_format=torch.channels_last_3d)
        return module

    def tensor(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` on the device (5-D clips in channels_last_3d when set), copied asynchronously from pinned memory."""
        if self.channels_last and x.dim() == 5:
            return x.to(self.device, non_blocking=True, memory_format=torch.channels_last_3d)
        return x.to(self.device, non_blocking=True)

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision on the device, or nothing in fp32."""
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp)

    def host(self, x: torch.Tensor) -> torch.Tensor:
        """A result back on the CPU (for metrics and storage)."""
        return x.cpu()
