"""Training-step speed: geoseg vs segmentation_models_pytorch, and the data-loading share.

Part 1 — for each architecture with an smp equivalent, time one full training step
(forward, BCE + Dice loss, backward, Adam step) on the same random batch, geoseg's
model against smp's, interleaved round by round so machine load hits both alike.
Reports the median step time and the ratio geoseg / smp (goal: <= 1.10).

Part 2 — run geoseg's real input pipeline (windowed GeoTIFF reads, road-weighted
windows, augmentation, normalisation) for the sample scenes through a DataLoader and
report which share of an epoch's wall time is spent waiting for data.

    python benchmarks/train.py --batch 4 --tile 256 --steps 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from geoseg.models import create_model
from geoseg.train.losses import SegmentationLoss

REPO = Path(__file__).resolve().parents[1]
PAIRS = {  # geoseg (arch, backbone) -> smp constructor call
    "linknet-resnet34": (("linknet", "resnet34"), ("Linknet", "resnet34")),
    "unet-resnet34": (("unet", "resnet34"), ("Unet", "resnet34")),
    "linknet-resnet18": (("linknet", "resnet18"), ("Linknet", "resnet18")),
}


def _step_fn(model, batch, device):
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    loss_fn = SegmentationLoss()
    x, y = batch

    def step() -> float:
        t = time.perf_counter()
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t

    return step


def bench_steps(name: str, batch: int, tile: int, steps: int, device) -> dict:
    import segmentation_models_pytorch as smp

    (arch, backbone), (smp_arch, smp_backbone) = PAIRS[name]
    torch.manual_seed(0)
    ours = create_model(arch, backbone).to(device).train()
    theirs = getattr(smp, smp_arch)(smp_backbone, encoder_weights=None, classes=1).to(device)
    theirs.train()
    x = torch.randn(batch, 3, tile, tile, device=device)
    y = (torch.rand(batch, 1, tile, tile, device=device) > 0.9).float()
    fns = {"geoseg": _step_fn(ours, (x, y), device), "smp": _step_fn(theirs, (x, y), device)}
    for fn in fns.values():  # warm-up (allocator, oneDNN primitives)
        fn()
    times = {k: [] for k in fns}
    for _ in range(steps):
        for k, fn in fns.items():
            times[k].append(fn())
    med = {k: statistics.median(v) for k, v in times.items()}
    params = {
        k: sum(p.numel() for p in m.parameters()) / 1e6
        for k, m in (("geoseg", ours), ("smp", theirs))
    }
    return {
        "name": name,
        **{f"{k}_s": v for k, v in med.items()},
        "ratio": med["geoseg"] / med["smp"],
        "params": params,
    }


def bench_loading(batch: int, tile: int, batches: int, workers: int, device) -> dict:
    """Share of wall time spent waiting for batches from geoseg's training dataset."""
    from torch.utils.data import DataLoader

    from geoseg.config import DataConfig
    from geoseg.data import build_datasets

    sample = REPO / "sample_data"
    names = ["train_1", "train_2", "train_3"]
    data = DataConfig(
        scenes=[str(sample / f"{n}.tif") for n in names],
        masks=[str(sample / f"{n}_mask.tif") for n in names],
        tile=tile,
        samples_per_epoch=batch * batches,
        val_fraction=0.0,
    )
    model = create_model("linknet", "resnet34").to(device).train()
    built = build_datasets(data, mean=model.norm_mean, std=model.norm_std)
    loader = DataLoader(built.train, batch_size=batch, num_workers=workers, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    loss_fn = SegmentationLoss()
    wait = compute = 0.0
    t = time.perf_counter()
    for item in loader:
        t1 = time.perf_counter()
        wait += t1 - t
        loss = loss_fn(model(item["image"].to(device)), item["mask"].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        compute += t - t1
    return {
        "wait_s": wait,
        "compute_s": compute,
        "share": wait / (wait + compute),
        "per_batch_ms": 1000 * wait / batches,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--steps", type=int, default=5, help="timed steps per model")
    ap.add_argument(
        "--pairs", nargs="+", default=["linknet-resnet34", "unet-resnet34"], choices=sorted(PAIRS)
    )
    ap.add_argument("--loader-batches", type=int, default=8)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    print(
        f"device {device}, torch threads {torch.get_num_threads()}, batch {args.batch}, "
        f"tile {args.tile}, {args.steps} timed steps (median)\n"
    )
    print(
        f"{'model':<18} {'geoseg s/step':>14} {'smp s/step':>11} {'ratio':>6} "
        f"{'params M (geoseg/smp)':>22}"
    )
    for name in args.pairs:
        r = bench_steps(name, args.batch, args.tile, args.steps, device)
        print(
            f"{name:<18} {r['geoseg_s']:>14.3f} {r['smp_s']:>11.3f} {r['ratio']:>6.2f} "
            f"{r['params']['geoseg']:>10.2f} / {r['params']['smp']:.2f}"
        )
    r = bench_loading(args.batch, args.tile, args.loader_batches, args.workers, device)
    print(
        f"\ndata loading (sample scenes, linknet-resnet34, {args.workers} workers): "
        f"{r['per_batch_ms']:.0f} ms/batch waiting, {100 * r['share']:.1f} % of wall time "
        f"({r['wait_s']:.2f} s of {r['wait_s'] + r['compute_s']:.2f} s)"
    )


if __name__ == "__main__":
    main()
