"""The twin's HTTP service (FastAPI), split as vLLM's OpenAI server is: protocol, serving, router."""
