"""A distilabel Task that calls its LLM only for rows whose inputs are all there: a row whose earlier
step failed (no prompt, no answer) passes through with empty outputs instead of paying for a call
on nothing. The run's collector then files it as failed, naming the step that failed.

Each answered row also gets `usage_<step>` (billed input and output tokens), its own column: distilabel's
metadata column does not survive CombineOutputs, and the cost of a row is the sum of its steps.

A missing text is "" inside the pipeline, never None: distilabel writes each batch to its own parquet
file, and a batch whose column is all None would get a null type that the other batches' text cannot
be read into. The collector turns "" back into a missing value before anything is written."""

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import StepInput
from distilabel.steps.tasks import Task
from pydantic import Field

MISSING = ""
NO_USAGE = {"input_tokens": 0, "output_tokens": 0}


class GuardedTask(Task):
    # The raw prompts and answers are already in the row and in the call journal.
    add_raw_output: RuntimeParameter[bool] = Field(default=False)
    add_raw_input: RuntimeParameter[bool] = Field(default=False)

    # No `from __future__ import annotations` here: distilabel reads the StepInput hint at run time.
    def process(self, inputs: StepInput):  # noqa: ANN201 (distilabel's signature)
        complete = [all(row.get(name) not in (None, MISSING) for name in self.inputs) for row in inputs]
        ready = [row for row, ok in zip(inputs, complete, strict=True) if ok]
        answered = iter(next(super().process(ready)) if ready else [])
        usage = f"usage_{self.name}"
        rows = []
        for row, ok in zip(inputs, complete, strict=True):
            done = next(answered) if ok else {**row, "model_name": self.llm.model_name}
            done[usage] = done.get("distilabel_metadata", {}).get(f"statistics_{self.name}") or NO_USAGE
            rows.append({**done, **{name: MISSING for name in self.outputs if done.get(name) is None}})
        yield rows
