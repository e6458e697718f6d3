"""onnxruntime against torch on this CPU: megapixels per second on the same tiles.

    PYTHONPATH=. python benchmarks/onnx.py [--tile 512] [--batch 2] [--repeats 5]
    PYTHONPATH=. python benchmarks/onnx.py --quick      # 256² tiles, 3 repeats

Each model (random weights) is exported with ``geoseg.export.export_onnx`` and both
engines run through :class:`geoseg.inference.predictor.TilePredictor`, exactly as
``geoseg predict`` calls them (channels_last torch in fp32, ``--no-amp``; onnxruntime's
CPUExecutionProvider through :class:`geoseg.inference.onnx.OnnxModel`), on the same
normalised batch, interleaved (torch, onnx, torch, onnx ...) after a warm-up pass each,
so a busy machine slows both alike.  The table shows the median of the repeats and the
largest probability difference between the two.  A third column times torch with AMP, the
predict default (bf16 on CPUs that compute it natively, see ``geoseg.device.amp_dtype``;
elsewhere it equals fp32).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

# `python benchmarks/onnx.py` puts benchmarks/ first on sys.path, where this file would
# shadow the `onnx` package: drop that entry before anything imports onnx.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402
import torch  # noqa: E402

MODELS = [("linknet", "resnet34"), ("dlinknet", "resnet34"), ("unet", "vgg16")]
QUICK_MODELS = [("linknet", "resnet18"), ("dlinknet", "resnet34")]


def checkpoint(folder: Path, arch: str, backbone: str) -> Path:
    from geoseg.checkpoint import save_checkpoint
    from geoseg.models import create_model
    from geoseg.normalize import Normalizer

    torch.manual_seed(0)
    net = create_model(arch, backbone)
    norm = Normalizer.for_dtype("uint8", net.norm_mean, net.norm_std)
    return save_checkpoint(
        folder / f"{arch}_{backbone}.pt",
        {
            "arch": arch,
            "backbone": backbone,
            "in_channels": 3,
            "normalizer": norm.to_dict(),
            "model_kwargs": {},
            "state_dict": net.state_dict(),
            "tile": 512,
            "threshold": 0.5,
        },
    )


def bench(arch: str, backbone: str, tile: int, batch: int, repeats: int, folder: Path):
    from geoseg.checkpoint import load_checkpoint, model_from_checkpoint
    from geoseg.export import export_onnx
    from geoseg.inference.predictor import TilePredictor

    ckpt = checkpoint(folder, arch, backbone)
    onnx_path = export_onnx(ckpt, folder / f"{arch}_{backbone}.onnx", check_size=None).path
    cpu = torch.device("cpu")
    engines = {
        "torch": TilePredictor(model_from_checkpoint(load_checkpoint(ckpt)), cpu, amp=False),
        "onnx": TilePredictor(model_from_checkpoint(load_checkpoint(onnx_path)), cpu),
        "torch_amp": TilePredictor(model_from_checkpoint(load_checkpoint(ckpt)), cpu, amp=True),
    }
    x = np.random.default_rng(0).normal(size=(batch, 3, tile, tile)).astype(np.float32)
    probs = {name: run(x) for name, run in engines.items()}  # warm-up
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(repeats):
        for name, run in engines.items():
            t0 = time.perf_counter()
            run(x)
            times[name].append(time.perf_counter() - t0)
    mp = batch * tile * tile / 1e6
    rates = {name: mp / statistics.median(t) for name, t in times.items()}
    return rates, float(np.abs(probs["onnx"] - probs["torch"]).max())  # fp32 vs fp32


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="256² tiles, 3 repeats, 2 models")
    args = ap.parse_args()
    if args.quick:
        args.tile, args.repeats = 256, 3
    models = QUICK_MODELS if args.quick else MODELS
    import onnxruntime

    from geoseg.device import amp_dtype

    amp = amp_dtype(torch.device("cpu"))
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads, AMP dtype {amp}), onnxruntime "
        f"{onnxruntime.__version__}; tiles {args.batch}x{args.tile}², fp32, median of "
        f"{args.repeats}",
        file=sys.stderr,
    )
    header = (
        "model",
        "torch fp32 MP/s",
        "onnxruntime MP/s",
        "onnx/torch",
        "max |Δp|",
        "torch AMP MP/s",
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch, backbone in models:
            rates, diff = bench(arch, backbone, args.tile, args.batch, args.repeats, Path(tmp))
            rows.append(
                (
                    f"{arch}-{backbone}",
                    f"{rates['torch']:.3f}",
                    f"{rates['onnx']:.3f}",
                    f"{rates['onnx'] / rates['torch']:.2f}",
                    f"{diff:.1e}",
                    f"{rates['torch_amp']:.3f}",
                )
            )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])])
        )


if __name__ == "__main__":
    main()
