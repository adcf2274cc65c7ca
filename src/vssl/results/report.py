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
    n: int | None = None  # test videos per seed (the fewest over seeds; None: not recorded)
    skipped: int | None = None  # unreadable videos skipped per seed (the most over seeds; None: not recorded)
    encoder_sha256: str = ""  # the checkpoint's hash when the encoder name alone is ambiguous (see encoder_keys)
    rule: str = ""  # the protocol settings that decided the values (Result.rule)

    @property
    def method(self) -> str:
        """The protocol as tables show it: with its rule, where one was stored (``knn (k=10, ...)``)."""
        return f"{self.protocol} ({self.rule})" if self.rule else self.protocol

    @property
    def cell(self) -> str:
        digits = decimals(self.mean)
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}" if self.seeds > 1 else f"{self.mean:.{digits}f}"


def decimals(value: float) -> int:
    """Digits after the point in tables: 1 for percentages and other values of magnitude 1 or more (and 0), 3 for
    fractions such as a mean counting error of 0.217 (Thoker 2023, Table 5.8)."""
    return 1 if value == 0 or abs(value) >= 1 or value != value else 3


def encoder_keys(results: list[Result]) -> dict[tuple[str, str], tuple[str, str]]:
    """(name, checkpoint hash) of each row → (encoder as shown, hash it is grouped by).

    A name stands for one encoder as long as no seed of it was evaluated from two different checkpoints: the same
    file under several evaluation seeds, or a study's one checkpoint per seed, is aggregated under the name. When
    one seed of a name has two checkpoints (two runs whose folders share a name), every checkpoint of that name
    becomes its own encoder, shown as ``name#<first 8 hex digits>``; rows without a hash (stored by an older vssl)
    stay under the bare name. So different checkpoints never replace each other's numbers."""
    hashes: dict[tuple[str, int], set[str]] = defaultdict(set)
    for r in results:
        if r.encoder_sha256:
            hashes[(r.encoder, r.seed)].add(r.encoder_sha256)
    ambiguous = {name for (name, _), found in hashes.items() if len(found) > 1}
    keys = {}
    for r in results:
        split = r.encoder in ambiguous and r.encoder_sha256
        keys[(r.encoder, r.encoder_sha256)] = ((f"{r.encoder}#{r.encoder_sha256[:8]}", r.encoder_sha256) if split
                                               else (r.encoder, ""))
    return keys


def summarise(results: list[Result]) -> list[SummaryRow]:
    """Group by (encoder, protocol, rule, dataset, label, metric), the encoder being its name, or its name and
    checkpoint hash where the name is ambiguous (``encoder_keys``); mean and sample std over seeds (latest per seed).
    Values of different rules (e.g. a majority and a weighted kNN vote) stay in different rows."""
    identity = encoder_keys(results)
    latest: dict[tuple, dict[int, Result]] = defaultdict(dict)
    for r in results:  # results come oldest first, so a re-run of a seed replaces the older value
        key = (*identity[(r.encoder, r.encoder_sha256)], r.rule, r.protocol, r.dataset, r.label, r.metric)
        latest[key][r.seed] = r
    rows = []
    for (encoder, sha256, rule, *key), by_seed in latest.items():
        values = [r.value for r in by_seed.values()]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        counts = [r.n_videos for r in by_seed.values() if r.n_videos is not None]
        skipped = [r.n_skipped for r in by_seed.values() if r.n_skipped is not None]
        rows.append(SummaryRow(encoder, *key, mean=statistics.fmean(values), std=std, seeds=len(values),
                               n=min(counts) if counts else None, skipped=max(skipped) if skipped else None,
                               encoder_sha256=sha256, rule=rule))
    return sorted(rows, key=lambda r: (r.dataset, r.label, r.method, metric_order(r.metric), r.encoder))


def metric_order(metric: str) -> tuple[str, int]:
    """Sort key of a metric name that orders its number numerically: top1, top5, top10, top20."""
    digits = len(metric) - len(metric.rstrip("0123456789"))
    return (metric[:len(metric) - digits], int(metric[len(metric) - digits:]) if digits else -1)


def count_cell(values: list[int | None]) -> str:
    """Test videos of a table line: one number, a range where encoders saw different numbers, '?' if unknown."""
    known = sorted({v for v in values if v is not None})
    if not known:
        return "?"
    return str(known[0]) if len(known) == 1 else f"{known[0]}-{known[-1]}"


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


def shown_protocols(rows: list[SummaryRow]) -> tuple[dict[tuple[str, str], str], list[str]]:
    """How tables name each (protocol, rule): the bare protocol where the rows hold one rule for it (the rule then
    goes into a note below the table), else the protocol with its rule; and those notes."""
    rules: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        rules[r.protocol].add(r.rule)
    shown = {(r.protocol, r.rule): r.protocol if len(rules[r.protocol]) == 1 else r.method for r in rows}
    notes = [f"{protocol}: {rule}" for protocol, found in sorted(rules.items()) if len(found) == 1
             for rule in found if rule]
    return shown, notes


def comparison_table(rows: list[SummaryRow], markdown: bool = False) -> str:
    """One line per (label, protocol, metric), one column per encoder; the protocols' rules in a note below."""
    encoders = sorted({r.encoder for r in rows})
    shown, notes = shown_protocols(rows)
    cells: dict[tuple, dict[str, str]] = defaultdict(dict)
    counts: dict[tuple, list[int | None]] = defaultdict(list)
    for r in rows:
        key = (r.dataset, r.label, shown[(r.protocol, r.rule)], r.metric)
        cells[key][r.encoder] = r.cell
        counts[key].append(r.n)
    body = [[*key, count_cell(counts[key]), *(cells[key].get(e, "-") for e in encoders)]
            for key in sorted(cells, key=lambda k: (*k[:3], metric_order(k[3])))]
    table = format_table(["dataset", "label", "protocol", "metric", "n", *encoders], body, markdown)
    return table + "".join(f"\n\n{note}" if markdown else f"\n{note}" for note in notes)


def summary_csv(rows: list[SummaryRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # the original columns first, in their order (scripts read them by position); counts and rule after them
    writer.writerow(["encoder", "protocol", "dataset", "label", "metric", "mean", "std", "seeds", "n", "skipped",
                     "rule"])
    for r in rows:
        writer.writerow([r.encoder, r.protocol, r.dataset, r.label, r.metric, f"{r.mean:.4f}",
                         f"{r.std:.4f}", r.seeds, "" if r.n is None else r.n, "" if r.skipped is None else r.skipped,
                         r.rule])
    return buffer.getvalue()


REFERENCE_ENCODERS = ("random", "supervised")  # the floor and the ceiling: not methods to be ranked


def ranking_agreement(rows: list[SummaryRow], metric: str = "top1",
                      exclude: tuple[str, ...] = REFERENCE_ENCODERS) -> list[list[str]]:
    """Kendall's τ-b between the method rankings of every two protocols, per (dataset, label): do a kNN, a linear
    probe and fine-tuning order the methods alike (Resnick et al. 2019; Thoker 2023, Ch. 2)? Rows of [dataset,
    label, protocol A, protocol B, methods, τ]; methods evaluated by only one of the two protocols are left out."""
    from scipy.stats import kendalltau

    shown, _ = shown_protocols(rows)
    means: dict[tuple, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        if r.metric == metric and r.encoder not in exclude:
            means[(r.dataset, r.label)][shown[(r.protocol, r.rule)]][r.encoder] = r.mean
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


class DifferenceRow(SummaryRow):
    """A table column of differences (an encoder's mean minus the baseline's), shown with its sign."""

    @property
    def cell(self) -> str:
        return f"{self.mean:+.{decimals(self.mean)}f}"


def difference_rows(rows: list[SummaryRow], baseline: str = "random",
                    exclude: tuple[str, ...] = REFERENCE_ENCODERS) -> list[SummaryRow]:
    """For each method (not a reference encoder) a column ``<method> − <baseline>``: its mean minus the baseline's
    on the same (dataset, label, protocol, metric), e.g. how far self-supervision lifts a probe above random init."""
    base = {(r.dataset, r.label, r.method, r.metric): r.mean for r in rows if r.encoder == baseline}
    return [DifferenceRow(**{**vars(r), "encoder": f"{r.encoder} − {baseline}", "std": 0.0,
                             "mean": r.mean - base[(r.dataset, r.label, r.method, r.metric)]})
            for r in rows if r.encoder not in (*exclude, baseline) and (r.dataset, r.label, r.method, r.metric) in base]
