"""Import trained weights from other tools as self-describing geoseg checkpoints.

``geoseg models import FILE --format F`` (and :func:`import_weights`) reads a foreign
state dict safely (``torch.load(weights_only=True)``: pickled code is refused), renames
its layers onto a geoseg architecture whose forward computes the same function, checks
every key and shape, and stores a normal checkpoint that also records how the original
network was fed (band order, normaliser, threshold, tile, TTA), so ``geoseg predict``
reproduces the original predictions.

Formats (:data:`FORMATS`):

``dlinknet34``
    The D-LinkNet repository's ``DinkNet34`` (DeepGlobe 2018 road winner), e.g. the
    released ``log01_dink34.th``: a ``torch.save`` of its ``state_dict`` (usually inside
    ``nn.DataParallel``, keys prefixed ``module.``).  geoseg's ``dlinknet``/``resnet34``
    is the same network; the original forward ends in a sigmoid, geoseg's in the logits
    (the predictor applies the sigmoid).  Its test script reads images with OpenCV (BGR),
    scales ``x / 255 * 3.2 - 1.6``, averages the 8 D4 views and thresholds at 0.5 on
    1024² tiles: the checkpoint records bands 3,2,1, mean 0.5 / std 0.3125 on 0..255,
    TTA d4, threshold 0.5 and tile 1024.
``smp``
    segmentation_models_pytorch ``Unet`` (ResNet or VGG encoder) or ``Linknet`` (ResNet
    encoder), torchvision-style (``resnet34``, ``vgg16``) or timm (``tu-resnet34``)
    encoders, 1 class, ``encoder_depth=5``.  They map onto geoseg's ``unet``
    (``full_res_skip=False``; VGG: ``center=True``) and ``linknet`` (``style="smp"``).
    Input: RGB scaled to 0..1 and ImageNet mean/std (smp's preprocessing for its
    ImageNet encoders).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geoseg.checkpoint import Checkpoint, safe_torch_load
from geoseg.errors import CheckpointError
from geoseg.models import create_model
from geoseg.normalize import Normalizer

FORMATS = ("dlinknet34", "smp")

# Released D-LinkNet's input convention: x / 255 * 3.2 - 1.6 == (x / 255 - 0.5) / 0.3125
DLINKNET_NORMALIZER = {
    "low": [0.0] * 3,
    "high": [255.0] * 3,
    "mean": [0.5] * 3,
    "std": [0.3125] * 3,
}
NESTED_KEYS = ("state_dict", "model_state_dict", "model")


class ImportFormatError(CheckpointError):
    """A foreign weights file does not have the layout its format promises."""


@dataclass
class Layout:
    """Where a foreign state dict goes: a geoseg model and foreign->geoseg key prefixes."""

    arch: str
    backbone: str
    in_channels: int
    model_kwargs: dict[str, Any]
    prefixes: dict[str, str]
    describe: str  # "D-LinkNet34", "smp Unet (resnet34)" ... for messages
    bands: list[int] | None = None
    normalizer: dict[str, list[float]] | None = None  # None: the backbone's ImageNet stats
    threshold: float = 0.5
    predict_defaults: dict[str, Any] = field(default_factory=dict)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def read_foreign_state_dict(path: str | Path) -> dict[str, Any]:
    """The tensors of a foreign weights file, loaded with ``weights_only=True``.

    Unwraps ``{"state_dict": ...}``-style containers and a ``module.`` (DataParallel)
    prefix shared by every key.
    """
    import torch  # lazy: torch takes seconds to load

    path = Path(path)
    data = safe_torch_load(
        path, "weights file", "cpu", "only plain state dicts of tensors can be imported"
    )
    if isinstance(data, Mapping) and data.get("format") == "geoseg.checkpoint":
        raise ImportFormatError(f"{path}: is already a geoseg checkpoint; use it with --model")
    for key in NESTED_KEYS:
        if isinstance(data, Mapping) and isinstance(data.get(key), Mapping):
            data = data[key]
            break
    if not isinstance(data, Mapping) or not data:
        raise ImportFormatError(f"{path}: unknown layout: not a state dict (a mapping of tensors)")
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ImportFormatError(f"{path}: unknown layout: entry {key!r} is not a named tensor")
    keys = list(data)
    if all(k.startswith("module.") for k in keys):
        data = {k[len("module.") :]: v for k, v in data.items()}
    return dict(data)


def _translate(key: str, prefixes: list[tuple[str, str]]) -> str | None:
    for src, dst in prefixes:
        if key.startswith(src):
            return dst + key[len(src) :]
    return None


def map_state_dict(
    source: dict[str, Any], layout: Layout, target: dict[str, Any], where: str
) -> dict[str, Any]:
    """Rename `source` onto the `target` state dict; one sentence for the first bad key.

    ``num_batches_tracked`` counters (absent from files saved before PyTorch 0.4, and
    unused in inference) are filled with 0 when missing.
    """
    import torch  # lazy: torch takes seconds to load

    forward = sorted(layout.prefixes.items(), key=lambda kv: -len(kv[0]))
    backward = sorted(((d, s) for s, d in layout.prefixes.items()), key=lambda kv: -len(kv[0]))
    if not any(_translate(k, forward) in target for k in source):
        raise ImportFormatError(
            f"{where}: unknown layout: no key is a layer of {layout.describe} "
            f"(first key {next(iter(source))!r})"
        )
    out: dict[str, Any] = {}
    for key, value in source.items():
        new = _translate(key, forward)
        if new is None or new not in target:
            raise ImportFormatError(
                f"{where}: unexpected key {key!r}: not a layer of {layout.describe}"
            )
        want = tuple(target[new].shape)
        if tuple(value.shape) != want:
            raise ImportFormatError(
                f"{where}: key {key!r} has shape {tuple(value.shape)} but {layout.describe} "
                f"needs {want}"
            )
        out[new] = value.to(target[new].dtype)
    for key, ref in target.items():
        if key in out:
            continue
        if key.endswith("num_batches_tracked"):
            out[key] = torch.zeros_like(ref)
            continue
        foreign = _translate(key, backward) or key
        raise ImportFormatError(f"{where}: missing key {foreign!r} of {layout.describe}")
    return out


# ---------------------------------------------------------------- D-LinkNet34 layout


def dlinknet34_layout(source: dict[str, Any], where: str) -> Layout:
    prefixes = {"firstconv.": "encoder.body.conv1.", "firstbn.": "encoder.body.bn1."}
    for i in range(1, 5):
        prefixes[f"encoder{i}."] = f"encoder.body.layer{i}."
        prefixes[f"dblock.dilate{i}."] = f"decoder.center.stages.{i - 1}."
    parts = {"conv1": 0, "norm1": 1, "deconv2": 3, "norm2": 4, "conv3": 6, "norm3": 7}
    for i in range(4, 0, -1):
        for name, idx in parts.items():
            prefixes[f"decoder{i}.{name}."] = f"decoder.blocks.{4 - i}.{idx}."
    prefixes.update(
        {"finaldeconv1.": "head.0.", "finalconv2.": "head.2.", "finalconv3.": "head.4."}
    )
    first = source.get("firstconv.weight")
    in_channels = int(first.shape[1]) if first is not None and first.ndim == 4 else 3
    return Layout(
        arch="dlinknet",
        backbone="resnet34",
        in_channels=in_channels,
        model_kwargs={},
        prefixes=prefixes,
        describe="D-LinkNet34 (DinkNet34)",
        bands=[3, 2, 1] if in_channels == 3 else None,
        normalizer={k: [v[0]] * in_channels for k, v in DLINKNET_NORMALIZER.items()},
        threshold=0.5,
        predict_defaults={"tile": 1024, "tta": "d4"},
    )


# ---------------------------------------------------------------- smp layouts

RESNET_DEPTHS: dict[tuple[tuple[int, ...], bool], str] = {
    ((2, 2, 2, 2), False): "resnet18",
    ((3, 4, 6, 3), False): "resnet34",
    ((3, 4, 6, 3), True): "resnet50",
    ((3, 4, 23, 3), True): "resnet101",
    ((3, 8, 36, 3), True): "resnet152",
}
VGG_CONVS = {8: "vgg11", 10: "vgg13", 13: "vgg16", 16: "vgg19"}


def _smp_encoder(
    source: dict[str, Any], where: str, backbone: str | None = None
) -> tuple[str, str, dict[str, str], int]:
    """(backbone, kind, encoder prefixes, in_channels) of an smp encoder; `backbone`
    names the timm model where the block counts are not a standard ResNet's."""
    for root in ("encoder.model.", "encoder."):  # timm "tu-" encoders, then torchvision
        if f"{root}layer1.0.conv1.weight" in source:
            blocks = []
            for layer in range(1, 5):
                pat = re.compile(rf"{re.escape(root)}layer{layer}\.(\d+)\.")
                idx = {int(m.group(1)) for k in source if (m := pat.match(k))}
                blocks.append(max(idx) + 1 if idx else 0)
            bottleneck = f"{root}layer1.0.conv3.weight" in source
            name = RESNET_DEPTHS.get((tuple(blocks), bottleneck)) or backbone
            if name is None:
                raise ImportFormatError(
                    f"{where}: unknown smp ResNet encoder with {blocks} blocks per stage "
                    "(give the timm name with --backbone)"
                )
            stem = next(v for k, v in source.items() if k.startswith(root) and v.ndim == 4)
            return name, "resnet", {root: "encoder.body."}, int(stem.shape[1])
        if f"{root}features.0.weight" in source:
            pat = re.compile(rf"{re.escape(root)}features\.(\d+)\.weight$")
            convs = [
                int(m.group(1)) for k, v in source.items() if (m := pat.match(k)) and v.ndim == 4
            ]
            name = VGG_CONVS.get(len(convs))
            if name is None:
                raise ImportFormatError(f"{where}: unknown smp VGG encoder with {len(convs)} convs")
            if f"{root}features.1.running_mean" in source:
                name += "_bn"
            prefixes = {f"{root}features.{i}.": f"encoder.body.features_{i}." for i in range(80)}
            return name, "vgg", prefixes, int(source[f"{root}features.0.weight"].shape[1])
    raise ImportFormatError(
        f"{where}: unknown layout: no smp ResNet or VGG encoder "
        f"(no 'encoder.layer1.0.conv1.weight' or 'encoder.features.0.weight'; first key "
        f"{next(iter(source))!r})"
    )


def smp_layout(source: dict[str, Any], where: str, backbone: str | None = None) -> Layout:
    head = source.get("segmentation_head.0.weight")
    if head is None:
        raise ImportFormatError(
            f"{where}: unknown layout: no 'segmentation_head.0.weight' (not an smp model)"
        )
    if head.shape[0] != 1:
        raise ImportFormatError(
            f"{where}: 'segmentation_head.0.weight' has {head.shape[0]} classes; "
            "geoseg imports 1-class (road) models only"
        )
    name, kind, prefixes, in_channels = _smp_encoder(source, where, backbone)
    backbone = backbone or name
    prefixes["segmentation_head.0."] = "head."
    if "decoder.blocks.0.conv1.0.weight" in source:  # Unet
        n = 0
        while f"decoder.blocks.{n}.conv1.0.weight" in source:
            n += 1
        channels = [int(source[f"decoder.blocks.{i}.conv1.0.weight"].shape[0]) for i in range(n)]
        for i in range(n):
            prefixes[f"decoder.blocks.{i}.conv1."] = f"decoder.blocks.{i}.0."
            prefixes[f"decoder.blocks.{i}.conv2."] = f"decoder.blocks.{i}.1."
        prefixes["decoder.center."] = "decoder.center."
        kwargs: dict[str, Any] = {"decoder_channels": channels, "full_res_skip": False}
        if kind == "vgg":
            kwargs["center"] = True
        arch, describe = "unet", f"an smp Unet ({backbone})"
    elif "decoder.blocks.0.block.0.0.weight" in source:  # Linknet
        for i in range(5):
            prefixes[f"decoder.blocks.{i}.block."] = f"decoder.blocks.{i}."
        kwargs = {"style": "smp"}
        arch, describe = "linknet", f"an smp Linknet ({backbone})"
    else:
        raise ImportFormatError(
            f"{where}: unknown smp layout: neither a Unet ('decoder.blocks.0.conv1.0.weight') "
            "nor a Linknet ('decoder.blocks.0.block.0.0.weight')"
        )
    return Layout(
        arch=arch,
        backbone=backbone,
        in_channels=in_channels,
        model_kwargs=kwargs,
        prefixes=prefixes,
        describe=describe,
        bands=[1, 2, 3] if in_channels == 3 else None,
    )


# ---------------------------------------------------------------- entry point


def import_weights(
    path: str | Path,
    fmt: str,
    *,
    backbone: str | None = None,
    bands: list[int] | None = None,
    threshold: float | None = None,
    tile: int | None = None,
    tta: str | None = None,
    source_info: dict[str, Any] | None = None,
) -> Checkpoint:
    """Read a foreign weights file and return it as a geoseg :class:`Checkpoint`.

    Store the result with :meth:`Checkpoint.save`.  `bands`, `threshold`,
    `tile` and `tta` override what the format records; `source_info` is stored under
    ``source`` (with the file name, format and sha256).
    """

    path = Path(path)
    if fmt not in FORMATS:
        raise ImportFormatError(f"unknown import format {fmt!r}: use one of {', '.join(FORMATS)}")
    source = read_foreign_state_dict(path)
    where = str(path)
    layout = (
        dlinknet34_layout(source, where)
        if fmt == "dlinknet34"
        else smp_layout(source, where, backbone)
    )
    model = create_model(
        layout.arch, layout.backbone, in_channels=layout.in_channels, **layout.model_kwargs
    )
    state = map_state_dict(source, layout, model.state_dict(), where)
    if layout.normalizer is not None:
        normalizer = Normalizer.from_dict(layout.normalizer)
    else:
        normalizer = Normalizer.for_dtype("uint8", model.norm_mean, model.norm_std)
    defaults = dict(layout.predict_defaults)
    if tile is not None:
        defaults["tile"] = int(tile)
    if tta is not None:
        defaults["tta"] = tta
    return Checkpoint(
        arch=layout.arch,
        backbone=layout.backbone,
        in_channels=layout.in_channels,
        model_kwargs=layout.model_kwargs,
        bands=list(bands) if bands else layout.bands,
        normalizer=normalizer.to_dict(),
        tile=defaults.get("tile"),
        threshold=float(threshold if threshold is not None else layout.threshold),
        predict_defaults=defaults,
        source={
            "format": fmt,
            "file": path.name,
            "sha256": sha256_file(path),
            "layout": layout.describe,
            **(source_info or {}),
        },
        state_dict=state,
    )
