"""Self-describing, safe, versioned checkpoints: :class:`Checkpoint`.

On disk a checkpoint is a plain dict of strings, numbers, lists and tensors saved with
``torch.save`` and always loaded with ``torch.load(weights_only=True)``: it cannot carry
pickled code, so a checkpoint from a stranger cannot run anything.  In memory it is a
:class:`Checkpoint`, whose typed fields are what prediction needs to rebuild and feed the
model exactly as training did (arch, backbone, in_channels, model_kwargs, state_dict;
``bands`` — 1-based band indexes read from scenes, None for "all"; ``normalizer`` —
:class:`geoseg.normalize.Normalizer` as a dict; ``imagery`` — the training imagery's
dtype, 2/98 % per band and pixel size, :mod:`geoseg.radiometry`; the ``tile``,
``threshold`` and ``predict_defaults`` hints), what training recorded (``config``,
``metrics``, ``epoch``, ``created``, an import's ``source``) and, in a run's ``last.pt``,
the :class:`TrainingState` that ``--resume`` continues from.

Every file carries ``schema`` (:data:`SCHEMA`).  :func:`load_checkpoint` upgrades older
files (no ``schema`` key: schema 1, what geoseg wrote until 0.1) step by step to the
current schema, validates them (:mod:`geoseg.checkpoint_checks`) and refuses, in one
sentence naming the file, a schema newer than this geoseg knows.  The on-disk keys are
the ones older geoseg versions read, so they still load files written now.

Trained checkpoints are saved into the model directory (``--models-dir``, env
``GEOSEG_MODELS``, default ``~/.local/share/geoseg/models``) as
``<arch>_<backbone>_<timestamp>.pt``; ``geoseg predict --backbone X`` picks the newest.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import os
import pickle
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from geoseg import __version__
from geoseg.checkpoint_checks import validate_checkpoint
from geoseg.errors import CheckpointError
from geoseg.inference.onnx import OnnxModel, load_onnx_checkpoint
from geoseg.io.files import atomic_output
from geoseg.models import create_model
from geoseg.normalize import Normalizer

FORMAT = "geoseg.checkpoint"
SCHEMA = 2  # the schema this geoseg writes; older ones are upgraded on load
REQUIRED = ("arch", "backbone", "in_channels", "normalizer", "state_dict")
# a run's last.pt: what --resume needs besides the weights (flat keys on disk)
TRAINING_KEYS = (
    "optimizer",
    "scheduler",
    "scaler",
    "step",
    "history",
    "best_score",
    "stale",
    "best_path",
    "elapsed_s",
)


@dataclass
class TrainingState:
    """What a run's ``last.pt`` holds to resume exactly: optimizer/scheduler/scaler state,
    the step and history, the best score so far and the training seconds spent."""

    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    scaler: dict[str, Any] = field(default_factory=dict)
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_score: float = -math.inf
    stale: int = 0
    best_path: str | None = None
    elapsed_s: float = 0.0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingState:
        best = data.get("best_score")
        return cls(
            optimizer=dict(data["optimizer"]),
            scheduler=dict(data.get("scheduler") or {}),
            scaler=dict(data.get("scaler") or {}),
            step=int(data.get("step") or 0),
            history=list(data.get("history") or []),
            best_score=-math.inf if best is None else float(best),
            stale=int(data.get("stale") or 0),
            best_path=str(data["best_path"]) if data.get("best_path") else None,
            elapsed_s=float(data.get("elapsed_s") or 0.0),
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in TRAINING_KEYS}


@dataclass
class Checkpoint:
    """A geoseg checkpoint: the model, how to feed it, how it was trained.

    Build one from a payload with :meth:`from_dict`, write it with :meth:`save`, read a
    file with :meth:`load` (= :func:`load_checkpoint`: upgraded and validated), rebuild
    the network with :meth:`build_model`.  ``path`` (where it was loaded from), ``onnx``
    (an exported model's file) and ``session`` are not saved.

    Code written against the dict a checkpoint used to be can still read it by key
    (``ckpt["arch"]``, ``ckpt.get("bands")``, ``"imagery" in ckpt`` — true when the key
    holds a value); new code uses the attributes.
    """

    arch: str
    backbone: str
    in_channels: int
    normalizer: dict[str, list[float]]
    state_dict: dict[str, torch.Tensor] | None  # None: an exported (ONNX) model
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    bands: list[int] | None = None
    imagery: dict[str, Any] | None = None  # geoseg.radiometry's training imagery record
    tile: int | None = None  # the training tile (trained) / the original's tile (imported)
    threshold: float | None = None
    predict_defaults: dict[str, Any] = field(default_factory=dict)  # tile, tta
    config: dict[str, Any] | None = None  # the RunConfig it was trained with
    metrics: dict[str, float] = field(default_factory=dict)
    epoch: int | None = None
    created: str | None = None  # ISO time
    source: dict[str, Any] | None = None  # an imported model's origin (file, sha256...)
    training: TrainingState | None = None  # a run's last.pt only
    geoseg_version: str | None = None  # the geoseg that wrote it (None before schema 2)
    extra: dict[str, Any] = field(default_factory=dict)  # keys this schema does not name
    schema: int = SCHEMA
    # not saved: where this one came from
    path: str | None = field(default=None, compare=False)
    onnx: str | None = field(default=None, compare=False)
    session: Any = field(default=None, repr=False, compare=False)
    upgraded_from: int | None = field(default=None, compare=False)  # an older file's schema

    # ------------------------------------------------------------------ on disk
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str | None = None) -> Checkpoint:
        """A Checkpoint from a payload of the current schema (plain keys and values)."""
        missing = [k for k in REQUIRED if k not in data]
        if missing:
            raise CheckpointError(
                f"{path or 'checkpoint'}: checkpoint is missing {', '.join(missing)}"
            )
        known = {f.name for f in dataclasses.fields(cls)} | set(TRAINING_KEYS)
        known |= {"format", "version", "_session"}
        bands, threshold = data.get("bands"), data.get("threshold")
        tile, epoch = data.get("tile"), data.get("epoch")
        return cls(
            arch=str(data["arch"]),
            backbone=str(data["backbone"]),
            in_channels=int(data["in_channels"]),
            normalizer={k: list(v) for k, v in dict(data["normalizer"]).items()},
            state_dict=data["state_dict"],
            model_kwargs=dict(data.get("model_kwargs") or {}),
            bands=[int(b) for b in bands] if bands else None,
            imagery=dict(data["imagery"]) if data.get("imagery") else None,
            tile=None if tile is None else int(tile),
            threshold=None if threshold is None else float(threshold),
            predict_defaults=dict(data.get("predict_defaults") or {}),
            config=dict(data["config"]) if data.get("config") else None,
            metrics=dict(data.get("metrics") or {}),
            epoch=None if epoch is None else int(epoch),
            created=data.get("created"),
            source=dict(data["source"]) if data.get("source") else None,
            training=TrainingState.from_dict(data) if "optimizer" in data else None,
            geoseg_version=data.get("geoseg_version"),
            extra={k: v for k, v in data.items() if k not in known},
            path=path if path is not None else data.get("path"),
            onnx=data.get("onnx"),
            session=data.get("_session"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The payload saved on disk (flat keys, plain values and tensors)."""
        data: dict[str, Any] = {"format": FORMAT, "schema": SCHEMA, **self.extra}
        for f in dataclasses.fields(self):
            if f.name in ("training", "extra", "schema", "path", "onnx", "session"):
                continue
            if f.name != "upgraded_from":
                data[f.name] = getattr(self, f.name)
        if self.training is not None:
            data.update(self.training.to_dict())
        return data

    def save(self, path: str | Path) -> Path:
        """Write this checkpoint atomically to `path` (schema :data:`SCHEMA`)."""
        if self.state_dict is None:
            raise CheckpointError(f"{path}: an exported ONNX model is not saved as a checkpoint")
        if self.created is None:
            self.created = _dt.datetime.now().isoformat(timespec="seconds")
        self.geoseg_version = __version__
        path = Path(path)
        with atomic_output(path, kind="checkpoint") as tmp:  # never over a user's file
            torch.save(self.to_dict(), tmp)
        return path

    @classmethod
    def load(cls, path: str | Path, map_location: str = "cpu") -> Checkpoint:
        """:func:`load_checkpoint`: read, upgrade and validate the checkpoint at `path`."""
        return load_checkpoint(path, map_location)

    # ---------------------------------------------------------------- in use
    def to_normalizer(self) -> Normalizer:
        """The band scaling the model was trained with."""
        return Normalizer.from_dict(self.normalizer)

    def build_model(self, expect_arch: str | None = None) -> torch.nn.Module:
        """:func:`model_from_checkpoint`: the network with these weights."""
        return model_from_checkpoint(self, expect_arch)

    @property
    def where(self) -> str:
        """The file it came from, for messages."""
        return self.path or "checkpoint"

    # --------------------------------------------- reads by the old dict keys
    def _view(self) -> dict[str, Any]:
        return {**self.to_dict(), "path": self.path, "onnx": self.onnx}

    def __getitem__(self, key: str) -> Any:
        return self._view()[key]

    def get(self, key: str, default: Any = None) -> Any:
        value = self._view().get(key)
        return default if value is None else value

    def __contains__(self, key: object) -> bool:
        return self._view().get(key) is not None if isinstance(key, str) else False


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


def save_checkpoint(path: str | Path, payload: Checkpoint | Mapping[str, Any]) -> Path:
    """Write `payload` (a :class:`Checkpoint` or its fields as a dict) atomically to `path`."""
    ckpt = payload if isinstance(payload, Checkpoint) else Checkpoint.from_dict(payload, str(path))
    return ckpt.save(path)


NOT_TORCH = "not a PyTorch checkpoint or weights file"


def check_torch_file(path: Path) -> None:
    """Refuse, in one sentence, a file that is not in one of torch.save's formats (a zip
    archive, or a legacy pickle: protocol 2+ opens with 0x80), and a zip archive whose
    members do not match their CRC (bytes damaged on disk or in transfer): torch itself
    would load such weights silently."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise CheckpointError(f"{path}: checkpoint is corrupt ({exc})") from None
        if bad is not None:
            member = bad.split("/", 1)[1] if "/" in bad else bad  # torch's <name>/data/N
            raise CheckpointError(f"{path}: checkpoint is corrupt (CRC mismatch in {member})")
    elif not head.startswith(b"\x80"):
        raise CheckpointError(f"{path}: {NOT_TORCH}")


def safe_torch_load(
    path: Path,
    what: str,
    map_location: str = "cpu",
    allowed: str = "only tensors and plain values can be loaded",
) -> Any:
    """``torch.load(weights_only=True)`` with one-sentence errors: not found, pickled code
    refused (`allowed` says what may be in such a file), unreadable.  `what` names the
    file ("checkpoint", "weights file")."""
    if not path.is_file():
        raise CheckpointError(f"{path}: {what} not found")
    check_torch_file(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except KeyError:  # the legacy unpickler on bytes that are no pickle
        raise CheckpointError(f"{path}: {NOT_TORCH}") from None
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path}: refused to load: the file contains pickled Python objects "
            f"(code could run); {allowed}"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise CheckpointError(f"{path}: not a readable {what} ({reason})") from None


def _from_schema_1(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 (geoseg ≤ 0.1: ``version`` 1, no ``schema``) → 2: the optional fields
    every reader looked up with defaults are present, with their defaults."""
    data = {k: v for k, v in data.items() if k != "version"}
    for key, default in (
        ("model_kwargs", {}),
        ("predict_defaults", {}),
        ("metrics", {}),
        ("bands", None),
        ("imagery", None),
        ("tile", None),
        ("threshold", None),
        ("config", None),
        ("epoch", None),
        ("created", None),
        ("geoseg_version", None),
    ):
        data.setdefault(key, default)
    if data.get("bands") is not None and isinstance(data["bands"], tuple):
        data["bands"] = list(data["bands"])
    data["schema"] = 2
    return data


# schema N → N + 1, one function each; a new schema adds one entry
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _from_schema_1}


def upgrade(data: dict[str, Any], where: str) -> tuple[dict[str, Any], int]:
    """`data` (a checkpoint file's dict) upgraded to :data:`SCHEMA`, and the schema it had."""
    schema = data.get("schema", 1)  # files before the schema field are schema 1
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        raise CheckpointError(f"{where}: checkpoint schema {schema!r} is not a version number")
    if schema > SCHEMA:
        raise CheckpointError(
            f"{where}: checkpoint schema {schema} is newer than this geoseg ({__version__}) "
            f"reads (up to {SCHEMA}); upgrade geoseg to use it"
        )
    found = schema
    while schema < SCHEMA:
        data = UPGRADES[schema](data)
        schema += 1
    return data, found


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> Checkpoint:
    """Load a checkpoint safely (``weights_only=True``), upgrade an older schema and check
    it is geoseg's and usable (:func:`geoseg.checkpoint_checks.validate_checkpoint`).
    A ``.onnx`` file (``geoseg export``) gives its metadata as a Checkpoint without weights."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        return Checkpoint.from_dict(load_onnx_checkpoint(path), str(path))
    data = safe_torch_load(
        path, "checkpoint", map_location, "geoseg checkpoints hold only tensors and plain values"
    )
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a geoseg checkpoint")
    data, found = upgrade(data, str(path))
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise CheckpointError(f"{path}: checkpoint is missing {', '.join(missing)}")
    validate_checkpoint(data, str(path))  # finite weights, threshold, arch, bands (rule 7)
    ckpt = Checkpoint.from_dict(data, str(path))
    ckpt.upgraded_from = found if found < SCHEMA else None
    return ckpt


def model_from_checkpoint(ckpt: Checkpoint, expect_arch: str | None = None) -> torch.nn.Module:
    """Rebuild the network of a loaded checkpoint (random init, then its weights)."""
    if expect_arch is not None and ckpt.arch != expect_arch:
        raise CheckpointError(
            f"{ckpt.where}: checkpoint is a {ckpt.arch} model, not {expect_arch} as requested"
        )
    if ckpt.onnx:  # an exported model runs through onnxruntime
        return OnnxModel(ckpt.onnx, {**ckpt.to_dict(), "_session": ckpt.session})
    model = create_model(
        ckpt.arch,
        ckpt.backbone,
        in_channels=ckpt.in_channels,
        encoder_weights=None,
        **ckpt.model_kwargs,
    )
    weights = ckpt.state_dict or {}
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    if missing or unexpected:
        first = (missing or unexpected)[0]
        raise CheckpointError(
            f"{ckpt.where}: weights are for another architecture/backbone than "
            f"{ckpt.arch}/{ckpt.backbone} ({len(missing)} keys missing, {len(unexpected)} "
            f"unexpected, first: {first})"
        )
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        first = lines[1] if len(lines) > 1 and lines[0].endswith(":") else lines[0]
        raise CheckpointError(f"{ckpt.where}: weights do not fit the model ({first})") from None
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
