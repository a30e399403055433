"""The image demo: flags and everyday objects of Iberia and Latin America drawn with Pillow, each with a prompt
and two captions (the chosen one gives the cultural context, the rejected one is generic), and planted
defects the run must catch: a truncated file, a file that is not an image, an exact and a near duplicate,
a tiny image, a banner, a photo with GPS and owner EXIF fields, one with XMP and IPTC place and author, and a
caption in the wrong language.

Drawn into the cache once per version (deterministic: the same bytes on every machine with the same Pillow),
so that `curation run --demo images` needs no network and ships no binary files."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import tempfile
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from curation.config import RunConfig, load_config

VERSION = 3
PROMPT_ES = "Describe esta imagen y explica su contexto cultural en dos o tres frases."
PROMPT_PT = "Descreva esta imagem e explique o seu contexto cultural em duas ou três frases."
# The planted defects: image file -> the reason its row must end with.
PLANTED = {"bandera_mexico_copia.jpg": "image_exact_duplicate", "bandera_argentina_reducida.jpg": "image_near_duplicate",
           "truncado.jpg": "image_not_decodable", "no_es_imagen.jpg": "image_not_decodable",
           "diminuta.jpg": "image_too_small", "pancarta.jpg": "image_extreme_aspect_ratio",
           "empanadas_chile.jpg": "language_mismatch_chosen"}
WITH_GPS = "maiz_mexico.jpg"  # accepted, published without its GPS position and owner's name
WITH_XMP_IPTC = "azulejo_portugal.jpg"  # accepted, published without its XMP and IPTC place and author


class Scene(NamedTuple):
    country: str
    shapes: list  # what draw() draws
    chosen: str  # the caption with the cultural context
    rejected: str  # a generic caption


SCENES = {
    "bandera_mexico": Scene("México", [("v", ["#006847", "#ffffff", "#ce1126"]), ("circle", "#8b5a2b", 0.12)],
                       "La bandera de México: verde, blanco y rojo en franjas verticales, con el escudo del águila sobre "
                       "un nopal en el centro, símbolo de la fundación de Tenochtitlan.",
                       "Una bandera de tres colores."),
    "bandera_argentina": Scene("Argentina", [("h", ["#74acdf", "#ffffff", "#74acdf"]), ("circle", "#f6b40e", 0.1)],
                          "La bandera argentina, celeste y blanca, con el Sol de Mayo en el centro: el sol inca que "
                          "recuerda la Revolución de Mayo de 1810.",
                          "Es una bandera azul y blanca con un sol."),
    "bandera_colombia": Scene("Colombia", [("h", ["#fcd116", "#fcd116", "#003893", "#ce1126"])],
                         "La bandera de Colombia: el amarillo ocupa la mitad superior, por la riqueza de la tierra; "
                         "el azul, los dos océanos; el rojo, la sangre de la independencia.",
                         "Una bandera con franjas amarilla, azul y roja."),
    "bandera_peru": Scene("Perú", [("v", ["#d91023", "#ffffff", "#d91023"])],
                     "La bandera del Perú, roja y blanca en franjas verticales; la leyenda dice que San Martín eligió "
                     "los colores al ver volar parihuanas sobre Paracas.",
                     "Una bandera roja y blanca."),
    "bandera_chile": Scene("Chile", [("h", ["#ffffff", "#d52b1e"]), ("box", "#0039a6", (0, 0, 0.33, 0.5)),
                                ("circle", "#ffffff", 0.07, (0.165, 0.25))],
                      "La bandera de Chile, la «estrella solitaria»: el azul del cielo, el blanco de la nieve de la "
                      "cordillera y el rojo de la sangre de la independencia.",
                      "Una bandera blanca, azul y roja con una estrella."),
    "bandera_espana": Scene("España", [("h", ["#aa151b", "#f1bf00", "#f1bf00", "#aa151b"]), ("box", "#aa151b", (0.2, 0.35, 0.32, 0.65))],
                       "La rojigualda de España, con la franja amarilla el doble de ancha que las rojas y el escudo "
                       "con las columnas de Hércules desplazado hacia el asta.",
                       "La bandera de un país de Europa."),
    "bandera_brasil": Scene("Brasil", [("h", ["#009c3b"]), ("diamond", "#ffdf00"), ("circle", "#002776", 0.22)],
                       "A bandeira do Brasil: o losango amarelo sobre o verde e o céu azul estrelado do Rio de Janeiro "
                       "na manhã de 15 de novembro de 1889, com o lema «Ordem e Progresso».",
                       "Uma bandeira verde e amarela."),
    "bandera_portugal": Scene("Portugal", [("v", ["#006600", "#ff0000", "#ff0000"]), ("circle", "#ffcc00", 0.16, (0.4, 0.5))],
                         "A bandeira de Portugal: o verde da esperança, o vermelho da coragem e, na divisão, a esfera "
                         "armilar das navegações com o escudo português.",
                         "Uma bandeira verde e vermelha."),
    "mate_argentina": Scene("Argentina", [("h", ["#e8d8b0"]), ("box", "#6b3e1e", (0.3, 0.35, 0.7, 0.9)),
                                     ("box", "#3f7d20", (0.33, 0.3, 0.67, 0.4)), ("box", "#c0c0c0", (0.58, 0.05, 0.62, 0.45))],
                       "Un mate con yerba y bombilla de metal: se ceba en ronda y se comparte entre amigos, y decir "
                       "«gracias» significa que ya no querés más.",
                       "Una taza marrón con una pajita."),
    "maiz_mexico": Scene("México", [("h", ["#fdf5e6"]), ("ellipse", "#f2c12e", (0.38, 0.15, 0.62, 0.85)),
                               ("ellipse", "#4f8a2b", (0.25, 0.45, 0.45, 0.95)), ("ellipse", "#4f8a2b", (0.55, 0.45, 0.75, 0.95))],
                    "Una mazorca de maíz con sus hojas: la base de la tortilla, el tamal y el pozole; en Mesoamérica "
                    "se dice que los primeros humanos fueron hechos de maíz.",
                    "Es una verdura amarilla con hojas verdes."),
    "sombrero_colombia": Scene("Colombia", [("h", ["#bfe3f2"]), ("ellipse", "#f4ecd8", (0.1, 0.55, 0.9, 0.8)),
                                       ("ellipse", "#222222", (0.3, 0.25, 0.7, 0.65)), ("ellipse", "#f4ecd8", (0.36, 0.3, 0.64, 0.6))],
                          "Un sombrero vueltiao, tejido con caña flecha por los zenúes de Córdoba y Sucre: símbolo "
                          "cultural de Colombia, sus dibujos en negro cuentan historias.",
                          "Un sombrero blanco y negro."),
    "azulejo_portugal": Scene("Portugal", [("h", ["#ffffff"]), ("grid", "#1f4e9c")],
                         "Azulejos azuis e brancos, como os que revestem igrejas e estações em Lisboa e no Porto: "
                         "uma arte herdada dos mouros e que conta a história do país.",
                         "Um padrão azul e branco."),
}


def draw(shapes: list, size: tuple[int, int] = (320, 240)):
    """A scene from simple shapes: stripes (h, v), boxes, ellipses, circles, a diamond, a tile grid."""
    from PIL import Image, ImageDraw

    width, height = size
    image = Image.new("RGB", size, "white")
    pen = ImageDraw.Draw(image)
    for shape, colour, *rest in shapes:
        if shape in ("h", "v"):
            for number, stripe in enumerate(colour):
                step = (height if shape == "h" else width) / len(colour)
                box = (0, number * step, width, (number + 1) * step) if shape == "h" else (number * step, 0, (number + 1) * step, height)
                pen.rectangle(box, fill=stripe)
        elif shape in ("box", "ellipse"):
            left, top, right, bottom = rest[0]
            box = (left * width, top * height, right * width, bottom * height)
            (pen.rectangle if shape == "box" else pen.ellipse)(box, fill=colour)
        elif shape == "circle":
            radius, (x, y) = rest[0] * height, rest[1] if len(rest) > 1 else (0.5, 0.5)
            pen.ellipse((x * width - radius, y * height - radius, x * width + radius, y * height + radius), fill=colour)
        elif shape == "diamond":
            pen.polygon([(width * 0.1, height / 2), (width / 2, height * 0.1), (width * 0.9, height / 2), (width / 2, height * 0.9)],
                        fill=colour)
        elif shape == "grid":
            for x in range(0, width, 40):
                for y in range(0, height, 40):
                    pen.ellipse((x + 6, y + 6, x + 34, y + 34), outline=colour, width=4)
                    pen.rectangle((x + 16, y + 16, x + 24, y + 24), fill=colour)
    return image


def _jpeg(image, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, **options)
    return out.getvalue()


def _gps_exif():
    """EXIF with a GPS position (the Zócalo of Mexico City) and the camera owner's name."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x013B] = "Lucía Hernández"  # Artist
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (19.0, 25.0, 57.0), 3: "W", 4: (99.0, 7.0, 59.0)})
    return exif


def _xmp() -> bytes:
    """An XMP packet that names the city and the photographer."""
    return ('<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
            'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'photoshop:City="Lisboa"><dc:creator><rdf:Seq><rdf:li>João Silva</rdf:li></rdf:Seq></dc:creator>'
            '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode()


def with_iptc(jpeg: bytes, fields: dict[int, str]) -> bytes:
    """The JPEG with an IPTC record (dataset number of record 2 -> text) in a Photoshop APP13 segment after its
    first segment, where cameras and editors write it."""
    record = b"".join(b"\x1c\x02" + bytes([number]) + struct.pack(">H", len(text.encode())) + text.encode()
                      for number, text in fields.items())
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(record)) + record + b"\x00" * (len(record) % 2)
    payload = b"Photoshop 3.0\x00" + resource
    first_end = 4 + struct.unpack(">H", jpeg[4:6])[0]
    return jpeg[:first_end] + b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload + jpeg[first_end:]


def write_demo(folder: Path) -> Path:
    """Draw the images into `folder` and write captions.jsonl beside them; returns the JSONL file."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []

    def add(file: str, data: bytes, country: str, chosen: str, rejected: str, **extra) -> None:
        (folder / file).write_bytes(data)
        prompt = PROMPT_PT if country in ("Brasil", "Portugal") else PROMPT_ES
        rows.append({"image": file, "country": country, "question": prompt, "chosen": chosen, "rejected": rejected, **extra})

    drawn = {name: draw(shapes) for name, (_, shapes, _, _) in SCENES.items()}
    for name, (country, _, chosen, rejected) in SCENES.items():
        exif = {"exif": _gps_exif().tobytes()} if f"{name}.jpg" == WITH_GPS else {}
        data = _jpeg(drawn[name], **exif)
        if f"{name}.jpg" == WITH_XMP_IPTC:
            data = with_iptc(_jpeg(drawn[name], xmp=_xmp()), {80: "João Silva", 90: "Lisboa"})
        add(f"{name}.jpg", data, country, chosen, rejected)
    # Planted defects, in the order the README lists them.
    _, _, chosen, rejected = SCENES["bandera_mexico"]
    add("bandera_mexico_copia.jpg", (folder / "bandera_mexico.jpg").read_bytes(), "México", chosen,
        "Una bandera tricolor.")  # shorter: the original is the more complete row, kept
    _, _, chosen, rejected = SCENES["bandera_argentina"]
    smaller = io.BytesIO()
    drawn["bandera_argentina"].resize((256, 192)).save(smaller, format="JPEG", quality=70)
    add("bandera_argentina_reducida.jpg", smaller.getvalue(), "Argentina",
        "La celeste y blanca con el Sol de Mayo, el sol inca de la Revolución de Mayo de 1810.", rejected)
    whole = _jpeg(draw(SCENES["bandera_espana"][1]))
    add("truncado.jpg", whole[: len(whole) // 2], "España", "La bandera de España con su escudo, cortada a medias.",
        "Una bandera roja y amarilla.")
    add("no_es_imagen.jpg", b"esto no es una imagen\n", "Perú", "Machu Picchu al amanecer, entre montañas y nubes.",
        "Unas ruinas en una montaña.")
    add("diminuta.jpg", _jpeg(draw(SCENES["bandera_chile"][1], (24, 18))), "Chile",
        "La bandera chilena en miniatura, con su estrella solitaria.", "Una bandera muy pequeña.")
    add("pancarta.jpg", _jpeg(draw([("h", ["#006847", "#ffffff", "#ce1126"])], (800, 120))), "México",
        "Una tira de papel picado con los colores patrios para las fiestas de septiembre.", "Una tira de colores.")
    add("empanadas_chile.jpg", _jpeg(draw([("h", ["#f5e6c8"]), ("ellipse", "#d9a441", (0.15, 0.3, 0.85, 0.8))])), "Chile",
        "Golden baked empanadas de pino, the traditional Chilean pastry eaten during the Fiestas Patrias in September.",
        "Una empanada al horno.")
    lines = [json.dumps(row, ensure_ascii=False) + "\n" for row in rows]
    (folder / "captions.jsonl").write_text("".join(lines), encoding="utf-8")
    return folder / "captions.jsonl"


def demo_folder() -> Path:
    """The drawn demo, made once per VERSION in the cache ($CURATION_CACHE or ~/.cache/curation)."""
    cache = Path(os.environ.get("CURATION_CACHE") or Path.home() / ".cache" / "curation")
    folder = cache / f"demo_images-v{VERSION}"
    if not (folder / "captions.jsonl").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=".demo_images-", dir=cache))
        write_demo(building)
        try:
            building.rename(folder)
        except OSError:  # another run drew it meanwhile
            shutil.rmtree(building)
    return folder


def images_demo_config() -> RunConfig:
    """The image demo's config (curation/demo/images.yaml), reading the drawn demo."""
    config_file = resources.files("curation.demo").joinpath("images.yaml")
    with resources.as_file(config_file) as path:
        config = load_config(path)
    config.input.path = str(demo_folder() / "captions.jsonl")
    return config
