import subprocess
import sys

from click.testing import CliRunner

from geoseg import __version__
from geoseg.cli.main import COMMANDS, cli


def test_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_every_command_has_help():
    for name in COMMANDS:
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage" in result.output


def test_unknown_command_exits_nonzero():
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2


def test_console_entry_point_runs_as_module():
    out = subprocess.run([sys.executable, "-m", "geoseg", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "Usage" in out.stdout
