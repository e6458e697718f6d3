"""Road masks → georeferenced centreline networks (see :func:`vectorize_mask`)."""

from geoseg.vectorize.params import VectorizeParams
from geoseg.vectorize.pipeline import vectorize_mask, vectorize_to_file

__all__ = ["VectorizeParams", "vectorize_mask", "vectorize_to_file"]
