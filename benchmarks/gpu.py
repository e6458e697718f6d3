"""CUDA checks and GPU speed in one short run: what a GPU user relies on.

1. **Train with AMP** (bf16 on Ampere/Hopper, else fp16 + GradScaler): ``configs/demo.yaml``
   on the sample scenes, ``train.amp: true``; validation IoU and wall time.
2. **Predict with AMP** on the held-out sample scene with that checkpoint, against the
   same checkpoint in fp32 on the CPU: largest/mean probability difference, masks that
   differ, and IoU against the truth for both (and d4 TTA on the GPU).
3. **Predict speed**: a synthetic ``--scene`` ² GeoTIFF through LinkNet-ResNet34 (tile
   512, ``--batch``) — end-to-end seconds vs the model's own time inside that run
   (CUDA-synchronised), and megapixels/s.  Then for each of ``--models`` and ``--tiles``:
   end-to-end MP/s (no synchronising wrapper: copies and compute overlap as in use) over
   network-only MP/s (the bare forward over as many tiles, on device-resident batches),
   goal ≥ 0.85, with the stage profile (read, prepare, H2D, compute, D2H, blend,
   convert, write, finish; on CUDA H2D/compute/D2H are CUDA-event times) and encode
   (the write time with DEFLATE minus that of an uncompressed run of the first model);
   with ``--compile`` also the torch.compile'd end-to-end (after a warm-up run that
   compiles).  3c: a batch of many small scenes with 1 and 2 scenes in flight.
4. **Training step vs segmentation_models_pytorch** on the GPU (``--train-batch`` ×
   512², AMP as the trainer runs it, and fp32): median step time and ratio.

    python benchmarks/gpu.py                 # needs CUDA; ~3 min on an H100
    python benchmarks/gpu.py --device cpu --quick   # checks the script itself on a CPU
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_amp(work: Path, device: str, epochs: int):
    from geoseg.demo import demo_config, sample_folder
    from geoseg.train import train_model

    sample = sample_folder(work)
    cfg = demo_config(REPO / "configs" / "demo.yaml", sample, epochs)
    cfg.train.amp = True
    t = time.perf_counter()
    result = train_model(cfg, models_dir=work / "models", out_dir=work / "run", device=device)
    seconds = time.perf_counter() - t
    print(
        f"\n1. train configs/demo.yaml on {device}, AMP, {epochs} epochs: {seconds:.1f} s, "
        f"best val IoU {result.best_metrics.get('val_iou', float('nan')):.4f} "
        f"(threshold {result.best_metrics.get('threshold', 0.5):.2f}); "
        f"loss {result.history[0]['train_loss']:.3f} -> {result.history[-1]['train_loss']:.3f}"
    )
    return sample, result.checkpoint_path


def predict_agreement(work: Path, sample: Path, checkpoint: Path, device: str) -> None:
    import rasterio

    from geoseg.evaluate import evaluate_pair
    from geoseg.predict import predict_scene

    scene, truth = sample / "holdout.tif", sample / "holdout_mask.tif"
    runs = {}
    for name, dev, tta, amp in (
        ("cpu fp32", "cpu", "none", False),
        (f"{device} amp", device, "none", True),
        (f"{device} amp d4", device, "d4", True),
    ):
        t = time.perf_counter()
        r = predict_scene(
            scene,
            checkpoint,
            work / name.replace(" ", "_"),
            tile=256,
            overlap=32,
            batch_size=8,
            tta=tta,
            device=dev,
            progress=False,
            float_output=True,
            amp=amp,
        )
        seconds = time.perf_counter() - t
        with rasterio.open(r.prob_path) as src:
            prob = src.read(1)
        with rasterio.open(r.mask_path) as src:
            mask = src.read(1) > 0
        iou = evaluate_pair(r.mask_path, truth).scores["iou"]
        runs[name] = (prob, mask, iou, seconds)
    ref_prob, ref_mask, _, _ = runs["cpu fp32"]
    print(
        f"\n2. predict holdout.tif ({ref_prob.shape[1]}x{ref_prob.shape[0]}) with that "
        "checkpoint, tile 256, float probabilities"
    )
    print(
        f"{'run':<16} {'seconds':>8} {'IoU vs truth':>13} {'max |dp|':>9} {'mean |dp|':>10} "
        f"{'mask px differ':>15}"
    )
    for name, (prob, mask, iou, seconds) in runs.items():
        diff = np.abs(prob.astype(np.float64) - ref_prob)
        print(
            f"{name:<16} {seconds:>8.2f} {iou:>13.4f} {diff.max():>9.4f} {diff.mean():>10.5f} "
            f"{int((mask != ref_mask).sum()):>8} ({(mask != ref_mask).mean():.4%})"
        )


def predict_speed(work: Path, size: int, batch: int, device: str) -> None:
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from predict import make_scene  # benchmarks/predict.py: block-written synthetic scene

    from geoseg.device import resolve_device
    from geoseg.models import create_model
    from geoseg.predict import predict_scene

    dev = resolve_device(device)
    scene = make_scene(work / f"speed_{size}.tif", size)
    model = create_model("linknet", "resnet34").eval()
    in_model: list[float] = []
    forward = model.forward

    def timed(x):
        sync(dev)
        t = time.perf_counter()
        y = forward(x)
        sync(dev)
        in_model.append(time.perf_counter() - t)
        return y

    model.forward = timed
    predict_scene(
        scene,
        model,
        work / "warm",
        tile=512,
        overlap=64,
        batch_size=batch,
        device=device,
        progress=False,
    )  # warm-up: cuDNN autotune, allocator
    in_model.clear()
    r = predict_scene(
        scene,
        model,
        work / "speed",
        tile=512,
        overlap=64,
        batch_size=batch,
        device=device,
        progress=False,
    )
    print(
        f"\n3. predict speed, {size}² uint8 RGB scene, LinkNet-ResNet34, tile 512, overlap "
        f"64, batch {batch}, {device}"
    )
    print(f"{'tiles':>6} {'end-to-end s':>13} {'in model s':>11} {'e2e/in model':>13} {'MP/s':>8}")
    print(
        f"{r.n_tiles:>6} {r.seconds:>13.2f} {sum(in_model):>11.2f} "
        f"{r.seconds / sum(in_model):>13.2f} {r.megapixels_per_s:>8.1f}"
    )


def network_only(model, dev, n_tiles: int, tile: int, batch: int) -> float:
    """Seconds for the bare forward (+ sigmoid) over `n_tiles` tiles, inputs already on
    the device, in predict's precision and memory format."""
    from geoseg.device import as_input, autocast, prepare_model

    model = prepare_model(model, dev).eval()
    x = as_input(torch.randn(batch, 3, tile, tile, device=dev))
    with torch.inference_mode(), autocast(dev):
        model(x)  # warm-up
        sync(dev)
        t = time.perf_counter()
        for i in range(0, n_tiles, batch):
            model(x[: min(batch, n_tiles - i)]).float().sigmoid()
        sync(dev)
    return time.perf_counter() - t


def pipeline_ratio(
    work: Path,
    size: int,
    batch: int,
    device: str,
    models: list[str],
    tiles: list[int],
    compile_too: bool = False,
) -> None:
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from predict import make_scene

    from geoseg.device import resolve_device
    from geoseg.models import create_model
    from geoseg.predict import predict_scene

    dev = resolve_device(device)
    scene = make_scene(work / f"ratio_{size}.tif", size)
    mp = size * size / 1e6
    print(
        f"\n3b. end-to-end vs network-only, {size}² uint8 RGB scene, overlap tile/8, batch "
        f"{batch}, {device} (goal e2e/net ≥ 0.85)"
    )
    print(
        f"{'model':<24} {'tile':>5} {'tiles':>6} {'e2e s':>7} {'e2e MP/s':>9} "
        f"{'net MP/s':>9} {'e2e/net':>8}"
    )
    profiles, uncompressed = [], {}
    for spec in models:
        arch, backbone = spec.split("/")
        model = create_model(arch, backbone).eval()
        for tile in tiles:
            kw = dict(tile=tile, overlap=tile // 8, batch_size=batch, device=device, progress=False)
            predict_scene(scene, model, work / "warm", **kw)  # cuDNN autotune, allocator
            r = predict_scene(scene, model, work / "ratio", **kw)
            if tile not in uncompressed:  # the encode share: DEFLATE vs none, same run
                none = predict_scene(scene, model, work / "none", compress="none", **kw)
                uncompressed[tile] = none.stages["write"]
            net = network_only(model, dev, r.n_tiles, tile, batch)
            net_mp = mp / net  # the scene's pixels at the network's own pace
            print(
                f"{spec:<24} {tile:>5} {r.n_tiles:>6} {r.seconds:>7.2f} "
                f"{r.megapixels_per_s:>9.2f} {net_mp:>9.2f} "
                f"{r.megapixels_per_s / net_mp:>8.3f}"
            )
            if compile_too:
                predict_scene(scene, model, work / "warm", compile=True, **kw)  # compiles
                c = predict_scene(scene, model, work / "compiled", compile=True, **kw)
                print(
                    f"{spec + ' compiled':<24} {tile:>5} {c.n_tiles:>6} {c.seconds:>7.2f} "
                    f"{c.megapixels_per_s:>9.2f} {net_mp:>9.2f} "
                    f"{c.megapixels_per_s / net_mp:>8.3f}"
                )
            profiles.append((f"{spec} tile {tile}", tile, r))
    for name, tile, r in profiles:
        stages = ", ".join(f"{k} {v:.2f}" for k, v in r.stages.items())
        encode = r.stages["write"] - uncompressed[tile]
        print(
            f"  stages of {name} ({r.seconds:.2f} s wall, busy s): {stages}; "
            f"encode ≈ {encode:.2f} (write with DEFLATE - uncompressed)"
        )


def scenes_in_flight(work: Path, n_scenes: int, size: int, batch: int, device: str) -> None:
    """3c: `run_batch` over many small scenes with 1 and 2 scenes in flight."""
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from predict import make_scene

    from geoseg.batch import run_batch
    from geoseg.checkpoint import save_checkpoint
    from geoseg.models import create_model
    from geoseg.normalize import Normalizer

    folder = work / "small"
    folder.mkdir(exist_ok=True)
    scenes = [make_scene(folder / f"s{i:03d}.tif", size) for i in range(n_scenes)]
    net = create_model("linknet", "resnet34")
    ckpt = save_checkpoint(
        work / "linknet34.pt",
        {
            "arch": "linknet",
            "backbone": "resnet34",
            "in_channels": 3,
            "normalizer": Normalizer.for_dtype("uint8", net.norm_mean, net.norm_std).to_dict(),
            "state_dict": net.state_dict(),
            "threshold": 0.5,
        },
    )
    print(
        f"\n3c. batch of {n_scenes} scenes of {size}², LinkNet-ResNet34, tile 512, batch "
        f"{batch}, {device}: scenes in flight"
    )
    print(f"{'in flight':>9} {'seconds':>8} {'MP/s':>8}")
    for n in (1, 2):
        r = run_batch(
            scenes,
            work / f"batch_{n}",
            ckpt,
            device=device,
            batch_size=batch,
            progress=False,
            scenes_in_flight=n,
        )
        print(f"{n:>9} {r.seconds:>8.2f} {r.megapixels_per_s:>8.1f}")


def train_steps(batch: int, tile: int, steps: int, device: str) -> None:
    import segmentation_models_pytorch as smp

    from geoseg.device import amp_dtype, as_input, autocast, prepare_model, resolve_device
    from geoseg.models import create_model
    from geoseg.train.losses import SegmentationLoss

    dev = resolve_device(device)
    print(
        f"\n4. training step, batch {batch} x {tile}², Adam, BCE + Dice, {device} "
        "(median of interleaved steps)"
    )
    print(f"{'model':<18} {'precision':<10} {'geoseg s':>9} {'smp s':>9} {'ratio':>6}")
    for (arch, backbone), smp_arch in (
        (("linknet", "resnet34"), "Linknet"),
        (("unet", "resnet34"), "Unet"),
    ):
        torch.manual_seed(0)
        models = {
            "geoseg": create_model(arch, backbone),
            "smp": getattr(smp, smp_arch)(backbone, encoder_weights=None, classes=1),
        }
        x = as_input(torch.randn(batch, 3, tile, tile, device=dev))
        y = (torch.rand(batch, 1, tile, tile, device=dev) > 0.9).float()
        for amp in (True, False):
            fns = {}
            for name, m in models.items():
                m = prepare_model(m, dev).train()
                opt = torch.optim.Adam(m.parameters(), lr=2e-4)
                fns[name] = _step(m, opt, SegmentationLoss(), x, y, dev, amp, autocast)
            for fn in fns.values():
                fn(), fn()  # warm-up
            times = {k: [] for k in fns}
            for _ in range(steps):
                for k, fn in fns.items():
                    times[k].append(fn())
            med = {k: statistics.median(v) for k, v in times.items()}
            label = str(amp_dtype(dev) if amp and amp_dtype(dev) else "float32")
            label = label.replace("torch.", "")
            print(
                f"{arch + '-' + backbone:<18} {label:<10} {med['geoseg']:>9.4f} "
                f"{med['smp']:>9.4f} {med['geoseg'] / med['smp']:>6.3f}"
            )


def _step(model, opt, loss_fn, x, y, dev, amp, autocast):
    def step() -> float:
        sync(dev)
        t = time.perf_counter()
        with autocast(dev, amp):
            loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync(dev)
        return time.perf_counter() - t

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, to check the script")
    ap.add_argument("--epochs", type=int, default=16)
    ap.add_argument("--scene", type=int, default=8192, help="predict-speed scene size (px)")
    ap.add_argument("--batch", type=int, default=16, help="predict batch")
    ap.add_argument("--train-batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--only", nargs="+", type=int, choices=[1, 2, 3, 4], default=[1, 2, 3, 4])
    ap.add_argument(
        "--models",
        nargs="+",
        default=["linknet/resnet34", "dlinknet/resnet34", "adlinknet/xception"],
        help="arch/backbone pairs for 3b",
    )
    ap.add_argument("--tiles", nargs="+", type=int, default=[512, 1024], help="tiles for 3b")
    ap.add_argument("--compile", action="store_true", help="3b: also torch.compile'd rows")
    ap.add_argument("--small-scenes", type=int, default=32, help="3c: scenes in the batch")
    ap.add_argument("--small-size", type=int, default=1024, help="3c: their size (px)")
    args = ap.parse_args()
    if args.quick:
        args.epochs, args.scene, args.batch, args.train_batch, args.steps = 1, 1024, 4, 2, 2
        args.models, args.tiles = args.models[:1], [256]
        args.small_scenes, args.small_size = 3, 256
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SystemExit(
                "CUDA is not available here (use --device cpu --quick to check the script)"
            )
        torch.backends.cudnn.benchmark = True
        print(
            f"{torch.cuda.get_device_name()}, torch {torch.__version__}, "
            f"CUDA {torch.version.cuda}, bf16 {torch.cuda.is_bf16_supported()}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if 1 in args.only or 2 in args.only:
            sample, checkpoint = train_amp(work, args.device, args.epochs)
            if 2 in args.only:
                predict_agreement(work, sample, checkpoint, args.device)
        if 3 in args.only:
            predict_speed(work, args.scene, args.batch, args.device)
            pipeline_ratio(
                work, args.scene, args.batch, args.device, args.models, args.tiles, args.compile
            )
            scenes_in_flight(work, args.small_scenes, args.small_size, args.batch, args.device)
    if 4 in args.only:
        train_steps(args.train_batch, 128 if args.quick else 512, args.steps, args.device)


if __name__ == "__main__":
    main()
