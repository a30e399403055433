"""`curation publish`: a run's datasets to the Hugging Face Hub. `layout` decides what each repository holds
(and checks the names before anything is sent), `hub` sends it with huggingface_hub, and `loopback_hub` is a
local Hub that speaks the same endpoints, for tests and for trying it without an account."""
