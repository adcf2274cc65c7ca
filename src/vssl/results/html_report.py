"""`vssl report`: a static HTML page of a results store (no server): the encoder × task table with mean ± std and
mean ranks, a bar chart per task with every seed, Kendall τ heat-maps between protocols, CKA maps and pre-training
loss curves when present, links to each run's config, and the tables as CSV and LaTeX."""

from __future__ import annotations

import csv
import os
import shutil
from collections import defaultdict
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from vssl.core.errors import ConfigError
from vssl.core.io import write_text_atomic
from vssl.results.references import load_reference, mean_rank
from vssl.results.report import ranking_agreement, summarise, summary_csv
from vssl.results.store import ResultStore, is_database_url, local_folder
from vssl.results.svg import bar_chart, heat_map, line_chart


def task_name(row) -> str:
    """A column of the report: dataset / label / protocol (the protocols' rules are listed under the table)."""
    return f"{row.dataset}/{row.label}/{row.protocol}"


def latex_table(encoders: list[str], tasks: list[str], cells: dict[tuple[str, str], str]) -> str:
    """The encoder × task table as a LaTeX tabular (booktabs)."""
    def tex(text: str) -> str:
        return text.replace("\\", "\\textbackslash{}").replace("_", "\\_").replace("&", "\\&").replace("%", "\\%") \
            .replace("#", "\\#").replace("±", "$\\pm$")
    lines = ["\\begin{tabular}{l" + "r" * len(tasks) + "}", "\\toprule",
             " & ".join(["encoder", *(tex(t) for t in tasks)]) + " \\\\", "\\midrule"]
    lines += [" & ".join([tex(e), *(tex(cells.get((e, t), "--")) for t in tasks)]) + " \\\\" for e in encoders]
    return "\n".join([*lines, "\\bottomrule", "\\end{tabular}"]) + "\n"


def loss_curves(runs: Path) -> dict[str, list[tuple[float, float]]]:
    """train/loss_step against step of every run under ``runs`` (``<name>/seed<k>/logs/version_*/metrics.csv``)."""
    curves = {}
    for metrics in sorted(runs.glob("*/seed*/logs/version_*/metrics.csv")):
        name = f"{metrics.parents[3].name} {metrics.parents[2].name}"
        with open(metrics, newline="") as file:
            points = [(float(row["step"]), float(row["train/loss_step"])) for row in csv.DictReader(file)
                      if row.get("train/loss_step") and row.get("step")]
        if points:
            curves[name] = points
    return curves


def published_rows(reference: str, identities: dict[str, str]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(columns, rows) of a shipped reference table, for the encoders named in ``identities`` (ours → published
    name, e.g. {"random": "None"}), each row labelled "ours (published name)"; every encoder when none are named."""
    table = load_reference(reference)
    columns = list(dict.fromkeys(task for scores in table.values() for task in scores))  # the file's order
    chosen = [(f"{ours} ({theirs})", theirs) for ours, theirs in identities.items()] if identities else \
        [(name, name) for name in table]
    unknown = [theirs for _, theirs in chosen if theirs not in table]
    if unknown:
        raise ConfigError(f"--as: {unknown[0]!r} is not in {reference} (rows: {', '.join(table)})")
    return columns, [(label, [f"{table[theirs][c]:g}" if c in table[theirs] else "–" for c in columns])
                     for label, theirs in chosen]


def build_report(store: str | Path, out: str | Path, runs: str | Path | None = None, title: str = "vssl report",
                 reference: str | None = None, identities: dict[str, str] | None = None) -> Path:
    """Write ``out/index.html`` (and tables.csv, tables.tex, copies of the store's CKA maps); → its path.
    ``reference`` (a shipped table, e.g. severe_table_4_4) adds the published numbers of the encoders that
    ``identities`` maps to it (ours → published name)."""
    store = store if is_database_url(store) else Path(store)
    out = Path(out)
    source = ResultStore(store, create=False)
    results = source.query()
    top1 = [r for r in summarise(results) if r.metric == "top1"]
    out.mkdir(parents=True, exist_ok=True)
    tasks = sorted({task_name(r) for r in top1})
    encoders = sorted({r.encoder for r in top1})
    cells = {(r.encoder, task_name(r)): r.cell for r in top1}
    table = {e: {task_name(r): r.mean for r in top1 if r.encoder == e} for e in encoders}
    ranks = {e: f"{rank:.2f}" for e, rank in mean_rank(table, tasks).items()}
    seeds = defaultdict(list)
    for r in results:
        if r.metric == "top1":
            seeds[(r.encoder, r.dataset, r.label, r.protocol)].append(r.value)
    bars = []
    for task in tasks:
        rows = [r for r in top1 if task_name(r) == task]
        bars.append(bar_chart(task, [(r.encoder, r.mean, r.std, seeds[(r.encoder, r.dataset, r.label, r.protocol)])
                                     for r in rows]))
    by_pair = defaultdict(dict)
    for dataset, label, first, second, _, tau in ranking_agreement(top1):
        by_pair[(dataset, label)][(first, second)] = by_pair[(dataset, label)][(second, first)] = float(tau)
    agreement = []
    for (dataset, label), values in sorted(by_pair.items()):
        names = sorted({name for pair in values for name in pair})
        values.update({(name, name): 1.0 for name in names})
        agreement.append(heat_map(f"{dataset}/{label}", names, values))
    cka = []
    for image in sorted((local_folder(store) / "cka").glob("*.png")):
        (out / "cka").mkdir(exist_ok=True)
        shutil.copyfile(image, out / "cka" / image.name)
        cka.append(f"cka/{image.name}")
    curves, configs = "", []
    if runs is not None and Path(runs).is_dir():
        curves = line_chart("pre-training loss", loss_curves(Path(runs)))
        configs = [(f"{p.parents[1].name} {p.parent.name}", os.path.relpath(p, out))
                   for p in sorted(Path(runs).glob("*/seed*/config.yaml"))]
    published = published_rows(reference, identities or {}) if reference else None
    environment = Environment(loader=PackageLoader("vssl.results", "templates"), autoescape=select_autoescape())
    page = environment.get_template("report.html").render(
        title=title, store=source.display() if hasattr(source, "display") else str(store), count=len(results), tasks=tasks, encoders=encoders, cells=cells, ranks=ranks,
        rules=sorted({f"{r.protocol}: {r.rule}" for r in top1 if r.rule}), reference=reference,
        published=published, bars=bars, agreement=agreement, cka=cka, curves=curves, configs=configs)
    write_text_atomic(out / "index.html", page)
    write_text_atomic(out / "tables.csv", summary_csv(top1))
    write_text_atomic(out / "tables.tex", latex_table(encoders, tasks, cells))
    return out / "index.html"

