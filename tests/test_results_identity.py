"""An encoder's identity in the results store: its checkpoint's SHA-256 plus a readable run-folder name, so two
checkpoints never overwrite each other's numbers, and a resumed study re-evaluates a retrained checkpoint."""

import hashlib

import torch

from vssl.app.evaluate import EncoderConfig, EvalConfig, EvalDataConfig, encoder_name, run_eval
from vssl.models.checkpoints import save_encoder
from vssl.models.spec import EncoderSpec
from vssl.models.registry import build_backbone
from vssl.results import load
from vssl.results.report import comparison_table, summarise

SMALL = dict(clip_len=4, num_clips=2, crop_size=24, short_side=24, num_workers=0, labels=("motion",))
BACKBONE = {"width": 0.125, "depth": (1, 1, 1, 1)}


def _checkpoint(path, seed: int):
    torch.manual_seed(seed)
    save_encoder(path, build_backbone("r3d_18", **BACKBONE), EncoderSpec("r3d_18", BACKBONE))
    return path


def _config(manifest, store, checkpoint) -> EvalConfig:
    return EvalConfig(data=EvalDataConfig(manifest=str(manifest), **SMALL), store=str(store), progress=False,
                      encoder=EncoderConfig(checkpoint=str(checkpoint)), feature_cache="none")


def test_default_name_is_the_run_folder_above_seed_and_checkpoints(tmp_path):
    def name(path):
        return encoder_name(EncoderConfig(checkpoint=str(path)))
    assert name(tmp_path / "rho_moco_r1" / "seed0" / "encoder.pt") == "rho_moco_r1/seed0"
    assert name(tmp_path / "rho_moco_r1" / "seed3" / "checkpoints" / "last.ckpt") == "rho_moco_r1/seed3"
    assert name(tmp_path / "run" / "checkpoints" / "last.ckpt") == "run"
    assert name(tmp_path / "downloads" / "r3d.pth") == "downloads"


def test_two_checkpoints_in_same_named_folders_keep_their_own_numbers(micro_manifest, tmp_path):
    store = tmp_path / "results.sqlite"
    first = _checkpoint(tmp_path / "a" / "run" / "seed0" / "encoder.pt", seed=1)
    second = _checkpoint(tmp_path / "b" / "run" / "seed0" / "encoder.pt", seed=2)
    returned = {path: run_eval(["knn"], _config(micro_manifest, store, path)) for path in (first, second)}

    stored = load(store)
    assert len(stored) == sum(len(r) for r in returned.values())
    for path, results in returned.items():
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        mine = [r for r in stored if r.encoder_sha256 == sha256]
        assert {(r.metric, r.value) for r in mine} == {(r.metric, r.value) for r in results}
        assert {r.encoder for r in mine} == {"run/seed0"} and {r.n_videos for r in mine} == {16}
        shown = [row for row in summarise(stored) if row.encoder == f"run/seed0#{sha256[:8]}"]
        assert {(row.metric, row.mean) for row in shown} == {(r.metric, r.value) for r in results}
    table = comparison_table(summarise(stored))
    assert table.count("run/seed0#") == 2


def test_a_resumed_study_evaluates_a_retrained_checkpoint_again(micro_manifest, tmp_path, monkeypatch):
    from vssl.app import study as study_module
    from vssl.app.study import StudyConfig, run_study

    calls = []
    real_run_eval = study_module.run_eval
    monkeypatch.setattr(study_module, "run_eval",
                        lambda protocols, c: calls.append(c.encoder.checkpoint) or real_run_eval(protocols, c))
    checkpoint = _checkpoint(tmp_path / "run" / "encoder.pt", seed=1)
    evals = ("data.clip_len=4", "data.num_clips=2", "data.crop_size=24", "data.short_side=24", "data.num_workers=0",
             "data.labels=[motion]", "knn.k=3")
    config = StudyConfig(manifest=str(micro_manifest), seeds=1, eval_preset="synthetic_tiny", eval_overrides=evals,
                         protocols=("knn",), references=(str(checkpoint),), runs={})
    run_study(config, tmp_path / "out", progress=False)
    run_study(config, tmp_path / "out", progress=False)  # the same file: not evaluated again
    _checkpoint(checkpoint, seed=2)  # retrained in place: same path, name and config, different weights
    run_study(config, tmp_path / "out", progress=False)
    assert calls == [str(checkpoint)] * 2
    assert len({r.encoder_sha256 for r in load(tmp_path / "out" / "results.sqlite")}) == 2


def test_vssl_results_shows_each_checkpoint_and_filters_by_its_hash(tmp_path, capsys):
    from vssl.app.cli import main
    from vssl.results.store import Result, ResultStore

    store = tmp_path / "r.sqlite"
    ResultStore(store).add([Result("r", "run/seed0", "knn", "d", "test", "motion", "top1", value, 0, "h",
                                   encoder_sha256=digit * 64, n_videos=12, n_skipped=0)
                            for value, digit in ((30.0, "1"), (70.0, "2"))])
    main(["results", "--store", str(store)])
    header, _, line = capsys.readouterr().out.splitlines()
    assert header.split() == ["dataset", "label", "protocol", "metric", "n", "run/seed0#11111111",
                              "run/seed0#22222222"]
    assert line.split() == ["d", "motion", "knn", "top1", "12", "30.0", "70.0"]
    main(["results", "--store", str(store), "--encoder", "run/seed0#2222"])
    assert capsys.readouterr().out.splitlines()[2].split()[-1] == "70.0"
