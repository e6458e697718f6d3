"""Honest learning check on real roads: geoseg's recipe vs a plain smp loop, same budget.

Data: the 80 real aerial tiles of ``../shared/realdata/eth_cil_400`` (400x400 RGB,
roads >= 128 in the grey ground truth), split once with a fixed seed into 64 for
training and 16 held out.  Each contender trains for the same wall-clock budget
(``--minutes``, default 15) — both at the same time, one torch thread each, so the
shared machine's load hits them alike — on the same 64 tiles with the same batch size, crop size
and learning rate, from random initialisation (no pretrained weights: no network):

- **geoseg**: ``train_model`` with D-LinkNet-ResNet34 and its recipe for a fixed
  budget: DeepGlobe folder dataset, the 8 lossless flips/rotations
  (``train.augment: flips``), BCE + Dice, cosine learning rate annealed over the
  wall-clock budget, mixed precision where the hardware has it (bf16 on CPUs with
  AMX/AVX512-BF16; ``--geoseg-fp32`` turns it off).  Like smp it sees all 64 tiles and
  predicts at threshold 0.5 (no validation data: the checkpoint kept is the one with
  the lowest training loss, checked every 5 epochs and at the end).  ``--geoseg-val N``
  instead holds out N of the 64 for validation (its time counts against the budget)
  and keeps the checkpoint and threshold that score best on them;
- **smp**: ``segmentation_models_pytorch.Linknet("resnet34")`` trained by a plain
  loop: random crops, BCE + Dice, Adam, no augmentation, threshold 0.5.

Both are then scored on the 16 held-out tiles at full size: accumulated IoU (one
confusion matrix over all tiles, DeepGlobe's convention) and mean per-tile IoU.

    python benchmarks/real_learning.py --minutes 15
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(3, 1, 1)


def load_tile(eth: Path, i: int) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(Image.open(eth / "images" / f"satImage_{i:03d}.png").convert("RGB"))
    truth = np.asarray(Image.open(eth / "groundtruth" / f"satImage_{i:03d}.png"))
    if truth.ndim == 3:
        truth = truth[..., 0]
    return np.moveaxis(image, -1, 0), (truth >= 128).astype(np.uint8)


def split(seed: int = 0) -> tuple[list[int], list[int]]:
    ids = np.random.default_rng(seed).permutation(np.arange(1, 81)).tolist()
    return sorted(ids[:64]), sorted(ids[64:])


def confusion(prob: np.ndarray, truth: np.ndarray, threshold: float) -> np.ndarray:
    pred, true = prob >= threshold, truth > 0
    return np.array([(pred & true).sum(), (pred & ~true).sum(), (~pred & true).sum()])


def score(counts: list[np.ndarray]) -> dict[str, float]:
    tp, fp, fn = np.sum(counts, axis=0)
    per_tile = [c[0] / max(c.sum(), 1) for c in counts]
    return {
        "iou": tp / max(tp + fp + fn, 1),
        "mean_iou": float(np.mean(per_tile)),
        "precision": tp / max(tp + fp, 1),
        "recall": tp / max(tp + fn, 1),
    }


@torch.no_grad()
def predict(model, image: np.ndarray, pad_to: int = 32, tta=None) -> np.ndarray:
    """Probability map of a full tile (reflect-padded to a multiple of 32 for smp).

    `tta`: a geoseg ``TilePredictor`` (test-time augmentation, its precision) to run
    the padded tile through instead of a plain fp32 forward pass."""
    x = torch.from_numpy((image.astype(np.float32) / 255.0 - MEAN) / STD)[None]
    h, w = x.shape[-2:]
    x = F.pad(x, (0, (-w) % pad_to, 0, (-h) % pad_to), mode="reflect")
    if tta is not None:
        return tta(x.numpy())[0, :h, :w]
    out = model(x)
    return torch.sigmoid(out[..., :h, :w])[0, 0].numpy()


def evaluate(model, eth: Path, ids, threshold: float, tta=None) -> list[np.ndarray]:
    counts = []
    for i in ids:
        image, truth = load_tile(eth, i)
        counts.append(confusion(predict(model, image, tta=tta), truth, threshold))
    return counts


def run_geoseg(eth: Path, train_ids, test_ids, args, work: Path) -> dict:
    from geoseg.checkpoint import load_checkpoint, model_from_checkpoint
    from geoseg.config import config_from_dict
    from geoseg.train import train_model

    folder = work / "eth_deepglobe"
    folder.mkdir()
    for i in train_ids:
        (folder / f"{i:03d}_sat.png").symlink_to(eth / "images" / f"satImage_{i:03d}.png")
        (folder / f"{i:03d}_mask.png").symlink_to(eth / "groundtruth" / f"satImage_{i:03d}.png")
    cfg = config_from_dict(
        {
            "model": {"arch": "dlinknet", "backbone": "resnet34"},
            "data": {
                "deepglobe": str(folder),
                "tile": args.crop,
                "batch_size": args.batch,
                "val_scenes": [f"{i:03d}" for i in train_ids[len(train_ids) - args.geoseg_val :]]
                if args.geoseg_val
                else [],
                "val_fraction": 0.0,
            },
            "train": {
                "epochs": 10_000,
                "lr": args.lr,
                "schedule": "cosine",
                "augment": "flips",
                "val_every": 5,
                "amp": not args.geoseg_fp32,
                "max_minutes": args.minutes,
                "seed": args.seed,
            },
        },
        "real_learning",
    )
    from geoseg.device import amp_dtype

    precision = str(amp_dtype(torch.device("cpu")) or torch.float32).replace("torch.", "")
    if args.geoseg_fp32:
        precision = "float32"
    t = time.perf_counter()
    result = train_model(cfg, models_dir=work / "models", out_dir=work / "run", device="cpu")
    trained = time.perf_counter() - t
    ckpt = load_checkpoint(result.checkpoint_path)
    model = model_from_checkpoint(ckpt).eval()
    counts = evaluate(model, eth, test_ids, ckpt.threshold)
    from geoseg.inference.predictor import TilePredictor

    d4 = TilePredictor(model, torch.device("cpu"), tta="d4")  # `geoseg predict --tta d4`
    tta_counts = evaluate(model, eth, test_ids, ckpt.threshold, tta=d4)
    steps = load_checkpoint(work / "run" / "last.pt").training.step
    name = f"geoseg dlinknet-r34 {precision}" + (
        f" val{args.geoseg_val}" if args.geoseg_val else ""
    )
    return {
        "name": name,
        "steps": steps,
        "seconds": trained,
        "epochs": len(result.history),
        "threshold": ckpt.threshold,
        **score(counts),
        "tta": score(tta_counts),
    }


def run_smp(eth: Path, train_ids, test_ids, args) -> dict:
    import segmentation_models_pytorch as smp

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = smp.Linknet("resnet34", encoder_weights=None, classes=1)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    dice = smp.losses.DiceLoss("binary")
    bce = torch.nn.BCEWithLogitsLoss()
    tiles = [load_tile(eth, i) for i in train_ids]
    model.train()
    steps, t = 0, time.perf_counter()
    deadline = t + 60.0 * args.minutes
    while time.perf_counter() < deadline:
        xs, ys = [], []
        for k in rng.integers(0, len(tiles), args.batch):
            image, truth = tiles[k]
            r, c = rng.integers(0, 400 - args.crop + 1, 2)
            xs.append((image[:, r : r + args.crop, c : c + args.crop] / 255.0 - MEAN) / STD)
            ys.append(truth[None, r : r + args.crop, c : c + args.crop])
        x = torch.from_numpy(np.stack(xs).astype(np.float32))
        y = torch.from_numpy(np.stack(ys).astype(np.float32))
        logits = model(x)
        loss = bce(logits, y) + dice(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    trained = time.perf_counter() - t
    model.eval()
    counts = evaluate(model, eth, test_ids, 0.5)
    return {
        "name": "smp Linknet(r34) float32",
        "steps": steps,
        "seconds": trained,
        "epochs": None,
        "threshold": 0.5,
        **score(counts),
    }


def run_one(which: str, args) -> dict:
    """Train and score one contender in this process (one torch thread)."""
    torch.set_num_threads(args.threads)
    eth = args.realdata / "eth_cil_400"
    train_ids, test_ids = split(args.seed)
    if which == "smp":
        return run_smp(eth, train_ids, test_ids, args)
    with tempfile.TemporaryDirectory() as work:
        return run_geoseg(eth, train_ids, test_ids, args, Path(work))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=15.0, help="training budget per model")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop", type=int, default=256, help="training crop size (px)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per contender")
    ap.add_argument("--realdata", type=Path, default=REALDATA)
    ap.add_argument(
        "--geoseg-fp32",
        action="store_true",
        help="geoseg without mixed precision (fp32, like the smp loop)",
    )
    ap.add_argument(
        "--geoseg-val",
        type=int,
        default=0,
        metavar="N",
        help="hold out N of geoseg's 64 training tiles for validation",
    )
    ap.add_argument("--only", choices=["geoseg", "smp"], help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    eth = args.realdata / "eth_cil_400"
    if not eth.is_dir():
        raise SystemExit(f"{eth}: not found (the real-data folder is needed for this benchmark)")
    if args.only:
        args.json.write_text(json.dumps(run_one(args.only, args)))
        return
    train_ids, test_ids = split(args.seed)
    print(
        f"eth_cil_400: {len(train_ids)} training / {len(test_ids)} held-out tiles; budget "
        f"{args.minutes:g} min per model; batch {args.batch}, crops {args.crop} px, "
        f"lr {args.lr:g}; both contenders train at the same time, {args.threads} torch "
        "thread(s) each, so machine load hits them alike\n"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        procs = {}
        for which in ("geoseg", "smp"):
            out = Path(tmp) / f"{which}.json"
            cmd = [
                sys.executable,
                __file__,
                "--only",
                which,
                "--json",
                str(out),
                "--minutes",
                str(args.minutes),
                "--batch",
                str(args.batch),
                "--crop",
                str(args.crop),
                "--lr",
                str(args.lr),
                "--seed",
                str(args.seed),
                "--threads",
                str(args.threads),
                "--realdata",
                str(args.realdata),
            ]
            cmd += ["--geoseg-fp32"] if args.geoseg_fp32 else []
            cmd += ["--geoseg-val", str(args.geoseg_val)]
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
            procs[which] = (subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL), out)
        for which, (proc, out) in procs.items():
            if proc.wait() != 0:
                raise SystemExit(f"{which} run failed (exit code {proc.returncode})")
            rows.append(json.loads(out.read_text()))
    tta = rows[0].pop("tta")  # the same geoseg model, predicted with 8-view TTA
    rows.insert(1, {**rows[0], **tta, "name": rows[0]["name"] + " +TTA d4"})
    print(
        f"{'model':<38} {'steps':>6} {'train s':>8} {'thr':>5} {'held-out IoU':>13} "
        f"{'mean IoU':>9} {'P':>6} {'R':>6}"
    )
    for r in rows:
        print(
            f"{r['name']:<38} {r['steps']:>6} {r['seconds']:>8.0f} {r['threshold']:>5.2f} "
            f"{r['iou']:>13.4f} {r['mean_iou']:>9.4f} {r['precision']:>6.3f} "
            f"{r['recall']:>6.3f}"
        )
    print()
    for r in rows[:2]:
        verdict = ">=" if r["iou"] >= rows[2]["iou"] else "<"
        print(
            f"held-out accumulated IoU: {r['name']} {verdict} smp "
            f"({r['iou']:.4f} vs {rows[2]['iou']:.4f})"
        )


if __name__ == "__main__":
    main()
