#!/usr/bin/env python3
"""What a colour model (OpenCV's GrabCut) adds to an fg run's masks on box crops (analysis only,
not part of Carve; needs `pip install opencv-python-headless pillow numpy`).

Usage: scripts/grabcut_cutouts.py CROPS MASKS SOURCES
  CROPS    a `carve data boxes` folder made with --margin 0 from SOURCES (NNNN.png, masks/, backgrounds/)
  MASKS    the run's masks of those crops (`carve segment CKPT --images CROPS --out MASKS`)
  SOURCES  the labelled images the crops came from (NNN_image.png + NNN_mask.png, one object each,
           crop k from image k, as ../shared/data/masks/composite_cutouts)
Prints the mean IoU against the crops' masks of: the model's masks; GrabCut initialised from them
on the crop; the same with the source image's background patches (CROPS/backgrounds/NNN-*.png)
beside the crop as certain background; GrabCut from the box in the whole source image; GrabCut in
the box widened by a ring of 10 % of its sides (the ring certain background), started from the
box and from the model's masks.
"""
import glob, sys
import cv2, numpy as np
from PIL import Image

crops, model, sources = sys.argv[1:4]
cv2.setRNGSeed(0)   # GrabCut's k-means starts from OpenCV's RNG: unseeded, figures move by ~0.02 between runs
def iou(a, b): return (a & b).sum() / max((a | b).sum(), 1)
def grabcut(image, init):
    bg, fg = np.zeros((1, 65)), np.zeros((1, 65))
    if not ((init == cv2.GC_PR_FGD).any() and (init != cv2.GC_PR_FGD).any()):
        return init == cv2.GC_PR_FGD   # nothing to fit a colour model to: the initial mask
    cv2.grabCut(image[:, :, ::-1].copy(), init, None, bg, fg, 5, cv2.GC_INIT_WITH_MASK)
    return (init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)
pool = sorted(glob.glob(crops + '/backgrounds/*.png'))
res = {}
for k in range(len(glob.glob(crops + '/masks/*.png'))):
    x = np.array(Image.open(f'{crops}/{k:04d}.png').convert('RGB'))
    truth = np.array(Image.open(f'{crops}/masks/{k:04d}.png')) > 127
    m = np.array(Image.open(f'{model}/{k:04d}.png').convert('L')) > 127
    H, W = truth.shape
    res.setdefault('model', []).append(iou(m, truth))
    init = np.where(m, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    res.setdefault('grabcut from the model, crop only', []).append(iou(grabcut(x, init), truth))
    own = [np.array(Image.open(p).convert('RGB')) for p in pool if p.split('/')[-1].startswith(f'{k:03d}-')]
    width = W + sum(i.shape[1] + 2 for i in own); height = max([H] + [i.shape[0] for i in own])
    big = np.zeros((height, width, 3), np.uint8); bm = np.full((height, width), cv2.GC_BGD, np.uint8)
    big[:H, :W] = x; bm[:H, :W] = init; c = W + 2
    for i in own: big[:i.shape[0], c:c + i.shape[1]] = i; c += i.shape[1] + 2
    res.setdefault("grabcut from the model, + the image's background patches", []).append(iou(grabcut(big, bm)[:H, :W], truth))
    full = np.array(Image.open(f'{sources}/{k:03d}_image.png').convert('RGB'))
    fm = np.array(Image.open(f'{sources}/{k:03d}_mask.png')) > 127
    ys, xs = np.where(fm)
    rect = np.full(fm.shape, cv2.GC_BGD, np.uint8); rect[ys.min():ys.max() + 1, xs.min():xs.max() + 1] = cv2.GC_PR_FGD
    res.setdefault('grabcut from the box in the whole image', []).append(iou(grabcut(full, rect), fm))
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    my, mx = round(0.1 * (y1 - y0)), round(0.1 * (x1 - x0))
    Y0, Y1, X0, X1 = max(0, y0 - my), min(fm.shape[0], y1 + my), max(0, x0 - mx), min(fm.shape[1], x1 + mx)
    for start, inside in [('the box', np.full((H, W), cv2.GC_PR_FGD, np.uint8)), ("the model's masks", init)]:
        ring = np.full((Y1 - Y0, X1 - X0), cv2.GC_BGD, np.uint8); ring[y0 - Y0:y1 - Y0, x0 - X0:x1 - X0] = inside
        out = grabcut(full[Y0:Y1, X0:X1], ring)[y0 - Y0:y1 - Y0, x0 - X0:x1 - X0]
        res.setdefault(f'grabcut in the box + a 10 % ring, from {start}', []).append(iou(out, truth))
for name, v in res.items(): print(f'{np.mean(v):.3f}  {name}')
