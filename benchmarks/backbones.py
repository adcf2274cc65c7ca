"""Backbone throughput on CPU: forward and forward+backward clips/s, fp32 vs channels_last_3d vs bf16 autocast.

Every setting is measured in the same run on the same input and reported with its ratio to the plain fp32
(contiguous) baseline of that backbone, so ratios stay meaningful on a busy machine; the rate is the batch
size over the median time of ``--repeats`` timed iterations (after one warm-up iteration).

    .venv/bin/python benchmarks/backbones.py [--backbones r3d_18 slow_r50 ...] [--repeats 3] [--full]

By default each backbone is built at ``--width`` 0.25 (where it has a width option) and fed the smallest clip
among 8x56², 16x56², 8x64², 16x64², 16x112² that it accepts; ``--full`` also measures the default width at
the backbone's default input.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from vssl.core.errors import VsslError
from vssl.models.registry import build_backbone, list_backbones

# Candidate tiny inputs (frames, size), smallest first: C3D needs 16 frames, ShuffleNet 16, the ViTs multiples of 16.
TINY_INPUTS = ((8, 56), (16, 56), (8, 64), (16, 64), (16, 112))


@dataclass(frozen=True)
class Setting:
    """One way of running a model: memory format of weights and input, and autocast dtype (None = fp32)."""

    name: str
    channels_last: bool
    autocast_dtype: torch.dtype | None

    def prepare(self, model: nn.Module, clip: torch.Tensor) -> tuple[nn.Module, torch.Tensor]:
        if not self.channels_last:
            return model, clip
        memory_format = torch.channels_last_3d
        return copy.deepcopy(model).to(memory_format=memory_format), clip.contiguous(memory_format=memory_format)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast("cpu", dtype=self.autocast_dtype)


SETTINGS = (
    Setting("fp32", channels_last=False, autocast_dtype=None),
    Setting("fp32 channels_last_3d", channels_last=True, autocast_dtype=None),
    Setting("bf16 autocast", channels_last=False, autocast_dtype=torch.bfloat16),
    Setting("bf16 autocast channels_last_3d", channels_last=True, autocast_dtype=torch.bfloat16),
)


def build(name: str, width: float | None) -> tuple[nn.Module, str]:
    """The backbone at ``width`` when it has a width option (else its default), and the width used."""
    if width is not None:
        try:
            return build_backbone(name, width=width), f"w{width:g}"
        except VsslError:
            pass
    return build_backbone(name), "default width"


def smallest_valid_input(model: nn.Module) -> tuple[int, int]:
    """The first of TINY_INPUTS the model runs on."""
    model.eval()
    for frames, size in TINY_INPUTS:
        try:
            with torch.no_grad():
                model(torch.zeros(1, 3, frames, size, size))
            return frames, size
        except (RuntimeError, VsslError):
            continue
    raise VsslError(f"{type(model).__name__} runs on none of the inputs {TINY_INPUTS}")


def median_seconds(step: Callable[[], None], repeats: int) -> float:
    """Median wall time of ``step`` over ``repeats`` runs, after one untimed warm-up run."""
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(model: nn.Module, clip: torch.Tensor, setting: Setting, repeats: int) -> tuple[float, float]:
    """(forward clips/s in eval mode, forward+backward clips/s in train mode) under ``setting``."""
    model, clip = setting.prepare(model, clip)

    def forward() -> None:
        with torch.inference_mode(), setting.autocast():
            model(clip)

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        with setting.autocast():
            loss = model(clip).float().square().mean()
        loss.backward()

    model.eval()
    forward_rate = clip.shape[0] / median_seconds(forward, repeats)
    model.train()
    train_rate = clip.shape[0] / median_seconds(forward_backward, repeats)
    return forward_rate, train_rate


def benchmark(name: str, width: float | None, batch: int, repeats: int) -> None:
    """Print one backbone's rates for every setting, their ratios to fp32, and the fastest setting.

    ``width`` None measures the full model (default width) at its default input, else the tiny variant.
    """
    model, width_label = build(name, width)
    frames, size = model.default_input if width is None else smallest_valid_input(model)
    clip = torch.randn(batch, 3, frames, size, size)
    label = f"{name} ({width_label}, {batch}x{frames}x{size}²)"
    results: dict[str, tuple[float, float]] = {}
    for setting in SETTINGS:
        try:
            results[setting.name] = measure(model, clip, setting, repeats)
        except RuntimeError as e:  # an op without a bf16 / channels_last CPU kernel
            print(f"{label:<44} {setting.name:<31} failed: {str(e).splitlines()[0][:80]}")
    if SETTINGS[0].name not in results:
        return
    base_forward, base_train = results[SETTINGS[0].name]
    for setting_name, (forward_rate, train_rate) in results.items():
        print(f"{label:<44} {setting_name:<31} {forward_rate:9.1f} {forward_rate / base_forward:6.2f}x "
              f"{train_rate:9.1f} {train_rate / base_train:6.2f}x")
    fastest_forward = max(results, key=lambda key: results[key][0])
    fastest_train = max(results, key=lambda key: results[key][1])
    print(f"{label:<44} fastest: forward {fastest_forward} ({results[fastest_forward][0] / base_forward:.2f}x), "
          f"forward+backward {fastest_train} ({results[fastest_train][1] / base_train:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=None, help="names to measure (default: all registered)")
    parser.add_argument("--width", type=float, default=0.25, help="width of the tiny variants")
    parser.add_argument("--batch", type=int, default=2, help="clips per iteration")
    parser.add_argument("--repeats", type=int, default=3, help="timed iterations per setting (median taken)")
    parser.add_argument("--full", action="store_true", help="also measure default width at the default input")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    names = args.backbones or list_backbones()
    unknown = sorted(set(names) - set(list_backbones()))
    if unknown:
        parser.error(f"unknown backbone(s) {', '.join(unknown)}; available: {', '.join(list_backbones())}")

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}; rates in clips/s, ratios to fp32 of the same backbone")
    print(f"{'backbone (width, input)':<44} {'setting':<31} {'forward':>9} {'ratio':>7} {'fwd+bwd':>9} {'ratio':>7}")
    for name in names:
        benchmark(name, args.width, args.batch, args.repeats)
        if args.full:
            benchmark(name, None, 1, args.repeats)


if __name__ == "__main__":
    main()
