"""Images sent to the page (a file dropped, a digit drawn) checked before they are decoded.

The limits hold before any pixel is decoded: the byte size first, then the size in the image's
header (Pillow's ``Image.open`` reads only the header), so a decompression bomb (a small PNG of
huge dimensions) is refused without ever being expanded. What passes is converted by
:func:`cnnlab.analysis.images.read_image`, the same conversion ``cnnlab predict`` does, with the
same words for what was done.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from cnnlab.analysis.images import ConvertedImage, read_image
from cnnlab.errors import CnnlabError, DataError
from cnnlab.runs.rundir import safe_run_name

MAX_UPLOAD_BYTES = 10 * 2**20
MAX_PIXELS = 40_000_000


class UploadRefused(CnnlabError):
    """An upload the server will not decode; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def check_upload(data: bytes) -> tuple[int, int]:
    """The (width, height) of an acceptable image file's header; UploadRefused otherwise."""
    if not data:
        raise UploadRefused("the file is empty (0 bytes)")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(
            f"the file is {len(data) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB", 413
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except UnidentifiedImageError:
        raise UploadRefused(
            "not an image file that can be read (PNG, JPEG, BMP, GIF, WebP and TIFF are supported)", 415
        ) from None
    except Image.DecompressionBombError:
        raise UploadRefused(f"the image has more than {MAX_PIXELS / 1e6:.0f} megapixels", 413) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise UploadRefused(f"the image header is damaged ({exc})") from None
    if width * height > MAX_PIXELS:
        raise UploadRefused(
            f"the image is {width}x{height} ({width * height / 1e6:.0f} megapixels); "
            f"the limit is {MAX_PIXELS / 1e6:.0f} megapixels",
            413,
        )
    return width, height


def convert_upload(
    data: bytes, filename: str, input_shape: Sequence[int], *, invert: bool = False
) -> ConvertedImage:
    """Check ``data`` and convert it to the model's input, as ``cnnlab predict`` converts a file."""
    check_upload(data)
    name = safe_run_name(Path(filename or "upload").name)
    with tempfile.TemporaryDirectory(prefix="cnnlab-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            image = read_image(path, input_shape, invert=invert)
        except DataError as exc:
            raise UploadRefused(str(exc)) from None
    return image
