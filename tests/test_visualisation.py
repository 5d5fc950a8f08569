"""Unit visualisation and occlusion sensitivity (layerwise/visualisation.py, seed 002) against
brute-force loops; the smoke run's figures."""

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from layerwise import visualisation
from layerwise.models import build_model, extract_taps, preprocess

PIXEL_MEAN = [118, 117, 112]


def test_top_activations_match_a_sort_of_spatial_maxima(tmp_path):
    rng = np.random.default_rng(0)
    # Rounded values make ties, which go to the lower row.
    features = rng.normal(size=(30, 5, 3, 2)).round(1).astype(np.float32)
    units = [4, 0, 2]
    indices, scores = visualisation.top_activations(features, units, top=9)
    for r, unit in enumerate(units):
        pairs = sorted((-max(features[i, unit].ravel()), i) for i in range(30))[:9]
        assert indices[r].tolist() == [i for _, i in pairs]
        assert scores[r].tolist() == [-s for s, _ in pairs]
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["features"] = features.astype(np.float16)
    with h5py.File(tmp_path / "f.h5", "r") as f:
        got, _ = visualisation.top_activations(f["features"], units, top=9)
    want, _ = visualisation.top_activations(features.astype(np.float16), units, top=9)
    assert np.array_equal(got, want)


def test_top_activations_with_fewer_samples_and_bad_units():
    features = np.arange(12, dtype=np.float32).reshape(4, 3, 1, 1)
    indices, scores = visualisation.top_activations(features, [1], top=9)
    assert indices.tolist() == [[3, 2, 1, 0]] and scores.tolist() == [[10, 7, 4, 1]]
    with pytest.raises(ValueError, match="visualisation.units"):
        visualisation.top_activations(features, [0, 3])


def test_occluder_positions_cover_the_image():
    assert visualisation.occluder_positions(8, 4, 2) == [0, 2, 4]
    assert visualisation.occluder_positions(8, 4, 3) == [0, 3, 4]
    assert visualisation.occluder_positions(8, 8, 3) == [0]
    with pytest.raises(ValueError, match="occlusion.square"):
        visualisation.occluder_positions(8, 9, 1)


def test_occlusion_maps_match_one_forward_pass_per_position():
    model = build_model("alexnet_mini", 21, 32, width=0.0625, seed=4).eval()
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(2))
    square, stride, target = 12, 8, 7
    got = visualisation.occlusion_maps(model, image, target, PIXEL_MEAN, square, stride,
                                       batch_size=4)

    def forward(img):
        with torch.no_grad():
            x = preprocess(torch.from_numpy(img)[None], PIXEL_MEAN)
            pool5 = extract_taps(model, x, ["pool5"])["pool5"][0]
            prob = torch.softmax(model(x), dim=1)[0, target]
        return pool5.numpy(), float(prob)

    clean = image.numpy()
    pool5, prob = forward(clean)
    unit = int(np.argmax(pool5.sum(axis=(1, 2))))
    assert got["unit"] == unit
    assert got["clean_probability"] == pytest.approx(prob, rel=1e-5)
    starts = [0, 8, 16, 20]  # 32 - 12 = 20 is the last corner
    assert got["positions"] == starts
    for r, y in enumerate(starts):
        for c, x in enumerate(starts):
            img = clean.copy()
            img[:, y:y + square, x:x + square] = np.array(PIXEL_MEAN, np.uint8)[:, None, None]
            maps, p = forward(img)
            assert got["activation"][r, c] == pytest.approx(maps[unit].sum(), rel=1e-4, abs=1e-4)
            assert got["probability"][r, c] == pytest.approx(p, rel=1e-4, abs=1e-7)


def test_class_probabilities_in_batches_equal_one_pass():
    model = build_model("alexnet_mini", 21, 32, width=0.0625, seed=1).eval()
    images = torch.randint(0, 256, (7, 3, 32, 32), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    got = visualisation.class_probabilities(model.train(), images, PIXEL_MEAN, batch_size=3)
    with torch.no_grad():
        want = torch.softmax(model.eval()(preprocess(images, PIXEL_MEAN)), dim=1)
    torch.testing.assert_close(got, want)  # and dropout was off despite train()


def test_confident_examples_take_one_box_per_class():
    labels = np.array([0, 0, 1, 2, 1])
    probs = np.zeros((5, 21))
    probs[np.arange(5), labels + 1] = [0.9, 0.95, 0.5, 0.2, 0.7]
    assert visualisation.confident_examples(probs, labels, 2) == [1, 4]
    assert visualisation.confident_examples(probs, labels, 5) == [1, 4, 3]


def test_smoke_run_draws_the_top9_and_occlusion_figures(smoke_run):
    for name in ("fig_top9_pool5", "fig_occlusion"):
        png = smoke_run / "results" / "figures" / f"{name}.png"
        assert (png.with_suffix(".pdf")).stat().st_size > 0
        with Image.open(png) as im:
            assert min(im.size) > 200
    log = (smoke_run / "results/logs/figures/fig_occlusion.log").read_text()
    assert log.count("pool5 map") == 2  # smoke.yaml: two boxes
