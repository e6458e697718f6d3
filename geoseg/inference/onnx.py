"""Predict with an exported ONNX model through onnxruntime.

:func:`load_onnx_checkpoint` reads the geoseg metadata that ``geoseg export`` stores in
the model (arch, backbone, bands, normaliser, threshold, tile, TTA default) into the same
dict a checkpoint loads as, so ``geoseg predict --model model.onnx`` resolves bands,
normaliser and defaults exactly as for a ``.pt`` file.  :class:`OnnxModel` is the network:
a module-like adapter that the torch predictor calls like any model (a float tensor
(B, C, H, W) in, logits (B, 1, H, W) out), so tiling, TTA, stitching, nodata and the
outputs are the torch path's own.  It runs on the CPU, or with onnxruntime's
CUDAExecutionProvider when the predictor's device is CUDA and the installed onnxruntime
has it (``onnxruntime-gpu``).  The graph is fp32: ``--amp`` does not apply.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from geoseg.errors import CheckpointError, ModelError, naming

ONNX_FORMAT = "geoseg.onnx"
INPUT_NAME, OUTPUT_NAME = "image", "logits"
# metadata_props that hold JSON (the others are plain strings)
JSON_KEYS = (
    "in_channels",
    "bands",
    "normalizer",
    "threshold",
    "tile",
    "predict_defaults",
    "model_kwargs",
    "source",
)


def _ort():
    try:
        import onnxruntime  # optional dependency (onnx extra)
    except ImportError:
        raise ModelError(
            "ONNX models need onnxruntime: pip install 'geoseg[onnx]' (or onnxruntime)"
        ) from None
    return onnxruntime


def providers_for(device) -> list[str]:
    """CUDAExecutionProvider first when `device` is CUDA and onnxruntime has it."""
    available = _ort().get_available_providers()
    if getattr(device, "type", str(device)) == "cuda" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _session(path: Path, providers: list[str]):
    ort = _ort()
    try:
        return ort.InferenceSession(str(path), providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable ONNX model ({reason})") from None


def load_onnx_checkpoint(path: str | Path) -> dict[str, Any]:
    """The geoseg metadata of an exported model, shaped like a loaded checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: ONNX model not found")
    session = _session(path, ["CPUExecutionProvider"])
    meta = dict(session.get_modelmeta().custom_metadata_map)
    if meta.get("format") != ONNX_FORMAT:
        raise CheckpointError(
            f"{path}: ONNX model without geoseg metadata (export checkpoints with `geoseg export`)"
        )
    data: dict[str, Any] = {}
    for key, value in meta.items():
        if key in JSON_KEYS:
            try:
                data[key] = json.loads(value)
            except json.JSONDecodeError:
                raise CheckpointError(f"{path}: metadata {key!r} is not valid JSON") from None
        else:
            data[key] = value
    missing = [k for k in ("arch", "backbone", "in_channels", "normalizer") if k not in data]
    if missing:
        raise CheckpointError(f"{path}: ONNX metadata is missing {', '.join(missing)}")
    _check_input_channels(path, session, data["in_channels"])
    data.update({"onnx": str(path), "path": str(path), "state_dict": None, "_session": session})
    return data


def input_dims(session) -> list[int | None]:
    """The graph input's (batch, channels, rows, columns): a number where it is fixed,
    None where it is free (a named or unknown dimension)."""
    shape = session.get_inputs()[0].shape
    return [d if isinstance(d, int) and d > 0 else None for d in shape]


def _check_input_channels(path: Path, session, in_channels: Any) -> None:
    dims = input_dims(session)
    if len(dims) != 4:
        raise CheckpointError(
            f"{path}: the model's input has {len(dims)} dimensions, not 4 "
            "(batch, bands, rows, columns)"
        )
    if dims[1] is not None and dims[1] != in_channels:
        raise CheckpointError(
            f"{path}: the model takes {dims[1]} input channel(s) but its geoseg metadata "
            f"says {in_channels}"
        )


def check_tile(module: Any, tile: int) -> None:
    """Refuse, before any work, a `tile` that an ONNX model with fixed input rows and
    columns cannot take (anything else passes)."""
    if not isinstance(module, OnnxModel):
        return
    rows, cols = input_dims(module.session())[2:]
    if (rows is not None and rows != tile) or (cols is not None and cols != tile):
        size = f"{rows or 'any'}×{cols or 'any'}"
        use = f"; use tile={rows}" if rows is not None and rows == cols else ""
        raise naming(
            ModelError(
                f"{module.path}: the model takes fixed {size} inputs (tile={tile} given{use})"
            ),
            "tile",
        )


class OnnxModel(nn.Module):
    """An onnxruntime session that the torch predictor can call like a module."""

    def __init__(self, path: str | Path, ckpt: dict[str, Any] | None = None) -> None:
        super().__init__()
        ckpt = ckpt or load_onnx_checkpoint(path)
        self.path = Path(path)
        self.arch, self.backbone = ckpt["arch"], ckpt["backbone"]
        self.in_channels = int(ckpt["in_channels"])
        self.norm_mean = list(ckpt["normalizer"]["mean"])
        self.norm_std = list(ckpt["normalizer"]["std"])
        self.model_kwargs = dict(ckpt.get("model_kwargs") or {})
        self._device = torch.device("cpu")
        self._sessions: dict[tuple[str, ...], Any] = {}
        if ckpt.get("_session") is not None:
            self._sessions[("CPUExecutionProvider",)] = ckpt["_session"]

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any]) -> "OnnxModel":
        return cls(ckpt["onnx"], ckpt)

    def to(self, *args, **kwargs) -> "OnnxModel":
        device = torch._C._nn._parse_to(*args, **kwargs)[0]
        if device is not None:
            self._device = torch.device(device)
        return self

    @property
    def providers(self) -> list[str]:
        return providers_for(self._device)

    def session(self):
        key = tuple(self.providers)
        if key not in self._sessions:
            self._sessions[key] = _session(self.path, list(key))
        return self._sessions[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        images = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        session = self.session()
        batch, _, rows, cols = input_dims(session)
        h, w = images.shape[2:]
        if (rows or h) < h or (cols or w) < w:
            raise ModelError(
                f"{self.path}: the model takes fixed {rows}×{cols} inputs, not {h}×{w}"
            )
        if (rows or h, cols or w) != (h, w):  # smaller (a probe): zero-padded, then cropped
            pad = ((0, 0), (0, 0), (0, (rows or h) - h), (0, (cols or w) - w))
            images = np.pad(images, pad)
        logits = self._run(session, images, batch)[:, :, :h, :w]
        return torch.from_numpy(np.ascontiguousarray(logits)).to(x.device)

    @staticmethod
    def _run(session, images: np.ndarray, batch: int | None) -> np.ndarray:
        """`images` through `session`; a graph exported for a fixed batch runs in chunks."""
        if batch is None or batch == len(images):
            (logits,) = session.run([OUTPUT_NAME], {INPUT_NAME: images})
        else:
            parts = []
            for start in range(0, len(images), batch):
                chunk = images[start : start + batch]
                pad = batch - len(chunk)
                if pad:
                    chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
                parts.append(session.run([OUTPUT_NAME], {INPUT_NAME: chunk})[0][: batch - pad])
            logits = np.concatenate(parts)
        return logits
