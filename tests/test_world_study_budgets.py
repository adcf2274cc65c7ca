"""The world32 studies: every run shares the study's epoch budget except the supervised ceiling, which keeps its 30."""

import pytest

from vssl.app.pretrain import PretrainConfig
from vssl.app.study import load_study
from vssl.core.config import load_config

WORLD_STUDIES = ["demo", "calibration_world32", "rho_world32", "pretext_world32", "kumar_methods", "kumar_robustness",
                 "thoker_tubelets"]


def _epochs(study, run) -> int:
    return load_config(PretrainConfig, run.preset, "pretrain", [*study.pretrain_overrides, *run.overrides]).train.epochs


@pytest.mark.parametrize("name", WORLD_STUDIES)
def test_the_ceiling_is_not_cut_to_the_study_budget(name):
    """Study-level overrides come before a run's own, so a study's `train.epochs=2` must not shorten the ceiling:
    12 epochs reached only 89.5 % motion linear in the calibration, 30 clear 90 % (docs/results/calibration.md)."""
    study = load_study(name)
    assert study.synthetic == "world32"
    budgets = {run_name: _epochs(study, run) for run_name, run in study.runs.items()}
    ceiling = budgets.pop("supervised")
    assert ceiling == (12 if name == "calibration_world32" else 30)
    assert len(set(budgets.values())) == 1  # equal ground: one budget for every self-supervised run


def test_the_60_minute_studies_use_two_epochs_and_three_seeds():
    for name in ("rho_world32", "pretext_world32", "kumar_methods", "kumar_robustness", "thoker_tubelets"):
        study = load_study(name)
        assert study.seeds == 3
        assert {_epochs(study, run) for run_name, run in study.runs.items() if run_name != "supervised"} == {2}
