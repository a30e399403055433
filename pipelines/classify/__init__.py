"""An LLM reads each distinct prompt of a run and names its validation category and cultural dimension
(the guide's definitions in the request), abstaining when unsure; a distilabel pipeline on the paid-call
path: the call journal, the hard budget, the dry run."""
