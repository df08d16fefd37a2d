"""The Python API: ``summarize`` one document, or ``summarize_many`` concurrently.

    from summarizer import summarize
    s = summarize(Path("case.txt"))           # a file
    s = summarize("A 45-year-old woman ...")   # text
    s.patients[0].treatments[0].evidence[0].quote

The command line calls these same functions.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
import threading
from typing import Any, Coroutine, TypeVar, Union

from .backends import Backend, open_backend
from .config import Config
from .grounding import check_offsets, drop_bad_evidence
from .models import CaseSummary, InputInfo
from .reader import Source, read_file, source_from_text

T = TypeVar("T")
SourceLike = Union[str, os.PathLike, Source]


def to_source(source: SourceLike, max_bytes: int | None = None) -> Source:
    if isinstance(source, Source):
        return source
    if isinstance(source, os.PathLike):
        return read_file(source, max_bytes=max_bytes) if max_bytes else read_file(source)
    if isinstance(source, str):
        return source_from_text(source)
    raise TypeError(f"summarize() takes text, a path or a Source, not {type(source).__name__}")


def finalize(summary: CaseSummary, source: Source, backend: Backend) -> CaseSummary:
    """Fill the provenance every backend shares and guarantee valid evidence offsets."""
    from . import __version__

    prov = summary.provenance
    prov.backend = backend.name
    prov.model = backend.model
    prov.prompt = prov.prompt or backend.prompt
    prov.created_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    prov.input = InputInfo(path=source.path, id=source.id, sha256=source.sha256, chars=len(source.text))
    prov.summarizer_version = __version__
    problems = check_offsets(summary, source.text)
    if problems:  # never emit a quote that is not the source text
        drop_bad_evidence(summary, source.text)
        prov.warnings.extend(problems)
    return summary


async def summarize_with(backend: Backend, source: Source) -> CaseSummary:
    summary = await backend.summarize(source)
    return finalize(summary, source, backend)


async def asummarize(source: SourceLike, *, config: Config | None = None, **options: Any) -> CaseSummary:
    """Async ``summarize``: same arguments."""
    cfg = config or Config(**options)
    src = to_source(source, cfg.max_bytes)
    backend = open_backend(cfg)
    try:
        return await summarize_with(backend, src)
    finally:
        await backend.aclose()


def summarize(source: SourceLike, *, config: Config | None = None, **options: Any) -> CaseSummary:
    """Summarise one case report (text, a path or a Source) into a validated CaseSummary.

    Keyword options are those of ``Config`` (``backend="offline"``,
    ``model=...``, ``base_url=...``, ``mode="json"``...).
    """
    return run_sync(asummarize(source, config=config, **options))


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also inside a running event loop (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def runner() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    t = threading.Thread(target=runner)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
