"""Dataset adapters (trimmed-clip datasets): UCF101, HMDB51, Kinetics, Something-Something v2, Diving48, and the
shared machinery (options, sidecar, missing videos, JSON line numbers). Fixtures are written in each dataset's
official annotation format; every video is a copy of one tiny mp4."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vssl.core.errors import VsslError
from vssl.data.formats import describe_format, import_dataset, list_formats, read_dataset_info
from vssl.data.formats.common import json_list_entries
from vssl.data.index import build_index
from vssl.data.manifest import read_manifest
from vssl.data.synthetic import write_mp4


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "tiny.mp4"
    frames = np.zeros((4, 16, 16, 3), np.uint8)
    frames[:, :, :8] = 200
    write_mp4(frames, path, fps=8)
    return path


def put(tiny_video, root, *relatives):
    for relative in relatives:
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tiny_video, target)


def rows(manifest):
    """(path relative to the manifest's folder, split, labels) of each manifest row."""
    return [(str(Path(s.path).relative_to(manifest.parent)), s.split, s.labels)
            for s in read_manifest(manifest)]


def assert_readable(manifest, count):
    index = build_index(read_manifest(manifest), progress=False)
    assert not index.errors
    assert len(index.infos) == count


# ---------------------------------------------------------------------------------------------------------------
# UCF101

UCF_TRAIN = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", "ApplyLipstick/v_ApplyLipstick_g08_c01.avi",
             "Archery/v_Archery_g08_c01.avi"]
UCF_TEST = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "Archery/v_Archery_g01_c01.avi"]


@pytest.fixture
def ucf101(tmp_path, tiny_video):
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    # the official files have CRLF line endings
    (lists / "classInd.txt").write_bytes(b"1 ApplyEyeMakeup\r\n2 ApplyLipstick\r\n3 Archery\r\n")
    (lists / "trainlist01.txt").write_bytes(b"".join(f"{v} {i}\r\n".encode() for v, i in zip(UCF_TRAIN, (1, 2, 3))))
    (lists / "testlist01.txt").write_bytes(b"".join(f"{v}\r\n".encode() for v in UCF_TEST))
    (lists / "trainlist02.txt").write_text(f"{UCF_TEST[0]} 1\n{UCF_TEST[1]} 3\n")
    (lists / "testlist02.txt").write_text("\n".join(UCF_TRAIN) + "\n")
    put(tiny_video, tmp_path / "UCF-101", *UCF_TRAIN, *UCF_TEST)
    return tmp_path


def test_ucf101_fold1_splits_labels_sidecar_and_index(ucf101):
    manifest = import_dataset("ucf101", ucf101, ucf101 / "ucf101_fold1.csv")
    assert manifest == ucf101 / "ucf101_fold1.csv"
    assert rows(manifest) == [
        ("UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", "train", {"label": "ApplyEyeMakeup"}),
        ("UCF-101/ApplyLipstick/v_ApplyLipstick_g08_c01.avi", "train", {"label": "ApplyLipstick"}),
        ("UCF-101/Archery/v_Archery_g08_c01.avi", "train", {"label": "Archery"}),
        ("UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "test", {"label": "ApplyEyeMakeup"}),
        ("UCF-101/Archery/v_Archery_g01_c01.avi", "test", {"label": "Archery"}),
    ]
    assert str(ucf101) not in manifest.read_text()  # stored relative: the dataset folder can move
    info = read_dataset_info(manifest)
    assert (ucf101 / "ucf101_fold1.dataset.json").is_file()
    assert info.format == "ucf101"
    assert info.classes == {"label": ["ApplyEyeMakeup", "ApplyLipstick", "Archery"]}
    assert info.horizontal_flip is True
    assert info.splits == {"test": 2, "train": 3}
    assert (info.train_split, info.test_split) == ("train", "test")
    assert info.options == {"fold": "1", "videos": "", "missing": "error"}
    assert info.skipped_missing == 0
    assert_readable(manifest, 5)


def test_ucf101_fold2_and_jsonl(ucf101, tmp_path_factory):
    out = tmp_path_factory.mktemp("elsewhere") / "ucf101_fold2.jsonl"
    manifest = import_dataset("ucf101", ucf101, out, fold=2)  # a non-string option is taken as its text
    samples = read_manifest(manifest)
    assert [(s.path, s.split) for s in samples] == (
        [(str(ucf101 / "UCF-101" / v), "train") for v in UCF_TEST]
        + [(str(ucf101 / "UCF-101" / v), "test") for v in UCF_TRAIN])
    assert read_dataset_info(manifest).options["fold"] == "2"


@pytest.mark.parametrize("line, message", [
    ("ApplyLipstick/v_ApplyLipstick_g08_c01.avi", r"expected '<path> <class index>', got 'ApplyLipstick/"),
    ("ApplyLipstick/v_ApplyLipstick_g08_c01.avi two", r"class index must be an integer, got 'two'"),
    ("ApplyLipstick/v_ApplyLipstick_g08_c01.avi 4", r"class index 4 is not in classInd.txt \(1..3\)"),
    ("ApplyLipstick/v_ApplyLipstick_g08_c01.avi 1", r"'ApplyLipstick/.*' is listed as class 1 \(ApplyEyeMakeup\)"),
])
def test_ucf101_malformed_line_names_file_and_line(ucf101, line, message):
    trainlist = ucf101 / "ucfTrainTestlist" / "trainlist01.txt"
    trainlist.write_text(f"{UCF_TRAIN[0]} 1\n{line}\n")
    with pytest.raises(VsslError, match=r"trainlist01\.txt:2: " + message):
        import_dataset("ucf101", ucf101, ucf101 / "m.csv")


def test_ucf101_bad_class_index_file(ucf101):
    (ucf101 / "ucfTrainTestlist" / "classInd.txt").write_text("1 ApplyEyeMakeup\n3 Archery\n")
    with pytest.raises(VsslError, match=r"classInd\.txt:2: expected class index 2, got 3"):
        import_dataset("ucf101", ucf101, ucf101 / "m.csv")


def test_missing_video_error_names_list_line_and_path_or_is_skipped(ucf101, capsys):
    (ucf101 / "UCF-101" / UCF_TEST[1]).unlink()
    (ucf101 / "UCF-101" / UCF_TRAIN[1]).unlink()
    with pytest.raises(VsslError, match=r"trainlist01\.txt:2: video not found: ApplyLipstick/v_ApplyLipstick_g08_c01"
                                        r"\.avi .*\(1 more listed videos are missing too\).*missing=skip"):
        import_dataset("ucf101", ucf101, ucf101 / "m.csv")
    assert not (ucf101 / "m.csv").exists()
    manifest = import_dataset("ucf101", ucf101, ucf101 / "m.csv", missing="skip")
    assert "skipped 2 listed video(s)" in capsys.readouterr().out
    assert [r[0] for r in rows(manifest)] == ["UCF-101/" + v for v in (UCF_TRAIN[0], UCF_TRAIN[2], UCF_TEST[0])]
    info = read_dataset_info(manifest)
    assert info.skipped_missing == 2
    assert info.classes["label"] == ["ApplyEyeMakeup", "ApplyLipstick", "Archery"]  # official list kept whole


def test_video_found_under_another_suffix_and_in_videos_option(ucf101, tiny_video):
    shutil.move(ucf101 / "UCF-101", ucf101 / "mp4s")
    for video in UCF_TRAIN + UCF_TEST:  # re-encoded copies: .avi listed, .mp4 on disk
        (ucf101 / "mp4s" / video).rename((ucf101 / "mp4s" / video).with_suffix(".mp4"))
    manifest = import_dataset("ucf101", ucf101, ucf101 / "m.csv", videos="mp4s")
    assert rows(manifest)[0][0] == "mp4s/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.mp4"
    assert read_dataset_info(manifest).options["videos"] == "mp4s"


def test_linked_class_folders_are_searched(ucf101, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("disk2") / "Archery"
    shutil.move(ucf101 / "UCF-101" / "Archery", elsewhere)
    (ucf101 / "UCF-101" / "Archery").symlink_to(elsewhere, target_is_directory=True)
    manifest = import_dataset("ucf101", ucf101, ucf101 / "m.csv")
    linked = [str(ucf101 / "UCF-101" / v) for v in (UCF_TRAIN[2], UCF_TEST[1])]
    assert [s.path for s in read_manifest(manifest) if s.labels["label"] == "Archery"] == linked
    assert linked[0] in manifest.read_text()  # write_manifest keeps a path that resolves outside the folder absolute


def test_options_and_formats_are_checked(ucf101, tmp_path):
    assert list_formats() == ["aslan", "charades", "countix", "diving48", "epic_kitchens", "finegym", "hmdb51",
                              "kinetics", "ntu", "ssv2", "ucf101", "ucfrep", "yupenn"]
    with pytest.raises(VsslError, match=r"unknown dataset format 'ucf'.*formats: aslan, charades, countix, .*ucf101, ucfrep, yupenn"):
        import_dataset("ucf", ucf101, ucf101 / "m.csv")
    with pytest.raises(VsslError, match=r"format 'ucf101': unknown option 'folds' \(options: fold, videos, missing\)"):
        import_dataset("ucf101", ucf101, ucf101 / "m.csv", folds="1")
    with pytest.raises(VsslError, match=r"option fold='4' must be one of 1, 2, 3"):
        import_dataset("ucf101", ucf101, ucf101 / "m.csv", fold="4")
    with pytest.raises(VsslError, match=r"option missing='ignore' must be one of error, skip"):
        import_dataset("ucf101", ucf101, ucf101 / "m.csv", missing="ignore")
    with pytest.raises(VsslError, match=r"m\.txt: the manifest must end in \.csv or \.jsonl"):
        import_dataset("ucf101", ucf101, ucf101 / "m.txt")
    with pytest.raises(VsslError, match="dataset folder not found"):
        import_dataset("ucf101", tmp_path / "nowhere", tmp_path / "m.csv")
    with pytest.raises(VsslError, match=r"annotation file 'classInd\.txt' not found"):
        import_dataset("ucf101", tmp_path / "UCF-101", tmp_path / "m.csv")
    assert "fold=1 (1|2|3)" in describe_format("ucf101")


def test_manifest_without_sidecar_has_no_info(tmp_path):
    (tmp_path / "plain.csv").write_text("path,split\na.mp4,train\n")
    assert read_dataset_info(tmp_path / "plain.csv") is None


# ---------------------------------------------------------------------------------------------------------------
# HMDB51

HMDB_SPLIT1 = {
    "brush_hair": [("April_09_brush_hair_u_nm_np1_ba_goo_0.avi", 1), ("April_09_brush_hair_u_nm_np1_ba_goo_1.avi", 2),
                   ("April_09_brush_hair_u_nm_np1_ba_goo_2.avi", 0)],
    "cartwheel": [("(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi", 2),
                  ("Acrobacias_de_un_fenomeno_cartwheel_f_cm_np1_ri_bad_0.avi", 1)],
}


@pytest.fixture
def hmdb51(tmp_path, tiny_video):
    splits = tmp_path / "testTrainMulti_7030_splits"
    splits.mkdir()
    for label, entries in HMDB_SPLIT1.items():
        (splits / f"{label}_test_split1.txt").write_text("".join(f"{v} {m} \n" for v, m in entries))
        (splits / f"{label}_test_split2.txt").write_text("".join(f"{v} {2 if m == 1 else 1} \n" for v, m in entries))
        put(tiny_video, tmp_path / "hmdb51_org", *(f"{label}/{v}" for v, _ in entries))
    return tmp_path


def test_hmdb51_marks_and_class_order(hmdb51):
    manifest = import_dataset("hmdb51", hmdb51, hmdb51 / "hmdb51.csv")
    assert rows(manifest) == [
        ("hmdb51_org/brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi", "train", {"label": "brush_hair"}),
        ("hmdb51_org/brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_1.avi", "test", {"label": "brush_hair"}),
        ("hmdb51_org/cartwheel/(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi", "test", {"label": "cartwheel"}),
        ("hmdb51_org/cartwheel/Acrobacias_de_un_fenomeno_cartwheel_f_cm_np1_ri_bad_0.avi", "train",
         {"label": "cartwheel"}),
    ]
    assert read_dataset_info(manifest).classes == {"label": ["brush_hair", "cartwheel"]}
    assert_readable(manifest, 4)
    fold2 = import_dataset("hmdb51", hmdb51, hmdb51 / "fold2.csv", fold="2")
    assert [split for _, split, _ in rows(fold2)] == ["test", "train", "train", "train", "test"]


def test_hmdb51_errors(hmdb51):
    split_file = hmdb51 / "testTrainMulti_7030_splits" / "cartwheel_test_split1.txt"
    split_file.write_text("(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi 2 \nAcrobacias.avi 3\n")
    with pytest.raises(VsslError, match=r"cartwheel_test_split1\.txt:2: expected '<video> <0\|1\|2>'"):
        import_dataset("hmdb51", hmdb51, hmdb51 / "m.csv")
    split_file.write_text("(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi 2 \nAcrobacias.avi 1\n")
    with pytest.raises(VsslError, match=r"cartwheel_test_split1\.txt:2: video not found: cartwheel/Acrobacias\.avi"):
        import_dataset("hmdb51", hmdb51, hmdb51 / "m.csv")
    with pytest.raises(VsslError, match=r"no HMDB51 split files '<class>_test_split3\.txt'"):
        import_dataset("hmdb51", hmdb51, hmdb51 / "m.csv", fold="3")


# ---------------------------------------------------------------------------------------------------------------
# Kinetics


@pytest.fixture
def kinetics(tmp_path):
    annotations = tmp_path / "annotations"
    annotations.mkdir()
    (annotations / "train.csv").write_text(
        "label,youtube_id,time_start,time_end,split,is_cc\n"
        "abseiling,--07WQ2iBlw,1,11,train,0\n"
        '"air drumming",-0Ox9CTj8qQ,14,24,train,0\n')
    (annotations / "validate.csv").write_text(
        "label,youtube_id,time_start,time_end,split\nabseiling,0wR5jVB-WPk,417,427,val\n")
    (annotations / "test.csv").write_text("youtube_id,time_start,time_end,split\n-1JLaVR4Gbs,0,10,test\n")
    (annotations / "notes.csv").write_text("something,else\n1,2\n")  # not a Kinetics CSV: ignored
    return tmp_path


def test_kinetics_trimmed_accepts_downloader_and_flat_layouts(kinetics, tiny_video):
    put(tiny_video, kinetics / "videos", "train/abseiling/--07WQ2iBlw_000001_000011.mp4",
        "train/-0Ox9CTj8qQ_000014_000024.mp4", "val/abseiling/0wR5jVB-WPk_000417_000427.mp4",
        "-1JLaVR4Gbs_000000_000010.mkv")
    manifest = import_dataset("kinetics", kinetics, kinetics / "k400.csv")
    assert rows(manifest) == [
        ("videos/train/abseiling/--07WQ2iBlw_000001_000011.mp4", "train", {"label": "abseiling"}),
        ("videos/train/-0Ox9CTj8qQ_000014_000024.mp4", "train", {"label": "air drumming"}),
        ("videos/val/abseiling/0wR5jVB-WPk_000417_000427.mp4", "val", {"label": "abseiling"}),
        ("videos/-1JLaVR4Gbs_000000_000010.mkv", "test", {}),
    ]
    assert all(s.start is None and s.end is None for s in read_manifest(manifest))
    info = read_dataset_info(manifest)
    assert info.classes == {"label": ["abseiling", "air drumming"]}
    assert (info.train_split, info.test_split) == ("train", "val")
    assert_readable(manifest, 4)


def test_kinetics_full_videos_get_times(kinetics, tiny_video):
    put(tiny_video, kinetics / "videos", "--07WQ2iBlw.mp4", "-0Ox9CTj8qQ.webm", "0wR5jVB-WPk.mp4",
        "-1JLaVR4Gbs.mp4")
    manifest = import_dataset("kinetics", kinetics, kinetics / "k400_full.csv", layout="full")
    samples = read_manifest(manifest)
    assert [(s.split, s.start, s.end) for s in samples] == [("train", 1.0, 11.0), ("train", 14.0, 24.0),
                                                          ("val", 417.0, 427.0), ("test", 0.0, 10.0)]
    assert samples[1].path == str(kinetics / "videos" / "-0Ox9CTj8qQ.webm")


def test_kinetics_errors(kinetics, tiny_video):
    train = kinetics / "annotations" / "train.csv"
    train.write_text("label,youtube_id,time_start,time_end,split\nabseiling,--07WQ2iBlw,1,11,train\nabseiling,x,1\n")
    with pytest.raises(VsslError, match=r"train\.csv:3: expected the 5 columns label,youtube_id,time_start"):
        import_dataset("kinetics", kinetics, kinetics / "m.csv")
    train.write_text("label,youtube_id,time_start,time_end,split\nabseiling,--07WQ2iBlw,11,1,train\n")
    with pytest.raises(VsslError, match=r"train\.csv:2: segment end \(1\.0\) must be after its start \(11\.0\)"):
        import_dataset("kinetics", kinetics, kinetics / "m.csv")
    train.write_text("label,youtube_id,time_start,time_end,split\nabseiling,--07WQ2iBlw,1,11,holdout\n")
    with pytest.raises(VsslError, match=r"train\.csv:2: unknown split 'holdout'"):
        import_dataset("kinetics", kinetics, kinetics / "m.csv")
    train.write_text("label,youtube_id,time_start,time_end,split\nabseiling,--07WQ2iBlw,1,11,train\n")
    with pytest.raises(VsslError, match=r"train\.csv:2: video not found: \*\*/--07WQ2iBlw_000001_000011\.\*"):
        import_dataset("kinetics", kinetics, kinetics / "m.csv")


# ---------------------------------------------------------------------------------------------------------------
# Something-Something v2

SSV2_LABELS = {"Approaching something with your camera": "0", "Pushing something from left to right": "1",
               "Putting number of something onto something": "2", "Something falling like a feather or paper": "3"}
SSV2_TRAIN = [
    {"id": "78687", "label": "pushing pen from left to right", "template": "Pushing [something] from left to right",
     "placeholders": ["pen"]},
    {"id": "42326", "label": "putting 3 coins onto a book", "template": "Putting [number of] [something] onto "
     "[something]", "placeholders": ["3", "coins", "a book"]},
    {"id": "3451", "label": "tissue falling like a feather or paper",
     "template": "[Something] falling like a feather or paper", "placeholders": ["tissue"]},
]
SSV2_VALIDATION = [{"id": "74225", "label": "approaching mug with your camera",
                    "template": "Approaching [something] with your camera", "placeholders": ["mug"]}]


def one_entry_per_line(entries):
    return "[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n"


@pytest.fixture
def ssv2(tmp_path, tiny_video):
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "something-something-v2-labels.json").write_text(json.dumps(SSV2_LABELS, indent=4))
    (labels / "something-something-v2-train.json").write_text(one_entry_per_line(SSV2_TRAIN))
    (labels / "something-something-v2-validation.json").write_text(one_entry_per_line(SSV2_VALIDATION))
    (labels / "something-something-v2-test.json").write_text(json.dumps([{"id": "1420"}]))
    put(tiny_video, tmp_path / "20bn-something-something-v2", *(f"{i}.webm" for i in ("78687", "42326", "3451",
                                                                                    "74225", "1420")))
    return tmp_path


def test_ssv2_templates_splits_and_no_flip(ssv2):
    manifest = import_dataset("ssv2", ssv2, ssv2 / "ssv2.csv")
    assert rows(manifest) == [
        ("20bn-something-something-v2/78687.webm", "train", {"label": "Pushing something from left to right"}),
        ("20bn-something-something-v2/42326.webm", "train", {"label": "Putting number of something onto something"}),
        ("20bn-something-something-v2/3451.webm", "train", {"label": "Something falling like a feather or paper"}),
        ("20bn-something-something-v2/74225.webm", "val", {"label": "Approaching something with your camera"}),
        ("20bn-something-something-v2/1420.webm", "test", {}),
    ]
    info = read_dataset_info(manifest)
    assert info.horizontal_flip is False
    assert info.classes == {"label": list(SSV2_LABELS)}
    assert (info.train_split, info.test_split) == ("train", "val")
    assert_readable(manifest, 5)


def test_ssv2_errors_name_the_entry_line(ssv2):
    train = ssv2 / "labels" / "something-something-v2-train.json"
    broken = [*SSV2_TRAIN[:2], {**SSV2_TRAIN[2], "template": "Dropping [something]"}]
    train.write_text(one_entry_per_line(broken))
    with pytest.raises(VsslError, match=r"train\.json:4: template 'Dropping \[something\]' of entry 3451 is not in"):
        import_dataset("ssv2", ssv2, ssv2 / "m.csv")
    train.write_text(one_entry_per_line(SSV2_TRAIN)[:-3] + ",\n{\"id\": }\n]")
    with pytest.raises(VsslError, match=r"train\.json:5: invalid JSON"):
        import_dataset("ssv2", ssv2, ssv2 / "m.csv")
    train.write_text(one_entry_per_line(SSV2_TRAIN))
    (ssv2 / "20bn-something-something-v2" / "42326.webm").unlink()
    with pytest.raises(VsslError, match=r"train\.json:3: video not found: 42326\.webm"):
        import_dataset("ssv2", ssv2, ssv2 / "m.csv")
    labels = ssv2 / "labels" / "something-something-v2-labels.json"
    labels.write_text(json.dumps({**SSV2_LABELS, "Pushing something from left to right": "x"}, indent=4))
    with pytest.raises(VsslError, match=r"labels\.json:3: label id of 'Pushing something from left to right' must"):
        import_dataset("ssv2", ssv2, ssv2 / "m.csv")


def test_json_list_entries_report_the_line_each_entry_starts_on(tmp_path):
    path = tmp_path / "entries.json"
    path.write_text(json.dumps([{"a": 1}, {"b": [1, 2]}, 3], indent=4))
    # [ / { / "a": 1 / }, / { / "b": [ / 1, / 2 / ] / }, / 3 / ]
    assert json_list_entries(path) == [(2, {"a": 1}), (5, {"b": [1, 2]}), (11, 3)]
    path.write_text('[{"a": 1} {"b": 2}]')
    with pytest.raises(VsslError, match=r"entries\.json:1: invalid JSON \(expected ',' or '\]'"):
        json_list_entries(path)


# ---------------------------------------------------------------------------------------------------------------
# Diving48

DIVING_VOCAB = [["Back", "15som", "05Twis", "FREE"], ["Back", "15som", "15Twis", "FREE"],
                ["Forward", "25som", "NoTwis", "PIKE"]]


@pytest.fixture
def diving48(tmp_path, tiny_video):
    annotations = tmp_path / "annotations"
    annotations.mkdir()
    (annotations / "Diving48_vocab.json").write_text(json.dumps(DIVING_VOCAB))
    (annotations / "Diving48_V2_train.json").write_text(json.dumps(
        [{"vid_name": "-mmq0PT-u8k_00155", "label": 0, "start_frame": 0, "end_frame": 48},
         {"vid_name": "-mmq0PT-u8k_00156", "label": 2, "start_frame": 0, "end_frame": 70}], indent=1))
    (annotations / "Diving48_V2_test.json").write_text(json.dumps(
        [{"vid_name": "0aMQzSv4M9A_00021", "label": 1, "start_frame": 0, "end_frame": 95}], indent=1))
    (annotations / "Diving48_train.json").write_text(json.dumps(
        [{"vid_name": "-mmq0PT-u8k_00155", "label": 1, "start_frame": 0, "end_frame": 48}]))
    (annotations / "Diving48_test.json").write_text(json.dumps(
        [{"vid_name": "0aMQzSv4M9A_00021", "label": 0, "start_frame": 0, "end_frame": 95}]))
    put(tiny_video, tmp_path / "rgb", "-mmq0PT-u8k_00155.mp4", "-mmq0PT-u8k_00156.mp4", "0aMQzSv4M9A_00021.mp4")
    return tmp_path


def test_diving48_classes_from_vocabulary(diving48):
    manifest = import_dataset("diving48", diving48, diving48 / "diving48.csv")
    assert rows(manifest) == [("rgb/-mmq0PT-u8k_00155.mp4", "train", {"label": "Back 15som 05Twis FREE"}),
                              ("rgb/-mmq0PT-u8k_00156.mp4", "train", {"label": "Forward 25som NoTwis PIKE"}),
                              ("rgb/0aMQzSv4M9A_00021.mp4", "test", {"label": "Back 15som 15Twis FREE"})]
    info = read_dataset_info(manifest)
    assert info.classes == {"label": ["Back 15som 05Twis FREE", "Back 15som 15Twis FREE", "Forward 25som NoTwis PIKE"]}
    assert info.horizontal_flip is True
    assert_readable(manifest, 3)
    version1 = import_dataset("diving48", diving48, diving48 / "v1.csv", version="1")
    assert [labels["label"] for _, _, labels in rows(version1)] == ["Back 15som 15Twis FREE", "Back 15som 05Twis FREE"]


def test_diving48_errors(diving48):
    train = diving48 / "annotations" / "Diving48_V2_train.json"
    entries = [{"vid_name": "-mmq0PT-u8k_00155", "label": 0, "start_frame": 0, "end_frame": 48},
               {"vid_name": "-mmq0PT-u8k_00156", "label": 3, "start_frame": 0, "end_frame": 70}]
    train.write_text(one_entry_per_line(entries))
    with pytest.raises(VsslError, match=r"Diving48_V2_train\.json:3: label of -mmq0PT-u8k_00156 must be a class "
                                        r"index 0\.\.2, got 3"):
        import_dataset("diving48", diving48, diving48 / "m.csv")
    entries[1].update(label=2, end_frame=0)
    train.write_text(one_entry_per_line(entries))
    with pytest.raises(VsslError, match=r"Diving48_V2_train\.json:3: end_frame of -mmq0PT-u8k_00156 must be after"):
        import_dataset("diving48", diving48, diving48 / "m.csv")
    (diving48 / "annotations" / "Diving48_vocab.json").write_text('[["Back", "15som"]]')
    with pytest.raises(VsslError, match=r"Diving48_vocab\.json:1: expected \[takeoff, somersault, twist, flight\]"):
        import_dataset("diving48", diving48, diving48 / "m.csv")


# ---------------------------------------------------------------------------------------------------------------
# FineGym

GYM_CATEGORIES = """\
Clabel:   0; set:  1; Glabel:   1; (VT) round-off, flic-flac with 0.5 turn on, stretched salto forward with 0.5 turn off
Clabel:   1; set:  1; Glabel:  19; (VT) round-off, flic-flac on, stretched salto backward with 2 turn off
Clabel:   2; set: 21; Glabel:  67; (FX) switch leap with 0.5 turn
Clabel:   3; set: 22; Glabel: 134; (FX) 2 turn with free leg held upward in 180 split position throughout turn
Clabel:   4; set: 31; Glabel: 223; (BB) switch leap with 0.5 turn
Clabel:   5; set: 41; Glabel: 416; (UB) giant circle backward
"""
GYM_NAMES = [line.split("; ", 3)[3] for line in GYM_CATEGORIES.splitlines()]
GYM_TRAIN = [("0LtLS9wROrk_E_002407_002435_A_0003_0005", 0), ("0LtLS9wROrk_E_002407_002435_A_0010_0012", 2),
             ("0LtLS9wROrk_E_002407_002435_A_0015_0017", 3), ("1rDJoUKNVTA_E_000153_000200_A_0004_0006", 5)]
GYM_VAL = [("1rDJoUKNVTA_E_000153_000200_A_0020_0022", 4), ("0LtLS9wROrk_E_002407_002435_A_0020_0021", 1)]
GYM_INFO = {  # finegym_annotation_info: event times in the video, stage times within the event
    "0LtLS9wROrk": {"E_002407_002435": {"event": 1, "timestamps": [[2407.32, 2435.91]], "segments": {
        "A_0003_0005": {"stages": 1, "timestamps": [[3.24, 5.12]]},
        "A_0010_0012": {"stages": 3, "timestamps": [[10.1, 10.9], [11.0, 11.5], [11.6, 12.4]]},
        "A_0015_0017": {"stages": 1, "timestamps": [[15.5, 17.25]]},
        "A_0020_0021": {"stages": 1, "timestamps": [[20.0, 21.75]]}}}},
    "1rDJoUKNVTA": {"E_000153_000200": {"event": 4, "timestamps": [[153.5, 200.2]], "segments": {
        "A_0004_0006": {"stages": 1, "timestamps": [[4.5, 6.5]]},
        "A_0020_0022": {"stages": 1, "timestamps": [[20.25, 22.0]]}}}},
}


@pytest.fixture
def finegym(tmp_path, tiny_video):
    annotations = tmp_path / "annotations"
    annotations.mkdir()
    (annotations / "gym99_categories.txt").write_text(GYM_CATEGORIES)
    (annotations / "gym99_train_element_v1.1.txt").write_text("".join(f"{i} {c}\n" for i, c in GYM_TRAIN))
    (annotations / "gym99_val_element.txt").write_text("".join(f"{i} {c}\n" for i, c in GYM_VAL))
    (annotations / "finegym_annotation_info_v1.1.json").write_text(json.dumps(GYM_INFO))
    put(tiny_video, tmp_path / "subactions", *(f"{i}.mp4" for i, _ in GYM_TRAIN + GYM_VAL))
    put(tiny_video, tmp_path / "events", "0LtLS9wROrk_E_002407_002435.mp4", "1rDJoUKNVTA_E_000153_000200.mp4")
    put(tiny_video, tmp_path / "full", "0LtLS9wROrk.mp4", "1rDJoUKNVTA.mkv")
    return tmp_path


def test_finegym_gym99_subaction_clips(finegym):
    manifest = import_dataset("finegym", finegym, finegym / "gym99.csv")
    assert rows(manifest) == [(f"subactions/{i}.mp4", "train", {"label": GYM_NAMES[c]}) for i, c in GYM_TRAIN] + [
        (f"subactions/{i}.mp4", "val", {"label": GYM_NAMES[c]}) for i, c in GYM_VAL]
    info = read_dataset_info(manifest)
    assert info.classes == {"label": GYM_NAMES}
    assert GYM_NAMES[2] == "(FX) switch leap with 0.5 turn"  # the event tag keeps Floor and Beam names apart
    assert (info.train_split, info.test_split) == ("train", "val")
    assert_readable(manifest, 6)


@pytest.mark.parametrize("subset, kept", [("vault", [0, 1]), ("floor", [2, 3]), ("fx_s1", [2]), ("ub_s1", [5])])
def test_finegym_severe_subsets(finegym, subset, kept):
    manifest = import_dataset("finegym", finegym, finegym / f"{subset}.csv", subset=subset)
    assert read_dataset_info(manifest).classes == {"label": [GYM_NAMES[c] for c in kept]}
    expected = [i for i, c in GYM_TRAIN + GYM_VAL if c in kept]
    assert [Path(path).stem for path, _, _ in rows(manifest)] == expected


def test_finegym_subsets_have_the_severe_class_counts():
    """Gym99's categories per set (gym99_categories.txt): VT set 1: 6; FX sets 21, 22, 24, 25: 11, 7, 7, 10;
    BB sets 31-35: 12, 4, 8, 4, 5; UB sets 41-44: 15, 5, 2, 3. SEVERE (Thoker 2023 App. B): Vault 6 classes,
    Floor 35, FX-S1 11, UB-S1 15."""
    from vssl.data.formats.finegym import SUBSETS, Category
    sets = {1: ("VT", 6), 21: ("FX", 11), 22: ("FX", 7), 24: ("FX", 7), 25: ("FX", 10), 31: ("BB", 12),
            32: ("BB", 4), 33: ("BB", 8), 34: ("BB", 4), 35: ("BB", 5), 41: ("UB", 15), 42: ("UB", 5),
            43: ("UB", 2), 44: ("UB", 3)}
    categories = [Category(0, set_id, event, "") for set_id, (event, count) in sets.items() for _ in range(count)]
    counts = {name: sum(map(keep, categories)) for name, keep in SUBSETS.items()}
    assert counts == {"all": 99, "vault": 6, "floor": 35, "fx_s1": 11, "ub_s1": 15}


def test_finegym_event_clips_and_full_videos_get_exact_times(finegym):
    events = read_manifest(import_dataset("finegym", finegym, finegym / "events.csv", layout="events",
                                          videos="events"))
    assert [(Path(s.path).name, s.start, s.end) for s in events[:2]] == [
        ("0LtLS9wROrk_E_002407_002435.mp4", 3.24, 5.12),
        ("0LtLS9wROrk_E_002407_002435.mp4", 10.1, 12.4)]  # first stage start to last stage end
    full = read_manifest(import_dataset("finegym", finegym, finegym / "full.csv", layout="full", videos="full"))
    assert Path(full[3].path).name == "1rDJoUKNVTA.mkv"
    assert [t for s in full for t in (s.start, s.end)] == pytest.approx(
        [2410.56, 2412.44, 2417.42, 2419.72, 2422.82, 2424.57, 158.0, 160.0, 173.75, 175.5, 2427.32, 2429.07])
    (finegym / "annotations" / "finegym_annotation_info_v1.1.json").unlink()
    with pytest.raises(VsslError, match="layout=events and layout=full need finegym_annotation_info"):
        import_dataset("finegym", finegym, finegym / "m.csv", layout="events", videos="events")


def test_finegym_errors(finegym):
    annotations = finegym / "annotations"
    (annotations / "gym99_val_element.txt").write_text("1rDJoUKNVTA_E_000153_000200_A_0020_0022 4\n"
                                                       "0LtLS9wROrk_E_002407_A_0020_0021 1\n")
    with pytest.raises(VsslError, match=r"gym99_val_element\.txt:2: expected '<youtube id>_E_<start>_<end>_A_"):
        import_dataset("finegym", finegym, finegym / "m.csv")
    (annotations / "gym99_val_element.txt").write_text("1rDJoUKNVTA_E_000153_000200_A_0020_0022 6\n")
    with pytest.raises(VsslError, match=r"gym99_val_element\.txt:1: class 6 is not in the categories file \(0\.\.5\)"):
        import_dataset("finegym", finegym, finegym / "m.csv")
    (annotations / "gym99_val_element.txt").write_text("1rDJoUKNVTA_E_000153_000200_A_0020_0023 4\n")
    with pytest.raises(VsslError, match=r"gym99_val_element\.txt:1: video not found: "
                                        r"\*\*/1rDJoUKNVTA_E_000153_000200_A_0020_0023\.\*"):
        import_dataset("finegym", finegym, finegym / "m.csv")
    with pytest.raises(VsslError, match=r"gym99_val_element\.txt:1: no times for 1rDJoUKNVTA E_000153_000200 "
                                        r"A_0020_0023"):
        import_dataset("finegym", finegym, finegym / "m.csv", layout="events", videos="events")
    (annotations / "gym99_val_element_v1.0.txt").write_text("")
    with pytest.raises(VsslError, match=r"expected one file gym99_val\*\.txt .*found gym99_val_element\.txt, "
                                        r"gym99_val_element_v1\.0\.txt"):
        import_dataset("finegym", finegym, finegym / "m.csv")
    (annotations / "gym99_categories.txt").write_text(GYM_CATEGORIES.replace("Clabel:   4; set: 31", "Clabel: 4 set"))
    with pytest.raises(VsslError, match=r"gym99_categories\.txt:5: expected 'Clabel: <n>; set: <n>; Glabel: <n>;"):
        import_dataset("finegym", finegym, finegym / "m.csv", val_list="gym99_val_element.txt")


# ---------------------------------------------------------------------------------------------------------------
# EPIC-Kitchens-100

EPIC_HEADER = ("narration_id,participant_id,video_id,narration_timestamp,start_timestamp,stop_timestamp,"
               "start_frame,stop_frame,narration,verb,verb_class,noun,noun_class,all_nouns,all_noun_classes\n")
EPIC_TRAIN = EPIC_HEADER + (
    "P01_01_0,P01,P01_01,00:00:01.089,00:00:00.14,00:00:03.37,8,202,open door,open,3,door,3,['door'],[3]\n"
    "P01_01_1,P01,P01_01,00:00:02.629,00:00:04.37,00:00:06.17,262,370,put plate in cupboard,put,1,plate,2,"
    "\"['plate', 'cupboard']\",\"[2, 8]\"\n"
    "P01_102_0,P01,P01_102,00:00:00.560,00:00:00.00,00:00:01.89,1,113,take plate,take,0,plate,2,['plate'],[2]\n")
EPIC_VALIDATION = EPIC_HEADER + (
    "P02_01_0,P02,P02_01,00:01:02.100,00:01:02.35,00:01:04.10,3741,3846,wash spoon,wash,2,spoon,1,['spoon'],[1]\n")


@pytest.fixture
def epic(tmp_path, tiny_video):
    annotations = tmp_path / "epic-kitchens-100-annotations"
    annotations.mkdir()
    (annotations / "EPIC_100_verb_classes.csv").write_text(
        "id,key,instances,category\n0,take,\"['take', 'grab', 'pick', 'get']\",retrieve\n"
        "1,put,\"['put', 'place']\",leave\n2,wash,\"['wash', 'clean']\",clean\n3,open,['open'],access\n")
    (annotations / "EPIC_100_noun_classes.csv").write_text(
        "id,key,instances,category\n0,tap,\"['tap', 'tap:water']\",appliances\n1,spoon,['spoon'],cutlery\n"
        "2,plate,['plate'],crockery\n3,door,['door'],furniture\n")
    (annotations / "EPIC_100_train.csv").write_text(EPIC_TRAIN)
    (annotations / "EPIC_100_validation.csv").write_text(EPIC_VALIDATION)
    put(tiny_video, tmp_path / "EPIC-KITCHENS", "P01/videos/P01_01.MP4", "P01/videos/P01_102.MP4",
        "P02/videos/P02_01.MP4")
    return tmp_path


def test_epic_kitchens_segments_and_label_sets(epic):
    manifest = import_dataset("epic_kitchens", epic, epic / "ek100.csv")
    samples = read_manifest(manifest)
    assert [(str(Path(s.path).relative_to(epic)), s.split, s.labels) for s in samples] == [
        ("EPIC-KITCHENS/P01/videos/P01_01.MP4", "train", {"verb": "open", "noun": "door", "action": "3:3"}),
        ("EPIC-KITCHENS/P01/videos/P01_01.MP4", "train", {"verb": "put", "noun": "plate", "action": "1:2"}),
        ("EPIC-KITCHENS/P01/videos/P01_102.MP4", "train", {"verb": "take", "noun": "plate", "action": "0:2"}),
        ("EPIC-KITCHENS/P02/videos/P02_01.MP4", "val", {"verb": "wash", "noun": "spoon", "action": "2:1"})]
    assert [t for s in samples for t in (s.start, s.end)] == pytest.approx([0.14, 3.37, 4.37, 6.17, 0.0, 1.89,
                                                                          62.35, 64.10])
    info = read_dataset_info(manifest)
    assert info.classes == {"verb": ["take", "put", "wash", "open"], "noun": ["tap", "spoon", "plate", "door"],
                            "action": ["0:2", "1:2", "2:1", "3:3"]}
    assert (info.train_split, info.test_split) == ("train", "val")
    assert_readable(manifest, 3)


def test_epic_kitchens_frame_folders_cover_exactly_the_annotated_frames(epic):
    from vssl.data.loader import segment_frames
    for video in ("P01/rgb_frames/P01_01", "P01/rgb_frames/P01_102", "P02/rgb_frames/P02_01"):
        (epic / "EPIC-KITCHENS" / video).mkdir(parents=True)
    samples = read_manifest(import_dataset("epic_kitchens", epic, epic / "frames.csv", layout="frames"))
    assert Path(samples[0].path) == epic / "EPIC-KITCHENS/P01/rgb_frames/P01_01"
    # frame_0000000008.jpg .. frame_0000000202.jpg are reader frames 7 .. 201 at whatever rate the reader uses
    assert segment_frames(samples[0], 30.0, 10_000) == (7, 202 - 8 + 1)
    assert segment_frames(samples[3], 30.0, 10_000) == (3740, 3846 - 3741 + 1)


def test_epic_kitchens_errors(epic):
    train = epic / "epic-kitchens-100-annotations" / "EPIC_100_train.csv"
    train.write_text(EPIC_TRAIN.replace("00:00:04.37", "0:04.37"))
    with pytest.raises(VsslError, match=r"EPIC_100_train\.csv:3: start_timestamp must look like 00:01:02\.35"):
        import_dataset("epic_kitchens", epic, epic / "m.csv")
    train.write_text(EPIC_TRAIN.replace("take plate,take,0", "take plate,take,97"))
    with pytest.raises(VsslError, match=r"EPIC_100_train\.csv:4: verb_class 97 is not a class id \(0\.\.3\)"):
        import_dataset("epic_kitchens", epic, epic / "m.csv")
    train.write_text(EPIC_TRAIN)
    (epic / "EPIC-KITCHENS/P01/videos/P01_102.MP4").unlink()
    with pytest.raises(VsslError, match=r"EPIC_100_train\.csv:4: video not found: P01/videos/P01_102\.MP4 or "):
        import_dataset("epic_kitchens", epic, epic / "m.csv")


# ---------------------------------------------------------------------------------------------------------------
# NTU RGB+D 60, YUPENN, ASLAN


def test_ntu_labels_and_both_protocols(tmp_path, tiny_video, capsys):
    put(tiny_video, tmp_path / "nturgb+d_rgb", "S001C001P001R001A001_rgb.avi", "S001C002P003R002A013_rgb.avi",
        "S002C003P008R001A060_rgb.avi", "S018C001P001R001A061_rgb.avi")
    cross_subject = import_dataset("ntu", tmp_path, tmp_path / "ntu_xsub.csv")
    assert "left out 1 video(s) of actions beyond A060" in capsys.readouterr().out
    assert rows(cross_subject) == [
        ("nturgb+d_rgb/S001C001P001R001A001_rgb.avi", "train", {"label": "drink water"}),
        ("nturgb+d_rgb/S001C002P003R002A013_rgb.avi", "test", {"label": "tear up paper"}),
        ("nturgb+d_rgb/S002C003P008R001A060_rgb.avi", "train", {"label": "walking apart from each other"})]
    cross_view = import_dataset("ntu", tmp_path, tmp_path / "ntu_xview.csv", protocol="cross_view")
    assert [split for _, split, _ in rows(cross_view)] == ["test", "train", "train"]
    classes = read_dataset_info(cross_view).classes["label"]
    assert (len(classes), classes[0], classes[12], classes[59]) == (60, "drink water", "tear up paper",
                                                                    "walking apart from each other")
    assert_readable(cross_subject, 3)
    put(tiny_video, tmp_path / "nturgb+d_rgb", "S001C001P001R001_rgb.avi")
    with pytest.raises(VsslError, match=r"S001C001P001R001_rgb\.avi: expected an NTU file name"):
        import_dataset("ntu", tmp_path, tmp_path / "m.csv")


def test_yupenn_class_folders(tmp_path, tiny_video):
    put(tiny_video, tmp_path, "Beach/beach_1.avi", "Beach/beach_2.avi", "Forest Fire/forest_fire_1.avi",
        "Windmill Farm/windmill_farm_1.avi")
    (tmp_path / "README.txt").write_text("not a video")
    manifest = import_dataset("yupenn", tmp_path, tmp_path / "yupenn.csv")
    assert rows(manifest) == [("Beach/beach_1.avi", "all", {"label": "Beach"}),
                              ("Beach/beach_2.avi", "all", {"label": "Beach"}),
                              ("Forest Fire/forest_fire_1.avi", "all", {"label": "Forest Fire"}),
                              ("Windmill Farm/windmill_farm_1.avi", "all", {"label": "Windmill Farm"})]
    info = read_dataset_info(manifest)
    assert info.classes == {"label": ["Beach", "Forest Fire", "Windmill Farm"]}
    assert (info.train_split, info.test_split) == (None, None)
    assert_readable(manifest, 4)
    put(tiny_video, tmp_path, "stray.avi")
    with pytest.raises(VsslError, match=r"stray\.avi: a YUPENN video must lie in its class folder"):
        import_dataset("yupenn", tmp_path, tmp_path / "m.csv")


@pytest.fixture
def aslan(tmp_path, tiny_video):
    put(tiny_video, tmp_path / "ASLAN_AVI", *(f"{i:05d}.avi" for i in range(1, 7)))
    (tmp_path / "split1.txt").write_text("00001 00002 1\n00003 00004 0\n")
    (tmp_path / "split2.txt").write_text("00005.avi 00006.avi 1\n00001 00005 0\n")
    return tmp_path


def test_aslan_videos_and_pairs_round_trip(aslan):
    from vssl.data.formats import pair_indices, pairs_path, read_pairs
    manifest = import_dataset("aslan", aslan, aslan / "aslan.csv")
    samples = read_manifest(manifest)
    assert [(Path(s.path).name, s.split, s.labels) for s in samples] == [(f"{i:05d}.avi", "all", {})
                                                                         for i in range(1, 7)]
    info = read_dataset_info(manifest)
    assert info.files == {"pairs": "aslan.pairs.csv"}
    assert pairs_path(manifest) == aslan / "aslan.pairs.csv"
    assert (aslan / "aslan.pairs.csv").read_text().splitlines()[:2] == [
        "fold,video_a,video_b,same", "1,ASLAN_AVI/00001.avi,ASLAN_AVI/00002.avi,1"]
    pairs = read_pairs(pairs_path(manifest))
    assert (pairs[0].fold, pairs[0].a, pairs[0].b, pairs[0].same) == (1, samples[0].path, samples[1].path, True)
    assert pair_indices(pairs, samples) == [(1, 0, 1, True), (1, 2, 3, False), (2, 4, 5, True), (2, 0, 4, False)]
    assert_readable(manifest, 6)
    with pytest.raises(VsslError, match=r"ASLAN_AVI/00006\.avi \(fold 2\) is not among the manifest's samples"):
        pair_indices(pairs, samples[:5])


def test_aslan_errors_and_skipped_pairs(aslan):
    (aslan / "split2.txt").write_text("00005 00006 1\n00001 00005 same\n")
    with pytest.raises(VsslError, match=r"split2\.txt:2: expected '<video a> <video b> <1 same \| 0 not same>'"):
        import_dataset("aslan", aslan, aslan / "m.csv")
    (aslan / "split2.txt").write_text("00005 00006 1\n00001 00007 0\n")
    with pytest.raises(VsslError, match=r"split2\.txt:2: video not found: 00007"):
        import_dataset("aslan", aslan, aslan / "m.csv")
    from vssl.data.formats import pairs_path, read_pairs
    manifest = import_dataset("aslan", aslan, aslan / "m.csv", missing="skip")
    assert [(p.fold, Path(p.a).name, Path(p.b).name) for p in read_pairs(pairs_path(manifest))] == [
        (1, "00001.avi", "00002.avi"), (1, "00003.avi", "00004.avi"), (2, "00005.avi", "00006.avi")]
    (aslan / "split2.txt").rename(aslan / "split3.txt")
    with pytest.raises(VsslError, match=r"must be folds 1\.\.N, found folds \[1, 3\]"):
        import_dataset("aslan", aslan, aslan / "m.csv")
    with pytest.raises(VsslError, match=r"option pairs='folds\.txt' must contain '\{fold\}' once"):
        import_dataset("aslan", aslan, aslan / "m.csv", pairs="folds.txt")
