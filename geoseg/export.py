"""Export a checkpoint to ONNX: ``geoseg export CKPT model.onnx``.

The graph takes ``image`` (batch, bands, height, width; all three dynamic, any height and
width: the model's pad-to-32 is part of the graph) normalised as the checkpoint says, and
returns ``logits`` (batch, 1, height, width); apply a sigmoid for probabilities.
AD-LinkNet is exported in eval mode: its inference graph only, no auxiliary heads.  The
model's ``metadata_props`` carry what prediction needs (``geoseg predict --model
model.onnx`` reads them): arch, backbone, in_channels, bands, normalizer, threshold,
tile, predict_defaults (tile/TTA), model_kwargs, source and geoseg_version (JSON values).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geoseg import __version__
from geoseg.checkpoint import Checkpoint, load_checkpoint, model_from_checkpoint
from geoseg.errors import ModelError
from geoseg.inference.onnx import INPUT_NAME, JSON_KEYS, ONNX_FORMAT, OUTPUT_NAME, _session
from geoseg.io.files import atomic_output

DEFAULT_OPSET = 17
TRACE_SIZE = 64  # traced once; height and width stay dynamic


@dataclass(frozen=True)
class ExportResult:
    path: Path
    opset: int
    max_abs_diff: float | None  # onnxruntime vs torch logits on a random check input
    check_size: int | None


def onnx_metadata(ckpt: Checkpoint) -> dict[str, str]:
    meta = {
        "format": ONNX_FORMAT,
        "arch": ckpt.arch,
        "backbone": ckpt.backbone,
        "geoseg_version": __version__,
    }
    for key in JSON_KEYS:  # every one a Checkpoint field
        value: Any = getattr(ckpt, key)
        if key == "threshold" and value is None:
            value = 0.5
        if value is not None or key in ("bands", "tile"):
            meta[key] = json.dumps(value)
    return meta


def export_onnx(
    checkpoint: str | Path | Checkpoint,
    out: str | Path,
    *,
    opset: int = DEFAULT_OPSET,
    check_size: int | None = 80,
) -> ExportResult:
    """Write `checkpoint` as an ONNX model to `out` (atomically).

    `check_size`: run onnxruntime and torch on one random ``check_size``² input (80 is
    deliberately not a multiple of 32) and report the largest logit difference; None
    skips the check.
    """
    try:
        import onnx  # optional dependency (onnx extra)
    except ImportError:
        raise ModelError("ONNX export needs onnx: pip install 'geoseg[onnx]'") from None
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    if ckpt.onnx:
        raise ModelError(f"{ckpt.where}: is already an ONNX model")
    if opset < 17:
        raise ModelError(f"opset {opset} is too old: use 17 or newer")
    model = model_from_checkpoint(ckpt).eval()
    channels = ckpt.in_channels
    example = torch.zeros(1, channels, TRACE_SIZE, TRACE_SIZE)
    axes = {0: "batch", 2: "height", 3: "width"}
    out = Path(out)
    with atomic_output(out, kind="onnx") as tmp:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer + TorchScript-exporter deprecation notes
            torch.onnx.export(
                model,
                (example,),
                str(tmp),
                dynamo=False,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes},
                do_constant_folding=True,
            )
        proto = onnx.load(str(tmp))
        del proto.metadata_props[:]
        for key, value in onnx_metadata(ckpt).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        proto.doc_string = (
            f"geoseg {ckpt.arch}/{ckpt.backbone}: normalised image "
            "(batch, bands, height, width) -> road logits (batch, 1, h, w)"
        )
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
        diff = _check(tmp, model, channels, check_size) if check_size else None
    return ExportResult(out, opset, diff, check_size)


def _check(path: Path, model, channels: int, size: int) -> float:
    x = torch.randn(1, channels, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = model(x).numpy()
    got = _session(path, ["CPUExecutionProvider"]).run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
    if got.shape != want.shape:
        raise ModelError(f"{path}: exported graph returned {got.shape}, torch {want.shape}")
    return float(np.abs(got - want).max())
