"""Shared pieces of the toy Sana: palette, shapes, captions, procedural rendering and automatic scoring.

Everything here is pure numpy (no torch) so the scorer can be reused by other tests.
"""
from __future__ import annotations

import numpy as np

IMAGE_SIZE = 32  # native resolution of the toy model (pixels)

# Named colours (RGB). Kept far apart so the nearest-colour scorer is unambiguous.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (240, 220, 40),
    "orange": (245, 140, 30),
    "purple": (140, 60, 190),
    "white": (240, 240, 240),
    "black": (25, 25, 25),
}
COLOUR_NAMES = list(COLOURS)
SHAPES = ["circle", "square", "triangle"]

# (colour, shape, background) triples that never appear in the training captions/images.
HELD_OUT = [
    ("red", "triangle", "green"),
    ("blue", "circle", "yellow"),
    ("yellow", "square", "purple"),
    ("white", "triangle", "black"),
    ("orange", "circle", "blue"),
    ("purple", "square", "white"),
    ("green", "circle", "orange"),
    ("black", "triangle", "red"),
]

# Caption templates ("a few paraphrases"); template 0 is the canonical one used for evaluation.
TEMPLATES = [
    "{a} {c} {s} on a {b} background",
    "{a} {c} {s} on {b}",
    "{c} {s}, {b} background",
    "a {b} background with {a} {c} {s}",
    "an image of {a} {c} {s} on a {b} background",
]


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption(colour: str, shape: str, bg: str, template: int = 0) -> str:
    return TEMPLATES[template].format(a=article(colour), c=colour, s=shape, b=bg)


def all_triples() -> list[tuple[str, str, str]]:
    return [(c, s, b) for c in COLOUR_NAMES for s in SHAPES for b in COLOUR_NAMES if b != c]


def train_triples() -> list[tuple[str, str, str]]:
    held = set(HELD_OUT)
    return [t for t in all_triples() if t not in held]


# ----------------------------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------------------------
SIZES = (14, 17, 20)          # object extent (bounding-box width = height) in pixels
OFFSETS = (-3, 0, 3)          # centre offsets from the image centre (both axes)
SUPERSAMPLE = 4


def shape_mask(shape: str, cx: float, cy: float, s: float, size: int = IMAGE_SIZE, ss: int = SUPERSAMPLE) -> np.ndarray:
    """Anti-aliased coverage in [0,1] of a shape with bounding box s×s centred at (cx, cy)."""
    n = size * ss
    c = (np.arange(n, dtype=np.float64) + 0.5) / ss
    x = c[None, :]
    y = c[:, None]
    h = s / 2.0
    if shape == "circle":
        m = (x - cx) ** 2 + (y - cy) ** 2 <= h * h
    elif shape == "square":
        m = (np.abs(x - cx) <= h) & (np.abs(y - cy) <= h)
    elif shape == "triangle":  # upright isosceles: apex top-centre, base = full box width at the bottom
        top, bot = cy - h, cy + h
        frac = (y - top) / s  # 0 at apex, 1 at base
        m = (y >= top) & (y <= bot) & (np.abs(x - cx) <= frac * h)
    else:
        raise ValueError(shape)
    return m.reshape(size, ss, size, ss).mean(axis=(1, 3))


def render(colour: str, shape: str, bg: str, size_px: float, cx: float, cy: float) -> np.ndarray:
    cov = shape_mask(shape, cx, cy, size_px)[..., None]
    fg = np.array(COLOURS[colour], np.float64)
    bgc = np.array(COLOURS[bg], np.float64)
    img = cov * fg + (1.0 - cov) * bgc
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def random_render(rng: np.random.Generator, colour: str, shape: str, bg: str) -> np.ndarray:
    s = float(rng.choice(SIZES)) + rng.uniform(-0.5, 0.5)
    cx = IMAGE_SIZE / 2 + float(rng.choice(OFFSETS)) + rng.uniform(-0.5, 0.5)
    cy = IMAGE_SIZE / 2 + float(rng.choice(OFFSETS)) + rng.uniform(-0.5, 0.5)
    return render(colour, shape, bg, s, cx, cy)


# ----------------------------------------------------------------------------------------------------------------
# Scoring
# ----------------------------------------------------------------------------------------------------------------
_PALETTE = np.array([COLOURS[n] for n in COLOUR_NAMES], np.float64)


def nearest_colour(rgb) -> str:
    d = ((_PALETTE - np.asarray(rgb, np.float64)[None]) ** 2).sum(1)
    return COLOUR_NAMES[int(np.argmin(d))]


def classify_fill(fill: float) -> str:
    """Shape from the fill ratio of the bounding box alone (exact renders): circle pi/4, square 1, triangle 1/2."""
    if fill >= 0.92:
        return "square"
    if fill >= 0.665:
        return "circle"
    return "triangle"


def classify_profile(cov: np.ndarray) -> tuple[str, dict]:
    """Shape from the soft coverage inside the object's bounding box (robust to blurred edges).

    top/bottom: mean coverage of the top third vs the bottom third of the box rows (upright triangle ~0.2, circle and
    square ~1); corners: mean coverage of the four corner cells (each 1/4 x 1/4 of the box; square ~1, circle ~0.1).
    """
    h, w = cov.shape
    t3 = max(1, h // 3)
    top, bot = float(cov[:t3].mean()), float(cov[-t3:].mean())
    ch, cw = max(1, h // 4), max(1, w // 4)
    corners = float(np.mean([cov[:ch, :cw].mean(), cov[:ch, -cw:].mean(), cov[-ch:, :cw].mean(), cov[-ch:, -cw:].mean()]))
    feats = {"fill": float(cov.mean()), "top_bottom": top / max(bot, 1e-6), "corners": corners}
    if feats["top_bottom"] < 0.6:
        return "triangle", feats
    if corners >= 0.5:
        return "square", feats
    return "circle", feats


def analyse(img: np.ndarray) -> dict:
    """img: HxWx3 uint8 (or float in [0,1]). Returns detected background, object colour, shape and shape features."""
    a = np.asarray(img)
    if a.dtype != np.uint8:
        a = np.clip(np.rint(a * 255.0), 0, 255)
    a = a.astype(np.float64)
    border = np.concatenate([a[:2].reshape(-1, 3), a[-2:].reshape(-1, 3), a[:, :2].reshape(-1, 3), a[:, -2:].reshape(-1, 3)])
    bg_rgb = np.median(border, axis=0)
    dist = np.sqrt(((a - bg_rgb[None, None]) ** 2).sum(-1))
    mask = dist > 60.0
    out = {"background": nearest_colour(bg_rgb), "object": None, "shape": None, "fill": 0.0, "area": int(mask.sum())}
    if mask.sum() < 12:
        return out
    # object colour: median of the clearly-object pixels (the farther half of the mask from the background)
    core = mask & (dist >= np.median(dist[mask]))
    fg_rgb = np.median(a[core], axis=0)
    out["object"] = nearest_colour(fg_rgb)
    # soft coverage: projection of (pixel - bg) onto (fg - bg)
    d = fg_rgb - bg_rgb
    cov = np.clip(((a - bg_rgb[None, None]) * d[None, None]).sum(-1) / max(float(d @ d), 1e-6), 0.0, 1.0)
    ys, xs = np.nonzero(cov >= 0.5)
    if len(ys) < 6:
        return out
    y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
    box = cov[y0:y1 + 1, x0:x1 + 1]
    out["shape"], feats = classify_profile(box)
    out.update(feats)
    out["shape_by_fill"] = classify_fill(float((box >= 0.5).mean()))
    return out


def score(img: np.ndarray, colour: str, shape: str, bg: str) -> dict:
    r = analyse(img)
    r["ok_bg"] = r["background"] == bg
    r["ok_obj"] = r["object"] == colour
    r["ok_shape"] = r["shape"] == shape
    r["ok"] = r["ok_bg"] and r["ok_obj"] and r["ok_shape"]
    return r
