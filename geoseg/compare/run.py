"""Train (or take) several models, predict the same held-out images, score them alike.

For every config: the model is trained on the split's training images
(:func:`geoseg.train.train_model`) unless a checkpoint of the same architecture and
backbone is given; then every held-out image is predicted with
:func:`geoseg.predict_scene` (the config's ``predict`` tile/overlap/batch/TTA/threshold,
else the checkpoint's: :mod:`geoseg.inference.settings`), the predicted mask is scored
against the truth mask with
:func:`geoseg.evaluate.evaluate_pairs` (accumulated and per-image mean IoU, F1 …),
vectorized with :func:`geoseg.vectorize_mask` and scored with APLS against the data's
centrelines — or, where the data has none, against the truth mask vectorized the same
way.  Inference speed is megapixels of held-out imagery per second of ``predict_scene``
(reading, forward passes, stitching and writing; on CUDA after one untimed warm-up
batch).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import rasterio
import torch

from geoseg import train
from geoseg.checkpoint import load_checkpoint
from geoseg.compare.records import (
    REFERENCE_CENTRELINES,
    REFERENCE_VECTORIZED,
    Comparison,
    ModelRun,
)
from geoseg.compare.split import DataSplit, Sample, split_data
from geoseg.compare.table import write_outputs
from geoseg.config import RunConfig, config_from_dict, load_config
from geoseg.device import resolve_device
from geoseg.errors import CheckpointError, ConfigError
from geoseg.evaluate import evaluate_pairs, write_csv
from geoseg.inference.predictor import TilePredictor
from geoseg.inference.settings import resolve_settings
from geoseg.io.files import ensure_writable_dir
from geoseg.io.vector import write_roads
from geoseg.metrics.inputs import binarize
from geoseg.models.registry import count_parameters
from geoseg.models.weights import parse_encoder_weights
from geoseg.pipeline import map_scene
from geoseg.predict import load_model
from geoseg.vectorize import vectorize_mask

log = logging.getLogger(__name__)

__all__ = [
    "REFERENCE_CENTRELINES",
    "REFERENCE_VECTORIZED",
    "Comparison",
    "ModelRun",
    "compare_models",
    "match_checkpoints",
    "predict_and_score",
    "reference_roads",
]


def _unique_names(paths: Sequence[Path]) -> list[str]:
    names, seen = [], {}
    for p in paths:
        stem = p.stem
        seen[stem] = seen.get(stem, 0) + 1
        names.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return names


def _run_config(
    path: Path, split: DataSplit, epochs: Optional[int], encoder_weights: Optional[str] = None
) -> RunConfig:
    """The config with the split's training images (and `epochs` and `encoder_weights`
    — ``none``, ``imagenet`` or a file — when given)."""
    cfg = load_config(path)
    merged = cfg.to_dict()
    merged["data"].update(split.data_overrides())
    if epochs is not None:
        merged["train"]["epochs"] = epochs
    if encoder_weights is not None:
        merged["model"]["encoder_weights"] = parse_encoder_weights(encoder_weights)
    return config_from_dict(merged, f"{path} (+ compare data/epochs)")


def match_checkpoints(
    configs: Sequence[RunConfig], checkpoints: Sequence[str | Path]
) -> dict[int, dict[str, Any]]:
    """Config index → loaded checkpoint: each checkpoint goes to the first config (in
    order) of the same architecture and backbone that has none yet."""
    taken: dict[int, dict[str, Any]] = {}
    for path in checkpoints:
        ckpt = load_checkpoint(path)
        key = (ckpt.arch, ckpt.backbone)
        free = [
            i
            for i, c in enumerate(configs)
            if (c.model.arch, c.model.backbone) == key and i not in taken
        ]
        if not free:
            have = ", ".join(sorted({f"{c.model.arch}/{c.model.backbone}" for c in configs}))
            raise CheckpointError(
                f"{path}: a {key[0]}/{key[1]} checkpoint matches no config left (configs: {have})"
            )
        taken[free[0]] = ckpt
    return taken


def reference_roads(sample: Sample, ref_dir: Path) -> tuple[Path, str]:
    """Truth centrelines of a held-out image: its vector file, else its mask vectorized."""
    if sample.roads is not None:
        return sample.roads, REFERENCE_CENTRELINES
    with rasterio.open(sample.mask) as src:  # band 1: DeepGlobe masks are 3-band PNGs
        mask = binarize(src.read(1), None).astype("uint8")
        roads = vectorize_mask(mask, transform=src.transform, crs=src.crs, progress=False)
    path = write_roads(roads, ref_dir / f"{sample.name}_roads.gpkg", style=False)
    return path, REFERENCE_VECTORIZED


def device_label(device) -> str:
    """A torch device as the table names it: the GPU model, or the CPU thread count."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return f"{device.type} ({torch.get_num_threads()} threads)"


def _warm_up(loaded, device, tile: int, batch_size: int, tta: str) -> None:
    """One untimed batch on CUDA, so lazy CUDA/cuDNN set-up is not billed to the first
    image (a CPU has no such set-up worth a batch)."""
    if device.type != "cuda":
        return
    channels = loaded.in_channels or loaded.normalizer.bands
    TilePredictor(loaded.module, device, tta=tta)(
        np.zeros((batch_size, channels, tile, tile), np.float32)
    )


def predict_and_score(
    run: ModelRun,
    test: Sequence[Sample],
    references: dict[str, Path],
    out_dir: Path,
    device: str = "auto",
    progress: bool = True,
) -> None:
    """Predict every held-out image with `run`'s checkpoint, vectorize and score (fills
    `run.params`, `run.report`, `run.megapixels`, `run.seconds`)."""
    ckpt = load_checkpoint(run.checkpoint)
    loaded = load_model(ckpt)  # built once, reused for every image
    run.params = count_parameters(loaded.module)
    p = run.config.predict
    # the config's predict settings > the checkpoint's > TileGrid's / built-in defaults
    s = resolve_settings(ckpt, tile=p.tile, overlap=p.overlap, tta=p.tta, threshold=p.threshold)
    _warm_up(loaded, resolve_device(device), s.tile, p.batch_size, s.tta)
    pixel_pairs, graph_pairs = [], []
    run.megapixels = run.seconds = 0.0
    for sample in test:
        mapped = map_scene(
            sample.image,
            loaded.module,
            out_dir,
            roads=out_dir / f"{sample.image.stem}_roads.gpkg",
            style=False,
            vectorize_options={"progress": False},
            progress=progress,
            tile=s.tile,
            overlap=s.overlap,
            batch_size=p.batch_size,
            tta=s.tta,
            device=device,
            threshold=s.threshold,
            bands=s.bands,
            normalizer=loaded.normalizer,
        )
        res = mapped.prediction
        assert res is not None  # predict_scene's report (the default predictor)
        run.seconds += res.seconds  # predict_scene's own time: reading, forward, writing
        run.megapixels += res.megapixels_per_s * res.seconds
        pixel_pairs.append((mapped.mask_path, sample.mask))
        graph_pairs.append((mapped.roads_path, references[sample.name]))
    report = evaluate_pairs(pixel_pairs)
    report.pairs += evaluate_pairs(graph_pairs).pairs
    write_csv(report, out_dir / "scores.csv")
    run.report = report


def compare_models(
    configs: Sequence[str | Path],
    data: str | Path,
    *,
    checkpoints: Sequence[str | Path] = (),
    out_dir: str | Path = "compare",
    epochs: Optional[int] = None,
    holdout: Sequence[str] = (),
    device: str = "auto",
    progress: bool = True,
    encoder_weights: Optional[str] = None,
) -> Comparison:
    """Compare the models of `configs` on one split of `data`; write the table files.

    Each config is trained on the split's training images (checkpoints into
    ``out_dir/models/<config>``, run logs into ``out_dir/runs/<config>``) unless one of
    `checkpoints` has its architecture and backbone.  Predictions, vectorized roads and
    per-image scores go to ``out_dir/predictions/<config>``; the table to
    ``out_dir/table.md``, ``table.csv`` and ``chart.png``.
    """
    if not configs:
        raise ConfigError("give at least one config to compare")
    if epochs is not None and epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {epochs}")
    timed_on = device_label(resolve_device(device))
    paths = [Path(c) for c in configs]
    loaded_cfgs = [load_config(p) for p in paths]  # bad configs fail before any work
    given = match_checkpoints(loaded_cfgs, checkpoints)
    split = split_data(data, holdout)
    out = ensure_writable_dir(out_dir)
    ref_dir = out / "reference"
    references: dict[str, Path] = {}
    kinds: dict[str, str] = {}
    for sample in split.test:
        references[sample.name], kinds[sample.name] = reference_roads(sample, ref_dir)

    runs = []
    for i, (name, path) in enumerate(zip(_unique_names(paths), paths)):
        cfg = _run_config(path, split, epochs, encoder_weights)
        if i in given:
            run = ModelRun(name, path, cfg, Path(given[i].where), trained=False)
            log.info("%s: using checkpoint %s", name, run.checkpoint)
        else:
            log.info(
                "%s: training %s/%s on %d image(s)",
                name,
                cfg.model.arch,
                cfg.model.backbone,
                len(split.train),
            )
            result = train.train_model(
                cfg, models_dir=out / "models" / name, out_dir=out / "runs" / name, device=device
            )
            run = ModelRun(name, path, cfg, Path(result.checkpoint_path), trained=True)
        predict_and_score(run, split.test, references, out / "predictions" / name, device, progress)
        runs.append(run)
    comparison = Comparison(split, runs, kinds, out, timed_on)
    comparison.outputs = write_outputs(comparison)
    return comparison
