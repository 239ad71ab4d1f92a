"""Adapters of the datasets area: the base model's tokenizer, ZenML artifacts, JSONL and the Hub."""
