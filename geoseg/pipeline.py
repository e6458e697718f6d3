"""One scene, end to end: :func:`map_scene` predicts, writes, vectorizes and summarises it.

This is the one per-scene pipeline; ``geoseg predict``, the demo, ``geoseg compare`` and
every scene of a batch run through it::

    scene.tif ─► predict_scene ─► <name>_prob.tif, <name>_mask.tif (+ preview)
              ─► vectorize_mask ─► road layer(s) (.gpkg/.shp/.geojson) ─► SceneResult

Every output goes through :mod:`geoseg.io.files` (temporary name, verified, renamed) and
the scene's outputs form one output set: rasters, preview and road layers appear together
or not at all.  The road length is summarised once (:func:`geoseg.io.vector.road_length`): ground
kilometres from ``length_m`` on a georeferenced grid, pixels without a CRS (never
labelled as metres).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geoseg.errors import ConfigError, ParameterError, naming
from geoseg.inference.outputs import parse_outputs
from geoseg.io.files import output_set, readable_path
from geoseg.io.vector import RoadLength, clean_lines, driver_for, road_length, write_roads
from geoseg.predict import PredictResult, predict_scene
from geoseg.progress import phase
from geoseg.vectorize import vectorize_mask

#: predict step: (scene, output folder) -> a PredictResult, or (mask path, prob path or None)
Predictor = Callable[[Path, Path], "PredictResult | tuple[Path, Path | None]"]
#: vectorize step: (mask path, prob path or None) -> GeoDataFrame of road centrelines
Vectorizer = Callable[[Path, "Path | None"], Any]

#: share of a command's progress the prediction fills when the scene is also vectorized
PREDICT_SHARE = 0.9


@dataclass(frozen=True)
class SceneResult:
    """What :func:`map_scene` wrote and measured for one scene."""

    scene: Path
    prob_path: Path | None
    mask_path: Path | None
    preview_path: Path | None
    roads_paths: tuple[Path, ...]  # every road layer written (none when not vectorized)
    n_roads: int
    road_length: RoadLength | None  # None when not vectorized
    #: wall seconds: ``predict``, ``vectorize`` (with the layers' writes), ``total``
    seconds: dict[str, float] = field(default_factory=dict)
    #: the prediction's own report (tiles, MP/s, stages); None with a custom predictor
    prediction: PredictResult | None = None
    roads: Any = None  # the road GeoDataFrame (None when not vectorized)

    @property
    def roads_path(self) -> Path | None:
        return self.roads_paths[0] if self.roads_paths else None

    @property
    def outputs(self) -> dict[str, Path]:
        """Every output written, by kind (``prob``, ``mask``, ``preview``, ``roads``, and
        ``roads_2``... for further layers)."""
        out = {
            k: p
            for k, p in (
                ("prob", self.prob_path),
                ("mask", self.mask_path),
                ("preview", self.preview_path),
            )
            if p is not None
        }
        for i, path in enumerate(self.roads_paths):
            out["roads" if i == 0 else f"roads_{i + 1}"] = path
        return out


def predict_step(model: Any, **options: Any) -> Callable[[Path, Path], PredictResult]:
    """The default predict step: :func:`geoseg.predict.predict_scene` with `model` and
    `options` (tile, overlap, tta, threshold, bands, outputs, preview...)."""

    def run(scene: Path, out_dir: Path) -> PredictResult:
        return predict_scene(scene, model, out_dir, **options)

    return run


def vectorize_step(**options: Any) -> Vectorizer:
    """The default vectorize step: :func:`geoseg.vectorize.vectorize_mask` of the mask
    (with the probabilities for ``mean_prob``) and `options`."""

    def run(mask: Path, prob: Path | None) -> Any:
        return vectorize_mask(mask, prob, **options)

    return run


def _as_paths(roads: str | Path | Sequence[str | Path] | None) -> tuple[Path, ...]:
    if roads is None:
        return ()
    if isinstance(roads, (str, Path)):
        return (Path(roads),)
    return tuple(Path(p) for p in roads)


def _check_no_predict_options(model: Any, predict_options: Mapping[str, Any]) -> None:
    """A custom predictor takes (scene, out_dir) only: a model or predict options given
    beside it would not reach it, so they are an error rather than silently dropped."""
    names = (["model"] if model is not None else []) + list(predict_options)
    if names:
        listed = ", ".join(names)
        raise naming(
            ParameterError(
                f"{listed} {'is' if len(names) == 1 else 'are'} not used with a custom "
                "predictor (it owns its settings): give "
                f"{'it' if len(names) == 1 else 'them'} to the predictor, e.g. "
                "predictor=geoseg.pipeline.predict_step(model, tile=...), or pass no predictor",
                param=names[0],
            ),
            *names,
        )


def map_scene(
    scene: str | Path,
    model: Any = None,
    out_dir: str | Path = ".",
    *,
    roads: str | Path | Sequence[str | Path] | None = None,
    style: bool = True,
    vectorize_options: Mapping[str, Any] | None = None,
    predictor: Predictor | None = None,
    vectorizer: Vectorizer | None = None,
    progress: bool | None = None,
    phases: bool = False,
    **predict_options: Any,
) -> SceneResult:
    """Predict `scene` with `model` into `out_dir`, vectorize the mask into `roads` and
    summarise (lines, road length, timings).

    `predict_options` go to :func:`geoseg.predict.predict_scene` (tile, overlap, tta,
    threshold, bands, outputs, preview, prob_out...).  `roads`: one road layer path or
    several (each written with :func:`geoseg.io.vector.write_roads`, QGIS style with
    `style`); none: the scene is not vectorized.  `vectorize_options` go to
    :func:`geoseg.vectorize.vectorize_mask`.  `predictor` / `vectorizer` replace those two
    steps (a batch's injected steps; a custom vectorizer is given paths it can open now,
    as the scene's outputs are staged until all are written).  A custom predictor owns
    its settings: `model` or `predict_options` given with one are refused
    (:class:`~geoseg.errors.ParameterError` naming them), not silently ignored; build
    the step with them, e.g. ``predictor=predict_step(model, tile=1024)``.
    `progress`: the tile bar (None: on a terminal only) and the vectorize bar (unless
    `vectorize_options` say).
    `phases`: for a command whose whole work is this scene, its ``--progress json``
    fraction is split between prediction (90 %) and vectorization.

    The rasters, preview and road layers are one output set: they appear together once
    all are written and verified, or none of them does.
    """
    scene = Path(scene)
    out_dir = Path(out_dir)
    layers = _as_paths(roads)
    for layer in layers:
        driver_for(layer)  # an unknown format fails now, not after the prediction
    if layers and "mask" not in parse_outputs(predict_options.get("outputs", "prob,mask")):
        raise ConfigError("road lines are traced from the mask: add mask to the outputs")
    if predictor is not None:
        _check_no_predict_options(model, predict_options)
    else:
        if model is None:
            raise ConfigError("map_scene needs a model (checkpoint) or a predictor")
        predictor = predict_step(model, progress=progress, **predict_options)
    custom_vectorizer = vectorizer is not None
    if vectorizer is None:
        vectorizer = vectorize_step(
            **{"progress": progress is not False, **(vectorize_options or {})}
        )
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    gdf = None
    with output_set():  # rasters, preview and roads appear together, or none of them
        if phases and layers:
            phase(0.0, PREDICT_SHARE)
        predicted = predictor(scene, out_dir)
        seconds["predict"] = time.perf_counter() - start
        if isinstance(predicted, PredictResult):
            prediction: PredictResult | None = predicted
            mask, prob, preview = predicted.mask_path, predicted.prob_path, predicted.preview_path
        else:
            prediction, preview = None, None
            mask, prob = Path(predicted[0]), (Path(predicted[1]) if predicted[1] else None)
        if layers:
            if mask is None:
                raise ConfigError(f"{scene}: the predictor wrote no mask to vectorize")
            if phases:
                phase(PREDICT_SHARE, 1.0, "vectorize")
            t0 = time.perf_counter()
            if custom_vectorizer:
                lines = vectorizer(readable_path(mask), readable_path(prob) if prob else None)
            else:
                lines = vectorizer(mask, prob)
            gdf = clean_lines(lines)  # what write_roads keeps: the summary is the layer's
            for layer in layers:
                write_roads(gdf, layer, style=style)
            seconds["vectorize"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - start
    return SceneResult(
        scene=scene,
        prob_path=prob,
        mask_path=mask,
        preview_path=preview,
        roads_paths=layers,
        n_roads=int(len(gdf)) if gdf is not None else 0,
        road_length=road_length(gdf) if gdf is not None else None,
        seconds=seconds,
        prediction=prediction,
        roads=gdf,
    )
