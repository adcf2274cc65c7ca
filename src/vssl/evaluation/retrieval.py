"""Video retrieval (Wang 2020 §3.6.2, Kumar et al. 2023 §5): each test video queries the training videos by cosine similarity.

A query is a hit at k when any of its k most similar training videos has its class; the top-k score is the
percentage of hits over all test videos. Features are one vector per video (the views' features averaged).
"""

from __future__ import annotations

from collections import defaultdict

import torch
import torch.nn.functional as F

from vssl.benchmark.report import format_table, summarise
from vssl.benchmark.store import Result

RETRIEVAL_TOP_K = (1, 5, 10, 20, 50)  # Wang 2020 Tables 3.5/3.6 and 4.8-4.10; Kumar et al. 2023 §5
PROTOCOL_PREFIX = "retrieval@"


def retrieval_topk(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                   test_labels: torch.Tensor, top_k: tuple[int, ...] = RETRIEVAL_TOP_K) -> dict[int, float]:
    """{k: top-k hit rate in %} of test → train retrieval on [N, D] / [M, D] video features.

    A k larger than the number of training videos counts every training video as retrieved.
    """
    similarity = F.normalize(test_features, dim=1) @ F.normalize(train_features, dim=1).t()
    depth = min(max(top_k), train_features.shape[0])
    neighbours = similarity.topk(depth, dim=1).indices
    hit_by_rank = (train_labels[neighbours] == test_labels[:, None]).cumsum(dim=1) > 0
    return {k: 100.0 * hit_by_rank[:, min(k, depth) - 1].float().mean().item() for k in top_k}


def protocol_name(tap: str) -> str:
    """The results-store protocol of retrieval from ``tap`` (a backbone tap name)."""
    return PROTOCOL_PREFIX + tap


def retrieval_table(results: list[Result]) -> str:
    """Retrieval results by layer: one table per (encoder, dataset, label), rows = taps in the order they were
    evaluated, columns = top-k; cells are mean (± std) over seeds. Empty when there is no retrieval result."""
    retrieval = [r for r in results if r.protocol.startswith(PROTOCOL_PREFIX)]
    tap_order = list(dict.fromkeys(r.protocol[len(PROTOCOL_PREFIX):] for r in retrieval))
    cells: dict[tuple[str, str, str], dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    for row in summarise(retrieval):
        cells[(row.encoder, row.dataset, row.label)][row.protocol[len(PROTOCOL_PREFIX):]][row.metric] = row.cell
    tables = []
    for (encoder, dataset, label), by_tap in sorted(cells.items()):
        metrics = sorted({m for by_metric in by_tap.values() for m in by_metric}, key=lambda m: int(m[3:]))
        rows = [[tap, *(by_tap[tap].get(m, "-") for m in metrics)] for tap in tap_order if tap in by_tap]
        title = f"retrieval top-k hit rate (%): encoder {encoder}, dataset {dataset}, label {label}"
        tables.append(title + "\n" + format_table(["tap", *metrics], rows))
    return "\n\n".join(tables)
