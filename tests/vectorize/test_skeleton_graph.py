"""The skeleton graph: paths identical to skan.Skeleton's, and graph bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.morphology import skeletonize

from geoseg.vectorize.graph import RoadGraph, skeleton_paths
from geoseg.vectorize.params import PixelSize


def _path_set(coords, indptr, indices) -> set[tuple]:
    """Paths as pixel tuples, independent of direction and (for loops) of the start."""
    out = set()
    for k in range(len(indptr) - 1):
        px = [tuple(int(v) for v in coords[i]) for i in indices[indptr[k] : indptr[k + 1]]]
        if px[0] == px[-1] and len(px) > 2:  # closed loop: rotate to its smallest pixel
            ring = px[:-1]
            m = ring.index(min(ring))
            ring = ring[m:] + ring[:m]
            px = min(ring + ring[:1], [ring[0]] + ring[:0:-1] + [ring[0]])
        out.add(tuple(min(px, px[::-1])))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_paths_match_skan_skeleton(seed):
    from skan import Skeleton

    rng = np.random.default_rng(seed)
    mask = ndi.binary_dilation(rng.random((90, 110)) > 0.97, iterations=int(rng.integers(1, 4)))
    mask[40:44, :] = True  # a road through everything: junctions and loops
    mask[rng.random(mask.shape) > 0.995] = True  # isolated pixels and tiny bits
    skel = skeletonize(mask)
    ref = Skeleton(skel, keep_images=False)
    expected = _path_set(ref.coordinates.astype(int), ref.paths.indptr, ref.paths.indices)
    assert _path_set(*skeleton_paths(skel)) == expected


def test_merge_degree2_joins_chains_and_keeps_loops():
    g = RoadGraph((10, 10), PixelSize(1.0, 1.0), with_prob=False)
    rc = lambda *pts: np.array(pts, dtype=float)  # noqa: E731
    g.add(0, 2, rc((0, 0), (0, 1), (0, 2)), np.ones(3), None)
    g.add(2, 5, rc((0, 2), (0, 3), (0, 4), (0, 5)), np.ones(4), None)
    g.add(50, 52, rc((5, 0), (5, 1), (5, 2)), np.ones(3), None)
    g.add(52, 50, rc((5, 2), (6, 1), (5, 0)), np.ones(3), None)
    g.merge_degree2()
    lines = sorted((e.u, e.v, len(e.rc)) for e in g.edges.values())
    assert (0, 5, 6) in lines and len(lines) == 2  # the two loop halves are one closed line
    loop = next(e for e in g.edges.values() if e.u == e.v)
    assert np.array_equal(loop.rc[0], loop.rc[-1]) and len(loop.rc) == 5
    assert g.edges[next(i for i, e in g.edges.items() if e.u != e.v)].length == pytest.approx(5)
