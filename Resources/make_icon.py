"""Draw the extension and module icon (128x128 RGBA) from code, so that it can be regenerated.

It is written to Resources/ParomaWatermark.png (the extension's) and ParomaWatermark/Resources/Icons/ParomaWatermark.png
(the module's).

    python Resources/make_icon.py

A CT slice (body, lungs, spine) under a grid of marked blocks, and a chain link for the ledger. Drawn at 4x and
averaged down for smooth edges; written with SimpleITK, which the project already depends on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

SIZE = 128
SCALE = 4


def _canvas() -> tuple[np.ndarray, np.ndarray]:
    n = SIZE * SCALE
    y, x = (np.mgrid[0:n, 0:n] + 0.5) / n
    return y, x


def _ellipse(y, x, cy, cx, ry, rx) -> np.ndarray:
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1


def _rounded_rect(y, x, top, left, bottom, right, radius) -> np.ndarray:
    cy = np.clip(y, top + radius, bottom - radius)
    cx = np.clip(x, left + radius, right - radius)
    return (y - cy) ** 2 + (x - cx) ** 2 <= radius**2


def draw() -> np.ndarray:
    y, x = _canvas()
    rgba = np.zeros(y.shape + (4,))

    def paint(mask: np.ndarray, colour: tuple[float, float, float], alpha: float = 1.0) -> None:
        a = mask * alpha
        rgba[..., :3] = rgba[..., :3] * (1 - a[..., None]) + np.array(colour) * a[..., None]
        rgba[..., 3] = np.maximum(rgba[..., 3], a)

    background = _rounded_rect(y, x, 0.02, 0.02, 0.98, 0.98, 0.16)
    paint(background, (0.07, 0.20, 0.30))
    body = _ellipse(y, x, 0.47, 0.47, 0.30, 0.38)
    paint(body, (0.62, 0.62, 0.60))
    paint(_ellipse(y, x, 0.44, 0.32, 0.17, 0.11) | _ellipse(y, x, 0.44, 0.62, 0.17, 0.11), (0.15, 0.15, 0.16))
    paint(_ellipse(y, x, 0.68, 0.47, 0.06, 0.06), (0.95, 0.95, 0.92))
    cells = (np.floor(y * 9) + np.floor(x * 9)) % 2 == 0
    inset = ((y * 9) % 1 > 0.2) & ((y * 9) % 1 < 0.8) & ((x * 9) % 1 > 0.2) & ((x * 9) % 1 < 0.8)
    paint(body & cells & inset, (0.20, 0.85, 0.80), 0.55)
    gold = (0.98, 0.75, 0.20)
    for top, left in ((0.70, 0.58), (0.70, 0.74)):
        outer = _rounded_rect(y, x, top, left, top + 0.16, left + 0.24, 0.08)
        inner = _rounded_rect(y, x, top + 0.045, left + 0.045, top + 0.115, left + 0.195, 0.035)
        paint(outer & ~inner, gold)
    rgba *= 255
    small = rgba.reshape(SIZE, SCALE, SIZE, SCALE, 4).mean(axis=(1, 3))
    return np.rint(small).astype(np.uint8)


TARGETS = (
    Path(__file__).resolve().parent / "ParomaWatermark.png",
    Path(__file__).resolve().parents[1] / "ParomaWatermark" / "Resources" / "Icons" / "ParomaWatermark.png",
)


def main() -> None:
    image = sitk.GetImageFromArray(draw(), isVector=True)
    for target in TARGETS:
        sitk.WriteImage(image, str(target))
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
