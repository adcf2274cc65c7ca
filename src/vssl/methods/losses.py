"""Self-supervised losses as pure functions on embeddings; each docstring states the math and its source."""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from vssl.methods.distributed import all_reduce_max, all_reduce_sum

HALF = (torch.bfloat16, torch.float16)


def in_fp32(loss):
    """``loss`` with autocast off and its half-precision tensor arguments cast to fp32, so that cosines, norms,
    softmaxes and Sinkhorn codes keep fp32 precision under bf16/fp16 autocast (in bf16 a cosine near 1 has a step
    of 2⁻⁸, which is 2 − 2·cos's whole value near convergence). Without autocast, on fp32 inputs, it changes nothing."""
    @functools.wraps(loss)
    def wrapper(*args, **kwargs):
        tensors = [arg for arg in (*args, *kwargs.values()) if isinstance(arg, torch.Tensor)]
        device = tensors[0].device.type if tensors else "cpu"
        args = [arg.float() if isinstance(arg, torch.Tensor) and arg.dtype in HALF else arg for arg in args]
        kwargs = {k: v.float() if isinstance(v, torch.Tensor) and v.dtype in HALF else v for k, v in kwargs.items()}
        with torch.autocast(device, enabled=False):
            return loss(*args, **kwargs)
    return wrapper


@in_fp32
def info_nce(query: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor, temperature: float,
             multi_positive: str = "sum") -> torch.Tensor:
    """InfoNCE with several positives (Feichtenhofer et al. 2021, Eq. 1), averaged over queries.

    query [N, d], positives [N, P, d], negatives [K, d] (shared, e.g. a MoCo queue) or [N, K, d];
    all rows L2-normalised, so dot products are cosine similarities, divided by the temperature α.
      multi_positive="sum":  L = −log( Σ_{k+} e^{q·k+/α} / (Σ_{k+} e^{q·k+/α} + Σ_{k−} e^{q·k−/α}) )
      multi_positive="rows": one single-positive row per positive (the PySlowFast MoCo form),
                             L = mean_{k+} −log( e^{q·k+/α} / (e^{q·k+/α} + Σ_{k−} e^{q·k−/α}) )
    """
    positive_logits = torch.einsum("nd,npd->np", query, positives) / temperature
    if negatives.dim() == 2:
        negative_logits = query @ negatives.t() / temperature
    else:
        negative_logits = torch.einsum("nd,nkd->nk", query, negatives) / temperature
    if multi_positive == "sum":
        all_logits = torch.cat([positive_logits, negative_logits], dim=1)
        return (torch.logsumexp(all_logits, dim=1) - torch.logsumexp(positive_logits, dim=1)).mean()
    if multi_positive == "rows":
        negative_lse = torch.logsumexp(negative_logits, dim=1, keepdim=True).expand_as(positive_logits)
        row_lse = torch.logaddexp(positive_logits, negative_lse)
        return (row_lse - positive_logits).mean()
    raise ValueError(f"multi_positive must be 'sum' or 'rows', got {multi_positive!r}")


def cosine_momentum(base: float, step: int, total_steps: int) -> float:
    """Momentum annealed from ``base`` to 1 (Feichtenhofer et al. 2021 §B.1): m = 1 − (1 − m_base)·(cos(πk/K) + 1)/2."""
    progress = min(max(step / max(total_steps, 1), 0.0), 1.0)
    return 1.0 - (1.0 - base) * (math.cos(math.pi * progress) + 1.0) / 2.0


@in_fp32
def normalize(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x, dim=-1)


@in_fp32
def byol_loss(prediction: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """BYOL regression loss with several targets (Feichtenhofer et al. 2021, Eq. 2, implemented ×2 as in BYOL).

    prediction [N, d], targets [N, P, d] (momentum-encoder projections of the other clips of the same video):
      L = mean_n mean_p (2 − 2·cos(prediction_n, target_np)), i.e. the MSE of the ℓ2-normalised vectors.
    """
    prediction = F.normalize(prediction, dim=-1)
    targets = F.normalize(targets, dim=-1)
    cosine = torch.einsum("nd,npd->np", prediction, targets)
    return (2.0 - 2.0 * cosine).mean()


@in_fp32
@torch.no_grad()
def sinkhorn_knopp(scores: torch.Tensor, epsilon: float = 0.05, iterations: int = 3) -> torch.Tensor:
    """Equipartitioned soft codes for the global batch (SwAV; Feichtenhofer et al. 2021 §B.1: 3 iterations, ε = 0.05).

    scores [B, K] (embedding · prototype) of this process's samples. Q = exp(scores/ε) is alternately scaled so
    that every prototype receives 1/K of the mass and every sample 1/B_global; returns Q·B_global [B, K], whose
    rows sum to 1 and whose columns, summed over all processes, sum to B_global/K. Under DDP the statistics
    that run over samples (the maximum, the total, the per-prototype sums, B_global) are all-reduced across
    processes, as Feichtenhofer et al. 2021 §B.1 and SwAV's own code do, so the codes equal those of one process holding the
    global batch.
    """
    shift = all_reduce_max(scores.max().clone())  # the shift cancels in the normalisation
    q = torch.exp((scores - shift) / epsilon).t()  # [K, B]
    q /= all_reduce_sum(q.sum())
    num_prototypes = q.shape[0]
    batch = int(all_reduce_sum(torch.tensor(q.shape[1], device=q.device)))
    for _ in range(iterations):
        q /= all_reduce_sum(q.sum(dim=1, keepdim=True)) * num_prototypes  # each prototype: total 1/K
        q /= q.sum(dim=0, keepdim=True) * batch  # each sample: total 1/B
    return (q * batch).t()


@in_fp32
def swav_loss(scores: torch.Tensor, temperature: float, epsilon: float = 0.05, iterations: int = 3) -> torch.Tensor:
    """Swapped prediction over ρ clips (Feichtenhofer et al. 2021 Eq. 3, [code]: codes from clips 0 and 1, predicted from the others).

    scores [B, V, K]; for each code clip c ∈ {0, 1} and every other clip j:
      L_cj = −mean_b Σ_k SK(scores[:, c])_bk · log softmax(scores[:, j] / α)_bk ;  L = mean over (c, j).
    """
    num_views = scores.shape[1]
    losses = []
    for code_view in range(min(2, num_views)):
        codes = sinkhorn_knopp(scores[:, code_view].detach(), epsilon, iterations)
        for view in range(num_views):
            if view != code_view:
                log_probs = F.log_softmax(scores[:, view] / temperature, dim=1)
                losses.append(-(codes * log_probs).sum(dim=1).mean())
    return torch.stack(losses).mean()
