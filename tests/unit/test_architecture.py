"""The layering the project promises, checked on the source: ports in application, adapters outside.

- `domain/` imports only the standard library, pydantic and itself;
- `application/` imports no adapter library and nothing from `infrastructure/`, even lazily;
- the package's module-level import graph has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "llm_engineering"

ADAPTER_LIBRARIES = {
    "httpx", "selenium", "qdrant_client", "qdrant_edge", "pymongo", "litemongo", "bson", "torch",
    "transformers", "sentence_transformers", "onnxruntime", "onnx", "fastapi", "starlette", "uvicorn",
    "openai", "opik", "comet_ml", "sagemaker", "boto3", "botocore", "trl", "peft", "datasets", "zenml",
}  # fmt: skip


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, node: ast.ImportFrom, *, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")  # a relative import counts from the containing package
    anchor = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*anchor, node.module] if node.module else anchor)


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """Modules `path` imports; `top_level_only` skips function bodies and `if TYPE_CHECKING:` blocks."""
    module = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if top_level_only and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if top_level_only and isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                target = _resolve(module, child, is_package=path.name == "__init__.py")
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in child.names)
            visit(child)

    visit(tree)
    return found


def _sources(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


@pytest.mark.parametrize("path", _sources(PACKAGE / "application"), ids=lambda p: str(p.relative_to(ROOT)))
def test_application_imports_no_adapter(path: Path) -> None:
    imported = _imports(path, top_level_only=False)
    libraries = sorted({name.split(".")[0] for name in imported} & ADAPTER_LIBRARIES)
    infrastructure = sorted(n for n in imported if n.startswith("llm_engineering.infrastructure"))
    assert not libraries, f"{path.name} imports adapter libraries {libraries}: put them behind a port"
    assert not infrastructure, f"{path.name} imports infrastructure {infrastructure[:3]}: use a port"


@pytest.mark.parametrize("path", _sources(PACKAGE / "domain"), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_is_pure(path: Path) -> None:
    imported = {name for name in _imports(path, top_level_only=False) if name.startswith("llm_engineering")}
    outside = sorted(n for n in imported if not n.startswith("llm_engineering.domain"))
    assert not outside, f"{path.name} imports {outside[:3]}: the domain depends on nothing of ours"


def _package_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in _sources(PACKAGE)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for target in _imports(path, top_level_only=True):
            # `from a.b import c` names either module a.b.c or attribute c of a.b: take the module
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges.add(target)
        graph[name] = edges
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_package_import_graph_has_no_cycle() -> None:
    graph = _package_graph()
    assert len(graph) > 30  # the walk really found the package
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_cycle_finder_finds_a_cycle() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None
