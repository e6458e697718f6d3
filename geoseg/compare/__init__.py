"""``geoseg compare``: several models, one data split, the paper's Table 2."""

from geoseg.compare.records import Comparison, ModelRun
from geoseg.compare.run import compare_models
from geoseg.compare.split import DataSplit, Sample, split_data
from geoseg.compare.table import PAPER_IOU, paper_iou

__all__ = [
    "Comparison",
    "DataSplit",
    "ModelRun",
    "PAPER_IOU",
    "Sample",
    "compare_models",
    "paper_iou",
    "split_data",
]
