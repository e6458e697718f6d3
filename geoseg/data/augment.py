"""D-LinkNet's training augmentation, with the mask transformed identically.

Applied to images already rescaled to [0, 1] (before mean/std standardisation):

- colour: D-LinkNet's ``randomHueSaturationValue`` (hue ±30/180 of the circle,
  saturation ±5/255, value ±15/255) on 3-band images; brightness/contrast jitter
  on other band counts (a hue has no meaning for a panchromatic or 4-band image);
- ``randomShiftScaleRotate``: shift ±10 %, scale ±10 %, aspect ±10 %, rotation
  ±``rotate`` degrees (D-LinkNet used 0), reflection at the borders — image bilinear,
  mask nearest, through one ``affine_grid`` so both move the same way;
- horizontal flip, vertical flip, rot90 (square tiles), each with p = 0.5.

``train.augment: flips`` keeps only the last line (:meth:`Augment.from_setting`): the
eight lossless rotations/reflections, which change no pixel value — the better choice
for short training budgets, where colour and resampling jitter slow learning down.

Randomness comes from a numpy Generator passed in, so a sample's augmentation is
reproducible from ``(seed, epoch, index)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Augment:
    p: float = 0.5
    hue: float = 30 / 180
    saturation: float = 5 / 255
    value: float = 15 / 255
    shift: float = 0.1
    scale: float = 0.1
    aspect: float = 0.1
    rotate: float = 15.0
    colour_and_affine: bool = True  # False: flips and rot90 only

    @classmethod
    def from_setting(cls, setting: bool | str) -> "Augment | None":
        """``train.augment``: true (D-LinkNet's set), ``"flips"`` or false (None)."""
        if setting == "flips":
            return cls(colour_and_affine=False)
        return cls() if setting else None

    def __call__(
        self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """`image` (C,H,W) float32 in [0,1], `mask` (H,W) uint8 -> augmented copies."""
        if self.colour_and_affine:
            if rng.random() < self.p:
                image = self.colour(image, rng)
            if rng.random() < self.p:
                image, mask = self.shift_scale_rotate(image, mask, rng)
        if rng.random() < self.p:
            image, mask = image[:, :, ::-1], mask[:, ::-1]
        if rng.random() < self.p:
            image, mask = image[:, ::-1, :], mask[::-1, :]
        if image.shape[1] == image.shape[2] and rng.random() < self.p:
            image, mask = np.rot90(image, 1, axes=(1, 2)), np.rot90(mask, 1)
        return np.ascontiguousarray(image), np.ascontiguousarray(mask)

    def colour(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if image.shape[0] == 3:
            from matplotlib.colors import hsv_to_rgb, rgb_to_hsv  # lazy: only for figures

            hsv = rgb_to_hsv(np.moveaxis(np.clip(image, 0, 1), 0, -1))
            dh, ds, dv = (rng.uniform(-lim, lim) for lim in (self.hue, self.saturation, self.value))
            hsv[..., 0] = (hsv[..., 0] + dh) % 1.0
            hsv[..., 1] = np.clip(hsv[..., 1] + ds, 0, 1)
            hsv[..., 2] = np.clip(hsv[..., 2] + dv, 0, 1)
            return np.moveaxis(hsv_to_rgb(hsv), -1, 0).astype(np.float32)
        gain = rng.uniform(1 - 2 * self.value, 1 + 2 * self.value)
        bias = rng.uniform(-self.value, self.value)
        return np.clip(image * gain + bias, 0, 1).astype(np.float32)

    def shift_scale_rotate(
        self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        import torch  # lazy: torch takes seconds to load
        import torch.nn.functional as F  # lazy: torch takes seconds to load

        angle = math.radians(rng.uniform(-self.rotate, self.rotate))
        scale = rng.uniform(1 - self.scale, 1 + self.scale)
        aspect = rng.uniform(1 - self.aspect, 1 + self.aspect)
        sx, sy = scale * math.sqrt(aspect), scale / math.sqrt(aspect)
        tx, ty = rng.uniform(-self.shift, self.shift, size=2) * 2  # grid units span [-1, 1]
        cos, sin = math.cos(angle), math.sin(angle)
        # Output pixel p samples the input at A p + t: the inverse of scaling by (sx, sy).
        theta = torch.tensor(
            [[cos / sx, -sin / sx, tx], [sin / sy, cos / sy, ty]], dtype=torch.float32
        )[None]
        c, h, w = image.shape
        grid = F.affine_grid(theta, [1, c, h, w], align_corners=False)
        img = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None]
        msk = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None]
        img = F.grid_sample(
            img, grid, mode="bilinear", padding_mode="reflection", align_corners=False
        )
        msk = F.grid_sample(
            msk, grid, mode="nearest", padding_mode="reflection", align_corners=False
        )
        return img[0].numpy(), msk[0, 0].numpy().astype(np.uint8)
