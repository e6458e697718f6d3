"""The command line as a newcomer meets it: configs by name, -v/-q anywhere, --help texts,
and error messages that only name options the command has."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from geoseg.cli.main import COMMANDS, LazyGroup, cli, configure_logging

REPO = Path(__file__).resolve().parents[2]


def test_configs_lists_and_prints_the_shipped_configs():
    from geoseg.config import bundled_configs

    out = CliRunner().invoke(cli, ["configs"])
    assert out.exit_code == 0, out.output
    for name in bundled_configs():
        assert re.search(rf"^{name}\s", out.output, re.M)
    assert re.search(r"^unet_vgg16\s+unet/vgg16\s+imagenet\s", out.output, re.M)
    assert re.search(r"^demo\s+linknet/resnet18\s+none\s", out.output, re.M)
    text = CliRunner().invoke(cli, ["configs", "demo"])
    assert text.exit_code == 0 and text.output == bundled_configs()["demo"].read_text()
    bad = CliRunner().invoke(cli, ["configs", "demoo"])
    assert bad.exit_code == 1 and "shipped configs: " in bad.output


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "-v", "nope.tif", "--model", "m.pt"],
        ["predict", "nope.tif", "--model", "m.pt", "-v"],
        ["-v", "predict", "nope.tif", "--model", "m.pt"],
    ],
)
def test_verbose_anywhere_shows_the_traceback(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 1
    assert "No such option" not in out.output
    assert "Traceback" in out.output and "m.pt" in out.output


def test_quiet_after_the_command_silences_info(tmp_path):
    for args in (
        ["sample-data", str(tmp_path / "a"), "--size", "64"],
        ["sample-data", str(tmp_path / "b"), "--size", "64", "-q"],
    ):
        CliRunner().invoke(cli, args)
    assert logging.getLogger("geoseg").level == logging.WARNING
    CliRunner().invoke(cli, ["sample-data", str(tmp_path / "c"), "--size", "64", "-vv"])
    assert logging.getLogger("geoseg").level == logging.DEBUG
    configure_logging(0, 0)


def test_only_rank_0_prints_info_under_torchrun(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    configure_logging(0, 0)
    root = logging.getLogger("geoseg")
    assert root.level == logging.WARNING
    assert "rank 3" in root.handlers[0].formatter._fmt
    monkeypatch.setenv("RANK", "0")
    configure_logging(0, 0)
    assert root.level == logging.INFO


def test_train_help_describes_every_option():
    from geoseg.cli.train import train

    for p in train.params:
        if isinstance(p, click.Option):
            assert p.help, f"train {p.opts[0]} has no --help text"
    out = CliRunner().invoke(cli, ["train", "--help"])
    assert "--val-masks" in out.output and "Mask GeoTIFF per validation scene" in out.output
    assert "--encoder-weights" in out.output


def _command_options() -> dict[str, set[str]]:
    group = LazyGroup()
    opts = {}
    for name in COMMANDS:
        cmd = group.get_command(None, name)
        # a command group (models, qgis): its own options and those of its subcommands
        commands = [cmd, *getattr(cmd, "commands", {}).values()]
        opts[name] = {
            o
            for c in commands
            for p in c.params
            for o in [*getattr(p, "opts", []), *getattr(p, "secondary_opts", [])]
            if o.startswith("--")
        }
    return opts


def _message_strings() -> list[tuple[str, str]]:
    """(file, text) of every string literal in geoseg that names a --option."""
    import ast

    found = []
    for path in sorted((REPO / "geoseg").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if re.search(r"(?<![\w-])--[a-z][a-z0-9-]+", node.value):
                    found.append((str(path.relative_to(REPO)), node.value))
    return found


OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]+)")
COMMAND = re.compile(r"\bgeoseg ([a-z][a-z-]+)")


def test_every_option_a_message_names_exists():
    """Error messages, hints, help texts and examples name only options that exist: after
    `geoseg CMD` on a line, options of CMD; elsewhere in a command's module, options of
    that command; elsewhere, options of some command.  (Options before `-m geoseg` on a
    torchrun line are torchrun's.)"""
    options = _command_options()
    every = set().union(*options.values()) | {"--help", "--version"}
    module_of = {
        target.split(":")[0].replace(".", "/") + ".py": name for name, target in COMMANDS.items()
    }
    missing, checked = [], 0
    for where, text in _message_strings():
        own = module_of.get(where)
        for line in text.splitlines():
            commands = [
                (m.end(), m.group(1)) for m in COMMAND.finditer(line) if m.group(1) in options
            ]
            for m in OPTION.finditer(line):
                opt, at = m.group(1), m.start()
                before = [c for end, c in commands if end <= at]
                if before:
                    allowed = options[before[-1]] | {"--help"}
                elif commands or "torchrun" in line:
                    continue  # another program's option, before `geoseg CMD`
                else:
                    allowed = (options[own] | {"--help"}) if own else every
                checked += 1
                if opt not in allowed:
                    missing.append(f"{where}: {opt} in {line.strip()[:90]!r}")
    assert not missing, "\n".join(missing)
    assert checked > 50  # the scan does find the messages
