"""The `vssl` CLI: help for every subcommand, one-line user errors, models/methods listings, data check."""

import subprocess
import sys

import pytest

from vssl.app.cli import build_parser, main

SUBCOMMANDS = [["demo"], ["data", "synth"], ["data", "import"], ["data", "labels", "statistics"],
               ["data", "index"], ["data", "cache"], ["data", "check"], ["pretrain"], ["eval"], ["study"], ["results"],
               ["models"], ["methods"]]


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=" ".join)
def test_every_subcommand_has_help(words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*words, "--help"])
    assert exit_info.value.code == 0
    assert "usage: vssl " + " ".join(words) in capsys.readouterr().out


def _run(*args):
    return subprocess.run([sys.executable, "-m", "vssl.app.cli", *args], capture_output=True, text=True, timeout=120)


def test_unknown_key_is_one_line_error_without_traceback():
    result = _run("pretrain", "rho_moco_tiny", "train.epoch=3")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "train.epoch" in result.stderr
    result = _run("eval", "knn", "data.num_clips=ten")
    assert result.returncode == 2 and "data.num_clips" in result.stderr and "Traceback" not in result.stderr


def test_models_lists_published_sizes(capsys):
    main(["models"])
    out = capsys.readouterr().out
    assert "r3d_18" in out and "33,166,272" in out  # torchvision r3d_18 without its 400-class head
    assert "r2plus1d_18" in out and "31,300,125" in out


def test_methods_lists_settings(capsys):
    main(["methods"])
    out = capsys.readouterr().out
    assert "rho_moco:" in out and "method.queue_size = 65536" in out and "method.momentum = 0.994" in out


def test_data_check_reports_unreadable(tmp_path, micro_manifest, capsys):
    from vssl.data.manifest import Sample, read_manifest, write_manifest
    samples = read_manifest(micro_manifest)[:4]
    (tmp_path / "broken.mp4").write_bytes(b"broken")
    samples.append(Sample(str(tmp_path / "broken.mp4"), "train", {"motion": "vertical"}))
    write_manifest(samples, tmp_path / "m.csv")
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", str(tmp_path / "m.csv"), "--quiet"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 1
    assert "1 unreadable file(s)" in out and "broken.mp4" in out
    assert "motion" in out


def test_data_import_writes_a_ucf101_manifest(tmp_path, capsys):
    """Official UCF101 files (classInd, trainlist01, testlist01) and two tiny videos → manifest with split 1."""
    import numpy as np

    from vssl.data.manifest import read_manifest
    from vssl.data.synthetic import write_mp4

    root = tmp_path / "UCF101"
    (root / "ucfTrainTestlist").mkdir(parents=True)
    (root / "ucfTrainTestlist" / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 Archery\n")
    (root / "ucfTrainTestlist" / "trainlist01.txt").write_text("Archery/v_Archery_g08_c01.avi 2\n")
    (root / "ucfTrainTestlist" / "testlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\n")
    for name in ("Archery/v_Archery_g08_c01.avi", "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"):
        (root / "UCF-101" / name).parent.mkdir(parents=True, exist_ok=True)
        write_mp4(np.zeros((4, 16, 16, 3), np.uint8), root / "UCF-101" / name, fps=25)
    main(["data", "import", "ucf101", str(root), "--out", str(tmp_path / "ucf.csv"), "--option", "fold=1"])
    assert "train: 1" in capsys.readouterr().out
    rows = {(s.split, s.labels["label"]) for s in read_manifest(tmp_path / "ucf.csv")}
    assert rows == {("train", "Archery"), ("test", "ApplyEyeMakeup")}
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "import", "ucf101", str(root), "--out", str(tmp_path / "x.csv"), "--option", "fold=9"])
    assert exit_info.value.code == 2 and "fold" in capsys.readouterr().err


def test_data_labels_statistics_writes_the_cache_the_method_asks_for(micro_manifest, tmp_path, capsys):
    """The command the statistics method prints when labels are missing is exactly what this CLI runs."""
    from vssl.methods.label_cache import default_labels_path, labels_command, resolve_position_step

    main(["data", "labels", "statistics", str(micro_manifest), "--clip-len", "8", "--quiet"])
    expected = default_labels_path(micro_manifest, "pretrain", 8, 1, resolve_position_step(8, 1, None))
    assert f"statistics labels: {expected}" in capsys.readouterr().out and expected.is_file()
    words = labels_command(micro_manifest, "pretrain", 8, 1).split()
    assert words[:3] == ["vssl", "data", "labels"]
    build_parser().parse_args(words[1:])  # every flag it prints exists


def test_parser_accepts_overrides_without_preset():
    args = build_parser().parse_args(["pretrain", "train.epochs=1"])
    assert args.preset == "train.epochs=1"  # main() moves it to the overrides
