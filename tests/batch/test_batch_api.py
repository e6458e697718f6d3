"""run_batch end to end: merged layer, AOI, resume, failures, mixed CRSs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import rasterio
from shapely.geometry import box

from geoseg.batch import run_batch
from geoseg.batch.merge import duplicated_length
from geoseg.errors import GeoSegError
from tests.batch.conftest import (
    X0,
    Y0,
    line_vectorizer,
    read_layer,
    reproject_scene,
    truth_predictor,
)

AOI = box(X0 + 20, Y0 - 140, X0 + 340, Y0 - 20)  # cuts scenes a and b, misses c and d


def test_aoi_merge_has_no_duplicates_and_nothing_outside(area, tmp_path):
    result = run_batch(
        area.scenes,
        tmp_path / "out",
        aoi=AOI,
        progress=False,
        predictor=truth_predictor(area.truth_dir),
    )  # real vectorize_mask
    assert result.ok and result.processed == 2
    status = {r["scene"]: r["status"] for r in result.scenes}
    assert status == {"a": "done", "b": "done", "c": "skipped", "d": "skipped"}
    roads = read_layer(result.roads_path)
    assert roads.crs == "EPSG:32633"
    assert roads.geometry.within(AOI.buffer(1e-6)).all()  # nothing outside the AOI
    assert duplicated_length(roads) < 3.0  # no road twice in the a|b overlap
    # each scene alone mapped the overlap's roads as well: the merge kept one copy
    expected = area.roads.geometry.intersection(AOI).length.sum()
    assert abs(roads.length.sum() - expected) < 0.06 * expected
    overlap = box(X0 + 160, Y0 - 200, X0 + 200, Y0)
    horizontal = roads[roads.intersects(overlap)]
    assert len(horizontal) == 1 and horizontal["scenes"].iloc[0] == "a,b"
    assert np.allclose(roads["length_m"], roads.length)
    # the merged layer is one connected network: every line end inside the AOI meets another
    ends = np.concatenate([roads["node_from"], roads["node_to"]])
    assert len(set(ends)) < len(ends)
    with open(result.area.summary_path, newline="") as fh:
        rows = {r["scene"]: r for r in csv.DictReader(fh)}
    assert rows["c"]["error"] == "outside the AOI"
    assert abs(sum(float(r["road_km"]) for r in rows.values()) * 1000 - roads.length.sum()) < 1
    assert float(rows["a"]["area_km2"]) == pytest.approx(0.04)
    assert result.area.overview_path.stat().st_size > 10_000


def _snapshot(path):
    roads = read_layer(path)
    return sorted((round(r.length_m, 6), r.scenes, r.geometry.wkt) for r in roads.itertuples())


def test_interrupted_run_resumes_to_the_same_result(area, tmp_path):
    vec = line_vectorizer(area.roads)
    whole = run_batch(
        area.scenes,
        tmp_path / "whole",
        predictor=truth_predictor(area.truth_dir),
        vectorizer=vec,
        progress=False,
    )
    out = tmp_path / "resumed"
    interrupting = truth_predictor(area.truth_dir, fail={3: KeyboardInterrupt()})
    with pytest.raises(KeyboardInterrupt):
        run_batch(area.scenes, out, predictor=interrupting, vectorizer=vec, progress=False)
    states = {p.stem: json.loads(p.read_text())["status"] for p in (out / "manifest").iterdir()}
    assert states == {"a": "done", "b": "done", "c": "running"}  # d never started
    assert not (out / "roads.gpkg").exists()
    assert not list((out / "scenes" / "c").iterdir())  # nothing half-written for c
    assert not [p for p in out.rglob("*partial*")]

    resumed = run_batch(
        area.scenes, out, predictor=truth_predictor(area.truth_dir), vectorizer=vec, progress=False
    )
    assert (resumed.processed, resumed.already_done) == (2, 2)
    assert _snapshot(resumed.roads_path) == _snapshot(whole.roads_path)
    assert len(_snapshot(whole.roads_path)) == 3  # three roads, each one line across scenes

    again = run_batch(
        area.scenes, out, predictor=truth_predictor(area.truth_dir), vectorizer=vec, progress=False
    )
    assert again.processed == 0 and _snapshot(again.roads_path) == _snapshot(whole.roads_path)
    forced = run_batch(
        area.scenes,
        out,
        predictor=truth_predictor(area.truth_dir),
        vectorizer=vec,
        progress=False,
        force=True,
    )
    assert forced.processed == 4
    assert {r["scene"]: r["attempts"] for r in forced.scenes} == {"a": 2, "b": 2, "c": 3, "d": 2}


def test_killed_run_leaves_nothing_that_looks_finished(area, tmp_path):
    """SIGKILL while scene c's mask is half written: no cleanup code runs, yet nothing
    looks finished, and the rerun completes to the uninterrupted result."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(repo / "tests" / "batch" / "kill_worker.py"),
            str(area.scenes[0].parent.parent),
            str(out),
            "c",
        ],
        env={**os.environ, "PYTHONPATH": str(repo)},
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while not list((out / "scenes" / "c").glob(".c_mask.partial-*")):
            assert proc.poll() is None and time.time() < deadline, "worker never reached c"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    states = {p.stem: json.loads(p.read_text())["status"] for p in (out / "manifest").iterdir()}
    assert states == {"a": "done", "b": "done", "c": "running"}
    assert [p.name for p in (out / "scenes" / "c").iterdir()][0].startswith(".c_mask.partial-")
    assert not (out / "scenes" / "c" / "c_mask.tif").exists()

    vec = line_vectorizer(area.roads)
    resumed = run_batch(
        area.scenes, out, predictor=truth_predictor(area.truth_dir), vectorizer=vec, progress=False
    )
    whole = run_batch(
        area.scenes,
        tmp_path / "whole",
        predictor=truth_predictor(area.truth_dir),
        vectorizer=vec,
        progress=False,
    )
    assert (resumed.processed, resumed.already_done) == (2, 2)
    assert _snapshot(resumed.roads_path) == _snapshot(whole.roads_path)
    assert not list(out.rglob(".*partial*"))  # the killed run's temporary file is gone


def test_failed_scenes_are_recorded_and_the_batch_goes_on(area, tmp_path):
    garbage = tmp_path / "garbage.tif"
    garbage.write_bytes(b"not a raster at all")
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(area.scenes[0].read_bytes()[:5000])
    boom = truth_predictor(area.truth_dir, fail={2: RuntimeError("CUDA out of memory")})
    result = run_batch(
        [*area.scenes, garbage, truncated],
        tmp_path / "out",
        predictor=boom,
        vectorizer=line_vectorizer(area.roads),
        progress=False,
    )
    failed = {r["scene"]: r["error"] for r in result.failed}
    assert set(failed) == {"b", "garbage", "truncated"}
    assert failed["b"] == "RuntimeError: CUDA out of memory"
    assert "garbage.tif" in failed["garbage"] and "truncated.tif" in failed["truncated"]
    assert result.n_done == 3 and not result.ok
    roads = read_layer(result.roads_path)
    assert set(",".join(roads["scenes"]).split(",")) == {"a", "c", "d"}
    with open(result.area.summary_path, newline="") as fh:
        rows = {r["scene"]: r for r in csv.DictReader(fh)}
    assert rows["b"]["status"] == "failed" and "out of memory" in rows["b"]["error"]
    # the rerun retries the failed scene (the others are finished)
    retry = run_batch(
        [*area.scenes, garbage, truncated],
        tmp_path / "out",
        predictor=truth_predictor(area.truth_dir),
        vectorizer=line_vectorizer(area.roads),
        progress=False,
    )
    assert retry.processed == 1 and {r["scene"] for r in retry.failed} == {"garbage", "truncated"}


def test_scenes_in_different_crs_merge_into_one_network(area, tmp_path):
    reproject_scene(area, "d", "EPSG:32634")  # rotated by ~3.5 degrees, nodata corners
    result = run_batch(
        area.scenes, tmp_path / "out", progress=False, predictor=truth_predictor(area.truth_dir)
    )  # real vectorize_mask
    assert result.ok
    roads = read_layer(result.roads_path)
    assert roads.crs == "EPSG:32633"
    assert duplicated_length(roads) < 6.0
    # the vertical road runs b -> d across the CRS border: one chain of connected lines
    truth = area.roads.geometry.iloc[1]
    along = roads[roads.within(truth.buffer(5))]
    assert abs(along.length.sum() - truth.length) < 0.05 * truth.length
    import networkx as nx

    graph = nx.Graph()
    graph.add_edges_from(zip(along["node_from"], along["node_to"]))
    assert nx.is_connected(graph)
    # the mask mosaic is in the output CRS; d was warped into it
    with rasterio.open(result.area.mosaic_path) as mosaic:
        assert mosaic.crs == "EPSG:32633"
        row, col = mosaic.index(X0 + 250, Y0 - 300)  # the vertical road inside d
        assert mosaic.read(1)[row, col] == 1
        row, col = mosaic.index(X0 + 300, Y0 - 300)
        assert mosaic.read(1)[row, col] == 0
    # the merged layer in another CRS: only the merge is redone, lengths stay metres
    geo = run_batch(
        area.scenes,
        tmp_path / "out",
        crs="EPSG:4326",
        progress=False,
        predictor=truth_predictor(area.truth_dir),
    )
    assert geo.processed == 0
    in_degrees = read_layer(geo.roads_path)
    assert in_degrees.crs == "EPSG:4326"
    assert in_degrees["length_m"].sum() == pytest.approx(roads["length_m"].sum(), rel=1e-9)


def test_aoi_intersecting_nothing_is_an_error(area, tmp_path):
    far = box(X0 + 10_000, Y0, X0 + 11_000, Y0 + 1000)
    with pytest.raises(GeoSegError, match="intersects none of the 4 scenes"):
        run_batch(
            area.scenes,
            tmp_path / "out",
            aoi=far,
            progress=False,
            predictor=truth_predictor(area.truth_dir),
        )
    assert not (tmp_path / "out").exists()  # nothing written


def test_real_predict_and_vectorize_chain(area, tmp_path):
    """No injected steps: predict_scene with a (brightness) network, vectorize_mask."""
    from fake_models import Brightness

    result = run_batch(
        area.scenes,
        tmp_path / "out",
        Brightness(),
        aoi=AOI,
        tile=128,
        overlap=32,
        device="cpu",
        progress=False,
    )
    assert result.ok and result.processed == 2
    scene_dir = tmp_path / "out" / "scenes" / "a"
    assert sorted(p.name for p in scene_dir.iterdir()) == ["a_mask.tif", "a_prob.tif", "roads.gpkg"]
    with (
        rasterio.open(scene_dir / "a_mask.tif") as mask,
        rasterio.open(area.truth_dir / "a.tif") as truth,
    ):
        assert mask.crs == truth.crs and mask.transform == truth.transform
        assert (mask.read(1) == truth.read(1)).mean() > 0.99
    roads = read_layer(result.roads_path)
    expected = area.roads.geometry.intersection(AOI).length.sum()
    assert abs(roads.length.sum() - expected) < 0.06 * expected
    assert duplicated_length(roads) < 3.0
    assert (roads["mean_prob"] > 0.9).all()  # probabilities travelled with the lines


def test_real_geographic_scenes_merge_in_utm(realdata, tmp_path):
    """SpaceNet Las Vegas (EPSG:4326, 0.3 m) cut into two overlapping scenes: merged in
    the UTM zone, as long as the network vectorized in one piece, nothing twice."""
    from rasterio.windows import Window

    from geoseg.vectorize import vectorize_mask

    folder = realdata / "spacenet_vegas_pan"
    windows = {
        "west": Window(0, 0, 760, 700),
        "east": Window(540, 0, 760, 700),
        "whole": Window(0, 0, 1300, 700),
    }
    for sub, name in (("scenes", "vegas_pan.tif"), ("truth", "vegas_pan_roads_mask.tif")):
        (tmp_path / sub).mkdir()
        with rasterio.open(folder / name) as src:
            for key, win in windows.items():
                profile = src.profile | {
                    "width": win.width,
                    "height": win.height,
                    "transform": src.window_transform(win),
                    "blockysize": 16,
                }
                with rasterio.open(tmp_path / sub / f"{key}.tif", "w", **profile) as dst:
                    dst.write(src.read(window=win))
    scenes = [tmp_path / "scenes" / "west.tif", tmp_path / "scenes" / "east.tif"]
    result = run_batch(
        scenes, tmp_path / "out", predictor=truth_predictor(tmp_path / "truth"), progress=False
    )
    assert result.ok and result.crs == "EPSG:32611"  # Las Vegas: UTM zone 11 north
    roads = read_layer(result.roads_path)
    assert roads.crs == "EPSG:32611"
    whole = vectorize_mask(tmp_path / "truth" / "whole.tif", progress=False).to_crs(roads.crs)
    assert abs(roads.length.sum() - whole.length.sum()) < 0.03 * whole.length.sum()
    assert duplicated_length(roads) < 0.01 * roads.length.sum()
    assert np.allclose(roads["length_m"], roads.length, rtol=1e-6)
