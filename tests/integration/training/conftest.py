from tests.unit.training.conftest import tiny_llama  # noqa: F401  (the session's tiny model)
