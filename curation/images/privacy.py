"""What the published images must not carry: EXIF GPS positions and the fields that name the camera's owner.

Only images that carry them are rewritten, and only their EXIF: a JPEG's EXIF segment is replaced in place
(the compressed pixels are copied byte for byte); other formats are saved again by Pillow (PNG losslessly).
Every other image is published byte for byte."""

from __future__ import annotations

import io
import struct

from curation.images.probe import EXIF_IFD, GPS_IFD, OWNER_EXIF_TAGS, OWNER_TAGS

JPEG_START, EXIF_SEGMENT, EXIF_HEADER = b"\xff\xd8", 0xE1, b"Exif\x00\x00"
START_OF_SCAN = 0xDA  # the compressed pixels follow: no more segments to read


def strip_private_exif(data: bytes) -> bytes:
    """The image without its GPS block and owner fields (the other EXIF fields, orientation included, stay)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        exif.get_ifd(EXIF_IFD)  # read before the edits: tobytes() writes the sub-IFDs it has read
        for tag in (GPS_IFD, *OWNER_TAGS):
            exif.pop(tag, None)
        camera = exif.get_ifd(EXIF_IFD)
        for tag in OWNER_EXIF_TAGS:
            camera.pop(tag, None)
        clean = exif.tobytes()
        if image.format == "JPEG":
            return _replace_jpeg_exif(data, clean)
        out = io.BytesIO()
        options = {"icc_profile": image.info["icc_profile"]} if image.info.get("icc_profile") else {}
        image.save(out, format=image.format, exif=clean, **options)
    return out.getvalue()


def _replace_jpeg_exif(data: bytes, exif: bytes) -> bytes:
    """The JPEG with its EXIF segment (APP1 "Exif") holding `exif` instead: every other byte as it was."""
    position = len(JPEG_START)
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == START_OF_SCAN:
            break
        length = struct.unpack(">H", data[position + 2:position + 4])[0]
        end = position + 2 + length
        if marker == EXIF_SEGMENT and data[position + 4:position + 4 + len(EXIF_HEADER)] == EXIF_HEADER:
            segment = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
            return data[:position] + segment + data[end:]
        position = end
    return data  # Pillow found EXIF elsewhere than in an APP1 segment: nothing here to replace
