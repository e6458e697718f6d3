"""Forward time per tile of the seed models on this machine, and geoseg's LinkNet-ResNet34
against segmentation_models_pytorch's ``Linknet("resnet34")`` in the same run.

    PYTHONPATH=. python benchmarks/models.py [--size 512] [--repeats 5] [--threads N]
                                             [--channels-last] [--pair-only]

Models are timed interleaved (A, B, A, B, ...) after one warm-up pass each, so a busy
machine slows every row alike; the table shows the median and the minimum of the
repeats.  The ratio goal is geoseg/smp <= 1.10.  smp is a benchmark-only dependency
(the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from geoseg.models import count_parameters, create_model

SEED_MODELS = [
    ("unet", "vgg16"),
    ("linknet", "resnet34"),
    ("dlinknet", "resnet34"),
    ("adlinknet", "resnet34"),
    ("adlinknet", "resnet101"),
    ("adlinknet", "xception"),
]
SMP_NAME = "smp Linknet(resnet34)"


def build(channels_last: bool, pair_only: bool = False) -> dict[str, torch.nn.Module]:
    import segmentation_models_pytorch as smp

    seeds = [("linknet", "resnet34")] if pair_only else SEED_MODELS
    models = {f"{a}-{b}": create_model(a, b) for a, b in seeds}
    models[SMP_NAME] = smp.Linknet("resnet34", encoder_weights=None, classes=1)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return {k: m.eval().to(memory_format=fmt) for k, m in models.items()}


def gflops(model: torch.nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() / 1e9


def time_all(models: dict[str, torch.nn.Module], x: torch.Tensor, repeats: int):
    times: dict[str, list[float]] = {k: [] for k in models}
    with torch.inference_mode():
        for m in models.values():  # warm-up: oneDNN primitive creation, allocator
            m(x)
        for _ in range(repeats):
            for name, m in models.items():
                t0 = time.perf_counter()
                m(x)
                times[name].append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--pair-only", action="store_true", help="only LinkNet-ResNet34 vs smp")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(1, 3, args.size, args.size)
    if args.channels_last:
        x = x.to(memory_format=torch.channels_last)
    models = build(args.channels_last, args.pair_only)
    times = time_all(models, x, args.repeats)

    print(
        f"forward, batch 1, {args.size}x{args.size}, {torch.get_num_threads()} threads, "
        f"{'channels_last' if args.channels_last else 'NCHW'}, {args.repeats} interleaved runs"
    )
    print(f"{'model':<24} {'params M':>9} {'GFLOPs':>8} {'median ms':>10} {'min ms':>8}")
    for name, model in models.items():
        t = times[name]
        print(
            f"{name:<24} {count_parameters(model) / 1e6:>9.2f} {gflops(model, x):>8.1f} "
            f"{statistics.median(t) * 1e3:>10.0f} {min(t) * 1e3:>8.0f}"
        )
    ours, ref = times["linknet-resnet34"], times[SMP_NAME]
    median_ratio = statistics.median(ours) / statistics.median(ref)
    print(
        f"\nLinkNet-ResNet34 geoseg/smp time ratio: median {median_ratio:.2f}, "
        f"min {min(ours) / min(ref):.2f} (goal <= 1.10)"
    )


if __name__ == "__main__":
    main()
