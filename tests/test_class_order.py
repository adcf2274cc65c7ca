"""Class indices follow the dataset's official order (its import sidecar), sorted names only without one."""

import json

import numpy as np
import pytest

from vssl.app.evaluate import EvalData, EvalDataConfig
from vssl.core.errors import VsslError
from vssl.data.formats import class_order, dataset_info_path, import_dataset
from vssl.data.manifest import read_manifest
from vssl.data.synthetic import write_mp4

# classInd order (Zumba, Archery, Basketball) is not alphabetical (Archery, Basketball, Zumba)
TRAIN = [("Zumba/v_Zumba_g08_c01.avi", 1), ("Archery/v_Archery_g08_c01.avi", 2),
         ("Basketball/v_Basketball_g08_c01.avi", 3)]
TEST = ["Basketball/v_Basketball_g01_c01.avi", "Zumba/v_Zumba_g01_c01.avi"]


@pytest.fixture
def ucf_style(tmp_path):
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("1 Zumba\n2 Archery\n3 Basketball\n")
    (lists / "trainlist01.txt").write_text("".join(f"{video} {index}\n" for video, index in TRAIN))
    (lists / "testlist01.txt").write_text("".join(f"{video}\n" for video in TEST))
    frames = np.zeros((16, 16, 16, 3), np.uint8)
    frames[:, :, :8] = 200
    for video in [v for v, _ in TRAIN] + TEST:
        (tmp_path / "UCF-101" / video).parent.mkdir(parents=True, exist_ok=True)
        write_mp4(frames, tmp_path / "UCF-101" / video, fps=8)
    return import_dataset("ucf101", tmp_path, tmp_path / "ucf.csv")


def test_evaluation_numbers_classes_in_classind_order(ucf_style):
    data = EvalData(EvalDataConfig(manifest=str(ucf_style), labels=("label",), num_workers=0), progress=False)
    assert data.classes == {"label": ["Zumba", "Archery", "Basketball"]}
    assert data.clips(data.train, ["label"]).labels("label").tolist() == [0, 1, 2]  # classInd index − 1
    assert data.clips(data.test, ["label"]).labels("label").tolist() == [2, 0]


def test_without_a_sidecar_classes_are_numbered_by_sorted_name(ucf_style):
    dataset_info_path(ucf_style).unlink()
    data = EvalData(EvalDataConfig(manifest=str(ucf_style), labels=("label",), num_workers=0), progress=False)
    assert data.classes == {"label": ["Archery", "Basketball", "Zumba"]}
    assert data.clips(data.train, ["label"]).labels("label").tolist() == [2, 0, 1]


def test_pretraining_label_sets_use_the_same_order(ucf_style):
    samples = read_manifest(ucf_style, split="train")
    assert class_order(ucf_style, samples, "label") == ["Zumba", "Archery", "Basketball"]
    assert class_order(ucf_style, samples[:1], "label") == ["Zumba", "Archery", "Basketball"]  # the official list whole


def test_a_class_missing_from_the_sidecar_names_file_and_class(ucf_style):
    sidecar = dataset_info_path(ucf_style)
    info = json.loads(sidecar.read_text())
    info["classes"]["label"] = ["Zumba", "Basketball"]
    sidecar.write_text(json.dumps(info))
    with pytest.raises(VsslError) as error:
        class_order(ucf_style, read_manifest(ucf_style), "label")
    assert str(error.value) == (f"{sidecar}: class 'Archery' of label set 'label' is not in the sidecar's class list "
                                "(2 classes)")
