"""Tiled inference: tile grid and blending, batched prediction, streamed stitching."""
