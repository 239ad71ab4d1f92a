"""Fenced-code language tags from file names."""

from __future__ import annotations

from pathlib import PurePosixPath

#: file extension (or file name) -> fenced-code language
_LANGUAGES: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".ipynb": "json", ".js": "javascript", ".mjs": "javascript",
    ".jsx": "jsx", ".ts": "typescript", ".tsx": "tsx", ".java": "java", ".kt": "kotlin",
    ".scala": "scala", ".go": "go", ".rs": "rust", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp",
    ".hpp": "cpp", ".cs": "csharp", ".rb": "ruby", ".php": "php", ".swift": "swift", ".r": "r",
    ".jl": "julia", ".lua": "lua", ".sh": "bash", ".bash": "bash", ".zsh": "bash", ".ps1": "powershell",
    ".sql": "sql", ".html": "html", ".htm": "html", ".css": "css", ".scss": "scss", ".md": "markdown",
    ".rst": "rst", ".txt": "text", ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml",
    ".ini": "ini", ".cfg": "ini", ".xml": "xml", ".proto": "protobuf", ".tf": "hcl",
    ".dockerfile": "dockerfile", "dockerfile": "dockerfile", "makefile": "makefile", ".mk": "makefile",
    ".env": "bash",
}  # fmt: skip


def language_for(path: str) -> str:
    """Fenced-code language from a file name; "" when unknown."""
    name = PurePosixPath(path).name.lower()
    return _LANGUAGES.get(name) or _LANGUAGES.get(PurePosixPath(name).suffix, "")
