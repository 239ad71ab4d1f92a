"""The `twin` registry on a real folder and a real ZenML store (the session's temporary one)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from zenml import Model, pipeline, step

from llm_engineering.domain.training import ModelCard, ModelVersionNotFound, RegistryError
from llm_engineering.infrastructure.registry import LocalModelRegistry, ZenMLModelCatalog
from tests.conftest import REPO_ROOT


def _weights(path: Path, marker: str = "a") -> Path:
    """A transformers-shaped folder; the registry copies files and never loads them."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model_type": "llama", "marker": marker}))
    (path / "model.safetensors").write_bytes(marker.encode() * 64)
    (path / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    (path / "checkpoint-10").mkdir()  # training checkpoints stay behind
    (path / "checkpoint-10" / "optimizer.pt").write_bytes(b"x")
    return path


def _card(**extra: object) -> ModelCard:
    return ModelCard(
        base_model="smollm2",
        stage_of_training=["sft", "dpo"],
        datasets={"instruct_datasets": "sha256:abc"},
        hyperparameters={"sft": {"learning_rate": 3e-4, "lora": {"r": 16}}, "dpo": {"beta": 0.1}},
        metrics={"train_loss": 1.25},
        code_version="deadbeef",
        authors=["Ada Sample"],
        **extra,  # type: ignore[arg-type]
    )


def test_register_copies_weights_and_writes_the_card(tmp_path: Path) -> None:
    registry = LocalModelRegistry(tmp_path / "twin")
    first = registry.register(_weights(tmp_path / "run1"), _card())
    second = registry.register(_weights(tmp_path / "run2", "b"), _card())

    assert [v.version for v in registry.list_versions()] == ["1", "2"]
    assert first.weights_dir == tmp_path / "twin" / "1"
    assert (second.weights_dir / "model.safetensors").read_bytes() == b"b" * 64
    assert not (first.weights_dir / "checkpoint-10").exists()
    assert (tmp_path / "run1" / "config.json").exists(), "copy, not move, by default"
    readme = (first.weights_dir / "README.md").read_text()
    expected_in_card = ["smollm2", "sft -> dpo", "instruct_datasets", "sha256:abc"]
    expected_in_card += ["learning_rate", "train_loss"]
    for expected in expected_in_card:
        assert expected in readme
    assert registry.get("2").card == _card().model_copy(update={"created_at": second.card.created_at})
    assert registry.production() is None
    assert not [p for p in (tmp_path / "twin").iterdir() if p.name.startswith(".") and p.is_dir()]


def test_bad_inputs_say_what_to_do(tmp_path: Path) -> None:
    registry = LocalModelRegistry(tmp_path / "twin")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RegistryError, match=r"no config\.json"):
        registry.register(tmp_path / "empty", _card())
    registry.register(_weights(tmp_path / "w"), _card())
    with pytest.raises(ModelVersionNotFound, match=r"'7' is not registered \(known: 1\)"):
        registry.get("7")
    with pytest.raises(ModelVersionNotFound):
        registry.promote("../1")
    with pytest.raises(RegistryError, match="stage 'prod' is unknown"):
        registry.promote("1", "prod")


def test_promote_moves_production_and_archives_the_previous(tmp_path: Path) -> None:
    registry = LocalModelRegistry(tmp_path / "twin")
    for i in range(2):
        registry.register(_weights(tmp_path / f"w{i}", str(i)), _card())
    registry.promote("1", "staging")
    registry.promote("1")
    assert registry.production().version == "1"  # type: ignore[union-attr]
    promoted = registry.promote("2")
    assert promoted.stage == "production"
    assert {v.version: v.stage for v in registry.list_versions()} == {"1": "archived", "2": "production"}
    assert "Stage in the registry:** production" in (promoted.weights_dir / "README.md").read_text()

    updated = registry.update_metrics("2", {"perplexity": 12.5})
    assert updated.card.metrics == {"train_loss": 1.25, "perplexity": 12.5}
    assert registry.get("2").card.metrics["perplexity"] == 12.5


def test_versions_are_mirrored_in_zenml_with_their_artifacts(tmp_path: Path) -> None:
    from zenml import save_artifact
    from zenml.client import Client

    client = Client()
    dataset = save_artifact(data={"train": ["a"], "test": ["b"]}, name="instruct_datasets_for_registry_test")
    registry = LocalModelRegistry(tmp_path / "twin", ZenMLModelCatalog(model_name="twin_registry_test"))
    lineage = {"instruct_datasets": str(dataset.id), "other": "sha256:x"}
    card = _card().model_copy(update={"datasets": lineage})

    version = registry.register(_weights(tmp_path / "w"), card)
    registry.update_metrics(version.version, {"perplexity": 9.5})
    registry.promote(version.version)

    zen_version = client.get_model_version("twin_registry_test", version.version)
    assert str(zen_version.stage) == "production"
    links = client.list_model_version_artifact_links(model_version_id=zen_version.id).items
    linked = {link.artifact_version.artifact.name for link in links}
    assert linked == {"instruct_datasets_for_registry_test", "twin_weights"}
    weights = {link.artifact_version.artifact.name: link.artifact_version for link in links}["twin_weights"]
    manifest = weights.load()
    assert manifest["path"] == str(version.weights_dir)
    assert set(manifest["files"]) == {"config.json", "model.safetensors", "tokenizer_config.json"}
    metadata = zen_version.run_metadata
    assert metadata["base_model"] == "smollm2"
    assert metadata["metrics"]["perplexity"] == 9.5

    second = registry.register(_weights(tmp_path / "w2", "z"), _card())
    assert second.version == str(int(version.version) + 1)


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.run", "models", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_models_cli_lists_and_promotes(data_dir: Path, tmp_path: Path) -> None:
    from zenml.client import Client

    from llm_engineering.infrastructure.registry import build_registry
    from llm_engineering.settings import Settings

    registry = build_registry(Settings(_env_file=None, DATA_DIR=data_dir))
    version = registry.register(_weights(tmp_path / "w"), _card()).version

    promoted = _cli("promote", version, data_dir=data_dir)
    assert promoted.returncode == 0, promoted.stderr
    assert f"twin version {version} is now production" in promoted.stdout
    assert str(Client().get_model_version("twin", version).stage) == "production"

    listed = _cli("list", "--json", data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["version"], row["stage"], row["card"]["base_model"]) == (version, "production", "smollm2")

    missing = _cli("promote", "999", data_dir=data_dir)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1] == (
        f"error: model version '999' is not registered (known: {version}); see `models list`"
    )


@step
def register_here(root: str, weights: str) -> str:
    registry = LocalModelRegistry(Path(root), ZenMLModelCatalog(model_name="twin_step_test"))
    return registry.register(Path(weights), _card()).version


@pipeline(model=Model(name="twin_step_test"), enable_cache=False)
def train_and_register(root: str, weights: str) -> None:
    register_here(root=root, weights=weights)


def test_inside_a_step_the_runs_own_model_version_is_used(tmp_path: Path) -> None:
    from zenml.client import Client

    root, weights = tmp_path / "twin", _weights(tmp_path / "w")
    run = Client().get_pipeline_run(train_and_register(root=str(root), weights=str(weights)).id)
    version = run.steps["register_here"].outputs["output"][0].load()
    assert str(run.model_version.name) == version and (root / version / "model.safetensors").exists()
    links = Client().list_model_version_artifact_links(model_version_id=run.model_version.id).items
    assert {link.artifact_version.artifact.name for link in links} >= {"twin_weights"}
    assert [v.name for v in Client().list_model_versions(model="twin_step_test").items] == [version]
