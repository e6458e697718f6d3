"""Block-wise skeleton graph of a large mask in bounded memory.

The scene is cut into square *cores* (``block_size``); each is read with a *halo* of
context so cleanup and thinning near the core behave as on the whole scene (thinning
only looks as far as half the widest road, blob decisions as far as the blob reaches).
Only the core plus a thin ring goes to the graph builder, which keeps just the skeleton
links the block owns (see :mod:`geoseg.vectorize.graph`).  Memory is a few arrays of
(block_size + 2·halo)², whatever the scene size.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np

from geoseg.io.grid import rule_disproved
from geoseg.io.windows import grow, halo_blocks, local, slices
from geoseg.progress import tqdm
from geoseg.vectorize.clean import clean_mask
from geoseg.vectorize.graph import RING, RoadGraph, add_skeleton_paths
from geoseg.vectorize.params import PixelSize, VectorizeParams
from geoseg.vectorize.skeleton import distance_to_background, skeletonize
from geoseg.vectorize.source import GridSource, mask_block, prob_block

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Block:
    """Scene slices of one block: its core, core + ring, and core + halo (all clipped)."""

    core: tuple[slice, slice]
    ring: tuple[slice, slice]
    halo: tuple[slice, slice]
    cut: tuple[bool, bool, bool, bool]  # halo sides inside the scene: top, bottom, left, right
    ring_in_halo: tuple[slice, slice]  # the ring's pixels in an array read over the halo


def iter_blocks(shape: tuple[int, int], block_size: int, halo: int) -> Iterator[Block]:
    """Blocks covering `shape` row by row (:func:`geoseg.io.windows.halo_blocks`): every
    pixel is in exactly one core."""
    h, w = shape
    for b in halo_blocks(h, w, block_size, halo):
        ring = grow(b.core, RING, h, w)
        yield Block(slices(b.core), slices(ring), slices(b.halo), b.inside, local(ring, b.halo))


def _pixel_attributes(
    road: np.ndarray,
    block: Block,
    prob_ring: np.ndarray | None,
    pixel: PixelSize,
    rows: np.ndarray,
    cols: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Distance to background (metres) and probability at scene pixels of one block."""
    dist = distance_to_background(
        road, rows - block.halo[0].start, cols - block.halo[1].start, (pixel.y, pixel.x)
    )
    values = None
    if prob_ring is not None:
        values = prob_ring[rows - block.ring[0].start, cols - block.ring[1].start]
    return dist.astype(np.float32), values


def build_graph(
    mask: GridSource,
    prob: GridSource | None,
    params: VectorizeParams,
    pixel: PixelSize,
    progress: bool = True,
) -> RoadGraph:
    """Skeleton graph of the whole mask, block by block (shows a progress bar)."""

    graph = RoadGraph(mask.shape, pixel, with_prob=prob is not None)
    area = pixel.x * pixel.y
    min_px, hole_px = params.min_area_m2 / area, params.hole_area_m2 / area
    halo = max(params.halo, RING + 1)
    blocks = list(iter_blocks(mask.shape, params.block_size, halo))
    quiet = not progress or len(blocks) < 2
    for block in tqdm(blocks, desc="vectorize", unit="block", disable=quiet, leave=False):
        road = mask_block(mask, *block.halo)  # every pixel is read (cores cover the scene)
        if not road.any() or rule_disproved(mask):  # a soft mask's blocks are read again
            continue
        road = clean_mask(road, min_px, hole_px, block.cut)
        skeleton = skeletonize(road)
        skel_ring = skeleton[block.ring_in_halo]
        if not skel_ring.any():
            continue
        prob_ring = prob_block(prob, *block.ring) if prob is not None else None
        attributes = partial(_pixel_attributes, road, block, prob_ring, pixel)
        add_skeleton_paths(
            graph, skel_ring, (block.ring[0].start, block.ring[1].start), block.core, attributes
        )
        del road, skeleton
    log.debug("skeleton graph: %d edges, %d nodes", len(graph.edges), len(graph.incident))
    return graph
