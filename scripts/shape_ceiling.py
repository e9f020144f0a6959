#!/usr/bin/env python3
"""What the hoc shape measure can give a generator that draws the real objects' own shapes.

The measure (Imaging's ShapeMatching, `shape_iou` of `carve ckpt eval`): the IoU of a sampled mask
with the best-matching real object of the instance maps, centroids aligned, objects drawn at patch
scale (64 / window patch pixels per source pixel, bilinear >= 1/2), objects touching the image
border left out. This script scores, with the same rule (re-implemented in numpy: analysis only):
  - each real object against the *other* real objects (Carve's `shape_iou_real`);
  - each real object turned by a random angle, or transposed, against all of them (itself
    included): a generator that draws exactly the real shapes, at new orientations;
  - a disc and a square of the median object's area;
  - with --aligned, also the same with the orientation aligned (best over turns of 5 degrees).

    python3 scripts/shape_ceiling.py WINDOW MAP.png [MAP.png ...] [--aligned] [--queries N]

e.g. scripts/shape_ceiling.py 95 ../shared/data/masks/nuclei_cells3d_napari/004_instances.png --aligned
(the window is the run's `window` in config.json). Development data; needs numpy, scipy, pillow.
"""
import argparse
import numpy as np
from PIL import Image
from scipy.ndimage import map_coordinates

parser = argparse.ArgumentParser(description="What the hoc shape measure gives the real objects' own shapes.")
parser.add_argument("window", type=float, help="the run's window in source pixels (config.json)")
parser.add_argument("maps", nargs="+", help="16-bit instance maps")
parser.add_argument("--aligned", action="store_true", help="also with the orientation aligned")
parser.add_argument("--queries", type=int, default=200, help="objects scored (a random subset)")
options = parser.parse_args()
window, maps, aligned, queries = options.window, options.maps, options.aligned, options.queries
scale = 64.0 / window
S = 192  # canvas in patch pixels, larger than any object

objects = []
for path in maps:
    lab = np.array(Image.open(path))
    h, w = lab.shape
    for label in np.unique(lab):
        if label == 0:
            continue
        ys, xs = np.nonzero(lab == label)
        if ys.min() == 0 or xs.min() == 0 or ys.max() == h - 1 or xs.max() == w - 1:
            continue
        objects.append((ys, xs))

g = np.arange(S) - S / 2
Y, X = np.meshgrid(g, g, indexing="ij")


def draw(ys, xs, angle=0.0, transpose=False):
    """The object at patch scale, its centroid at the canvas centre, turned and/or transposed."""
    cy, cx = ys.mean(), xs.mean()
    y0, x0 = ys.min() - 1, xs.min() - 1
    indicator = np.zeros((ys.max() - y0 + 2, xs.max() - x0 + 2))
    indicator[ys - y0, xs - x0] = 1
    yy, xx = (X, Y) if transpose else (Y, X)
    c, s = np.cos(angle), np.sin(angle)
    yr, xr = -s * xx + c * yy, c * xx + s * yy
    return map_coordinates(indicator, [cy + yr / scale - y0, cx + xr / scale - x0], order=1, cval=0) >= 0.5


def centred(m):
    """m moved so its centroid is at the canvas centre, to the nearest pixel."""
    ys, xs = np.nonzero(m)
    return np.roll(m, (-int(round(ys.mean() - S / 2)), -int(round(xs.mean() - S / 2))), axis=(0, 1))


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


base = [draw(*o) for o in objects]
rng = np.random.default_rng(0)
chosen = sorted(rng.choice(len(objects), size=min(queries, len(objects)), replace=False))


def best(m, exclude=None, pool=None):
    pool = pool or [[b] for b in base]
    return max(iou(m, t) for i, ts in enumerate(pool) if i != exclude for t in ts)


area = np.median([b.sum() for b in base])
r, half = np.sqrt(area / np.pi), np.sqrt(area) / 2
disc, square = X ** 2 + Y ** 2 <= r * r, (np.abs(X) <= half) & (np.abs(Y) <= half)
print(f"{len(objects)} objects (median {area:.0f} patch px), {len(chosen)} queried")
print(f"real vs the others             {np.mean([best(base[i], i) for i in chosen]):.3f}")
print(f"real transposed vs all         {np.mean([best(centred(draw(*objects[i], transpose=True))) for i in chosen]):.3f}")
print(f"real turned at random vs all   {np.mean([best(centred(draw(*objects[i], angle=a))) for i in chosen for a in rng.uniform(0, 2 * np.pi, 8)]):.3f}"
      "  (8 angles each)")
print(f"disc of the median area        {best(disc):.3f}")
print(f"square of the median area      {best(square):.3f}")
if aligned:
    angles = np.radians(np.arange(0, 360, 5))
    turned = [[centred(draw(*o, angle=a)) for a in angles] for o in objects]
    print(f"orientation aligned: real vs the others {np.mean([best(base[i], i, turned) for i in chosen]):.3f}, "
          f"disc {best(disc, pool=turned):.3f}, square {best(square, pool=turned):.3f}")
