"""Image plumbing: opening odd files, canonical sketch strokes, line extraction, full-resolution output."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pix2pix_demo import imaging
from pix2pix_demo.imaging import ImageError, open_image


def _assert_rgb8(img: Image.Image, size: tuple[int, int]):
    assert isinstance(img, Image.Image)
    assert img.mode == "RGB"
    assert img.size == size
    assert np.asarray(img).dtype == np.uint8


# --------------------------------------------------------------------------------------------- open_image
def test_one_pixel_png(tmp_path):
    path = tmp_path / "one.png"
    Image.new("RGB", (1, 1), (10, 20, 30)).save(path)
    img = open_image(path)
    _assert_rgb8(img, (1, 1))
    assert tuple(np.asarray(img)[0, 0]) == (10, 20, 30)


def test_16_bit_grayscale_png_is_scaled_to_8_bit(tmp_path):
    ramp = np.linspace(0, 65535, 48 * 64).reshape(48, 64).astype(np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode.startswith("I")
    a = np.asarray(open_image(path))
    assert a.shape == (48, 64, 3)
    assert a[0, 0].tolist() == [0, 0, 0]
    assert a[-1, -1].tolist() == [255, 255, 255]
    # The middle of the 16-bit ramp is mid-gray, not clipped to white (naive 16→8 bit conversions clip).
    mid = a.reshape(-1, 3)[ramp.size // 2, 0]
    assert 110 <= mid <= 145
    assert (np.diff(a[..., 0].ravel().astype(int)) >= 0).all()  # monotone, like the ramp


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (40, 30), (0, 255, 255, 0)).save(path)  # pure red in CMYK
    assert Image.open(path).mode == "CMYK"
    img = open_image(path)
    _assert_rgb8(img, (40, 30))
    r, g, b = np.asarray(img)[15, 20].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_rgba_png_transparency_becomes_white(tmp_path):
    img = Image.new("RGBA", (20, 10), (255, 0, 0, 0))
    ImageDraw.Draw(img).rectangle([0, 0, 4, 4], fill=(255, 0, 0, 255))
    path = tmp_path / "rgba.png"
    img.save(path)
    a = np.asarray(open_image(path))
    assert a.shape == (10, 20, 3)
    assert a[8, 15].tolist() == [255, 255, 255]  # transparent → white, not black or red
    assert a[2, 2].tolist() == [255, 0, 0]


def test_half_transparent_pixels_are_composited_on_white(tmp_path):
    path = tmp_path / "half.png"
    Image.new("RGBA", (8, 8), (0, 0, 0, 128)).save(path)
    a = np.asarray(open_image(path)).astype(int)
    assert np.all(np.abs(a - 127) <= 2)


def test_palette_png_with_transparency(tmp_path):
    pal = Image.new("P", (20, 10), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    ImageDraw.Draw(pal).rectangle([0, 0, 4, 4], fill=1)
    path = tmp_path / "pal.png"
    pal.save(path, transparency=0)
    assert Image.open(path).mode == "P"
    a = np.asarray(open_image(path))
    assert a[8, 15].tolist() == [255, 255, 255]  # palette entry 0 is transparent (black in the palette)
    assert a[2, 2].tolist() == [255, 0, 0]


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (60, 20), (0, 128, 0))
    ImageDraw.Draw(img).rectangle([0, 0, 9, 19], fill=(255, 0, 0))  # red band on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif, quality=95)
    assert Image.open(path).size == (60, 20)
    out = open_image(path)
    _assert_rgb8(out, (20, 60))  # width and height swapped
    a = np.asarray(out).astype(int)
    # Rotating clockwise moves the left edge to the top.
    assert a[2, 10, 0] > 200 and a[2, 10, 1] < 80
    assert a[-3, 10, 0] < 80


def test_open_fitted_gives_the_original_size_as_shown(tmp_path):
    """The size it returns is the file's own, before scaling down, and upright (after the EXIF rotation)."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = tmp_path / "rotated.jpg"
    Image.new("RGB", (400, 200), (0, 128, 0)).save(path, exif=exif, quality=95)
    img, size = imaging.open_fitted(path, fit_pixels=20_000)
    assert size == (200, 400)
    assert img.width * img.height <= 20_000 and img.height == 2 * img.width
    assert imaging.open_fitted(path)[1] == (200, 400) == open_image(path).size


def test_animated_gif_gives_the_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 12), c) for c in [(255, 0, 0), (0, 0, 255), (0, 255, 0)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(path).n_frames == 3
    img = open_image(path)
    _assert_rgb8(img, (16, 12))
    assert np.asarray(img)[5, 5].tolist() == [255, 0, 0]


def test_animated_gif_opened_at_a_later_frame_still_gives_the_first(tmp_path):
    frames = [Image.new("RGB", (16, 12), c) for c in [(255, 0, 0), (0, 0, 255)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    im = Image.open(path)
    im.seek(1)
    assert np.asarray(open_image(im))[5, 5].tolist() == [255, 0, 0]


def test_webp(tmp_path):
    path = tmp_path / "pic.webp"
    Image.new("RGB", (30, 20), (0, 0, 255)).save(path)
    img = open_image(path)
    _assert_rgb8(img, (30, 20))
    r, g, b = np.asarray(img)[10, 15].astype(int)
    assert b > 200 and r < 40 and g < 40


def test_grayscale_png(tmp_path):
    path = tmp_path / "gray.png"
    Image.new("L", (30, 20), 77).save(path)
    img = open_image(path)
    _assert_rgb8(img, (30, 20))
    assert np.asarray(img)[5, 5].tolist() == [77, 77, 77]


def test_bytes_file_objects_and_arrays(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (7, 5), (1, 2, 3)).save(buf, "PNG")
    _assert_rgb8(open_image(buf.getvalue()), (7, 5))
    buf.seek(0)
    _assert_rgb8(open_image(buf), (7, 5))
    _assert_rgb8(open_image(np.zeros((5, 7), np.float32) + 0.5), (7, 5))
    assert np.asarray(open_image(np.full((5, 7), 0.5, np.float32)))[0, 0].tolist() == [128, 128, 128]
    _assert_rgb8(open_image(np.zeros((5, 7, 4), np.uint8)), (7, 5))


# -------------------------------------------------------------------------------------------- bad input
def _noise_image(path, fmt):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)).save(path, fmt)
    return path.read_bytes()


def _assert_plain(err: ImageError):
    msg = str(err)
    assert msg and "\n" not in msg and "Traceback" not in msg


@pytest.mark.parametrize("fmt, ext", [("JPEG", "jpg"), ("PNG", "png")])
def test_truncated_files_raise_image_error(tmp_path, fmt, ext):
    data = _noise_image(tmp_path / f"full.{ext}", fmt)
    path = tmp_path / f"truncated.{ext}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="corrupt|truncated|read") as info:
        open_image(path)
    _assert_plain(info.value)


def test_corrupt_png_body_raises_image_error(tmp_path):
    path = tmp_path / "fake.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(ImageError) as info:
        open_image(path)
    assert "fake.png" in str(info.value)
    _assert_plain(info.value)


def test_text_file_raises_image_error_naming_the_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, not a picture")
    with pytest.raises(ImageError, match="notes.txt is not an image") as info:
        open_image(path)
    _assert_plain(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="not found"):
        open_image(tmp_path / "nope.png")


def test_image_over_max_pixels_is_refused(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 200), "white").save(path)
    with pytest.raises(ImageError, match="300×200") as info:
        open_image(path, max_pixels=10_000)
    _assert_plain(info.value)
    assert open_image(path, max_pixels=60_000).size == (300, 200)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` pixels but that holds almost no data (a 'bomb')."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize("width, height", [(30_000, 30_000), (12_000, 9_000)])
def test_png_claiming_huge_dimensions_is_refused_before_decoding(tmp_path, width, height):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(width, height))
    with pytest.raises(ImageError, match="too large|over the limit") as info:
        open_image(path)
    _assert_plain(info.value)


def test_max_pixels_is_the_limit_not_pillows_own(tmp_path, monkeypatch):
    """An image under ``max_pixels`` opens even if Pillow's decompression-bomb threshold is lower."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)  # Pillow warns above this, errors above 2×
    path = tmp_path / "medium.png"
    Image.new("RGB", (40, 40), (9, 9, 9)).save(path)  # 1,600 px: above Pillow's warning threshold
    assert open_image(path, max_pixels=10_000).size == (40, 40)
    with pytest.raises(ImageError):
        open_image(path, max_pixels=1_000)


# ----------------------------------------------------------------------------------------- sketch strokes
def _circle_drawing(pen: int, box=(106, 106, 406, 406), canvas=512) -> np.ndarray:
    img = Image.new("L", (canvas, canvas), 255)
    ImageDraw.Draw(img).ellipse(box, outline=0, width=pen)
    return np.asarray(img)


def test_canonical_sketch_shape_and_dtype():
    out = imaging.canonical_sketch(_circle_drawing(4), size=64)
    assert out.shape == (64, 64) and out.dtype == np.uint8
    assert out.max() == 255 and out.min() < 64


def test_canonical_sketch_strokes_have_similar_width_whatever_the_pen():
    thin = imaging.canonical_sketch(_circle_drawing(2), size=256)
    thick = imaging.canonical_sketch(_circle_drawing(12), size=256)
    raw_thin, raw_thick = (_circle_drawing(2) < 128).sum(), (_circle_drawing(12) < 128).sum()
    assert raw_thick > 4 * raw_thin  # the inputs really differ
    n_thin, n_thick = (thin < 128).sum(), (thick < 128).sum()
    assert n_thin > 0 and n_thick > 0
    assert abs(n_thin - n_thick) / max(n_thin, n_thick) < 0.35


def test_canonical_sketch_accepts_rgb_drawings():
    gray = _circle_drawing(4)
    rgb = np.repeat(gray[..., None], 3, -1)
    np.testing.assert_array_equal(imaging.canonical_sketch(gray, 64), imaging.canonical_sketch(rgb, 64))


def test_canonical_sketch_fit_centres_a_drawing_in_a_corner():
    drawing = _circle_drawing(4, box=(10, 10, 110, 110))  # top-left corner of a 512 canvas
    out = imaging.canonical_sketch(drawing, size=256, fit=True)
    ys, xs = np.nonzero(out < 128)
    assert abs(ys.mean() - 128) < 10 and abs(xs.mean() - 128) < 10
    # Fitted to its content: the circle now spans most of the frame, with a margin.
    assert ys.min() < 40 and ys.max() > 215
    assert ys.min() > 2 and xs.min() > 2
    unfitted = imaging.canonical_sketch(drawing, size=256, fit=False)
    ys, xs = np.nonzero(unfitted < 128)
    assert ys.mean() < 64 and xs.mean() < 64  # without fit the drawing stays in its corner


@pytest.mark.parametrize("width", [1.0, 3.0, 4.5, 6.0, 7.0, 8.0, 12.0])
def test_draw_strokes_matches_a_distance_transform(width):
    """The shifted-skeleton drawing gives exactly the numbers of clip(width/2 + 0.5 - EDT, 0, 1), edges included."""
    from scipy.ndimage import distance_transform_edt

    skeleton = np.random.default_rng(int(width)).random((96, 80)) > 0.97
    skeleton[0, 5] = skeleton[95, 79] = skeleton[40, 0] = True  # strokes cut by the borders
    want = np.clip(width / 2 + 0.5 - distance_transform_edt(~skeleton), 0.0, 1.0)
    np.testing.assert_array_equal(imaging.draw_strokes(skeleton, width), want)


@pytest.mark.parametrize("size", [64, 256])
def test_outline_fills_shortcut_for_thin_drawings_changes_nothing(size, monkeypatch):
    """The early return (no square deep enough inside the ink) gives what the full computation gives."""
    import scipy.ndimage

    rng = np.random.default_rng(size)
    drawings = []
    for _ in range(12):
        img = Image.new("L", (size, size), 0)
        draw = ImageDraw.Draw(img)
        for _ in range(3):
            x, y = rng.integers(-size // 8, size, 2)
            r = int(rng.integers(1, size // 12 + 2))
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)  # discs, some cut by the borders
            draw.line(tuple(rng.integers(0, size, 4)), fill=255, width=int(rng.integers(1, size // 10 + 2)))
        drawings.append(np.asarray(img) > 0)
    thin = Image.new("L", (size, size), 0)
    ImageDraw.Draw(thin).line((2, 3, size - 5, size // 2), fill=255, width=2)
    drawings.append(np.asarray(thin) > 0)
    real, deep = scipy.ndimage.minimum_filter, []

    def recorded(a, **kw):
        out = real(a, **kw)
        deep.append(bool(out.any()))
        return out

    monkeypatch.setattr(scipy.ndimage, "minimum_filter", recorded)
    fast = [imaging.outline_fills(d) for d in drawings]
    assert not all(deep) and any(deep)  # both paths taken
    monkeypatch.setattr(scipy.ndimage, "minimum_filter", lambda a, **kw: np.ones_like(real(a, **kw)))
    for d, f in zip(drawings, fast):
        np.testing.assert_array_equal(f, imaging.outline_fills(d))
    assert any((f != d).any() for d, f in zip(drawings, fast))  # some drawings did have fills


def test_canonical_sketch_of_empty_canvas_is_white():
    for fit in (True, False):
        out = imaging.canonical_sketch(np.full((100, 80), 255, np.uint8), size=64, fit=fit)
        assert out.shape == (64, 64)
        assert (out == 255).all()


def test_extract_sketch_gives_dark_lines_on_white():
    img = Image.new("RGB", (96, 96), "white")
    ImageDraw.Draw(img).ellipse((20, 20, 76, 76), fill=(220, 40, 40))
    ImageDraw.Draw(img).rectangle((40, 40, 56, 56), fill=(40, 40, 220))
    out = imaging.extract_sketch(np.asarray(img), np.random.default_rng(0))
    assert out.shape == (96, 96) and out.dtype == np.uint8
    assert (out > 200).mean() > 0.8  # mostly paper
    assert (out < 128).sum() > 50  # but some real lines
    # The lines follow the shape outlines: ink near the circle's edge, none in the far corners.
    ink = out < 128
    assert not ink[:10, :10].any() and not ink[-10:, -10:].any()
    assert ink[15:25, 40:56].any()  # the top of the circle


def _rings_badge(side: int) -> np.ndarray:
    """A flat emoji-like picture: a red rounded square holding six white rings, drawn at 256 px, scaled to ``side``."""
    img = Image.new("RGB", (256, 256), "white")
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((12, 12, 244, 244), 40, fill=(230, 40, 60))
    for k in range(6):
        x, y = 40 + 60 * (k % 3), 40 + 60 * (k // 3)
        draw.ellipse((x, y, x + 40, y + 40), outline="white", width=8)
    return np.asarray(img.resize((side, side), Image.Resampling.BOX))


def test_extract_sketch_draws_a_flat_picture_alike_at_any_size():
    # Its edges cover twice the share of the pixels at 128 px as at 256: judged at its own size, the picture passed
    # for a textured photo and kept only its outer contour.
    for side in (128, 256, 512):
        ink = imaging.extract_sketch(_rings_badge(side), np.random.default_rng(0)) < 128
        s = side / 256
        for k in range(6):  # every ring keeps its lines: ink along its outline's top, at any size
            x, y = 40 + 60 * (k % 3), 40 + 60 * (k // 3)
            assert ink[round((y - 4) * s):round((y + 12) * s), round((x + 12) * s):round((x + 28) * s)].any(), (side, k)
        share = ink.mean()
        assert 0.03 < share < 0.15, (side, share)


def test_extract_sketch_of_flat_image_is_blank():
    out = imaging.extract_sketch(np.full((40, 50, 3), 200, np.uint8))
    assert out.shape == (40, 50)
    assert (out == 255).all()


def test_extract_sketch_is_deterministic_for_a_seed():
    img = np.asarray(Image.new("RGB", (64, 64), "white"))
    img = img.copy()
    img[16:48, 16:48] = (0, 150, 0)
    a = imaging.extract_sketch(img, np.random.default_rng(5))
    b = imaging.extract_sketch(img, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------------ full resolution
@pytest.mark.parametrize("h, w", [(37, 91), (91, 37), (64, 64), (1, 1), (300, 200), (5, 400)])
def test_letterbox_round_trip(h, w, rng):
    img = rng.uniform(0, 1, (h, w, 3)).astype(np.float32)
    boxed, lb = imaging.letterbox(img, 32)
    assert boxed.shape == (32, 32, 3)
    assert lb.original == (w, h)
    content = imaging.unletterbox(boxed, lb)
    s = 32 / max(h, w)
    assert content.shape == (max(1, round(h * s)), max(1, round(w * s)), 3)
    assert max(content.shape[:2]) == 32


def test_letterbox_of_a_pil_image_matches_the_array_path(rng):
    arr = rng.integers(0, 256, (30, 70, 3)).astype(np.uint8)
    small, lb = imaging.letterbox(Image.fromarray(arr), 32)
    ref, lb_ref = imaging.letterbox(arr.astype(np.float32), 32)
    assert small.dtype == np.uint8 and small.shape == (32, 32, 3) and lb == lb_ref
    assert np.abs(small.astype(np.float32) - ref).max() <= 1.0
    gray, _ = imaging.letterbox(Image.fromarray(arr).convert("L"), 32)
    assert gray.shape == (32, 32, 1)


def test_gray_is_rounded_luma(rng):
    rgb = rng.integers(0, 256, (40, 50, 3)).astype(np.uint8)
    g = imaging.gray(rgb)
    assert g.dtype == np.uint8 and g.shape == (40, 50)
    assert np.abs(g.astype(int) - imaging.luminance(rgb).round()).max() <= 1
    np.testing.assert_array_equal(imaging.gray(Image.fromarray(rgb)), g)


def test_letterbox_content_is_the_resized_image():
    img = np.zeros((20, 40, 1), np.float32)
    img[:, 20:] = 1.0
    boxed, lb = imaging.letterbox(img, 16)
    content = imaging.unletterbox(boxed, lb)
    assert content.shape == (8, 16, 1)
    assert content[:, :7].max() < 0.1 and content[:, 9:].min() > 0.9


def test_colourfulness():
    gray = np.repeat(np.linspace(0, 255, 64 * 64).reshape(64, 64, 1), 3, -1).astype(np.uint8)
    assert imaging.colourfulness(gray) < 1.0
    colourful = np.zeros((64, 64, 3), np.uint8)
    colourful[:32, :32] = (255, 0, 0)
    colourful[:32, 32:] = (0, 255, 0)
    colourful[32:, :32] = (0, 0, 255)
    colourful[32:, 32:] = (255, 255, 0)
    assert imaging.colourfulness(colourful) > 30
    assert imaging.colourfulness(colourful) > imaging.colourfulness((colourful * 0.3 + 90).astype(np.uint8))


def test_downscale_to():
    img = Image.new("RGB", (400, 100))
    small = imaging.downscale_to(img, 10_000)
    assert small.size[0] * small.size[1] <= 10_000
    assert abs(small.size[0] / small.size[1] - 4) < 0.1
    assert imaging.downscale_to(img, 1_000_000) is img


def test_outline_fills_keeps_lines_and_outlines_filled_shapes():
    """Line art with a filled pupil: the canonical drawing shows the pupil's outline (a ring), not a dot; a drawing
    made with one thick pen keeps every line as it is."""
    from PIL import ImageDraw

    from pix2pix_demo.imaging import canonical_sketch, outline_fills

    art = Image.new("L", (256, 256), 255)
    d = ImageDraw.Draw(art)
    d.ellipse((20, 20, 236, 236), outline=0, width=4)
    d.ellipse((98, 98, 158, 158), fill=0)  # filled, 60 px across
    ink = np.asarray(art) < 128
    out = outline_fills(ink)
    # A ring where the disc was; the line kept.
    assert not out[110:146, 110:146].any() and out[128, 95:103].any() and (out[:60] == ink[:60]).all()
    canon = canonical_sketch(np.asarray(art), 256, fit=False)
    assert canon[110:146, 110:146].min() == 255 and canon[128, 94:104].min() < 128  # a ring, where it was a dot

    pen = Image.new("L", (256, 256), 255)
    ImageDraw.Draw(pen).ellipse((30, 30, 226, 226), outline=0, width=18)
    thick = np.asarray(pen) < 128
    assert (outline_fills(thick) == thick).all()


def test_outline_fills_outlines_a_drawing_that_is_mostly_fill():
    """A designer's badge: a white bar cut out of a black disc (emojione-monotone draws digits and arrows so). The
    disc is most of the ink, so its own width is the typical stroke; a fill still becomes its outline when wider
    than FILL_MAX_WIDTH of the side: the disc's rim and the bar's outline, as in the colour picture's edges."""
    from PIL import ImageDraw

    from pix2pix_demo.imaging import FILL_MAX_WIDTH, canonical_sketch, outline_fills

    art = Image.new("L", (256, 256), 255)
    d = ImageDraw.Draw(art)
    d.ellipse((20, 20, 236, 236), fill=0)
    d.rectangle((112, 70, 144, 186), fill=255)
    ink = np.asarray(art) < 128
    out = outline_fills(ink)
    assert not out[55:75, 70:100].any() and not out[55:75, 156:186].any()  # inside the disc: paper
    assert out[128, 18:24].any() and out[128, 108:115].any() and out[128, 142:149].any()  # rim, the bar's sides
    canon = canonical_sketch(np.asarray(art), 256, fit=False)
    assert canon[128, 108:115].min() < 128 and canon[128, 142:149].min() < 128 and canon[128, 120:136].min() == 255
    assert (outline_fills(ink, max_width=1.0) != out).any()  # the cap is what did it
    assert 0.05 < FILL_MAX_WIDTH < 0.2


def test_colours_to_lab_is_rgb_to_lab_exactly():
    rng = np.random.default_rng(0)
    pixels = np.concatenate([rng.integers(0, 256, (5000, 3)), rng.integers(100, 104, (5000, 3)),
                             [[0, 0, 0], [255, 255, 255], [255, 0, 0]]]).astype(np.uint8)
    expected = imaging.rgb_to_lab(pixels[:, None])[:, 0]
    got = imaging.colours_to_lab(pixels[:, None])  # any shape that ends in 3
    assert got.dtype == np.float32 and got.shape == (len(pixels), 3)
    np.testing.assert_array_equal(got, expected)
    assert imaging.colours_to_lab(np.zeros((0, 3), np.uint8)).shape == (0, 3)
