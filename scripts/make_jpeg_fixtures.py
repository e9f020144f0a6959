#!/usr/bin/env python3
"""Writes the JPEG fixtures that Tests/ImagingTests/JPEGTests.swift reads.

Usage (from the repository root; needs Pillow, e.g. `python3 -m venv /tmp/v && /tmp/v/bin/pip
install pillow`):

    /tmp/v/bin/python scripts/make_jpeg_fixtures.py [--out Tests/ImagingTests/Fixtures]

The picture is synthetic (no licence questions) and drawn by formula, 70 x 45 pixels so neither
side is a multiple of the 16-pixel 4:2:0 MCU: colour gradients, a hard-edged red disk on them (the
worst case for chroma subsampling), a soft-edged green disk, a fine stripe texture and a little
deterministic noise. Files:

  picture.png                 the picture, lossless (the reference "PNG of the same picture")
  picture-q95-444.jpg         baseline JPEG, quality 95, no chroma subsampling
  picture-q95-420-prog.jpg    progressive JPEG, quality 95, 4:2:0 (what cameras and CUB use)
  gray-q95.jpg                the picture's luminance (Pillow's "L"), gray JPEG, quality 95
  cmyk-q95.jpg                the picture as naive CMYK, JPEG with Adobe APP14 (inverted samples)
  <name>.pillow.png           Pillow's own decode of each JPEG (RGB; gray for gray-q95), the
                              reference for "Carve decodes exactly what libjpeg-turbo decodes"
  gray.png                    the luminance picture, lossless

The tests need no Python; rerun this only to change a fixture. It prints the JPEG-vs-PNG errors
the tests bound. Pillow's bundled libjpeg-turbo makes the files; the output is deterministic for
a given Pillow version.
"""
import argparse
import math
import os

from PIL import Image

W, H = 70, 45


def picture():
    """The synthetic RGB picture as a Pillow image."""
    seed = 12345
    pixels = []
    for y in range(H):
        for x in range(W):
            r = 40 + 150 * x / (W - 1)
            g = 60 + 120 * y / (H - 1)
            b = 180 - 100 * (x + y) / (W + H - 2)
            # Hard-edged red disk.
            if (x - 20) ** 2 + (y - 22) ** 2 <= 12 ** 2:
                r, g, b = 220, 40, 40
            # Soft-edged green disk: full inside radius 7, fading out to radius 11.
            d = math.hypot(x - 50, y - 16)
            t = min(max((11 - d) / 4, 0), 1)
            r, g, b = r + t * (30 - r), g + t * (160 - g), b + t * (60 - b)
            # Stripes of period 6 px in the lower right.
            if x >= 40 and y >= 30:
                s = 25 * math.sin(2 * math.pi * x / 6)
                r, g, b = r + s, g + s, b + s
            # Deterministic noise in [-3, 3] (a 32-bit LCG), about the grain of a downsampled photo.
            noise = []
            for _ in range(3):
                seed = (1664525 * seed + 1013904223) % 2 ** 32
                noise.append((seed >> 16) % 7 - 3)
            pixels.append(tuple(min(max(round(v + n), 0), 255) for v, n in zip((r, g, b), noise)))
    image = Image.new("RGB", (W, H))
    image.putdata(pixels)
    return image


def errors(a, b):
    """Per-channel (mean, max) absolute difference in 8-bit levels."""
    bands_a, bands_b = a.split(), b.split()
    out = []
    for pa, pb in zip(bands_a, bands_b):
        d = [abs(u - v) for u, v in zip(pa.tobytes(), pb.tobytes())]
        out.append((sum(d) / len(d), max(d)))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="Tests/ImagingTests/Fixtures")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    path = lambda name: os.path.join(args.out, name)

    rgb = picture()
    gray = rgb.convert("L")
    cmyk = rgb.convert("CMYK")  # Pillow: C = 255 - R, M = 255 - G, Y = 255 - B, K = 0
    rgb.save(path("picture.png"), optimize=True)
    gray.save(path("gray.png"), optimize=True)

    jpegs = {
        "picture-q95-444": (rgb, dict(quality=95, subsampling=0)),
        "picture-q95-420-prog": (rgb, dict(quality=95, subsampling=2, progressive=True)),
        "gray-q95": (gray, dict(quality=95)),
        "cmyk-q95": (cmyk, dict(quality=95, subsampling=0)),
    }
    for name, (image, options) in jpegs.items():
        image.save(path(name + ".jpg"), "JPEG", optimize=True, **options)
        decoded = Image.open(path(name + ".jpg"))
        decoded.load()
        if decoded.mode == "CMYK":
            decoded = decoded.convert("RGB")
        decoded.save(path(name + ".pillow.png"), optimize=True)
        reference = gray if name.startswith("gray") else rgb
        stats = ", ".join(f"mean {m:.3f} max {x}" for m, x in errors(decoded, reference))
        print(f"{name}.jpg ({os.path.getsize(path(name + '.jpg'))} bytes) vs PNG, per channel: {stats}")


if __name__ == "__main__":
    main()
