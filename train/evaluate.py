"""Preference accuracy and reward margins of a model on held-out pairs.

DPO's implicit reward of an answer is beta * (log p_policy(answer | prompt) - log p_reference(answer | prompt)).
The reference is the model before training, so the log-probabilities measured before training are the
reference's: before training every implicit reward is zero (no pair is won), and the informative number then
is the likelihood accuracy, how often the chosen answer has the higher mean log-probability per token.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass
class AnswerLogProbs:
    """Per pair: the summed log-probability of each answer's tokens, and how many tokens each has."""
    chosen: list[float]
    rejected: list[float]
    chosen_tokens: list[int]
    rejected_tokens: list[int]

    def as_frame(self) -> pl.DataFrame:
        return pl.DataFrame({"chosen": self.chosen, "rejected": self.rejected,
                             "chosen_tokens": self.chosen_tokens, "rejected_tokens": self.rejected_tokens})


def answer_log_probs(model, pairs: pl.DataFrame, pad_token_id: int, max_length: int, batch_size: int) -> AnswerLogProbs:
    """Log-probabilities of the chosen and rejected answers of tokenised pairs (prompt_ids, chosen_ids,
    rejected_ids), cut at `max_length` as in training."""
    import torch
    from trl.trainer.dpo_trainer import DataCollatorForPreference
    from trl.trainer.utils import selective_log_softmax

    collate = DataCollatorForPreference(pad_token_id=pad_token_id, max_length=max_length)
    device = next(model.parameters()).device
    sums: list[torch.Tensor] = []
    counts: list[torch.Tensor] = []
    model.eval()
    with torch.no_grad():
        for start in range(0, pairs.height, batch_size):
            batch = collate(pairs.slice(start, batch_size).to_dicts())  # chosen rows first, then rejected
            input_ids, answer = batch["input_ids"].to(device), batch["completion_mask"][:, 1:].to(device)
            logits = model(input_ids=input_ids, attention_mask=batch["attention_mask"].to(device)).logits[:, :-1]
            token_log_probs = selective_log_softmax(logits.float(), input_ids[:, 1:])
            sums.append((token_log_probs * answer).sum(dim=1).cpu())
            counts.append(answer.sum(dim=1).cpu())
    totals, tokens = torch.cat(sums), torch.cat(counts)
    chosen, rejected = _halves(totals, batch_size, pairs.height)
    chosen_tokens, rejected_tokens = _halves(tokens, batch_size, pairs.height)
    return AnswerLogProbs(chosen, rejected, chosen_tokens, rejected_tokens)


def _halves(values, batch_size: int, pairs: int) -> tuple[list, list]:
    """Each batch holds its chosen rows, then its rejected rows: split them back per pair."""
    chosen, rejected = [], []
    for start in range(0, pairs, batch_size):
        size = min(batch_size, pairs - start)
        block = values[2 * start:2 * start + 2 * size].tolist()
        chosen += block[:size]
        rejected += block[size:]
    return chosen, rejected


def preference_metrics(policy: AnswerLogProbs, reference: AnswerLogProbs, beta: float) -> dict[str, float | int]:
    """Preference accuracy (share of pairs whose chosen answer has the higher implicit reward), the mean
    reward margin and rewards, and the likelihood accuracy of the policy alone."""
    scores = pl.concat([policy.as_frame(), reference.as_frame().select(
        ref_chosen="chosen", ref_rejected="rejected")], how="horizontal").with_columns(
        reward_chosen=beta * (pl.col("chosen") - pl.col("ref_chosen")),
        reward_rejected=beta * (pl.col("rejected") - pl.col("ref_rejected")),
    ).with_columns(margin=pl.col("reward_chosen") - pl.col("reward_rejected"))
    summary = scores.select(
        preference_accuracy=(pl.col("margin") > 0).mean(),
        reward_margin=pl.col("margin").mean(),
        reward_chosen=pl.col("reward_chosen").mean(),
        reward_rejected=pl.col("reward_rejected").mean(),
        likelihood_accuracy=(pl.col("chosen") / pl.col("chosen_tokens").clip(lower_bound=1)
                             > pl.col("rejected") / pl.col("rejected_tokens").clip(lower_bound=1)).mean(),
        log_prob_chosen=pl.col("chosen").mean(),
        log_prob_rejected=pl.col("rejected").mean(),
    ).row(0, named=True)
    return {"pairs": scores.height, "beta": beta, **{key: round(value, 6) for key, value in summary.items()}}
