"""A VRT mosaic of the per-scene masks, in one CRS (what ``gdalbuildvrt`` would write).

A VRT cannot mix CRSs, so a mask in another CRS (or with a rotated grid) is first
reprojected (nearest neighbour, nodata kept) into a copy beside it, at about its own
resolution.  Sources are referenced relative to the VRT, so OUTDIR can be moved.  Where
masks overlap, later scenes are drawn over earlier ones, except where they are nodata
(value 255 in the mosaic).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import rasterio
from rasterio.enums import MaskFlags
from rasterio.vrt import WarpedVRT
from rasterio.warp import Resampling, calculate_default_transform, transform_bounds
from rasterio.windows import Window

from geoseg.batch.layout import group_boxes
from geoseg.io.files import atomic_output, readable_path, write_text_output
from geoseg.io.provenance import product_kind, tags
from geoseg.io.windows import row_spans

log = logging.getLogger(__name__)

DEFAULT_NODATA = 255
STRIP = 256  # rows warped at a time (the output's block height)


def _north_up(transform) -> bool:
    return transform.b == 0 and transform.d == 0 and transform.a > 0 and transform.e < 0


def warped_copy(mask: Path, crs) -> Path:
    """`mask` reprojected into `crs` as ``<stem>_<crs>.tif`` beside it (reused when newer).

    Invalid pixels (nodata value or internal mask) become the nodata value
    :data:`DEFAULT_NODATA` in the copy.  The mask is warped through a GDAL warped VRT one
    band of :data:`STRIP` rows at a time: memory is O(width), never the whole mask.
    """
    tag = crs.to_string().replace(":", "").replace(" ", "")[:24]
    out = mask.with_name(f"{mask.stem}_{tag}.tif")
    if out.is_file() and out.stat().st_mtime_ns >= mask.stat().st_mtime_ns:
        return out
    with rasterio.open(mask) as src:
        transform, width, height = calculate_default_transform(
            src.crs, crs, src.width, src.height, *src.bounds
        )
        profile = {
            "driver": "GTiff",
            "dtype": src.dtypes[0],
            "count": 1,
            "crs": crs,
            "transform": transform,
            "width": width,
            "height": height,
            "nodata": DEFAULT_NODATA,
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "compress": "deflate",
        }
        # the VRT treats the source's nodata value and internal mask as invalid
        with (
            WarpedVRT(
                src,
                crs=crs,
                transform=transform,
                width=width,
                height=height,
                nodata=DEFAULT_NODATA,
                resampling=Resampling.nearest,
            ) as vrt,
            atomic_output(out) as tmp,
            rasterio.open(tmp, "w", **profile) as dst,
        ):
            for top, bottom in row_spans(height, STRIP):
                window = Window(0, top, width, bottom - top)
                dst.write(vrt.read(1, window=window), 1, window=window)
    return out


def build_mosaic(masks: Sequence[str | Path], crs, out_path: str | Path) -> Path | None:
    """Write a VRT of `masks` in `crs` (a rasterio CRS) at the finest source resolution.

    Returns the VRT path, or None when there is no mask to mosaic.
    """
    out_path = Path(out_path)
    sources = []
    for m in masks:
        m = Path(m)
        with rasterio.open(m) as src:
            if src.crs != crs or not _north_up(src.transform):
                m = warped_copy(m, crs)
        with rasterio.open(readable_path(m)) as src:  # a copy staged in this output set
            block = src.block_shapes[0]
            sources.append(
                {
                    "path": m,
                    "bounds": src.bounds,
                    "res": src.res,
                    "width": src.width,
                    "height": src.height,
                    "nodata": src.nodata,
                    "dtype": src.dtypes[0],
                    "block": block,
                    "masked": src.nodata is None
                    and MaskFlags.per_dataset in src.mask_flag_enums[0],
                }
            )
    if not sources:
        return None
    xres = min(s["res"][0] for s in sources)
    yres = min(s["res"][1] for s in sources)
    left = min(s["bounds"].left for s in sources)
    top = max(s["bounds"].top for s in sources)
    right = max(s["bounds"].right for s in sources)
    bottom = min(s["bounds"].bottom for s in sources)
    width = max(int(round((right - left) / xres)), 1)
    height = max(int(round((top - bottom) / yres)), 1)
    nodata = DEFAULT_NODATA
    gdal_type = {"uint8": "Byte", "uint16": "UInt16", "float32": "Float32"}.get(
        sources[0]["dtype"], "Byte"
    )
    lines = [
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">',
        f"  <SRS>{escape(crs.to_wkt())}</SRS>",
        "  <Metadata>",
        *(f'    <MDI key="{k}">{escape(v)}</MDI>' for k, v in tags("mosaic").items()),
        "  </Metadata>",
        f"  <GeoTransform>{left!r}, {xres!r}, 0.0, {top!r}, 0.0, {-yres!r}</GeoTransform>",
        f'  <VRTRasterBand dataType="{gdal_type}" band="1">',
        f"    <NoDataValue>{nodata}</NoDataValue>",
        "    <ColorInterp>Gray</ColorInterp>",
    ]
    for s in sources:
        rel = os.path.relpath(s["path"], out_path.parent)
        b = s["bounds"]
        xoff, yoff = (b.left - left) / xres, (top - b.top) / yres
        xsize, ysize = (b.right - b.left) / xres, (b.top - b.bottom) / yres
        # Invalid source pixels never paint over the mosaic: a nodata value, or the
        # internal mask predict writes (UseMaskBand, GDAL >= 3.3).
        hide = (
            "      <UseMaskBand>true</UseMaskBand>"
            if s["masked"]
            else f"      <NODATA>{s['nodata']}</NODATA>"
            if s["nodata"] is not None
            else None
        )
        lines += [
            "    <ComplexSource>",
            f'      <SourceFilename relativeToVRT="1">{escape(rel)}</SourceFilename>',
            "      <SourceBand>1</SourceBand>",
            f'      <SourceProperties RasterXSize="{s["width"]}" RasterYSize="{s["height"]}" '
            f'DataType="{gdal_type}" BlockXSize="{s["block"][1]}" BlockYSize="{s["block"][0]}"/>',
            f'      <SrcRect xOff="0" yOff="0" xSize="{s["width"]}" ySize="{s["height"]}"/>',
            f'      <DstRect xOff="{xoff!r}" yOff="{yoff!r}" xSize="{xsize!r}" ySize="{ysize!r}"/>',
            *([hide] if hide else []),
            "    </ComplexSource>",
        ]
    lines += ["  </VRTRasterBand>", "</VRTDataset>", ""]
    write_text_output(out_path, "\n".join(lines), kind="mosaic")
    log.info("mosaic of %d masks: %s (%d x %d px)", len(sources), out_path, width, height)
    return out_path


def mosaic_groups(masks: Sequence[str | Path], crs) -> list[list[int]]:
    """Indices of `masks` in groups of nearby scenes (:mod:`geoseg.batch.layout`), from
    their bounds in `crs`: one VRT each, so the mosaics' extents follow the scenes."""
    boxes = []
    for m in masks:
        with rasterio.open(m) as src:
            b = src.bounds
            boxes.append(
                tuple(transform_bounds(src.crs, crs, *b))
                if src.crs and src.crs != crs
                else (b.left, b.bottom, b.right, b.top)
            )
    return group_boxes(boxes)


def mosaic_names(n_groups: int, stem: str = "masks") -> list[str]:
    """``masks.vrt`` for one group of scenes, else ``masks_1.vrt`` ... ``masks_N.vrt``."""
    if n_groups == 1:
        return [f"{stem}.vrt"]
    return [f"{stem}_{k}.vrt" for k in range(1, n_groups + 1)]


def build_mosaics(
    masks: Sequence[str | Path], crs, out_dir: str | Path, stem: str = "masks"
) -> list[tuple[Path, list[int]]]:
    """One VRT per group of nearby masks in `out_dir` (see :func:`mosaic_names`);
    returns (VRT path, indices of its masks) per group.  VRTs of an earlier run that
    this one does not rewrite (the grouping changed) are removed."""
    out_dir = Path(out_dir)
    groups = mosaic_groups(masks, crs) if masks else []
    names = mosaic_names(len(groups), stem) if groups else []
    written = []
    for name, members in zip(names, groups):
        path = build_mosaic([masks[i] for i in members], crs, out_dir / name)
        if path is not None:
            written.append((path, members))
    keep = {p.name for p, _ in written}
    for old in [out_dir / f"{stem}.vrt", *out_dir.glob(f"{stem}_*.vrt")]:
        if (
            old.name not in keep
            and old.is_file()
            and _is_number_or_plain(old.stem, stem)
            and product_kind(old) == "mosaic"
        ):  # only geoseg's own earlier mosaics
            old.unlink()
    if len(written) > 1:
        log.info("the scenes lie in %d groups far apart: one mosaic each", len(written))
    return written


def _is_number_or_plain(name: str, stem: str) -> bool:
    return name == stem or (name.startswith(stem + "_") and name[len(stem) + 1 :].isdigit())
