"""Tests of seed 003's feature-map similarity caching: vectors, hit rule, updates, training."""

import math

import numpy as np
import pytest
import torch

from layerwise.experiments import similarity_cache as sc
from layerwise.experiments import sgd
from layerwise.models import build_model

MODEL = {"arch": "alexnet_mini", "input_size": 32, "width": 0.0625}
CFG = {"epochs": 2, "batch_size": 8, "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4,
       "crop": True, "mirror": True, "layer": "conv3", "hit_side": "above"}
MEAN = [118, 117, 112]


def test_feature_vectors_follow_the_seed_formula():
    maps = torch.randn(3, 4, 2, 5, dtype=torch.float64)
    expected = np.zeros((3, 4))
    for n in range(3):
        for i in range(4):
            f = np.abs(maps[n, i].numpy())
            pq = f.size
            mu = f.sum() / pq
            sigma = math.sqrt(((f - mu) ** 2).sum()) / pq
            expected[n, i] = mu * sigma
    np.testing.assert_allclose(sc.feature_vectors(maps).numpy(), expected, rtol=1e-12)


def test_cosine_matches_the_formula_and_is_zero_for_a_zero_vector():
    q = torch.tensor([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    c = torch.tensor([[2.0, 0.0, 0.0], [1.0, 2.0, 2.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    expected = [[1 / 3, 1.0, 0.0], [0.0, 0.0, 0.0]]
    np.testing.assert_allclose(sc.cosine(q, c).numpy(), expected, rtol=1e-12)


def hand_cache(hit_side):
    """Three classes cached along the axes, thresholds 0.8, 0.8, 0.5; class 2 empty."""
    cache = sc.SimilarityCache(3, 2, hit_side)
    cache.vectors[:] = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    cache.thresholds[:] = torch.tensor([0.8, 0.8, 0.5], dtype=torch.float64)
    cache.counts[:] = torch.tensor([5, 5, 0])
    return cache


# theta against class 0 / class 1, worked by hand: (1, 0) -> 1 / 0; (3, 4) -> 0.6 / 0.8;
# (4, 3) -> 0.8 / 0.6; (1, 1) -> 0.707 / 0.707 (tie: class 0 wins); (5, 1) -> 0.981 / 0.196.
QUERIES = torch.tensor([[1.0, 0.0], [3.0, 4.0], [4.0, 3.0], [1.0, 1.0], [5.0, 1.0], [1.0, 0.0]],
                       dtype=torch.float64)
LABELS = torch.tensor([0, 1, 0, 0, 1, 2])


@pytest.mark.parametrize("hit_side, expected", [
    # above (the seed's prose): theta >= eps of the argmax class, which must be the true one.
    ("above", [True, True, True, False, False, False]),
    # below (the seed's printed formula): theta <= eps, same argmax condition.
    ("below", [False, True, True, True, False, False]),
])
def test_hits_follow_the_seed_rule_on_a_hand_made_batch(hit_side, expected):
    """Row 4 has the best match in class 0 but label 1 (a miss on both sides); row 5's class 2
    has nothing cached, so it cannot win the argmax."""
    assert sc.SimilarityCache.hits(hand_cache(hit_side), QUERIES, LABELS).tolist() == expected


def test_nothing_hits_an_empty_cache():
    cache = sc.SimilarityCache(3, 2)
    assert not cache.hits(QUERIES, LABELS).any()


def test_updates_keep_the_means_over_every_cached_image():
    """Brute force: V is the mean of all cached vectors; eps the mean over images of the cosine
    of each image with the class vector right after its batch's update."""
    rng = np.random.default_rng(0)
    cache = sc.SimilarityCache(2, 3)
    seen, sims = {0: [], 1: []}, {0: [], 1: []}
    for _ in range(4):
        vectors = rng.random((5, 3))
        labels = rng.integers(0, 2, 5)
        cache.update(torch.from_numpy(vectors), torch.from_numpy(labels))
        for c in (0, 1):
            seen[c] += list(vectors[labels == c])
            mean = np.mean(seen[c], axis=0)
            sims[c] += [u @ mean / np.linalg.norm(u) / np.linalg.norm(mean)
                        for u in vectors[labels == c]]
    for c in (0, 1):
        assert cache.counts[c] == len(seen[c])
        np.testing.assert_allclose(cache.vectors[c].numpy(), np.mean(seen[c], axis=0))
        np.testing.assert_allclose(cache.thresholds[c].item(), np.mean(sims[c]))


def test_bad_hit_side_is_named():
    with pytest.raises(ValueError, match="sideways"):
        sc.SimilarityCache(2, 2, "sideways")


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (20, 3, 36, 36), dtype=torch.uint8, generator=g)
    val = torch.randint(0, 256, (6, 3, 36, 36), dtype=torch.uint8, generator=g)
    return images, torch.arange(20) % 4, val, torch.arange(6) % 4


def epoch(data, cache, model):
    images, labels = data[0], data[1]
    optimizer = sgd([model], 0.01, 0.9, 5e-4)
    return sc.train_epoch(model, optimizer, images, labels, 0, 0, cache, layer="conv3",
                          batch_size=8, crop=True, mirror=True, seed=0, pixel_mean=MEAN)


def test_a_batch_of_cache_hits_trains_nothing(data):
    """A batch whose samples are all cache hits is dropped whole: no step, weights untouched.
    Without a cache every sample is trained."""
    model = build_model(**MODEL, num_classes=4, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cache = sc.SimilarityCache(4, 24)
    cache.hits = lambda vectors, labels: torch.ones(len(labels), dtype=torch.bool)
    assert epoch(data, cache, model) == (20, 0, 3)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert epoch(data, None, model) == (0, 20, 3)
    assert not all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_run_is_deterministic_and_counts_every_sample(data):
    runs = [sc.run(*data, training=t, num_classes=4, model_cfg=MODEL, cfg=CFG, seed=0, pixel_mean=MEAN,
                   threads=1) for t in ("caching", "caching", "normal")]
    for rows in runs:
        for row in rows:
            row.pop("wall_time_s")
    assert runs[0] == runs[1]
    for row in runs[0]:
        assert row["training"] == "caching"
        assert row["cache_hits"] + row["samples_trained"] == 20
    assert runs[0][-1]["cache_hits"] > 0  # the demo rule does fire on this tiny set
    assert [(r["epoch"], r["cache_hits"], r["samples_trained"]) for r in runs[2]] == [
        (1, 0, 20), (2, 0, 20)]
    with pytest.raises(ValueError, match="fancy"):
        sc.run(*data, training="fancy", num_classes=4, model_cfg=MODEL, cfg=CFG, seed=0, pixel_mean=MEAN)
