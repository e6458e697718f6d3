"""`geoseg sample-data`: reproducible output and one-line errors."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from geoseg.cli.main import cli


def run(*args: str):
    return CliRunner().invoke(cli, ["sample-data", *args])


def test_same_seed_twice_gives_identical_rasters(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    r1 = run(str(one), "--size", "96", "--seed", "1")
    r2 = run(str(two), "--size", "96", "--seed", "1")
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output
    tifs = sorted(one.glob("*.tif"))
    assert len(tifs) == 12  # 6 scenes: image + mask
    for tif in tifs:
        assert tif.read_bytes() == (two / tif.name).read_bytes(), tif.name
        assert str(tif) in r1.output
    assert (one / "README.md").is_file() and (one / "manifest.json").is_file()


def test_other_seed_gives_other_rasters(tmp_path):
    assert run(str(tmp_path / "a"), "--size", "64", "--seed", "1").exit_code == 0
    assert run(str(tmp_path / "b"), "--size", "64", "--seed", "2").exit_code == 0
    assert (tmp_path / "a" / "train_1.tif").read_bytes() != (
        tmp_path / "b" / "train_1.tif"
    ).read_bytes()


def one_line_error(result) -> str:
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    return lines[0]


def test_output_under_a_file_is_one_line_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    line = one_line_error(run(str(blocker / "out")))
    assert str(blocker / "out") in line and "cannot create" in line
    assert not (blocker.parent / "out").exists()


def test_unwritable_folder_is_one_line_error(tmp_path, monkeypatch):
    """As root every folder is writable, so make the access check say no."""
    import geoseg.io.files

    real = os.access
    monkeypatch.setattr(
        geoseg.io.files.os,
        "access",
        lambda path, mode, **kw: not mode & os.W_OK and real(path, mode),
    )
    line = one_line_error(run(str(tmp_path)))
    assert line == f"Error: {tmp_path}: output folder is not writable"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_folder_is_one_line_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert "not writable" in one_line_error(run(str(locked)))
    finally:
        locked.chmod(0o700)


def test_size_too_small_is_a_usage_error(tmp_path):
    result = run(str(tmp_path), "--size", "10")
    assert result.exit_code == 2 and "--size" in result.output


def test_someone_elses_readme_is_not_overwritten(tmp_path):
    (tmp_path / "README.md").write_text("# my project\n")
    line = one_line_error(run(str(tmp_path), "--size", "64"))
    assert "README.md" in line
    assert (tmp_path / "README.md").read_text() == "# my project\n"
    assert list(tmp_path.iterdir()) == [tmp_path / "README.md"]
    assert run(str(tmp_path / "again"), "--size", "64").exit_code == 0
    assert run(str(tmp_path / "again"), "--size", "64").exit_code == 0  # its own README is fine
