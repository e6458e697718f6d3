import numpy as np
from helpers import write_geotiff

from geoseg.data.samplers import RoadWeightedWindows, grid_windows
from geoseg.data.sources import RasterScene


def _sparse_scene(tmp_path):
    # 512x512 scene with a single 8 px road column at x = 400..408 (1.6 % road).
    mask = np.zeros((512, 512), np.uint8)
    mask[:, 400:408] = 1
    img = write_geotiff(tmp_path / "s.tif", np.zeros((3, 512, 512), np.uint8))
    return RasterScene(img, mask=write_geotiff(tmp_path / "m.tif", mask)), mask


def test_windows_are_weighted_toward_roads(tmp_path):
    scene, mask = _sparse_scene(tmp_path)

    def road_share(weight):
        sampler = RoadWeightedWindows([scene], 64, road_weight=weight, seed=1)
        hits = 0
        for i in range(200):
            _, win = sampler.draw(0, i)
            r, c, h, w = win.row_off, win.col_off, win.height, win.width
            assert 0 <= r <= 512 - h and 0 <= c <= 512 - w and (h, w) == (64, 64)
            hits += mask[r : r + h, c : c + w].any()
        return hits / 200

    uniform, weighted = road_share(0.0), road_share(0.8)
    assert uniform < 0.35  # windows touching the road column: ~ (64+8)/512
    assert weighted > 0.75


def test_draws_are_deterministic_per_epoch_and_index(tmp_path):
    scene, _ = _sparse_scene(tmp_path)
    a = RoadWeightedWindows([scene], 64, seed=5)
    b = RoadWeightedWindows([scene], 64, seed=5)
    assert [a.draw(2, i) for i in range(10)] == [b.draw(2, i) for i in range(10)]
    assert [a.draw(2, i) for i in range(10)] != [a.draw(3, i) for i in range(10)]


def test_grid_covers_every_pixel_once_or_more(tmp_path):
    scene, _ = _sparse_scene(tmp_path)
    seen = np.zeros((512, 512), int)
    for win in grid_windows(scene, 200):
        r, c, h, w = win.row_off, win.col_off, win.height, win.width
        assert r + h <= 512 and c + w <= 512
        seen[r : r + h, c : c + w] += 1
    assert seen.min() == 1 and len(grid_windows(scene, 200)) == 9
