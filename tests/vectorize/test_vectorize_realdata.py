"""The real SpaceNet Las Vegas road mask (EPSG:4326, ~0.3 m): lines on the roads, one
network per road component, blocks or not."""

from __future__ import annotations

import networkx as nx
import numpy as np
import rasterio
import shapely
from scipy import ndimage as ndi

from geoseg.vectorize import vectorize_mask


def test_real_mask_gives_a_faithful_network(realdata):
    path = realdata / "spacenet_vegas_pan" / "vegas_pan_roads_mask.tif"
    with rasterio.open(path) as src:
        mask, transform = src.read(1) > 0, src.transform
    roads = vectorize_mask(path, progress=False)
    assert roads.crs.to_epsg() == 4326 and len(roads) >= 5

    # every vertex lies on a road pixel (or one pixel off it, at the raster edge)
    xy = shapely.get_coordinates(roads.geometry.values)
    cols, rows = (~transform) @ (xy[:, 0], xy[:, 1])
    rows = np.clip(np.floor(rows), 0, mask.shape[0] - 1).astype(int)
    cols = np.clip(np.floor(cols), 0, mask.shape[1] - 1).astype(int)
    assert ndi.binary_dilation(mask)[rows, cols].all()

    # the lines cover the roads: road pixels lie within a road width of a line
    near = shapely.buffer(shapely.union_all(roads.geometry.values), 3 * 2.7e-6 + 4.5e-5)
    rr, cc = np.nonzero(mask[::7, ::7])
    px, py = transform @ (cc * 7 + 0.5, rr * 7 + 0.5)
    assert shapely.contains_xy(near, px, py).mean() > 0.97

    # one connected line network per (large) road component of the mask
    graph = nx.MultiGraph()
    graph.add_edges_from(zip(roads.node_from, roads.node_to))
    labels, n = ndi.label(mask, structure=np.ones((3, 3)))
    big = (np.bincount(labels.ravel())[1:] > 500).sum()
    assert nx.number_connected_components(graph) == big

    blocked = vectorize_mask(path, block_size=300, progress=False)
    assert len(blocked) == len(roads)
    assert abs(blocked.length_m.sum() - roads.length_m.sum()) < 1.0
