"""R-CNN's rcnn_im_crop warp (layerwise/data/warp.py), checked against hand-worked boxes.

Every hand-worked case below uses size = 16 and pad = 4, so scale = 16 / (16 - 2*4) = 2, on a
40 x 30 image (width x height) unless stated. rcnn_im_crop's steps, for reference:

    half = (x2 - x1 + 1) / 2;  centre = x1 + half
    grown = round([centre - half*scale, centre + half*scale])   (MATLAB round: half away from 0)
    unclipped = g2 - g1 + 1;  pad1 = max(0, 1 - g1);  clip to [1, width]
    s = size / unclipped;  out = round(clipped * s);  pad = round(pad1 * s)
    out = min(out, size - pad)
"""

import numpy as np
import pandas as pd
import pytest

from layerwise.data import patches
from layerwise.data.images import load_image
from layerwise.data.voc import build_index, image_path
from layerwise.data.warp import crop_box, crop_geometry, scaled_context_pad, warp_box

MEAN = (250, 251, 252)  # far from every pixel of `coordinate_image`, so padding is recognisable


def coordinate_image(width, height):
    """RGB uint8 image whose pixel at 0-based (row y, col x) is (x, y, 7): it names its source."""
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack([xx, yy, np.full_like(xx, 7)], -1).astype(np.uint8)


def bilinear_coordinates(first, n_in, n_out):
    """0-based source coordinate OpenCV's INTER_LINEAR samples for each output pixel, when
    resizing n_in pixels starting at `first` to n_out: centres aligned, clamped to the edges."""
    j = np.arange(n_out)
    return first + np.clip((j + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)


# (box, width, height) -> (clipped source box, (pad_x, pad_y, out_w, out_h)), worked by hand.
HAND_WORKED = [
    # A: well inside. w = h = 8, centre (19, 14); grown 19 +- 8 = 11..27, 14 +- 8 = 6..22;
    # unclipped 17 x 17, nothing clipped, out = round(17 * 16/17) = 16, no padding.
    (((15, 10, 22, 17), 40, 30), ((11, 6, 27, 22), (0, 0, 16, 16))),
    # B: touching left/top. w = 8, h = 6, centre (5, 4); grown x 5 +- 8 = -3..13,
    # y 4 +- 6 = -2..10; unclipped 17 x 13; pad1 = (4, 3); clipped (1, 1, 13, 10) = 13 x 10;
    # out_w = round(13 * 16/17 = 12.24) = 12, out_h = round(10 * 16/13 = 12.31) = 12,
    # pad_x = round(4 * 16/17 = 3.76) = 4, pad_y = round(3 * 16/13 = 3.69) = 4.
    (((1, 1, 8, 6), 40, 30), ((1, 1, 13, 10), (4, 4, 12, 12))),
    # C: touching right/bottom. w = 8, h = 6, centre (37, 28); grown x 29..45, y 22..34;
    # unclipped 17 x 13; clipped (29, 22, 40, 30) = 12 x 9; out_w = round(12 * 16/17 = 11.29)
    # = 11, out_h = round(9 * 16/13 = 11.08) = 11; no left/top padding, so columns and rows
    # 11..15 of the output are the mean.
    (((33, 25, 40, 30), 40, 30), ((29, 22, 40, 30), (0, 0, 11, 11))),
    # D: MATLAB rounding, positive halves. w = 5, centre 13.5; grown 13.5 -+ 5 = 8.5, 18.5,
    # rounded away from zero to 9, 19 (numpy's half-to-even would give 8, 18).
    (((11, 11, 15, 15), 40, 30), ((9, 9, 19, 19), (0, 0, 16, 16))),
    # E: MATLAB rounding, negative half. w = 5, centre 4.5; grown -0.5 -> -1 (numpy: 0), 9.5 -> 10;
    # unclipped 12, pad1 = 2, clipped 1..10 = 10; out = round(10 * 16/12 = 13.33) = 13,
    # pad = round(2 * 16/12 = 2.67) = 3.
    (((2, 2, 6, 6), 40, 30), ((1, 1, 10, 10), (3, 3, 13, 13))),
    # F: both roundings hit .5 and overflow the output. 80 x 80 image, w = 31, centre 30.5;
    # grown 30.5 -+ 31 = -0.5 -> -1, 61.5 -> 62; unclipped 64, pad1 = 2, clipped 1..62 = 62;
    # pad = round(2 * 16/64 = 0.5) = 1, out = round(62 * 16/64 = 15.5) = 16; 1 + 16 > 16, so
    # out = 16 - 1 = 15.
    (((15, 15, 45, 45), 80, 80), ((1, 1, 62, 62), (1, 1, 15, 15))),
]


@pytest.mark.parametrize("args, expected", HAND_WORKED, ids="ABCDEF")
def test_crop_geometry_hand_worked(args, expected):
    box, width, height = args
    assert crop_geometry(box, width, height, 16, 4) == expected


def test_crop_geometry_without_padding_keeps_rcnn_extra_pixel():
    # pad 0: scale 1, grown = round(x1 + w/2 -+ w/2) = x1 .. x2 + 1 (R-CNN's inclusive quirk);
    # box (5, 6, 14, 13) in 40 x 30 -> (5, 6, 15, 14), 11 x 9 resized to 16 x 16.
    assert crop_geometry((5, 6, 14, 13), 40, 30, 16, 0) == ((5, 6, 15, 14), (0, 0, 16, 16))


def test_scaled_context_pad():
    assert scaled_context_pad(16, 227) == 16
    assert scaled_context_pad(16, 64) == 5     # 16 * 64 / 227 = 4.51
    assert scaled_context_pad(16, 32) == 2     # 2.26
    assert scaled_context_pad(16, 128) == 9    # 9.02
    assert scaled_context_pad(0, 64) == 0


def _check_warp(out, source, placement, size):
    """Mean outside the placement; inside, each output pixel shows the source pixel that
    bilinear resizing of the clipped source box puts there."""
    (x1, y1, x2, y2), (px, py, ow, oh) = source, placement
    inside = np.zeros((size, size), bool)
    inside[py:py + oh, px:px + ow] = True
    assert (out[~inside] == MEAN).all()
    region = out[py:py + oh, px:px + ow].astype(float)
    want_x = bilinear_coordinates(x1 - 1, x2 - x1 + 1, ow)
    want_y = bilinear_coordinates(y1 - 1, y2 - y1 + 1, oh)
    np.testing.assert_allclose(region[:, :, 0], np.broadcast_to(want_x, (oh, ow)), atol=1)
    np.testing.assert_allclose(region[:, :, 1], np.broadcast_to(want_y[:, None], (oh, ow)), atol=1)
    assert (region[:, :, 2] == 7).all()


@pytest.mark.parametrize("args, expected", HAND_WORKED, ids="ABCDEF")
def test_warp_box_places_source_pixels_and_mean(args, expected):
    box, width, height = args
    out = warp_box(coordinate_image(width, height), box, 16, 4, MEAN)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    _check_warp(out, *expected, 16)


def test_warp_box_inside_box_corners():
    # Case A: output (0, 0) samples source (0-based) x = 10 + clamp(0.5 * 17/16 - 0.5) = 10.03,
    # i.e. column 10 (1-based 11 = the grown x1); output column 15 samples 10 + 15.44 = 25.44.
    out = warp_box(coordinate_image(40, 30), (15, 10, 22, 17), 16, 4, MEAN)
    assert tuple(out[0, 0]) == (10, 5, 7)
    assert abs(int(out[15, 15, 0]) - 25.44) <= 1 and abs(int(out[15, 15, 1]) - 20.44) <= 1


def test_warp_box_padding_sides():
    image = coordinate_image(40, 30)
    # B: padding on the left and top only: rows/cols 0..3 mean, the rest image.
    b = warp_box(image, (1, 1, 8, 6), 16, 4, MEAN)
    assert (b[:4] == MEAN).all() and (b[:, :4] == MEAN).all()
    assert (b[4:, 4:] != MEAN).any(-1).all()
    # C: padding on the right and bottom only.
    c = warp_box(image, (33, 25, 40, 30), 16, 4, MEAN)
    assert (c[11:] == MEAN).all() and (c[:, 11:] == MEAN).all()
    assert (c[:11, :11] != MEAN).any(-1).all()
    assert c[10, 10, 0] >= 38 and c[10, 10, 1] >= 28  # the image's last pixels end the content


def test_warp_box_mean_is_rounded_to_uint8():
    out = warp_box(coordinate_image(40, 30), (1, 1, 8, 6), 16, 4, (118.4, 117.6, 112.2))
    assert tuple(out[0, 0]) == (118, 118, 112)


def test_warp_box_matches_geometry_on_random_boxes():
    """Random boxes and sizes: the warp always fills exactly the placement crop_geometry gives."""
    rng = np.random.default_rng(0)
    image = coordinate_image(50, 37)
    for _ in range(200):
        x1, y1 = rng.integers(1, 51), rng.integers(1, 38)
        x2, y2 = rng.integers(x1, 51), rng.integers(y1, 38)
        size = int(rng.integers(8, 40))
        pad = int(rng.integers(0, size // 2 - 1))
        box = (int(x1), int(y1), int(x2), int(y2))
        source, placement = crop_geometry(box, 50, 37, size, pad)
        sx1, sy1, sx2, sy2 = source
        px, py, ow, oh = placement
        assert 1 <= sx1 <= sx2 <= 50 and 1 <= sy1 <= sy2 <= 37
        assert px + ow <= size and py + oh <= size
        assert sx1 <= x1 and sy1 <= y1 and sx2 >= x2 and sy2 >= y2  # context only grows the box
        _check_warp(warp_box(image, box, size, pad, MEAN), source, placement, size)


def test_crop_box_is_tight_resize():
    image = coordinate_image(40, 30)
    # Same size: the crop is the box's pixels exactly (1-based inclusive box (11, 6, 20, 15)).
    np.testing.assert_array_equal(crop_box(image, (11, 6, 20, 15), 10), image[5:15, 10:20])
    # 5 x 5 box to 10 x 10: bilinear coordinates starting at column 10, row 5.
    out = crop_box(image, (11, 6, 15, 10), 10).astype(float)
    np.testing.assert_allclose(out[0, :, 0], bilinear_coordinates(10, 5, 10), atol=1)
    np.testing.assert_allclose(out[:, 0, 1], bilinear_coordinates(5, 5, 10), atol=1)


def test_gtbox_patches_warp_every_row_with_scaled_pad(tiny_world):
    voc_root = tiny_world / "VOCdevkit"
    index, _, _ = build_index(voc_root, "test")
    kept = patches.select_gtboxes(index, include_difficult=False)
    assert len(kept) == (index["difficult"] == 0).sum()
    assert len(patches.select_gtboxes(index, include_difficult=True)) == len(index)
    mean = (118, 117, 112)
    got = patches.gtbox_patches(kept, voc_root, 32, 16, mean)
    assert got.shape == (len(kept), 3, 32, 32) and got.dtype == np.uint8
    for i, row in enumerate(kept.itertuples(index=False)):
        image = load_image(image_path(voc_root, row.image_id), "data.voc_root")
        want = warp_box(image, (row.x1, row.y1, row.x2, row.y2), 32, 2, mean)  # 16 at 227 -> 2
        np.testing.assert_array_equal(got[i], want.transpose(2, 0, 1))


def test_select_patchset_keeps_large_non_difficult():
    index = pd.DataFrame({"x1": [1, 1, 1, 1], "y1": [1, 1, 1, 1], "x2": [24, 23, 30, 30],
                          "y2": [24, 30, 22, 30], "difficult": [0, 0, 0, 1]})
    # widths 24, 23, 30, 30; heights 24, 30, 22, 30: only row 0 is >= 24 both ways and not
    # difficult.
    assert patches.select_patchset(index, 24).index.tolist() == [0]


def test_no_boxes_give_empty_patches_of_the_input_size(tmp_path):
    empty = pd.DataFrame(columns=["image_id", "class", "x1", "y1", "x2", "y2", "difficult",
                                  "truncated"])
    assert patches.gtbox_patches(empty, tmp_path, 32, 16, MEAN).shape == (0, 3, 32, 32)
