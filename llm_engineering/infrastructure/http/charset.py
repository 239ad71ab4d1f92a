"""Decoding a web page's bytes the way a browser would, never defaulting to ISO-8859-1."""

from __future__ import annotations

import codecs
import re

_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]{0,100}?encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: browsers read these labels as windows-1252 (the WHATWG encoding standard)
_AS_CP1252 = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "us-ascii", "ascii", "l1"}
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([^\"';\s]+)", re.IGNORECASE)


def header_charset(content_type: str) -> str | None:
    """The `charset=` parameter of a Content-Type header, if any."""
    match = _HEADER_CHARSET.search(content_type)
    return match.group(1) if match else None


def decode_body(content: bytes, declared: str | None = None) -> str:
    """Decode by BOM, else the declared charset, else the meta/XML declaration, else UTF-8, else detected."""
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return content.decode(encoding, errors="replace")
    head = content[:4096]
    in_document = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    candidates = [declared, in_document.group(1).decode("ascii") if in_document else None, "utf-8"]
    for label in candidates:
        encoding = _codec(label)
        if encoding is None:
            continue
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - trafilatura pulls it in
        from_bytes = None
    if from_bytes is not None and (best := from_bytes(content).best()) is not None:
        return str(best)
    return content.decode(_codec(declared) or "utf-8", errors="replace")


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    if label in _AS_CP1252:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None
