"""The README's examples, run in order as a newcomer would, and their quoted output checked.

How README.md is read (keep to this when adding sections):

* A fenced block opened with ```` ```bash ```` (or ```` ```sh ````) is a script: every line
  runs (``\\`` continues a line, ``#`` starts a comment) and must exit 0.
* A fenced block opened with a bare ```` ``` ```` runs only if it has lines starting with
  ``$ ``: each such line is a command, and the lines after it (up to the next ``$ ``) are
  its quoted output.  ``...`` in quoted output stands for any lines.  Bare blocks without
  ``$ `` lines (diagrams, file trees) and blocks in other languages (``python``, ``yaml``)
  are not run.
* A block that needs data or machines a test cannot have (DeepGlobe, your own scenes,
  several GPUs, installing packages) is marked on the line just before it with
  ``<!-- readme-test: skip (why) -->``.
* A block whose last command is documented to fail (a batch with a failed scene exits 1)
  is marked ``<!-- readme-test: exit 1 -->``; every other command must exit 0.

Blocks run one after the other in one temporary copy of the clone (``sample_data/`` and
``configs/``), so later examples can use what earlier ones wrote (``demo_output/``), with
``geoseg`` on PATH as after ``. .venv/bin/activate``; ``make demo`` runs the Makefile's own
demo command.  Paths inside the clone are compared relative to it (the README cannot know
where it was cloned).  Quoted output must appear in order in what the command prints (extra lines
such as progress bars are allowed); numbers must be equal, except times and speeds (a
number followed by ``s``, ``MP/s``, ``min``) and the timestamps in checkpoint names.

Training is cut to a few steps (``GEOSEG_MAX_STEPS``, which the README does not need to
mention), so numbers that come from a trained model (predict, evaluate, vectorize, batch,
the demo's scores) are then checked for their shape only; ``GEOSEG_README_FULL=1`` runs
the README uncut and checks every number (minutes on a 2-core CPU).  The numbers of
model-free commands (``sample-data``, ``models``, ``configs``, shell commands) are always
checked.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SKIP = re.compile(r"<!--\s*readme-test:\s*skip\b(.*?)-->")
EXIT = re.compile(r"<!--\s*readme-test:\s*exit\s+(\d+)\s*-->")
FULL = os.environ.get("GEOSEG_README_FULL") == "1"
CUT_STEPS = "2"
MODEL_FREE = {"sample-data", "models", "configs"}
NUMBER = r"-?\d+(?:\.\d+)?"
TIMED = re.compile(rf"({NUMBER})(?=\s*(?:s\b|s,|s\)|MP/s|min\b))")
STAMP = re.compile(r"\d{8}-\d{6}")

pytestmark = pytest.mark.slow


@dataclass
class Command:
    line: int
    text: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    line: int
    kind: str  # "script" or "session"
    commands: list[Command]
    skip: str | None = None
    exit_code: int = 0  # of the last command


def parse_readme(text: str) -> list[Block]:
    """The README's command blocks, in order (see the module doc for the rules)."""
    lines = text.splitlines()
    blocks, i, skip, code = [], 0, None, 0
    while i < len(lines):
        line = lines[i]
        marker, exit_marker = SKIP.search(line), EXIT.search(line)
        if marker or exit_marker:
            if marker:
                skip = marker.group(1).strip(" ()") or "marked"
            if exit_marker:
                code = int(exit_marker.group(1))
            i += 1
            continue
        if not line.startswith("```"):
            if line.strip():
                skip, code = None, 0  # a marker applies to the block right after it
            i += 1
            continue
        lang, start, body = line[3:].strip(), i + 1, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        if lang in ("bash", "sh"):
            blocks.append(Block(start, "script", _script_commands(body, start), skip, code))
        elif lang == "" and any(b.startswith("$ ") for b in body):
            blocks.append(Block(start, "session", _session_commands(body, start), skip, code))
        skip, code = None, 0
    return blocks


def _script_commands(body: list[str], start: int) -> list[Command]:
    out, pending, first = [], "", None
    for n, raw in enumerate(body):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not line.strip() and not pending:
            continue
        first = start + n if first is None else first
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append(Command(first + 1, re.sub(r"\s+", " ", pending + line).strip()))
        pending, first = "", None
    return out


def _session_commands(body: list[str], start: int) -> list[Command]:
    out: list[Command] = []
    for n, raw in enumerate(body):
        if raw.startswith("$ "):
            out.append(Command(start + n + 1, raw[2:].strip()))
        elif out:
            out[-1].expected.append(raw.rstrip())
    return out


def _line_pattern(expected: str, exact_numbers: bool) -> re.Pattern:
    """A regex for one quoted output line (numbers wild where they may differ)."""
    parts, pos = [], 0
    wild = [(m.start(), m.end()) for m in STAMP.finditer(expected)]
    wild += [(m.start(1), m.end(1)) for m in TIMED.finditer(expected)]
    if not exact_numbers:
        wild += [(m.start(), m.end()) for m in re.finditer(NUMBER, expected)]
    for a, b in sorted(set(wild)):
        if a < pos:
            continue
        parts.append(re.escape(expected[pos:a]))
        parts.append(r"[-\d.]+")
        pos = b
    parts.append(re.escape(expected[pos:]))
    pattern = "".join(parts).strip()
    pattern = re.sub(r"(\\ )+", r"\\s+", pattern)  # column widths follow the numbers
    return re.compile(r"^\s*" + pattern + r"\s*$")


def check_output(expected: list[str], output: str, exact_numbers: bool) -> str | None:
    """None when the quoted lines appear in order in `output`, else the first one missing."""
    actual = [seg.split("\r")[-1].rstrip() for seg in output.splitlines()]
    at = 0
    for want in expected:
        if not want.strip() or want.strip() == "...":
            continue
        pattern = _line_pattern(want, exact_numbers)
        while at < len(actual) and not pattern.match(actual[at]):
            at += 1
        if at == len(actual):
            return want
        at += 1
    return None


def makefile_demo_command() -> str:
    """The Makefile's `demo` recipe, with geoseg taken from PATH."""
    text = (REPO / "Makefile").read_text()
    recipe = re.search(r"^demo:.*\n\t(.+)$", text, re.M).group(1)
    return recipe.replace("$(VENV)/bin/", "")


def _model_free(command: str) -> bool:
    words = command.split()
    if not words or words[0] not in ("geoseg", "make"):
        return True  # cat, printf, ...
    return words[0] == "geoseg" and len(words) > 1 and words[1] in MODEL_FREE


def test_readme_is_parsed_as_documented():
    text = """intro
```bash
geoseg a \\
    --b c   # comment
# only a comment
geoseg d
```
<!-- readme-test: skip (needs DeepGlobe) -->
```bash
geoseg train --data-dir deepglobe
```
```
scene.tif -> tiles
```
<!-- readme-test: exit 1 -->
```
$ geoseg x
out 1.5
...
$ geoseg y
```
```python
import geoseg
```
"""
    blocks = parse_readme(text)
    assert [(b.kind, b.skip, b.exit_code) for b in blocks] == [
        ("script", None, 0),
        ("script", "needs DeepGlobe", 0),
        ("session", None, 1),
    ]
    assert [c.text for c in blocks[0].commands] == ["geoseg a --b c", "geoseg d"]
    assert [(c.text, c.expected) for c in blocks[2].commands] == [
        ("geoseg x", ["out 1.5", "..."]),
        ("geoseg y", []),
    ]
    assert check_output(["a 1.5  b", "c 2 s"], "x\na 1.5 b\nc 9.1 s\n", True) is None
    assert check_output(["a 1.5  b"], "a 1.6 b\n", True) == "a 1.5  b"
    assert check_output(["a 1.5  b"], "a 1.6 b\n", False) is None
    assert check_output(["m_20261126-154918.pt"], "m_20270101-000000.pt", True) is None
    assert makefile_demo_command() == "geoseg demo demo_output"


def test_readme_examples_work_as_written(tmp_path):
    blocks = parse_readme(README.read_text(encoding="utf-8"))
    assert sum(len(b.commands) for b in blocks if not b.skip) >= 10
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("sample_data", "configs"):
        shutil.copytree(REPO / name, clone / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "geoseg"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m geoseg "$@"\n')
    shim.chmod(0o755)
    env = dict(
        os.environ,
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",
        COLUMNS="200",
        XDG_DATA_HOME=str(tmp_path / "data"),
    )
    env.pop("GEOSEG_MODELS", None)
    if not FULL:
        env["GEOSEG_MAX_STEPS"] = CUT_STEPS
    failures = []
    for block in blocks:
        if block.skip:
            continue
        for cmd in block.commands:
            run = makefile_demo_command() if cmd.text == "make demo" else cmd.text
            out = subprocess.run(
                ["bash", "-c", run],
                cwd=clone,
                env=env,
                capture_output=True,
                text=True,
                timeout=1200,
            )
            output = subprocess_output(out).replace(f"{clone}{os.sep}", "")
            want = block.exit_code if cmd is block.commands[-1] else 0
            if out.returncode != want:
                failures.append(
                    f"README.md:{cmd.line}: `{cmd.text}` exited {out.returncode}, "
                    f"not {want}:\n"
                    f"{output[-1500:]}"
                )
                continue
            missing = check_output(cmd.expected, output, FULL or _model_free(cmd.text))
            if missing is not None:
                failures.append(
                    f"README.md:{cmd.line}: `{cmd.text}` did not print "
                    f"{missing!r}; it printed:\n{output[-3000:]}"
                )
    assert not failures, "\n\n".join(failures)


def subprocess_output(out: subprocess.CompletedProcess) -> str:
    """stderr (log lines, which come first in the README's quotes) then stdout."""
    return out.stderr + "\n" + out.stdout
