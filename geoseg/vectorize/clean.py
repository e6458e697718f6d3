"""Mask cleanup before skeletonization: drop small blobs, fill small holes.

Small blobs become stray line fragments and small holes (a car, a tree crown on the
road) become loops in the skeleton, so both are removed first.

Block processing: a block sees only part of the scene, so a component touching a *cut*
side of the block (a side inside the scene) may be larger than it looks there.  Such
blobs are kept and such background regions are not treated as holes; with a halo wider
than any small blob, every block then takes the same decision as a whole-scene pass.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

EIGHT = np.ones((3, 3), dtype=bool)  # roads connect diagonally (8-connectivity)
FOUR = ndi.generate_binary_structure(2, 1)  # ...so background is 4-connected

Sides = tuple[bool, bool, bool, bool]  # top, bottom, left, right: True where the block is cut


def road_edge_background(mask: np.ndarray) -> np.ndarray:
    """Background pixels 4-adjacent to road."""
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    grown[:, 1:] |= mask[:, :-1]
    grown[:, :-1] |= mask[:, 1:]
    return grown & ~mask


def _border_labels(labels: np.ndarray, sides: Sides) -> np.ndarray:
    """Labels present on the chosen sides of the array."""
    top, bottom, left, right = sides
    parts = [
        labels[0] if top else None,
        labels[-1] if bottom else None,
        labels[:, 0] if left else None,
        labels[:, -1] if right else None,
    ]
    found = [p for p in parts if p is not None]
    return np.unique(np.concatenate(found)) if found else np.empty(0, labels.dtype)


def remove_small_blobs(
    mask: np.ndarray, min_pixels: float, cut: Sides = (False,) * 4
) -> np.ndarray:
    """Drop 8-connected road components with fewer than `min_pixels` pixels.

    Components touching a cut side (`cut`: top, bottom, left, right) are kept.
    """
    if min_pixels <= 1 or not mask.any():
        return mask
    labels, n = ndi.label(mask, structure=EIGHT)
    on_road = labels[mask]  # roads are a few % of the pixels: count only those
    drop = np.bincount(on_road, minlength=n + 1) < min_pixels
    drop[0] = False
    drop[_border_labels(labels, cut)] = False
    if not drop.any():
        return mask
    out = mask.copy()
    out[mask] = ~drop[on_road]
    return out


def fill_small_holes(mask: np.ndarray, max_pixels: float) -> np.ndarray:
    """Fill 4-connected background regions smaller than `max_pixels` enclosed by road.

    Background touching any side of the array is open ground, never a hole (at the scene
    border it may continue outside; at a block seam it continues in the next block).
    Sizes are not counted over the whole background: a hole's bounding box is spanned by
    its pixels next to road, and a region spanning h × w has at least h + w − 1 pixels,
    so only regions with a small bounding box are counted, inside that box.
    """
    if max_pixels <= 1 or mask.all() or not mask.any():
        return mask
    labels, n = ndi.label(~mask, structure=FOUR)
    rows, cols = np.nonzero(road_edge_background(mask))
    lab = labels[rows, cols]
    order = np.argsort(lab, kind="stable")
    lab, rows, cols = lab[order], rows[order], cols[order]
    firsts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    r0, r1 = np.minimum.reduceat(rows, firsts), np.maximum.reduceat(rows, firsts)
    c0, c1 = np.minimum.reduceat(cols, firsts), np.maximum.reduceat(cols, firsts)
    inside = ~np.isin(lab[firsts], _border_labels(labels, (True,) * 4))
    small = inside & ((r1 - r0) + (c1 - c0) + 1 < max_pixels)
    out = mask
    for i in np.flatnonzero(small):
        box = (slice(r0[i], r1[i] + 1), slice(c0[i], c1[i] + 1))
        hole = labels[box] == lab[firsts[i]]
        if np.count_nonzero(hole) < max_pixels:
            if out is mask:
                out = mask.copy()
            out[box] |= hole
    return out


def clean_mask(
    mask: np.ndarray, min_pixels: float, hole_pixels: float, cut: Sides = (False,) * 4
) -> np.ndarray:
    """Remove small blobs, then fill small holes (sizes in pixels)."""
    return fill_small_holes(remove_small_blobs(mask, min_pixels, cut), hole_pixels)
