"""Provenance of geoseg's outputs: what product a file is and what made it.

Every product geoseg writes carries tags — the geoseg version, the product kind
(:data:`KINDS`) and, for predictions, the checkpoint and threshold:

* GeoTIFFs: GDAL metadata items ``GEOSEG_VERSION``, ``GEOSEG_PRODUCT``, ...
  (``gdalinfo`` lists them);
* GeoPackages: layer metadata (the same items);
* GeoJSON: the FeatureCollection's ``description`` member (``geoseg <version> <kind>``);
* Shapefiles: the ``.qml`` style beside them (an XML comment);
* JSON reports: a ``"geoseg"`` object; CSV reports: their geoseg header row;
* PNGs: the ``Software`` text chunk;
* checkpoints (``.pt``): their ``format`` key (``geoseg.checkpoint``), read from the
  pickle inside the zip without loading torch or the weights;
* ONNX models: the ``format`` entry of ``metadata_props`` (``geoseg.onnx``, written by
  ``geoseg export``).

:func:`product_kind` reads a file's kind back; that is how geoseg recognises its own
earlier outputs (which a re-run may replace) from a user's files such as ground-truth
masks (which it never replaces without ``--overwrite``).
"""

from __future__ import annotations

import contextlib
import csv
import json
import pickletools
import re
import zipfile
from pathlib import Path
from typing import Any

import rasterio
from PIL import Image

from geoseg import __version__

KINDS = (
    "probability",
    "mask",
    "roads",
    "report",
    "preview",
    "mosaic",
    "overview",
    "sample",
    "checkpoint",
    "onnx",
)
# the format markers geoseg.checkpoint.FORMAT and geoseg.inference.onnx.ONNX_FORMAT
# (both modules load torch; tests/io/test_output_claims.py ties them together)
CHECKPOINT_FORMAT = "geoseg.checkpoint"
ONNX_FORMAT = "geoseg.onnx"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".th")
SOFTWARE = f"geoseg {__version__}"
_SOFTWARE_RE = re.compile(r"^geoseg \S+ (?P<kind>[a-z]+)")

# first header fields of geoseg's CSV reports (evaluate, compare, batch): how they are known
CSV_SIGNATURES = ("name,", "scene,", "arch,", "rank,arch", "epoch,lr,")


def tags(kind: str, **extra: Any) -> dict[str, str]:
    """GDAL/OGR metadata items for a `kind` product (None values are left out)."""
    out = {"GEOSEG_VERSION": __version__, "GEOSEG_PRODUCT": kind}
    for key, value in extra.items():
        if value is not None:
            out[f"GEOSEG_{key.upper()}"] = str(value)
    return out


def software(kind: str) -> str:
    """The text for a PNG's Software chunk / a GeoJSON description / a QML comment."""
    return f"{SOFTWARE} {kind}"


def report_header(kind: str = "report") -> dict[str, str]:
    """The ``"geoseg"`` member of a JSON report."""
    return {"version": __version__, "product": kind}


def product_kind(path: str | Path) -> str | None:
    """The kind of product geoseg wrote at `path`, or None (not geoseg's, unreadable)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if _in_sample_set(path):
        return "sample"
    with contextlib.suppress(Exception):
        if suffix in (".tif", ".tiff", ".vrt"):
            return _raster_kind(path)
        if suffix == ".gpkg":
            import pyogrio  # lazy: pyogrio loads geopandas

            spatial = [n for n, g in pyogrio.list_layers(path) if g is not None]
            meta = (
                pyogrio.read_info(path, layer=spatial[0] if spatial else None).get("layer_metadata")
                or {}
            )
            return meta.get("GEOSEG_PRODUCT")
        if suffix == ".shp":
            return _text_kind(path.with_suffix(".qml"), 4096)
        if suffix in (".geojson", ".json"):
            head = path.read_text(encoding="utf-8", errors="replace")[:4096]
            found = re.search(r'"description"\s*:\s*"(geoseg [^"]*)"', head)
            if found:
                match = _SOFTWARE_RE.match(found.group(1))
                return match["kind"] if match else None
            if suffix == ".json":
                member = json.loads(path.read_text(encoding="utf-8")).get("geoseg", {})
                return member.get("product") if isinstance(member, dict) else None
            return None
        if suffix == ".csv":
            with open(path, newline="", encoding="utf-8") as fh:
                first = fh.readline()
            fields = next(csv.reader([first]), [])
            return "report" if first.startswith(CSV_SIGNATURES) and len(fields) > 1 else None
        if suffix == ".png":
            with Image.open(path) as im:
                match = _SOFTWARE_RE.match(str(im.info.get("Software", "")))
            return match["kind"] if match else None
        if suffix in (".qml", ".md", ".txt"):
            return _text_kind(path, 4096)
        if suffix in CHECKPOINT_SUFFIXES:
            return "checkpoint" if _pickle_format(path) == CHECKPOINT_FORMAT else None
        if suffix == ".onnx":
            return "onnx" if _onnx_format(path) == ONNX_FORMAT else None
    return None


def _pickle_format(path: Path) -> str | None:
    """The ``format`` value of the dict pickled in a torch zip checkpoint (the strings
    in data.pkl, read without unpickling: weights stay on disk, nothing is executed)."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
        with archive.open(name) as fh:
            previous = None
            for op, arg, _ in pickletools.genops(fh):
                if not (isinstance(arg, str) and "UNICODE" in op.name):
                    continue
                if previous == "format":
                    return arg
                previous = arg
    return None


def _onnx_format(path: Path) -> str | None:
    import onnx  # lazy: optional dependency (onnx extra), only for .onnx outputs

    model = onnx.load(str(path), load_external_data=False)
    return next((p.value for p in model.metadata_props if p.key == "format"), None)


def _in_sample_set(path: Path) -> bool:
    """Files of a `geoseg sample-data` set are listed in the manifest.json beside them."""
    manifest = path.parent / "manifest.json"
    if not manifest.is_file():
        return False
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict) or data.get("generator") != "geoseg sample-data":
        return False
    names = {"manifest.json", "README.md"}
    for scene in data.get("scenes", []):
        names.update((scene.get("files") or {}).values())
    return path.name in names


def _raster_kind(path: Path) -> str | None:

    with rasterio.open(path) as src:
        return src.tags().get("GEOSEG_PRODUCT")


def _text_kind(path: Path, limit: int) -> str | None:
    head = path.read_text(encoding="utf-8", errors="replace")[:limit]
    found = re.search(r"(geoseg \S+ [a-z]+)", head)
    match = _SOFTWARE_RE.match(found.group(1)) if found else None
    return match["kind"] if match else None
