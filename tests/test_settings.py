"""Bad settings are refused when loaded: numbers out of range, manifests without a required column, test-only classes."""

import json
import math
import subprocess
import sys

import pytest

from vssl.app.evaluate import EvalConfig, EvalData, EvalDataConfig
from vssl.app.pretrain import PretrainConfig, finite_or_none, resolve_method
from vssl.app.study import load_study
from vssl.core.config import Range, load_config
from vssl.core.errors import ConfigError, VsslError
from vssl.data.manifest import read_manifest


@pytest.mark.parametrize("override, message", [
    ("train.epochs=-1", "train.epochs=-1 is out of range: expected >= 1"),
    ("train.epochs=0", "train.epochs=0 is out of range: expected >= 1"),
    ("train.batch_size=-4", "train.batch_size=-4 is out of range: expected >= 1"),
    ("train.seed=-1", "train.seed=-1 is out of range: expected >= 0"),
    ("optim.lr=-1", "optim.lr=-1.0 is out of range: expected > 0"),
    ("optim.lr=0", "optim.lr=0.0 is out of range: expected > 0"),
    ("optim.weight_decay=-0.1", "optim.weight_decay=-0.1 is out of range: expected >= 0"),
    ("data.num_workers=-1", "data.num_workers=-1 is out of range: expected >= 0"),
    ("data.clip_len=0", "data.clip_len=0 is out of range: expected >= 1"),
    ("data.stride=0", "data.stride=0 is out of range: expected >= 1"),
    ("data.crop_size=0", "data.crop_size=0 is out of range: expected >= 1"),
    ("data.short_side=[32,0]", "data.short_side[1]=0 is out of range: expected >= 1"),
    ("data.temporal_difference_p=1.5", "data.temporal_difference_p=1.5 is out of range: expected in [0, 1]"),
    ("data.fps_jitter=1", "data.fps_jitter=1.0 is out of range: expected in [0, 1)"),
    ("monitor.k=0", "monitor.k=0 is out of range: expected >= 1"),
    ("optim.lr=.nan", "optim.lr=nan is out of range: expected > 0"),
])
def test_pretrain_settings_out_of_range_name_key_value_and_range(override, message):
    with pytest.raises(ConfigError) as error:
        load_config(PretrainConfig, "rho_moco_tiny", "pretrain", [override])
    assert str(error.value) == message


@pytest.mark.parametrize("override, message", [
    ("method.rho=0", "method.rho=0 is out of range: expected >= 1"),
    ("method.temperature=0", "method.temperature=0.0 is out of range: expected > 0"),
    ("method.momentum=1.5", "method.momentum=1.5 is out of range: expected in [0, 1]"),
])
def test_method_settings_out_of_range(override, message):
    config = load_config(PretrainConfig, "rho_moco_tiny", "pretrain", [override])
    with pytest.raises(ConfigError) as error:
        resolve_method(config)
    assert str(error.value) == message


@pytest.mark.parametrize("override, message", [
    ("knn.k=0", "knn.k=0 is out of range: expected >= 1"),
    ("seeds=0", "seeds=0 is out of range: expected >= 1"),
    ("data.batch_size=0", "data.batch_size=0 is out of range: expected >= 1"),
    ("data.test_crop_size=0", "data.test_crop_size=0 is out of range: expected >= 1"),
    ("linear.epochs=0", "linear.epochs=0 is out of range: expected >= 1"),
    ("linear.lr=-0.1", "linear.lr=-0.1 is out of range: expected > 0"),
    ("finetune.dropout=1.2", "finetune.dropout=1.2 is out of range: expected in [0, 1]"),
    ("finetune.milestones=[10,-1]", "finetune.milestones[1]=-1 is out of range: expected >= 0"),
    ("retrieval.top_k=[1,0]", "retrieval.top_k[1]=0 is out of range: expected >= 1"),
])
def test_eval_settings_out_of_range(override, message):
    with pytest.raises(ConfigError) as error:
        load_config(EvalConfig, "synthetic_tiny", "eval", [override])
    assert str(error.value) == message


def test_in_range_and_unset_values_load():
    config = load_config(EvalConfig, "synthetic_tiny", "eval", ["data.test_crop_size=null", "finetune.dropout=1",
                                                                 "linear.weight_decay=0", "data.num_workers=0"])
    assert config.data.test_crop_size is None and config.finetune.dropout == 1.0
    assert load_config(PretrainConfig, "rho_moco_tiny", "pretrain", ["train.epochs=1"]).train.epochs == 1


def test_study_seeds_must_be_at_least_one():
    with pytest.raises(ConfigError, match=r"^seeds=0 is out of range: expected >= 1$"):
        load_study("demo", ["seeds=0"])


def test_range_bounds():
    assert 0 in Range(ge=0) and 0 not in Range(gt=0) and 1 in Range(ge=0, le=1) and 1 not in Range(ge=0, lt=1)
    assert math.inf not in Range(gt=0) and math.nan not in Range(ge=0, le=1)
    assert [str(r) for r in (Range(ge=1), Range(gt=0), Range(ge=0, le=1), Range(ge=0, lt=1))] == [
        ">= 1", "> 0", "in [0, 1]", "in [0, 1)"]


@pytest.mark.parametrize("override", ["train.epochs=-1", "optim.lr=-1"])  # the rest: in-process above
def test_cli_refuses_bad_pretrain_settings_in_one_line(override):
    result = subprocess.run([sys.executable, "-m", "vssl.app.cli", "pretrain", "rho_moco_tiny", override],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith(f"error: {override.split('=')[0]}=") and "out of range" in result.stderr


def test_demo_refuses_a_bad_epoch_count_before_generating_data(tmp_path):
    result = subprocess.run([sys.executable, "-m", "vssl.app.cli", "demo", "--out", str(tmp_path / "demo"),
                             "--epochs", "0"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.strip() == "error: train.epochs=0 is out of range: expected >= 1"
    assert not (tmp_path / "demo" / "data").exists()


def test_summary_metrics_are_finite_or_null():
    import torch

    assert finite_or_none(None) is None and finite_or_none(math.nan) is None and finite_or_none(math.inf) is None
    assert finite_or_none(torch.tensor(1.5)) == 1.5
    summary = {"final_loss": finite_or_none(torch.tensor(math.nan))}
    assert json.dumps(summary, allow_nan=False) == '{"final_loss": null}'


def test_a_manifest_without_a_split_column_names_the_column_and_file(tmp_path):
    (tmp_path / "m.csv").write_text("path,label\na.mp4,x\n")
    with pytest.raises(VsslError) as error:
        read_manifest(tmp_path / "m.csv", split="pretrain")
    assert str(error.value) == f"{tmp_path / 'm.csv'}: manifest needs a 'split' column (has: path, label)"
    (tmp_path / "m.jsonl").write_text(json.dumps({"path": "a.mp4", "split": "train"}) + "\n"
                                      + json.dumps({"path": "b.mp4", "labels": {"label": "x"}}) + "\n")
    with pytest.raises(VsslError) as error:
        read_manifest(tmp_path / "m.jsonl")
    assert str(error.value) == f"{tmp_path / 'm.jsonl'}:2: manifest needs a 'split' key (has: path, labels)"


def test_a_class_only_in_the_test_split_is_refused(tmp_path):
    """Without a sidecar classes are numbered by sorted name: 'circle' 0, 'jump' 1, 'run' 2, 'walk' 3."""
    rows = [("a", "train", "walk"), ("b", "train", "run"), ("c", "test", "walk"), ("d", "test", "jump"),
            ("e", "test", "circle")]
    (tmp_path / "m.csv").write_text("path,split,action\n" + "".join(f"{p}.mp4,{s},{c}\n" for p, s, c in rows))
    with pytest.raises(VsslError) as error:
        EvalData(EvalDataConfig(manifest=str(tmp_path / "m.csv"), labels=("action",)), progress=False)
    assert str(error.value) == ("label set 'action': class 0 'circle' occurs only in split 'test', not in training "
                                "split 'train' (1 more such class(es))")
