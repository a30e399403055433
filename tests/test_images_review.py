"""Reviewing image + caption pairs against a real Argilla server (the stack tests/test_review.py starts, started
here for this module): the record shows the image beside the two captions, blind and in the drawn A/B order,
and the annotators' votes come back through the decisions into the reviewed image datasets."""

import base64
import io
import shutil

import polars as pl
import pytest
from PIL import Image

from curation.demo.images import WITH_GPS, images_demo_config
from curation.images.probe import probe
from curation.review.annotate import answer, my_records
from curation.review.dataset import REVIEW_THUMBNAIL
from curation.review.pull import pull
from curation.review.push import MANIFEST, connect, push
from curation.review.server import SERVER_VENV
from curation.run import run

pytestmark = pytest.mark.skipif(not (SERVER_VENV / "bin" / "python").is_file() or shutil.which("redis-server") is None,
                                reason="the Argilla stack is not installed (`make test` installs it: make argilla)")


def curate(config, out):
    return run(config, out).output_dir


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("image_review")
    config = images_demo_config().model_copy(update={"decisions": str(folder / "decisions.yaml")})
    return curate(config, folder / "out")


def decoded(uri: str) -> bytes:
    header, data = uri.split(",", 1)
    assert header == "data:image/jpeg;base64"
    return base64.b64decode(data)


def test_image_records_show_the_image_beside_the_captions_and_the_votes_come_back(argilla, image_run):
    owner = connect(argilla.api_url, argilla.accounts["owner"].api_key)
    result = push(image_run, owner, "imagenes")
    accepted = pl.read_parquet(image_run / "accepted.parquet")
    assert result.pushed == accepted.height and result.rejected == []
    dataset = owner.datasets(name="imagenes", workspace="curation")
    assert [field.name for field in dataset.settings.fields][:2] == ["context", "image"]
    assert dataset.settings.schema["image"].type == "image"
    assert "Mira la imagen" in dataset.settings.guidelines  # the Spanish line about the image

    annotator = connect(argilla.api_url, argilla.accounts["annotator"].api_key)
    records = {record["external_id"]: record for record in my_records(annotator, "imagenes")}
    shown = dict(pl.read_parquet(image_run / MANIFEST).select("id", "a_is_chosen").iter_rows())
    for row in accepted.iter_rows(named=True):
        fields = records[row["id"]]["fields"]
        first, second = (row["chosen"], row["rejected"]) if shown[row["id"]] else (row["rejected"], row["chosen"])
        assert (fields["response_a"], fields["response_b"]) == (first, second)  # the drawn blind order
        thumbnail = decoded(fields["image"])
        facts = probe(thumbnail)
        assert max(facts.image_width, facts.image_height) <= REVIEW_THUMBNAIL and len(thumbnail) < 100_000
        assert not facts.image_gps and not facts.image_owner  # re-encoded: the GPS photo's position stays home
        original = Image.open(row["image_path"]).convert("RGB").resize((facts.image_width, facts.image_height))
        pixels = Image.open(io.BytesIO(thumbnail)).convert("RGB")
        difference = sum(abs(a - b) for a, b in zip(original.tobytes(), pixels.tobytes())) / len(original.tobytes())
        assert difference < 12  # the row's own image, not another one
    assert len(set(shown.values())) == 2  # A is sometimes the chosen caption, sometimes not
    gps_row = accepted.filter(pl.col("image_path").str.ends_with(WITH_GPS)).get_column("id").item()

    # One vote for the rejected caption: the reviewed run swaps that pair in the published image datasets.
    rejected_side = "b" if shown[gps_row] else "a"
    answer(annotator, records[gps_row]["id"], {"vote": rejected_side, "category": "knowledge"})
    pulled = pull(image_run, owner, "imagenes", curate=curate)
    assert pulled.reviewed == 1
    before = accepted.filter(pl.col("id") == gps_row).row(0, named=True)
    dpo = pl.concat([pl.read_parquet(file) for file in (pulled.output_dir / "demo_images_dpo" / "data").glob("*.parquet")])
    swapped = dpo.filter(pl.col("id") == gps_row).row(0, named=True)
    assert (swapped["chosen"][0]["content"][0]["text"], swapped["rejected"][0]["content"][0]["text"]) == (
        before["rejected"], before["chosen"])
    assert dpo.height == accepted.height  # every other pair as it was
