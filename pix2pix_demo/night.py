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

The renderer is split in three modules: this one (the parameters, the lights, the compositing, steps 1, 2 and 4–6),
:mod:`pix2pix_demo.night_sky` (step 3: finding the sky; :func:`sky_mask` is importable from here too) and
:mod:`pix2pix_demo.night_maps` (look-up tables, analysis copies, upsampling and blurs that both use).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.special import ndtri

from .night_maps import (
    ANALYSIS_SIDE,
    LUT_LIN,
    LUT_S,
    Y_W,
    Upsampled,
    as_rgb_uint8,
    blur,
    pool,
    pool_float,
    smoothstep,
    strip_rows,
    to_uint8_srgb,
)
from .night_sky import analyse_sky, no_sky, sky_gate, sky_mask

__all__ = ["render_night", "random_night", "sky_mask"]

#: Scotopic luminance: Larson's V = Y (1.33 (1 + (Y+Z)/X) - 1.68) evaluated on each sRGB primary, normalised so
#: that white is 1. It is almost additive, so linear weights are a good approximation. Red barely counts.
_V_W = np.array([0.033, 0.766, 0.201], np.float32)
#: Linear-sRGB colour with luminance 1 and chromaticity (x, y) = (0.25, 0.25): the blue shift used for night
#: scenes by Thompson, Shirley & Ferwerda (2002).
_NIGHT_TINT = np.array([0.706, 0.990, 1.966], np.float32)


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


def _find_lights(small_l, small_maxy, sky_region):
    """Weights in [0,1] of the analysis pixels that are light sources, and the luminance threshold used."""
    h, w = small_maxy.shape
    diag = float(np.hypot(h, w))
    small_y = small_l @ Y_W
    thr = max(0.85, float(np.percentile(small_maxy, 99.7)))
    bg = blur(small_y, max(1.0, 0.04 * diag))
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
    wt = (1.0 - smoothstep(0.0004, 0.0025, frac)) * (1.0 - smoothstep(2.5, 6.0, elong))
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
    rgb = as_rgb_uint8(rgb)
    H, W, _ = rgb.shape
    out = np.empty((H, W, 3), np.uint8)
    if H == 0 or W == 0:
        return out
    f = max(1, -(-max(H, W) // ANALYSIS_SIDE))
    small_s, small_l, small_maxy = pool(rgb, f)
    h, w = small_maxy.shape
    diag = float(np.hypot(h, w))
    sky = analyse_sky(small_s, small_l) if k > 0 else no_sky(h, w)
    has_sky = k > 0 and bool(sky.core.any())

    # ---- lights: small, very bright, non-sky regions ----------------------------------------------------------
    if k > 0:
        region_a = Upsampled(sky.region, w, sky.scale).rows(0, h)  # on the analysis grid
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
        s2 = pool_float(s1, q2 // q1)
        g1 = ndi.gaussian_filter(s1, (0.012 * diag / q1, 0.012 * diag / q1, 0), mode="constant", truncate=3)
        g2 = ndi.gaussian_filter(s2, (0.05 * diag / q2, 0.05 * diag / q2, 0), mode="constant", truncate=3)
        glow = np.float32(1.5 * p.glow) * g1
        glow += np.float32(1.2 * p.glow) * Upsampled(g2, g1.shape[1], q2 // q1).rows(0, g1.shape[0])
        up_reg = Upsampled(light_reg, W, f)
        up_glow = Upsampled(glow, W, f * q1)

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
    step = strip_rows(H, W)
    rim = 1 if max(H, W) <= 1600 else 2  # half-width of the edge clean-up below
    if has_sky:
        # all sky maps in one array, so that each strip interpolates them in one go
        sky_maps = Upsampled(np.concatenate([sky.region[..., None], sky.inner[..., None], sky.y_model[..., None],
                                              sky.model], -1), W, f * sky.scale)
    star_rgb = np.float32([0.9, 0.95, 1.0])
    for y0 in range(0, H, step):
        y1 = min(H, y0 + step)
        rows = np.arange(y0, y1)
        e0, e1 = (max(0, y0 - rim), min(H, y1 + rim)) if has_sky else (y0, y1)
        lin = LUT_LIN[rgb[e0:e1]]  # (n, W, 3), with a margin of ``rim`` rows when there is sky
        Y = lin @ Y_W
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
            m = maps[..., 0] * sky_gate(LUT_S[rgb[y0:y1]], maps[..., 3:], maps[..., 1])
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
            core = lr * smoothstep(np.float32(0.6 * thr), np.float32(thr), Y)
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
        out[y0:y1] = to_uint8_srgb(night)
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
    tint = tint / float(tint @ Y_W)
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
