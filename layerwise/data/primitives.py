"""The visual vocabulary of the demo world (SPEC §4.1): shapes, textures and colours.

Source (ImageNet-style) classes, VOC-style classes and SUN-style scenes are all drawn from this one
vocabulary, so features learnt in pretraining are useful after transfer. Everything draws with
OpenCV on uint8 RGB arrays, and every random choice comes from the caller's numpy Generator, so an
image is a pure function of its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SHAPES = ("circle", "square", "triangle", "diamond", "pentagon", "hexagon", "star", "cross",
          "arrow", "crescent")
TEXTURES = ("solid", "hstripes", "vstripes", "diagonal", "checker", "dots", "outline")
COLOURS = {
    "red": (200, 40, 40), "orange": (230, 130, 30), "yellow": (225, 210, 50),
    "green": (50, 160, 60), "teal": (30, 150, 150), "blue": (40, 80, 200),
    "purple": (130, 60, 170), "pink": (230, 120, 180), "brown": (120, 80, 40),
    "white": (235, 235, 230),
}


def _regular(n: int, phase: float = -np.pi / 2) -> np.ndarray:
    a = phase + 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(a), np.sin(a)], 1)


def _unit_polygon(shape: str) -> np.ndarray:
    """Vertices of a shape inscribed in the unit circle, centred on the origin."""
    if shape == "circle":
        return _regular(24)
    if shape == "square":
        return _regular(4, np.pi / 4)
    if shape == "triangle":
        return _regular(3)
    if shape == "diamond":
        return _regular(4) * [0.7, 1.0]
    if shape == "pentagon":
        return _regular(5)
    if shape == "hexagon":
        return _regular(6, 0.0)
    if shape == "star":
        pts = _regular(10)
        return pts * np.where(np.arange(10) % 2 == 0, 1.0, 0.45)[:, None]
    if shape == "cross":
        a, b = 1.0, 0.33
        return np.array([[-b, -a], [b, -a], [b, -b], [a, -b], [a, b], [b, b], [b, a], [-b, a],
                         [-b, b], [-a, b], [-a, -b], [-b, -b]])
    if shape == "arrow":
        return np.array([[0, -1], [0.8, -0.1], [0.3, -0.1], [0.3, 1], [-0.3, 1], [-0.3, -0.1],
                         [-0.8, -0.1]])
    if shape == "crescent":
        outer = _regular(16, -np.pi / 2)[:9]           # right half of the circle, top to bottom
        inner = _regular(16, np.pi / 2)[:9] * [0.45, 1.0]  # a flatter arc back to the top
        return np.concatenate([outer, inner])
    raise ValueError(f"unknown shape {shape!r}")


_POLYGONS = {s: _unit_polygon(s) for s in SHAPES}


@dataclass(frozen=True)
class Primitive:
    """One drawable element: a shape with a texture and a colour, at a centre, size and angle."""

    shape: str
    texture: str
    colour: tuple[int, int, int]
    cx: float
    cy: float
    radius: float
    angle: float = 0.0
    aspect: float = 1.0


def polygon(p: Primitive) -> np.ndarray:
    """Integer image coordinates of the primitive's outline (for cv2.fillPoly)."""
    pts = _POLYGONS[p.shape] * [p.aspect, 1.0]
    c, s = np.cos(p.angle), np.sin(p.angle)
    pts = pts @ np.array([[c, s], [-s, c]])
    return np.round(pts * p.radius + [p.cx, p.cy]).astype(np.int32)


def _pattern(texture: str, h: int, w: int, period: float, phase: float) -> np.ndarray:
    """Boolean (h, w) map of the texture's first tone (True) against its second tone."""
    yy, xx = np.ogrid[0:h, 0:w]
    half = period / 2
    if texture == "hstripes":
        tone = (yy + phase) % period < half
    elif texture == "vstripes":
        tone = (xx + phase) % period < half
    elif texture == "diagonal":
        tone = (xx + yy + phase) % period < half
    elif texture == "checker":
        tone = ((xx + phase) // half + (yy + phase) // half) % 2 == 0
    elif texture == "dots":
        cx, cy = (xx + phase) % period - half, (yy + phase) % period - half
        tone = cx * cx + cy * cy > (period / 4) ** 2
    else:
        tone = np.ones((1, 1), bool)
    return np.broadcast_to(tone, (h, w))


def draw(image: np.ndarray, p: Primitive, rng: np.random.Generator) -> np.ndarray:
    """Draw a primitive onto `image` in place and return its boolean mask."""
    h, w = image.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    pts = polygon(p)
    if p.texture == "outline":
        thickness = max(2, int(round(p.radius * 0.25)))
        cv2.polylines(mask, [pts], True, 1, thickness, cv2.LINE_8)
    else:
        cv2.fillPoly(mask, [pts], 1, cv2.LINE_8)
    x, y, bw, bh = cv2.boundingRect(mask)  # texture only the rectangle the shape covers
    mask = mask.astype(bool)
    if bw == 0:
        return mask
    local = mask[y:y + bh, x:x + bw]
    colour = np.asarray(p.colour, np.float32)
    second = colour * 0.45 + 20  # a darker tone of the same hue keeps the colour cue
    tone = _pattern(p.texture, bh, bw, max(3.0, p.radius * 0.5), float(rng.uniform(0, 8)))
    fill = np.where(tone[local][:, None], colour, second) + rng.normal(0, 6, 3)
    image[y:y + bh, x:x + bw][local] = np.clip(fill, 0, 255).astype(np.uint8)
    return mask


def background(h: int, w: int, rng: np.random.Generator, base=None, spread: float = 60.0
               ) -> np.ndarray:
    """A smooth random colour field with noise and a few stray lines: clutter, not objects."""
    base = rng.uniform(60, 190, 3) if base is None else np.asarray(base, np.float64)
    coarse = base + rng.normal(0, spread, (4, 4, 3))
    img = cv2.resize(np.clip(coarse, 0, 255).astype(np.float32), (w, h),
                     interpolation=cv2.INTER_CUBIC)
    img += rng.standard_normal((h, w, 3), dtype=np.float32) * 8
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(2, 6))):
        p1 = tuple(int(v) for v in rng.integers(0, [w, h]))
        p2 = tuple(int(v) for v in rng.integers(0, [w, h]))
        cv2.line(img, p1, p2, tuple(int(v) for v in rng.integers(0, 256, 3)), 1, cv2.LINE_AA)
    return img


def random_primitive(rng: np.random.Generator, h: int, w: int, radius: float) -> Primitive:
    """A primitive with every attribute drawn at random: the world's distractors."""
    return Primitive(
        shape=SHAPES[rng.integers(len(SHAPES))],
        texture=TEXTURES[rng.integers(len(TEXTURES))],
        colour=tuple(COLOURS.values())[rng.integers(len(COLOURS))],
        cx=float(rng.uniform(0, w)), cy=float(rng.uniform(0, h)),
        radius=radius, angle=float(rng.uniform(-0.3, 0.3)))
