"""Optional push of a registered version to the Hugging Face Hub.

UNTESTED HERE: this machine has no route to the Hub. It is a thin call of huggingface_hub's own
`create_repo` + `upload_folder`, kept small for that reason.
"""

from __future__ import annotations

from pydantic import SecretStr

from llm_engineering.domain.training import ModelVersion, RegistryError


def push_to_hub(version: ModelVersion, repo_id: str, token: SecretStr | None, *, private: bool = True) -> str:
    """Upload the version's folder (weights, tokenizer, README.md card); returns the commit URL."""
    if token is None or not token.get_secret_value():
        raise RegistryError("pushing to the Hub needs HUGGINGFACE_ACCESS_TOKEN: set it in .env")
    from huggingface_hub import HfApi

    api = HfApi(token=token.get_secret_value())
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(version.weights_dir),
        commit_message=f"twin version {version.version}",
        ignore_patterns=["model_card.json"],
    )
    return str(info)
