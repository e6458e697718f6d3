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


def test_config_typo_is_one_line_exit_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  arch: linknet\ntrain:\n  epoch: 3\n")
    result = CliRunner().invoke(cli, ["train", "-c", str(bad), "--models-dir", str(tmp_path / "m")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert str(bad) in lines[0] and "train.epoch" in lines[0] and "unknown key" in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "m").exists()


def test_library_error_shows_traceback_only_with_verbose(tmp_path):
    missing = tmp_path / "nope.tif"
    quiet = CliRunner().invoke(cli, ["vectorize", str(missing), "-o", str(tmp_path / "r.gpkg")])
    assert quiet.exit_code == 1 and "Traceback" not in quiet.output
    assert quiet.output.strip() == f"Error: {missing}: file not found"
    loud = CliRunner().invoke(
        cli, ["-v", "vectorize", str(missing), "-o", str(tmp_path / "r.gpkg")]
    )
    assert loud.exit_code == 1 and "Traceback" in loud.output


NATIVE_SCRIPT = """
import os, sys, click
from geoseg.cli import main

@click.command()
def native():
    os.write(2, b"native-library-line\\n")
    click.echo("python-line", err=True)

main.COMMANDS["native"] = "__main__:native"
main.cli(sys.argv[1:], prog_name="geoseg")
"""


def test_native_stderr_is_muted_unless_verbose_anywhere_on_the_line(tmp_path):
    """C libraries' raw stderr is hidden without -v, and -v shows it whether it comes
    before or after the command name."""
    script = tmp_path / "native.py"
    script.write_text(NATIVE_SCRIPT)

    def stderr(*args):
        r = subprocess.run(
            [sys.executable, str(script), *args], capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, r.stderr
        assert "python-line" in r.stderr
        return r.stderr

    assert "native-library-line" not in stderr("native")
    assert "native-library-line" in stderr("-v", "native")
    assert "native-library-line" in stderr("native", "-v")
