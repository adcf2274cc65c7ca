"""The Python API: overrides as keywords, `evaluate` on an in-memory module, `create` functions and
`vssl.results.load` (that `import vssl` stays cheap is tested in test_layers.py)."""

import pytest
import torch

import vssl
from vssl.app.api import nest_overrides, pretrain_config
from vssl.app.evaluate import EvalConfig
from vssl.core.errors import ConfigError, VsslError
from vssl.models.checkpoints import save_encoder
from vssl.models.spec import EncoderSpec

TINY = {"width": 0.125, "depth": (1, 1, 1, 1)}
SMALL_EVAL = {"data__labels": ["motion", "appearance"], "data__clip_len": 4, "data__stride": 2, "data__num_clips": 2,
              "data__crop_size": 24, "data__short_side": 24, "data__num_workers": 0, "data__batch_size": 16,
              "progress": False}


def test_public_names_resolve():
    from vssl.data import Sample, VideoReader, read_manifest, write_manifest  # noqa: F401
    from vssl.models import build_backbone, create, list_models, load_pretrained  # noqa: F401

    assert VideoReader.__module__ == "vssl.data.video" and "r3d_18" in vssl.models.list_models()
    assert "vcop" in vssl.methods.list_methods() and vssl.results.Result.__name__ == "Result"
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        vssl.nonesuch


def test_overrides_as_dotted_keys_keywords_or_nested_dicts_are_the_same():
    expected = {"train": {"epochs": 1, "seed": 3}, "data": {"manifest": "m.csv"}}
    assert nest_overrides({"train.epochs": 1, "data.manifest": "m.csv"}, {"train__seed": 3}) == expected
    assert nest_overrides({"train": {"epochs": 1}}, {"data": {"manifest": "m.csv"}, "train.seed": 3}) == expected
    config = pretrain_config("vcop_world32", {"train.epochs": 5}, train__epochs=1, data__manifest="m.csv")
    assert config.train.epochs == 1 and config.data.manifest == "m.csv"  # keywords win over the mapping
    assert config.method["name"] == "vcop" and config.model.width == 0.25  # the preset and its base
    with pytest.raises(ConfigError, match="train.epoch'"):
        pretrain_config("vcop_world32", train__epoch=1)
    with pytest.raises(ConfigError, match="train.epochs: expected an integer"):
        pretrain_config("vcop_world32", train__epochs="one")


def test_methods_create_checks_settings_against_the_method_config():
    backbone = vssl.models.create("r3d_18", **TINY)
    method = vssl.methods.create("vcop", backbone, tuple_len=4)
    assert method.config.tuple_len == 4 and method.backbone is backbone
    with pytest.raises(ConfigError, match="method.tuple_length"):
        vssl.methods.create("vcop", backbone, tuple_length=4)
    with pytest.raises(ConfigError, match="num_classes"):
        vssl.methods.create("supervised", backbone)


def test_models_create_loads_pretrained_weights_and_prints_the_report(tmp_path, capsys):
    torch.manual_seed(0)
    source = vssl.models.create("r3d_18", num_classes=400, **TINY).eval()
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, tmp_path / "w.pth")
    torch.manual_seed(1)
    model = vssl.models.create("r3d_18", pretrained=tmp_path / "w.pth", **TINY).eval()
    assert "w.pth (vssl keys in 'state_dict' under 'module.')" in capsys.readouterr().out
    source.fc = None
    clip = torch.randn(1, 3, 4, 24, 24, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(model(clip), source(clip))


def feature_files(folder):
    return sorted(p.name for p in folder.glob("*.pt"))


def test_evaluate_module_matches_its_checkpoint_and_caches_by_state_dict(micro_manifest, tmp_path):
    torch.manual_seed(0)
    module = vssl.models.create("r3d_18", **TINY)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    save_encoder(tmp_path / "run" / "encoder.pt", module, EncoderSpec("r3d_18", dict(TINY)))
    common = dict(SMALL_EVAL, store=str(tmp_path / "results.sqlite"), feature_cache=str(tmp_path / "cache"))

    from_module = vssl.evaluate(module, micro_manifest, ("knn",), **common)
    files = feature_files(tmp_path / "cache")
    from_file = vssl.evaluate(tmp_path / "run" / "encoder.pt", micro_manifest, "knn", **common)

    value = {(r.label, r.metric): r.value for r in from_module}
    assert value == {(r.label, r.metric): r.value for r in from_file} and len(value) == 4
    new = sorted(set(feature_files(tmp_path / "cache")) - set(files))
    assert len(files) == len(new) == 2  # train and test features of each encoder, under different keys
    features = {name: torch.load(tmp_path / "cache" / name, weights_only=True)["features"] for name in files + new}
    for name in files:  # the module computes exactly what its saved encoder computes
        assert sum(torch.equal(features[name], features[other]) for other in new) == 1
    name = from_module[0].encoder  # the class and 8 hex digits of its state-dict hash
    assert name.startswith("VideoResNet-") and len(name) == len("VideoResNet-") + 8 and from_file[0].encoder == "run"
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())  # the caller's module is untouched
    vssl.evaluate(module, micro_manifest, "knn", **common)  # the same weights: cache hits, no new files
    assert len(feature_files(tmp_path / "cache")) == 4
    with torch.no_grad():
        next(module.parameters()).add_(1.0)
    vssl.evaluate(module, micro_manifest, "knn", **common)  # other weights: new entries, never the old ones
    assert len(feature_files(tmp_path / "cache")) == 6
    assert len(vssl.results.load(tmp_path / "results.sqlite", protocol="knn")) == 4 * 4


def test_evaluate_refuses_a_module_and_a_checkpoint_together(micro_manifest, tmp_path):
    module = vssl.models.create("r3d_18", **TINY)
    with pytest.raises(ConfigError, match="encoder.checkpoint=x.pt given with an in-memory encoder"):
        vssl.evaluate(module, micro_manifest, "knn", encoder__checkpoint="x.pt", store=str(tmp_path / "r.sqlite"))
    with pytest.raises(VsslError, match="expected a vssl backbone"):
        vssl.evaluate(torch.nn.Linear(2, 2), micro_manifest, "knn", store=str(tmp_path / "r.sqlite"))


def test_eval_config_keeps_the_presets_values_unless_overridden():
    from vssl.app.api import eval_config

    config = eval_config("synthetic_tiny", {"knn.k": 3}, encoder="random", dataset="m.csv", device="cpu")
    assert isinstance(config, EvalConfig) and config.knn.k == 3 and config.data.num_clips == 4
    assert (config.encoder.checkpoint, config.data.manifest, config.device) == ("random", "m.csv", "cpu")


def test_results_load_reads_the_store_and_filters(tmp_path):
    from vssl.results import Result, ResultStore, comparison_table, summarise

    store = ResultStore(tmp_path / "r.sqlite")
    store.add([Result("a", "vcop", "knn", "world32", "test", "motion", "top1", v, seed, "h")
               for seed, v in ((0, 70.0), (1, 80.0))] + [Result("a", "vcop", "linear", "world32", "test", "motion",
                                                                "top1", 90.0, 0, "h")])
    rows = vssl.results.load(tmp_path / "r.sqlite")
    assert [(r.protocol, r.value) for r in rows] == [("knn", 70.0), ("knn", 80.0), ("linear", 90.0)]
    knn = summarise(vssl.results.load(tmp_path / "r.sqlite", protocol="knn"))
    assert len(knn) == 1 and knn[0].mean == 75.0 and "75.0" in comparison_table(knn)
    with pytest.raises(VsslError, match="no results store at"):
        vssl.results.load(tmp_path / "missing.sqlite")
    with pytest.raises(VsslError, match="unknown results column 'model'"):
        vssl.results.load(tmp_path / "r.sqlite", model="vcop")


def test_data_check_models_summary_and_method_settings_are_the_clis_answers_in_python(micro_manifest):
    report = vssl.data.check(micro_manifest)
    assert (report.samples, report.files, report.ok) == (48, 48, True)
    assert report.per_split == {"pretrain": 16, "train": 16, "test": 16}
    assert report.classes[("train", "motion")] == {"horizontal": 8, "vertical": 8}  # the micro set is balanced
    r3d = {m.name: m for m in vssl.models.summary()}["r3d_18"]
    # torchvision's r3d_18 has 33,371,472 parameters with its 400-way head (512 × 400 + 400) and 40.7 GMACs at 16×112²
    assert (r3d.parameters, round(r3d.gflops / 2, 1), r3d.feature_dim) == (33_371_472 - 205_200, 40.7, 512)
    doc, defaults = vssl.methods.settings()["rho_moco"]
    assert doc.startswith("ρMoCo (Feichtenhofer et al. 2021)") and defaults["queue_size"] == 65536  # §B.1
