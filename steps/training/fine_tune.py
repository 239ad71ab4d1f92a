from typing import Annotated, Any

from zenml import get_step_context, log_metadata, step

from llm_engineering.application.training.fine_tuning import Lineage, fine_tune
from llm_engineering.domain.datasets import InstructDatasets, PreferenceDatasets
from llm_engineering.domain.training_config import TrainingConfig
from llm_engineering.infrastructure.registry import build_registry
from llm_engineering.infrastructure.tracking.comet import build_tracker
from llm_engineering.infrastructure.training import build_fine_tuner
from llm_engineering.infrastructure.training.lineage import code_version
from llm_engineering.settings import get_settings


@step
def fine_tune_twin(
    training: dict[str, Any],
    instruct: InstructDatasets,
    preference: PreferenceDatasets | None = None,
) -> Annotated[dict[str, Any], "training_result"]:
    """LoRA SFT, then DPO on the SFT model, merged and registered as a new `twin` version."""
    settings = get_settings()
    config = TrainingConfig.model_validate(training)
    inputs = get_step_context().inputs
    lineage = Lineage(
        datasets={name: str(inputs[name][0].id) for name in ("instruct", "preference") if inputs.get(name)},
        code_version=code_version(),
        authors=sorted({sample.author_full_name for sample in instruct.train}),
    )
    result = fine_tune(
        config,
        instruct.train,
        preference.train if preference is not None else None,
        tuner=build_fine_tuner(settings),
        tracker=build_tracker(settings),
        registry=build_registry(settings),
        output_root=settings.DATA_DIR.resolve() / "training",
        lineage=lineage,
    )
    summary = result.summary()
    log_metadata(metadata=summary)
    return summary
