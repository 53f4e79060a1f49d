"""Seeded synthetic inputs that look like what the real models see: no data
set is reachable, but a model run on uniform noise exercises little of its
range (saturated gates, flat softmax). These have structure: smooth
backgrounds, solid shapes with edges, and for OCR dark strokes on paper.
Pixels are in [0, 1] before each model's own normalization."""

import numpy as np


def _grid(height, width):
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return ys / max(1, height - 1), xs / max(1, width - 1)


def scene(random, height, width, shapes=12):
    """A (3, H, W) picture: a colour gradient, ellipses and rectangles, a little noise."""
    ys, xs = _grid(height, width)
    start, end = random.uniform(0, 1, size=(2, 3, 1, 1)).astype(np.float32)
    angle = random.uniform(0, np.pi)
    ramp = (np.cos(angle) * xs + np.sin(angle) * ys)
    ramp = (ramp - ramp.min()) / max(1e-6, float(ramp.max() - ramp.min()))
    image = start + (end - start) * ramp[None]
    for _ in range(shapes):
        colour = random.uniform(0, 1, size=(3, 1, 1)).astype(np.float32)
        cy, cx = random.uniform(0, 1, size=2)
        ry, rx = random.uniform(0.05, 0.3, size=2)
        if random.uniform() < 0.5:
            mask = ((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2 <= 1
        else:
            mask = (np.abs(ys - cy) <= ry) & (np.abs(xs - cx) <= rx)
        image = np.where(mask[None], colour, image)
    image = image + random.normal(0, 0.02, size=image.shape).astype(np.float32)
    return np.clip(image, 0, 1).astype(np.float32)


def text_lines(random, height, width, lines=None):
    """A (3, H, W) page: light paper, dark glyph-like strokes in rows."""
    paper = random.uniform(0.8, 0.95)
    image = np.full((height, width), paper, dtype=np.float32)
    rows = lines or max(1, height // 40)
    row_height = height / rows
    for row in range(rows):
        top = int(row * row_height + row_height * 0.25)
        bottom = int(row * row_height + row_height * 0.75)
        x = int(random.uniform(0.02, 0.1) * width)
        limit = int(random.uniform(0.6, 0.98) * width)
        while x < limit:
            glyph = int(random.integers(max(3, (bottom - top) // 2), max(4, bottom - top)))
            stroke = max(1, (bottom - top) // 8)
            for _ in range(int(random.integers(2, 5))):
                if random.uniform() < 0.5:
                    column = x + int(random.integers(0, glyph))
                    image[top:bottom, column:column + stroke] = random.uniform(0.05, 0.3)
                else:
                    line = top + int(random.integers(0, max(1, bottom - top)))
                    image[line:line + stroke, x:x + glyph] = random.uniform(0.05, 0.3)
            x += glyph + int(random.integers(1, max(2, glyph // 2)))
            if random.uniform() < 0.15:
                x += glyph
    colour = np.stack([image] * 3) * random.uniform(0.9, 1.0, size=(3, 1, 1)).astype(np.float32)
    colour += random.normal(0, 0.02, size=colour.shape).astype(np.float32)
    return np.clip(colour, 0, 1).astype(np.float32)


def normalized(image, mean, std):
    """(image - mean) / std per channel, as a 1xCxHxW float32 batch."""
    mean = np.asarray(mean, np.float32).reshape(3, 1, 1)
    std = np.asarray(std, np.float32).reshape(3, 1, 1)
    return ((image - mean) / std)[None].astype(np.float32)


def token_ids(random, length, vocabulary, used=None):
    """BERT-style ids: [CLS] words [SEP] then [PAD]; `used` tokens are real, the rest padding.
    Returns (ids, attention_mask) as int64 (1, length)."""
    used = used or length * 3 // 4
    ids = np.zeros((1, length), dtype=np.int64)
    ids[0, 0] = 101                                      # [CLS]
    ids[0, 1:used - 1] = random.integers(1996, vocabulary, size=used - 2)   # word pieces past the specials
    ids[0, used - 1] = 102                               # [SEP]
    mask = np.zeros((1, length), dtype=np.int64)
    mask[0, :used] = 1
    return ids, mask
