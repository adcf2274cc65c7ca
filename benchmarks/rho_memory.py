"""Peak memory and time per training step against ρ for each ρ-method (Feichtenhofer et al. 2021 §3).

ρMoCo and ρBYOL run one query clip's forward+backward at a time, so their peak should stay roughly flat in ρ
(target: within 25 % of ρ = 2); ρSimCLR and ρSwAV embed all ρ·B clips at once and should grow with ρ.
Each (method, ρ, run) runs in a fresh process, the runs interleaved (every method and ρ once, then again ...);
peak = the process's maximum resident set size during the steps minus its resident size just before the first step,
so imports, weights and the input views are not counted. The children run with glibc's mmap threshold fixed at
128 KiB (MALLOC_MMAP_THRESHOLD_): every tensor buffer is then mapped on allocation and unmapped on free, so the
resident size follows the live tensors. With glibc's default (a threshold that rises to the largest freed block),
freed activations stay in the heap and the peak measures the allocator's fragmentation: ρBYOL read 490–634 MB over
ρ = 2–4 and identical runs (--malloc-default), against 311 MB at every ρ and run with the fixed threshold.
Printed per method and ρ: peak MB, peak / peak at ρ = 2 (per-run ratios) and s/step, as median [min–max] of --runs.

    .venv/bin/python benchmarks/rho_memory.py [--batch 8] [--size 112] [--frames 8] [--width 0.5] [--runs 3]
        [--rhos 2 3 4] [--methods rho_byol ...] [--malloc-default]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from timing import ratio_spread, spread

METHODS = ("rho_moco", "rho_byol", "rho_simclr", "rho_swav")
MMAP_THRESHOLD = 128 * 1024  # bytes; set, it also turns off glibc's dynamic threshold


def resident_mb() -> float:
    """The process's current resident set size in MB (Linux); its peak so far elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return peak_resident_mb()


def peak_resident_mb() -> float:
    """The process's maximum resident set size so far in MB (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


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
    before = resident_mb()
    start = time.perf_counter()
    for _ in range(args.steps):
        optimizer.zero_grad()
        method.train_views(views)
        optimizer.step()
        method.after_step(views)
    seconds = (time.perf_counter() - start) / args.steps
    return {"peak_mb": peak_resident_mb() - before, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per method and ρ (at least 3)")
    parser.add_argument("--rhos", type=int, nargs="+", default=[2, 3, 4], help="ρ values (2 is always measured)")
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--malloc-default", action="store_true",
                        help="leave glibc's dynamic mmap threshold on (peaks then include freed, retained memory)")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "RHO"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args)))
        return
    if args.runs < 3:
        parser.error(f"--runs must be at least 3 to report a spread, got {args.runs}")
    rhos = sorted(set(args.rhos) | {2})
    forwarded = [f"--batch={args.batch}", f"--frames={args.frames}", f"--size={args.size}",
                 f"--width={args.width}", f"--steps={args.steps}"]
    env = dict(os.environ)
    if not args.malloc_default:
        env["MALLOC_MMAP_THRESHOLD_"] = str(MMAP_THRESHOLD)
    runs: dict[tuple[str, int], list[dict]] = {(method, rho): [] for method in args.methods for rho in rhos}
    for _ in range(args.runs):  # interleaved: every (method, ρ) once per round
        for method, rho in runs:
            out = subprocess.run([sys.executable, __file__, *forwarded, "--child", method, str(rho)],
                                 capture_output=True, text=True, check=True, env=env)
            runs[method, rho].append(json.loads(out.stdout.strip().splitlines()[-1]))
    allocator = "glibc default malloc" if args.malloc_default else f"MALLOC_MMAP_THRESHOLD_={MMAP_THRESHOLD}"
    print(f"batch {args.batch} videos, clips {args.frames}×{args.size}², r3d_18 width {args.width}, one block per "
          f"stage; {args.steps} steps per process, {args.runs} runs, {allocator}; median [min–max] over runs")
    print(f"{'method':<11} {'rho':>3} {'peak MB':>15} {'vs rho=2 (per run)':>19} {'s/step':>17}")
    for method in args.methods:
        base = [row["peak_mb"] for row in runs[method, 2]]
        for rho in rhos:
            peaks = [row["peak_mb"] for row in runs[method, rho]]
            print(f"{method:<11} {rho:>3} {spread(peaks, 0):>15} {ratio_spread(peaks, base) + '×':>19} "
                  f"{spread([row['seconds'] for row in runs[method, rho]]):>17}")


if __name__ == "__main__":
    main()
