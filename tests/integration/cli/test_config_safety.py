"""Run configs are data: no environment substitution, no YAML aliases, clear errors for wrong files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.domain.run_configs import EtlRunConfig
from tests.conftest import REPO_ROOT
from tools.configs import load_config


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "person.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_environment_placeholders_are_refused_before_zenml_sees_them(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LINKEDIN_PASSWORD", "hunter2")
    config = _write(
        tmp_path,
        "parameters:\n  user_full_name: Ada\n  links:\n    - https://evil.example/${LINKEDIN_PASSWORD}\n",
    )
    with pytest.raises(ConfigError, match=r"parameters\.links\[0\]` contains \$\{LINKEDIN_PASSWORD\}") as err:
        load_config(config, EtlRunConfig)
    assert "hunter2" not in str(err.value)


def test_placeholders_in_keys_and_nested_options_are_refused(tmp_path: Path) -> None:
    config = _write(
        tmp_path,
        "parameters:\n  user_full_name: Ada\n  links: [https://a.test/]\n"
        "  crawler_options: {medium: {cookie: '${HOME}'}}\n",
    )
    with pytest.raises(ConfigError, match=r"crawler_options\.medium\.cookie"):
        load_config(config, EtlRunConfig)


def test_yaml_alias_bomb_is_refused_without_expanding(tmp_path: Path) -> None:
    lines = ["a: &a ['x','x','x','x','x','x','x','x','x']"]
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefgh"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    bomb = "parameters:\n  user_full_name: Ada\n  links: [https://a.test/]\n  crawler_options:\n"
    bomb += "".join(f"    {line}\n" for line in lines)
    config = _write(tmp_path, bomb)
    assert config.stat().st_size < 1000
    with pytest.raises(ConfigError, match="aliases"):
        load_config(config, EtlRunConfig)


def test_a_folder_or_binary_file_as_config_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a file"):
        load_config(tmp_path, EtlRunConfig)
    binary = tmp_path / "model.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary, EtlRunConfig)


def test_a_config_with_nothing_to_crawl_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no links and no exports"):
        load_config(_write(tmp_path, "parameters:\n  user_full_name: Ada\n  links: []\n"), EtlRunConfig)
    exports_only = _write(
        tmp_path, "parameters:\n  user_full_name: Ada\n  exports: [sample/medium-export.zip]\n"
    )
    assert load_config(exports_only, EtlRunConfig).parameters.links == []


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO_ROOT,
        env={**_env(), "DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "ZENML_CONFIG_PATH"}


def test_cli_reports_config_errors_in_one_line(tmp_path: Path) -> None:
    result = _cli("tools.run", "etl", "-c", str(tmp_path), data_dir=tmp_path / "data")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: config {tmp_path} is not a file: "
                                                  "pass a YAML file, e.g. configs/*.yaml"]  # fmt: skip


def test_warehouse_import_keeps_valid_rows_and_lists_bad_ones(tmp_path: Path) -> None:
    user = {"_id": "0b0b0b0b-0000-4000-8000-000000000001", "first_name": "Ada", "last_name": "Sample"}
    article = {
        "platform": "blog", "author_id": user["_id"], "author_full_name": "Ada Sample",
        "content": {"Title": "t", "Content": "body"},
    }  # fmt: skip
    rows = [
        {**article, "_id": "0b0b0b0b-0000-4000-8000-00000000000a", "link": "https://blog.test/1"},
        {**article, "_id": "0b0b0b0b-0000-4000-8000-00000000000b"},  # no link
        "not a document",
        {**article, "_id": "0b0b0b0b-0000-4000-8000-00000000000c", "link": "https://blog.test/2"},
    ]
    export = tmp_path / "export"
    export.mkdir()
    (export / "UserDocument.json").write_text(json.dumps([user]))
    (export / "ArticleDocument.json").write_text(json.dumps(rows))
    data_dir = tmp_path / "data"
    result = _cli("tools.data_warehouse", "import", str(export), data_dir=data_dir)
    assert result.returncode == 1
    assert "ArticleDocument.json: 2 inserted, 0 updated, 0 unchanged, 2 invalid" in result.stdout
    assert "row 2 (0b0b0b0b-0000-4000-8000-00000000000b): `link` field required" in result.stderr
    assert "row 3 is not a JSON object" in result.stderr
    assert "Traceback" not in result.stderr
    again = _cli("tools.data_warehouse", "import", str(export), data_dir=data_dir)
    assert "ArticleDocument.json: 0 inserted, 0 updated, 2 unchanged, 2 invalid" in again.stdout


def test_two_first_runs_share_one_freshly_created_zenml_store(tmp_path: Path) -> None:
    script = (
        "from pathlib import Path; import sys\n"
        "from llm_engineering.settings import Settings\n"
        "from tools.zenml_env import prepare_zenml\n"
        "prepare_zenml(Settings(DATA_DIR=Path(sys.argv[1])))\n"
        "from zenml.client import Client; print(Client().active_stack_model.name)\n"
    )
    env = _env()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path / "data")],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-2000:]
        assert out.strip().splitlines()[-1] == "default"


def test_a_database_name_cannot_leave_data_dir(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.run", "summary"],
        cwd=REPO_ROOT,
        env={**_env(), "DATA_DIR": str(tmp_path), "DATABASE_NAME": "../../x"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: setting DATABASE_NAME string should match pattern")
    assert not (tmp_path.parent / "x").exists()


@pytest.mark.parametrize(
    ("args", "store"),
    [
        (("tools.run", "summary"), "warehouse"),
        (("tools.run", "vector-summary"), "vector store"),
        (("tools.rag", "retrieve", "anything"), "vector store"),
    ],
)
def test_an_unusable_data_dir_is_one_line(tmp_path: Path, args: tuple[str, ...], store: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("DATA_DIR cannot be made under a file")
    result = _cli(*args, data_dir=blocker / "data")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: the embedded {store} at {blocker / 'data'}")
    assert lines[0].endswith("set DATA_DIR to a writable folder")
