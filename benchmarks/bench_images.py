"""The image checks' benchmark: images per second through the probe (SHA-256, decode, pHash, EXIF), the image
rules, and the exact and pHash near-duplicate stages, on generated JPEG images; peak memory. Prints a Markdown
table for the README.

    .venv/bin/python benchmarks/bench_images.py                    # 10,000 images of 320x240
    .venv/bin/python benchmarks/bench_images.py --images 2000 --size 640x480

The images are random compositions of rectangles and ellipses (seeded), 5% of them exact copies and 5%
resized, re-compressed copies, in 8 countries: what the dedupe has to find. Drawing them is not timed.
The load average before and after is printed: other work on the machine slows the figures.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import time

os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")

import numpy as np
import polars as pl
from PIL import Image, ImageDraw

from curation.config import ImagesConfig
from curation.images.probe import probe_all
from curation.pipelines.filter import Filter
from curation.pipelines.image_exact_dedupe import ImageExactDedupe
from curation.pipelines.image_near_dedupe import ImageNearDedupe
from curation.rules import image_checks
from curation.run import run_pipeline
from curation.schema import conform
from curation.stage import Pipeline

COUNTRIES = ["MX", "AR", "CO", "PE", "CL", "ES", "BR", "PT"]


def generated(count: int, size: tuple[int, int], seed: int = 0) -> tuple[list[bytes], list[int], dict[str, int]]:
    """`count` JPEG images: distinct random scenes, with 5% exact and 5% near copies of earlier scenes; each
    image's scene (a copy's is its original's), and how many copies of each kind were planted."""
    rng = np.random.default_rng(seed)
    images: list[bytes] = []
    scenes: list[int] = []
    planted = {"image_exact_duplicate": 0, "image_near_duplicate": 0}
    for number in range(count):
        copy, original = rng.random(), int(rng.integers(0, max(number, 1)))
        if number > 20 and copy < 0.10:
            exact = copy < 0.05
            source = images[original]
            images.append(source if exact else _jpeg(Image.open(io.BytesIO(source)).resize(
                (size[0] * 4 // 5, size[1] * 4 // 5)), quality=75))
            scenes.append(scenes[original])
            planted["image_exact_duplicate" if exact else "image_near_duplicate"] += 1
            continue
        scenes.append(number)
        image = Image.new("RGB", size, tuple(int(value) for value in rng.integers(0, 256, 3)))
        pen = ImageDraw.Draw(image)
        for _ in range(6):
            x0, y0 = rng.integers(0, size[0]), rng.integers(0, size[1])
            box = (x0, y0, x0 + rng.integers(20, size[0]), y0 + rng.integers(20, size[1]))
            colour = tuple(int(value) for value in rng.integers(0, 256, 3))
            (pen.rectangle if rng.random() < 0.5 else pen.ellipse)(box, fill=colour)
        images.append(_jpeg(image))
    return images, scenes, planted


def _jpeg(image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def records(images: list[bytes], scenes: list[int]) -> pl.DataFrame:
    """Image records as the reader makes them (the probe is timed apart); a copy is in its original's country."""
    count = len(images)
    frame = pl.DataFrame({
        "source": [f"bench:{number + 1}" for number in range(count)], "prompt": ["Describe esta imagen."] * count,
        "chosen": [f"Una escena número {number}." for number in range(count)], "rejected": ["Una escena."] * count,
        "preference": ["chosen-better"] * count, "country": [COUNTRIES[scene % len(COUNTRIES)] for scene in scenes],
        "image_bytes": images, "image_path": pl.Series([None] * count, dtype=pl.String)})
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--size", default="320x240", help="WIDTHxHEIGHT of the generated images")
    arguments = parser.parse_args()
    size = tuple(int(side) for side in arguments.size.split("x"))
    print(f"load average before: {os.getloadavg()}")
    images, scenes, planted = generated(arguments.images, size)
    megabytes = sum(len(image) for image in images) / 1024**2
    started = time.perf_counter()
    facts = probe_all(images)
    probed = time.perf_counter() - started
    frame = conform(records(images, scenes).hstack(facts))
    settings = ImagesConfig()
    pipeline = Pipeline([Filter(image_checks.rules(settings)), ImageExactDedupe(scope=["country"]),
                         ImageNearDedupe(settings.near_max_distance, scope=["country"])])
    started = time.perf_counter()
    result = run_pipeline(frame, pipeline)
    staged = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    reasons = result.summary["reasons"]
    total = probed + staged
    print(f"load average after: {os.getloadavg()}\n")
    print("| images | size | probe (hash, decode, pHash, EXIF) | rules + exact + near dedupe | images/s overall | "
          "exact / near duplicates found (planted) | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {arguments.images:,} ({megabytes:.0f} MB of JPEG) | {size[0]}x{size[1]} | {probed:.1f} s "
          f"({arguments.images / probed:,.0f}/s) | {staged:.1f} s ({arguments.images / staged:,.0f}/s) | "
          f"{arguments.images / total:,.0f} | " + " / ".join(f"{reasons.get(kind, 0):,} ({count:,})" for kind, count
                                                            in planted.items()) + f" | {peak:,.0f} MB |")


if __name__ == "__main__":
    main()
