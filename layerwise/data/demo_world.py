"""The demo world (SPEC §4.1): ImageNet-, VOC2007- and SUN397-style datasets, generated.

It stands in for the thesis' datasets (thesis §1.2) on a laptop. All three are built from the
vocabulary of `primitives`:

- a *source* class (ImageNet-style) is one (shape, texture, colour) triple: the network learns the
  primitives while pretraining;
- a *VOC* class is a two-part composition: a body shape carrying a part shape on one side, with a
  colour from a class-specific set of three and a texture from a set of two. Body, part, colour and
  texture are each shared with other classes, so only their conjunction names the class, and
  near-miss distractors (a class's body with no part) sit in the clutter;
- a *SUN* scene is a layout (sky and ground, or wall and floor), scenery primitives and the VOC
  objects typical of it.

The generator is deterministic: every image is a pure function of (seed, dataset, index), so the
same seed gives the same bytes whatever the number of worker processes.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np

from layerwise.data.primitives import COLOURS, SHAPES, TEXTURES, Primitive, background, draw, \
    polygon, random_primitive
from layerwise.data.voc import VOC_CLASSES

# Frequency of each VOC class among objects: person dominates, as in VOC2007 (thesis §1.2).
_VOC_WEIGHT = {"person": 8.0, "car": 3.0, "chair": 2.0, "dog": 1.5, "bird": 1.5, "cat": 1.5}
_PART_DIRECTIONS = {"top": (0, -1), "bottom": (0, 1), "left": (-1, 0), "right": (1, 0)}
# Radius range of a VOC-style object as a fraction of the image's short side (log-uniform). Whole
# VOC images are shrunk to the network's input, so objects must stay near the scale of the source
# objects for whole-image features to transfer (README, "The demo world": measured there).
VOC_OBJECT_RADIUS = (0.2, 0.45)

# name: (indoor, top colour, bottom colour, horizon range, typical VOC classes, scenery)
# scenery rows: (shape, texture, colour, count range, radius range (fraction of the short side),
# vertical range of centres (fraction of the height))
_SCENES = {
    "a/abbey": (False, (150, 170, 200), (125, 115, 105), (0.55, 0.7), ["person", "pottedplant"],
                [("pentagon", "checker", "white", (1, 2), (0.25, 0.35), (0.3, 0.5))]),
    "b/bakery/shop": (True, (200, 160, 110), (110, 80, 50), (0.6, 0.75), ["person", "bottle"],
                      [("circle", "dots", "orange", (3, 6), (0.05, 0.1), (0.3, 0.6))]),
    "b/beach": (False, (120, 190, 235), (225, 205, 140), (0.35, 0.5), ["person", "dog", "boat"],
                [("circle", "solid", "yellow", (1, 1), (0.08, 0.12), (0.05, 0.2))]),
    "c/coast": (False, (140, 180, 220), (40, 90, 160), (0.4, 0.55), ["boat", "bird"],
                [("triangle", "solid", "brown", (1, 3), (0.15, 0.3), (0.45, 0.6))]),
    "f/forest/broadleaf": (False, (160, 200, 170), (60, 120, 50), (0.65, 0.8), ["bird", "horse"],
                           [("circle", "dots", "green", (4, 8), (0.12, 0.22), (0.2, 0.6))]),
    "f/forest/needleleaf": (False, (170, 190, 200), (50, 90, 60), (0.65, 0.8), ["bird", "sheep"],
                            [("triangle", "diagonal", "green", (4, 8), (0.12, 0.22), (0.2, 0.6))]),
    "h/highway": (False, (150, 190, 230), (90, 90, 95), (0.4, 0.5), ["car", "bus", "motorbike"],
                  [("square", "hstripes", "white", (2, 4), (0.03, 0.05), (0.7, 0.9))]),
    "k/kitchen": (True, (230, 230, 220), (170, 150, 120), (0.55, 0.7),
                  ["bottle", "diningtable", "chair"],
                  [("square", "checker", "white", (2, 4), (0.1, 0.18), (0.2, 0.5))]),
    "l/library/indoor": (True, (130, 90, 60), (100, 70, 50), (0.75, 0.85),
                         ["person", "chair", "tvmonitor"],
                         [("square", "vstripes", "brown", (2, 4), (0.15, 0.25), (0.2, 0.5))]),
    "m/mountain": (False, (170, 200, 235), (110, 100, 90), (0.55, 0.7), ["sheep", "cow"],
                   [("triangle", "solid", "white", (2, 3), (0.3, 0.45), (0.35, 0.55))]),
    "o/office": (True, (190, 195, 200), (120, 120, 130), (0.65, 0.8),
                 ["tvmonitor", "chair", "person"],
                 [("square", "outline", "blue", (1, 3), (0.08, 0.14), (0.2, 0.5))]),
    "s/street": (False, (160, 185, 215), (110, 110, 110), (0.55, 0.7),
                 ["car", "person", "bicycle", "bus"],
                 [("square", "checker", "brown", (2, 4), (0.15, 0.3), (0.25, 0.45))]),
}
SUN_SCENES = tuple(_SCENES)


@dataclass(frozen=True)
class VocClass:
    body: str
    part: str
    side: str
    colours: tuple[str, ...]
    textures: tuple[str, ...]


@dataclass(frozen=True)
class World:
    """The class definitions, fixed by the seed; images are drawn from it."""

    source: tuple[tuple[str, str, str], ...]
    voc: dict[str, VocClass]
    voc_weights: np.ndarray

    def describe_source(self, k: int) -> str:
        shape, texture, colour = self.source[k]
        return f"{colour} {texture} {shape}"


@functools.lru_cache(maxsize=4)
def make_world(seed: int, n_source: int) -> World:
    """Draw the source and VOC class definitions from the world seed."""
    rng = np.random.default_rng([seed, 7])
    triples = list(itertools.product(SHAPES, TEXTURES, COLOURS))
    if n_source > len(triples):
        raise ValueError(f"data.demo.source_classes: at most {len(triples)} classes exist")
    source = tuple(triples[i] for i in sorted(rng.choice(len(triples), n_source, replace=False)))
    voc = {}
    colour_names = list(COLOURS)
    for i, name in enumerate(VOC_CLASSES):
        # Each body shape carries two classes: the part and the texture tell them apart (their
        # texture sets are disjoint), so a class is told by primitives pretraining teaches.
        body = SHAPES[i // 2]
        part = SHAPES[(i // 2 + 1 + 3 * (i % 2)) % len(SHAPES)]
        if i % 2 == 0:
            pair_textures = rng.choice(len(TEXTURES) - 1, 4, replace=False)
        voc[name] = VocClass(
            body=body, part=part, side=list(_PART_DIRECTIONS)[rng.integers(4)],
            colours=tuple(colour_names[j] for j in rng.choice(len(colour_names), 3, replace=False)),
            textures=tuple(TEXTURES[j] for j in pair_textures[2 * (i % 2):2 * (i % 2) + 2]))
    weights = np.array([_VOC_WEIGHT.get(n, 1.0) for n in VOC_CLASSES]) * rng.uniform(0.7, 1.3, 20)
    return World(source=source, voc=voc, voc_weights=weights / weights.sum())


def _object_primitives(cls: VocClass, cx, cy, radius, mirror, rng, with_part=True):
    """The body and part primitives of one VOC-style object."""
    colour = COLOURS[cls.colours[rng.integers(3)]]
    body = Primitive(cls.body, cls.textures[rng.integers(2)], colour, cx, cy, radius,
                     angle=float(rng.uniform(-0.25, 0.25)), aspect=float(rng.uniform(0.8, 1.2)))
    if not with_part:
        return [body]
    dx, dy = _PART_DIRECTIONS[cls.side]
    dx = -dx if mirror else dx
    part_colour = COLOURS[cls.colours[rng.integers(3)]]
    part = Primitive(cls.part, "solid", part_colour, cx + dx * radius * 1.15,
                     cy + dy * radius * 1.15, radius * 0.55, angle=float(rng.uniform(-0.3, 0.3)))
    return [body, part]


def _draw_object(image, label_map, obj_id, prims, rng):
    for p in prims:
        label_map[draw(image, p, rng)] = obj_id


def _distractors(image, rng, world: World, n: int, rmin: float, rmax: float):
    """Clutter: random primitives and near misses (a VOC body without its part)."""
    h, w = image.shape[:2]
    for _ in range(n):
        radius = float(rng.uniform(rmin, rmax)) * min(h, w)
        if rng.random() < 0.3:
            cls = world.voc[VOC_CLASSES[rng.integers(20)]]
            prims = _object_primitives(cls, rng.uniform(0, w), rng.uniform(0, h), radius, False,
                                       rng, with_part=False)
        else:
            prims = [random_primitive(rng, h, w, radius)]
        for p in prims:
            draw(image, p, rng)


def render_source_image(world: World, k: int, rng: np.random.Generator, size_range):
    """One ImageNet-style image of source class k: a dominant object on clutter."""
    w, h = (int(v) for v in rng.integers(size_range[0], size_range[1] + 1, 2))
    image = background(h, w, rng)
    _distractors(image, rng, world, int(rng.integers(1, 4)), 0.06, 0.14)
    shape, texture, colour = world.source[k]
    short = min(h, w)
    cx = w / 2 + rng.uniform(-0.15, 0.15) * w
    cy = h / 2 + rng.uniform(-0.15, 0.15) * h
    radius = float(rng.uniform(0.22, 0.4)) * short
    draw(image, Primitive(shape, texture, COLOURS[colour], cx, cy, radius,
                          angle=float(rng.uniform(-0.3, 0.3)),
                          aspect=float(rng.uniform(0.8, 1.2))), rng)
    if rng.random() < 0.5:  # a nuisance part teaches the network to see small attached shapes
        draw(image, random_primitive(rng, h, w, radius * 0.45), rng)
    return image


def _place_objects(image, world: World, rng, names, min_r, max_r, y_range=(0.0, 1.0)):
    """Draw objects of the given classes and return their annotations (visible boxes)."""
    h, w = image.shape[:2]
    label_map = np.zeros((h, w), np.int32)
    drawn = []
    for obj_id, name in enumerate(names, start=1):
        radius = float(np.exp(rng.uniform(np.log(min_r), np.log(max_r)))) * min(h, w)
        cx = float(rng.uniform(0.05, 0.95)) * w
        cy = float(rng.uniform(*y_range)) * h
        mirror = bool(rng.random() < 0.5)
        prims = _object_primitives(world.voc[name], cx, cy, radius, mirror, rng)
        _draw_object(image, label_map, obj_id, prims, rng)
        full = np.zeros((h + 2 * w, w + 2 * w), np.uint8)  # canvas large enough to hold it whole
        for p in prims:
            shifted = Primitive(p.shape, "solid", p.colour, p.cx + w, p.cy + w, p.radius, p.angle,
                                p.aspect)
            cv2.fillPoly(full, [polygon(shifted)], 1)
        drawn.append((obj_id, name, mirror, int(full.sum()), full, world.voc[name].side))
    objects = []
    for obj_id, name, mirror, area, full, side in drawn:
        ys, xs = np.nonzero(label_map == obj_id)
        if len(xs) == 0:
            continue
        inside = full[w:w + h, w:w + w].sum()
        pose = "Unspecified"
        if side in ("left", "right"):
            pose = "Left" if (side == "left") != mirror else "Right"
        objects.append(dict(
            name=name, pose=pose, truncated=int(inside < area),
            difficult=int(len(xs) < 0.35 * area or max(np.ptp(xs), np.ptp(ys)) + 1 < 10),
            xmin=int(xs.min()) + 1, ymin=int(ys.min()) + 1,
            xmax=int(xs.max()) + 1, ymax=int(ys.max()) + 1))
    return objects


def render_voc_image(world: World, rng: np.random.Generator, size: int, max_objects: int,
                     required: str | None = None):
    """One VOC-style image: 1..max_objects objects, some small, occluded or truncated.

    A `required` class is drawn last, on top, so that it is never occluded.
    """
    w = size
    h = int(round(size * rng.uniform(0.7, 1.0)))
    if rng.random() < 0.3:
        w, h = h, w
    image = background(h, w, rng)
    _distractors(image, rng, world, int(rng.integers(0, 3)), 0.04, 0.1)
    while True:
        n = int(rng.choice(np.arange(1, max_objects + 1), p=_count_probs(max_objects)))
        names = [VOC_CLASSES[i] for i in rng.choice(20, n, p=world.voc_weights)]
        if required is not None:
            names[-1] = required
        objects = _place_objects(image, world, rng, names, *VOC_OBJECT_RADIUS)
        if objects and (required is None or (objects[-1]["name"] == required
                                             and not objects[-1]["difficult"])):
            return image, objects


def _count_probs(max_objects: int) -> np.ndarray:
    p = 0.55 ** np.arange(max_objects)
    return p / p.sum()


def render_sun_image(world: World, scene: str, rng: np.random.Generator, size: int):
    """One SUN-style scene: its layout, its scenery and a few of its typical objects."""
    indoor, top, bottom, horizon, classes, scenery = _SCENES[scene]
    w, h = size, int(round(size * 0.75))
    split = int(rng.uniform(*horizon) * h)
    image = np.empty((h, w, 3), np.uint8)
    image[:split] = background(split, w, rng, base=top, spread=25 if indoor else 15)
    image[split:] = background(h - split, w, rng, base=bottom, spread=25)
    for shape, texture, colour, counts, radii, ys in scenery:
        for _ in range(int(rng.integers(counts[0], counts[1] + 1))):
            draw(image, Primitive(shape, texture, COLOURS[colour], float(rng.uniform(0, w)),
                                  float(rng.uniform(*ys) * h),
                                  float(rng.uniform(*radii) * min(h, w)),
                                  angle=float(rng.uniform(-0.1, 0.1))), rng)
    _distractors(image, rng, world, int(rng.integers(1, 4)), 0.04, 0.1)
    names = [classes[i] for i in rng.integers(len(classes), size=int(rng.integers(1, 4)))]
    _place_objects(image, world, rng, names, 0.07, 0.18, y_range=(horizon[0], 0.95))
    return image


def write_jpeg(path: Path, rgb: np.ndarray, quality: int = 90) -> None:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError(f"could not encode {path}")
    path.write_bytes(buf.tobytes())


def voc_annotation_xml(image_id: str, width: int, height: int, objects) -> bytes:
    """Devkit-style annotation XML (VOC2007 fields: size, name, pose, truncated, difficult, bndbox)."""
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "VOC2007"
    ET.SubElement(root, "filename").text = f"{image_id}.jpg"
    source = ET.SubElement(root, "source")
    ET.SubElement(source, "database").text = "The layerwise demo world (synthetic)"
    size = ET.SubElement(root, "size")
    for tag, value in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size, tag).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for o in objects:
        obj = ET.SubElement(root, "object")
        for tag in ("name", "pose", "truncated", "difficult"):
            ET.SubElement(obj, tag).text = str(o[tag])
        box = ET.SubElement(obj, "bndbox")
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            ET.SubElement(box, tag).text = str(o[tag])
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8") + b"\n"


# --- writing the three trees ------------------------------------------------------------------

def _task(args):
    """Render and write one image; runs in a worker process."""
    kind, index, seed, cfg, root = args
    world = make_world(seed, cfg["source_classes"])
    rng = np.random.default_rng([seed, {"src_train": 1, "src_val": 2, "voc": 3, "sun": 4}[kind],
                                 index])
    root = Path(root)
    if kind in ("src_train", "src_val"):
        per = cfg["source_train_per_class" if kind == "src_train" else "source_val_per_class"]
        k, i = divmod(index, per)
        wnid = source_wnid(k)
        image = render_source_image(world, k, rng, cfg["source_size"])
        if kind == "src_train":
            write_jpeg(root / "ILSVRC" / "train" / wnid / f"{wnid}_{i + 1}.JPEG", image)
        else:
            write_jpeg(root / "ILSVRC" / "val" / wnid / f"ILSVRC2012_val_{index + 1:08d}.JPEG", image)
        return None
    if kind == "voc":
        # The first 20 images of each split carry one object of each class, so that every
        # class has positives in trainval and test even in the smallest worlds.
        local = index if index < cfg["voc_trainval"] else index - cfg["voc_trainval"]
        required = VOC_CLASSES[local] if local < len(VOC_CLASSES) else None
        image, objects = render_voc_image(world, rng, cfg["voc_size"], cfg["voc_max_objects"],
                                          required)
        image_id = f"{index + 1:06d}"
        voc = root / "VOCdevkit" / "VOC2007"
        write_jpeg(voc / "JPEGImages" / f"{image_id}.jpg", image)
        (voc / "Annotations" / f"{image_id}.xml").write_bytes(
            voc_annotation_xml(image_id, image.shape[1], image.shape[0], objects))
        return image_id, objects
    scene_index, i = divmod(index, cfg["sun_per_class"])
    scene = SUN_SCENES[scene_index]
    image = render_sun_image(world, scene, rng, cfg["sun_size"])
    write_jpeg(root / "SUN397" / scene / f"sun_{scene_index:02d}{i:05d}.jpg", image)
    return None


def source_wnid(k: int) -> str:
    """A WordNet-id-shaped name for source class k (n9... never collides with a real synset)."""
    return f"n9{k:07d}"


def _make_dirs(root: Path, world: World, cfg) -> None:
    for split in ("train", "val"):
        for k in range(len(world.source)):
            (root / "ILSVRC" / split / source_wnid(k)).mkdir(parents=True)
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (root / "VOCdevkit" / "VOC2007" / sub).mkdir(parents=True)
    for scene in SUN_SCENES:
        (root / "SUN397" / scene).mkdir(parents=True)


def _write_image_sets(root: Path, voc_results, n_trainval: int, seed: int) -> None:
    """ImageSets/Main: split lists and per-class files with the devkit's 1 / -1 / 0 labels."""
    main = root / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main"
    ids = [r[0] for r in voc_results]
    trainval, test = ids[:n_trainval], ids[n_trainval:]
    in_train = np.random.default_rng([seed, 5]).permutation(len(trainval)) < len(trainval) // 2
    splits = {"train": [i for i, t in zip(trainval, in_train) if t],
              "val": [i for i, t in zip(trainval, in_train) if not t],
              "trainval": trainval, "test": test}
    objects = dict(voc_results)
    for split, members in splits.items():
        (main / f"{split}.txt").write_text("".join(f"{i}\n" for i in members))
        for cls in VOC_CLASSES:
            lines = [f"{i} {_image_label(objects[i], cls):2d}\n" for i in members]
            (main / f"{cls}_{split}.txt").write_text("".join(lines))


def _image_label(objects, cls: str) -> int:
    flags = [o["difficult"] for o in objects if o["name"] == cls]
    if not flags:
        return -1
    return 0 if all(flags) else 1


def generate(root: str | os.PathLike, cfg: dict, progress=None) -> None:
    """Write the demo world under `root` (SPEC §4.1), atomically: build a sibling, then rename.

    `cfg` is the `data.demo` block of the configuration.
    """
    root = Path(root)
    tmp = root.with_name(f".{root.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    seed = cfg["seed"]
    world = make_world(seed, cfg["source_classes"])
    _make_dirs(tmp, world, cfg)
    n_src = len(world.source)
    jobs = ([("src_train", i) for i in range(n_src * cfg["source_train_per_class"])]
            + [("src_val", i) for i in range(n_src * cfg["source_val_per_class"])]
            + [("voc", i) for i in range(cfg["voc_trainval"] + cfg["voc_test"])]
            + [("sun", i) for i in range(len(SUN_SCENES) * cfg["sun_per_class"])])
    args = [(kind, i, seed, cfg, str(tmp)) for kind, i in jobs]
    with Pool(cfg["workers"], initializer=cv2.setNumThreads, initargs=(1,)) as pool:
        results = pool.imap(_task, args, chunksize=64)
        if progress is not None:
            results = progress(results, total=len(args))
        voc_results = [r for r in results if r is not None]
    _write_image_sets(tmp, voc_results, cfg["voc_trainval"], seed)
    (tmp / "ILSVRC" / "synsets.txt").write_text(
        "".join(f"{source_wnid(k)} {world.describe_source(k)}\n" for k in range(n_src)))
    if root.exists():
        shutil.rmtree(root)
    os.replace(tmp, root)
