"""Kendall's τ between the encoder rankings of suite tasks: directions of errors, reference encoders left out, and
the linear_vs_tasks suite's headline scores."""

import pytest

from vssl.app.suite import headline_scores, load_suite
from vssl.core.errors import ConfigError
from vssl.results.report import SummaryRow
from vssl.results.task_agreement import TaskScore, task_agreement, task_agreement_report, task_scores

TASKS = {"linear": TaskScore("linear", "motion", "top1"),
         "counting": TaskScore("counting", "count", "mean_counting_error", lower_is_better=True),
         "arrow": TaskScore("arrow", "direction", "top1")}


def _rows():
    encoders = ["random", "supervised/seed0", "a", "b", "c"]
    linear = [10.0, 90.0, 40.0, 50.0, 60.0]
    error = [0.9, 0.1, 0.5, 0.4, 0.3]  # the same order of quality as linear
    arrow = [50.0, 95.0, 80.0, 70.0, 60.0]  # methods reversed
    rows = []
    for task, values, label, metric in (("linear", linear, "motion", "top1"),
                                         ("counting", error, "count", "mean_counting_error"),
                                         ("arrow", arrow, "direction", "top1")):
        rows += [SummaryRow(e, task, task, label, metric, v, 0.0, 1) for e, v in zip(encoders, values)]
    rows.append(SummaryRow("a", "linear", "linear", "motion", "mean_class_acc", 1.0, 0.0, 1))  # not the headline
    return rows


def test_tau_by_hand_with_errors_negated_and_references_left_out():
    scores = task_scores(_rows(), TASKS)
    assert scores["linear"]["a"].mean == 40.0
    every = {(a, b): (n, tau) for a, b, n, tau in task_agreement(scores, TASKS)}
    # all five: linear vs counting agree fully; linear vs arrow: pairs (random, sup) concordant with everything,
    # the 3 method pairs discordant → of 10 pairs 7 concordant, 3 discordant: τ = 0.4
    assert every["linear", "counting"] == ("5", "+1.00")
    assert every["linear", "arrow"] == ("5", "+0.40")
    methods = {(a, b): (n, tau) for a, b, n, tau in task_agreement(scores, TASKS, methods_only=True)}
    assert methods["linear", "counting"] == ("3", "+1.00")
    assert methods["linear", "arrow"] == ("3", "-1.00")
    report = task_agreement_report(_rows(), TASKS)
    assert "counting (count mean_counting_error, lower is better)" in report and "| 0.500 |" in report


def test_linear_vs_tasks_names_a_headline_for_every_task():
    config = load_suite("linear_vs_tasks")
    scores = headline_scores(config)
    assert set(scores) == {"linear", "finetune", "localization", "counting", "arrow", "arrow_finetune", "multilabel"}
    assert scores["localization"] == TaskScore("localization", "proposals", "AR@100")
    assert scores["counting"].lower_is_better and not scores["linear"].lower_is_better


def test_a_score_without_its_label_is_refused(tmp_path):
    preset = tmp_path / "s.yaml"
    preset.write_text("tasks:\n  t: {synthetic: world32, eval_preset: synthetic_world, protocols: [linear], "
                      "score: top1}\n")
    with pytest.raises(ConfigError, match=r"tasks.t.score='top1' must look like label/metric"):
        load_suite(str(preset))
