"""Self-describing, safe checkpoints.

A checkpoint is a plain dict of strings, numbers, lists and tensors saved with
``torch.save`` and always loaded with ``torch.load(weights_only=True)``: it cannot
carry pickled code, so a checkpoint from a stranger cannot run anything.  It records
what prediction needs to rebuild and feed the model exactly as training did:

``format``, ``version``, ``arch``, ``backbone``, ``in_channels``, ``model_kwargs``,
``bands`` (1-based band indexes read from scenes, or None for "all"),
``normalizer`` (:class:`geoseg.normalize.Normalizer` as a dict), ``tile``,
``threshold``, ``metrics``, ``config``, ``epoch``, ``created`` (ISO time),
``state_dict`` and optionally ``optimizer`` / ``scheduler`` / ``scaler`` for resuming,
``imagery`` (the training imagery's dtype, 2/98 % per band and pixel size:
:mod:`geoseg.radiometry`).  Every load is validated (:mod:`geoseg.checkpoint_checks`).

Trained checkpoints are saved into the model directory (``--models-dir``, env
``GEOSEG_MODELS``, default ``~/.local/share/geoseg/models``) as
``<arch>_<backbone>_<timestamp>.pt``; ``geoseg predict --backbone X`` picks the newest.
"""

from __future__ import annotations

import datetime as _dt
import os
import pickle
from pathlib import Path
from typing import Any

from geoseg.errors import CheckpointError
from geoseg.io.files import atomic_output

FORMAT = "geoseg.checkpoint"
VERSION = 1
REQUIRED = ("arch", "backbone", "in_channels", "normalizer", "state_dict")


def default_models_dir() -> Path:
    """``$GEOSEG_MODELS`` or ``$XDG_DATA_HOME/geoseg/models`` (``~/.local/share/...``)."""
    env = os.environ.get("GEOSEG_MODELS")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "geoseg" / "models"


def checkpoint_name(arch: str, backbone: str, when: _dt.datetime | None = None) -> str:
    when = when or _dt.datetime.now()
    safe = backbone.replace("/", "-").replace(".", "-")
    return f"{arch}_{safe}_{when.strftime('%Y%m%d-%H%M%S')}.pt"


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Validate `payload` and write it atomically to `path`."""
    import torch

    missing = [k for k in REQUIRED if k not in payload]
    if missing:
        raise CheckpointError(f"{path}: checkpoint is missing {', '.join(missing)}")
    data = {"format": FORMAT, "version": VERSION}
    data.setdefault("created", _dt.datetime.now().isoformat(timespec="seconds"))
    data.update(payload)
    path = Path(path)
    with atomic_output(path) as tmp:
        torch.save(data, tmp)
    return path


def safe_torch_load(
    path: Path,
    what: str,
    map_location: str = "cpu",
    allowed: str = "only tensors and plain values can be loaded",
) -> Any:
    """``torch.load(weights_only=True)`` with one-sentence errors: not found, pickled code
    refused (`allowed` says what may be in such a file), unreadable.  `what` names the
    file ("checkpoint", "weights file")."""
    import torch

    if not path.is_file():
        raise CheckpointError(f"{path}: {what} not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path}: refused to load: the file contains pickled Python objects "
            f"(code could run); {allowed}"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise CheckpointError(f"{path}: not a readable {what} ({reason})") from None


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) and check it is geoseg's."""

    path = Path(path)
    if path.suffix.lower() == ".onnx":  # `geoseg export` output: its metadata, same keys
        from geoseg.inference.onnx import load_onnx_checkpoint

        return load_onnx_checkpoint(path)
    data = safe_torch_load(
        path, "checkpoint", map_location, "geoseg checkpoints hold only tensors and plain values"
    )
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a geoseg checkpoint")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise CheckpointError(f"{path}: checkpoint is missing {', '.join(missing)}")
    from geoseg.checkpoint_checks import validate_checkpoint

    validate_checkpoint(data, str(path))  # finite weights, threshold, arch, bands (rule 7)
    data["path"] = str(path)
    return data


def model_from_checkpoint(ckpt: dict[str, Any], expect_arch: str | None = None):
    """Rebuild the network of a loaded checkpoint (random init, then its weights)."""
    from geoseg.models import create_model

    where = ckpt.get("path", "checkpoint")
    if expect_arch is not None and ckpt["arch"] != expect_arch:
        raise CheckpointError(
            f"{where}: checkpoint is a {ckpt['arch']} model, not {expect_arch} as requested"
        )
    if ckpt.get("onnx"):  # an exported model runs through onnxruntime
        from geoseg.inference.onnx import OnnxModel

        return OnnxModel.from_checkpoint(ckpt)
    model = create_model(
        ckpt["arch"],
        ckpt["backbone"],
        in_channels=int(ckpt["in_channels"]),
        encoder_weights=None,
        **dict(ckpt.get("model_kwargs") or {}),
    )
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{where}: weights do not fit the model ({first})") from None
    return model


def find_latest(models_dir: str | Path, arch: str | None, backbone: str) -> Path | None:
    """Newest checkpoint in `models_dir` for `backbone` (and `arch` when given)."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return None
    safe = backbone.replace("/", "-").replace(".", "-")
    pattern = f"{arch}_{safe}_*.pt" if arch else f"*_{safe}_*.pt"
    candidates = [p for p in models_dir.glob(pattern) if not p.name.startswith(".")]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.stat().st_mtime, p.name))
