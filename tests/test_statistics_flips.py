"""One rule decides flips: on a dataset whose sidecar forbids mirrors, the statistics method mirrors no clip."""

import pytest
import yaml

from vssl.app.pretrain import PretrainConfig, run_pretrain
from vssl.core.config import load_config
from vssl.data.formats.common import DatasetInfo, write_dataset_info
from vssl.methods.label_cache import LabelTable, compute_statistics_labels
from vssl.data.manifest import read_manifest, write_manifest

SMALL = ["train.batch_size=4", "train.epochs=1", "train.progress=false", "model.width=0.125",
         "model.depth=[1,1,1,1]", "data.clip_len=4", "data.stride=2", "data.crop_size=32", "data.num_workers=0",
         "method.name=statistics", "method.head_hidden=32", "optim.warmup_epochs=0"]


def _statistics_run(micro_manifest, folder, horizontal_flip, labels, monkeypatch) -> tuple[list[bool], dict]:
    """Pre-train statistics on a copy of the micro set marked flip-safe or not; → each clip's mirrored flag."""
    folder.mkdir()
    manifest = folder / "manifest.csv"
    write_manifest(read_manifest(micro_manifest, split="pretrain"), manifest)
    write_dataset_info(DatasetInfo("ssv2" if not horizontal_flip else "synthetic", {}, horizontal_flip, {}), manifest)
    mirrored_flags: list[bool] = []
    targets = LabelTable.targets

    def recording(self, paths, starts, mirrored):
        mirrored_flags.extend(mirrored)
        return targets(self, paths, starts, mirrored)

    monkeypatch.setattr(LabelTable, "targets", recording)
    run = run_pretrain(load_config(PretrainConfig, None, "pretrain", [
        f"data.manifest={manifest}", f"train.out_dir={folder / 'run'}", f"method.labels={labels}", *SMALL]))
    return mirrored_flags, yaml.safe_load((run / "config.yaml").read_text())


@pytest.fixture
def labels(micro_manifest, tmp_path):
    return compute_statistics_labels(micro_manifest, "pretrain", clip_len=4, stride=2, out=tmp_path / "labels.npz",
                                     progress=False)


def test_no_clip_of_a_no_flip_dataset_is_mirrored(micro_manifest, tmp_path, labels, monkeypatch, capsys):
    mirrored, config = _statistics_run(micro_manifest, tmp_path / "no_flip", False, labels, monkeypatch)
    assert len(mirrored) == 16 and not any(mirrored)  # 4 steps of 4 clips, each regressed onto its unflipped labels
    assert config["method"]["flip"] is False and config["data"]["flip"] is False
    assert "ssv2 labels change under a horizontal flip; training without flips" in capsys.readouterr().out


def test_a_flip_safe_dataset_still_mirrors_some_clips(micro_manifest, tmp_path, labels, monkeypatch):
    mirrored, config = _statistics_run(micro_manifest, tmp_path / "flip_safe", True, labels, monkeypatch)
    assert len(mirrored) == 16 and 0 < sum(mirrored) < 16  # the same run flips when the dataset allows it
    assert config["method"]["flip"] is True
