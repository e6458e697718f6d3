"""Per-scene state records: what counts as finished, atomic updates."""

from __future__ import annotations

import os

from geoseg.batch.manifest import DONE, FAILED, RUNNING, Manifest


def _done(manifest, src, out, params):
    rec = manifest.start("s", src, params, rank=1)
    out.write_text("mask")
    return manifest.finish(rec, {"mask": out}, seconds=1.5)


def test_lifecycle_and_finished_conditions(tmp_path):
    src = tmp_path / "s.tif"
    src.write_text("pixels")
    out = tmp_path / "out" / "scenes" / "s" / "s_mask.tif"
    out.parent.mkdir(parents=True)
    m = Manifest(tmp_path / "out")
    params = {"model": "m.pt", "tta": "none"}
    assert m.get("s") is None and not m.is_finished("s", src, params)

    rec = m.start("s", src, params, rank=1)
    assert m.get("s")["status"] == RUNNING and not m.is_finished("s", src, params)
    out.write_text("mask")
    m.finish(rec, {"mask": out}, seconds=1.5)
    rec = m.get("s")
    assert rec["status"] == DONE and rec["rank"] == 1 and rec["attempts"] == 1
    assert rec["outputs"] == {"mask": "scenes/s/s_mask.tif"}  # relative: OUTDIR can move
    assert m.is_finished("s", src, params)

    assert not m.is_finished("s", src, {**params, "tta": "d4"})  # other settings
    out.unlink()
    assert not m.is_finished("s", src, params)  # an output went missing
    _done(m, src, out, params)
    assert m.get("s")["attempts"] == 2
    src.write_text("new pixels!")  # the scene changed
    assert not m.is_finished("s", src, params)


def test_failure_is_recorded_with_reason(tmp_path):
    m = Manifest(tmp_path)
    rec = m.start("bad", tmp_path / "bad.tif", {}, rank=0)
    m.fail(rec, "bad.tif: cannot read pixels (truncated or corrupt file)")
    got = m.records()["bad"]
    assert got["status"] == FAILED and "truncated" in got["error"]
    assert not m.is_finished("bad", tmp_path / "bad.tif", {})


def test_records_are_replaced_atomically(tmp_path, monkeypatch):
    m = Manifest(tmp_path)
    src = tmp_path / "s.tif"
    src.write_text("x")
    m.start("s", src, {}, rank=0)
    before = m.path("s").read_text()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    try:
        m.fail(m.get("s"), "boom")
    except KeyboardInterrupt:
        pass
    monkeypatch.undo()
    assert m.path("s").read_text() == before  # old record intact, no temp file left
    assert [p.name for p in m.dir.iterdir()] == ["s.json"]
