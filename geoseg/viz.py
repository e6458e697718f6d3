"""Quick-look images: a scene with a road mask overlaid, as a small PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geoseg.io.files import atomic_output

ROAD_RGB = (255, 40, 40)


def stretch_rgb(image: np.ndarray) -> np.ndarray:
    """(C,H,W) any dtype -> (H,W,3) uint8, each band stretched between its 2nd and 98th
    percentile (1–2 bands: the first band as grey; ≥3 bands: the first three)."""
    bands = image[:3] if image.shape[0] >= 3 else image[:1].repeat(3, axis=0)
    out = np.empty((*bands.shape[1:], 3), np.uint8)
    for i, band in enumerate(bands.astype(np.float32)):
        finite = band[np.isfinite(band)]
        lo, hi = np.percentile(finite, (2, 98)) if finite.size else (0.0, 1.0)
        scaled = (np.nan_to_num(band, nan=lo) - lo) / max(hi - lo, 1e-6)
        out[..., i] = np.clip(scaled * 255, 0, 255).astype(np.uint8)
    return out


def _downsample(array: np.ndarray, max_size: int) -> np.ndarray:
    """Nearest-neighbour decimation of the last two axes to at most `max_size`."""
    h, w = array.shape[-2:]
    step = max(1, int(np.ceil(max(h, w) / max_size)))
    return array[..., ::step, ::step]


def overlay_png(
    image: np.ndarray, mask: np.ndarray, path: str | Path, max_size: int = 1024, alpha: float = 0.6
) -> Path:
    """Write `image` (C,H,W) with road pixels of `mask` (H,W, nonzero = road) tinted red."""
    from PIL import Image

    if image.shape[-2:] != mask.shape[-2:]:
        raise ValueError(f"image {image.shape[-2:]} and mask {mask.shape[-2:]} differ in size")
    rgb = stretch_rgb(_downsample(image, max_size)).astype(np.float32)
    road = _downsample(mask, max_size).astype(bool)
    rgb[road] = (1 - alpha) * rgb[road] + alpha * np.asarray(ROAD_RGB, np.float32)
    path = Path(path)
    with atomic_output(path) as tmp:
        Image.fromarray(rgb.round().astype(np.uint8), "RGB").save(tmp, format="PNG")
    return path
