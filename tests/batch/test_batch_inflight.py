"""Several scenes in flight (`run_batch(scenes_in_flight=N)`, `geoseg batch
--scenes-in-flight N`): the same bytes as one at a time, failures recorded per scene,
an interrupt leaves the scenes in flight 'running' with nothing half-written."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from geoseg.batch import run_batch
from geoseg.batch.inflight import default_in_flight, map_concurrently
from geoseg.io.files import atomic_output
from geoseg.normalize import Normalizer
from tests.batch.conftest import line_vectorizer, make_area, truth_predictor
from tests.fake_models import save_tiny_checkpoint


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The test area plus a truncated scene e (its header reads, its pixels do not), and
    a tiny real LinkNet checkpoint."""
    root = tmp_path_factory.mktemp("inflight")
    area = make_area(root / "area")
    broken = area.scenes[0].parent / "e.tif"
    shutil.copy(area.scenes[0], broken)
    with open(broken, "r+b") as fh:
        fh.truncate(broken.stat().st_size * 3 // 5)
    norm = Normalizer.for_dtype("uint8", [0.5] * 3, [0.25] * 3)
    ckpt = save_tiny_checkpoint(root / "tiny.pt", normalizer=norm, tile=128)
    return root, area, [*area.scenes, broken], ckpt


def _states(out: Path) -> dict[str, str]:
    return {p.stem: json.loads(p.read_text())["status"] for p in (out / "manifest").iterdir()}


def test_two_in_flight_write_the_same_bytes_and_record_the_failure(setup):
    root, area, scenes, ckpt = setup
    runs = {}
    for n in (1, 2):
        out = root / f"n{n}"
        runs[n] = run_batch(
            scenes,
            out,
            ckpt,
            tile=128,
            overlap=32,
            device="cpu",
            progress=False,
            scenes_in_flight=n,
        )
        assert _states(out) == {"a": "done", "b": "done", "c": "done", "d": "done", "e": "failed"}
        error = json.loads((out / "manifest" / "e.json").read_text())["error"]
        assert "e.tif" in error
    for name in "abcd":
        for kind in ("prob", "mask"):
            one = (root / "n1" / "scenes" / name / f"{name}_{kind}.tif").read_bytes()
            two = (root / "n2" / "scenes" / name / f"{name}_{kind}.tif").read_bytes()
            assert one == two, (name, kind)
    assert [r["status"] for r in runs[2].scenes] == [r["status"] for r in runs[1].scenes]
    assert not list((root / "n2").rglob("*partial*"))


def test_an_interrupt_stops_every_scene_in_flight(tmp_path):
    """Scene b hangs inside a half-written output while c raises KeyboardInterrupt: b is
    interrupted too (its temporary removed), both stay 'running', d never starts, and
    the rerun finishes everything."""
    area = make_area(tmp_path / "area")
    truth = truth_predictor(area.truth_dir)
    entered = threading.Event()

    def predict(scene, scene_dir):
        name = Path(scene.path).stem
        if name == "b":
            with atomic_output(scene_dir / "b_mask.tif") as tmp:
                tmp.write_bytes(b"half a mask")
                entered.set()
                for _ in range(600):
                    time.sleep(0.05)  # interrupted here
        if name == "c":
            entered.wait(30)
            raise KeyboardInterrupt
        return truth(scene, scene_dir)

    out = tmp_path / "out"
    vec = line_vectorizer(area.roads)
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        run_batch(
            area.scenes, out, predictor=predict, vectorizer=vec, progress=False, scenes_in_flight=2
        )
    assert time.perf_counter() - t0 < 20  # b did not run out its 30 s
    assert _states(out) == {"a": "done", "b": "running", "c": "running"}
    assert not list(out.rglob("*partial*")) and not (out / "roads.gpkg").exists()

    resumed = run_batch(
        area.scenes, out, predictor=truth, vectorizer=vec, progress=False, scenes_in_flight=2
    )
    assert (resumed.processed, resumed.already_done) == (3, 1)  # b, c, d; a earlier
    assert set(_states(out).values()) == {"done"}


def test_results_come_back_for_every_item_and_errors_propagate():
    seen: dict[int, int] = {}
    map_concurrently(list(range(7)), lambda x: x * x, 3, seen.__setitem__)
    assert seen == {i: i * i for i in range(7)}

    def boom(x):
        if x == 2:
            raise ValueError("scene 2")
        return x

    with pytest.raises(ValueError, match="scene 2"):
        map_concurrently([0, 1, 2, 3], boom, 2, lambda i, r: None)
    assert default_in_flight("cuda:1") == 2 and default_in_flight("cpu") == 1


def test_the_shared_model_is_prepared_and_probed_before_any_scene(setup):
    """Scenes in flight must find the module ready: converting its parameters or hooking
    a memory probe into it under another scene's forward is a data race."""
    import torch

    from geoseg.batch.inflight import shared_model
    from geoseg.checkpoint import load_checkpoint
    from geoseg.inference.memory import activation_profile

    _, _, _, ckpt = setup
    loaded = shared_model(load_checkpoint(ckpt), "cpu")
    module = loaded.module  # a LoadedModel: the network built once
    assert not module.training
    weights = [p for p in module.parameters() if p.ndim == 4]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    hooks = sum(len(m._forward_hooks) for m in module.modules())
    first = activation_profile(module, 3)
    assert activation_profile(module, 3) is first  # probed once, in shared_model
    assert sum(len(m._forward_hooks) for m in module.modules()) == hooks == 0
    assert shared_model(loaded, "cpu").module is module  # built once
