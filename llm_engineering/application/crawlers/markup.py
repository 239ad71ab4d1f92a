"""HTML -> markdown pieces every article crawler shares: code blocks, language tags, tidying.

Blog generators write code blocks in many shapes: one <span> or <div> per line, line numbers in a
gutter table or inline, copy buttons and toolbars around the block, a hidden raw copy next to the
highlighted one. `normalize_code_blocks` turns each into one plain `<pre data-lang="x">code</pre>`
by rule (gutters and line-number elements, per-line containers, copy buttons), not per site.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bs4 import Tag

_LANGUAGE_CLASS_PREFIXES = ("language-", "lang-", "highlight-source-", "highlight-")
_LANGUAGE_ATTRIBUTES = ("data-code-block-lang", "data-lang", "data-language", "data-enlighter-language")
#: "language" values that name no language (Sphinx `highlight-default`, `language-none`, ...)
_NO_LANGUAGE = {"default", "none", "nohighlight", "plain", "plaintext", "text", "txt", "raw"}
#: class tokens that mark a code block whose other tokens may hold a bare language name
#: (pandoc `sourceCode python`, dev.to `highlight python`, `syntaxhighlighter python`)
_BARE_LANGUAGE_MARKERS = {"sourcecode", "highlight", "syntaxhighlighter", "hljs", "enlighterjsraw", "chroma"}
#: blocks that hold code without any <pre> (WordPress SyntaxHighlighter, Enlighter)
_CODE_CONTAINER_CLASSES = {"syntaxhighlighter", "enlighter-default"}
#: line-number elements (gutter cells, inline numbers): removed when their text is only digits
_LINE_NUMBER_CLASS = re.compile(
    r"^(?:gutter|gl|linenos?|lineno|linenodiv|linenumbers?|line-?numbers?(?:-rows)?|lnt|ln|lnlinks"
    r"|hljs-ln-numbers?|code-?line-?numbers?(?:_\w+)?|enlighter-linenumbers?)$",
    re.I,
)
#: per-line elements: each is one line of code
_LINE_CLASS = re.compile(r"^(?:line|token-line|code-?line(?:_\w+)?|highlight-line|ec-line)$", re.I)
#: copy buttons, toolbars, fullscreen panels and hidden raw copies around or inside a block
_CHROME_CLASS = re.compile(r"copy|clipboard|toolbar|fullscreen|(?:^|[-_])raw$", re.I)
_CHROME_TAGS = {"button", "svg", "clipboard-copy", "script", "style", "template"}
_COPY_LABELS = {"copy", "copy code", "copied", "copied!", "copy to clipboard", "copied to clipboard"}
_BLOCK_TAGS = {
    "div",
    "p",
    "li",
    "ol",
    "ul",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "tr",
    "td",
    "th",
    "pre",
    "figure",
}
_TABLE_PARTS = {"td", "th", "tr", "tbody", "thead", "tfoot"}
#: never widen a code block into these
_CONTENT_ROOTS = {"body", "html", "article", "main", "section", "[document]"}
_DIGITS_ONLY = re.compile(r"[\d\s]*")
#: inside these, bs4 keeps whitespace-only text as written (see `parse_html`)
_KEEP_WHITESPACE_IN = frozenset(
    {"html", "body", "main", "article", "section", "figure", "pre", "textarea", "code", "span", "a", "i", "b"}
    | {"div", "p", "li", "ol", "ul", "table", "tbody", "thead", "tfoot", "tr", "td", "th"}
)


def primary_language(tag: object) -> str | None:
    """The primary subtag of a language tag, lower-cased ("en-US", "en_GB" -> "en"); None if empty."""
    if not tag:
        return None
    return str(tag).strip().replace("_", "-").split("-", 1)[0].lower() or None


def code_language(pre: Tag) -> str | None:
    """The language of a code block: a `data-code-block-lang` (Medium), `data-lang`,
    `data-language` or `data-enlighter-language` attribute, a `language-xxx` / `lang-xxx` /
    `highlight-xxx` class, or a bare language name next to a highlighter's marker class
    (`sourceCode python`), on the block or anything inside it."""
    elements = (pre, *pre.find_all(True))
    for element in elements:
        for attribute in _LANGUAGE_ATTRIBUTES:
            if lang := _language_name(element.get(attribute)):
                return lang
        for cls in _classes(element):
            for prefix in _LANGUAGE_CLASS_PREFIXES:
                if cls.lower().startswith(prefix) and (lang := _language_name(cls[len(prefix) :])):
                    return lang
    for element in elements:
        classes = _classes(element)
        if {cls.lower() for cls in classes} & _BARE_LANGUAGE_MARKERS:
            for cls in classes:
                if cls.lower() not in _BARE_LANGUAGE_MARKERS and _is_known_language(cls):
                    return cls.lower()
    return None


def normalize_code_blocks(root: Tag) -> list[Tag]:
    """Rewrite every code block under `root` in place as `<pre data-lang="x">code</pre>` and
    return those <pre> tags, in document order.

    Line numbers (gutter cells, inline number spans), copy buttons, toolbars and hidden raw copies
    go; per-line containers (`div.line`, `span.token-line`, `<li>`, ...) become newlines; `&nbsp;`
    indentation becomes spaces. The block replaces its whole wrapper (`div.highlight`,
    `div.sourceCode`, a gutter table, ...) as long as the wrapper holds nothing else; a block
    left empty is removed.
    """
    from bs4 import NavigableString, Tag

    for element in root.find_all(True):
        if element.decomposed:
            continue
        if any(_LINE_NUMBER_CLASS.match(cls) for cls in _classes(element)) and _is_line_number(element):
            element.decompose()
    blocks: list[Tag] = []
    for block in _code_roots(root):
        for junk in _chrome_inside(block):
            junk.decompose()
        wrapper = _wrapper_of(block)
        for junk in _chrome_inside(wrapper):
            junk.decompose()
        language = code_language(wrapper)
        code = "\n".join(line.rstrip() for line in _code_text(block).split("\n")).strip("\n")
        if not code.strip():
            wrapper.decompose()
            continue
        pre = Tag(name="pre", attrs={"data-lang": language} if language else {})
        pre.append(NavigableString(code))
        wrapper.replace_with(pre)
        blocks.append(pre)
    return blocks


def parse_html(html: str) -> Any:
    """BeautifulSoup of `html` that keeps whitespace-only text everywhere, not only in <pre>:
    highlighters without a <pre> indent code with spans of spaces, which bs4 would collapse."""
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser", preserve_whitespace_tags=_KEEP_WHITESPACE_IN)


def code_blocks_to_markdown(root: Tag, **markdownify_options: Any) -> str:
    """Markdown of `root` whose code blocks become fenced code with their language.
    Spaces at line ends and runs of blank lines outside code go."""
    from markdownify import markdownify

    normalize_code_blocks(root)
    markdown = markdownify(
        str(root),
        heading_style="ATX",
        bullets="-",
        code_language_callback=lambda el: el.get("data-lang") or "",
        **markdownify_options,
    )
    markdown = re.sub(r"[ \t]+\n", "\n", markdown)
    return re.sub(r"\n{3,}", "\n\n", markdown).strip()


# --- internals ------------------------------------------------------------------------------------


def _classes(element: Tag) -> list[str]:
    value = element.get("class") or []
    return value.split() if isinstance(value, str) else list(value)


def _language_name(value: object) -> str | None:
    name = str(value or "").strip().lower()
    if not name or name in _NO_LANGUAGE or not re.fullmatch(r"[a-z0-9][\w+#.-]{0,30}", name):
        return None
    return name


def _is_known_language(token: str) -> bool:
    """A bare class token that names a language pygments knows ("python", "go", "js")."""
    if not re.fullmatch(r"[A-Za-z][\w+#-]{0,20}", token) or token.lower() in _NO_LANGUAGE:
        return False
    try:
        from pygments.lexers import find_lexer_class_by_name
        from pygments.util import ClassNotFound
    except ImportError:  # pragma: no cover - pygments comes with rich
        return False
    try:
        find_lexer_class_by_name(token.lower())
    except ClassNotFound:
        return False
    return True


def _is_line_number(element: Tag) -> bool:
    """Only digits, and part of a code block (inside one, or next to one within a few levels)."""
    if not _DIGITS_ONLY.fullmatch(element.get_text()):
        return False
    if element.find_parent(["pre", "code"]):
        return True
    for level, ancestor in enumerate(element.parents):
        if level >= 6 or ancestor.name in _CONTENT_ROOTS:
            break
        if (
            ancestor.find(["pre", "code"])
            or set(map(str.lower, _classes(ancestor))) & _CODE_CONTAINER_CLASSES
        ):
            return True
    return False


def _is_code_container(element: Tag) -> bool:
    """A block that holds code without a <pre>: a highlighter's container, or an element whose
    children are two or more per-line elements (`div.token-line`, `div.line`)."""
    if {cls.lower() for cls in _classes(element)} & _CODE_CONTAINER_CLASSES:
        return True
    lines = [child for child in element.find_all(True, recursive=False) if _has_line_class(child)]
    return len(lines) >= 2 and element.find_parent("pre") is None


def _has_line_class(element: Tag) -> bool:
    return any(_LINE_CLASS.match(cls) for cls in _classes(element))


def _code_roots(root: Tag) -> list[Tag]:
    """Outermost <pre> elements and pre-less code containers, in document order."""
    roots: list[Tag] = []
    chosen: set[int] = set()
    for element in root.find_all(True):
        if element.name != "pre" and not _is_code_container(element):
            continue
        if any(id(parent) in chosen for parent in element.parents):
            continue
        roots.append(element)
        chosen.add(id(element))
    return roots


def _is_chrome(element: Tag) -> bool:
    if element.name in _CHROME_TAGS or element.get("role") == "button":
        return True
    if element.has_attr("hidden") or re.search(r"display\s*:\s*none", str(element.get("style") or "")):
        return True
    return any(_CHROME_CLASS.search(cls) for cls in _classes(element))


def _chrome_inside(element: Tag) -> list[Tag]:
    """Buttons, toolbars and hidden copies under `element` that hold no code root themselves."""
    found: list[Tag] = []
    for child in element.find_all(True):
        if any(parent in found for parent in child.parents):
            continue
        if _is_chrome(child) and child.name != "pre" and not _is_code_container(child):
            found.append(child)
    return found


def _text_outside(parent: Tag, child: Tag) -> str:
    """The visible text of `parent` outside `child`, buttons and toolbars."""
    from bs4 import NavigableString

    pieces: list[str] = []
    for text in parent.find_all(string=True):
        if type(text) is not NavigableString:
            continue  # comments, CDATA, doctype
        node = text.parent
        while node is not None and node is not parent and node is not child and not _is_chrome(node):
            node = node.parent
        if node is parent:
            pieces.append(str(text))
    return " ".join("".join(pieces).split())


def _wrapper_of(block: Tag) -> Tag:
    """The widest ancestor of `block` that holds nothing but it (and copy buttons or labels)."""
    path = [block]
    current = block
    while current.parent is not None and current.parent.name not in _CONTENT_ROOTS:
        parent = current.parent
        outside = _text_outside(parent, current)
        if outside and outside.lower() not in _COPY_LABELS:
            break
        path.append(parent)
        current = parent
    while len(path) > 1 and path[-1].name in _TABLE_PARTS:
        path.pop()
    return path[-1]


def _is_line(element: Tag) -> bool:
    if _has_line_class(element):
        return True
    return element.name in {"div", "p", "li"} and element.find(list(_BLOCK_TAGS)) is None


def _code_text(block: Tag) -> str:
    """The text of a code block with one newline per line element and <br>, `&nbsp;` as spaces."""
    from bs4 import NavigableString

    parts: list[str] = []

    def ends_line() -> bool:
        last = next((part for part in reversed(parts) if part), "")
        return not last or last.endswith("\n")

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) is not NavigableString:
                    continue  # comments, CDATA, doctype
                text = str(child)
                if not text.strip() and "\n" in text and node.name in _BLOCK_TAGS - {"pre"}:
                    continue  # source formatting between block elements
                parts.append(text.replace("\xa0", " "))
                continue
            if child.name == "br":
                parts.append("\n")
                continue
            line = _is_line(child)
            block = line or child.name in _BLOCK_TAGS
            if block and not ends_line():
                parts.append("\n")
            start = len(parts)
            walk(child)
            line_unended = line and not "".join(parts[start:]).endswith("\n")
            if line_unended or (block and not ends_line()):
                parts.append("\n")

    walk(block)
    return "".join(parts)
