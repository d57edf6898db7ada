import re

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


def test_exponent_without_a_dot_is_a_float(tmp_path):
    """YAML 1.1 reads ``2e-4`` as a string; a float field takes it as the number it is."""
    preset = tmp_path / "p.yaml"
    preset.write_text("train:\n  lr_d: 4e-4\n")
    cfg = load_config(preset, ["train.lr_g=1e-4"])
    assert (cfg.train.lr_g, cfg.train.lr_d) == (1e-4, 4e-4)
    with pytest.raises(ConfigError, match="train.lr_g must be of type float, got 'fast'"):
        load_config(None, ["train.lr_g=fast"])


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


# --- hostile YAML (issue 13, items 7 and 8) -------------------------------------------------

# The "billion laughs": 9 levels of 10 references each expand to 10**9 strings (1.2 KB on disk).
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
)


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text("run: {seed: 1}\n" + BOMB)
    assert len(path.read_bytes()) < 1500
    with pytest.raises(ConfigError, match=r"aliases \(\*name\) are not allowed .*line 3"):
        load_config(path)


def test_aliases_are_refused_in_set_values_too():
    with pytest.raises(ConfigError, match="aliases"):
        load_config(None, ["train.steps=[&x 1, *x]"])


def test_a_run_folders_config_yaml_bomb_is_not_expanded_by_the_lab(tmp_path):
    from ganforge.lab.runview import RunView

    (tmp_path / "config.yaml").write_text(BOMB)
    assert RunView(tmp_path).config() == {}


@pytest.mark.parametrize(
    "data, message",
    [
        ("train:\n  steps: 3\n".encode("utf-16"), "looks like UTF-16 text; save it as UTF-8"),
        (b"train:\n  steps: 3 \xff\xfe\n", "is not UTF-8 text (bad byte at offset 18)"),
        (b"train:\n  steps: 3\n" + b"#" * (1 << 20), "larger than"),
    ],
)
def test_files_that_are_not_utf8_yaml_are_one_line(tmp_path, data, message):
    path = tmp_path / "c.yaml"
    path.write_bytes(data)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)


def test_a_utf8_bom_is_fine(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes("train:\n  steps: 3\n".encode("utf-8-sig"))
    assert load_config(path).train.steps == 3


@pytest.mark.parametrize(
    "setting",
    ["model.z_dim=100000000", "model.g_width=10000000", "data.image_size=100000", "train.grid_size=10**9"],
)
def test_sizes_have_upper_bounds(setting):
    setting = setting.replace("10**9", str(10**9))
    with pytest.raises(ConfigError, match="is too large; the limit is"):
        load_config(None, [setting])
