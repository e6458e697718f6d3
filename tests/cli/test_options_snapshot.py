"""Shared option decorators (geoseg/cli/options.py) must not change what a command offers.

tests/cli/cli_options.json was written by tests/cli/cli_options.py before the commands'
own option declarations were folded into shared ones: every option there keeps its flags,
type, default, help text (as --help renders it) and place among the others.  Options
added since may stand anywhere; removing or changing one means updating the snapshot.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.cli_options import snapshot

SNAPSHOT = json.loads((Path(__file__).with_name("cli_options.json")).read_text("utf-8"))
NOW = snapshot()


@pytest.mark.parametrize("command", sorted(SNAPSHOT))
def test_command_keeps_its_options(command):
    assert command in NOW, f"geoseg {command} is gone"
    before, now = SNAPSHOT[command], NOW[command]
    assert now["help"] == before["help"]
    current = {p["name"]: p for p in now["params"]}
    for param in before["params"]:
        assert param["name"] in current, f"geoseg {command}: {param['opts']} is gone"
        assert current[param["name"]] == param
    kept = [p["name"] for p in now["params"] if p["name"] in {q["name"] for q in before["params"]}]
    assert kept == [p["name"] for p in before["params"]], f"geoseg {command}: option order"


def test_snapshot_sees_a_changed_default(monkeypatch):
    """The comparison is not vacuous: a changed default shows up in the description."""
    from geoseg.cli.predict import predict

    param = next(p for p in predict.params if p.name == "batch_size")
    monkeypatch.setattr(param, "default", 8)
    changed = {p["name"]: p for p in snapshot()["predict"]["params"]}["batch_size"]
    assert changed != {p["name"]: p for p in SNAPSHOT["predict"]["params"]}["batch_size"]


def test_choices_are_the_library_modes():
    """--radiometry spells geoseg.radiometry.MODES out (importing it would load torch for
    --help); --progress and --tta take the library's tuples directly."""
    from geoseg import progress, radiometry
    from geoseg.inference.predictor import TTA_MODES

    choices = {p["name"]: p["type"].get("choices") for p in NOW["predict"]["params"]}
    assert choices["radiometry"] == list(radiometry.MODES)
    assert choices["progress"] == list(progress.MODES)
    assert choices["tta"] == list(TTA_MODES)
