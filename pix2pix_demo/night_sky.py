"""Finding the sky in a day photo, for the night renderer's step 3 (see :mod:`pix2pix_demo.night`): :func:`sky_mask`
for anyone, :func:`analyse_sky` (on the analysis copy) and :func:`sky_gate` (per pixel at full resolution) for the
renderer.

Seeds are bright and bluish or whitish/grey, smooth at a fine and a coarse scale, in the upper part and connected to
the top border; they grow along pixels close to a day-sky colour model (local, and per row); soft whitish blobs mostly
surrounded by sky (clouds) join them; the sky is cut below any tall run of ground in a column, and components that
fill the bottom (a studio backdrop) are dropped unless clearly blue. Pure numpy / scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .night_maps import (
    ANALYSIS_SIDE,
    LUT_S,
    Y_W,
    Upsampled,
    as_rgb_uint8,
    blur,
    pool,
    pool_float,
    smoothstep,
    strip_rows,
)

_SKY_SIDE = 128  # long side of the sky analysis copy


def _cmax(a):
    """Max over the (last) colour axis; much faster than ``a.max(axis=-1)`` for 3 channels."""
    return np.maximum(np.maximum(a[..., 0], a[..., 1]), a[..., 2])


def _cmin(a):
    return np.minimum(np.minimum(a[..., 0], a[..., 1]), a[..., 2])


def _sky_colour_score(s):
    """Per-pixel 'looks like sky' score from colour alone: bright and bluish, or bright whitish/grey."""
    r, g, b = s[..., 0], s[..., 1], s[..., 2]
    mx = np.maximum(np.maximum(r, g), b)
    mn = np.minimum(np.minimum(r, g), b)
    sat = (mx - mn) / (mx + 1e-3)
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    blue = smoothstep(0.03, 0.12, b - r) * smoothstep(0.30, 0.50, b) * smoothstep(-0.10, -0.02, b - g)
    grey = smoothstep(0.50, 0.68, luma) * (1.0 - smoothstep(0.10, 0.22, sat))
    return np.maximum(blue, grey).astype(np.float32)


@dataclass
class Sky:
    """The sky found on the sky grid (maps of ``scale``×``scale`` analysis pixels)."""

    region: np.ndarray  # soft region where the sky may be, before the per-pixel colour test
    inner: np.ndarray  # soft interior of the sky, where any sky colour (clouds included) is trusted
    core: np.ndarray  # binary sky
    model: np.ndarray  # the day-sky colour (sRGB, [0,1]) everywhere, extrapolated from the sky
    horizon: float  # normalised row of the bottom of the sky
    y_model: np.ndarray  # the smooth day-sky luminance (linear), for the cloud modulation
    blue: float  # mean blueness of the sky: a clear sky shows stars, an overcast one does not
    scale: int = 1


def no_sky(h, w):
    zeros = np.zeros((h, w), np.float32)
    ones = np.ones((h, w), np.float32)
    return Sky(zeros, zeros, zeros.astype(bool), np.zeros((h, w, 3), np.float32), 0.5, ones, 0.0)


def _local_std(x, sigma):
    m = blur(x, sigma)
    m2 = blur(x * x, sigma)
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
    grid = pool_float(np.concatenate(planes + [core[..., None]], -1).astype(np.float32), q)
    grid = ndi.gaussian_filter(grid, (sm / q, sm / q, 0), mode="nearest", truncate=3.0)
    wsum = grid[..., -1]
    model = grid[..., :-1] / np.maximum(wsum, 1e-6)[..., None]
    far = wsum < 1e-3
    if far.any():  # too far from the sky: use its mean colour
        model[far] = model[~far].mean(axis=0) if (~far).any() else 0.5
    if q > 1:
        if small_y is not None:
            model = Upsampled(model, w, q).rows(0, h)
        else:
            model = np.repeat(np.repeat(model, q, axis=0)[:h], q, axis=1)[:, :w]
    return model


def analyse_sky(small_s, small_l):
    fs = max(1, -(-max(small_s.shape[:2]) // _SKY_SIDE))
    sky = _analyse_sky_grid(pool_float(small_s, fs), pool_float(small_l, fs))
    sky.scale = fs
    return sky


def _analyse_sky_grid(small_s, small_l):
    h, w, _ = small_s.shape
    empty = no_sky(h, w)
    if h < 2 or w < 2:
        return empty
    colour = _sky_colour_score(small_s)
    luma = small_s @ np.array([0.299, 0.587, 0.114], np.float32)
    diag = float(np.hypot(h, w))
    sig = max(0.6, diag / 280.0)
    grad = ndi.gaussian_gradient_magnitude(luma, sig, mode="nearest")
    grad = ndi.gaussian_filter(grad, 1.5 * sig, mode="nearest", truncate=3.0)
    smooth = 1.0 - smoothstep(0.012, 0.04, grad)  # fine scale: no edges, no foliage
    coarse = 1.0 - smoothstep(0.05, 0.10, _local_std(luma, max(1.0, 0.03 * diag)))  # coarse: no snow-and-rock
    yn = (np.arange(h, dtype=np.float32) + 0.5) / h
    prior = 1.0 - smoothstep(0.45, 0.8, yn)
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
    blue_sc = smoothstep(0.03, 0.12, small_s[..., 2] - small_s[..., 0])
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
    model = _sky_model(small_s, core, diag, small_l @ Y_W)
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
    return Sky(region.astype(np.float32), inner, core, model.astype(np.float32), horizon, y_model, blue)


def _sky_sim(s, model):
    """Closeness of each pixel to the local day-sky colour."""
    return 1.0 - smoothstep(0.06, 0.14, _cmax(np.abs(s - model)))


def sky_gate(s, model, inner):
    """Per-pixel sky test at full resolution: close to the local day-sky colour or, well inside the sky only (clouds),
    any sky colour. White walls and masts next to a blue sky are neither."""
    sim = _sky_sim(s, model)
    return np.maximum(sim, inner * _sky_colour_score(s))


def sky_mask(rgb: np.ndarray) -> np.ndarray:
    """HxW float32 in [0,1], soft mask of the sky (bright, bluish or whitish/grey, low texture, connected to the
    top border, mostly in the upper part). Zero when there is no sky."""
    rgb = as_rgb_uint8(rgb)
    H, W, _ = rgb.shape
    if H == 0 or W == 0:
        return np.zeros((H, W), np.float32)
    f = max(1, -(-max(H, W) // ANALYSIS_SIDE))
    small_s, small_l, _ = pool(rgb, f)
    sky = analyse_sky(small_s, small_l)
    out = np.zeros((H, W), np.float32)
    if not sky.core.any():
        return out
    maps = Upsampled(np.concatenate([sky.region[..., None], sky.inner[..., None], sky.model], -1), W, f * sky.scale)
    step = strip_rows(H, W)
    for y0 in range(0, H, step):
        y1 = min(H, y0 + step)
        mp = maps.rows(y0, y1)
        out[y0:y1] = mp[..., 0] * sky_gate(LUT_S[rgb[y0:y1]], mp[..., 2:], mp[..., 1])
    return np.clip(out, 0.0, 1.0)
