"""The embedded demo dataset and its config (see README.md here)."""
