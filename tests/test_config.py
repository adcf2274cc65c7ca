"""Config loading: presets, overrides, one-line errors naming the key."""

import pytest

from vssl.app.evaluate import EvalConfig
from vssl.app.pretrain import PretrainConfig, resolve_method
from vssl.core.config import config_hash, find_preset, load_config, parse_overrides
from vssl.core.errors import ConfigError


def test_preset_plus_overrides():
    config = load_config(PretrainConfig, "rho_moco_tiny", "pretrain",
                         ["method.rho=3", "train.epochs=2", "model.depth=[2,2,2,2]", "optim.lr=1"])
    assert config.train.epochs == 2
    assert config.model.depth == (2, 2, 2, 2)
    assert config.optim.lr == 1.0 and isinstance(config.optim.lr, float)
    _, _, method = resolve_method(config)
    assert method.rho == 3 and method.queue_size == 128  # override + preset value
    assert method.temperature == 0.1  # paper default (Feichtenhofer et al. 2021 §B.1)


def test_unknown_key_names_it():
    with pytest.raises(ConfigError, match=r"unknown config key 'train\.epoch'"):
        load_config(PretrainConfig, None, "pretrain", ["train.epoch=3"])
    config = load_config(PretrainConfig, None, "pretrain", ["method.rhoo=3"])
    with pytest.raises(ConfigError, match=r"'method\.rhoo'"):
        resolve_method(config)


def test_wrong_type_names_key():
    with pytest.raises(ConfigError, match=r"train\.epochs: expected an integer, got 'many'"):
        load_config(PretrainConfig, None, "pretrain", ["train.epochs=many"])
    with pytest.raises(ConfigError, match=r"knn\.temperature"):
        load_config(EvalConfig, None, "eval", ["knn.temperature=hot"])
    assert load_config(EvalConfig, None, "eval", ["knn.temperature=null"]).knn.temperature is None


def test_unknown_preset_lists_available():
    with pytest.raises(ConfigError, match="rho_moco_tiny"):
        find_preset("nope", "pretrain")


def test_override_syntax_and_hash():
    assert parse_overrides(["a.b=1", "a.c=x"]) == {"a": {"b": 1, "c": "x"}}
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_overrides(["novalue"])
    a = load_config(EvalConfig, None, "eval", [])
    b = load_config(EvalConfig, None, "eval", ["seed=1"])
    assert config_hash(a) != config_hash(b) and config_hash(a) == config_hash(load_config(EvalConfig, None, "eval", []))


def test_every_shipped_preset_loads():
    from vssl.core.config import PRESET_DIR
    from vssl.models.registry import list_backbones
    pretrain = sorted(p.stem for p in (PRESET_DIR / "pretrain").glob("*.yaml"))
    assert {"rho_moco", "rho_moco_tiny", "rho_byol", "rho_byol_aug_plus", "rho_simclr_tiny"} <= set(pretrain)
    for name in pretrain:
        config = load_config(PretrainConfig, name, "pretrain", [])
        assert config.model.backbone in list_backbones(), name
        resolve_method(config)
    aug_plus = load_config(PretrainConfig, "rho_byol_aug_plus", "pretrain", [])
    assert aug_plus.data.inception_crop and aug_plus.data.color_strength == 0.75  # Feichtenhofer et al. 2021 Tables 7-8
    difference = load_config(PretrainConfig, "rho_byol_temporal_difference", "pretrain", [])
    assert difference.data.temporal_difference_p == 0.2 and difference.data.fps_jitter == 0.0  # Feichtenhofer et al. 2021 Table 7
    jitter = load_config(PretrainConfig, "rho_byol_fps_jitter", "pretrain", [])
    assert jitter.data.fps_jitter == 0.5 and jitter.data.temporal_difference_p == 0.0  # Feichtenhofer et al. 2021 Table 7
    for name in (p.stem for p in (PRESET_DIR / "eval").glob("*.yaml")):
        load_config(EvalConfig, name, "eval", [])


def test_a_preset_starts_from_its_base_and_overrides_it(tmp_path):
    simclr = load_config(PretrainConfig, "rho_simclr_world32", "pretrain", [])
    recipe = load_config(PretrainConfig, "world32_recipe", "pretrain", [])
    assert (simclr.data, simclr.model, simclr.optim) == (recipe.data, recipe.model, recipe.optim)
    assert simclr.method["name"] == "rho_simclr" and simclr.train.out_dir == "runs/rho_simclr_world32"
    assert load_config(PretrainConfig, "vcop_world32", "pretrain", []).data.flip is False  # its own override
    loop_a, loop_b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    loop_a.write_text(f"base: {loop_b}\n")
    loop_b.write_text(f"base: {loop_a}\n")
    with pytest.raises(ConfigError, match="loops"):
        load_config(PretrainConfig, str(loop_a), "pretrain", [])
