"""Collectives the ρ-methods need under data-parallel training; each one is a no-op in a single process.

Every helper works whether or not ``torch.distributed`` has an initialised process group, so method code reads
the same in both cases. Gathers accept a different number of rows per process (a batch shrunk by unreadable
videos): rows are padded to the largest count for the collective and cut back afterwards. Every process must
call the same helpers in the same order, as with any collective.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True when a process group with more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def gather_sizes(local_rows: int, device: torch.device | str = "cpu") -> list[int]:
    """Row count of every process, in rank order."""
    if not is_distributed():
        return [local_rows]
    count = torch.tensor([local_rows], dtype=torch.long, device=device)
    counts = [torch.empty_like(count) for _ in range(world_size())]
    dist.all_gather(counts, count)
    return [int(c) for c in counts]


def rank_offset(local_rows: int, device: torch.device | str = "cpu") -> int:
    """Index of this process's first row in a tensor gathered in rank order."""
    return sum(gather_sizes(local_rows, device)[:rank()])


def _gather_rows(tensor: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """All processes' rows concatenated in rank order (no autograd)."""
    padded = tensor.new_zeros((max(sizes), *tensor.shape[1:]))
    padded[:tensor.shape[0]] = tensor
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([part[:size] for part, size in zip(parts, sizes)])


@torch.no_grad()
def concat_all_gather(tensor: torch.Tensor) -> torch.Tensor:
    """All processes' rows concatenated in rank order, without gradient (e.g. MoCo keys for the queue)."""
    if not is_distributed():
        return tensor.detach()
    return _gather_rows(tensor.detach(), gather_sizes(tensor.shape[0], tensor.device))


class _GatherWithGradient(torch.autograd.Function):
    """Forward: all rows in rank order. Backward: the gradients every process computed for this process's rows,
    summed, so averaging parameter gradients over processes (what DDP does) gives the gradient of the mean of
    the per-process losses, i.e. of the loss on the global batch."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        sizes = gather_sizes(tensor.shape[0], tensor.device)
        ctx.start = sum(sizes[:rank()])
        ctx.rows = tensor.shape[0]
        return _gather_rows(tensor, sizes)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.start:ctx.start + ctx.rows]


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """All processes' rows concatenated in rank order; gradient flows back into this process's own rows."""
    if not is_distributed():
        return tensor
    return _GatherWithGradient.apply(tensor)


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum over processes, in place; returns ``tensor``."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_reduce_max(tensor: torch.Tensor) -> torch.Tensor:
    """Maximum over processes, in place; returns ``tensor``."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return tensor


@torch.no_grad()
def shuffle_across_ranks(rows: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffling BN across processes (MoCo, He et al. 2020 §3.3): gather all rows, permute them with rank 0's
    permutation and hand each process an equal share. Returns (this process's shuffled rows, the permutation),
    the permutation being what :func:`unshuffle_across_ranks` needs."""
    everything = concat_all_gather(rows)
    order = torch.randperm(everything.shape[0], generator=generator).to(rows.device)
    if is_distributed():
        dist.broadcast(order, src=0)
    mine = torch.tensor_split(order, world_size())[rank()]
    return everything[mine], order


@torch.no_grad()
def unshuffle_across_ranks(shuffled: torch.Tensor, order: torch.Tensor, local_rows: int) -> torch.Tensor:
    """Inverse of :func:`shuffle_across_ranks`: outputs for this process's own ``local_rows`` rows, in their
    original order."""
    in_shuffled_order = concat_all_gather(shuffled)
    original = torch.empty_like(in_shuffled_order)
    original[order] = in_shuffled_order
    start = rank_offset(local_rows, shuffled.device)
    return original[start:start + local_rows]
