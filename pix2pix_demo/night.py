"""Synthetic day → night photo renderer (training pairs for the ``day2night`` / ``night2day`` tasks).

Pure numpy / scipy; no TensorFlow. The renderer follows what the camera and the eye do at night, in this order:

1. **Linear light.** The 8-bit sRGB photo is decoded to linear light with a look-up table; every later step works
   on light intensities, so the exposure is a plain multiplication: × 0.085 at ``strength=1`` (about 3.5 stops
   under the day exposure; ``random_night`` draws it in 0.05–0.25, up to a bright dusk).
2. **Purkinje shift.** At night the rods take over from the cones: colours fade and the spectral sensitivity moves
   toward blue-green, so reds go dark first. Each pixel is mixed (60 %) from its *scotopic* luminance - Larson's
   ``V = Y (1.33 (1 + (Y+Z)/X) - 1.68)`` reduced to linear weights on the sRGB primaries - painted in the blue
   night tint of Thompson et al. (2002), chromaticity (0.25, 0.25), and (40 %) from a desaturated copy of itself
   (the cones, keeping 55 % of the saturation).
3. **Night sky.** :func:`sky_mask` finds the sky on a small copy (≤ 128 px): seeds that are bright and bluish or
   whitish/grey, smooth at a fine and a coarse scale, in the upper part and connected to the top border; grown
   along pixels close to a sky colour model (local, and per row since the sky changes with elevation); plus soft
   whitish blobs mostly surrounded by sky (clouds); cut below any tall run of ground in a column; components that
   fill the bottom (a studio backdrop) dropped unless clearly blue. At full resolution a per-pixel colour test
   against the extrapolated day-sky colour cuts the edge, so trees, masts and rooftops keep crisp outlines, and
   pixels next to the sky take their darkest neighbour, so no bright day-sky fringe is left. The sky becomes a
   night gradient, deep blue at the horizon fading to near-black at the top, keeping a trace of the clouds
   (modulated by their brightness relative to the smooth day sky), with sparse faint stars when the day sky was
   clear and blue.
4. **Lights glow.** Small, very bright, non-sky regions (lamps, white lights, specular glints) keep their day
   brightness instead of being darkened, take a warm tungsten/sodium tint and add a two-scale bloom (gaussian
   blurs of their energy, in linear light). To keep it modest, a light needs a bright core (linear luminance
   ≥ max(0.85, the 99.7th percentile)) that is 2.5× brighter than its surroundings, and the whole bright object
   around it (down to half that threshold) must be small (fading out from 0.04 % to 0.25 % of the picture) and
   compact; at most 0.15 % of the picture is lit. A sunlit white wall, a swan or a cow's patch is not a lamp.
5. **Sensor noise** (only with ``noise=True``): signal-dependent shot noise (variance 2.5e-4 × signal) plus read
   noise (σ = 1e-3), per channel in linear light, drawn from ``rng`` so that a seed gives the same picture.
6. **Back to sRGB** after a mild lens vignette, through a 16-bit look-up table, to ``uint8``.

The analysis runs on a block-averaged copy of at most 256 px (lights, max-pooled so that a lamp of a few pixels in
a 12-megapixel photo is not averaged away) and 128 px (sky); the full-resolution work is per pixel, done in small
strips of rows, so that memory stays low and a 12-megapixel photo takes a few seconds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.special import ndtri

__all__ = ["render_night", "random_night", "sky_mask"]

# --------------------------------------------------------------------------------------------------------------
# Colour constants
# --------------------------------------------------------------------------------------------------------------

#: Photopic luminance (Rec. 709 / sRGB primaries, linear light).
_Y_W = np.array([0.2126, 0.7152, 0.0722], np.float32)
#: Scotopic luminance: Larson's V = Y (1.33 (1 + (Y+Z)/X) - 1.68) evaluated on each sRGB primary, normalised so
#: that white is 1. It is almost additive, so linear weights are a good approximation. Red barely counts.
_V_W = np.array([0.033, 0.766, 0.201], np.float32)
#: Linear-sRGB colour with luminance 1 and chromaticity (x, y) = (0.25, 0.25): the blue shift used for night
#: scenes by Thompson, Shirley & Ferwerda (2002).
_NIGHT_TINT = np.array([0.706, 0.990, 1.966], np.float32)

_ANALYSIS_SIDE = 256  # long side of the analysis copy (lights)
_SKY_SIDE = 128  # long side of the sky analysis copy
_STRIP_PIXELS = 1 << 14  # pixels per full-resolution strip (small: temporaries stay in the malloc heap)


def _strip_rows(H, W):
    """Rows per full-resolution strip: small strips for small images (their temporaries then stay in the malloc
    heap instead of being mapped afresh), about 48 strips for large ones (less per-strip overhead)."""
    return max(1, max(_STRIP_PIXELS, H * W // 48) // max(W, 1))


def _srgb_to_linear(x):
    x = np.asarray(x, np.float64)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(x):
    x = np.asarray(x, np.float64)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4) - 0.055)


_LUT_LIN = _srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)
_LUT_S = (np.arange(256) / 255.0).astype(np.float32)
_LUT_OUT_N = 65535
_LUT_OUT = np.clip(np.round(_linear_to_srgb(np.arange(_LUT_OUT_N + 1) / _LUT_OUT_N) * 255), 0, 255).astype(np.uint8)


def _to_uint8_srgb(lin):
    idx = lin * np.float32(_LUT_OUT_N) + np.float32(0.5)
    np.clip(idx, 0, _LUT_OUT_N, out=idx)
    return _LUT_OUT[idx.astype(np.int32)]


def _cmax(a):
    """Max over the (last) colour axis; much faster than ``a.max(axis=-1)`` for 3 channels."""
    return np.maximum(np.maximum(a[..., 0], a[..., 1]), a[..., 2])


def _cmin(a):
    return np.minimum(np.minimum(a[..., 0], a[..., 1]), a[..., 2])


def _min_filter(a, r):
    """Minimum over a (2r+1)×(2r+1) window of the first two axes, edges replicated (separable, with slices)."""
    for axis in (0, 1):
        n = a.shape[axis]
        if n < 2:
            continue
        out = a.copy()
        for d in range(1, r + 1):
            d = min(d, n - 1)
            sl = [slice(None)] * a.ndim
            lo, hi = list(sl), list(sl)
            lo[axis], hi[axis] = slice(0, n - d), slice(d, n)
            np.minimum(out[tuple(lo)], a[tuple(hi)], out=out[tuple(lo)])  # neighbour below / right
            np.minimum(out[tuple(hi)], a[tuple(lo)], out=out[tuple(hi)])  # neighbour above / left
        a = out
    return a


#: Inverse normal CDF at 65536 evenly spaced probabilities: a table look-up of random 16-bit integers gives
#: standard normal noise about four times faster than ``Generator.standard_normal``.
_NORMAL_TABLE = ndtri((np.arange(65536) + 0.5) / 65536).astype(np.float32)


def _gaussian_noise(rng, shape):
    n = int(np.prod(shape))
    return _NORMAL_TABLE[np.frombuffer(rng.bytes(2 * n), dtype="<u2")].reshape(shape)


def _smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


# --------------------------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Params:
    """Everything that shapes the night look. ``render_night`` uses the defaults; ``random_night`` varies them."""

    exposure: float = 0.085  # linear-light gain of the scene (≈ -3.5 EV)
    purkinje: float = 0.6  # mix toward the tinted scotopic luminance (0: cones only, 1: rods only)
    saturation: float = 0.55  # colour kept by the cone part
    tint: tuple = tuple(_NIGHT_TINT)  # colour of rod vision (luminance 1)
    sky_top: tuple = (0.0009, 0.0011, 0.0024)  # linear RGB of the night sky at the top of the image
    sky_horizon: tuple = (0.006, 0.010, 0.032)  # ... and at the horizon (deep blue)
    sky_clouds: float = 0.6  # how much of the day clouds shows in the night sky
    stars: float = 1.0  # star density (0: none)
    light_color: tuple = (1.0, 0.78, 0.50)  # warm tint of lamps (tungsten / sodium)
    light_gain: float = 1.0  # brightness kept by lamps, relative to their day value
    glow: float = 1.0  # bloom amount
    noise: float = 1.0  # sensor noise level (1: a phone at high ISO)
    vignette: float = 0.25  # darkening of the corners

    def scaled(self, strength):
        """Interpolate between the day photo (strength 0) and this night look (strength 1)."""
        s = max(float(strength), 0.0)
        k = min(s, 1.0)
        return dataclasses.replace(
            self,
            exposure=float(self.exposure) ** s,
            purkinje=self.purkinje * k,
            saturation=1.0 - (1.0 - self.saturation) * k,
            glow=self.glow * k,
            noise=self.noise * k,
            vignette=self.vignette * k,
            stars=self.stars * k,
        ), k


# --------------------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------------------


def _as_rgb_uint8(rgb):
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


def _block_reduce(a, f, op):
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


def _pool(rgb, f):
    """Block-average an image by ``f`` (edge-padded). Returns mean sRGB [0,1], mean linear RGB, max linear Y."""
    H, W, _ = rgb.shape
    h, w = -(-H // f), -(-W // f)
    if f == 1:
        lin = _LUT_LIN[rgb]
        return _LUT_S[rgb], lin, lin @ _Y_W
    mean_s = np.empty((h, w, 3), np.float32)
    mean_l = np.empty((h, w, 3), np.float32)
    max_y = np.empty((h, w), np.float32)
    rows = max(1, _STRIP_PIXELS // max(1, W * f))  # analysis rows per strip
    inv = np.float32(1.0 / (f * f))
    for i0 in range(0, h, rows):
        i1 = min(h, i0 + rows)
        blk = rgb[i0 * f:i1 * f]
        pad_r = (i1 - i0) * f - blk.shape[0]
        pad_c = w * f - W
        if pad_r or pad_c:
            blk = np.pad(blk, ((0, pad_r), (0, pad_c), (0, 0)), mode="edge")
        lin = _LUT_LIN[blk]
        mean_s[i0:i1] = _block_reduce(_LUT_S[blk], f, np.add) * inv
        mean_l[i0:i1] = _block_reduce(lin, f, np.add) * inv
        max_y[i0:i1] = _block_reduce(lin @ _Y_W, f, np.maximum)
    return mean_s, mean_l, max_y


def _pool_float(a, q):
    """Block-average a float map (HxW or HxWxC) by ``q``, edge-padded."""
    if q == 1:
        return a
    h, w = a.shape[:2]
    hh, ww = -(-h // q), -(-w // q)
    if hh * q != h or ww * q != w:
        a = np.pad(a, [(0, hh * q - h), (0, ww * q - w)] + [(0, 0)] * (a.ndim - 2), mode="edge")
    return _block_reduce(a.astype(np.float32, copy=False), q, np.add) * np.float32(1.0 / (q * q))


class _Upsampled:
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


# --------------------------------------------------------------------------------------------------------------
# Sky
# --------------------------------------------------------------------------------------------------------------


def _sky_colour_score(s):
    """Per-pixel 'looks like sky' score from colour alone: bright and bluish, or bright whitish/grey."""
    r, g, b = s[..., 0], s[..., 1], s[..., 2]
    mx = np.maximum(np.maximum(r, g), b)
    mn = np.minimum(np.minimum(r, g), b)
    sat = (mx - mn) / (mx + 1e-3)
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    blue = _smoothstep(0.03, 0.12, b - r) * _smoothstep(0.30, 0.50, b) * _smoothstep(-0.10, -0.02, b - g)
    grey = _smoothstep(0.50, 0.68, luma) * (1.0 - _smoothstep(0.10, 0.22, sat))
    return np.maximum(blue, grey).astype(np.float32)


@dataclass
class _Sky:
    """The sky found on the sky grid (maps of ``scale``×``scale`` analysis pixels)."""

    region: np.ndarray  # soft region where the sky may be, before the per-pixel colour test
    inner: np.ndarray  # soft interior of the sky, where any sky colour (clouds included) is trusted
    core: np.ndarray  # binary sky
    model: np.ndarray  # the day-sky colour (sRGB, [0,1]) everywhere, extrapolated from the sky
    horizon: float  # normalised row of the bottom of the sky
    y_model: np.ndarray  # the smooth day-sky luminance (linear), for the cloud modulation
    blue: float  # mean blueness of the sky: a clear sky shows stars, an overcast one does not
    scale: int = 1


def _no_sky(h, w):
    zeros = np.zeros((h, w), np.float32)
    ones = np.ones((h, w), np.float32)
    return _Sky(zeros, zeros, zeros.astype(bool), np.zeros((h, w, 3), np.float32), 0.5, ones, 0.0)


def _blur(x, sigma):
    """Gaussian blur (per channel for HxWxC, edge-replicating). Wide blurs run on a block-averaged copy and are
    interpolated back, which is much faster and, for these smooth maps, practically the same."""
    q = max(1, int(sigma / 1.5))
    h, w = x.shape[:2]
    small = _pool_float(x, q) if q > 1 else x
    sig = (sigma / q, sigma / q) + (0,) * (x.ndim - 2)
    out = ndi.gaussian_filter(small, sig, mode="nearest", truncate=3.0)
    if q > 1:
        out = _Upsampled(out, w, q).rows(0, h)
    return out.astype(np.float32, copy=False)


def _local_std(x, sigma):
    m = _blur(x, sigma)
    m2 = _blur(x * x, sigma)
    return np.sqrt(np.maximum(m2 - m * m, 0.0))


def _dilate(mask, r):
    """Binary dilation by a (2r+1)-square."""
    return ndi.maximum_filter(mask, size=2 * r + 1, mode="nearest") if r > 0 else mask


def _erode(mask, r):
    return ndi.minimum_filter(mask, size=2 * r + 1, mode="nearest") if r > 0 else mask


def _connected_to(mask, seeds):
    """The parts of ``mask`` (4-connected) that contain a pixel of ``seeds``."""
    lab, n = ndi.label(mask | seeds)
    hit = np.zeros(n + 1, bool)
    hit[lab[seeds]] = True
    hit[0] = False
    return hit[lab]


def _fill_holes(mask):
    """Add the background regions that do not reach the image border."""
    lab, n = ndi.label(~mask)
    border = np.zeros(n + 1, bool)
    for edge in (lab[0], lab[-1], lab[:, 0], lab[:, -1]):
        border[edge] = True
    border[0] = True
    return mask | ~border[lab]


def _sky_model(small_s, core, diag, small_y=None):
    """Day-sky colour everywhere, extrapolated from the pixels of ``core`` (normalised convolution); with
    ``small_y`` (linear luminance) also the smooth sky luminance, as a fourth channel. The blur runs on a
    block-averaged grid; the result is interpolated back bilinearly for the final model (``small_y`` given) and by
    repetition while growing the sky."""
    h, w = core.shape
    sm = max(1.0, 0.05 * diag)
    q = max(1, int(sm / 1.5))
    planes = [small_s * core[..., None]] + ([(small_y * core)[..., None]] if small_y is not None else [])
    grid = _pool_float(np.concatenate(planes + [core[..., None]], -1).astype(np.float32), q)
    grid = ndi.gaussian_filter(grid, (sm / q, sm / q, 0), mode="nearest", truncate=3.0)
    wsum = grid[..., -1]
    model = grid[..., :-1] / np.maximum(wsum, 1e-6)[..., None]
    far = wsum < 1e-3
    if far.any():  # too far from the sky: use its mean colour
        model[far] = model[~far].mean(axis=0) if (~far).any() else 0.5
    if q > 1:
        if small_y is not None:
            model = _Upsampled(model, w, q).rows(0, h)
        else:
            model = np.repeat(np.repeat(model, q, axis=0)[:h], q, axis=1)[:, :w]
    return model


def _analyse_sky(small_s, small_l):
    fs = max(1, -(-max(small_s.shape[:2]) // _SKY_SIDE))
    sky = _analyse_sky_grid(_pool_float(small_s, fs), _pool_float(small_l, fs))
    sky.scale = fs
    return sky


def _analyse_sky_grid(small_s, small_l):
    h, w, _ = small_s.shape
    empty = _no_sky(h, w)
    if h < 2 or w < 2:
        return empty
    colour = _sky_colour_score(small_s)
    luma = small_s @ np.array([0.299, 0.587, 0.114], np.float32)
    diag = float(np.hypot(h, w))
    sig = max(0.6, diag / 280.0)
    grad = ndi.gaussian_gradient_magnitude(luma, sig, mode="nearest")
    grad = ndi.gaussian_filter(grad, 1.5 * sig, mode="nearest", truncate=3.0)
    smooth = 1.0 - _smoothstep(0.012, 0.04, grad)  # fine scale: no edges, no foliage
    coarse = 1.0 - _smoothstep(0.05, 0.10, _local_std(luma, max(1.0, 0.03 * diag)))  # coarse: no snow-and-rock
    yn = (np.arange(h, dtype=np.float32) + 0.5) / h
    prior = 1.0 - _smoothstep(0.45, 0.8, yn)
    base = colour * smooth
    seeds = (base * coarse * prior[:, None] > 0.5)
    if not seeds[0].any():
        return empty
    lab, n = ndi.label(seeds)
    top = np.unique(lab[0])
    seeds = np.isin(lab, top[top > 0])
    # region growing against a colour model of the day sky that is re-estimated from the region found so far,
    # so that the sky can be followed down to a brighter, hazier horizon
    core = seeds
    for _ in range(3):
        model = _sky_model(small_s, core, diag)
        dist = _cmax(np.abs(small_s - model))
        # sky colour mostly depends on elevation: also compare with the sky of the same rows
        cnt = ndi.gaussian_filter1d(core.sum(axis=1).astype(np.float32), 1.0, mode="nearest")
        rsum = ndi.gaussian_filter1d((small_s * core[..., None]).sum(axis=1), 1.0, axis=0, mode="nearest")
        row_model = rsum / np.maximum(cnt, 1e-6)[:, None]
        dist_row = np.where(cnt[:, None] > 0.5, _cmax(np.abs(small_s - row_model[:, None, :])), 1.0)
        dist = np.minimum(dist, dist_row)
        grow = (base > 0.35) & (dist < 0.12) & (yn[:, None] < 0.97)
        core = _connected_to(grow, core)
    # clouds: bright, greyish blobs that are mostly surrounded by sky and end well above the ground
    mx = _cmax(small_s)
    sat = (mx - _cmin(small_s)) / (mx + 1e-3)
    whitish = (luma > 0.45) & (sat < 0.25)
    cloudy = whitish & (grad < 0.10) & ~core
    if cloudy.any() and core.any():
        lab, n = ndi.label(cloudy)
        grown = ndi.maximum_filter(lab, size=3)
        ring = (lab == 0) & (grown > 0)
        owner = grown[ring]
        near_core = _dilate(core, 2)
        contact = np.bincount(owner, weights=near_core[ring], minlength=n + 1)
        total = np.bincount(owner, minlength=n + 1)
        low = np.array([1.0] + [sl[0].stop / h for sl in ndi.find_objects(lab)])  # lowest row (normalised)
        sizes = np.maximum(np.bincount(lab.ravel(), minlength=n + 1), 1)
        texture = np.bincount(lab.ravel(), weights=grad.ravel(), minlength=n + 1) / sizes
        ok = (contact >= 0.45 * np.maximum(total, 1)) & (low < 0.65) & (texture < 0.06)
        ok[0] = False
        clouds = ok[lab]
        # and the sharp rims of the clouds, between a cloud and the sky
        core = core | clouds | (_dilate(clouds, 2) & _dilate(core, 2))
    # the sky lies above the ground: in each column, no sky below the first tall (10 %) run of non-sky,
    # non-cloud pixels
    run = max(2, int(round(0.10 * h)))
    ground = ~core & ~whitish
    wo = max(3, int(round(0.03 * w))) | 1  # a horizontal opening: poles and strings do not count as ground
    ground = ndi.maximum_filter1d(ndi.minimum_filter1d(ground, wo, axis=1), wo, axis=1)
    ns = ndi.uniform_filter1d(ground.astype(np.float32), run, axis=0, mode="nearest", origin=-(run // 2))
    tall = ns > 0.999
    first = np.where(tall.any(axis=0), tall.argmax(axis=0), h)
    core &= np.arange(h)[:, None] < first[None, :]
    # keep sky-shaped components only: mostly high up, not the whole bottom border (a studio backdrop)
    blue_sc = _smoothstep(0.03, 0.12, small_s[..., 2] - small_s[..., 0])
    lab, n = ndi.label(core)
    flat = lab.ravel()
    sizes = np.maximum(np.bincount(flat, minlength=n + 1), 1)
    mean_y = np.bincount(flat, weights=np.repeat(yn, w), minlength=n + 1) / sizes
    bottom = np.bincount(lab[int(0.95 * h):].ravel(), minlength=n + 1) / float(max(1, lab[int(0.95 * h):].size))
    blueness = np.bincount(flat, weights=blue_sc.ravel(), minlength=n + 1) / sizes
    low_part = np.bincount(lab[int(0.6 * h):].ravel(), minlength=n + 1) / sizes
    # reaching far down: only a clear blue sky filling the frame may do that (not a studio backdrop)
    keep = (sizes >= 0.003 * h * w) & (((mean_y <= 0.5) & (bottom <= 0.3) & (low_part <= 0.25)) | (blueness >= 0.5))
    keep[0] = False
    core = keep[lab]
    if not core.any():
        return empty
    core = _fill_holes(core)
    model = _sky_model(small_s, core, diag, small_l @ _Y_W)
    y_model = np.maximum(model[..., 3], 1e-3)
    model = np.ascontiguousarray(model[..., :3])
    # the texture test stops the core a few pixels short of the objects: reach them through sky-coloured pixels,
    # then two pixels more, so that the soft edge of the region falls on the objects, where the per-pixel colour
    # test at full resolution cuts it
    reach = _sky_sim(small_s, model) > 0.5
    region = _connected_to(_dilate(core, int(np.ceil(4 * sig)) + 1) & reach, core)
    region = _dilate(region, 2 if min(h, w) > 16 else 1)
    region = ndi.gaussian_filter(region.astype(np.float32), 0.7, mode="nearest", truncate=3.0)
    rows = core.mean(axis=1)
    idx = np.nonzero(rows > 0.05)[0]
    horizon = float((idx[-1] + 1) / h) if idx.size else 0.5
    horizon = min(max(horizon, 0.15), 1.0)
    blue = float(blue_sc[core].mean())
    inner = _erode(core, 2 if min(h, w) > 16 else 1)
    inner = ndi.gaussian_filter(inner.astype(np.float32), 0.7, mode="nearest", truncate=3.0)
    return _Sky(region.astype(np.float32), inner, core, model.astype(np.float32), horizon, y_model, blue)


def _sky_sim(s, model):
    """Closeness of each pixel to the local day-sky colour."""
    return 1.0 - _smoothstep(0.06, 0.14, _cmax(np.abs(s - model)))


def _sky_gate(s, model, inner):
    """Per-pixel sky test at full resolution: close to the local day-sky colour or, well inside the sky only (clouds),
    any sky colour. White walls and masts next to a blue sky are neither."""
    sim = _sky_sim(s, model)
    return np.maximum(sim, inner * _sky_colour_score(s))


def sky_mask(rgb: np.ndarray) -> np.ndarray:
    """HxW float32 in [0,1], soft mask of the sky (bright, bluish or whitish/grey, low texture, connected to the
    top border, mostly in the upper part). Zero when there is no sky."""
    rgb = _as_rgb_uint8(rgb)
    H, W, _ = rgb.shape
    if H == 0 or W == 0:
        return np.zeros((H, W), np.float32)
    f = max(1, -(-max(H, W) // _ANALYSIS_SIDE))
    small_s, small_l, _ = _pool(rgb, f)
    sky = _analyse_sky(small_s, small_l)
    out = np.zeros((H, W), np.float32)
    if not sky.core.any():
        return out
    maps = _Upsampled(np.concatenate([sky.region[..., None], sky.inner[..., None], sky.model], -1), W, f * sky.scale)
    step = _strip_rows(H, W)
    for y0 in range(0, H, step):
        y1 = min(H, y0 + step)
        mp = maps.rows(y0, y1)
        out[y0:y1] = mp[..., 0] * _sky_gate(_LUT_S[rgb[y0:y1]], mp[..., 2:], mp[..., 1])
    return np.clip(out, 0.0, 1.0)


# --------------------------------------------------------------------------------------------------------------
# Renderer
# --------------------------------------------------------------------------------------------------------------


def _find_lights(small_l, small_maxy, sky_region):
    """Weights in [0,1] of the analysis pixels that are light sources, and the luminance threshold used."""
    h, w = small_maxy.shape
    diag = float(np.hypot(h, w))
    small_y = small_l @ _Y_W
    thr = max(0.85, float(np.percentile(small_maxy, 99.7)))
    bg = _blur(small_y, max(1.0, 0.04 * diag))
    cand = (small_maxy >= thr) & (small_maxy >= 2.5 * bg) & (sky_region <= 0.01)
    light_w = np.zeros((h, w), np.float32)
    if not cand.any():
        return light_w, thr
    # judge each bright core by the whole bright object around it (down to half the threshold): a lamp or a
    # glint is small at any threshold, a sunlit white wall, a swan or a cow's patch is not
    obj = (small_maxy >= max(0.35, 0.5 * thr)) & (sky_region <= 0.01)
    lab, n = ndi.label(obj, structure=np.ones((3, 3)))
    area = np.bincount(lab.ravel(), minlength=n + 1)[1:].astype(np.float64)
    frac = area / float(h * w)
    # elongation: squared bounding-box side over area (1 for a square, ~1.3 for a disc, L for a 1-px line)
    ext = np.array([max(a.stop - a.start, b.stop - b.start) for a, b in ndi.find_objects(lab)], np.float64)
    elong = ext * ext / area
    wt = (1.0 - _smoothstep(0.0004, 0.0025, frac)) * (1.0 - _smoothstep(2.5, 6.0, elong))
    wt *= np.bincount(lab[cand], minlength=n + 1)[1:] > 0  # must hold a bright core
    # a light budget: at most ~0.15 % of the picture, brightest objects first
    inside = lab > 0
    peak = np.zeros(n + 1, np.float32)
    np.maximum.at(peak, lab[inside], small_maxy[inside])
    order = np.argsort(-peak[1:], kind="stable")
    budget = 0.0015 * h * w
    used = np.cumsum(area[order] * wt[order])
    wt[order[used > budget + 1]] = 0.0
    return np.concatenate([[0.0], wt]).astype(np.float32)[lab] * cand, thr


def _render(rgb, rng, p: _Params, k: float, noise: bool):
    rgb = _as_rgb_uint8(rgb)
    H, W, _ = rgb.shape
    out = np.empty((H, W, 3), np.uint8)
    if H == 0 or W == 0:
        return out
    f = max(1, -(-max(H, W) // _ANALYSIS_SIDE))
    small_s, small_l, small_maxy = _pool(rgb, f)
    h, w = small_maxy.shape
    diag = float(np.hypot(h, w))
    sky = _analyse_sky(small_s, small_l) if k > 0 else _no_sky(h, w)
    has_sky = k > 0 and bool(sky.core.any())

    # ---- lights: small, very bright, non-sky regions ----------------------------------------------------------
    if k > 0:
        region_a = _Upsampled(sky.region, w, sky.scale).rows(0, h)  # on the analysis grid
        light_w, thr = _find_lights(small_l, small_maxy, region_a)
    else:
        light_w, thr = np.zeros((h, w), np.float32), 1.0
    has_lights = bool(light_w.max() > 0)
    warm = np.asarray(p.light_color, np.float32)
    if has_lights:
        light_reg = ndi.grey_dilation(light_w, size=(3, 3))
        # bloom: a tight and a wide gaussian halo of the lights' energy, on coarse grids (q1 and q2 = n·q1 pixels)
        q1 = max(1, int(round(diag / 180)))
        q2 = q1 * max(1, int(round(diag / 60 / q1)))
        # the lights are few: accumulate their energy straight into the q1 grid
        ly, lx = np.nonzero(light_w)
        energy = light_w[ly, lx, None] * np.maximum(small_l[ly, lx], 0.5 * small_maxy[ly, lx, None]) * warm
        s1 = np.zeros((-(-h // q1), -(-w // q1), 3), np.float32)
        np.add.at(s1, (ly // q1, lx // q1), energy / np.float32(q1 * q1))
        s2 = _pool_float(s1, q2 // q1)
        g1 = ndi.gaussian_filter(s1, (0.012 * diag / q1, 0.012 * diag / q1, 0), mode="constant", truncate=3)
        g2 = ndi.gaussian_filter(s2, (0.05 * diag / q2, 0.05 * diag / q2, 0), mode="constant", truncate=3)
        glow = np.float32(1.5 * p.glow) * g1
        glow += np.float32(1.2 * p.glow) * _Upsampled(g2, g1.shape[1], q2 // q1).rows(0, g1.shape[0])
        up_reg = _Upsampled(light_reg, W, f)
        up_glow = _Upsampled(glow, W, f * q1)

    # ---- stars -----------------------------------------------------------------------------------------------
    star_y = star_x = star_v = None
    if has_sky and p.stars > 0:
        area = float(sky.core.mean()) * min(1.0, H * W / 65536.0) ** 0.5  # fewer on tiny pictures
        n_stars = int(round(240 * p.stars * sky.blue * area))
        if n_stars:
            sy = rng.random(n_stars) * H * sky.horizon * 0.85
            sx = rng.random(n_stars) * W
            sv = 0.02 + rng.exponential(0.04, n_stars)
            star_y = np.minimum(sy.astype(np.intp), H - 1)
            star_x = np.minimum(sx.astype(np.intp), W - 1)
            star_v = (sv * p.stars).astype(np.float32)
            fs, (hs, ws) = f * sky.scale, sky.core.shape
            ok = sky.core[np.minimum(star_y // fs, hs - 1), np.minimum(star_x // fs, ws - 1)]
            star_y, star_x, star_v = star_y[ok], star_x[ok], star_v[ok]

    # ---- per-strip full-resolution compositing ---------------------------------------------------------------
    tint = np.asarray(p.tint, np.float32)
    sky_top = np.asarray(p.sky_top, np.float32)
    sky_hor = np.asarray(p.sky_horizon, np.float32)
    expo = np.float32(p.exposure)
    cx = ((np.arange(W, dtype=np.float32) + 0.5) / W - 0.5) * 2
    vx = cx * cx * (W / max(H, W)) ** 2
    shot = np.float32(2.5e-4 * p.noise)
    read = np.float32(1.0e-3 * p.noise)
    step = _strip_rows(H, W)
    rim = 1 if max(H, W) <= 1600 else 2  # half-width of the edge clean-up below
    if has_sky:
        # all sky maps in one array, so that each strip interpolates them in one go
        sky_maps = _Upsampled(np.concatenate([sky.region[..., None], sky.inner[..., None], sky.y_model[..., None],
                                              sky.model], -1), W, f * sky.scale)
    star_rgb = np.float32([0.9, 0.95, 1.0])
    for y0 in range(0, H, step):
        y1 = min(H, y0 + step)
        rows = np.arange(y0, y1)
        e0, e1 = (max(0, y0 - rim), min(H, y1 + rim)) if has_sky else (y0, y1)
        lin = _LUT_LIN[rgb[e0:e1]]  # (n, W, 3), with a margin of ``rim`` rows when there is sky
        Y = lin @ _Y_W
        V = lin @ _V_W
        # Purkinje shift: cones keep some colour, rods see the scotopic luminance in blue
        night = lin - Y[..., None]
        night *= np.float32(p.saturation * (1 - p.purkinje))
        night += (np.float32(1 - p.purkinje) * Y)[..., None]
        night += (np.float32(p.purkinje) * V)[..., None] * tint
        if has_sky:
            maps = sky_maps.rows(e0, e1)
            # pixels on the outline of the sky mix the (bright) day sky with the object: near the sky, take the
            # darkest neighbour instead, so that no bright rim is left around roofs and trees
            reg_e = maps[..., 0]
            if reg_e.max() > 0:
                night += reg_e[..., None] * (_min_filter(night, rim) - night)
            c0, c1 = y0 - e0, y0 - e0 + (y1 - y0)
            lin, Y, night, maps = lin[c0:c1], Y[c0:c1], night[c0:c1], maps[c0:c1]
        # exposure and vignette
        cy = ((rows.astype(np.float32) + 0.5) / H - 0.5) * 2
        vy = cy * cy * (H / max(H, W)) ** 2
        vig = 1.0 - np.float32(p.vignette) * 0.5 * (vy[:, None] + vx[None, :])
        vig *= expo
        night *= vig[..., None]
        # night sky
        if has_sky and maps[..., 0].max() > 0:
            m = maps[..., 0] * _sky_gate(_LUT_S[rgb[y0:y1]], maps[..., 3:], maps[..., 1])
            m *= np.float32(k)
            t = np.clip(((rows + 0.5) / H) / sky.horizon, 0, 1).astype(np.float32) ** 1.5
            grad = sky_top[None, :] * (1 - t[:, None]) + sky_hor[None, :] * t[:, None]  # (n, 3)
            mod = np.clip(Y / maps[..., 2], 0.0, 3.0)  # clouds: brighter or darker than the smooth day sky
            mod -= 1.0
            mod *= np.float32(p.sky_clouds)
            mod += 1.0
            np.clip(mod, 0.7, 2.0, out=mod)
            skyc = grad[:, None, :] * mod[..., None]
            if star_y is not None:
                sel = (star_y >= y0) & (star_y < y1)
                if sel.any():
                    np.add.at(skyc, (star_y[sel] - y0, star_x[sel]), star_v[sel, None] * star_rgb)
            skyc -= night
            skyc *= m[..., None]
            night += skyc
        # lights
        if has_lights:
            lr = up_reg.rows(y0, y1)
            core = lr * _smoothstep(np.float32(0.6 * thr), np.float32(thr), Y)
            lamp = lin * (0.4 + 0.6 * warm) * np.float32(p.light_gain)
            night += core[..., None] * (lamp - night)
            night += up_glow.rows(y0, y1)
        # sensor noise (shot + read), in linear light
        if noise and p.noise > 0:
            sd = np.maximum(night, 0)
            sd *= shot
            sd += read * read
            np.sqrt(sd, out=sd)
            sd *= _gaussian_noise(rng, night.shape)
            night += sd
        out[y0:y1] = _to_uint8_srgb(night)
    return out


def render_night(rgb: np.ndarray, rng: np.random.Generator | None = None, strength: float = 1.0,
                 noise: bool = True) -> np.ndarray:
    """rgb: HxWx3 uint8 day photo (any size, from 64x64 up to several megapixels). Returns HxWx3 uint8 night photo.

    ``strength`` 0 leaves the photo as it is, 1 is the full night look, above 1 is darker still (exposure only).
    ``rng`` seeds the stars and the sensor noise (``None``: ``np.random.default_rng(0)``).
    """
    if rng is None:
        rng = np.random.default_rng(0)
    p, k = _Params().scaled(strength)
    return _render(rgb, rng, p, k, noise)


def random_night(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Same renderer with randomly varied parameters (exposure, tint, sky darkness, glow amount, noise level)
    within plausible ranges — used to make varied night inputs for night2day training."""
    base = _Params()
    # night tint: between a neutral-ish and a strong blue shift
    tb = rng.uniform(0.6, 1.2)
    tint = 1.0 + tb * (_NIGHT_TINT - 1.0)
    tint = tint / float(tint @ _Y_W)
    sky_dark = np.exp(rng.uniform(np.log(0.4), np.log(2.0)))
    sodium = rng.uniform(0.0, 1.0)  # 0: white LED, 1: deep sodium orange
    light_color = (1.0, 0.95 - 0.3 * sodium, 0.9 - 0.6 * sodium)
    p = dataclasses.replace(
        base,
        exposure=float(np.exp(rng.uniform(np.log(0.05), np.log(0.25)))),
        purkinje=float(rng.uniform(0.4, 0.8)),
        saturation=float(rng.uniform(0.35, 0.75)),
        tint=tuple(float(v) for v in tint),
        sky_top=tuple(float(v) * sky_dark for v in base.sky_top),
        sky_horizon=tuple(float(v) * sky_dark for v in base.sky_horizon),
        sky_clouds=float(rng.uniform(0.3, 0.9)),
        stars=float(rng.uniform(0.0, 1.5)),
        light_color=light_color,
        light_gain=float(rng.uniform(0.8, 1.2)),
        glow=float(np.exp(rng.uniform(np.log(0.4), np.log(2.0)))),
        noise=float(np.exp(rng.uniform(np.log(0.3), np.log(2.5)))),
        vignette=float(rng.uniform(0.0, 0.45)),
    )
    return _render(rgb, rng, p, 1.0, True)
