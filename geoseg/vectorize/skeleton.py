"""Skeletonization and road half-widths at skeleton pixels.

The skeleton comes from scikit-image (Zhang's thinning for 2-D).  Widths need the
Euclidean distance from each skeleton pixel to the nearest background pixel; a full
distance transform costs ~5× the skeletonization, so it is evaluated only where it is
needed: a k-d tree over the background pixels that touch road (the nearest background
pixel of a road pixel always 4-touches road) queried at the skeleton pixels.  The result
equals ``scipy.ndimage.distance_transform_edt`` there, pixel anisotropy included.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from skimage.morphology import skeletonize as _skeletonize

from geoseg.vectorize.clean import road_edge_background


def skeletonize(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide, 8-connected centreline pixels of a boolean road mask."""
    if not mask.any():
        return np.zeros(mask.shape, dtype=bool)
    return _skeletonize(mask)


def distance_to_background(
    mask: np.ndarray, rows: np.ndarray, cols: np.ndarray, sampling: tuple[float, float] = (1.0, 1.0)
) -> np.ndarray:
    """Euclidean distance (in `sampling` units) from pixels (rows, cols) to the background.

    Pixels with no background anywhere in `mask` get +inf.
    """
    if rows.size == 0:
        return np.empty(0, dtype=np.float64)
    edge_r, edge_c = np.nonzero(road_edge_background(mask))
    if edge_r.size == 0:
        return np.full(rows.size, np.inf)
    sy, sx = sampling
    tree = cKDTree(np.column_stack([edge_r * sy, edge_c * sx]))
    dist, _ = tree.query(np.column_stack([rows * sy, cols * sx]))
    return dist
