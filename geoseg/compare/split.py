"""The data split every model of a comparison shares: training images and held-out images.

Two folder layouts (the same two ``geoseg train`` reads):

- **scenes**: ``<name>.tif`` + ``<name>_mask.tif`` (+ optional ``<name>_roads.gpkg`` /
  ``.geojson`` / ``.shp`` centrelines), as ``geoseg sample-data`` writes them;
- **DeepGlobe**: ``<id>_sat.jpg|png`` + ``<id>_mask.png``.

Held-out images: the names given (`holdout`), else the roles of a ``manifest.json``
(``geoseg sample-data``'s: scenes of role ``train`` train, every other scene with the
same band count and data type is held out, the rest is left out), else the last
``test_fraction`` of the images by name (at least one, and at least one left to train
on).  Held-out images never reach training: the
training config lists only the training images, and training carves its own validation
part from them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import rasterio

from geoseg.data.build import deepglobe_pairs
from geoseg.errors import DataError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".tif", ".tiff")
ROAD_SUFFIXES = (".gpkg", ".geojson", ".shp")


@dataclass(frozen=True)
class Sample:
    """One image with its truth: a mask raster and, when the data has them, centrelines."""

    name: str
    image: Path
    mask: Path
    roads: Optional[Path] = None


@dataclass(frozen=True)
class DataSplit:
    root: Path
    layout: str  # "scenes" or "deepglobe"
    train: tuple[Sample, ...]
    test: tuple[Sample, ...]
    rule: str  # how the held-out images were chosen, for the report

    def data_overrides(self) -> dict[str, Any]:
        """``data`` config keys that make training read exactly the training images.

        DeepGlobe tiles are listed as scenes too (so the held-out ones stay out), with as
        many windows per epoch as tiles: the epoch length ``geoseg train --data-dir`` has.
        """
        data: dict[str, Any] = {
            "scenes": [str(s.image) for s in self.train],
            "masks": [str(s.mask) for s in self.train],
            "labels": [],
            "deepglobe": None,
            "val_scenes": [],
            "val_masks": [],
            "val_labels": [],
        }
        if self.layout == "deepglobe":
            data["samples_per_epoch"] = len(self.train)
        return data


def _scene_samples(folder: Path) -> list[Sample]:
    samples = []
    for image in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        stem = image.stem
        if stem.startswith(".") or stem.lower().endswith("_mask"):
            continue
        mask = next(
            (
                image.with_name(f"{stem}_mask{s}")
                for s in IMAGE_SUFFIXES
                if image.with_name(f"{stem}_mask{s}").is_file()
            ),
            None,
        )
        if mask is None:
            raise DataError(f"{image}: no mask beside it (expected {stem}_mask.tif)")
        roads = next(
            (
                image.with_name(f"{stem}_roads{s}")
                for s in ROAD_SUFFIXES
                if image.with_name(f"{stem}_roads{s}").is_file()
            ),
            None,
        )
        samples.append(Sample(stem, image, mask, roads))
    return samples


def find_samples(folder: str | Path) -> tuple[str, list[Sample]]:
    """The layout of `folder` and its images with their truths, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: data folder not found")
    if any(p.name.lower().rsplit(".", 1)[0].endswith("_sat") for p in folder.iterdir()):
        pairs = deepglobe_pairs(folder)
        return "deepglobe", [Sample(i, s, m) for i, (s, m) in sorted(pairs.items())]
    samples = _scene_samples(folder)
    if not samples:
        raise DataError(
            f"{folder}: no <name>.tif + <name>_mask.tif scenes and no DeepGlobe "
            "<id>_sat.jpg + <id>_mask.png tiles in the folder"
        )
    return "scenes", samples


def _manifest_roles(folder: Path) -> dict[str, str]:
    path = folder / "manifest.json"
    if not path.is_file():
        return {}
    try:
        scenes = json.loads(path.read_text(encoding="utf-8")).get("scenes", [])
        return {str(s["name"]): str(s.get("role", "")) for s in scenes}
    except (ValueError, AttributeError, KeyError, TypeError, OSError):
        log.warning("%s: unreadable manifest, ignored", path)
        return {}


def _band_layout(path: Path) -> tuple[int, str]:
    """(band count, data type) of a raster."""
    with rasterio.open(path) as src:
        return src.count, src.dtypes[0]


def _check_bands(samples: Sequence[Sample]) -> None:
    """All scenes must feed the same model: same band count and data type."""
    first = None
    for s in samples:
        kind = _band_layout(s.image)
        if first is None:
            first = (s, kind)
        elif kind != first[1]:
            raise DataError(
                f"{s.image}: {kind[0]} band(s) of {kind[1]} but {first[0].image.name} has "
                f"{first[1][0]} of {first[1][1]}; one model cannot read both (move one out "
                "of the folder)"
            )


def split_data(
    folder: str | Path, holdout: Sequence[str] = (), test_fraction: float = 0.2
) -> DataSplit:
    """Split `folder` into training and held-out images (see the module doc)."""
    folder = Path(folder)
    layout, samples = find_samples(folder)
    by_name = {s.name: s for s in samples}
    roles = _manifest_roles(folder) if layout == "scenes" else {}
    if holdout:
        names = [Path(h).name for h in holdout]
        names = [n if n in by_name else n.split(".")[0].removesuffix("_sat") for n in names]
        missing = [n for n in names if n not in by_name]
        if missing:
            raise DataError(
                f"{folder}: held-out image(s) not in the folder: " + ", ".join(missing[:5])
            )
        test = [by_name[n] for n in dict.fromkeys(names)]
        train = [s for s in samples if s not in test]
        rule = "held-out images chosen with --holdout"
    elif any(roles.get(s.name) == "train" for s in samples):
        train = [s for s in samples if roles.get(s.name) == "train"]
        bands = _band_layout(train[0].image)
        test = [s for s in samples if s not in train and _band_layout(s.image) == bands]
        left = [s.name for s in samples if s not in train and s not in test]
        rule = "manifest.json: its train scenes train, the others are held out"
        if left:
            log.info(
                "%s: left out (bands unlike the training scenes'): %s", folder, ", ".join(left)
            )
            rule += f"; left out for their bands: {', '.join(left)}"
    else:
        if len(samples) < 2:
            raise DataError(
                f"{folder}: one image only; a comparison needs images to train on "
                "and at least one held-out image"
            )
        n_test = min(len(samples) - 1, max(1, round(len(samples) * test_fraction)))
        train, test = samples[:-n_test], samples[-n_test:]
        rule = f"last {n_test} of {len(samples)} images by name held out"
    if not train:
        raise DataError(f"{folder}: no image is left to train on")
    if not test:
        raise DataError(f"{folder}: no held-out image to score")
    if layout == "scenes":
        _check_bands(train + test)
    return DataSplit(folder, layout, tuple(train), tuple(test), rule)
