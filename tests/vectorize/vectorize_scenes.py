"""Road scenes drawn from known centrelines (pixel space: x = column, y = row)."""

from __future__ import annotations

import numpy as np
from rasterio.transform import from_origin

UTM = "EPSG:32633"
RES = 0.5
ORIGIN = (500000.0, 4000000.0)
TRANSFORM = from_origin(*ORIGIN, RES, RES)


def draw_roads(shape: tuple[int, int], lines, width: float) -> np.ndarray:
    """uint8 0/255 mask of `lines` (pixel-space shapely lines/coords) buffered to `width` px."""
    from rasterio.features import rasterize
    from shapely.geometry import LineString

    geoms = [ln if hasattr(ln, "geom_type") else LineString(ln) for ln in lines]
    shapes = [(g.buffer(width / 2, cap_style="flat"), 255) for g in geoms]
    return rasterize(shapes, out_shape=shape, fill=0, dtype="uint8")


def vectorize(mask, **kw):
    from geoseg.vectorize import vectorize_mask

    kw.setdefault("progress", False)
    return vectorize_mask(mask, transform=TRANSFORM, crs=UTM, **kw)


def to_pixels(gdf):
    """The lines back in pixel space (col, row of pixel centres = x - 0.5, y - 0.5)."""
    import shapely

    inv = ~TRANSFORM
    return shapely.transform(
        gdf.geometry.values, lambda xy: np.column_stack(inv @ (xy[:, 0], xy[:, 1])) - 0.5
    )


def node_degrees(gdf) -> dict[int, int]:
    ends = np.concatenate([gdf["node_from"].to_numpy(), gdf["node_to"].to_numpy()])
    ids, counts = np.unique(ends, return_counts=True)
    return dict(zip(ids.tolist(), counts.tolist()))
