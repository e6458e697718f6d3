"""Which scenes of an area lie together: the rule the mosaic and the overview share.

Scenes of one batch may cover one contiguous area or lie kilometres apart (tiles of
several towns).  A single mosaic or map over all of them would be mostly empty — three
small scenes 30 km apart make a 72512 × 768 px VRT and a map strip too thin to read.
So scenes are grouped: two scenes belong together when the gap between their bounding
boxes is at most the longer side of the larger one (touching and overlapping scenes
always do), and groups are closed under that relation (single linkage).  Each group gets
its own VRT and its own panel in ``overview.png``.
"""

from __future__ import annotations

from collections.abc import Sequence

import shapely
from shapely.geometry import box as make_box

Box = tuple[float, float, float, float]  # (minx, miny, maxx, maxy)


def box_gap(a: Box, b: Box) -> float:
    """Largest of the x and y gaps between two boxes (0 when they touch or overlap)."""
    dx = max(0.0, b[0] - a[2], a[0] - b[2])
    dy = max(0.0, b[1] - a[3], a[1] - b[3])
    return max(dx, dy)


def box_side(b: Box) -> float:
    return max(b[2] - b[0], b[3] - b[1])


def near(a: Box, b: Box) -> bool:
    """The grouping rule: the gap is at most the longer side of the larger box."""
    return box_gap(a, b) <= max(box_side(a), box_side(b))


def group_boxes(boxes: Sequence[Box]) -> list[list[int]]:
    """Indices of `boxes` in groups of nearby boxes (:func:`near`, single linkage).

    Groups are ordered north-west first (top edge, then left edge); indices within a
    group keep their input order.
    """
    n = len(boxes)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n > 1:
        tree = shapely.STRtree([make_box(*b) for b in boxes])
        for i, b in enumerate(boxes):
            side = box_side(b)  # pairs whose larger box is b are found from b
            grown = make_box(b[0] - side, b[1] - side, b[2] + side, b[3] + side)
            for j in tree.query(grown):
                j = int(j)
                if j != i and near(b, boxes[j]):
                    parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)

    def corner(members: list[int]) -> tuple[float, float]:
        return (-max(boxes[i][3] for i in members), min(boxes[i][0] for i in members))

    return sorted(groups.values(), key=corner)


def union_box(boxes: Sequence[Box]) -> Box:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
