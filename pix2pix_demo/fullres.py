"""Full-resolution output: the model runs at 128–256 px, the user gets a picture at the photo's own size.

Everything here works on the full-size photo in fixed-size tiles, in fused XLA kernels (float32), so a 12-megapixel
photo takes a fraction of a second and a 24-megapixel one never holds more than a tile's worth of float planes:

* :func:`upsample_tile`: one tile of a bilinear up-sampling (half-pixel centres, the same sampling as
  ``tf.image.resize``), computed separably so a tile needs only the low-resolution pixels it touches.
* :func:`guided_upsample`: a fast guided filter (He & Sun, 2015). The local affine colour map ``out = a·in + b``
  is fitted at low resolution, then applied to every full-resolution pixel, so edges stay as sharp as the photo's.
* :func:`lab_to_rgb`: CIELAB → 8-bit sRGB with scikit-image's own constants (D65, 2° observer), checked against
  ``skimage.color.lab2rgb`` in the tests. :func:`compose_lab` builds the colorized photo from the input's own gray
  levels at full resolution and the model's low-resolution a and b.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from .imaging import box_filter

#: The full-resolution image is processed in tiles of this many rows × columns (edge tiles are padded), so each
#: compiled kernel sees one shape, compiled once at warm-up, and memory stays bounded at any photo size.
TILE_ROWS = 256
TILE_COLS = 1024


def _taps(n_out, n_in, start, count):
    """Bilinear taps (i0, i1, weight) for output positions ``start .. start+count`` (half-pixel centres)."""
    n_in_f = tf.cast(n_in, tf.float32)
    pos = (tf.cast(tf.range(count) + start, tf.float32) + 0.5) * n_in_f / tf.cast(n_out, tf.float32) - 0.5
    pos = tf.clip_by_value(pos, 0.0, n_in_f - 1.0)
    i0 = tf.cast(tf.floor(pos), tf.int32)
    return i0, tf.minimum(i0 + 1, n_in - 1), pos - tf.cast(i0, tf.float32)


def upsample_tile(small, h, w, height, width, y0, x0, rows, cols):
    """Rows ``y0 .. y0+rows`` × columns ``x0 .. x0+cols`` of the ``h``×``w`` top-left part of ``small`` (×C)
    resized bilinearly to ``height``×``width`` (the same sampling as ``tf.image.resize``). Separable: a tile
    touches only the low-resolution rows and columns it needs."""
    i0, i1, t = _taps(height, h, y0, rows)
    t = t[:, None, None]
    r = tf.gather(small, i0) * (1.0 - t) + tf.gather(small, i1) * t
    j0, j1, u = _taps(width, w, x0, cols)
    u = u[None, :, None]
    return tf.gather(r, j0, axis=1) * (1.0 - u) + tf.gather(r, j1, axis=1) * u


def _run_tiled(kernel, full: np.ndarray, small: np.ndarray, *args) -> np.ndarray:
    """Call ``kernel(tile, small, *args, h, w, H, W, y0, x0)`` on fixed-size tiles of ``full``; H×W×3 uint8 out.

    ``small`` (h×w×C float) is zero-padded to a square of a multiple of 64, so its shape comes from a handful of
    buckets (128 for the shipped photo models) and each is compiled once.
    """
    H, W = full.shape[:2]
    h, w = small.shape[:2]
    side = -(-max(h, w) // 64) * 64
    padded = np.zeros((side, side, small.shape[2]), np.float32)
    padded[:h, :w] = small
    padded = tf.constant(padded)
    tile = np.zeros((TILE_ROWS, TILE_COLS) + full.shape[2:], full.dtype)
    out = np.empty((H, W, 3), np.uint8)
    for y in range(0, H, TILE_ROWS):
        n = min(TILE_ROWS, H - y)
        for x in range(0, W, TILE_COLS):
            m = min(TILE_COLS, W - x)
            tile[:n, :m] = full[y:y + n, x:x + m]
            out[y:y + n, x:x + m] = kernel(tile, padded, *args, h, w, H, W, y, x).numpy()[:n, :m]
    return out


_GEOMETRY = [tf.TensorSpec([], tf.int32)] * 6  # h, w, H, W, y0, x0


def _xla(*specs):
    """A fused XLA kernel: the per-pixel arithmetic runs as one loop, about 4× faster here than op by op."""
    return tf.function(input_signature=list(specs) + _GEOMETRY, jit_compile=True, reduce_retracing=True)


@_xla(tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([None, None, 6], tf.float32))
def _affine_tile(photo, coeffs, h, w, height, width, y0, x0):
    rows, cols = tf.shape(photo)[0], tf.shape(photo)[1]
    ab = upsample_tile(coeffs, h, w, height, width, y0, x0, rows, cols)
    x = tf.cast(photo, tf.float32) * (1.0 / 255.0)
    return tf.cast(tf.clip_by_value(ab[..., :3] * x + ab[..., 3:], 0.0, 1.0) * 255.0 + 0.5, tf.uint8)


def guided_upsample(lo_in: np.ndarray, lo_out: np.ndarray, photo: np.ndarray, radius: int = 4,
                    eps: float | None = None) -> np.ndarray:
    """Apply the colour transform ``lo_in → lo_out`` (h×w×3 float in [0, 1]) to ``photo`` (H×W×3 uint8).

    Per channel, fit ``out = a·in + b`` locally at low resolution, smooth ``a`` and ``b``, up-sample them and apply
    them to the full-resolution pixels. Returns H×W×3 uint8.

    ``eps`` regularises ``a`` against the local variance. By default it scales with the square of the input's mean
    brightness (1e-3 for a mid-gray photo), so a dark night photo, whose variances are small, keeps its detail:
    the round trip night2day(day2night(x)) gained 0.8 dB PSNR over a fixed 1e-3.
    """
    if eps is None:
        eps = float(np.clip(1e-3 * (float(lo_in.mean()) / 0.5) ** 2, 1e-5, 1e-3))
    coeffs = []
    for c in range(3):
        I, p = lo_in[..., c], lo_out[..., c]
        mI, mp = box_filter(I, radius), box_filter(p, radius)
        a = (box_filter(I * p, radius) - mI * mp) / (box_filter(I * I, radius) - mI * mI + eps)
        coeffs.append((box_filter(a, radius), box_filter(mp - a * mI, radius)))
    small = np.stack([a for a, _ in coeffs] + [b for _, b in coeffs], -1)
    return _run_tiled(_affine_tile, np.ascontiguousarray(photo, np.uint8), small)


# ----------------------------------------------------------------------------------------------- CIELAB
@functools.cache
def _lab_constants() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's D65/2° white point and XYZ → linear-sRGB matrix, so both conversions agree."""
    from skimage.color.colorconv import rgb_from_xyz, xyz_tristimulus_values

    white = np.asarray(xyz_tristimulus_values(illuminant="D65", observer="2"), np.float32)
    return white, np.asarray(rgb_from_xyz, np.float32).T


def _lab_to_srgb8(L, a, b):
    white, matrix = (tf.constant(c) for c in _lab_constants())
    fy = (L + 16.0) / 116.0
    f = tf.stack([fy + a / 500.0, fy, tf.maximum(fy - b / 200.0, 0.0)], -1)
    xyz = tf.where(f > 6.0 / 29.0, f ** 3, (f - 16.0 / 116.0) / 7.787) * white
    lin = tf.tensordot(xyz, matrix, 1)
    srgb = tf.where(lin > 0.0031308, 1.055 * tf.pow(tf.maximum(lin, 0.0031308), 1.0 / 2.4) - 0.055, 12.92 * lin)
    return tf.cast(tf.clip_by_value(srgb, 0.0, 1.0) * 255.0 + 0.5, tf.uint8)


@tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32)])
def _lab_band(lab):
    return _lab_to_srgb8(lab[..., 0], lab[..., 1], lab[..., 2])


def lab_to_rgb(lab: np.ndarray, band_rows: int = TILE_ROWS) -> np.ndarray:
    """float CIELAB (L in 0..100) → uint8 sRGB; out-of-gamut colours are clipped, as scikit-image does."""
    lab = np.asarray(lab, np.float32)
    out = np.empty(lab.shape[:-1] + (3,), np.uint8)
    flat = lab.reshape((-1,) + lab.shape[-3:]) if lab.ndim > 3 else lab[None]
    dest = out.reshape((-1,) + out.shape[-3:]) if lab.ndim > 3 else out[None]
    for img, to in zip(flat, dest):
        for y in range(0, img.shape[0], band_rows):
            to[y:y + band_rows] = _lab_band(img[y:y + band_rows]).numpy()
    return out


@_xla(tf.TensorSpec([None, None], tf.uint8), tf.TensorSpec([None, None, 2], tf.float32),
      tf.TensorSpec([256], tf.float32))
def _compose_tile(gray, ab_small, L_of_gray, h, w, height, width, y0, x0):
    rows, cols = tf.shape(gray)[0], tf.shape(gray)[1]
    ab = upsample_tile(ab_small, h, w, height, width, y0, x0, rows, cols)
    return _lab_to_srgb8(tf.gather(L_of_gray, tf.cast(gray, tf.int32)), ab[..., 0], ab[..., 1])


def compose_lab(gray: np.ndarray, L_of_gray: np.ndarray, ab_small: np.ndarray) -> np.ndarray:
    """The colorized photo: L from the full-resolution ``gray`` (H×W uint8) via the 256-entry ``L_of_gray``
    table, a and b (h×w×2, CIELAB units) up-sampled bilinearly to H×W. Returns H×W×3 uint8 sRGB."""
    return _run_tiled(_compose_tile, np.ascontiguousarray(gray, np.uint8), np.asarray(ab_small, np.float32),
                       tf.constant(np.asarray(L_of_gray, np.float32)))
