"""Error placeholders that failed API calls wrote instead of a response.

The tell is a short text that either carries an explicit error signature, or is a generic apology
that repeats across rows (a real answer is not written twice word for word). An API's error body
(`{"error": {...}}`, `{"message": "...", "code": 500}`, `error_code: 50004`) is caught at any length:
bodies with a stack trace or the arena's long "ERROR DE RED ... (error_code: ...)" banner are long.

A response whose exact text answers REPEAT_MIN_PROMPTS or more different prompts (as chosen or as
rejected, anywhere in the batch) is a placeholder, whatever its length: a real answer is not written
for three questions word for word. It warns (`repeated_response_*`), and blocks as an error placeholder
when its opening also reads like an error ("error", "inténtelo de nuevo", "regenere", "tráfico",
"unavailable"). The count is a group-by over the whole column, so it sees only the rows of one batch
(the filter runs per 50,000-row batch): a text repeated three times across two batches is missed. The
count stays in `chosen_repeat_prompts` / `rejected_repeat_prompts`.
"""

from __future__ import annotations

import polars as pl

from curation.config import FilterConfig
from curation.rules.rule import Rule
from curation.text import char_length, comparison_key, dfa_friendly

ERROR_SIGNATURE = dfa_friendly(
    r"(?i)^\s*(?:error|exception|traceback)\s*[:\[(\d]|^\s*(?:none|null|nan|undefined|n/a)\s*$|\[error\]|"
    r"\b(?:429|500|502|503|504)\b.{0,20}(?:too many requests|internal server error|bad gateway|service unavailable|gateway timeout)|"
    r"rate limit|request (?:failed|timed out)|upstream timeout|\$moderation\$|violates our content|"
    r"ha ocurrido un error|se produjo un error|ocorreu um erro|s'ha produ[ïi]t un error|an error (?:has )?occurred"
)
# Fields only an error body has, wherever they stand: `"error_code": 500`, `'type': 'overloaded_error'`.
ERROR_FIELD = dfa_friendly(r"""(?i)\berror_code["']?\s*:\s*\d|["']type["']\s*:\s*["'][a-z_]*error["']""")
# Fields that make a JSON object (or a Python dict) an error body: an error key with a value (not
# `"error": null`), a 4xx/5xx status, or a message or status that names a failure.
_ERROR_KEYS = (
    r"""["'](?:error|errors|error_message|exception)["']\s*:\s*[\[{"']|"""
    r"""["'](?:code|status|status_code|statuscode)["']\s*:\s*["']?[45]\d\d\b|"""
    r"""["'](?:message|detail|status|object)["']\s*:\s*["'][^"']*"""
    r"(?:error|fail|forbidden|unauthori[sz]ed|not found|overloaded|timed out|too many requests|unavailable)"
)
# The whole text is such an object, bare or after the OpenAI client's "Error code: 429 - "; or a
# FastAPI error, whose first key is "detail". Anchored at both ends: a JSON sample inside an answer
# that explains it is not an error body. Kept apart from ERROR_FIELD: anchored, it stops at the first
# character of an ordinary text, and ERROR_FIELD skips to its literals; one pattern of both would read
# every text through (5x slower).
ERROR_BODY = dfa_friendly(
    rf"""(?is)^\s*(?:error code:?\s*\d{{3}}\s*-?\s*)?\{{(?:\s*["']detail["']\s*:|.*(?:{_ERROR_KEYS})).*\}}\s*$"""
)
APOLOGY = dfa_friendly(r"(?i)\b(?:lo siento|disculp|perd[óo]n|lamentamos|desculp|lamento|sinto muito|ho sento|em sap greu|sorry|apologi)")


REPEAT_MIN_PROMPTS = 3
# The opening of a repeated text that reads like an error or a request to retry.
REPEATED_ERROR = dfa_friendly(
    r"(?i)\berror\b|\bfail(?:ed|ure)?\b|\bexception\b|int[ée]ntel[oa] (?:de nuevo|m[áa]s tarde)|int[ée]ntalo (?:de nuevo|m[áa]s tarde)|"
    r"vuelv[ae] a intentar|try again|regener|actualice|recargue|tente novamente|torna-ho a provar|\bunavailable\b|"
    r"no disponible|indispon[íi]vel|overloaded|sobrecargad|tr[áa]fico|tr[áa]fego|timed? ?out\b|\$moderation\$"
)
# The key of a text: its first 200 characters and its length. Two real answers with the same opening and the
# same length are not expected, while one placeholder with another error code or request id at its end is one
# text here (a hash of the whole text, though cheaper, would count them apart).
_KEY_CHARS = 200


def _key(column: str) -> pl.Expr:
    text = pl.col(column).str.strip_chars()
    length = text.str.len_bytes()  # compared as a number: `text != ""` cost as much as the key itself
    return pl.when(length > 0).then(pl.concat_str(text.str.slice(0, _KEY_CHARS), pl.lit("\x00"), length.cast(pl.String)).hash())


def _prompts_per_text(keys: pl.Series, side: str) -> pl.Series:
    """For each row, how many different prompts the `side` text answers in the batch (chosen and
    rejected texts pooled; null for an empty text), and whether that reaches REPEAT_MIN_PROMPTS."""
    frame = keys.struct.unnest()
    pooled = pl.concat([frame.select("prompt", text="chosen"), frame.select("prompt", text="rejected")]).drop_nulls("text")
    counts = pooled.group_by("text").agg(prompts=pl.col("prompt").n_unique())
    prompts = frame.get_column(side).replace_strict(counts["text"], counts["prompts"], default=None, return_dtype=pl.UInt32)
    return pl.DataFrame({"flag": (prompts >= REPEAT_MIN_PROMPTS).fill_null(False), "prompts": prompts}).to_struct()


def rules(config: FilterConfig) -> list[Rule]:
    # The patterns read no further than the opening: a placeholder is short, and long texts need no costly key.
    opening = {column: pl.col(column).str.slice(0, config.placeholder_max_chars + 1) for column in ("prompt", "chosen", "rejected")}
    short = {column: char_length(column) <= config.placeholder_max_chars for column in opening}
    keys = {column: comparison_key(opening[column]) for column in ("chosen", "rejected")}

    def error_text(column: str) -> pl.Expr:
        # The signature's phrases ("rate limit") can be the subject of a real answer, so only short texts.
        return ((short[column] & opening[column].str.contains(ERROR_SIGNATURE))
                | pl.col(column).str.contains(ERROR_FIELD) | pl.col(column).str.contains(ERROR_BODY))

    def repeats(column: str) -> pl.Expr:
        """Struct: whether the text answers REPEAT_MIN_PROMPTS or more prompts; how many (one group-by)."""
        return pl.struct(prompt=_key("prompt"), chosen=_key("chosen"), rejected=_key("rejected")).map_batches(
            lambda keys: _prompts_per_text(keys, column), return_dtype=pl.Struct({"flag": pl.Boolean, "prompts": pl.UInt32}))

    def placeholder(column: str) -> pl.Expr:
        other = "rejected" if column == "chosen" else "chosen"
        key = keys[column]
        repeated = (pl.len().over(key) > 1) | key.is_in(keys[other].implode())
        return error_text(column) | (short[column] & opening[column].str.contains(APOLOGY) & repeated)

    def repeated_response(column: str) -> Rule:
        return Rule(f"repeated_response_{column}",
                    f"the same {column} text answers {REPEAT_MIN_PROMPTS} or more different prompts in the batch (placeholder)",
                    "warn", repeats(column), scores=(f"{column}_repeat_prompts",))

    def error_placeholder(column: str) -> Rule:
        repeated_error = repeats(column).struct.field("flag") & opening[column].str.contains(REPEATED_ERROR)
        return Rule(f"error_placeholder_{column}", f"error placeholder left by a failed API call ({column} response)", "block",
                    placeholder(column) | repeated_error)

    prompt = Rule("error_placeholder_prompt", "error message instead of a prompt", "block", error_text("prompt"))
    return [prompt, error_placeholder("chosen"), error_placeholder("rejected"),
            repeated_response("chosen"), repeated_response("rejected")]
