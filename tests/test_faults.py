"""The trust matrix (#12): real faults against the real CLI, in subprocesses.

Each case runs `python -m geoseg ...` and asserts what a user relies on: the exit code,
one error sentence on stderr (no traceback), inputs byte-identical afterwards, no file
under a final name unless it is whole, earlier outputs intact, no temporaries left.
Faults are real: a file-size limit (RLIMIT_FSIZE, everywhere), a small tmpfs (where
this process may mount one), a read-only folder, SIGTERM / kill -9 while a temporary
output exists, and a second process on the same output folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import fake_models
import numpy as np
import pytest
import rasterio
from helpers import REPO, easy_road_scene, fill_up, small_disk, write_geotiff

pytestmark = pytest.mark.slow


def run_geoseg(*args, fsize: int | None = None, timeout: float = 240, **kw):
    """Run the CLI in a subprocess; `fsize` caps the size of any file it writes."""

    def limit():
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    env = {**os.environ, "PYTHONPATH": str(REPO), "GEOSEG_MODELS": kw.pop("models", "/nonexistent")}
    return subprocess.run(
        [sys.executable, "-m", "geoseg", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit,
        env=env,
        **kw,
    )


def start_geoseg(*args, **kw):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "geoseg", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def error_lines(stderr: str) -> list[str]:
    """stderr without log lines and progress bars: what the user is told went wrong."""
    return [
        line
        for line in stderr.splitlines()
        if line.strip()
        and not line.startswith(("INFO:", "WARNING:", "DEBUG:"))
        and "it/s]" not in line
        and "tile/s]" not in line
        and "%|" not in line
    ]


def assert_one_sentence(result, *words):
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]
    return lines[0]


def snapshot(*folders: Path) -> dict[str, str]:
    """sha256 of every file under `folders` (the bytes a user owns)."""
    out = {}
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file() and path.name != ".geoseg.lock":
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def partials(folder: Path) -> list[Path]:
    return [p for p in Path(folder).rglob("*") if ".partial-" in p.name]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A 3-band scene with truth beside it, a tiny checkpoint, one good earlier run."""
    tmp = tmp_path_factory.mktemp("faults")
    data = tmp / "data"
    data.mkdir()
    image, mask = easy_road_scene(320, seed=3)
    scene = write_geotiff(data / "scene.tif", image)
    truth = write_geotiff(data / "scene_mask.tif", mask * 255)
    ckpt = fake_models.save_tiny_checkpoint(tmp / "model.pt")
    good = tmp / "good"
    work = {"tmp": tmp, "data": data, "scene": scene, "truth": truth, "ckpt": ckpt, "good": good}
    res = run_geoseg(*predict_args(work), "-o", good, "--vector", good / "roads.gpkg")
    assert res.returncode == 0, res.stderr
    return work


def predict_args(work, tile: int = 64) -> tuple:
    """`predict SCENE --model CKPT` with the small tile every case uses."""
    return ("predict", work["scene"], "--model", work["ckpt"], "--tile", tile, "--overlap", 8)


def train_args(work, config, run_dir) -> tuple:
    """`train -c CONFIG` on the scene and its truth, into `run_dir` (models in run_dir/models)."""
    return (
        "train",
        "-c",
        config,
        "--scenes",
        work["scene"],
        "--masks",
        work["truth"],
        "--models-dir",
        run_dir / "models",
        "-o",
        run_dir / "run",
    )


def fresh_copy_of_good(work, name: str) -> Path:
    import shutil

    out = work["tmp"] / name
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(work["good"], out)
    return out


# ---------------------------------------------------------------- full disk


@pytest.mark.parametrize("limit", [3000, 20000])
def test_predict_on_a_full_disk_keeps_the_earlier_outputs(work, limit):
    out = fresh_copy_of_good(work, f"full{limit}")
    before, inputs = snapshot(out), snapshot(work["data"])
    res = run_geoseg(
        *predict_args(work),
        "-o",
        out,
        "--vector",
        out / "roads.gpkg",
        "--threshold",
        "0.3",
        fsize=limit,
    )
    line = assert_one_sentence(res, "cannot write", "file too large")
    assert str(out) in line
    assert snapshot(out) == before  # previous outputs intact, nothing new under final names
    assert snapshot(work["data"]) == inputs
    assert not partials(out)
    assert "probabilities:" not in res.stdout  # no success printed


def test_predict_onto_a_small_filesystem_says_no_space_left(work):
    with small_disk(work["tmp"] / "small", "96k") as small:
        # an earlier output there, then the disk fills up
        (small / "scene_prob.tif").write_bytes((work["good"] / "scene_prob.tif").read_bytes())
        fill_up(small / "filler", leave=2048)
        before = snapshot(small)
        res = run_geoseg(
            *predict_args(work),
            "-o",
            small,
            "--overwrite",
        )
        assert_one_sentence(res, "no space left on device", str(small))
        assert snapshot(small) == before
        assert not partials(small)


def test_vectorize_on_a_full_disk(work):
    out = fresh_copy_of_good(work, "vec_full")
    before = snapshot(out)
    res = run_geoseg("vectorize", out / "scene_mask.tif", "-o", out / "roads.gpkg", fsize=5000)
    assert_one_sentence(res, "cannot write", "roads.gpkg")
    assert snapshot(out) == before and not partials(out)


def test_evaluate_reports_on_a_full_disk(work):
    out = fresh_copy_of_good(work, "eval_full")
    res = run_geoseg(
        "evaluate",
        out / "scene_mask.tif",
        work["truth"],
        "--json",
        out / "r.json",
        "--csv",
        out / "r.csv",
        fsize=200,
    )
    assert_one_sentence(res, "cannot write", "file too large")
    assert not (out / "r.json").exists() and not (out / "r.csv").exists()
    assert not partials(out)


def test_train_on_a_full_disk_is_one_sentence(work, tmp_path):
    from tiny_configs import write_tiny_configs

    config = write_tiny_configs(tmp_path, archs=("linknet",))[0]
    models = tmp_path / "models"
    res = run_geoseg(*train_args(work, config, tmp_path), fsize=4000)
    assert_one_sentence(res, "cannot write", "file too large")
    assert not list(models.glob("*.pt")) if models.exists() else True
    assert not partials(tmp_path)


def test_an_unwritable_folder_is_one_sentence(work, tmp_path):
    if os.geteuid() == 0:
        # root ignores permission bits: a read-only bind of a folder is the real thing
        target = tmp_path / "ro"
        target.mkdir()
        bind = subprocess.run(
            ["mount", "--bind", "-o", "ro", str(target), str(target)], capture_output=True
        )
        if bind.returncode != 0:
            pytest.skip("cannot make a read-only folder as root here")
        subprocess.run(["mount", "-o", "remount,ro,bind", str(target)], capture_output=True)
    else:
        target = tmp_path / "ro"
        target.mkdir()
        target.chmod(0o555)
    try:
        res = run_geoseg(
            *predict_args(work),
            "-o",
            target,
        )
        assert_one_sentence(res, str(target))
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(target)], capture_output=True)


# ---------------------------------------------------------------- inputs are never outputs


def test_evaluate_never_writes_over_its_inputs(work):
    for flag, victim in (("--json", work["truth"]), ("--csv", work["good"] / "scene_mask.tif")):
        before = snapshot(work["data"], work["good"])
        res = run_geoseg(
            "evaluate", work["good"] / "scene_mask.tif", work["truth"], flag, victim, "--overwrite"
        )
        assert_one_sentence(res, "is an input")
        assert snapshot(work["data"], work["good"]) == before


def test_predict_refuses_a_user_file_unless_overwrite_and_never_an_input(work, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    mine = write_geotiff(out / "scene_mask.tif", np.ones((1, 8, 8), np.uint8))
    before = mine.read_bytes()
    args = (*predict_args(work), "-o", out)
    res = run_geoseg(*args)
    assert_one_sentence(res, "not written by geoseg", "--overwrite")
    assert mine.read_bytes() == before and not (out / "scene_prob.tif").exists()
    res = run_geoseg(*args, "--overwrite")
    assert res.returncode == 0, res.stderr
    with rasterio.open(mine) as src:
        assert src.shape == (320, 320) and src.tags()["GEOSEG_PRODUCT"] == "mask"
    # geoseg's own earlier outputs are replaced by a re-run without --overwrite
    assert run_geoseg(*args).returncode == 0


# ---------------------------------------------------------------- signals


def wait_for(predicate, timeout=120.0, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            return predicate()
        time.sleep(0.02)
    return False


@pytest.fixture(scope="module")
def big_scene(work):
    image, _ = easy_road_scene(896, seed=5)
    return write_geotiff(work["data"] / "big.tif", image)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_signal_mid_run_leaves_earlier_outputs_and_no_half_file(work, big_scene, sig, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    earlier = {n: (work["good"] / f"scene_{n}.tif").read_bytes() for n in ("prob", "mask")}
    for n, data in earlier.items():
        (out / f"big_{n}.tif").write_bytes(data)
    # earlier outputs must carry geoseg's tags to be replaceable: they do (copied)
    proc = start_geoseg(
        "predict",
        big_scene,
        "--model",
        work["ckpt"],
        "--tile",
        64,
        "--overlap",
        8,
        "--batch-size",
        1,
        "-o",
        out,
    )
    assert wait_for(lambda: partials(out), proc=proc), proc.communicate()
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    for n, data in earlier.items():
        assert (out / f"big_{n}.tif").read_bytes() == data
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        assert partials(out)  # what a killed run leaves ...
        res = run_geoseg("vectorize", out / "big_mask.tif", "-o", out / "roads.gpkg")
        assert res.returncode == 0, res.stderr
        assert not partials(out)  # ... the next run in that folder removes
    else:
        assert proc.returncode == 1, stderr
        assert "Traceback" not in stderr
        assert error_lines(stderr)[-1].endswith("no partial output was kept"), stderr
        assert not partials(out)


def test_stale_partials_of_live_processes_are_left_alone(work, tmp_path):
    from geoseg.io.files import HOST

    out = fresh_copy_of_good(work, "live")
    live = out / f".x.partial-{HOST}-{os.getpid()}-0123abcd.tif"
    dead = out / f".y.partial-{HOST}-999999999-0123abcd.tif"
    other = out / ".z.partial-otherhost-1-0123abcd.tif"
    for p in (live, dead, other):
        p.write_bytes(b"x")
    res = run_geoseg("vectorize", out / "scene_mask.tif", "-o", out / "roads.gpkg")
    assert res.returncode == 0, res.stderr
    assert live.exists() and other.exists() and not dead.exists()


# ---------------------------------------------------------------- two processes, one folder


def test_two_batches_on_one_folder_the_second_is_refused(work, tmp_path):
    out = tmp_path / "area"
    first = start_geoseg("batch", work["scene"], "--model", work["ckpt"], "--tile", 64, "-o", out)
    lock = out / ".geoseg.lock"
    try:
        assert wait_for(lambda: lock.exists() and lock.read_text().strip(), proc=first), (
            first.communicate()
        )
        first.send_signal(signal.SIGSTOP)  # hold it mid-run, deterministically
        holder = json.loads(lock.read_text())
        res = run_geoseg("batch", work["scene"], "--model", work["ckpt"], "--tile", 64, "-o", out)
        line = assert_one_sentence(res, "in use by another geoseg batch")
        assert f"pid {holder['pid']}" in line and first.pid == holder["pid"]
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=240)
    assert first.returncode == 0, err
    # the lock of a dead process is taken over
    lock.write_text(json.dumps({"pid": 999999999, "host": "h", "command": "batch", "since": 0}))
    res = run_geoseg("batch", work["scene"], "--model", work["ckpt"], "--tile", 64, "-o", out)
    assert res.returncode == 0, res.stderr


# ---------------------------------------------------------------- sizes and ranges


def test_sizes_that_cannot_fit_are_refused_up_front_with_the_memory_needed(work, tmp_path):
    res = run_geoseg(*predict_args(work, tile=65536), "-o", tmp_path / "o")
    line = assert_one_sentence(res, "tile 65536 px", "GiB", "needs at least")
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())
    config = tmp_path / "huge.yaml"
    config.write_text(
        "model: {arch: linknet, backbone: test_resnet, encoder_weights: null}\n"
        "data: {tile: 32768, batch_size: 64}\ntrain: {epochs: 1}\n"
    )
    res = run_geoseg(*train_args(work, config, tmp_path))
    assert_one_sentence(res, "data.tile 32768", "training")
    assert "GiB" in line


@pytest.mark.parametrize(
    "args,words",
    [
        (("--tile", 128, "--overlap", 64), ("overlap", "less than half the tile (64)")),
        (("--tile", 100), ("multiple of 32",)),
    ],
)
def test_tile_and_overlap_follow_one_rule(work, tmp_path, args, words):
    res = run_geoseg("predict", work["scene"], "--model", work["ckpt"], *args, "-o", tmp_path / "o")
    assert_one_sentence(res, *words)


def test_a_config_with_a_bad_predict_tile_names_the_file_and_key(tmp_path):
    from geoseg.config import load_config
    from geoseg.errors import ConfigError

    path = tmp_path / "c.yaml"
    path.write_text("model: {arch: linknet, backbone: resnet18}\npredict: {tile: 33}\n")
    with pytest.raises(
        ConfigError, match=r"c\.yaml: predict\.tile must be a positive multiple of 32"
    ):
        load_config(path)


def test_a_text_file_named_pt_is_one_sentence(work, tmp_path):
    fake = tmp_path / "model.pt"
    fake.write_text("not a checkpoint")
    res = run_geoseg("predict", work["scene"], "--model", fake, "-o", tmp_path / "o")
    assert_one_sentence(res, str(fake))


# ---------------------------------------------------------------- the other writing commands


def test_sample_data_on_a_full_disk_keeps_the_earlier_set(tmp_path):
    out = tmp_path / "sample"
    good = run_geoseg("sample-data", out, "--size", 64)
    assert good.returncode == 0, good.stderr
    before = snapshot(out)
    res = run_geoseg("sample-data", out, "--size", 64, "--seed", 1, fsize=6000)
    assert_one_sentence(res, "cannot write", "file too large", str(out))
    assert snapshot(out) == before  # the earlier set is whole, nothing half-new in it
    assert not partials(out)


def compare_inputs(tmp_path):
    from tiny_configs import write_tiny_configs

    from geoseg.sample_data import generate_scene, write_scene

    data = tmp_path / "data"
    for i, name in enumerate(("a", "b")):
        write_scene(generate_scene(64, 64, seed=20 + i), data, name)
    config = write_tiny_configs(tmp_path, archs=("linknet",))[0]
    ckpt = fake_models.save_tiny_checkpoint(tmp_path / "linknet.pt", arch="linknet")
    return data, config, ckpt


def test_compare_on_a_full_disk_keeps_the_earlier_table(tmp_path):
    data, config, ckpt = compare_inputs(tmp_path)
    out = tmp_path / "cmp"
    args = ("compare", config, "--data", data, "-k", ckpt, "-o", out, "--device", "cpu")
    good = run_geoseg(*args)
    assert good.returncode == 0, good.stderr
    table = (out / "table.csv").read_bytes()
    inputs = snapshot(data)
    ckpt_bytes = ckpt.read_bytes()
    res = run_geoseg(*args, "--overwrite", fsize=3000)
    assert_one_sentence(res, "cannot write", "file too large")
    assert (out / "table.csv").read_bytes() == table
    assert snapshot(data) == inputs and ckpt.read_bytes() == ckpt_bytes
    assert not partials(out)


def test_demo_on_a_full_disk_is_one_sentence_and_leaves_the_samples(tmp_path):
    from tiny_configs import write_tiny_configs

    samples = tmp_path / "samples"
    assert run_geoseg("sample-data", samples, "--size", 64).returncode == 0
    config = write_tiny_configs(tmp_path, archs=("linknet",))[0]
    inputs = snapshot(samples)
    out = tmp_path / "demo"
    args = ("demo", out, "-c", config, "--sample-dir", samples, "--device", "cpu")
    res = run_geoseg(*args, fsize=3000)
    assert_one_sentence(res, "cannot write", "file too large")
    assert snapshot(samples) == inputs
    assert not partials(tmp_path)
    assert "IoU" not in res.stdout  # no success printed
