"""Published results (``vssl/results/reference_tables/*.csv``) and the SEVERE summary rules: the mean over the 8 SEVERE experiments
with repetition counting as (1 − error) × 100 (Thoker 2023, Table 5.8), and a documented rank."""

from __future__ import annotations

import csv
import io
from importlib import resources

from vssl.core.errors import ConfigError

# The 8 SEVERE experiments (Thoker 2023 Ch. 4): domain (SS-v2, Gym-99), samples (UCF(10^3), Gym(10^3)), actions
# (FX-S1, UB-S1), tasks (UCF-RC, Charades).
SEVERE_TASKS = ("SS-v2", "Gym-99", "UCF(10^3)", "Gym(10^3)", "FX-S1", "UB-S1", "UCF-RC", "Charades")
LOWER_IS_BETTER = frozenset({"UCF-RC"})  # mean counting error


def _tables():
    return resources.files("vssl.results").joinpath("reference_tables")


def list_references() -> list[str]:
    return sorted(path.name[:-4] for path in _tables().iterdir() if path.name.endswith(".csv"))


def load_reference(name: str) -> dict[str, dict[str, float]]:
    """encoder → task → published value of reference table ``name`` (e.g. ``severe_table_4_4``)."""
    if name not in list_references():
        raise ConfigError(f"unknown reference table {name!r} (available: {', '.join(list_references())})")
    text = _tables().joinpath(f"{name}.csv").read_text()
    rows = csv.DictReader(io.StringIO("\n".join(line for line in text.splitlines() if not line.startswith("#"))))
    table: dict[str, dict[str, float]] = {}
    for row in rows:
        table.setdefault(row["encoder"], {})[row["task"]] = float(row["value"])
    return table


def severe_mean(scores: dict[str, float]) -> float:
    """Mean over the 8 SEVERE experiments, UCF-RC's counting error as (1 − error) × 100 (Thoker 2023, Table 5.8)."""
    missing = [task for task in SEVERE_TASKS if task not in scores]
    if missing:
        raise ConfigError(f"SEVERE mean: missing {', '.join(missing)}")
    return sum((1 - scores[t]) * 100 if t in LOWER_IS_BETTER else scores[t] for t in SEVERE_TASKS) / len(SEVERE_TASKS)


def mean_rank(table: dict[str, dict[str, float]], tasks=SEVERE_TASKS) -> dict[str, float]:
    """vssl's rank rule: the mean over ``tasks`` of each encoder's competition rank in that column (1 = best, ties
    share the best rank; lower is better for UCF-RC). Thoker 2023's own Rank column is not reproducible from its
    table (its rule is not stated), so published ranks are never recomputed by this rule."""
    ranks: dict[str, list[int]] = {encoder: [] for encoder in table}
    for task in tasks:
        values = {encoder: scores[task] for encoder, scores in table.items() if task in scores}
        for encoder, value in values.items():
            better = sum((other < value) if task in LOWER_IS_BETTER else (other > value) for other in values.values())
            ranks[encoder].append(better + 1)
    return {encoder: sum(r) / len(r) for encoder, r in ranks.items() if r}
