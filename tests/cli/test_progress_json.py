"""`--progress json`: one JSON object per stderr line, progress of the whole command."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from click.testing import CliRunner

from geoseg import progress
from geoseg.cli.main import cli


@pytest.fixture(autouse=True)
def bar_mode_after():
    yield
    progress.set_mode("bar")


def json_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        if line.strip():
            out.append(json.loads(line))  # every line is JSON
    return out


def fractions(objs: list[dict]) -> list[float]:
    return [o["progress"] for o in objs if "progress" in o]


def test_nested_bars_and_phases_give_one_rising_fraction():
    stream = io.StringIO()
    progress.set_mode("json", stream)
    progress.MIN_INTERVAL_S, saved = 0.0, progress.MIN_INTERVAL_S
    try:
        progress.phase(0.0, 0.5)
        with progress.tqdm(total=2, desc="pairs", unit="pair", mininterval=0) as outer:
            for _ in range(2):
                with progress.tqdm(total=4, desc="blocks", unit="block", mininterval=0) as inner:
                    for _ in range(4):
                        inner.update(1)
                outer.update(1)
        progress.phase(0.5, 1.0, "second stage")
        for _ in progress.tqdm(range(2), desc="last"):
            pass
    finally:
        progress.MIN_INTERVAL_S = saved
    objs = json_lines(stream.getvalue())
    values = fractions(objs)
    assert values == sorted(values)  # never decreasing
    assert values[-1] == 1.0
    # the first pair's inner blocks fill 0 .. 0.25 (half of the first phase)
    assert 0.25 in values and 0.5 in values
    inner = [o["progress"] for o in objs if o.get("message", "").startswith("blocks: 2/4")]
    assert inner[:2] == [0.125, 0.375]  # halfway through pair 1, then pair 2
    assert {"progress": 0.5, "message": "second stage"} in objs
    assert any(o.get("message") == "pairs: 1/2 pair" for o in objs)


def test_disabled_bars_and_none_mode_are_silent():
    stream = io.StringIO()
    progress.set_mode("json", stream)
    for _ in progress.tqdm(range(3), disable=True):
        pass
    assert stream.getvalue() == ""
    progress.set_mode("none")
    bar = progress.tqdm(range(3))
    assert bar.disable


def test_vectorize_streams_json_progress_and_log_lines(tmp_path, geotiff_factory, monkeypatch):
    monkeypatch.setattr(progress, "MIN_INTERVAL_S", 0.0)  # every block, however fast
    mask = np.zeros((256, 256), np.uint8)
    mask[120:128, :] = 1
    mask[:, 60:66] = 1
    src = geotiff_factory(mask, "mask.tif")
    result = CliRunner().invoke(
        cli,
        [
            "vectorize",
            str(src),
            "-o",
            str(tmp_path / "roads.gpkg"),
            "--block-size",
            "64",
            "--progress",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    objs = json_lines(result.stderr)
    values = fractions(objs)
    assert len(values) >= 3 and values == sorted(values) and values[-1] == 1.0
    assert any("vectorize" in o.get("message", "") for o in objs)
    assert "lines" in result.stdout  # the summary stays plain text on stdout


def test_predict_with_vector_reports_both_stages(tmp_path, geotiff_factory):
    from fake_models import save_tiny_checkpoint

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    scene = geotiff_factory(
        np.random.default_rng(0).integers(0, 255, (3, 128, 128), np.uint8), "scene.tif"
    )
    result = CliRunner().invoke(
        cli,
        [
            "predict",
            str(scene),
            "-m",
            str(ckpt),
            "--tile",
            "64",
            "--overlap",
            "8",
            "--vector",
            str(tmp_path / "roads.gpkg"),
            "-o",
            str(tmp_path),
            "--progress",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    objs = json_lines(result.stderr)
    values = fractions(objs)
    assert values == sorted(values)
    assert 0.9 in values and max(values) <= 1.0  # the tiles fill 0..0.9, vectorize the rest
    assert any(o.get("message", "").startswith("scene: ") and "tile" in o["message"] for o in objs)
    assert {"progress": 0.9, "message": "vectorize"} in objs
    assert any(o.get("level") == "info" for o in objs)  # log records are JSON too


def test_progress_option_is_offered_by_the_four_commands():
    for command in ("predict", "vectorize", "evaluate", "batch"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert "--progress [bar|json|none]" in result.output, command
