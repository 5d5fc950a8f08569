"""Feature-map similarity caching (seed 003, Anand, Bhupathiraju & Chandrala, "Understanding and
expediting learning in Convolution Neural Networks using feature maps", §5 and §7.1; SPEC §11).

During training, each class keeps one cached feature vector and one dynamic threshold. Before a
batch is trained, every sample's feature vector (from the maps of a chosen conv layer) is
compared with every class's cached vector by cosine similarity; a sample is a *cache hit*, and
is dropped from the batch, when the most similar class is its true class and the similarity
passes that class's threshold. After the SGD step, the feature vectors of the trained samples
update their classes' caches and thresholds.

Seed §5 leaves three details to the reader; this module reads them as follows.
- Cache update: V_cached = (V_cached n + V_new) / (n + b) and eps = (eps n + eps_new) / (n + b),
  with n the images cached so far and b the new ones. The seed's V_new and eps_new are the sums
  over the b new images (of their vectors U_j, and of cos(U_j, V_cached) against the updated
  vector: "when V_cached is calculated"), the one reading under which both stay the means over
  every cached image, as "n = total images cached so far" says. b counts the batch's trained
  images of that class.
- Cached images: the samples the batch trained on ("images trained so far"), with their vectors
  computed after the step ("the vector generated after the training of that batch").
- Threshold side: the prose says a similarity "less than threshold" is a cache miss (a hit is
  theta >= eps, `hit_side="above"`, the default), while the printed case formula has a hit for
  theta <= eps (`hit_side="below"`). Both are offered; equality is a hit in both.
"""

import time

import torch
import torch.nn.functional as F
from tqdm import tqdm

from layerwise.experiments import epoch_batches, sgd, step_inputs
from layerwise.models import build_model, extract_taps
from layerwise.training import evaluate_top1, set_determinism

HIT_SIDES = ("above", "below")
TRAININGS = ("normal", "caching")


def feature_vectors(maps):
    """Seed 003 §5.1: V = (mu_0 sigma_0, ..., mu_{C-1} sigma_{C-1}) per sample, with, for a P x Q
    map F_i, mu_i = sum |F_i| / PQ and sigma_i = sqrt(sum (|F_i| - mu_i)^2) / PQ (the seed's
    formula: the root of the summed squares divided by PQ). maps (N, C, P, Q) -> float64 (N, C).
    """
    a = maps.detach().abs().double().flatten(2)
    pq = a.shape[-1]
    mu = a.sum(-1) / pq
    sigma = ((a - mu.unsqueeze(-1)) ** 2).sum(-1).sqrt() / pq
    return mu * sigma


def cosine(query, cached):
    """Seed 003 §5.2: theta = sum Q_i C_i / (|Q| |C|) for every (query, cached) pair:
    (N, D) x (K, D) -> (N, K); 0 where either vector is all zeros."""
    dots = query @ cached.T
    norms = query.norm(dim=1, keepdim=True) * cached.norm(dim=1)
    return torch.where(norms > 0, dots / norms.clamp_min(torch.finfo(dots.dtype).tiny), 0.0)


class SimilarityCache:
    """One cached feature vector, threshold and image count per class (seed 003 §5)."""

    def __init__(self, num_classes, dim, hit_side="above"):
        if hit_side not in HIT_SIDES:
            raise ValueError(f"hit_side {hit_side!r}: expected one of {HIT_SIDES}")
        self.hit_side = hit_side
        self.vectors = torch.zeros(num_classes, dim, dtype=torch.float64)
        self.thresholds = torch.zeros(num_classes, dtype=torch.float64)
        self.counts = torch.zeros(num_classes, dtype=torch.long)

    def hits(self, vectors, labels):
        """Seed 003 §5.2: a sample is a hit when argmax_c theta(V_query, V_c) over the cached
        classes is its true label and theta against that class passes its threshold eps
        (theta >= eps for hit_side "above", theta <= eps for "below"). A class with nothing
        cached yet cannot win. Returns bool (N,)."""
        theta = cosine(vectors, self.vectors).masked_fill(self.counts == 0, float("-inf"))
        best, predicted = theta.max(dim=1)
        eps = self.thresholds[predicted]
        passes = best >= eps if self.hit_side == "above" else best <= eps
        return (self.counts[predicted] > 0) & (predicted == labels) & passes

    def update(self, vectors, labels):
        """Add the vectors U_j of newly trained samples to their classes' caches (seed 003 §5.1,
        §5.2): V = (V n + sum_j U_j) / (n + b), then eps = (eps n + sum_j cos(U_j, V)) / (n + b)
        with the updated V, then n += b."""
        for c in labels.unique().tolist():
            new = vectors[labels == c]
            n, b = self.counts[c].item(), len(new)
            self.vectors[c] = (self.vectors[c] * n + new.sum(0)) / (n + b)
            similarity = cosine(new, self.vectors[c:c + 1]).sum()
            self.thresholds[c] = (self.thresholds[c] * n + similarity) / (n + b)
            self.counts[c] = n + b


def train_epoch(model, optimizer, images, labels, epoch, first_step, cache, *, layer,
                batch_size, crop, mirror, seed, pixel_mean, device="cpu", progress=False):
    """One epoch of SGD on cross-entropy; with a `cache`, each batch first drops its cache hits
    (seed 003 §7.1) and the trained samples then update the cache. A batch of hits only takes
    no step. Returns (cache hits, samples trained, SGD steps)."""
    hits = trained = 0
    batches = epoch_batches(len(images), batch_size, epoch, seed)
    for step, idx in enumerate(tqdm(batches, disable=not progress, mininterval=10,
                                    desc=f"epoch {epoch}"), start=first_step):
        x = step_inputs(images[idx], model.input_size, step, seed, crop=crop, mirror=mirror,
                        pixel_mean=pixel_mean, device=device)
        y = labels[idx].to(device)
        if cache is not None:
            with torch.no_grad():
                hit = cache.hits(feature_vectors(extract_taps(model, x, (layer,))[layer]).cpu(),
                                 y.cpu())
            hits += int(hit.sum())
            x, y = x[~hit.to(device)], y[~hit.to(device)]
        if len(y):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            trained += len(y)
            if cache is not None:
                with torch.no_grad():
                    after = feature_vectors(extract_taps(model, x, (layer,))[layer])
                cache.update(after.cpu(), y.cpu())
    return hits, trained, len(batches)


def run(images, labels, val_images, val_labels, *, training, num_classes, model_cfg, cfg, seed,
        pixel_mean, device="cpu", threads=None, progress=False):
    """Seed 003 §7.1, Fig. 7: train a fresh network from `seed`'s initialisation on a
    classification set with `training` "normal" or "caching", scoring validation top-1 after
    every epoch.

    images: uint8 (N, 3, S, S) with S >= the input size, labels (N,) class ids below
    `num_classes`. model_cfg: the config's `model` section; cfg: `experiments.similarity_cache`
    (epochs, batch_size, lr, momentum, weight_decay, crop, mirror, layer, hit_side). Both
    trainings see the same batches in the same order. Returns one row per epoch: {training, epoch (1-based), accuracy (%),
    cache_hits, samples_trained, wall_time_s (the epoch's SGD wall time, varies)}.
    """
    if training not in TRAININGS:
        raise ValueError(f"training {training!r}: expected one of {TRAININGS}")
    set_determinism(threads)
    model = build_model(**model_cfg, num_classes=num_classes, seed=seed).to(device).train()
    optimizer = sgd([model], cfg["lr"], cfg["momentum"], cfg["weight_decay"])
    cache = None
    if training == "caching":
        with torch.no_grad():
            probe = torch.zeros(1, 3, model.input_size, model.input_size, device=device)
            channels = extract_taps(model, probe, (cfg["layer"],))[cfg["layer"]].shape[1]
        cache = SimilarityCache(num_classes, channels, cfg["hit_side"])
    images, labels = torch.as_tensor(images), torch.as_tensor(labels, dtype=torch.long)
    rows, step = [], 0
    for epoch in range(cfg["epochs"]):
        start = time.perf_counter()
        hits, trained, steps = train_epoch(
            model, optimizer, images, labels, epoch, step, cache, layer=cfg["layer"],
            batch_size=cfg["batch_size"], crop=cfg["crop"], mirror=cfg["mirror"], seed=seed,
            pixel_mean=pixel_mean, device=device, progress=progress)
        seconds = time.perf_counter() - start
        step += steps
        top1 = evaluate_top1(model, torch.as_tensor(val_images), val_labels, 256, pixel_mean,
                             device)
        rows.append({"training": training, "epoch": epoch + 1, "accuracy": 100 * top1,
                     "cache_hits": hits, "samples_trained": trained, "wall_time_s": seconds})
    return rows
