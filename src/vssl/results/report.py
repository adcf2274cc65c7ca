"""Aggregate stored results over seeds (mean ± std) and render them as text, Markdown or CSV tables."""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from dataclasses import dataclass

from vssl.results.store import Result


@dataclass
class SummaryRow:
    encoder: str
    protocol: str
    dataset: str
    label: str
    metric: str
    mean: float
    std: float
    seeds: int

    @property
    def cell(self) -> str:
        return f"{self.mean:.1f} ± {self.std:.1f}" if self.seeds > 1 else f"{self.mean:.1f}"


def summarise(results: list[Result]) -> list[SummaryRow]:
    """Group by (encoder, protocol, dataset, label, metric); mean and sample std over seeds (latest per seed)."""
    latest: dict[tuple, dict[int, float]] = defaultdict(dict)
    for r in results:  # results come oldest first, so a re-run of a seed replaces the older value
        latest[(r.encoder, r.protocol, r.dataset, r.label, r.metric)][r.seed] = r.value
    rows = []
    for key, by_seed in latest.items():
        values = list(by_seed.values())
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        rows.append(SummaryRow(*key, mean=statistics.fmean(values), std=std, seeds=len(values)))
    return sorted(rows, key=lambda r: (r.dataset, r.label, r.protocol, r.metric, r.encoder))


def format_table(headers: list[str], rows: list[list[str]], markdown: bool = False) -> str:
    """Fixed-width text table, or a Markdown pipe table."""
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
                     + [fmt.format(*row) for row in rows])


def comparison_table(rows: list[SummaryRow], markdown: bool = False) -> str:
    """One line per (label, protocol, metric), one column per encoder."""
    encoders = sorted({r.encoder for r in rows})
    cells: dict[tuple, dict[str, str]] = defaultdict(dict)
    for r in rows:
        cells[(r.dataset, r.label, r.protocol, r.metric)][r.encoder] = r.cell
    body = [[*key, *(cells[key].get(e, "-") for e in encoders)] for key in sorted(cells)]
    return format_table(["dataset", "label", "protocol", "metric", *encoders], body, markdown)


def summary_csv(rows: list[SummaryRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["encoder", "protocol", "dataset", "label", "metric", "mean", "std", "seeds"])
    for r in rows:
        writer.writerow([r.encoder, r.protocol, r.dataset, r.label, r.metric, f"{r.mean:.4f}", f"{r.std:.4f}", r.seeds])
    return buffer.getvalue()


REFERENCE_ENCODERS = ("random", "supervised")  # the floor and the ceiling: not methods to be ranked


def ranking_agreement(rows: list[SummaryRow], metric: str = "top1",
                      exclude: tuple[str, ...] = REFERENCE_ENCODERS) -> list[list[str]]:
    """Kendall's τ-b between the method rankings of every two protocols, per (dataset, label): do a kNN, a linear
    probe and fine-tuning order the methods alike (Resnick et al. 2019; Thoker 2023, Ch. 2)? Rows of [dataset,
    label, protocol A, protocol B, methods, τ]; methods evaluated by only one of the two protocols are left out."""
    from scipy.stats import kendalltau

    means: dict[tuple, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        if r.metric == metric and r.encoder not in exclude:
            means[(r.dataset, r.label)][r.protocol][r.encoder] = r.mean
    table = []
    for (dataset, label), by_protocol in sorted(means.items()):
        protocols = sorted(by_protocol)
        for i, first in enumerate(protocols):
            for second in protocols[i + 1:]:
                shared = sorted(set(by_protocol[first]) & set(by_protocol[second]))
                if len(shared) < 3:
                    continue
                tau = kendalltau([by_protocol[first][e] for e in shared],
                                 [by_protocol[second][e] for e in shared]).statistic
                table.append([dataset, label, first, second, str(len(shared)), f"{tau:+.2f}"])
    return table


AGREEMENT_HEADERS = ["dataset", "label", "protocol A", "protocol B", "methods", "Kendall τ"]


def retrieval_table(results: list[Result]) -> str:
    """Retrieval results by layer: one table per (encoder, dataset, label), rows = taps in the order they were
    evaluated, columns = top-k; cells are mean (± std) over seeds. Empty when there is no retrieval result."""
    from vssl.evaluation.retrieval import PROTOCOL_PREFIX  # imports torch: only when asked for

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
