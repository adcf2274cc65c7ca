"""EncoderSpec: one canonical record of an encoder, and the normalisation it carries into evaluation."""

import json
from dataclasses import replace

import pytest
import torch

from vssl.app.evaluate import EncoderConfig, EncoderSource, EvalData, config_spec, run_eval
from vssl.core.errors import VsslError
from vssl.models.checkpoints import save_encoder
from vssl.models.spec import EncoderSpec

from conftest import micro_eval_config

TORCHVISION_MEAN = (0.43216, 0.394666, 0.37645)  # torchvision's video models (its R(2+1)D-18 weights' transforms)
TORCHVISION_STD = (0.22803, 0.22145, 0.216989)


def test_lists_and_tuples_are_one_spec_and_files_get_lists():
    from_yaml = EncoderSpec("r3d_18", {"width": 0.25, "depth": [1, 1, 1, 1]})
    from_code = EncoderSpec("r3d_18", {"width": 0.25, "depth": (1, 1, 1, 1), "ignored": None})
    assert from_yaml == from_code and from_code.kwargs == {"width": 0.25, "depth": (1, 1, 1, 1)}
    stored = json.loads(json.dumps(from_code.to_dict()))  # JSON-safe as written
    assert stored["kwargs"] == {"width": 0.25, "depth": [1, 1, 1, 1]}
    assert stored["mean"] == [0.45, 0.45, 0.45] and stored["std"] == [0.225, 0.225, 0.225]  # PySlowFast Kinetics
    assert EncoderSpec.from_dict(stored) == from_code
    assert from_code.build().stem[0].out_channels == 16  # width 1/4 of R3D-18's 64 stem channels


def test_a_spec_without_a_backbone_or_with_an_unknown_key_is_refused_by_name():
    with pytest.raises(VsslError, match="encoder.pt: an encoder spec needs a 'backbone'"):
        EncoderSpec.from_dict({"kwargs": {}}, "encoder.pt")
    with pytest.raises(VsslError, match="unknown encoder spec key.*frames"):
        EncoderSpec.from_dict({"backbone": "r3d_18", "frames": 8}, "encoder.pt")


def _eval_config(manifest, tmp, *extra):
    return micro_eval_config(manifest, tmp, "data.labels=[motion]", "data.num_clips=1", "knn.k=3", *extra)


def test_encoder_normalisation_reaches_every_view_and_the_feature_cache_key(micro_manifest, tmp_path):
    torchvision = [f"encoder.mean=[{','.join(map(str, TORCHVISION_MEAN))}]",
                   f"encoder.std=[{','.join(map(str, TORCHVISION_STD))}]"]
    default, custom = _eval_config(micro_manifest, tmp_path), _eval_config(micro_manifest, tmp_path, *torchvision)
    default_data = EvalData(default.data, False, config_spec(default.encoder))
    custom_data = EvalData(custom.data, False, config_spec(custom.encoder))
    x_default = default_data.clips(default_data.test[:1], ["motion"])[0]["clips"]
    x_custom = custom_data.clips(custom_data.test[:1], ["motion"])[0]["clips"]
    pixels = x_default * 0.225 + 0.45  # undo Kinetics normalisation: the frames in [0, 1]
    mean, std = (torch.tensor(v).view(1, 3, 1, 1, 1) for v in (TORCHVISION_MEAN, TORCHVISION_STD))
    torch.testing.assert_close(x_custom, (pixels - mean) / std, atol=1e-5, rtol=1e-5)
    assert "normalise" not in default_data.views_key()  # caches written before the spec keep their keys
    assert custom_data.views_key()["normalise"] == {"mean": list(TORCHVISION_MEAN), "std": list(TORCHVISION_STD)}

    for config in (default, custom):
        results = run_eval(["knn"], config)
        assert {r.rule for r in results} == {"k=3, exp(sim/0.07) vote, ties to lower class"}  # stored with each value
    cached = sorted(p.name for p in (tmp_path / "feature_cache").glob("*.pt"))
    assert len(cached) == 4  # train and test features under each normalisation: never shared


def test_the_config_spec_and_a_vssl_files_own_spec_with_the_configs_normalisation_on_top(tmp_path):
    assert config_spec(EncoderConfig(backbone="r2plus1d_18", width=0.5)) == EncoderSpec("r2plus1d_18", {"width": 0.5})
    own = EncoderSpec("r3d_18", {"width": 0.125, "depth": (1, 1, 1, 1)}, clip_len=4, stride=2, crop_size=24,
                      mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    save_encoder(tmp_path / "encoder.pt", own.build(), own)
    file_config = EncoderConfig(checkpoint=str(tmp_path / "encoder.pt"), backbone="r2plus1d_18")  # ignored for ours
    assert EncoderSource(file_config).spec == own
    overridden = EncoderSource(EncoderConfig(checkpoint=str(tmp_path / "encoder.pt"), mean=(0.4, 0.4, 0.4))).spec
    assert overridden == replace(own, mean=(0.4, 0.4, 0.4))
