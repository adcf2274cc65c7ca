"""Backbone throughput on CPU: forward and forward+backward clips/s, fp32 vs channels_last_3d vs bf16 autocast.

Every setting is measured in the same run on the same input, the settings of a backbone taking turns
(fp32, channels_last_3d, bf16, bf16 channels_last_3d, fp32, ...; `benchmarks/timing.py`) for ``--repeats`` rounds
after one untimed iteration each, so a busy machine slows every setting alike. Printed as median [min–max] over the
rounds: the rate (batch size / time of one iteration) and the speed-up over the plain fp32 (contiguous) baseline of
that backbone, from the per-round ratios fp32 time / setting time.

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
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from timing import interleaved_seconds, spread
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


def steps(model: nn.Module, clip: torch.Tensor, setting: Setting) -> dict[str, Callable[[], None]]:
    """One forward (eval mode, inference) and one forward+backward (train mode) iteration under ``setting``."""
    model, clip = setting.prepare(model, clip)

    def forward() -> None:
        model.eval()
        with torch.inference_mode(), setting.autocast():
            model(clip)

    def forward_backward() -> None:
        model.train()
        model.zero_grad(set_to_none=True)
        with setting.autocast():
            loss = model(clip).float().square().mean()
        loss.backward()

    return {"forward": forward, "fwd+bwd": forward_backward}


def speedups(times: dict[str, list[float]], baseline: str) -> dict[str, list[float]]:
    """Per-round speed-up of every setting over ``baseline``: baseline time / setting time, rounds paired in order."""
    return {name: [b / t for b, t in zip(times[baseline], values, strict=True)] for name, values in times.items()}


def benchmark(name: str, width: float | None, batch: int, repeats: int) -> None:
    """Print one backbone's rates for every setting, their speed-ups over fp32, and the fastest setting.

    ``width`` None measures the full model (default width) at its default input, else the tiny variant.
    """
    model, width_label = build(name, width)
    frames, size = model.default_input if width is None else smallest_valid_input(model)
    clip = torch.randn(batch, 3, frames, size, size)
    label = f"{name} ({width_label}, {batch}x{frames}x{size}²)"
    runs: dict[str, dict[str, Callable[[], None]]] = {}
    for setting in SETTINGS:
        try:
            runs[setting.name] = steps(model, clip, setting)
            for step in runs[setting.name].values():  # the untimed warm-up iteration, and a kernel check
                step()
        except RuntimeError as e:  # an op without a bf16 / channels_last CPU kernel
            runs.pop(setting.name, None)
            print(f"{label:<44} {setting.name:<31} failed: {str(e).splitlines()[0][:80]}")
    baseline = SETTINGS[0].name
    if baseline not in runs:
        return
    times = {kind: interleaved_seconds({setting: run[kind] for setting, run in runs.items()}, repeats, warmup=False)
             for kind in ("forward", "fwd+bwd")}  # all settings' forwards in turn, then all forward+backwards
    rates = {kind: {setting: [batch / t for t in values] for setting, values in by_setting.items()}
             for kind, by_setting in times.items()}
    ratios = {kind: speedups(by_setting, baseline) for kind, by_setting in times.items()}
    for setting in runs:
        print(f"{label:<44} {setting:<31} " + " ".join(
            f"{spread(rates[kind][setting], 1):>20} {spread(ratios[kind][setting]) + '×':>19}" for kind in times))
    fastest = {kind: max(runs, key=lambda setting: statistics.median(ratios[kind][setting])) for kind in times}
    print(f"{label:<44} fastest: forward {fastest['forward']} "
          f"({spread(ratios['forward'][fastest['forward']])}×), forward+backward {fastest['fwd+bwd']} "
          f"({spread(ratios['fwd+bwd'][fastest['fwd+bwd']])}×)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=None, help="names to measure (default: all registered)")
    parser.add_argument("--width", type=float, default=0.25, help="width of the tiny variants")
    parser.add_argument("--batch", type=int, default=2, help="clips per iteration")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timed rounds per setting (at least 3)")
    parser.add_argument("--full", action="store_true", help="also measure default width at the default input")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.repeats < 3:
        parser.error(f"--repeats must be at least 3 to report a spread, got {args.repeats}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    names = args.backbones or list_backbones()
    unknown = sorted(set(names) - set(list_backbones()))
    if unknown:
        parser.error(f"unknown backbone(s) {', '.join(unknown)}; available: {', '.join(list_backbones())}")

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}; rates in clips/s and speed-ups over fp32 of the same "
          f"backbone, median [min–max] over {args.repeats} interleaved rounds")
    print(f"{'backbone (width, input)':<44} {'setting':<31} {'forward clips/s':>20} {'speed-up':>19} "
          f"{'fwd+bwd clips/s':>20} {'speed-up':>19}")
    for name in names:
        benchmark(name, args.width, args.batch, args.repeats)
        if args.full:
            benchmark(name, None, 1, args.repeats)


if __name__ == "__main__":
    main()
