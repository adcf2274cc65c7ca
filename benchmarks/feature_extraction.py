"""Feature-extraction clips/s per available device, each as a ratio to the CPU baseline measured in the same run.

Every setting runs vssl's own extraction step (`vssl.evaluation.features.batch_features`: copy a batch of clips to
the device, run the encoder under the evaluation's autocast, bring the features back to the CPU) on the same batch
and the same weights:
  cpu fp32                      always (the baseline);
  cuda fp32                     when CUDA is available;
  cuda <amp> [channels_last]    `vssl eval`'s default on CUDA (amp=auto: bf16, else fp16; channels_last_3d for a
                                dense 3D CNN).
After ``--warmup`` untimed steps each, the settings take turns (cpu, cuda, cuda amp, cpu, ...; `benchmarks/timing.py`)
for ``--repeats`` rounds; printed as median [min–max] over the rounds: the rate (batch size / time of one step) and the
speed-up over the CPU (per-round ratios CPU time / setting time). The batch sits in pinned memory when CUDA is
present, as the evaluation loaders deliver it there. The last column is the largest feature difference from the CPU
baseline, relative to the largest CPU feature.

    .venv/bin/python benchmarks/feature_extraction.py [--backbone r3d_18] [--width 1.0] [--frames 8] [--size 112]
        [--batch 16] [--repeats 5]
"""

from __future__ import annotations

import argparse
import copy

import torch
from torch import nn

from timing import interleaved_seconds, ratio_spread, spread
from vssl.core.runtime import Placement
from vssl.evaluation.features import batch_features, prepare_encoder
from vssl.models.registry import build_backbone


def settings(encoder: nn.Module) -> list[tuple[str, Placement]]:
    """(name, placement) of every setting this machine can run, the CPU baseline first."""
    found = [("cpu fp32", Placement())]
    if torch.cuda.is_available():
        found.append(("cuda fp32", Placement(torch.device("cuda"))))
        default = Placement.for_eval("cuda", "auto").for_model(encoder)
        name = f"cuda {str(default.amp).removeprefix('torch.')}" + (" channels_last" if default.channels_last else "")
        found.append((name, default))
    return found


class Extraction:
    """The extraction step on ``placement`` with a copy of ``encoder``; keeps the features of its last call."""

    def __init__(self, encoder: nn.Module, placement: Placement, clips: torch.Tensor):
        self.model = copy.deepcopy(encoder)
        self.placement = prepare_encoder(self.model, placement)
        self.clips = clips
        self.features: torch.Tensor | None = None

    def __call__(self) -> None:  # ends with the copy back to the CPU, which waits for the device
        self.features = batch_features(lambda x: {"out": self.model(x)}, self.clips, self.placement)["out"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="r3d_18")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--batch", type=int, default=16, help="clips per step (default 16)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timed rounds (at least 3)")
    args = parser.parse_args()
    torch.manual_seed(0)
    encoder = build_backbone(args.backbone, width=args.width).eval()
    clips = torch.rand(args.batch, 1, 3, args.frames, args.size, args.size)  # [B, views, C, T, H, W]
    if torch.cuda.is_available():
        clips = clips.pin_memory()
    print(f"{args.backbone} (width {args.width}): batch of {args.batch} clips [3, {args.frames}, {args.size}, "
          f"{args.size}], {torch.get_num_threads()} CPU compute thread(s)")
    steps = {name: Extraction(encoder, placement, clips) for name, placement in settings(encoder)}
    for step in steps.values():
        for _ in range(args.warmup):
            step()
    times = interleaved_seconds(steps, args.repeats, warmup=False)
    baseline_name = next(iter(steps))
    baseline = steps[baseline_name].features
    print(f"median [min–max] over {args.repeats} interleaved rounds")
    print(f"{'setting':<28} {'clips/s':>20} {'vs cpu':>19} {'max |Δ| vs cpu':>15}")
    for name, step in steps.items():
        difference = (step.features - baseline).abs().max() / baseline.abs().max()
        print(f"{name:<28} {spread([args.batch / t for t in times[name]], 1):>20} "
              f"{ratio_spread(times[baseline_name], times[name]) + '×':>19} {difference:15.2e}")


if __name__ == "__main__":
    main()
