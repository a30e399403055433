"""What the published images must not carry: EXIF GPS positions and the fields that name the camera's owner, and
XMP or IPTC blocks that locate the photo or name its owner.

Only images that carry any of them are rewritten. A JPEG's segments are edited in place: the EXIF segment holds the
EXIF without the GPS block and owner fields, the XMP and IPTC (Photoshop) segments are dropped whole, and the
compressed pixels are copied byte for byte. Other formats are saved again by Pillow without XMP or IPTC, losslessly
(PNG, TIFF, GIF and BMP are; WebP is saved lossless). Every other image is published byte for byte."""

from __future__ import annotations

import io
import struct

from curation.images.probe import EXIF_IFD, GPS_IFD, OWNER_EXIF_TAGS, OWNER_TAGS, TIFF_IPTC, TIFF_PHOTOSHOP, TIFF_XMP

JPEG_START, APP1, APP13 = b"\xff\xd8", 0xE1, 0xED
EXIF_HEADER = b"Exif\x00\x00"
XMP_HEADERS = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")
PHOTOSHOP_HEADER = b"Photoshop 3.0\x00"  # APP13: the IPTC record lives in its image resources
START_OF_SCAN = 0xDA  # the compressed pixels follow: no more segments to read


def strip_private_metadata(data: bytes) -> bytes:
    """The image without its GPS block, owner fields, XMP and IPTC (the other EXIF fields, orientation included,
    stay)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        exif.get_ifd(EXIF_IFD)  # read before the edits: tobytes() writes the sub-IFDs it has read
        for tag in (GPS_IFD, *OWNER_TAGS, TIFF_XMP, TIFF_IPTC, TIFF_PHOTOSHOP):  # a TIFF's EXIF is its own tags
            exif.pop(tag, None)
        camera = exif.get_ifd(EXIF_IFD)
        for tag in OWNER_EXIF_TAGS:
            camera.pop(tag, None)
        clean = exif.tobytes()
        if image.format == "JPEG":
            return _clean_jpeg(data, clean)
        for tag in (TIFF_XMP, TIFF_IPTC, TIFF_PHOTOSHOP):  # and a TIFF saved again also writes the tags it was read with
            getattr(image, "tag_v2", {}).pop(tag, None)
        out = io.BytesIO()
        options = {"icc_profile": image.info["icc_profile"]} if image.info.get("icc_profile") else {}
        if image.format == "WEBP":
            options["lossless"] = True
        image.save(out, format=image.format, exif=clean, **options)
    return out.getvalue()


def _clean_jpeg(data: bytes, exif: bytes) -> bytes:
    """The JPEG with its EXIF segment (APP1 "Exif") holding `exif` and no XMP or IPTC segment: every other byte as
    it was."""
    kept, position = [data[:len(JPEG_START)]], len(JPEG_START)
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == START_OF_SCAN:
            break
        end = position + 2 + struct.unpack(">H", data[position + 2:position + 4])[0]
        payload = data[position + 4:end]
        if marker == APP1 and payload.startswith(EXIF_HEADER):
            kept.append(b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif)
        elif not ((marker == APP1 and payload.startswith(XMP_HEADERS)) or (marker == APP13 and payload.startswith(PHOTOSHOP_HEADER))):
            kept.append(data[position:end])
        position = end
    return b"".join(kept) + data[position:]
