"""Reading input: files, folders, stdin and JSONL into ``Source`` objects.

The decoded text of a ``Source`` is the reference for every evidence offset:
nothing downstream may clean it in place. Decoding tries, in order: a BOM
(UTF-8, UTF-16, UTF-32), strict UTF-8, cp1252, then latin-1; input that looks
binary (NUL bytes, many control characters, known binary magic numbers) is
refused with a one-line error instead.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Union

DEFAULT_MAX_BYTES = 2_000_000


class InputError(Exception):
    """A problem with one input, phrased as a one-line message for the user."""

    def __init__(self, message: str, *, source_id: str | None = None):
        super().__init__(message)
        self.source_id = source_id


def one_line(x: object, limit: int = 300) -> str:
    """The first line of an error (or any message), for one-line reports."""
    s = str(x).strip()
    return s.splitlines()[0][:limit] if s else type(x).__name__


@dataclass(frozen=True)
class Source:
    """One input document: its stable id and its decoded text (the offsets' reference)."""

    text: str
    id: str = "text"
    path: str | None = None
    encoding: str = "utf-8"
    sha256: str = field(default="")

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", text_sha256(self.text))


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_MAGIC = (
    (b"%PDF-", "a PDF file: convert it to text first (e.g. `pdftotext file.pdf`)"),
    (b"PK\x03\x04", "a ZIP/Office file: save it as plain text first"),
    (b"\xd0\xcf\x11\xe0", "an old Office file: save it as plain text first"),
    (b"\x89PNG", "a PNG image, not text"),
    (b"\xff\xd8\xff", "a JPEG image, not text"),
    (b"GIF8", "a GIF image, not text"),
    (b"\x1f\x8b", "a gzip archive: decompress it first"),
    (b"{\\rtf", "an RTF file: save it as plain text first"),
)

_ALLOWED_CONTROLS = set("\t\n\r\f\v")


def decode_bytes(data: bytes, name: str = "input") -> tuple[str, str]:
    """Decode raw bytes to text; return ``(text, encoding)`` or raise InputError."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise InputError(f"{name}: starts with a {encoding} byte-order mark but does not decode ({exc.reason})") from None
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise InputError(f"{name}: looks like {what}")
    if b"\x00" in data:
        raise InputError(f"{name}: contains NUL bytes, so it looks binary; give a plain-text file")
    for encoding in ("utf-8", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text, encoding = data.decode("latin-1"), "latin-1"
    controls = sum(1 for ch in text if ch < " " and ch not in _ALLOWED_CONTROLS)
    if controls and controls > max(8, len(text) // 100):
        raise InputError(f"{name}: has {controls} control characters, so it looks binary; give a plain-text file")
    return text, encoding


def _human(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{n:,} bytes"


def _check_text(text: str, name: str) -> None:
    if not text.strip():
        raise InputError(f"{name}: is empty (nothing but whitespace); give a file with the abstract's text")


def source_from_bytes(data: bytes, *, id: str, path: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> Source:
    name = path or id
    if len(data) > max_bytes:
        raise InputError(
            f"{name}: is {_human(len(data))}, over the {_human(max_bytes)} limit; raise it with --max-bytes",
            source_id=id,
        )
    try:
        text, encoding = decode_bytes(data, name)
        _check_text(text, name)
    except InputError as exc:
        exc.source_id = id
        raise
    return Source(text=text, id=id, path=path, encoding=encoding)


def source_from_text(text: str, *, id: str = "text", path: str | None = None) -> Source:
    _check_text(text, path or id)
    return Source(text=text, id=id, path=path, encoding="str")


def read_file(path: Union[str, os.PathLike], *, id: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> Source:
    p = Path(path)
    sid = id or p.as_posix()
    if not p.exists():
        raise InputError(f"{p}: no such file", source_id=sid)
    if p.is_dir():
        raise InputError(f"{p}: is a folder; pass it as an input to read its *.txt files", source_id=sid)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise InputError(
                f"{p}: is {_human(size)}, over the {_human(max_bytes)} limit; raise it with --max-bytes",
                source_id=sid,
            )
        data = p.read_bytes()
    except PermissionError:
        raise InputError(f"{p}: permission denied", source_id=sid) from None
    except OSError as exc:
        raise InputError(f"{p}: cannot be read ({exc.strerror or exc})", source_id=sid) from None
    return source_from_bytes(data, id=sid, path=str(p), max_bytes=max_bytes)


def read_stream(stream: BinaryIO, *, id: str = "stdin", max_bytes: int = DEFAULT_MAX_BYTES) -> Source:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError(f"{id}: is over the {_human(max_bytes)} limit; raise it with --max-bytes", source_id=id)
    return source_from_bytes(data, id=id, max_bytes=max_bytes)


def read_jsonl(path: Union[str, os.PathLike], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Union[Source, InputError]]:
    """Yield one Source per ``{"id", "text"}`` line of a JSONL file (errors are yielded, not raised)."""
    p = Path(path)
    if not p.is_file():
        yield InputError(f"{p}: no such file", source_id=str(p))
        return
    seen: set[str] = set()
    with p.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            where = f"{p}:{lineno}"
            try:
                obj = json.loads(raw)
            except ValueError:
                yield InputError(f"{where}: not valid JSON; each line must be an object with \"id\" and \"text\"", source_id=where)
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                yield InputError(f"{where}: needs a string \"text\" field", source_id=where)
                continue
            sid = str(obj.get("id") or where)
            if sid in seen:
                yield InputError(f"{where}: duplicate id {sid!r}; ids must be unique", source_id=sid)
                continue
            seen.add(sid)
            text = obj["text"]
            if len(text.encode("utf-8")) > max_bytes:
                yield InputError(f"{where}: text is over the {_human(max_bytes)} limit; raise it with --max-bytes", source_id=sid)
                continue
            try:
                yield source_from_text(text, id=sid, path=str(p))
            except InputError as exc:
                exc.source_id = sid
                yield exc


def iter_sources(
    inputs: Iterable[str],
    *,
    jsonl: Iterable[str] = (),
    glob: str = "*.txt",
    max_bytes: int = DEFAULT_MAX_BYTES,
    stdin: BinaryIO | None = None,
) -> Iterator[Union[Source, InputError]]:
    """Expand command-line inputs into Sources, in order; problems are yielded as InputError.

    ``-`` reads standard input; a folder means its files matching ``glob``,
    recursively, sorted; anything else is read as a text file whatever its
    extension. Then the documents of each ``jsonl`` file.
    """
    yield from _iter_inputs(inputs, glob=glob, max_bytes=max_bytes, stdin=stdin)
    for path in jsonl:
        yield from read_jsonl(path, max_bytes=max_bytes)


def _iter_inputs(inputs: Iterable[str], *, glob: str, max_bytes: int, stdin: BinaryIO | None) -> Iterator[Union[Source, InputError]]:
    for item in inputs:
        if item == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
            try:
                yield read_stream(stream, max_bytes=max_bytes)
            except InputError as exc:
                yield exc
            continue
        p = Path(item)
        if p.is_dir():
            files = sorted(f for f in p.rglob(glob) if f.is_file())
            if not files:
                yield InputError(f"{p}: folder holds no {glob} files", source_id=p.as_posix())
                continue
            for f in files:
                try:
                    yield read_file(f, max_bytes=max_bytes)
                except InputError as exc:
                    yield exc
            continue
        try:
            yield read_file(p, max_bytes=max_bytes)
        except InputError as exc:
            yield exc
