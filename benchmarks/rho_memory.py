"""Peak memory and time per training step against ρ for each ρ-method (Feichtenhofer et al. 2021 §3).

ρMoCo and ρBYOL run one query clip's forward+backward at a time, so their peak should stay roughly flat in ρ
(target: within 25 % of ρ = 2); ρSimCLR and ρSwAV embed all ρ·B clips at once and should grow with ρ.
Each (method, ρ) runs in a fresh process; peak = its maximum resident set size during the steps minus its
resident size just before the first step, so imports and weights are not counted.

    .venv/bin/python benchmarks/rho_memory.py [--batch 8] [--size 112] [--frames 8] [--width 0.5]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

METHODS = ("rho_moco", "rho_byol", "rho_simclr", "rho_swav")


def measure(method_name: str, rho: int, args) -> dict:
    """Runs in the child process: build the method, time ``args.steps`` steps, report memory."""
    import torch

    from vssl.core.config import from_dict
    from vssl.core.optim import OptimConfig
    from vssl.methods.registry import get_method
    from vssl.models.registry import build_backbone

    torch.set_num_threads(2)
    torch.manual_seed(0)
    method_class, config_class = get_method(method_name)
    settings = {"rho": rho, "proj_hidden": 256}
    if method_name == "rho_byol":
        settings["pred_hidden"] = 256
    if method_name == "rho_moco":
        settings["queue_size"] = 1024
    backbone = build_backbone("r3d_18", width=args.width, depth=(1, 1, 1, 1))
    method = method_class(backbone, from_dict(config_class, settings, "method"), OptimConfig(lr=0.01))
    method.manual_backward = lambda loss: loss.backward()
    method.log = lambda *a, **k: None
    optimizer = torch.optim.SGD(method.parameters(), lr=0.01, momentum=0.9)
    views = torch.randn(args.batch, max(rho, 2), 3, args.frames, args.size, args.size)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    for _ in range(args.steps):
        optimizer.zero_grad()
        method.train_views(views)
        optimizer.step()
        method.after_step(views)
    seconds = (time.perf_counter() - start) / args.steps
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_mb": (peak - before) / 1024, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "RHO"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args)))
        return
    forwarded = [f"--batch={args.batch}", f"--frames={args.frames}", f"--size={args.size}",
                 f"--width={args.width}", f"--steps={args.steps}"]
    print(f"batch {args.batch} videos, clips {args.frames}×{args.size}², r3d_18 width {args.width}, one block per stage")
    print(f"{'method':<11} {'rho':>3} {'peak MB':>9} {'vs rho=2':>9} {'s/step':>8}")
    for method in args.methods:
        rows = {}
        for rho in (1, 2, 3, 4):
            out = subprocess.run([sys.executable, __file__, *forwarded, "--child", method, str(rho)],
                                 capture_output=True, text=True, check=True)
            rows[rho] = json.loads(out.stdout.strip().splitlines()[-1])
        for rho, row in rows.items():
            ratio = row["peak_mb"] / rows[2]["peak_mb"] if rows[2]["peak_mb"] > 0 else float("nan")
            print(f"{method:<11} {rho:>3} {row['peak_mb']:>9.0f} {ratio:>8.2f}× {row['seconds']:>8.2f}")


if __name__ == "__main__":
    main()
