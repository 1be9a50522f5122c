"""Images read as a viewer displays them, at a bounded cost.

Every case builds a real file with Pillow (or by hand, where Pillow cannot write it) and decodes
it through :func:`agent.images.decode_image`; the expected pixels are known from construction.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from _data import _chunk
from PIL import Image, ImageOps

from agent.errors import BadInputError
from agent.images import ImageLimits, decode_image, fit_size


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def marked(width: int = 60, height: int = 40) -> Image.Image:
    """A grey image with a red block in its stored top-left corner and a blue one top-right."""
    arr = np.full((height, width, 3), 128, np.uint8)
    arr[:10, :10] = (255, 0, 0)
    arr[:10, -10:] = (0, 0, 255)
    return Image.fromarray(arr)


def with_orientation(image: Image.Image, orientation: int, fmt: str = "JPEG") -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))


# orientation ----------------------------------------------------------------------------------


def test_phone_photo_with_orientation_6_is_upright() -> None:
    """Orientation 6: the camera stored it turned; viewers rotate it 90 degrees clockwise."""
    loaded = decode_image(with_orientation(marked(60, 40), 6))
    assert loaded.rgb.shape == (60, 40, 3)
    assert (loaded.ref.width, loaded.ref.height) == (40, 60)
    assert loaded.rgb[2:8, -8:-2].mean(axis=(0, 1)) == pytest.approx((255, 0, 0), abs=12)  # red now top-right
    assert loaded.rgb[-8:-2, -8:-2].mean(axis=(0, 1)) == pytest.approx((0, 0, 255), abs=12)  # blue bottom-right


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_every_orientation_matches_pillows_exif_transpose(orientation: int, fmt: str) -> None:
    data = with_orientation(marked(), orientation, fmt)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    assert np.array_equal(decode_image(data).rgb, expected)


# sample formats -------------------------------------------------------------------------------


def test_16_bit_grayscale_png_keeps_its_tones() -> None:
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (8, 1))
    data = encode(Image.fromarray(ramp), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    rgb = decode_image(data).rgb
    assert np.array_equal(rgb[..., 0], (ramp >> 8).astype(np.uint8))
    assert (rgb == 255).mean() < 0.01  # was 99.9 % white


def _png16_rgb(arr: np.ndarray) -> bytes:
    """Write a 16-bit RGB PNG by hand (Pillow cannot)."""
    height, width, _ = arr.shape
    rows = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b"")


def test_16_bit_rgb_png() -> None:
    arr = np.zeros((6, 8, 3), np.uint16)
    arr[..., 0], arr[..., 1], arr[..., 2] = 65535, 32768, 0
    assert decode_image(_png16_rgb(arr)).rgb[0, 0].tolist() == [255, 128, 0]


def test_32_bit_integer_tiff() -> None:
    sixteen = np.tile(np.linspace(0, 65535, 64).astype(np.int32), (4, 1))
    assert np.array_equal(decode_image(encode(Image.fromarray(sixteen), "TIFF")).rgb[..., 0], (sixteen >> 8).astype(np.uint8))
    wide = np.tile(np.linspace(-1000, 2_000_000, 64).astype(np.int32), (4, 1))
    out = decode_image(encode(Image.fromarray(wide), "TIFF")).rgb[..., 0]
    assert (out[0, 0], out[0, -1]) == (0, 255) and np.all(np.diff(out[0].astype(int)) >= 0)


def test_float_tiff() -> None:
    unit = np.tile(np.linspace(0.0, 1.0, 64).astype(np.float32), (4, 1))
    out = decode_image(encode(Image.fromarray(unit), "TIFF")).rgb[..., 0]
    assert np.array_equal(out, np.round(unit * 255).astype(np.uint8))
    ranged = np.tile(np.linspace(-2.0, 6.0, 64).astype(np.float32), (4, 1))
    ranged[0, 5] = np.nan
    out = decode_image(encode(Image.fromarray(ranged), "TIFF")).rgb[..., 0]
    assert (out[1, 0], out[1, -1], out[0, 5]) == (0, 255, 0)


# transparency and colour models ---------------------------------------------------------------


def test_transparent_pixels_show_white_not_their_hidden_colour() -> None:
    rgba = np.zeros((8, 8, 4), np.uint8)  # transparent black
    rgba[:4] = (200, 10, 10, 255)  # opaque red top half
    rgba[4:, :4] = (0, 0, 0, 128)  # half-transparent black
    out = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG")).rgb
    assert out[0, 0].tolist() == [200, 10, 10]
    assert out[7, 7].tolist() == [255, 255, 255]
    assert out[7, 0].tolist() == pytest.approx([127, 127, 127], abs=1)


def test_la_png() -> None:
    la = np.zeros((8, 8, 2), np.uint8)
    la[:, :4] = (60, 255)
    la[:, 4:] = (60, 0)
    out = decode_image(encode(Image.fromarray(la, "LA"), "PNG")).rgb
    assert (out[0, 0].tolist(), out[0, 7].tolist()) == ([60, 60, 60], [255, 255, 255])


def test_pa_image() -> None:
    pa = Image.new("PA", (8, 8))
    pa.putpalette([0, 0, 200] + [0] * 765)
    pa.putdata([(0, 255)] * 32 + [(0, 0)] * 32)
    out = decode_image(encode(pa, "WEBP", lossless=True)).rgb
    assert (out[0, 0].tolist(), out[7, 7].tolist()) == ([0, 0, 200], [255, 255, 255])


def test_palette_png_with_a_transparent_index() -> None:
    pal = Image.new("P", (8, 8))
    pal.putpalette([0, 0, 0, 0, 160, 0] + [0] * 762)
    pal.putdata([1] * 32 + [0] * 32)
    data = encode(pal, "PNG", transparency=0)
    out = decode_image(data).rgb
    assert (out[0, 0].tolist(), out[7, 7].tolist()) == ([0, 160, 0], [255, 255, 255])  # not black


def test_cmyk_jpeg() -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # no cyan, full magenta and yellow: red
    out = decode_image(encode(cmyk, "JPEG", quality=95)).rgb
    assert out[8, 8].tolist() == pytest.approx([255, 0, 0], abs=6)


def test_animated_gif_and_png_show_their_first_frame() -> None:
    frames = [Image.new("RGB", (10, 10), c) for c in ((250, 0, 0), (0, 0, 250))]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    apng = encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100)
    for data in (gif, apng):
        assert Image.open(io.BytesIO(data)).n_frames == 2
        assert decode_image(data).rgb[5, 5].tolist() == pytest.approx([250, 0, 0], abs=3)


# cost -------------------------------------------------------------------------------------------


def test_an_image_over_the_working_budget_is_reduced_while_decoding() -> None:
    limits = ImageLimits(working_pixels=100_000)
    big = marked(1200, 800)
    for fmt in ("JPEG", "PNG"):
        loaded = decode_image(encode(big, fmt), limits=limits)
        width, height = fit_size(1200, 800, 100_000)
        assert (loaded.ref.width, loaded.ref.height, loaded.original_size) == (width, height, (1200, 800))
        assert width * height <= 100_000 and abs(width / height - 1.5) < 0.01
        assert loaded.rgb[2, 2].tolist() == pytest.approx([255, 0, 0], abs=20)  # still the same picture
    rotated = decode_image(with_orientation(big, 6), limits=limits)
    assert (rotated.ref.height, rotated.ref.width) == fit_size(1200, 800, 100_000)
    assert rotated.original_size == (800, 1200)


def test_a_stored_image_decodes_at_its_stored_size_whatever_the_budget() -> None:
    data = encode(marked(1200, 800), "JPEG")
    first = decode_image(data, limits=ImageLimits(working_pixels=100_000))
    again = decode_image(data, size=(first.ref.width, first.ref.height))  # default budget now
    assert again.rgb.shape == first.rgb.shape
    small = decode_image(encode(marked(60, 40), "PNG"))
    assert small.original_size is None and small.rgb.shape == (40, 60, 3)


def test_too_many_pixels_is_refused_before_decoding() -> None:
    header = struct.pack(">IIBBBBB", 8000, 8000, 1, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 10)
    bomb = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")
    with pytest.raises(BadInputError, match=r"^image is 8000x8000 pixels; the limit is 50 megapixels\.$"):
        decode_image(bomb)  # refused from the header: the truncated pixel data is never read
    with pytest.raises(BadInputError, match="the limit is 0.01 megapixels"):
        decode_image(encode(marked(200, 100), "PNG"), limits=ImageLimits(max_pixels=10_000))
