"""Do different tasks rank encoders alike? One headline score per task and encoder, and Kendall's τ-b between the
encoder rankings of every two tasks: the measured form of the claim of Resnick et al. 2019 and Thoker 2023 (Ch. 4)
that a linear probe ranks encoders differently from localization, counting and other task shifts."""

from __future__ import annotations

from dataclasses import dataclass

from vssl.results.report import REFERENCE_ENCODERS, SummaryRow, format_table


@dataclass(frozen=True)
class TaskScore:
    """A task's headline: the stored ``metric`` of label set ``label`` on dataset ``dataset`` (a suite names the
    dataset after the task); ``lower_is_better`` for errors such as the mean counting error."""

    dataset: str
    label: str
    metric: str
    lower_is_better: bool = False


def task_scores(rows: list[SummaryRow], tasks: dict[str, TaskScore]) -> dict[str, dict[str, SummaryRow]]:
    """task → encoder → its summary row (mean ± std over seeds) of the task's headline score."""
    found: dict[str, dict[str, SummaryRow]] = {task: {} for task in tasks}
    for row in rows:
        for task, score in tasks.items():
            if (row.dataset, row.label, row.metric) == (score.dataset, score.label, score.metric):
                found[task][row.encoder] = row
    return found


def is_reference(encoder: str) -> bool:
    """Random init or the supervised ceiling, also as a study's ``supervised/seed0``."""
    return encoder.split("/")[0] in REFERENCE_ENCODERS


def task_agreement(scores: dict[str, dict[str, SummaryRow]], tasks: dict[str, TaskScore],
                   methods_only: bool = False) -> list[list[str]]:
    """Rows [task A, task B, encoders, τ] for every two tasks scored on at least three common encoders; a
    lower-is-better score is negated first, so τ = +1 means the same order of quality. ``methods_only`` leaves
    the reference encoders (random init, supervised) out."""
    from scipy.stats import kendalltau

    names = list(tasks)
    table = []
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            shared = sorted(e for e in set(scores[first]) & set(scores[second])
                            if not (methods_only and is_reference(e)))
            if len(shared) < 3:
                continue
            a = [scores[first][e].mean * (-1 if tasks[first].lower_is_better else 1) for e in shared]
            b = [scores[second][e].mean * (-1 if tasks[second].lower_is_better else 1) for e in shared]
            table.append([first, second, str(len(shared)), f"{kendalltau(a, b).statistic:+.2f}"])
    return table


def task_agreement_report(rows: list[SummaryRow], tasks: dict[str, TaskScore]) -> str:
    """Markdown: the score table (encoders × tasks) and the τ table over all encoders and over methods only."""
    scores = task_scores(rows, tasks)
    encoders = sorted({e for by_encoder in scores.values() for e in by_encoder})
    header = ["encoder", *(f"{t} ({s.label} {s.metric}{', lower is better' if s.lower_is_better else ''})"
                           for t, s in tasks.items())]
    table = [[e, *(scores[t][e].cell if e in scores[t] else "-" for t in tasks)] for e in encoders]
    parts = ["Headline score per task (mean ± std over seeds):", "", format_table(header, table, markdown=True)]
    for methods_only, title in ((False, "every encoder"), (True, "methods only: random init and supervised left out")):
        agreement = task_agreement(scores, tasks, methods_only)
        parts += ["", f"Kendall's τ between the tasks' rankings ({title}):", "",
                  format_table(["task A", "task B", "encoders", "Kendall τ"], agreement, markdown=True)
                  if agreement else "(fewer than three encoders scored on both tasks)"]
    return "\n".join(parts) + "\n"
