from pathlib import Path

import pytest

from geoseg.config import RunConfig, load_config
from geoseg.errors import ConfigError, GeoSegError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_all_bundled_configs_load():
    names = {p.name for p in (REPO / "configs").glob("*.yaml")}
    assert {
        "unet_vgg16.yaml",
        "adlinknet_resnet34.yaml",
        "adlinknet_resnet101.yaml",
        "adlinknet_xception.yaml",
        "dlinknet_resnet34.yaml",
        "demo.yaml",
    } <= names
    for p in (REPO / "configs").glob("*.yaml"):
        cfg = load_config(p)
        assert isinstance(cfg, RunConfig)
        assert cfg.model.encoder_weights in (None, "imagenet")


def test_seed_configs_match_the_paper_rows():
    rows = {
        "unet_vgg16.yaml": ("unet", "vgg16"),
        "adlinknet_resnet34.yaml": ("adlinknet", "resnet34"),
        "adlinknet_resnet101.yaml": ("adlinknet", "resnet101"),
        "adlinknet_xception.yaml": ("adlinknet", "xception"),
        "dlinknet_resnet34.yaml": ("dlinknet", "resnet34"),
    }
    for name, (arch, backbone) in rows.items():
        cfg = load_config(REPO / "configs" / name)
        assert (cfg.model.arch, cfg.model.backbone) == (arch, backbone)


def test_values_are_typed(tmp_path):
    cfg = load_config(write(tmp_path, "train:\n  lr: 1\n  epochs: 3\npredict:\n  tta: d4\n"))
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.train.epochs == 3
    assert cfg.predict.tta == "d4"
    assert cfg.model.arch == "dlinknet"  # default kept


def test_unknown_key_names_key_and_file(tmp_path):
    p = write(tmp_path, "train:\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    msg = str(err.value)
    assert str(p) in msg and "train.learning_rate" in msg and "unknown key" in msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    "text, key",
    [
        ("train:\n  lr: fast\n", "train.lr"),
        ("train:\n  epochs: 2.5\n", "train.epochs"),
        ("train:\n  amp: 1\n", "train.amp"),
        ("predict:\n  tta: d8\n", "predict.tta"),
        ("data:\n  bands: [1, x]\n", "data.bands[1]"),
        ("model: resnet\n", "model"),
    ],
)
def test_wrong_type_names_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_config(write(tmp_path, text))


def test_range_check_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="predict.overlap"):
        load_config(write(tmp_path, "predict:\n  tile: 64\n  overlap: 40\n"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "train: [1,\n"))
    with pytest.raises(GeoSegError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_shipped_configs_are_addressable_by_name(tmp_path, monkeypatch):
    from geoseg.config import bundled_configs, resolve_config

    names = bundled_configs()
    assert {"demo", "unet_vgg16", "adlinknet_resnet34", "dlinknet_resnet34"} <= set(names)
    monkeypatch.chdir(tmp_path)  # not the clone: configs/ is not beside us
    for spelling in ("unet_vgg16", "unet_vgg16.yaml", "configs/unet_vgg16.yaml"):
        assert resolve_config(spelling) == names["unet_vgg16"]
        assert load_config(spelling).model.backbone == "vgg16"
    # a file of that name in the working folder is what -c names
    (tmp_path / "unet_vgg16.yaml").write_text("model:\n  arch: linknet\n")
    assert load_config("unet_vgg16.yaml").model.arch == "linknet"
    assert load_config("unet_vgg16").model.arch == "unet"
    with pytest.raises(
        ConfigError,
        match=r"^unet_vgg: config file not found \(shipped "
        r"configs: .*unet_vgg16.*`geoseg configs` lists them\)$",
    ):
        load_config("unet_vgg")
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "elsewhere" / "demo.yaml")  # a path is not a name


def test_training_hint_names_only_shipped_configs():
    from geoseg.config import bundled_configs, training_hint

    assert training_hint("unet", "vgg16") == "train one with `geoseg train -c unet_vgg16 ...`"
    assert training_hint(None, "resnet18") == "train one with `geoseg train -c demo ...`"
    hint = training_hint("dlinknet", "resnet18")
    assert "model.arch: dlinknet and model.backbone: resnet18" in hint
    named = hint.split("`geoseg configs ")[1].split(" ")[0]
    assert named in bundled_configs()
