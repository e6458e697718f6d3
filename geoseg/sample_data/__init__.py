"""Synthetic, deterministic, georeferenced road scenes with ground truth (DeepGlobe-like).

`generate_scene` paints one scene in memory, `write_scene` writes it as GeoTIFFs and a
GeoPackage, `make_sample_set` writes the standard set that ships in ``sample_data/``.
"""

from geoseg.sample_data.scene import SampleScene, generate_scene
from geoseg.sample_data.writer import (
    DEFAULT_SIZE,
    SceneSpec,
    make_sample_set,
    preview,
    sample_specs,
    write_scene,
)

__all__ = [
    "DEFAULT_SIZE",
    "SampleScene",
    "SceneSpec",
    "generate_scene",
    "make_sample_set",
    "preview",
    "sample_specs",
    "write_scene",
]
