"""Image + caption data (issue 17): reading images by path, bytes or the Hub's Image feature; the probe's
verdict on bad images; the image rules, exact and near duplicates by image; privacy; trl's vision format;
`curation run --demo images` end to end."""

import hashlib
import io
import json
import os
import struct
import zlib

import datasets
import numpy as np
import polars as pl
import pytest
from PIL import Image

from curation.config import ImagesConfig, InputConfig, RunConfig
from curation.demo.images import PLANTED, SCENES, WITH_GPS, WITH_XMP_IPTC, draw, with_iptc
from curation.errors import ConfigError, InputError
from curation.images.privacy import strip_private_metadata
from curation.images.probe import EXIF_IFD, GPS_IFD, probe, probe_all
from curation.pipelines.image_exact_dedupe import ImageExactDedupe
from curation.pipelines.image_near_dedupe import ImageNearDedupe, close_pairs
from curation.pipelines.image_split import ImageSplit
from curation.readers import read_records
from curation.rules.naming import name_problem
from curation.run import run, run_pipeline
from curation.stage import Pipeline


def jpeg(scene: str = "bandera_peru", size: tuple[int, int] = (160, 120), **options) -> bytes:
    out = io.BytesIO()
    draw(SCENES[scene].shapes, size).save(out, format="JPEG", quality=90, **options)
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels and holds none: a decompression bomb's opening."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


def test_the_probe_measures_a_good_image_and_names_each_bad_one():
    good = jpeg()
    facts = probe(good)
    assert (facts.image_error, facts.image_format, facts.image_width, facts.image_height) == (None, "JPEG", 160, 120)
    assert facts.image_sha256 == hashlib.sha256(good).hexdigest() and facts.image_phash is not None
    ppm = io.BytesIO()
    Image.new("RGB", (80, 80)).save(ppm, format="PPM")
    bad = {"truncated": good[: len(good) // 2], "empty": b"", "not an image": b"GIF89a? no, text",
           "unsupported format PPM": ppm.getvalue(), "decompression bomb": png_header(100_000, 100_000)}
    for expected, data in bad.items():
        error = probe(data).image_error
        assert error is not None and expected.split()[0] in error, (expected, error)
    assert "decompression bomb" in probe(good, max_pixels=10_000).image_error  # refused before decoding


def test_files_that_cannot_be_read_are_reasons_not_crashes(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    (tmp_path / "ok.jpg").write_bytes(jpeg())
    facts = probe_all([str(tmp_path / "missing.jpg"), str(fifo), str(tmp_path), str(tmp_path / "ok.jpg"), None])
    assert facts.get_column("image_error").to_list() == ["missing file", "not a regular file", "not a regular file",
                                                         None, "no image"]


def photo_with_private_exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: stays
    exif[0x013B] = "Lucía"  # Artist: goes
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (40.0, 25.0, 1.0)})
    exif.get_ifd(EXIF_IFD)[0xA430] = "Lucía"  # CameraOwnerName: goes
    return jpeg("bandera_brasil", exif=exif.tobytes())


def test_privacy_removes_the_gps_block_and_owner_fields_and_keeps_the_rest():
    data = photo_with_private_exif()
    before = probe(data)
    assert before.image_gps and before.image_owner
    clean = strip_private_metadata(data)
    after = probe(clean)
    assert not after.image_gps and not after.image_owner
    exif = Image.open(io.BytesIO(clean)).getexif()
    assert exif[0x0112] == 6 and 0x013B not in exif and 0xA430 not in exif.get_ifd(EXIF_IFD)
    pixels = [np.asarray(Image.open(io.BytesIO(image)), dtype=np.int16) for image in (data, clean)]
    assert (pixels[0] == pixels[1]).all()  # the compressed pixels are copied as they were


XMP = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       '<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="38,42.3N" exif:GPSLongitude="9,8.4W"/>'
       '</rdf:RDF></x:xmpmeta>')


def saved(image: Image.Image, image_format: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=image_format, **options)
    return out.getvalue()


def test_xmp_and_iptc_that_locate_the_photo_or_name_its_owner_are_removed_losslessly():
    from PIL import PngImagePlugin, TiffImagePlugin

    picture = draw(SCENES["azulejo_portugal"].shapes, (120, 90))
    text = PngImagePlugin.PngInfo()
    text.add_itxt("XML:com.adobe.xmp", XMP)
    tiff_tags = TiffImagePlugin.ImageFileDirectory_v2()
    tiff_tags[33723] = b"\x1c\x02\x5a\x00\x06Lisboa"  # IPTC 2:90, the city
    private = {
        "JPEG with IPTC": with_iptc(jpeg("azulejo_portugal", exif=photo_exif_orientation()), {80: "João Silva"}),
        "JPEG with XMP": jpeg("azulejo_portugal", xmp=XMP.encode()),
        "PNG with XMP": saved(picture, "PNG", pnginfo=text),
        "TIFF with IPTC": saved(picture, "TIFF", tiffinfo=tiff_tags),
        "WebP with XMP": saved(picture, "WEBP", lossless=True, xmp=XMP.encode()),
    }
    for label, data in private.items():
        assert probe(data).image_xmp_iptc and not probe(data).image_gps, label
        clean = strip_private_metadata(data)
        assert probe(clean).image_error is None and not probe(clean).image_xmp_iptc, label
        pixels = [np.asarray(Image.open(io.BytesIO(image)).convert("RGB")) for image in (data, clean)]
        assert (pixels[0] == pixels[1]).all(), label  # nothing but the metadata changed
    assert Image.open(io.BytesIO(strip_private_metadata(private["JPEG with IPTC"]))).getexif()[0x0112] == 6
    harmless = jpeg("azulejo_portugal", xmp=XMP.replace("exif:GPSLatitude", "dc:title").replace("exif:GPSLongitude",
                                                                                               "dc:format").encode())
    assert not probe(harmless).image_xmp_iptc  # an XMP that neither places nor names anyone is left alone


def photo_exif_orientation() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return exif.tobytes()


def write_folder(tmp_path, rows: list[dict], images: dict[str, bytes]) -> str:
    (tmp_path / "fotos").mkdir()
    for name, data in images.items():
        (tmp_path / "fotos" / name).write_bytes(data)
    pl.DataFrame(rows).write_csv(tmp_path / "captions.csv")
    return str(tmp_path / "captions.csv")


def caption_row(image: str, country: str = "Perú", prompt: str = "Describe esta imagen y su contexto cultural, por favor.",
                **extra) -> dict:
    return {"image": image, "question": prompt, "chosen": "La bandera del Perú, roja y blanca, con su historia.",
            "rejected": "Una bandera de dos colores.", "country": country, **extra}


def test_a_folder_of_images_with_a_csv_reads_as_image_records(tmp_path):
    path = write_folder(tmp_path, [caption_row("fotos/a.jpg", edad="30"), caption_row("fotos/b.jpg", edad="45")],
                        {"a.jpg": jpeg(), "b.jpg": jpeg("bandera_chile")})
    records = read_records(InputConfig(path=path), ImagesConfig())
    assert records.get_column("image_path").to_list() == [str(tmp_path / "fotos" / "a.jpg"), str(tmp_path / "fotos" / "b.jpg")]
    assert records.get_column("image_bytes").is_null().all() and records.get_column("image_error").is_null().all()
    assert records.get_column("edad").to_list() == ["30", "45"]  # persona columns stay
    assert records.get_column("id").n_unique() == 2  # the same captions on two images: two records
    assert records.columns.index("image_sha256") < records.columns.index("edad")


def test_the_hub_image_feature_reads_from_save_to_disk_and_parquet(tmp_path):
    features = datasets.Features({"image": datasets.Image(), "prompt": datasets.Value("string"),
                                  "chosen": datasets.Value("string"), "rejected": datasets.Value("string")})
    images = [Image.open(io.BytesIO(jpeg(scene))) for scene in ("bandera_peru", "bandera_chile")]
    dataset = datasets.Dataset.from_dict({"image": images, "prompt": ["Describe la imagen, por favor."] * 2,
                                          "chosen": ["Una bandera con historia."] * 2, "rejected": ["Una bandera."] * 2},
                                         features=features)
    dataset.save_to_disk(str(tmp_path / "saved"))
    dataset.to_parquet(str(tmp_path / "data.parquet"))
    for path in (tmp_path / "saved", tmp_path / "data.parquet"):
        records = read_records(InputConfig(path=str(path)), ImagesConfig())
        stored = records.get_column("image_bytes").to_list()
        assert all(stored) and records.get_column("image_sha256").to_list() == [hashlib.sha256(data).hexdigest() for data in stored]
        assert records.get_column("image_width").to_list() == [160, 160]


def test_bad_image_columns_and_settings_are_clear_errors(tmp_path):
    path = write_folder(tmp_path, [caption_row("fotos/a.jpg"), caption_row("fotos/zz.jpg")], {"a.jpg": jpeg()})
    with pytest.raises(ConfigError, match="images: {}"):
        read_records(InputConfig(path=path))  # an image column in a text run
    (tmp_path / "m").mkdir()
    missing = write_folder(tmp_path / "m", [caption_row("nada.jpg")], {})
    with pytest.raises(InputError, match="none of the image files exists") as error:
        read_records(InputConfig(path=missing), ImagesConfig())
    assert error.value.column == "image"
    pl.DataFrame([caption_row("x") | {"image": 7}]).write_ndjson(tmp_path / "numbers.jsonl")
    with pytest.raises(InputError, match="expected image file paths") as error:
        read_records(InputConfig(path=str(tmp_path / "numbers.jsonl")), ImagesConfig())
    assert (error.value.row, error.value.column) == (1, "image")
    pl.DataFrame([caption_row("x") | {"image": ["fotos/a.jpg", "fotos/a.jpg"]}]).write_ndjson(tmp_path / "two.jsonl")
    with pytest.raises(InputError, match="one image per row"):
        read_records(InputConfig(path=str(tmp_path / "two.jsonl")), ImagesConfig())
    records = read_records(InputConfig(path=path), ImagesConfig())  # one missing file of two: that row's reason
    assert records.get_column("image_error").to_list() == [None, "missing file"]


def test_one_caption_and_a_vote_reads_as_kto_rows_and_curates_to_the_kto_dataset_only(tmp_path):
    good, bad = "La bandera del Perú, roja y blanca, con su historia.", "Una bandera de dos colores, nada más."
    rows = [{"image": "fotos/a.jpg", "prompt": "Describe esta imagen y su contexto cultural, por favor.", "caption": caption,
             "vote": vote, "country": "Perú"} for caption, vote in ((good, "buena"), (bad, "Mala"), (good, "buena"))]
    rows.append(rows[0] | {"image": "fotos/b.jpg", "vote": "sí"})
    path = write_folder(tmp_path, rows, {"a.jpg": jpeg(), "b.jpg": jpeg("bandera_chile")})
    records = read_records(InputConfig(path=path), ImagesConfig())
    assert records.select("chosen", "rejected", "preference").rows() == [
        (good, None, "both-good"), (bad, None, "both-bad"), (good, None, "both-good"), (good, None, "both-good")]
    config = RunConfig(name="votos", input={"path": path}, images={}, split={"test_fraction": 0.0},
                       tagging={"enabled": False}, filters={"disabled": ["language_mismatch_chosen"]})
    out = run(config, tmp_path / "out").output_dir
    ledger = pl.read_parquet(out / "ledger.parquet").sort("source")
    # Another caption of the same photo is another example; the same caption again is a duplicate.
    assert ledger.get_column("status").to_list() == ["accepted", "accepted", "duplicate", "accepted"]
    assert set(json.loads((out / "ledger.json").read_text())["outputs"]) == {"votos_images_kto"}  # no pair, no DPO
    kto = datasets.load_from_disk(str(out / "votos_images_kto"))["train"]
    assert sorted((row["completion"][0]["content"][0]["text"], row["label"]) for row in kto) == sorted(
        [(bad, False), (good, True), (good, True)])
    # trl's vision KTO shape, as the run just published it, reads back the same way
    again = read_records(InputConfig(path=str(out / "votos_images_kto")), ImagesConfig())
    assert sorted(again.select("chosen", "rejected", "preference").rows()) == sorted(
        [(bad, None, "both-bad"), (good, None, "both-good"), (good, None, "both-good")])
    pl.DataFrame([rows[0] | {"vote": "quizás"}]).write_csv(tmp_path / "unknown.csv")
    with pytest.raises(InputError, match="unknown vote 'quizás'") as error:
        read_records(InputConfig(path=str(tmp_path / "unknown.csv"), columns={}), ImagesConfig(folder=str(tmp_path)))
    assert (error.value.row, error.value.column) == (1, "vote")


def test_near_duplicate_pairs_are_exactly_the_brute_force_ones():
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 2**63, 400, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, 400, dtype=np.uint64)
    # Copies of the first 200, 1 to 9 bits away: those of up to 6 bits are near duplicates, the others not.
    bits = [rng.choice(64, 1 + number % 9, replace=False) for number in range(200)]
    near = hashes[:200] ^ np.array([sum(1 << int(bit) for bit in chosen) for chosen in bits], dtype=np.uint64)
    values = np.concatenate([hashes, near])
    groups = pl.Series([str(number % 200 % 3) for number in range(len(values))])
    found = close_pairs(pl.Series(values, dtype=pl.UInt64), groups, 6)
    distance = np.bitwise_count(values[:, None] ^ values[None, :])
    same = groups.to_numpy()[:, None] == groups.to_numpy()[None, :]
    a, b = np.nonzero(np.triu((distance <= 6) & same, k=1))
    assert set(zip(found["a"].to_list(), found["b"].to_list())) == set(zip(a.tolist(), b.tolist()))
    assert len(a) >= 120  # the close copies (and no far one) were found


def test_duplicates_are_judged_by_image_within_country_and_prompt(tmp_path):
    flag = jpeg("bandera_mexico", (320, 240))
    smaller = jpeg("bandera_mexico", (256, 192))
    other_prompt = "¿Qué representa el escudo de esta bandera en la historia de México?"
    rows = [caption_row("fotos/a.jpg", "México"), caption_row("fotos/copia.jpg", "México"),
            caption_row("fotos/menor.jpg", "México"), caption_row("fotos/a.jpg", "Argentina"),
            caption_row("fotos/a.jpg", "México", prompt=other_prompt), caption_row("fotos/b.jpg", "México")]
    path = write_folder(tmp_path, rows, {"a.jpg": flag, "copia.jpg": flag, "menor.jpg": smaller, "b.jpg": jpeg("maiz_mexico")})
    records = read_records(InputConfig(path=path), ImagesConfig())
    config = RunConfig(name="t", input={"path": path}, images={}, split={"test_fraction": 0.5})
    result = run_pipeline(records, Pipeline([stage.from_config(config) for stage in (ImageExactDedupe, ImageNearDedupe, ImageSplit)]))
    reasons = dict(result.ledger_rows.select("source", pl.col("reasons").list.first()).iter_rows())
    assert [reasons[f"captions.csv:{row}"] for row in range(1, 7)] == [
        None, "image_exact_duplicate", "image_near_duplicate", None, None, None]
    splits = result.accepted.filter(pl.col("image_path").str.ends_with("a.jpg") & (pl.col("country") == "MX"))
    assert splits.height == 2 and splits.get_column("split").n_unique() == 1  # one photo, one split


def test_the_stewards_decisions_apply_to_image_runs_between_the_image_dedupe_and_the_split(tmp_path):
    from curation.demo.images import images_demo_config
    from curation.pipelines import default_pipeline

    config = images_demo_config().model_copy(update={"decisions": str(tmp_path / "decisions.yaml")})
    assert [stage.name for stage in default_pipeline(config)][-4:] == [
        "image_exact_dedupe", "image_near_dedupe", "apply_decisions", "image_split"]


@pytest.fixture(scope="module")
def image_demo(tmp_path_factory):
    """`curation run --demo images`, once for this module."""
    from typer.testing import CliRunner

    from curation.cli import app

    out = tmp_path_factory.mktemp("images") / "out"
    result = CliRunner().invoke(app, ["run", "--demo", "images", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, (result.output, result.exception)
    return out


def test_the_image_demo_catches_every_planted_defect(image_demo):
    ledger = pl.read_parquet(image_demo / "ledger.parquet")
    accepted = pl.read_parquet(image_demo / "accepted.parquet", columns=["source", "image_path"])
    files = dict(pl.concat([pl.read_parquet(image_demo / name, columns=["source", "image_path"])
                            for name in ("accepted.parquet", "quarantine.parquet", "duplicates.parquet")]).iter_rows())
    ended = {os.path.basename(files[source]): (status, reasons) for source, status, reasons
             in ledger.select("source", "status", "reasons").iter_rows()}
    for file, reason in PLANTED.items():
        assert reason in ended[file][1], (file, ended[file])
    clean = {file: status for file, (status, _) in ended.items() if file not in PLANTED}
    assert set(clean.values()) == {"accepted"} and len(clean) == len(SCENES) == accepted.height


def test_the_published_images_are_trl_vision_pairs_without_gps(image_demo):
    from trl.data_utils import prepare_multimodal_messages

    summary = json.loads((image_demo / "ledger.json").read_text())
    assert set(summary["outputs"]) == {"demo_images_dpo", "demo_images_kto"}
    assert all(name_problem(name, name.rsplit("_", 1)[1]) == "" for name in summary["outputs"])
    images = summary["images"]
    assert (images["read_with_gps"], images["published_gps_removed"], images["published_owner_removed"]) == (1, 1, 1)
    assert (images["read_with_xmp_iptc"], images["published_xmp_iptc_removed"], images["published_rewritten"]) == (1, 1, 2)
    dpo = datasets.load_from_disk(str(image_demo / "demo_images_dpo"))
    assert isinstance(dpo["train"].features["images"].feature, datasets.Image)
    row = dpo["train"][0]
    messages = prepare_multimodal_messages(row["prompt"], images=row["images"])  # as trl's collator does
    assert messages[-1]["content"][0]["image"] is row["images"][0]
    assert row["chosen"][0]["content"] == [{"type": "text", "text": row["chosen"][0]["content"][0]["text"]}]
    parquet = pl.read_parquet(image_demo / "demo_images_dpo" / "data" / "train-00000-of-00001.parquet")
    kto = pl.read_parquet(image_demo / "demo_images_kto" / "data" / "train-00000-of-00001.parquet")
    assert kto.height == 2 * parquet.height and {"completion", "label"} <= set(kto.columns)
    published = pl.concat([parquet, pl.read_parquet(image_demo / "demo_images_dpo" / "data" / "test-00000-of-00001.parquet")])
    names = published.get_column("images").list.first().struct.field("path").to_list()
    assert {WITH_GPS, WITH_XMP_IPTC} <= set(names) and not any("/" in name for name in names)  # never the local folders
    for data in published.get_column("images").list.first().struct.field("bytes").to_list():
        assert not probe(data).image_gps and not probe(data).image_owner and not probe(data).image_xmp_iptc


def test_a_published_image_dataset_reads_back(image_demo):
    records = read_records(InputConfig(path=str(image_demo / "demo_images_dpo")), ImagesConfig())
    accepted = pl.read_parquet(image_demo / "accepted.parquet")
    assert records.height == accepted.height
    assert set(records.get_column("chosen")) == set(accepted.get_column("chosen"))
    rewritten = set(records.get_column("image_sha256")) - set(accepted.get_column("image_sha256"))
    assert len(rewritten) == 2  # only the photos whose GPS block, XMP and IPTC were removed changed


def test_curation_train_runs_vision_language_dpo_on_the_image_demo(image_demo, tmp_path):
    """A tiny random SmolVLM-shaped model (Idefics3), made here with its tokenizer and image processor: two DPO
    steps with LoRA through `curation train`, trl's evaluation before and after, the adapter and its card."""
    from typer.testing import CliRunner

    from curation.cli import app
    from curation.train.vlm import build_tiny_vlm

    captions = pl.read_parquet(image_demo / "accepted.parquet").select("prompt", "chosen", "rejected")
    model = build_tiny_vlm(tmp_path / "tiny-vlm", texts=[text for row in captions.rows() for text in row])
    out = tmp_path / "adapter"
    result = CliRunner().invoke(app, ["train", str(image_demo), "--preset", "cpu-tiny-vlm", "--model", str(model),
                                      "--max-steps", "2", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, (result.output, result.exception)
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["pairs"] == 4 and evaluation["before"]["rewards/margins"] == 0  # the reference is the base
    assert evaluation["after"]["loss"] is not None
    training = json.loads((out / "training.json").read_text())
    assert training["steps"] == 2 and training["data"]["dataset"] == "demo_images_dpo"
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert "text_model" in adapter["target_modules"]  # the language model only: the vision tower stays frozen
    assert (out / "processor_config.json").is_file() or (out / "preprocessor_config.json").is_file()
    assert "vision-language" in (out / "README.md").read_text()


def test_the_report_shows_thumbnails_per_rule_and_per_cluster_inline_and_escaped(image_demo, tmp_path):
    from curation.reports.curation_report import write_report
    from curation.reports.image_grid import image_sections
    from curation.run_folder import RunFolder

    run = RunFolder.read(image_demo)
    sections = image_sections(run)
    assert {"image_not_decodable", "image_too_small", "image_extreme_aspect_ratio"} <= set(sections["rules"])
    broken = sections["rules"]["image_not_decodable"]
    assert [tile["uri"] for tile in broken] == [None, None]  # a truncated file and a text file: cells saying so
    assert {cluster["reason"] for cluster in sections["clusters"]} == {"image_exact_duplicate", "image_near_duplicate"}
    assert all(tile["uri"].startswith("data:image/jpeg;base64,") for cluster in sections["clusters"] for tile in cluster["tiles"])
    accepted = pl.read_parquet(image_demo / "accepted.parquet")
    hostile = accepted.with_columns(chosen=pl.lit("<script>alert(1)</script>"))
    report = write_report(RunFolder(image_demo, hostile, run.quarantined, run.duplicates, run.summary, run.validation,
                                    run.clusters), tmp_path / "report")
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert 'id="images"' in page and page.count("data:image/jpeg;base64,") >= 6
    assert "<script>alert(1)</script>" not in page
    assert report is not None


def test_the_image_datasets_cards_say_how_many_images_their_sizes_sources_and_what_privacy_removed(image_demo, tmp_path):
    from huggingface_hub import DatasetCard
    from typer.testing import CliRunner

    from curation.cli import app

    result = CliRunner().invoke(app, ["report", str(image_demo), "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, (result.output, result.exception)
    images = json.loads((image_demo / "ledger.json").read_text())["images"]
    for dataset in ("demo_images_dpo", "demo_images_kto"):
        card = DatasetCard.load(tmp_path / "report" / dataset / "README.md")
        assert card.data.task_categories == ["image-text-to-text"] and "vision" in card.data.tags
        assert card.data.configs and card.data.dataset_info  # the Hub's viewer reads data/ with its Image feature
        text = " ".join(card.text.split())
        assert "follows the naming convention" in text and "trl's vision" in text
        assert f"{images['images_published']} images published ({images['distinct_images_published']} distinct) of " \
               f"{images['images_read']} read. Formats: JPEG {images['formats']['JPEG']}" in text
        assert f"width {images['width']['min']} / {images['width']['median']} / {images['width']['max']}" in text
        assert "| captions.jsonl | 19 |" in text  # the source: the input file, images read from it
        assert "of the images read, 1 carried an EXIF GPS position, 1 EXIF fields naming the camera's owner" in text
        assert "`image_not_decodable` 2" in text and "`image_exact_duplicate` 1" in text


def test_curation_publish_sends_the_image_datasets_to_the_hub(image_demo, tmp_path, monkeypatch):
    """Through the loopback Hub (as tests/test_publish.py): both image datasets, their Image feature and cards; the
    photo that had a GPS position arrives without it."""
    from huggingface_hub import constants
    from typer.testing import CliRunner

    from curation.cli import app
    from curation.publish.loopback_hub import LoopbackHub

    token, org = "hf_loopbackImagesTokenNeverShown", "somosnlp-hackathon-test"
    with LoopbackHub(tmp_path / "hub", token=token) as hub:
        monkeypatch.setenv("HF_TOKEN", token)
        monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # the loopback Hub is 127.0.0.1
        result = CliRunner().invoke(app, ["publish", str(image_demo), "--org", org, "--no-notebooks"])
        assert result.exit_code == 0, (result.output, result.exception)
        assert "not published" not in result.output
        for dataset in ("demo_images_dpo", "demo_images_kto"):
            received = datasets.load_dataset(str(hub.folder(f"{org}/{dataset}")))
            sent = datasets.load_from_disk(str(image_demo / dataset))
            assert {split: received[split].num_rows for split in received} == {split: sent[split].num_rows for split in sent}
            assert isinstance(received["train"].features["images"].feature, datasets.Image)
            assert "## Images" in hub.read(f"{org}/{dataset}", "README.md").decode()
        rows = datasets.concatenate_datasets(list(received.values())).cast_column("images", datasets.List(datasets.Image(decode=False)))
        gps = [image["bytes"] for row in rows["images"] for image in row if image["path"] == WITH_GPS]
        assert gps and not any(probe(data).image_gps for data in gps)
