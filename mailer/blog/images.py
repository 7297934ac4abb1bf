"""Blog images: accepted only when Pillow decodes them, stored under random names.

Nothing else in the app opens uploaded image files; the admin form hands the
upload here and the blog service stores what comes back.
"""
from __future__ import annotations

import io
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask_babel import lazy_gettext as _l
from PIL import Image

# Decoded format → the extension the stored file gets (and so its Content-Type).
EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp"}


class ImageRejected(Exception):
    """An upload that is not an image we keep; ``message`` is for the user."""

    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    extension: str


def check_image(stream: BinaryIO, max_bytes: int) -> CheckedImage:
    """Read the upload and make sure it is a real JPEG, PNG, GIF or WebP picture.

    The file's name and declared type are ignored: only what Pillow decodes counts.
    """
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageRejected(_l("The image is larger than %(size)s MB. Upload a smaller one.",
                               size=max_bytes // (1024 * 1024)))
    not_an_image = ImageRejected(
        _l("This file is not a picture we can show. Upload a JPEG, PNG, GIF or WebP image.")
    )
    try:
        with warnings.catch_warnings():
            # A small file that unpacks into a huge picture is refused, not just warned about.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format = image.format
                image.verify()
            # verify() leaves the image unusable and misses some damage; decode it fully once.
            with Image.open(io.BytesIO(data)) as image:
                image.load()
    except Exception:  # Pillow raises many kinds (OSError, SyntaxError, ValueError, ...)
        raise not_an_image from None
    if image_format not in EXTENSIONS:
        raise not_an_image
    return CheckedImage(data=data, extension=EXTENSIONS[image_format])


def save_image(image: CheckedImage, folder: str) -> str:
    """Write the image under a new random name in ``folder``; returns the name."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    filename = secrets.token_hex(16) + image.extension
    with open(os.path.join(folder, filename), "xb") as file:
        file.write(image.data)
    return filename


def delete_image(filename: str | None, folder: str) -> None:
    """Remove a stored image; a missing file (or a name that is not one of ours) is ignored."""
    if not filename or os.path.basename(filename) != filename or filename.startswith("."):
        return
    try:
        os.remove(os.path.join(folder, filename))
    except FileNotFoundError:
        pass
