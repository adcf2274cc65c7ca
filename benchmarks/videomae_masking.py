"""VideoMAE's encoder cost against the mask ratio (Tong et al. 2022 §3.3: the encoder sees only the visible tokens).

Forward time of a video ViT's encoder on the visible tokens of tube-masked clips at 0 %, 75 % and 90 % masking, the
settings taking turns (`benchmarks/timing.py`), printed as median [min–max] seconds and as the speed-up over 0 %
from the per-round ratios. With attention quadratic in the token count, 90 % masking should be well above 10×.

    .venv/bin/python benchmarks/videomae_masking.py [--backbone vit_s16] [--width 1.0] [--frames 16] [--size 112]
        [--threads N]
"""

from __future__ import annotations

import argparse

import torch

from timing import interleaved_seconds, ratio_spread, spread
from vssl.methods.videomae import tube_mask
from vssl.models.registry import build_backbone
from vssl.models.vit import TUBELET_SIZE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="vit_s16")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default); on a machine "
                        "busy with other work use 1: small masked forwards then wait on starved threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    encoder = build_backbone(args.backbone, width=args.width).eval()
    clips = torch.randn(args.batch, 3, args.frames, args.size, args.size)
    slices = args.frames // TUBELET_SIZE[0]
    positions = (args.size // TUBELET_SIZE[1]) * (args.size // TUBELET_SIZE[2])
    generator = torch.Generator().manual_seed(0)
    masks = {ratio: tube_mask(args.batch, slices, positions, ratio, generator) for ratio in (0.75, 0.9)}

    def forward(ratio: float):
        with torch.no_grad():
            return encoder.encode(clips, None if ratio == 0 else ~masks[ratio])

    times = interleaved_seconds({f"{ratio:.0%}": (lambda r=ratio: forward(r)) for ratio in (0.0, 0.75, 0.9)},
                               rounds=args.repeats)
    print(f"{args.backbone} width {args.width}: {args.batch} clips of {args.frames}×{args.size}², "
          f"{slices * positions} tokens each")
    for name, values in times.items():
        print(f"  mask {name:>4}: {spread(values, 3)} s   speed-up over 0 %: {ratio_spread(times['0%'], values)}×")


if __name__ == "__main__":
    main()
