"""The end-to-end demo behind ``make demo`` / ``geoseg demo``.

On the bundled sample scenes (``sample_data/``, regenerated when absent): train the small
``configs/demo.yaml`` model on the training scenes, predict the held-out scene, score
the mask (IoU, F1) against its ground truth, vectorize it into QGIS-ready centerlines
(Shapefile + GeoPackage) and score those against the true centerlines with APLS.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rasterio

from geoseg.config import RunConfig, load_config
from geoseg.errors import DataError
from geoseg.evaluate import evaluate_pair
from geoseg.inference.outputs import output_paths
from geoseg.io.files import claim_outputs, ensure_writable_dir
from geoseg.io.lock import FolderLock
from geoseg.io.vector import read_roads
from geoseg.metrics.apls import apls
from geoseg.pipeline import RoadLength, map_scene, road_length
from geoseg.sample_data import make_sample_set
from geoseg.train import train_model
from geoseg.train.api import run_outputs

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
TRAIN_SCENES = ("train_1", "train_2", "train_3")
HOLDOUT = "holdout"


@dataclass
class DemoResult:
    checkpoint: Path
    prob_path: Path
    mask_path: Path
    roads_shp: Path
    roads_gpkg: Path
    preview_path: Path | None
    scores: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    scene: dict[str, Any] = field(default_factory=dict)  # the held-out scene's grid
    road_length: RoadLength | None = None  # of the predicted centerlines

    def scene_header(self) -> str:
        """'held-out scene 'holdout' (700 x 900 px, 0.5 m, EPSG:32633)', read from the file."""
        g = self.scene
        return (
            f"held-out scene {g['name']!r} ({g['height']} x {g['width']} px, "
            f"{g['res']:g} m, {g['crs']})"
        )


def scene_grid(path: Path) -> dict[str, Any]:
    """Name, size, pixel size and CRS of a scene, for the demo's header."""
    with rasterio.open(path) as src:
        crs = src.crs.to_string() if src.crs else "no CRS"
        return {
            "name": path.stem,
            "width": src.width,
            "height": src.height,
            "res": float(src.res[0]),
            "crs": crs,
        }


def sample_folder(out_dir: Path, sample_dir: str | Path | None = None) -> Path:
    """The bundled sample set, or a freshly generated one under `out_dir`."""
    candidates = [Path(sample_dir)] if sample_dir else [REPO / "sample_data"]
    for folder in candidates:
        if all((folder / f"{n}.tif").is_file() for n in (*TRAIN_SCENES, HOLDOUT)):
            return folder
    if sample_dir:
        raise DataError(f"{sample_dir}: not a geoseg sample folder (run geoseg sample-data)")
    folder = out_dir / "sample_data"
    log.info("bundled sample data not found; generating it in %s", folder)
    make_sample_set(folder)
    return folder


def demo_config(config: str | Path, sample: Path, epochs: int | None = None) -> RunConfig:
    """`config` with the sample scenes filled in as training / validation data."""
    cfg = load_config(config)
    cfg.data.scenes = [str(sample / f"{n}.tif") for n in TRAIN_SCENES]
    cfg.data.masks = [str(sample / f"{n}_mask.tif") for n in TRAIN_SCENES]
    if epochs is not None:
        cfg.train.epochs = epochs
    return cfg


def run_demo(
    out_dir: str | Path,
    *,
    config: str | Path | None = None,
    sample_dir: str | Path | None = None,
    epochs: int | None = None,
    device: str = "auto",
) -> DemoResult:
    """Train, predict, score and vectorize on the sample data; outputs under `out_dir`."""
    # every output is checked before the sample set is made or training starts: a user's
    # file at predict/holdout_prob.tif is refused now, not after training
    claim_outputs(demo_outputs(Path(out_dir)))
    out = ensure_writable_dir(out_dir)
    with FolderLock(out, "demo"):  # one demo writes a folder at a time
        return _run_demo(out, config, sample_dir, epochs, device)


def demo_outputs(out: Path) -> dict[str | Path, str | None]:
    """The demo's outputs below `out` (path -> product kind), but for the sample set
    (checked as it is written, first) and the timestamped checkpoint."""
    claims = run_outputs(None, out / "train")
    claims.update(output_paths(f"{HOLDOUT}.tif", out / "predict", preview=True).claims())
    for path in roads_paths(out):
        claims[path] = "roads"
    return claims


def roads_paths(out: Path) -> tuple[Path, Path]:
    """The held-out scene's centrelines: Shapefile and GeoPackage under out/roads."""
    return (out / "roads" / f"{HOLDOUT}_roads.shp", out / "roads" / f"{HOLDOUT}_roads.gpkg")


def _run_demo(
    out: Path,
    config: str | Path | None,
    sample_dir: str | Path | None,
    epochs: int | None,
    device: str,
) -> DemoResult:
    sample = sample_folder(out, sample_dir)
    cfg = demo_config(config or "demo", sample, epochs)  # the shipped configs/demo.yaml
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    trained = train_model(cfg, models_dir=out / "models", out_dir=out / "train", device=device)
    seconds["train"] = time.perf_counter() - t0

    mapped = map_scene(
        sample / f"{HOLDOUT}.tif",
        trained.checkpoint_path,
        out / "predict",
        roads=roads_paths(out),
        tile=cfg.predict.tile,
        overlap=cfg.predict.overlap,
        batch_size=cfg.predict.batch_size,
        tta=cfg.predict.tta,
        device=device,
        preview=True,
    )
    seconds["predict"] = mapped.seconds["predict"]
    seconds["vectorize"] = mapped.seconds["vectorize"]
    length = mapped.road_length or road_length(None)

    truth_mask = sample / f"{HOLDOUT}_mask.tif"
    pixel = evaluate_pair(mapped.mask_path, truth_mask).scores
    topo = apls(read_roads(sample / f"{HOLDOUT}_roads.gpkg"), mapped.roads)
    scores = {
        "iou": pixel["iou"],
        "f1": pixel["f1"],
        "precision": pixel["precision"],
        "recall": pixel["recall"],
        "relaxed_f1": pixel["relaxed_f1"],
        "apls": topo.apls,
        "junction_f1": topo.junction_f1,
        "road_km": length.km or 0.0,
        "lines": mapped.n_roads,
        "val_iou": trained.best_metrics.get("val_iou"),
    }
    shp, gpkg = mapped.roads_paths
    return DemoResult(
        trained.checkpoint_path,
        mapped.prob_path,
        mapped.mask_path,
        shp,
        gpkg,
        mapped.preview_path,
        scores,
        seconds,
        scene_grid(sample / f"{HOLDOUT}.tif"),
        length,
    )
