"""An image shrunk to a data: URI, for places that embed images inline: the report's grid, the review's records."""

from __future__ import annotations

import base64
import io

from curation.images.probe import read_image_file


def thumbnail(data: bytes | None, path: str | None, size: int, quality: int = 80) -> str | None:
    """A JPEG data: URI of the image shrunk to `size` pixels on its longer side (never enlarged), or None where
    it cannot be shown (no image, a file gone, bytes Pillow cannot decode)."""
    from PIL import Image

    if data is None and path:
        data = read_image_file(path)
    if not isinstance(data, bytes) or not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (size, size))
            image.thumbnail((size, size))
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=quality)
    except Exception:  # noqa: BLE001 (a broken image is shown as missing, never a crash)
        return None
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()
