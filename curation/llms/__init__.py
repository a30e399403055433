"""LLM clients for the extension pipelines (distilabel), and a local emulator of Cohere's chat API."""
