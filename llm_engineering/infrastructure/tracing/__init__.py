"""Request tracing adapters (Opik)."""
