"""The image machinery of the night renderer (:mod:`pix2pix_demo.night`): sRGB ↔ linear light through look-up
tables, block-averaged analysis copies, bilinear upsampling served by strips of rows, and fast blurs.

A photo is analysed on a small copy (at most :data:`ANALYSIS_SIDE` px on its long side) and rendered at full
resolution in strips of rows (:func:`strip_rows`), so that memory stays low for a 12-megapixel photo; the maps found
on the small copy come back to full resolution through :class:`Upsampled`. Pure numpy / scipy.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

#: Photopic luminance (Rec. 709 / sRGB primaries, linear light).
Y_W = np.array([0.2126, 0.7152, 0.0722], np.float32)

ANALYSIS_SIDE = 256  # long side of the analysis copy (lights)
STRIP_PIXELS = 1 << 14  # pixels per full-resolution strip (small: temporaries stay in the malloc heap)


def strip_rows(H, W):
    """Rows per full-resolution strip: small strips for small images (their temporaries then stay in the malloc
    heap instead of being mapped afresh), about 48 strips for large ones (less per-strip overhead)."""
    return max(1, max(STRIP_PIXELS, H * W // 48) // max(W, 1))


def srgb_to_linear(x):
    x = np.asarray(x, np.float64)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x):
    x = np.asarray(x, np.float64)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4) - 0.055)


LUT_LIN = srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)
LUT_S = (np.arange(256) / 255.0).astype(np.float32)
LUT_OUT_N = 65535
LUT_OUT = np.clip(np.round(linear_to_srgb(np.arange(LUT_OUT_N + 1) / LUT_OUT_N) * 255), 0, 255).astype(np.uint8)


def to_uint8_srgb(lin):
    idx = lin * np.float32(LUT_OUT_N) + np.float32(0.5)
    np.clip(idx, 0, LUT_OUT_N, out=idx)
    return LUT_OUT[idx.astype(np.int32)]


def smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def as_rgb_uint8(rgb):
    a = np.asarray(rgb)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {a.shape}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.shape[2] >= 4:
        a = a[..., :3]
    elif a.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {a.shape}")
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        if a.size and np.nanmax(a) <= 1.0:
            a = a * 255.0
        a = np.clip(np.nan_to_num(a), 0, 255).round().astype(np.uint8)
    return np.ascontiguousarray(a)


def block_reduce(a, f, op):
    """Reduce non-overlapping f×f blocks of ``a`` (rows and columns multiples of f) with ``np.add`` or ``np.maximum``:
    first the rows, then the columns of each block, with strided views (much faster than a reshape and a
    ``mean(axis=(1, 3))``)."""
    if f == 1:
        return a.copy()
    rows = a[::f].copy()
    for i in range(1, f):
        op(rows, a[i::f], out=rows)
    out = rows[:, ::f].copy()
    for j in range(1, f):
        op(out, rows[:, j::f], out=out)
    return out


def pool(rgb, f):
    """Block-average an image by ``f`` (edge-padded). Returns mean sRGB [0,1], mean linear RGB, max linear Y."""
    H, W, _ = rgb.shape
    h, w = -(-H // f), -(-W // f)
    if f == 1:
        lin = LUT_LIN[rgb]
        return LUT_S[rgb], lin, lin @ Y_W
    mean_s = np.empty((h, w, 3), np.float32)
    mean_l = np.empty((h, w, 3), np.float32)
    max_y = np.empty((h, w), np.float32)
    rows = max(1, STRIP_PIXELS // max(1, W * f))  # analysis rows per strip
    inv = np.float32(1.0 / (f * f))
    for i0 in range(0, h, rows):
        i1 = min(h, i0 + rows)
        blk = rgb[i0 * f:i1 * f]
        pad_r = (i1 - i0) * f - blk.shape[0]
        pad_c = w * f - W
        if pad_r or pad_c:
            blk = np.pad(blk, ((0, pad_r), (0, pad_c), (0, 0)), mode="edge")
        lin = LUT_LIN[blk]
        mean_s[i0:i1] = block_reduce(LUT_S[blk], f, np.add) * inv
        mean_l[i0:i1] = block_reduce(lin, f, np.add) * inv
        max_y[i0:i1] = block_reduce(lin @ Y_W, f, np.maximum)
    return mean_s, mean_l, max_y


def pool_float(a, q):
    """Block-average a float map (HxW or HxWxC) by ``q``, edge-padded."""
    if q == 1:
        return a
    h, w = a.shape[:2]
    hh, ww = -(-h // q), -(-w // q)
    if hh * q != h or ww * q != w:
        a = np.pad(a, [(0, hh * q - h), (0, ww * q - w)] + [(0, 0)] * (a.ndim - 2), mode="edge")
    return block_reduce(a.astype(np.float32, copy=False), q, np.add) * np.float32(1.0 / (q * q))


class Upsampled:
    """Bilinear upsampling of a small map (HxW or HxWxC) whose pixels cover s×s image pixels, to image width ``W``,
    served by strips of rows. The columns are interpolated once, at construction; each strip then only blends two
    whole rows."""

    def __init__(self, small, W, s):
        self.s = s
        small = np.asarray(small, np.float32)
        if s == 1:
            self.cols = small
            return
        w = small.shape[1]
        x = np.clip((np.arange(W, dtype=np.float32) + 0.5) / s - 0.5, 0, w - 1)
        x0 = np.floor(x).astype(np.intp)
        x1 = np.minimum(x0 + 1, w - 1)
        wx = (x - x0).astype(np.float32).reshape((1, -1) + (1,) * (small.ndim - 2))
        self.cols = np.ascontiguousarray(small[:, x0] * (1 - wx) + small[:, x1] * wx)  # (h, W, ...) float32

    def rows(self, y0, y1):
        if self.s == 1:
            return self.cols[y0:y1]
        h = self.cols.shape[0]
        y = np.clip((np.arange(y0, y1, dtype=np.float32) + 0.5) / self.s - 0.5, 0, h - 1)
        r0 = np.floor(y).astype(np.intp)
        r1 = np.minimum(r0 + 1, h - 1)
        wy = (y - r0).astype(np.float32).reshape((-1,) + (1,) * (self.cols.ndim - 1))
        out = self.cols[r0] * (1 - wy)
        out += self.cols[r1] * wy
        return out


def blur(x, sigma):
    """Gaussian blur (per channel for HxWxC, edge-replicating). Wide blurs run on a block-averaged copy and are
    interpolated back, which is much faster and, for these smooth maps, practically the same."""
    q = max(1, int(sigma / 1.5))
    h, w = x.shape[:2]
    small = pool_float(x, q) if q > 1 else x
    sig = (sigma / q, sigma / q) + (0,) * (x.ndim - 2)
    out = ndi.gaussian_filter(small, sig, mode="nearest", truncate=3.0)
    if q > 1:
        out = Upsampled(out, w, q).rows(0, h)
    return out.astype(np.float32, copy=False)
