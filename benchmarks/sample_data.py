"""Speed of the synthetic scene generator and size of what it writes.

Run: ``python benchmarks/sample_data.py``.  Prints one row per scene size: seconds to
paint the scene (median of 3), seconds to write it (GeoTIFFs + GeoPackage) and the
image GeoTIFF size.  Targets: 256^2 well under 1 s, 512^2 about 1 s.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from geoseg.sample_data import generate_scene, write_scene

SIZES = [(256, 256), (512, 512), (768, 768), (700, 900), (1024, 1024)]


def main() -> None:
    generate_scene(64, 64)  # imports and first-call set-up out of the timings
    print(f"{'scene':>11} {'bands':>7} {'paint s':>8} {'write s':>8} {'image MB':>9} {'MB/Mpx':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for bands in ("rgb", "bgrn16"):
            for h, w in SIZES:
                times = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    scene = generate_scene(h, w, seed=1, bands=bands)
                    times.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                paths = write_scene(scene, Path(tmp), f"s{h}x{w}{bands}")
                write = time.perf_counter() - t0
                mb = paths["image"].stat().st_size / 1e6
                print(
                    f"{f'{h}x{w}':>11} {bands:>7} {statistics.median(times):8.3f} "
                    f"{write:8.3f} {mb:9.2f} {mb / (h * w / 1e6):7.2f}"
                )


if __name__ == "__main__":
    main()
