"""A distilabel Task that calls its LLM only for rows whose inputs are all there: a row whose earlier
step failed (no prompt, no answer) passes through with empty outputs instead of paying for a call
on nothing. The run's collector then files it as failed, naming the step that failed.

Each answered row also gets `usage_<step>` (billed input and output tokens), its own column: distilabel's
metadata column does not survive CombineOutputs, and the cost of a row is the sum of its steps."""

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import StepInput
from distilabel.steps.tasks import Task
from pydantic import Field


class GuardedTask(Task):
    # The raw prompts and answers are already in the row and in the call journal.
    add_raw_output: RuntimeParameter[bool] = Field(default=False)
    add_raw_input: RuntimeParameter[bool] = Field(default=False)

    # No `from __future__ import annotations` here: distilabel reads the StepInput hint at run time.
    def process(self, inputs: StepInput):  # noqa: ANN201 (distilabel's signature)
        complete = [all(row.get(name) is not None for name in self.inputs) for row in inputs]
        ready = [row for row, ok in zip(inputs, complete, strict=True) if ok]
        answered = iter(next(super().process(ready)) if ready else [])
        usage = f"usage_{self.name}"
        empty = {**dict.fromkeys([*self.outputs, "model_name"]), usage: None}
        rows = []
        for row, ok in zip(inputs, complete, strict=True):
            if not ok:
                rows.append({**row, **empty})
                continue
            done = next(answered)
            done[usage] = done.get("distilabel_metadata", {}).get(f"statistics_{self.name}")
            rows.append(done)
        yield rows
