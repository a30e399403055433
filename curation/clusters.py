"""From duplicate clusters to kept rows and duplicates: one representative per cluster, chosen the same
way every run (the most complete row), every other member pointing to it."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl
from rapidfuzz.distance import Indel

from curation.safe_yaml import load_yaml
from curation.schema import PERSONA_AXES, Status
from curation.stage import Stage, StageResult
from curation.text import char_length, comparison_key, fold_accents, fold_words

ROW = "row"
Similarity = Callable[[pl.DataFrame], pl.DataFrame]  # (a, b) -> (a, b, similarity)
GENERIC_SYSTEM_PROMPTS = "generic_system_prompts.yaml"
POSSIBLE = "possible_duplicate"  # the warning, and `possible_duplicate_of` the other row's id
RANKING_BATCH = 20_000  # rows whose completeness keys are computed at once (see _ranking)


class Persona:
    """A row's persona key: its system prompt folded, without the generic sentences of
    `curation/data/generic_system_prompts.yaml` (or a steward's file); a system prompt with no persona
    marker left is no persona (the same as none); then the persona columns present, folded."""

    def __init__(self, lexicon: str = GENERIC_SYSTEM_PROMPTS):
        self.lexicon = lexicon
        self.generic, self.markers = _persona_lexicon(lexicon)

    def of_system_prompt(self, text: str | None) -> str:
        folded = f" {fold_words(text or '')} "
        for sentence in self.generic:  # longest first; repeated so that adjacent sentences all go
            while f" {sentence} " in folded:
                folded = folded.replace(f" {sentence} ", " ")
        folded = folded.strip()
        return folded if folded and self.markers.search(folded) else ""

    def keys(self, frame: pl.DataFrame) -> pl.Series:
        parts = []
        if "system_prompt" in frame.columns:
            prompts = frame.get_column("system_prompt").fill_null("")
            distinct = prompts.unique().to_list()
            parts.append(prompts.replace_strict(distinct, [self.of_system_prompt(text) for text in distinct],
                                                return_dtype=pl.String))
        for axis in PERSONA_AXES:
            if axis in frame.columns:
                parts.append(frame.select(fold_accents(comparison_key(pl.col(axis).cast(pl.String))).fill_null("")).to_series())
        if not parts:
            return pl.Series([""] * frame.height, dtype=pl.String)
        return pl.select(pl.concat_str(parts, separator="\x1e")).to_series().alias("persona")


@cache
def _persona_lexicon(name: str) -> tuple[list[str], re.Pattern]:
    path = Path(name)
    text = path.read_text(encoding="utf-8") if path.is_file() else (
        resources.files("curation.data").joinpath(name).read_text(encoding="utf-8"))
    data = load_yaml(text, f"generic system prompts {name}") or {}
    generic = sorted({fold_words(str(entry)) for entry in data.get("generic") or []} - {""}, key=len, reverse=True)
    markers = [str(marker) for marker in data.get("markers") or []]
    return generic, re.compile(r"\b(?:" + "|".join(markers or ["(?!)"]) + ")")


def scope_keys(frame: pl.DataFrame, scope: list[str], persona: Persona | None = None) -> pl.Series:
    """One string per row: rows are only duplicates of rows with the same key (e.g. the same country and
    the same persona)."""
    parts = [frame.get_column(c).cast(pl.String).fill_null("\x00") for c in scope]
    if persona is not None:
        parts.append(persona.keys(frame))
    if not parts:
        return pl.Series([""] * frame.height, dtype=pl.String)
    return pl.select(pl.concat_str(parts, separator="\x1f")).to_series().alias("scope")


def _adjacency(pairs: pl.DataFrame, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour lists of the (a, b) pairs, both ways, in CSR form: row r's neighbours are
    neighbours[start[r]:start[r + 1]]."""
    a, b = (pairs.get_column(side).cast(pl.Int64).to_numpy() for side in ("a", "b"))
    source, target = np.concatenate([a, b]), np.concatenate([b, a])
    start = np.concatenate([[0], np.cumsum(np.bincount(source, minlength=rows))])
    return start, target[np.argsort(source, kind="stable")]


def greedy_clusters(pairs: pl.DataFrame, order: list[int] | range | np.ndarray, rows: int, founder: list[int] | None = None,
                    accept: Callable[[int, np.ndarray], np.ndarray] | None = None) -> pl.Series:
    """Star clusters: in `order` (best row first), each row not yet taken founds a cluster and takes its
    untaken neighbours. No chaining: every member is within the threshold of its founder, which
    single linkage would not give (A~B~C~... drifts to unrelated texts). Given `founder` (a row's
    founder, -1 for a row not yet taken), a later pass adds rows to the clusters an earlier pass made.
    Given `accept(founder, candidates)` (a mask), a founder takes only the candidates it accepts: a check
    too costly for every pair runs on these few (a founder and its untaken neighbours) only."""
    start, neighbours = _adjacency(pairs, rows)
    founder = np.full(rows, -1, dtype=np.int64) if founder is None else np.array(founder, dtype=np.int64)
    for row in order:  # sequential by nature: whether a row founds depends on every earlier founder
        if founder[row] == -1:
            founder[row] = row
        if founder[row] != row:
            continue
        untaken = neighbours[start[row]:start[row + 1]]
        untaken = untaken[founder[untaken] == -1]
        if accept is not None and len(untaken):
            untaken = untaken[accept(row, untaken)]
        founder[untaken] = row
    return pl.Series(founder, dtype=pl.UInt32)


# Function words (Spanish, Portuguese, Catalan, English) and discourse fillers: not the words that
# carry a question's meaning, so the template guard ignores them.
STOPWORDS = frozenset(["a", "al", "algo", "algun", "alguna", "algunas", "alguno", "algunos", "ante", "antes", "aqui", "asi", "aun", "bajo", "bien", "cada", "como", "con", "contra", "cual", "cuales", "cualquier", "cuando", "cuanta", "cuantas", "cuanto", "cuantos", "de", "del", "desde", "donde", "dos", "el", "ella", "ellas", "ellos", "en", "entre", "era", "eran", "eres", "es", "esa", "esas", "ese", "eso", "esos", "esta", "estaba", "estan", "estar", "estas", "este", "esto", "estos", "estoy", "fue", "fueron", "ha", "hace", "hacia", "han", "has", "hasta", "hay", "he", "la", "las", "le", "les", "lo", "los", "mas", "me", "mi", "mis", "muy", "nada", "ni", "no", "nos", "nosotros", "nuestra", "nuestro", "o", "os", "otra", "otro", "para", "pero", "poco", "por", "porque", "que", "quien", "quienes", "se", "sea", "ser", "si", "sido", "sin", "sino", "sobre", "son", "soy", "su", "sus", "tal", "tambien", "tan", "tanto", "te", "ti", "tiene", "tienen", "todo", "todos", "tu", "tus", "un", "una", "unas", "uno", "unos", "usted", "ustedes", "vos", "vosotros", "y", "ya", "yo", "ao", "aos", "as", "da", "das", "do", "dos", "em", "na", "nas", "no", "nos", "num", "numa", "o", "os", "ou", "pela", "pelo", "pra", "uma", "voce", "amb", "als", "els", "en", "i", "la", "les", "per", "un", "una", "an", "and", "are", "as", "at", "be", "by", "do", "for", "how", "i", "in", "is", "it", "of", "on", "or", "the", "to", "was", "what", "when", "where", "which", "who", "why", "you", "your", "bueno", "pues", "oye", "mira", "porfa", "porfavor", "favor", "entonces", "vale", "osea", "eh", "ah", "che"])
_STOPWORD_LIST = sorted(STOPWORDS)
_DIGIT = re.compile(r"\d")
SPELLING_VARIANT = 0.8  # normalised Indel similarity at which two differing words are one word misspelt


def content_words(texts: pl.Series) -> list[list[str]]:
    """Each text's words, folded (case, accents, punctuation), without function words."""
    folded = pl.select(fold_accents(comparison_key(texts.fill_null(""))).str.split(" ")).to_series().to_list()
    return [[word for word in words if word and word not in STOPWORDS] for words in folded]


def _variant(one: str, other: str) -> bool:
    # Numbers (25 and 52 years, 1990 and 1991) are never a typo of each other; checked only for close words.
    return Indel.normalized_similarity(one, other) >= SPELLING_VARIANT and not _DIGIT.search(one + other)


def _substituted(only_one: Collection[str], only_other: Collection[str]) -> bool:
    """Each side has a word the other lacks that is no spelling variant of any of the other's words; stops
    at the first such word (long texts that differ have many)."""
    return (any(not any(_variant(w, v) for v in only_other) for w in only_one)
            and any(not any(_variant(w, v) for w in only_one) for v in only_other))


def _first_seen(words: list[str]) -> list[str]:
    return list(dict.fromkeys(words))


def differs_in_meaning(one: list[str], other: list[str]) -> bool:
    """True when two content-word lists differ by a substitution (each has a word the other lacks that is
    no spelling variant of the other's) or by the order of their shared words ("el gato y el ratón" /
    "el ratón y el gato"); an inserted or dropped word, or a typo, is no difference."""
    if one == other:
        return False
    set_one, set_other = set(one), set(other)
    only_one, only_other = set_one - set_other, set_other - set_one
    if _substituted(only_one, only_other):
        return True
    return _first_seen([w for w in one if w in set_other]) != _first_seen([w for w in other if w in set_one])


def template_guard(texts: pl.Series, pairs: pl.DataFrame) -> pl.DataFrame:
    """The pairs with `blocked`: True where the two texts differ in the slot that carries the meaning, as
    differs_in_meaning says, computed on whole columns: shared content words in another order, or a
    word on each side that the other lacks; only those substitutions go through the spelling check in
    Python. Runs over the given pairs only (candidates already confirmed by similarity)."""
    if pairs.height == 0:
        return pairs.with_columns(blocked=pl.lit(False))
    rows = pl.concat([pairs.get_column("a"), pairs.get_column("b")]).unique().cast(pl.Int64)
    words = (pl.DataFrame({ROW: rows, "text": texts.gather(rows)})
             .select(ROW, fold_accents(comparison_key(pl.col("text").fill_null(""))).str.split(" ").alias("word"))
             .with_columns(pl.col("word").list.eval(pl.element().filter((pl.element() != "")
                                                                        & ~pl.element().is_in(_STOPWORD_LIST))))
             .explode("word").drop_nulls("word")
             .with_columns(pos=pl.int_range(pl.len(), dtype=pl.UInt32).over(ROW), id=pl.col("word").hash(seed=7))
             .group_by(ROW, "id").agg(pl.col("pos").min(), pl.col("word").first()))
    numbered = pairs.select(pl.col("a").cast(pl.Int64), pl.col("b").cast(pl.Int64)).with_row_index("pair")
    side_a = numbered.join(words, left_on="a", right_on=ROW).select("pair", "id", pos_a="pos", word_a="word")
    side_b = numbered.join(words, left_on="b", right_on=ROW).select("pair", "id", pos_b="pos", word_b="word")
    both_sides = side_a.join(side_b, on=["pair", "id"], how="full", coalesce=True)
    shared = pl.col("pos_a").is_not_null() & pl.col("pos_b").is_not_null()
    # Shared words in another order: their ranks by position differ between the two texts.
    ranks = both_sides.filter(shared).with_columns(
        pl.col("pos_a").rank("ordinal").over("pair").alias("rank_a"), pl.col("pos_b").rank("ordinal").over("pair").alias("rank_b"))
    swapped = ranks.filter(pl.col("rank_a") != pl.col("rank_b")).get_column("pair").unique()
    lone = both_sides.filter(~shared).group_by("pair").agg(pl.col("word_a").drop_nulls().alias("only_a"),
                                                           pl.col("word_b").drop_nulls().alias("only_b"))
    both = lone.filter((pl.col("only_a").list.len() > 0) & (pl.col("only_b").list.len() > 0)
                       & ~pl.col("pair").is_in(swapped.implode()))  # already blocked
    substituted = [pair for pair, only_a, only_b in both.select("pair", "only_a", "only_b").iter_rows()
                   if _substituted(only_a, only_b)]
    blocked = numbered.get_column("pair").is_in(swapped.implode()) | numbered.get_column("pair").is_in(substituted)
    return pairs.with_columns(blocked=blocked.alias("blocked"))


def possible_duplicates(pairs: pl.DataFrame, founder: pl.Series, rank: pl.Series) -> pl.DataFrame:
    """(row, other): for pairs that were not merged (blocked by the guard, or just under the threshold),
    the less complete of the two clusters' kept rows, and the kept row it may duplicate (its closest)."""
    if pairs.height == 0:
        return pl.DataFrame(schema={ROW: pl.Int64, "other": pl.Int64})
    founded = pairs.select(
        fa=founder.gather(pairs.get_column("a")).cast(pl.Int64), fb=founder.gather(pairs.get_column("b")).cast(pl.Int64),
        similarity=pairs.get_column("similarity"),
    ).filter(pl.col("fa") != pl.col("fb"))
    founded = founded.with_columns(ra=rank.gather(founded.get_column("fa")), rb=rank.gather(founded.get_column("fb")))
    later = pl.col("ra") > pl.col("rb")
    flagged = founded.select(pl.when(later).then("fa").otherwise("fb").alias(ROW),
                             pl.when(later).then("fb").otherwise("fa").alias("other"),
                             pl.when(later).then("rb").otherwise("ra").alias("other_rank"), "similarity")
    return (flagged.sort(ROW, pl.col("similarity"), "other_rank", descending=[False, True, False])
            .group_by(ROW, maintain_order=True).first().select(ROW, "other"))


def with_possible_duplicates(frame: pl.DataFrame, possible: pl.DataFrame | None = None) -> pl.DataFrame:
    """The frame with `possible_duplicate_of` (and `warnings`): where `possible` (row -> other row, by
    position in this frame) names a row, the other row's id and the warning possible_duplicate. A value
    an earlier stage set is kept."""
    if "warnings" not in frame.columns:
        frame = frame.with_columns(warnings=pl.lit([], dtype=pl.List(pl.String)))
    if "possible_duplicate_of" not in frame.columns:
        frame = frame.with_columns(possible_duplicate_of=pl.lit(None, dtype=pl.String))
    if possible is None or possible.height == 0:
        return frame
    ids = frame.get_column("id")
    new = pl.Series([None] * frame.height, dtype=pl.String).scatter(
        possible.get_column(ROW), ids.gather(possible.get_column("other")))
    flagged = new.is_not_null() & ~pl.col("warnings").fill_null([]).list.contains(POSSIBLE)
    return frame.with_columns(
        warnings=pl.when(flagged).then(pl.col("warnings").fill_null([]).list.concat(pl.lit([POSSIBLE])))
        .otherwise(pl.col("warnings")),
        possible_duplicate_of=pl.coalesce(pl.col("possible_duplicate_of"), pl.lit(new)),
    )


def completeness(columns: list[str]) -> list[pl.Expr]:
    """Sort keys, best first: has a system prompt, fewer warnings, longer responses, then the id (not the
    input order, so that shuffling the input keeps the same rows)."""
    warnings = [pl.col("warnings").list.len()] if "warnings" in columns else []
    length = (char_length("chosen") + char_length("rejected")).cast(pl.Int64)
    return [pl.col("system_prompt").is_null(), *warnings, -length, pl.col("id"), pl.col("source")]


def _ranking(frame: pl.DataFrame, *columns: str | pl.Expr) -> tuple[pl.DataFrame, list[str]]:
    """The row number, `columns` and the completeness keys (and their names), in a narrow frame. The keys
    are computed RANKING_BATCH rows at a time: they strip both responses, which on whole columns copies
    every response (1M rows: +1.2 GB)."""
    keys = completeness(frame.columns)
    names = [f"_key{number}" for number in range(len(keys))]
    batches = [frame.slice(start, RANKING_BATCH).select(key.alias(name) for key, name in zip(keys, names))
               for start in range(0, max(frame.height, 1), RANKING_BATCH)]
    narrow = frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias(ROW), *columns)
    return narrow.hstack(pl.concat(batches).get_columns()), names


def completeness_order(frame: pl.DataFrame) -> list[int]:
    """Row numbers, most complete row first."""
    narrow, keys = _ranking(frame)
    return narrow.sort([*keys, ROW]).get_column(ROW).to_list()


def representatives(frame: pl.DataFrame, group: pl.Expr) -> pl.DataFrame:
    """Per row, in the frame's order: its row number and its group's most complete row (_rep_row,
    _rep_id, _rep_source). Each row's place in the completeness order is ranked on a narrow frame of
    keys, and a group's best row is its lowest place: no sort or grouping copies a text."""
    narrow, keys = _ranking(frame, group.alias("_group"))
    best_first = narrow.select(pl.arg_sort_by([*keys, ROW])).to_series()
    groups = narrow.with_columns(_place=best_first.arg_sort()).select(
        ROW, "_group", _best=pl.col("_place").min().over("_group"), _group_size=pl.len().over("_group"))
    rep_row = best_first.gather(groups.get_column("_best"))
    return groups.select(ROW, _rep_row=rep_row, _rep_id=frame.get_column("id").gather(rep_row),
                         _rep_source=frame.get_column("source").gather(rep_row), _group_size="_group_size", _group="_group")


def resolve_clusters(stage: Stage, frame: pl.DataFrame, cluster_ids: pl.Series, reason: str,
                     similarity: Similarity, possible: pl.DataFrame | None = None) -> StageResult:
    """Keep each cluster's most complete row; the others leave as duplicates with their similarity to it.
    `possible` (row -> other row, kept rows both) marks possible duplicates left for people to judge."""
    reps = representatives(frame, pl.lit(cluster_ids))
    ranked = frame.with_columns(reps.select(ROW, "_rep_row", "_rep_id", "_rep_source", pl.col("_group").alias("_cluster")))
    is_member = pl.col(ROW) != pl.col("_rep_row")
    members = ranked.filter(is_member)
    pairs = members.select(pl.col(ROW).alias("a"), pl.col("_rep_row").alias("b"))
    scores = pairs.select(pl.col("a").alias(ROW)).join(similarity(pairs).select(pl.col("a").alias(ROW), "similarity"),
                                                       on=ROW, how="left", maintain_order="left")
    members = members.with_columns(scores.get_column("similarity"))  # joined on the row numbers alone: no text copied
    helpers = [ROW, "_cluster", "_rep_row", "_rep_id", "_rep_source"]
    removed = stage.leave(members, Status.DUPLICATE, pl.lit([reason]),
                          duplicate_of=pl.col("_rep_id"), duplicate_of_source=pl.col("_rep_source")).drop(helpers)
    flagged = with_possible_duplicates(ranked, possible)
    kept = flagged.filter(~is_member).drop(helpers)
    clusters = reps.filter(pl.col("_group_size") > 1).get_column("_group").n_unique()
    stats = {reason: members.height, f"{reason}_clusters": clusters,
             POSSIBLE: possible.height if possible is not None else 0}
    return StageResult(kept, removed, stats)


def lazy_possible_duplicates(pairs: pl.DataFrame, founder: pl.Series, rank: pl.Series,
                             possible: Callable[[pl.DataFrame], pl.Series]) -> pl.DataFrame:
    """What `possible_duplicates` gives on the pairs that `possible` accepts, asking it about few
    pairs: each flagged row (the less complete of two clusters' kept rows) needs only its best possible
    pair, so its pairs are judged best first, in rounds of 1, 2, 4... until one passes."""
    ends = pairs.with_columns(fa=founder.gather(pairs.get_column("a")).cast(pl.Int64),
                              fb=founder.gather(pairs.get_column("b")).cast(pl.Int64)).filter(pl.col("fa") != pl.col("fb"))
    ends = ends.with_columns(ra=rank.gather(ends.get_column("fa")), rb=rank.gather(ends.get_column("fb")))
    later = pl.col("ra") > pl.col("rb")
    candidates = (ends.with_columns(flagged=pl.when(later).then("fa").otherwise("fb"),
                                    other_rank=pl.when(later).then("rb").otherwise("ra"))
                  .sort("flagged", "similarity", "other_rank", descending=[False, True, False])
                  .with_columns(position=pl.int_range(pl.len()).over("flagged")))
    found, judged, depth = [], 0, 1
    while candidates.height:
        batch = candidates.filter(pl.col("position") < judged + depth)
        passed = batch.filter(possible(batch))
        found.append(passed)
        judged, depth = judged + depth, depth * 2
        candidates = candidates.filter((pl.col("position") >= judged)
                                       & ~pl.col("flagged").is_in(passed.get_column("flagged").unique().implode()))
    if not found:
        return pl.DataFrame(schema={ROW: pl.Int64, "other": pl.Int64})
    return possible_duplicates(pl.concat(found).select("a", "b", "similarity"), founder, rank)
