"""Training data: labelled sources, window samplers, augmentation, datasets."""

from geoseg.data.build import TrainingData, build_datasets, deepglobe_pairs, fit_normalizer
from geoseg.data.datasets import GridDataset, WindowDataset
from geoseg.data.sources import ImageTile, RasterScene, Region

__all__ = [
    "GridDataset",
    "ImageTile",
    "RasterScene",
    "Region",
    "TrainingData",
    "WindowDataset",
    "build_datasets",
    "deepglobe_pairs",
    "fit_normalizer",
]
