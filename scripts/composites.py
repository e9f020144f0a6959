#!/usr/bin/env python3
"""Photo composites for developing fg on real photographs (development data only, not part of
Carve; needs `pip install pillow numpy`): each of the RGBA cut-outs in FOREGROUNDS pasted on
random patches of the photos in BACKGROUNDS, several times, at random sizes, positions and
flips, written in the layout `carve data boxes --from` reads (NNN_image.png + NNN_mask.png,
one object each, the alpha thresholded at 128 as the mask).

Usage: scripts/composites.py FOREGROUNDS BACKGROUNDS OUT [--per-object K] [--size S] [--seed N]
  K  composites per cut-out (default 12), S the composite's side (default 256).
Then: carve data boxes --from OUT --out CROPS
"""
import argparse, glob, os
import numpy as np
from PIL import Image

ap = argparse.ArgumentParser()
ap.add_argument('foregrounds'); ap.add_argument('backgrounds'); ap.add_argument('out')
ap.add_argument('--per-object', type=int, default=12); ap.add_argument('--size', type=int, default=256)
ap.add_argument('--seed', type=int, default=0)
a = ap.parse_args()
rng = np.random.default_rng(a.seed)
fgs = [Image.open(p).convert('RGBA') for p in sorted(glob.glob(os.path.join(a.foregrounds, '*.png')))]
bgs = [Image.open(p).convert('RGB') for p in sorted(glob.glob(os.path.join(a.backgrounds, '*.png')))]
if not fgs or not bgs: raise SystemExit('composites.py: no PNGs in FOREGROUNDS or BACKGROUNDS')
os.makedirs(a.out, exist_ok=True)
S, n = a.size, 0
for rep in range(a.per_object):
    for fg in fgs:
        bg = bgs[rng.integers(len(bgs))]
        side = int(rng.integers(S, min(bg.size) + 1)) if min(bg.size) > S else min(bg.size)
        x0, y0 = rng.integers(bg.size[0] - side + 1), rng.integers(bg.size[1] - side + 1)
        canvas = bg.crop((x0, y0, x0 + side, y0 + side)).resize((S, S), Image.BILINEAR)
        longest = rng.uniform(0.35, 0.7) * S          # the object's longer side, as in composite_cutouts
        f = fg.transpose(Image.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else fg
        scale = longest / max(f.size)
        f = f.resize((max(1, round(f.size[0] * scale)), max(1, round(f.size[1] * scale))), Image.BILINEAR)
        # Fully inside and off the border by 2 px (`carve data boxes` leaves out objects touching it).
        px = int(rng.integers(2, S - f.size[0] - 1)); py = int(rng.integers(2, S - f.size[1] - 1))
        alpha = np.array(f)[:, :, 3] >= 128
        image = np.array(canvas); mask = np.zeros((S, S), np.uint8)
        rgb = np.array(f)[:, :, :3]
        region = image[py:py + f.size[1], px:px + f.size[0]]
        region[alpha] = rgb[alpha]
        mask[py:py + f.size[1], px:px + f.size[0]][alpha] = 255
        Image.fromarray(image).save(os.path.join(a.out, f'{n:03d}_image.png'))
        Image.fromarray(mask).save(os.path.join(a.out, f'{n:03d}_mask.png'))
        n += 1
print(f'wrote {n} composites of {len(fgs)} cut-outs on {len(bgs)} photos to {a.out}')
