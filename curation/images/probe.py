"""One pass over an image's bytes: its content hash, size, format, perceptual hash and privacy-sensitive
EXIF fields, or the reason it cannot be used. Never raises on bad bytes: a bad image is a row to
quarantine with its reason, not a crash."""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from dataclasses import asdict, dataclass

import polars as pl

# Formats VLM processors and the Hub's image viewer read; anything else Pillow opens is "unsupported".
SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"})
# Pillow's own default limit (Image.MAX_IMAGE_PIXELS): an image claiming more pixels is refused before
# it is decoded, so a 50 KB file cannot ask for gigabytes of memory.
MAX_PIXELS = 89_478_485
MAX_IMAGE_BYTES = 50 * 1024 * 1024

GPS_IFD = 0x8825
EXIF_IFD = 0x8769
# Fields that name or identify the camera's owner: Artist (IFD0); CameraOwnerName, BodySerialNumber and
# LensSerialNumber (Exif IFD).
OWNER_TAGS = {0x013B}
OWNER_EXIF_TAGS = {0xA430, 0xA431, 0xA435}
# XMP properties (by their usual prefixes) and IPTC IIM datasets (record 2) that place the photo or name its owner:
# by-line and its title, city, sub-location, province, country code and name, copyright notice, contact.
PRIVATE_XMP = re.compile(rb"\b(?:exif:GPS\w+|photoshop:(?:City|State|Country)|Iptc4xmpCore:(?:Location|CountryCode|"
                         rb"CreatorContactInfo)|Iptc4xmpExt:Location\w*|dc:creator|xmpRights:Owner|aux:(?:SerialNumber|"
                         rb"LensSerialNumber|OwnerName)|exifEX:(?:CameraOwnerName|BodySerialNumber|LensSerialNumber)|"
                         rb"tiff:Artist|photoshop:Credit)\b")
PRIVATE_IPTC = {80, 85, 90, 92, 95, 100, 101, 116, 118}
TIFF_XMP, TIFF_IPTC, TIFF_PHOTOSHOP = 700, 33723, 34377  # where a TIFF keeps XMP and IPTC

FACT_COLUMNS: dict[str, pl.DataType] = {
    "image_sha256": pl.String(),
    "image_width": pl.Int32(),
    "image_height": pl.Int32(),
    "image_format": pl.String(),
    "image_error": pl.String(),
    "image_phash": pl.UInt64(),
    "image_gps": pl.Boolean(),
    "image_owner": pl.Boolean(),
    "image_xmp_iptc": pl.Boolean(),
}


@dataclass
class ImageFacts:
    image_sha256: str | None = None
    image_width: int | None = None
    image_height: int | None = None
    image_format: str | None = None
    image_error: str | None = None
    image_phash: int | None = None
    image_gps: bool = False
    image_owner: bool = False
    image_xmp_iptc: bool = False  # XMP or IPTC fields that locate the photo or name its owner


def probe(data: bytes | None, max_pixels: int = MAX_PIXELS) -> ImageFacts:
    """What the bytes are. `image_error` names the problem when they cannot be used (then the hash and
    sizes are whatever could be read before it)."""
    if data is None:
        return ImageFacts(image_error="no image")
    facts = ImageFacts(image_sha256=hashlib.sha256(data).hexdigest())
    if not data:
        facts.image_error = "empty file (0 bytes)"
        return facts
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        facts.image_error = "not an image (or a format Pillow cannot read)"
        return facts
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        facts.image_error = f"decompression bomb: more pixels than Pillow's limit of {Image.MAX_IMAGE_PIXELS:,}"
        return facts
    except Exception as error:  # noqa: BLE001 (a corrupt header raises SyntaxError, ValueError, struct.error...)
        facts.image_error = f"not decodable: {type(error).__name__}: {error}"
        return facts
    with image:
        facts.image_format, (facts.image_width, facts.image_height) = image.format, image.size
        if image.format not in SUPPORTED_FORMATS:
            facts.image_error = f"unsupported format {image.format} (use {', '.join(sorted(SUPPORTED_FORMATS))})"
        elif image.width * image.height > max_pixels:  # refused before decoding a single pixel
            facts.image_error = (f"decompression bomb: {image.width}x{image.height} is more pixels than the limit "
                                 f"of {max_pixels:,}")
        else:
            _decode(image, facts)
    return facts


def _decode(image, facts: ImageFacts) -> None:
    """Every pixel (a truncated file fails here), the perceptual hash and the EXIF privacy flags."""
    import imagehash

    try:
        image.draft("RGB", (256, 256))  # a JPEG decodes at 1/2, 1/4 or 1/8 scale: 4x faster, every byte still read
        image.load()
        facts.image_phash = int(str(imagehash.phash(image)), 16)
        exif = image.getexif()
        facts.image_gps = bool(exif.get_ifd(GPS_IFD))
        facts.image_owner = bool(OWNER_TAGS & set(exif)) or bool(OWNER_EXIF_TAGS & set(exif.get_ifd(EXIF_IFD)))
        facts.image_xmp_iptc = private_xmp_iptc(image)
    except Exception as error:  # noqa: BLE001 (truncated data raises OSError; broken EXIF or pixel data other kinds)
        facts.image_error = f"not decodable: {error}"
        facts.image_phash = None


def private_xmp_iptc(image) -> bool:
    """Whether the image's XMP packet or IPTC record carries a location or an owner (PRIVATE_XMP, PRIVATE_IPTC)."""
    from PIL import IptcImagePlugin

    tags = getattr(image, "tag_v2", {})
    xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or tags.get(TIFF_XMP) or b""
    iptc = IptcImagePlugin.getiptcinfo(image) or {}
    return bool(PRIVATE_XMP.search(xmp.encode() if isinstance(xmp, str) else bytes(xmp))) or any(
        record == 2 and dataset in PRIVATE_IPTC for record, dataset in iptc)


def read_image_file(path: str) -> bytes | str:
    """The file's bytes, or why it cannot be read (a missing file, a folder, a FIFO, too large)."""
    if not os.path.lexists(path):
        return "missing file"
    if not os.path.isfile(path):  # never opened: reading a FIFO or a device could wait or run forever
        return "not a regular file"
    size = os.path.getsize(path)
    if size > MAX_IMAGE_BYTES:
        return f"{size:,} bytes, more than the limit of {MAX_IMAGE_BYTES:,}"
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        return f"cannot read it: {error.strerror or error}"


def probe_all(images: list[bytes | str | None], max_pixels: int = MAX_PIXELS) -> pl.DataFrame:
    """FACT_COLUMNS for each image: bytes, or a file path (read here, one at a time)."""
    rows = []
    for image in images:
        data = read_image_file(image) if isinstance(image, str) else image
        rows.append(asdict(ImageFacts(image_error=data)) if isinstance(data, str) else asdict(probe(data, max_pixels)))
    return pl.DataFrame(rows, schema=FACT_COLUMNS) if rows else pl.DataFrame(schema=FACT_COLUMNS)
