"""From a :class:`~geoseg.config.DataConfig` to train/val datasets and a normaliser.

Two layouts:

- **scenes**: GeoTIFFs in ``data.scenes`` with a mask GeoTIFF each (``data.masks``)
  or vector centerlines (``data.labels``: one file per scene, or one shared file).
  Validation: ``data.val_scenes`` when given; else the last ``val_fraction`` of the
  scenes (``val_split: scenes``), or — with ``val_split: rows`` and always for a single
  scene — every scene is split into training rows and a validation strip (its bottom
  ``val_fraction`` of rows).
- **DeepGlobe folder** (``data.deepglobe``): ``<id>_sat.jpg|png`` + ``<id>_mask.png``.
  Validation: the ids/file names in ``data.val_scenes`` when given, else a seeded
  random ``val_fraction`` of the tiles.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from geoseg.config import DataConfig
from geoseg.data.augment import Augment
from geoseg.data.datasets import GridDataset, WindowDataset
from geoseg.data.sources import ImageTile, RasterScene, Region, Source
from geoseg.errors import DataError
from geoseg.normalize import Normalizer

log = logging.getLogger(__name__)

SAT_RE = re.compile(r"^(?P<id>.+)_sat\.(jpe?g|png|tiff?)$", re.IGNORECASE)
MASK_RE = re.compile(r"^(?P<id>.+)_mask\.(png|tiff?)$", re.IGNORECASE)


@dataclass
class TrainingData:
    train: WindowDataset
    val: Optional[GridDataset]
    normalizer: Normalizer
    in_channels: int
    summary: str


def deepglobe_pairs(folder: str | Path) -> dict[str, tuple[Path, Path]]:
    """``{id: (sat, mask)}`` for a DeepGlobe folder; unpaired files are an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: DeepGlobe folder not found")
    sats, masks = {}, {}
    for p in sorted(folder.iterdir()):
        if (m := SAT_RE.match(p.name)) is not None:
            sats[m["id"]] = p
        elif (m := MASK_RE.match(p.name)) is not None:
            masks[m["id"]] = p
    if not sats:
        raise DataError(f"{folder}: no '<id>_sat.jpg' or '<id>_sat.png' images in the folder")
    lonely = [sats[i].name for i in sats if i not in masks]
    lonely += [masks[i].name for i in masks if i not in sats]
    if lonely:
        shown = ", ".join(lonely[:5]) + (f" and {len(lonely) - 5} more" if len(lonely) > 5 else "")
        raise DataError(f"{folder}: unpaired files (each <id>_sat needs an <id>_mask.png): {shown}")
    return {i: (sats[i], masks[i]) for i in sats}


def _scene_sources(
    scenes: Sequence[str], masks: Sequence[str], labels: Sequence[str], data: DataConfig, what: str
) -> list[Source]:
    if masks and len(masks) != len(scenes):
        raise DataError(f"data.{what}: {len(scenes)} scene(s) but {len(masks)} mask(s)")
    if labels and len(labels) not in (1, len(scenes)):
        raise DataError(
            f"data.{what}: {len(scenes)} scene(s) but {len(labels)} label file(s) (give one per "
            "scene or one for all)"
        )
    if not masks and not labels:
        raise DataError(
            f"data.{what}: each scene needs a mask raster (masks) or vector road lines (labels)"
        )
    out: list[Source] = []
    for i, scene in enumerate(scenes):
        if masks:
            out.append(RasterScene(scene, mask=masks[i], bands=data.bands))
        else:
            lab = labels[i] if len(labels) > 1 else labels[0]
            out.append(
                RasterScene(scene, labels=lab, bands=data.bands, label_width_m=data.label_width_m)
            )
    return out


def _split_scenes(data: DataConfig) -> tuple[list[Source], list[Source]]:
    train = _scene_sources(data.scenes, data.masks, data.labels, data, "scenes")
    if data.val_scenes:
        val = _scene_sources(data.val_scenes, data.val_masks, data.val_labels, data, "val_scenes")
        return train, val
    if data.val_fraction <= 0:
        return train, []
    if len(train) >= 2 and data.val_split == "scenes":
        n_val = min(len(train) - 1, max(1, round(len(train) * data.val_fraction)))
        return train[:-n_val], train[-n_val:]
    fit: list[Source] = []
    strips: list[Source] = []
    for scene in train:
        val_rows = max(1, round(scene.height * data.val_fraction))
        if scene.height - val_rows < 1:
            raise DataError(f"{scene.path}: too small to split into training and validation rows")
        fit.append(Region(scene, 0, scene.height - val_rows, "train"))
        strips.append(Region(scene, scene.height - val_rows, val_rows, "val"))
    return fit, strips


def _split_deepglobe(folder: str, data: DataConfig, seed: int) -> tuple[list[Source], list[Source]]:
    pairs = deepglobe_pairs(folder)
    ids = sorted(pairs)
    if data.val_scenes:
        wanted = {SAT_RE.sub(r"\g<id>", Path(v).name) for v in data.val_scenes}
        missing = sorted(wanted - set(ids))
        if missing:
            raise DataError(
                f"{folder}: validation tiles not in the folder: " + ", ".join(missing[:5])
            )
        val_ids = wanted
    elif data.val_fraction > 0 and len(ids) >= 2:
        n_val = min(len(ids) - 1, max(1, round(len(ids) * data.val_fraction)))
        order = np.random.default_rng(seed).permutation(len(ids))
        val_ids = {ids[i] for i in order[:n_val]}
    else:
        val_ids = set()
    make = [(i, ImageTile(*pairs[i], bands=data.bands)) for i in ids]
    return [s for i, s in make if i not in val_ids], [s for i, s in make if i in val_ids]


def _band_stats(values: Sequence[float], count: int) -> tuple[float, ...]:
    values = [float(v) for v in values]
    if len(values) == count:
        return tuple(values)
    return (float(np.mean(values)),) * count  # e.g. an RGB backbone on a panchromatic band


def fit_normalizer(
    sources: Sequence[Source],
    mean: Sequence[float],
    std: Sequence[float],
    percentiles: tuple[float, float] = (2.0, 98.0),
) -> Normalizer:
    """uint8 data: 0..255; other types: per-band percentiles of the training data."""
    dtypes = {s.dtype for s in sources}
    if len(dtypes) > 1:
        raise DataError(f"training images mix data types ({', '.join(sorted(dtypes))})")
    count = sources[0].count
    mean, std = _band_stats(mean, count), _band_stats(std, count)
    (dtype,) = dtypes
    if dtype == "uint8":
        return Normalizer.for_dtype(dtype, list(mean), list(std))
    samples = []
    for s in sources[:16]:
        px = s.sample_pixels().reshape(count, -1).astype("float64")
        nodata = getattr(getattr(s, "source", s), "nodata", None)
        if nodata is not None:
            px = px[:, ~np.all(px == nodata, axis=0)]
        samples.append(px)
    px = np.concatenate(samples, axis=1)
    if px.size == 0:
        raise DataError(f"{sources[0].name}: no valid pixels to measure the value range")
    low, high = np.nanpercentile(px, percentiles, axis=1)
    high = np.maximum(high, low + 1e-6)
    return Normalizer(tuple(map(float, low)), tuple(map(float, high)), mean, std)


def build_datasets(
    data: DataConfig,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    seed: int = 0,
    augment: bool | str = True,
) -> TrainingData:
    """Training and validation datasets plus the normaliser fitted on training data.

    `augment`: ``train.augment`` — true (D-LinkNet's augmentation), ``"flips"`` or false.
    """
    if data.deepglobe:
        if data.scenes:
            raise DataError("data: give either data.scenes or data.deepglobe, not both")
        train, val = _split_deepglobe(data.deepglobe, data, seed)
        length = None  # every tile once per epoch
    elif data.scenes:
        train, val = _split_scenes(data)
        length = data.samples_per_epoch
    else:
        raise DataError(
            "no training data: set data.scenes (with masks or labels) "
            "or data.deepglobe (a DeepGlobe folder)"
        )
    if not train:
        raise DataError("no training images are left after the validation split")
    counts = {s.count for s in train + val}
    if len(counts) > 1:
        raise DataError(f"images have different band counts ({sorted(counts)}); set data.bands")
    normalizer = fit_normalizer(train, mean, std)
    train_ds = WindowDataset(
        train,
        data.tile,
        normalizer,
        length=length,
        road_weight=data.road_weight,
        seed=seed,
        augment=Augment.from_setting(augment),
    )
    val_ds = GridDataset(val, data.tile, normalizer) if val else None
    summary = (
        f"{len(train)} training and {len(val)} validation image(s), "
        f"{len(train_ds)} training windows/epoch, "
        f"{len(val_ds) if val_ds else 0} validation tiles"
    )
    return TrainingData(train_ds, val_ds, normalizer, train[0].count, summary)
