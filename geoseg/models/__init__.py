"""Road segmentation models: Unet, LinkNet, D-LinkNet and AD-LinkNet over timm encoders.

>>> from geoseg.models import create_model
>>> model = create_model("dlinknet", "resnet34")          # random init, no network
>>> logits = model(torch.zeros(1, 3, 512, 512))            # (1, 1, 512, 512)

Backbones: the aliases in :data:`BACKBONE_ALIASES` (vgg16, resnet34, resnet101,
xception) or any timm model that supports ``features_only``.
"""

# Register the built-in architectures (import for the @register_arch side effect).
from geoseg.models import linknet as _linknet  # noqa: E402,F401
from geoseg.models import unet as _unet  # noqa: E402,F401
from geoseg.models.base import SegmentationModel
from geoseg.models.encoders import BACKBONE_ALIASES, Encoder, build_encoder
from geoseg.models.registry import (
    ARCHS,
    count_parameters,
    create_model,
    list_archs,
    register_arch,
)

__all__ = [
    "ARCHS",
    "BACKBONE_ALIASES",
    "Encoder",
    "SegmentationModel",
    "build_encoder",
    "count_parameters",
    "create_model",
    "list_archs",
    "register_arch",
]
