"""Python warnings from libraries reach the user as one log line each (QA L7), not as
the raw ``file.py:366: NotGeoreferencedWarning: ...`` followed by a source line."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers import REPO

CODE = """
import warnings
from rasterio.errors import NotGeoreferencedWarning
from geoseg.cli.main import configure_logging
configure_logging(0, 0)
warnings.warn("Dataset has no geotransform, gcps, or rpcs.", NotGeoreferencedWarning)
"""


def test_a_library_warning_is_one_log_line():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines() == [
        "WARNING: Dataset has no geotransform, gcps, or rpcs. (NotGeoreferencedWarning)"
    ]
