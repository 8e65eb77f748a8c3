"""Every Pillow mode is read as RGB in [0, 1] with the right scale, or refused in one line (issue 50)."""

from __future__ import annotations

import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from irad.data.images import DEFAULT_MAX_PIXELS, load_image, open_rgb, rgb_array
from irad.errors import IradError

H, W = 16, 24


def _png(path, width: int, height: int, bits: int, colour: int, rows: bytes = b"") -> None:
    """A PNG written by hand (Pillow cannot write 48-bit colour, nor a header promising more pixels than it holds)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, bits, colour, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def _loaded(path) -> tuple[np.ndarray, np.ndarray]:
    """``load_image`` as ``(H, W, 3)`` float and ``open_rgb`` as ``(H, W, 3)`` uint8."""
    return load_image(path)[0].permute(1, 2, 0).numpy(), np.asarray(open_rgb(path))


def _rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[..., None], 3, axis=2)


@pytest.fixture
def gradient16() -> np.ndarray:
    """``(H, W)`` uint16 covering 0..65535, mean about 0.5 of full scale."""
    return np.linspace(0, 65535, H * W).round().astype(np.uint16).reshape(H, W)


def test_16_bit_grayscale_png_keeps_its_scale_and_precision(tmp_path, gradient16):
    Image.fromarray(gradient16).save(tmp_path / "g.png")
    assert Image.open(tmp_path / "g.png").mode == "I;16"
    full, eight = _loaded(tmp_path / "g.png")
    assert abs(full.mean() - 0.5) < 0.01  # was about 1 (white): Pillow's convert("RGB") clips at 255
    np.testing.assert_allclose(full, _rgb(gradient16 / 65535), atol=1e-6)
    assert np.abs(eight.astype(int) - _rgb(np.round(gradient16 / 257))).max() <= 1


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I;16L", "I;16N"])
def test_every_16_bit_layout_divides_by_65535(gradient16, mode):
    dtype = {"I;16B": ">u2", "I;16N": "=u2"}.get(mode, "<u2")
    im = Image.frombytes(mode, (W, H), gradient16.astype(dtype).tobytes())
    np.testing.assert_allclose(rgb_array(im), _rgb(gradient16 / 65535), atol=1e-6)


def test_32_bit_integer_tiff_is_read_on_the_16_bit_scale_and_refused_outside_it(tmp_path, gradient16):
    Image.fromarray(gradient16.astype(np.int32)).save(tmp_path / "i.tif")
    assert Image.open(tmp_path / "i.tif").mode == "I"
    full, eight = _loaded(tmp_path / "i.tif")
    np.testing.assert_allclose(full, _rgb(gradient16 / 65535), atol=1e-6)
    assert np.abs(eight.astype(int) - _rgb(np.round(gradient16 / 257))).max() <= 1
    Image.fromarray(np.array([[-5, 70000]], np.int32)).save(tmp_path / "wide.tif")
    with pytest.raises(IradError, match=r"wide.tif is a mode-I image with values in \[-5, 70000\]; only \[0, 65535\]"):
        load_image(tmp_path / "wide.tif")


def test_float_tiff_in_0_1_is_taken_as_is_and_other_ranges_are_refused(tmp_path):
    values = np.linspace(0, 1, H * W, dtype=np.float32).reshape(H, W)
    Image.fromarray(values).save(tmp_path / "f.tif")
    full, eight = _loaded(tmp_path / "f.tif")
    np.testing.assert_allclose(full, _rgb(values), atol=1e-7)
    assert np.abs(eight.astype(int) - _rgb(np.round(values * 255))).max() <= 1
    Image.fromarray(values * 2.5 - 0.5).save(tmp_path / "big.tif")
    with pytest.raises(IradError, match=r"values in \[-0.5, 2\]; only \[0, 1\]") as e:
        open_rgb(tmp_path / "big.tif")
    assert "\n" not in str(e.value)


def test_nan_in_a_float_image_is_refused():
    with pytest.raises(IradError, match="nan"):
        rgb_array(Image.fromarray(np.array([[0.5, np.nan]], np.float32)))


def test_8_bit_gray_bilevel_and_gray_alpha_pngs(tmp_path):
    gray = np.arange(H * W, dtype=np.uint8).reshape(H, W)
    Image.fromarray(gray).save(tmp_path / "l.png")
    Image.fromarray(gray > 100).save(tmp_path / "1.png")
    Image.fromarray(np.dstack([gray, 255 - gray])).save(tmp_path / "la.png")  # alpha ignored
    assert [Image.open(tmp_path / f).mode for f in ("l.png", "1.png", "la.png")] == ["L", "1", "LA"]
    for name, expected in [("l.png", gray), ("1.png", (gray > 100) * 255), ("la.png", gray)]:
        full, eight = _loaded(tmp_path / name)
        assert np.array_equal(eight, _rgb(expected))
        np.testing.assert_allclose(full, _rgb(expected / 255), atol=1e-6)


def test_palette_with_and_without_transparency_gives_the_palette_colours(tmp_path):
    palette = np.array([[255, 0, 0], [0, 0, 255], [10, 200, 30]], np.uint8)
    index = (np.arange(H * W) % 3).astype(np.uint8).reshape(H, W)
    im = Image.fromarray(index, "P")
    im.putpalette(palette.ravel().tolist())
    im.save(tmp_path / "p.png")
    im.save(tmp_path / "pt.png", transparency=b"\x00\x80\xff")
    for name in ("p.png", "pt.png"):
        assert Image.open(tmp_path / name).mode == "P"
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no Pillow warning about palette transparency
            full, eight = _loaded(tmp_path / name)
        assert np.array_equal(eight, palette[index])
        np.testing.assert_allclose(full, palette[index] / 255, atol=1e-6)


def test_rgba_keeps_the_colour_under_transparent_pixels(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    alpha = np.zeros((H, W, 1), np.uint8)
    Image.fromarray(np.concatenate([rgb, alpha], axis=2)).save(tmp_path / "a.png")
    assert np.array_equal(_loaded(tmp_path / "a.png")[1], rgb)


@pytest.mark.parametrize("mode", ["CMYK", "YCbCr", "LAB"])
def test_other_colour_spaces_match_pillows_conversion(tmp_path, mode):
    values = np.random.default_rng(1).integers(0, 256, (H, W, len(Image.new(mode, (1, 1)).getbands())), dtype=np.uint8)
    Image.frombytes(mode, (W, H), values.tobytes()).save(tmp_path / "c.tif")
    with Image.open(tmp_path / "c.tif") as im:
        assert im.mode == mode
        reference = np.asarray(im.convert("RGB"))
    full, eight = _loaded(tmp_path / "c.tif")
    assert np.array_equal(eight, reference)
    np.testing.assert_allclose(full, reference / 255, atol=1e-6)


@pytest.mark.parametrize("mode", ["PA", "RGBX", "HSV"])
def test_in_memory_modes_match_pillows_conversion(mode):
    values = np.random.default_rng(2).integers(0, 256, H * W * len(mode), dtype=np.uint8)
    im = Image.frombytes(mode, (W, H), values.tobytes())
    assert np.array_equal(rgb_array(im), np.asarray(im.convert("RGB")))


def test_48_bit_png_arrives_with_8_bit_precision_from_pillow(tmp_path, gradient16):
    rgb = np.dstack([gradient16, 65535 - gradient16, gradient16 // 2])
    _png(tmp_path / "c48.png", W, H, 16, 2, b"".join(b"\0" + row.astype(">u2").tobytes() for row in rgb))
    full, eight = _loaded(tmp_path / "c48.png")
    assert np.array_equal(eight, (rgb >> 8).astype(np.uint8))  # Pillow keeps the high byte
    assert np.abs(full - rgb / 65535).max() < 1 / 255


@pytest.mark.parametrize("suffix", ["gif", "png", "tif"])
def test_animated_and_multi_page_files_use_the_first_frame_with_a_warning(tmp_path, suffix):
    frames = [Image.new("RGB", (W, H), (255, 0, 0)), Image.new("RGB", (W, H), (0, 0, 255))]
    path = tmp_path / f"anim.{suffix}"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with pytest.warns(UserWarning, match=rf"anim.{suffix} has 2 frames; using the first"):
        full = load_image(path)
    assert full[0, :, 0, 0].tolist() == [1.0, 0.0, 0.0]
    with pytest.warns(UserWarning, match="has 2 frames"):
        assert open_rgb(path).getpixel((0, 0)) == (255, 0, 0)


def test_over_the_pixel_limit_is_refused_from_the_header_alone(tmp_path):
    _png(tmp_path / "bomb.png", 30000, 30000, 8, 0)  # a header and no pixel data: decoding it would fail
    with pytest.raises(IradError) as e:
        load_image(tmp_path / "bomb.png")
    assert str(e.value) == (f"{tmp_path / 'bomb.png'} is 30000x30000 (900 Mpixel), over the limit of 200 Mpixel; "
                            "raise it with --max-pixels N if you trust the file")
    Image.new("L", (100, 100)).save(tmp_path / "small.png")
    for read in (load_image, open_rgb):
        with pytest.raises(IradError, match="100x100 .* over the limit .* --max-pixels N"):
            read(tmp_path / "small.png", max_pixels=9999)
    assert open_rgb(tmp_path / "small.png", max_pixels=10000).size == (100, 100)
    assert load_image(tmp_path / "small.png", max_pixels=None).shape == (1, 3, 100, 100)
    assert DEFAULT_MAX_PIXELS == 200_000_000


def test_pillows_own_limit_does_not_fire_and_is_left_as_it_was(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    Image.new("L", (100, 100)).save(tmp_path / "a.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning would start at 1000 pixels
        assert load_image(tmp_path / "a.png").shape == (1, 3, 100, 100)
    assert Image.MAX_IMAGE_PIXELS == 1000


def test_directories_missing_corrupt_and_truncated_files_are_one_line(tmp_path):
    with pytest.raises(IradError, match=r"is a directory; give one image file$"):
        load_image(tmp_path)
    with pytest.raises(IradError, match="^image not found: "):
        open_rgb(tmp_path / "missing.png")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 7).save(tmp_path / "full.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "full.png").read_bytes()[:60])
    (tmp_path / "text.png").write_text("hello")
    for name in ("cut.png", "text.png"):
        with pytest.raises(IradError, match=f"cannot read .*{name} as an image") as e:
            load_image(tmp_path / name)
        assert "\n" not in str(e.value)
