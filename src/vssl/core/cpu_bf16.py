"""A guard against wrong bf16 3D-convolution gradients on the CPU: on CPUs with native bf16 (avx512_bf16),
PyTorch 2.13's oneDNN kernels return conv3d weight gradients off by 100 % and more (even inf or NaN) for small
inputs such as [2, 16, 2, 6, 6], found when bf16-mixed pre-training diverged to weights of 1e30 (docs/reliability.md).
bf16 training and evaluation on the CPU run inside :func:`sound_cpu_bf16`, which compares one such gradient with fp32
(once per process) and, where it is wrong, turns oneDNN off inside the block (PyTorch's own kernels are right, and
slower)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import torch

PROBE_SHAPE = (2, 16, 2, 6, 6)  # [B, C, T, H, W]: the input of a 16-channel stage that went wrong
TOLERANCE = 0.05  # relative to the gradient's largest entry; bf16 rounding gives about 0.005


def conv3d_weight_grad_error() -> float:
    """Largest |bf16 − fp32| error of a 3×3×3 conv3d's weight gradient, relative to the fp32 gradient's maximum."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(*PROBE_SHAPE, generator=generator)
    weight = torch.randn(16, 16, 3, 3, 3, generator=generator) * 0.1
    upstream = torch.randn(*PROBE_SHAPE, generator=generator)
    grads = []
    for bf16 in (False, True):
        w = weight.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = torch.nn.functional.conv3d(x, w, padding=1)
        out.float().backward(upstream)
        grads.append(w.grad)
    error = ((grads[1] - grads[0]).abs().max() / grads[0].abs().max()).item()
    return error if error == error else float("inf")  # NaN counts as wrong


@functools.cache
def onednn_bf16_is_wrong() -> bool:
    """Whether this CPU's oneDNN gives wrong bf16 conv3d weight gradients; checked (and warned about) once."""
    if not torch.backends.mkldnn.is_available():
        return False
    saved = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = True
    try:
        error = conv3d_weight_grad_error()
    finally:
        torch.backends.mkldnn.enabled = saved
    if error <= TOLERANCE:
        return False
    print(f"warning: this CPU's oneDNN bf16 conv3d weight gradients are wrong (relative error {error:.3g}); "
          "bf16 runs turn oneDNN off (correct, slower). train.precision=32 avoids the cost.", file=sys.stderr)
    return True


@contextmanager
def sound_cpu_bf16() -> Iterator[None]:
    """Run the block with oneDNN off where its bf16 conv3d gradients are wrong, else unchanged; restores the
    setting afterwards, so fp32 work elsewhere in the process keeps oneDNN's kernels and their exact numbers."""
    if not onednn_bf16_is_wrong():
        yield
        return
    saved = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = saved
