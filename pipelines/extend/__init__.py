"""Extending the seed data with an LLM (Cohere or an OpenAI-compatible server), aimed at the audit's gaps:
new prompts, two candidate answers each, an LLM judge; distilabel pipelines under a hard budget."""
