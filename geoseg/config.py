"""Typed run configuration loaded from YAML.

A config file has up to four sections — ``model``, ``data``, ``train``, ``predict`` —
each a dataclass below.  Loading validates every key and type: an unknown key or a
wrong type is a one-line :class:`~geoseg.errors.ConfigError` naming the key and the
file (``configs/demo.yaml: train.lr: expected a number, got 'fast'``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml

from geoseg.errors import ConfigError
from geoseg.io.windows import DEFAULT_TILE, check_tile_overlap, default_overlap


@dataclass
class ModelConfig:
    arch: str = "dlinknet"
    backbone: str = "resnet34"
    in_channels: int = 3
    # null (random init), "imagenet" (timm download) or a path to a timm state dict.
    encoder_weights: Optional[str] = None
    aux_weight: float = 0.4  # AD-LinkNet deep-supervision weight


@dataclass
class DataConfig:
    # GeoTIFF scenes (with `masks` or `labels`) or a DeepGlobe-style folder (`deepglobe`).
    scenes: list[str] = field(default_factory=list)
    masks: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    label_width_m: float = 6.0
    deepglobe: Optional[str] = None
    val_scenes: list[str] = field(default_factory=list)
    val_masks: list[str] = field(default_factory=list)
    val_labels: list[str] = field(default_factory=list)
    val_fraction: float = 0.2
    # Without val_scenes: hold out whole "scenes", or the bottom rows of every scene ("rows").
    val_split: Literal["scenes", "rows"] = "scenes"
    bands: Optional[list[int]] = None
    tile: int = 512
    samples_per_epoch: int = 256
    road_weight: float = 0.8
    batch_size: int = 4
    num_workers: int = 0


@dataclass
class TrainConfig:
    epochs: int = 100
    lr: float = 2e-4
    weight_decay: float = 0.0
    schedule: Literal["plateau", "cosine"] = "plateau"
    plateau_patience: int = 3
    plateau_factor: float = 0.2
    early_stop: int = 6
    grad_clip: float = 5.0
    amp: bool = True  # mixed precision on CUDA, and on CPUs with native bf16 (AMX/AVX512-BF16)
    # true: D-LinkNet's augmentation (colour, shift-scale-rotate, flips); "flips": only the
    # 8 lossless flips/rotations; false: none
    augment: Union[bool, Literal["flips"]] = True
    seed: int = 0
    max_steps: Optional[int] = None
    max_minutes: Optional[float] = None  # wall-clock budget for training (incl. validation)
    val_every: int = 1  # validate (and write last.pt) every N epochs, and after the last


@dataclass
class PredictConfig:
    # explicit settings for predicting with the run's model (geoseg.inference.settings):
    # overlap null is TileGrid's default for the tile (a quarter, at most 64 px); threshold
    # null is the checkpoint's (chosen on validation)
    tile: int = DEFAULT_TILE
    overlap: Optional[int] = None
    batch_size: int = 4
    tta: Literal["none", "flip", "d4"] = "none"
    threshold: Optional[float] = None


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (list,):
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args) + " or null"
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against type `tp`; return it (ints accepted as floats)."""
    origin = typing.get_origin(tp)
    bad = ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        real = [a for a in args if a is not type(None)]
        if len(real) == 1:
            return _coerce(value, real[0], where)
        for arg in real:
            try:
                return _coerce(value, arg, where)
            except ConfigError:
                continue
        raise bad
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise bad
        return value
    if origin is list:
        if not isinstance(value, list):
            raise bad
        (item,) = typing.get_args(tp)
        return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise bad
        return value
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    raise bad  # pragma: no cover - a field type this loader does not know


def _build(cls: type, data: Any, where: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in names:
            valid = ", ".join(sorted(names))
            raise ConfigError(f"{path}: unknown key (valid keys here: {valid})")
        kwargs[key] = _coerce(value, hints[key], path)
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any], source: str = "<config>") -> RunConfig:
    """Build a validated :class:`RunConfig`; errors name `source` and the key."""
    try:
        cfg = _build(RunConfig, data, "")
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    validate(cfg, source)
    return cfg


def validate(cfg: RunConfig, source: str = "<config>") -> None:
    """Range checks that types alone cannot express."""
    checks = [
        (cfg.model.in_channels >= 1, "model.in_channels: must be at least 1"),
        (cfg.data.tile >= 32, "data.tile: must be at least 32 px"),
        (cfg.data.batch_size >= 1, "data.batch_size: must be at least 1"),
        (0.0 <= cfg.data.val_fraction < 1.0, "data.val_fraction: must be in [0, 1)"),
        (cfg.train.lr > 0, "train.lr: must be positive"),
        (cfg.train.epochs >= 1, "train.epochs: must be at least 1"),
        (
            cfg.train.max_steps is None or cfg.train.max_steps >= 1,
            "train.max_steps: must be at least 1",
        ),
        (
            cfg.train.max_minutes is None or cfg.train.max_minutes > 0,
            "train.max_minutes: must be positive",
        ),
        (cfg.train.val_every >= 1, "train.val_every: must be at least 1"),
        (
            cfg.predict.threshold is None or 0.0 < cfg.predict.threshold < 1.0,
            "predict.threshold: must be in (0, 1)",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{source}: {message}")
    try:
        p = cfg.predict
        overlap = default_overlap(p.tile) if p.overlap is None else p.overlap
        check_tile_overlap(p.tile, overlap, prefix="predict.")
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


# The configs shipped with geoseg: inside the installed package (``geoseg/configs``, a link
# to the repository's top-level ``configs/`` folder, copied into wheels as package data).
_PACKAGE_CONFIGS = Path(__file__).resolve().parent / "configs"
_REPO_CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def bundled_config_dir() -> Path:
    """The folder of the configs shipped with geoseg (installed package or source checkout)."""
    for folder in (_PACKAGE_CONFIGS, _REPO_CONFIGS):
        if folder.is_dir() and any(folder.glob("*.yaml")):
            return folder
    return _PACKAGE_CONFIGS


def bundled_configs() -> dict[str, Path]:
    """Name -> path of every shipped config (``geoseg train -c NAME``), sorted by name."""
    return {p.stem: p for p in sorted(bundled_config_dir().glob("*.yaml"))}


def resolve_config(name_or_path: str | Path) -> Path:
    """A config file path: an existing file, else a shipped config by name (``unet_vgg16``,
    ``unet_vgg16.yaml`` or ``configs/unet_vgg16.yaml``); ConfigError naming the choices."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    bundled = bundled_configs()
    stem = path.name[:-5] if path.name.endswith(".yaml") else path.name
    # a bare name, or the README's configs/NAME.yaml from another folder
    if stem in bundled and (path.parent == Path(".") or path.parent.name == "configs"):
        return bundled[stem]
    raise ConfigError(
        f"{name_or_path}: config file not found (shipped configs: {', '.join(bundled)}; "
        "`geoseg configs` lists them)"
    )


def training_hint(arch: str | None, backbone: str) -> str:
    """How to train an `arch`/`backbone` model, naming only shipped configs that exist:
    ``geoseg train -c dlinknet_resnet34 ...``, else which key to set in a copy of one."""
    names = []
    for name, path in bundled_configs().items():
        try:
            model = load_config(path).model
        except ConfigError:  # pragma: no cover - the shipped configs are tested
            continue
        if model.backbone == backbone and (arch is None or model.arch == arch):
            names.append(name)
    if names:
        return f"train one with `geoseg train -c {names[0]} ...`"
    base = next(iter(bundled_configs()), "demo")
    want = f"model.arch: {arch} and " if arch else ""
    return (
        f"train one with a config that sets {want}model.backbone: {backbone} "
        f"(start from `geoseg configs {base} > my.yaml`, then `geoseg train -c my.yaml ...`)"
    )


def load_config(path: str | Path) -> RunConfig:
    """Load and validate a YAML config file, or a shipped config by name (:func:`resolve_config`)."""
    path = resolve_config(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{line}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.__class__.__name__})") from None
    if data is None:  # an empty file (or only comments) would silently be all defaults
        raise ConfigError(f"{path}: empty config")
    if not isinstance(data, dict):
        kind = "a YAML list" if isinstance(data, list) else f"{type(data).__name__} {data!r}"
        raise ConfigError(f"{path}: expected a mapping of keys, got {kind}")
    return config_from_dict(data, str(path))
