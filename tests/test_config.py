import pytest

from ganforge.config import Config, ConfigError, from_dict, load_config, parse_override


def test_defaults_are_the_article_setup():
    cfg = Config()
    assert cfg.model.z_dim == 100 and cfg.model.noise == "uniform"
    assert cfg.train.loss == "nonsaturating"
    assert (cfg.train.lr_g, cfg.train.beta1) == (2e-4, 0.5)


def test_yaml_then_overrides(tmp_path):
    preset = tmp_path / "p.yaml"
    preset.write_text("train:\n  steps: 10\n  lr_d: 0.001\nmodel:\n  name: mlp\n")
    cfg = load_config(preset, ["train.steps=20", "data.image_size=32", "data.limit=none"])
    assert cfg.train.steps == 20 and cfg.train.lr_d == 0.001 and cfg.model.name == "mlp"
    assert cfg.data.image_size == 32 and cfg.data.limit is None


def test_int_accepted_for_float_and_types_checked():
    assert isinstance(load_config(None, ["train.lr_g=0.5"]).train.lr_g, float)
    assert load_config(None, ["train.ema_decay=0"]).train.ema_decay == 0.0
    with pytest.raises(ConfigError, match="train.steps must be of type int"):
        load_config(None, ["train.steps=ten"])
    with pytest.raises(ConfigError, match="must be of type bool"):
        load_config(None, ["run.progress=3"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.stepz=3", "unknown key 'train.stepz'.*valid keys in 'train':.*steps"),
        ("trian.steps=3", "unknown section 'trian'.*valid sections: run, data, model, train"),
        ("model.noise=cauchy", "choose one of: uniform, normal"),
        ("train.steps=0", "train.steps must be positive"),
        ("train.lr_g=2", r"train.lr_g must be in \(0, 1\)"),
        ("train.lr_decay_start=1.5", r"train.lr_decay_start must be in \[0, 1\]"),
        ("steps=3", "section.key=value"),
    ],
)
def test_bad_values_name_the_fix(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_missing_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("train: 3\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(bad)


def test_round_trip_through_dict_and_yaml(tmp_path):
    cfg = load_config(None, ["train.steps=7", "data.root=/x", "model.name=mlp"])
    assert from_dict(cfg.to_dict()) == cfg
    cfg.save(tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


def test_parse_override_keeps_equals_in_value():
    assert parse_override("run.dir=a=b") == {"run": {"dir": "a=b"}}


def test_every_preset_loads():
    from pathlib import Path

    presets = sorted(Path(__file__).parents[1].joinpath("configs").glob("*.yaml"))
    assert presets, "configs/ should ship presets"
    for preset in presets:
        load_config(preset)


def test_every_field_says_whether_a_resume_may_change_it():
    """A new (or renamed) field must be classified: resumable True or False, on the field."""
    import dataclasses

    from ganforge.config import Config, is_resumable

    unclassified = [
        f"{section.name}.{fld.name}"
        for section in dataclasses.fields(Config)
        for fld in dataclasses.fields(section.default_factory())
        if not isinstance(fld.metadata.get("resumable"), bool)
    ]
    assert unclassified == []
    # where and how fast a run goes may change; what it trains may not
    assert is_resumable("train", "steps") and is_resumable("eval", "metrics")
    assert not is_resumable("model", "z_dim") and not is_resumable("train", "lr_g")
