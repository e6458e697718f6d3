"""Quick-look PNGs: a scene with a road mask (or probabilities) drawn over it.

Used for the sample-data preview and by ``geoseg predict --preview``.  Works for any
``(bands, H, W)`` image: uint8 RGB is shown as is, other dtypes and band counts are
stretched (2nd-98th percentile of the valid pixels of the shown bands) and the first three bands
(or the ones named by `rgb`) are shown as red, green, blue.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from geoseg.errors import BandMismatchError
from geoseg.io.files import atomic_output
from geoseg.io.provenance import software

ROAD_COLOUR = (255, 40, 40)


def to_display(
    image: np.ndarray, rgb: tuple[int, ...] | None = None, valid: np.ndarray | None = None
) -> np.ndarray:
    """(bands, H, W) image -> (H, W, 3) uint8 for display."""
    if image.ndim != 3:
        raise BandMismatchError(f"preview: expected a (bands, rows, cols) image, got {image.shape}")
    n = image.shape[0]
    idx = list(rgb) if rgb is not None else ([0, 1, 2] if n >= 3 else [0, 0, 0])
    if max(idx) >= n:
        raise BandMismatchError(f"preview: band {max(idx) + 1} asked for, image has {n}")
    sel = image[idx]
    if sel.dtype == np.uint8:
        return np.moveaxis(sel, 0, -1).copy()
    # one stretch for all three bands (2nd-98th percentile) keeps the colour balance
    sel = sel.astype(np.float32)
    data = sel[:, valid] if valid is not None and valid.any() else sel.reshape(len(idx), -1)
    lo, hi = np.percentile(data, [2, 98]) if data.size else (0.0, 1.0)
    out = np.clip((sel - lo) / max(float(hi - lo), 1e-6) * 255.0, 0, 255).astype(np.uint8)
    return np.moveaxis(out, 0, -1)


def _fraction(mask: np.ndarray) -> np.ndarray:
    """A mask (0/1, 0/255 or probabilities 0..1) as float coverage 0..1."""
    m = mask.astype(np.float32)
    if np.issubdtype(mask.dtype, np.integer) and mask.size and mask.max() > 1:
        m /= 255.0
    return np.clip(np.nan_to_num(m), 0.0, 1.0)


def overlay_png(
    image: np.ndarray,
    mask: np.ndarray,
    path: str | Path,
    max_size: int = 1024,
    *,
    rgb: tuple[int, ...] | None = None,
    valid: np.ndarray | None = None,
    colour: tuple[int, int, int] = ROAD_COLOUR,
    alpha: float = 0.6,
    side_by_side: bool = False,
) -> Path:
    """Write a PNG of `image` with `mask` tinted in `colour`, at most `max_size` px wide/high.

    `mask` is (H, W): 0/1, 0/255 or probabilities in 0..1 (drawn with matching opacity).
    Downsampling averages pixels (thin roads stay visible as fainter lines).  `valid`
    (H, W bool) keeps nodata out of the contrast stretch.  With `side_by_side` the plain
    image is put left of the overlay.  Returns the path.
    """
    if mask.shape != image.shape[1:]:
        raise BandMismatchError(
            f"{path}: mask shape {mask.shape} does not match image shape {image.shape[1:]}"
        )
    h, w = mask.shape
    scale = min(1.0, max_size / max(h, w * (2 if side_by_side else 1)))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    base = Image.fromarray(to_display(image, rgb, valid)).resize(size, Image.Resampling.BOX)
    cover = Image.fromarray((_fraction(mask) * 255).astype(np.uint8))
    cover = np.asarray(cover.resize(size, Image.Resampling.BOX), np.float32) / 255.0
    a = (alpha * np.clip(cover * 1.5, 0, 1))[..., None]
    plain = np.asarray(base, np.float32)
    tinted = (plain * (1 - a) + np.array(colour, np.float32) * a).round().astype(np.uint8)
    out = np.concatenate([plain.astype(np.uint8), tinted], axis=1) if side_by_side else tinted
    save_png(Image.fromarray(out), path, "preview")
    return Path(path)


def save_png(image, path: str | Path, kind: str) -> Path:
    """Save a PIL image as a verified, atomically written PNG tagged as geoseg's `kind`."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", software(kind))

    def verify(tmp: Path) -> None:
        with Image.open(tmp) as im:
            im.load()

    with atomic_output(path, kind=kind, verify=verify) as tmp:
        image.save(tmp, format="PNG", optimize=True, pnginfo=info)
    return Path(path)


def save_figure(fig, path: str | Path, kind: str, **kwargs) -> Path:
    """Save a matplotlib figure as a verified PNG tagged as geoseg's `kind`."""

    def verify(tmp: Path) -> None:
        with Image.open(tmp) as im:
            im.load()

    with atomic_output(path, kind=kind, verify=verify) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": software(kind)}, **kwargs)
    return Path(path)
