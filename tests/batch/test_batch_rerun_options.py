"""A rerun compares options as they take effect: a batch folder written by the previous
release (which recorded the defaults, tile 512 / overlap 64 / tta none) is not redone by a
rerun with the same effective options; a real change (threshold, tile, a vectorize option)
still redoes every scene."""

from __future__ import annotations

import json

import pytest

from geoseg.batch import run_batch
from geoseg.batch.options import RunOptions, record_params
from tests.batch.conftest import line_vectorizer, truth_predictor

# a scene record's params as geoseg wrote them before the one settings rule (6d50680~1:
# run_batch(tta="none", tile=512, overlap=64), the CLI's overlap min(64, tile / 4))
OLD_PARAMS = {
    "model": None,
    "tta": "none",
    "tile": 512,
    "overlap": 64,
    "threshold": None,
    "predict": {},
    "radiometry": "auto",
    "resample_to_training": False,
    "vectorize": {},
}


def now_params(**changes):
    given = {
        "tta": None,
        "tile": None,
        "overlap": None,
        "threshold": None,
        "predict_options": None,
        "radiometry": "auto",
        "resample_to_training": False,
        "vectorize_options": None,
    }
    return record_params(None, **{**given, **changes})


def rewrite_records(out, params):
    """Make every scene record of `out` look written by a release that wrote `params`."""
    for path in (out / "manifest").glob("*.json"):
        record = json.loads(path.read_text())
        path.write_text(json.dumps({**record, "params": params}, indent=1, sort_keys=True))


def test_folder_of_the_previous_release_is_not_redone(area, tmp_path):
    out = tmp_path / "out"

    def run(**options):
        return run_batch(
            area.scenes,
            out,
            predictor=truth_predictor(area.truth_dir),
            vectorizer=line_vectorizer(area.roads),
            progress=False,
            **options,
        )

    assert run().processed == 4
    scene_files = {p: p.stat().st_mtime_ns for p in (out / "scenes").rglob("*") if p.is_file()}
    assert len(scene_files) >= 4
    rewrite_records(out, OLD_PARAMS)
    again = run()
    assert (again.processed, again.already_done) == (0, 4)
    assert {p: p.stat().st_mtime_ns for p in scene_files} == scene_files  # none remapped
    # the kept records now state the options as this release writes them
    states = [json.loads(p.read_text()) for p in (out / "manifest").glob("*.json")]
    assert [s["params"] for s in states] == [now_params()] * 4
    assert {s["attempts"] for s in states} == {1}
    # the same effective options given explicitly: still nothing to redo
    explicit = run(tile=512, overlap=64, tta="none", threshold=0.5, vectorize_options={})
    assert explicit.processed == 0
    # a real change redoes every scene
    assert run(tile=512, overlap=64, tta="none", threshold=0.3).processed == 4
    assert run(tile=512, overlap=64, tta="none", threshold=0.3).processed == 0
    assert run(tile=256, threshold=0.3).processed == 4
    rewrite_records(out, OLD_PARAMS)
    assert run(tile=256).processed == 4  # the old records said 512


@pytest.mark.parametrize(
    "recorded, same",
    [
        (OLD_PARAMS, True),
        ({**OLD_PARAMS, "threshold": 0.5}, True),  # the default threshold, written out
        ({**OLD_PARAMS, "predict": {"bands": None}}, True),  # None is an absent key
        ({k: v for k, v in OLD_PARAMS.items() if k != "predict"}, True),  # absent: {}
        ({**OLD_PARAMS, "threshold": 0.4}, False),
        ({**OLD_PARAMS, "tile": 256}, False),
        ({**OLD_PARAMS, "overlap": 32}, False),
        ({**OLD_PARAMS, "tta": "d4"}, False),
        ({**OLD_PARAMS, "vectorize": {"prune_m": 5.0}}, False),
        ({**OLD_PARAMS, "predict": {"bands": [3, 2, 1]}}, False),
        ({**OLD_PARAMS, "model": {"checkpoint": "/elsewhere/other.pt"}}, False),
        ({**OLD_PARAMS, "radiometry": "none"}, False),
        # before the imagery-domain rule: mapped without it, so redone
        ({k: v for k, v in OLD_PARAMS.items() if k != "radiometry"}, False),
        ({**OLD_PARAMS, "tile": 500}, False),  # not a valid tile: never the same
        ({**OLD_PARAMS, "unknown": 1}, False),
        (None, False),
    ],
)
def test_same_effective_options(recorded, same):
    assert RunOptions(now_params(), lambda: None).same(recorded) is same


def test_the_checkpoint_decides_what_none_means():
    """A checkpoint saying tile 1024 / d4 (an imported model): the old release's 512 px
    were not what a rerun now uses, so those scenes are redone; its own values are kept."""
    said = {"predict_defaults": {"tile": 1024, "tta": "d4"}, "threshold": 0.35}
    loads = []

    def checkpoint():
        loads.append(1)
        return said

    options = RunOptions(now_params(), checkpoint)
    assert options.same(now_params())  # equal as written: the model is not loaded
    assert loads == []
    assert not options.same(OLD_PARAMS)
    assert options.same({**OLD_PARAMS, "tile": 1024, "overlap": 64, "tta": "d4"})
    assert options.same({**OLD_PARAMS, "tile": 1024, "tta": "d4", "threshold": 0.35, "overlap": 64})
    assert not options.same({**OLD_PARAMS, "tile": 1024, "tta": "d4", "threshold": 0.5})
    assert loads == [1]  # loaded once


def test_a_model_that_cannot_be_loaded_redoes_rather_than_guesses():
    from geoseg.errors import ModelError

    def broken():
        raise ModelError("m.pt: not a geoseg checkpoint")

    options = RunOptions(now_params(), broken)
    assert options.same(now_params())  # equal as written
    assert not options.same(OLD_PARAMS)
