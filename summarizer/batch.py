"""Batches: many documents at once, streamed to disk, resumable.

One async implementation (``arun_batch``); the sync API and the CLI wrap it.

* A pool of ``concurrency`` workers takes documents from a queue, so 5,000
  inputs never become 5,000 tasks or 5,000 summaries in memory.
* Each result is handed to the writers as soon as it is ready: JSON Lines are
  appended and flushed line by line, so a run killed at any moment leaves a
  valid file (at most a trailing partial line).
* Resume: documents already in the output with the same id and content hash
  are skipped; a trailing partial line, earlier error lines and superseded
  versions are removed first, so a rerun ends with every document exactly once.
* A failure in one document is recorded and never stops the others.
"""

from __future__ import annotations

import asyncio
import csv
import gc
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .backends import Backend
from .models import CaseSummary, Usage
from .prompt import FENCED_DOCUMENT
from .reader import InputError, Source, one_line
from .render import safe_filename

CSV_COLUMNS = [
    "document_id", "title", "patient", "age_years", "sex", "condition", "index_treatment", "courses",
    "response", "outcome", "adverse_events", "prior_treatments",
]


@dataclass
class DocResult:
    id: str
    sha256: str | None
    summary: CaseSummary | None = None
    error: str | None = None
    skipped: bool = False
    exception: BaseException | None = field(default=None, repr=False)  # what ``error`` describes

    @property
    def from_cache(self) -> bool:
        u = self.summary.provenance.usage if self.summary else None
        return bool(u and u.cached_requests and not u.requests)


@dataclass
class BatchStats:
    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    cached: int = 0
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0

    def line(self) -> str:
        u = self.usage
        tokens = f"{u.total_tokens:,} tokens ({u.prompt_tokens:,} prompt + {u.completion_tokens:,} completion)"
        skipped = f", {self.skipped} already done" if self.skipped else ""
        return (f"{self.done} done, {self.failed} failed, {self.cached} from cache{skipped}; "
                f"{u.requests} requests, {tokens}; {self.seconds:.1f} s")


# ---------------------------------------------------------------------------
# Running


async def arun_batch(
    items: Iterable[Source | InputError],
    backend: Backend,
    *,
    concurrency: int = 8,
    on_result: Callable[[DocResult], None] | None = None,
    skip: Callable[[Source], bool] | None = None,
) -> BatchStats:
    """Summarise every item with ``backend``, ``concurrency`` at a time; report each result as it lands."""
    from .api import summarize_with

    stats = BatchStats()
    # Everything alive now (modules, vocabularies) lives as long as the batch: keep it
    # out of the collector's full scans, which would otherwise stall the event loop.
    gc.freeze()
    queue: asyncio.Queue = asyncio.Queue(maxsize=max(1, concurrency) * 4)
    t0 = time.perf_counter()

    def report(r: DocResult) -> None:
        if r.skipped:
            stats.skipped += 1
        elif r.error:
            stats.failed += 1
        else:
            stats.done += 1
            stats.cached += r.from_cache
            stats.usage = stats.usage.add(r.summary.provenance.usage)
        if on_result:
            on_result(r)

    async def worker() -> None:
        while True:
            item = await queue.get()
            try:
                if item is None:
                    return
                if isinstance(item, InputError):
                    report(DocResult(item.source_id or "?", None, error=str(item), exception=item))
                    continue
                if skip is not None and skip(item):
                    report(DocResult(item.id, item.sha256, skipped=True))
                    continue
                try:
                    summary = await summarize_with(backend, item)
                    report(DocResult(item.id, item.sha256, summary=summary))
                except Exception as exc:  # one document's failure never stops the others
                    report(DocResult(item.id, item.sha256, error=one_line(exc), exception=exc))
            finally:
                queue.task_done()

    n_workers = max(1, concurrency) * (2 if backend.limits_requests else 1)
    workers = [asyncio.create_task(worker()) for _ in range(n_workers)]
    try:
        for item in items:
            stats.total += 1
            await queue.put(item)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
    finally:
        for w in workers:
            w.cancel()
        stats.seconds = time.perf_counter() - t0
    return stats


def run_batch(items, backend: Backend, **kw) -> BatchStats:
    """Sync wrapper of ``arun_batch`` (works inside a running event loop too)."""
    from .api import run_sync

    return run_sync(arun_batch(items, backend, **kw))


# ---------------------------------------------------------------------------
# Outputs


def summary_line(result: DocResult) -> str:
    if result.error:
        return json.dumps({"id": result.id, "error": result.error, "sha256": result.sha256}, ensure_ascii=False)
    data = result.summary.model_dump(mode="json")
    return json.dumps({"id": result.id, **data}, ensure_ascii=False)


def prepare_jsonl(path: str | os.PathLike) -> dict[str, str]:
    """Make an existing JSON Lines output resumable; return {id: input sha256} of the documents done.

    Removes a trailing partial line (a run killed mid-write), error lines (those
    documents are tried again) and duplicate ids, rewriting the file atomically
    only when something changed."""
    p = Path(path)
    if not p.exists():
        return {}
    raw = p.read_bytes()
    keep: list[bytes] = []
    done: dict[str, str] = {}
    changed = False
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            changed = True  # a partial line from an interrupted run
            continue
        if not isinstance(obj, dict) or "id" not in obj or obj.get("error") or obj["id"] in done:
            changed = True
            continue
        done[obj["id"]] = ((obj.get("provenance") or {}).get("input") or {}).get("sha256") or ""
        keep.append(line)
    if changed or (raw and not raw.endswith(b"\n")):
        _replace_file(p, b"".join(x + b"\n" for x in keep))
    return done


def drop_ids(path: str | os.PathLike, ids: set[str]) -> None:
    """Remove the lines of ``ids`` (superseded versions of changed documents)."""
    if not ids:
        return
    p = Path(path)
    lines = [ln for ln in p.read_bytes().split(b"\n") if ln.strip()]
    kept = [ln for ln in lines if json.loads(ln).get("id") not in ids]
    _replace_file(p, b"".join(x + b"\n" for x in kept))


def _replace_file(path: Path, data: bytes) -> None:
    """Write a file whole or not at all (a kill mid-write leaves the old one)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def csv_rows(doc_id: str, summary: CaseSummary) -> list[dict[str, Any]]:
    """The individual-patient table reviewers pool: one row per patient."""
    rows = []
    for p in summary.patients:
        index = p.index_treatment
        prior = [t.name for t in p.treatments if t.role == "prior"]
        ae = p.adverse_events.status + (": " + "; ".join(p.adverse_events.events) if p.adverse_events.events else "")
        rows.append({
            "document_id": doc_id,
            "title": summary.document.title or "",
            "patient": p.label,
            "age_years": "" if p.age_years is None else f"{p.age_years:g}",
            "sex": p.sex or "",
            "condition": summary.study.condition or "",
            "index_treatment": index.name if index else "",
            "courses": "" if not index or index.courses is None else index.courses,
            "response": index.response if index else "",
            "outcome": p.outcome.status,
            "adverse_events": ae,
            "prior_treatments": "; ".join(prior),
        })
    return rows


def write_csv_from_jsonl(jsonl: str | os.PathLike, csv_path: str | os.PathLike) -> int:
    """Rebuild the patient table from a JSON Lines output (complete after a resume)."""
    n = 0
    tmp = Path(str(csv_path) + ".tmp")
    with open(jsonl, encoding="utf-8") as src, open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for line in src:
            if not line.strip():
                continue
            obj = json.loads(line)
            if obj.get("error"):
                continue
            doc_id = obj.pop("id")
            for row in csv_rows(doc_id, CaseSummary.model_validate(obj)):
                w.writerow(row)
                n += 1
    os.replace(tmp, csv_path)
    return n


class Writers:
    """Every output of a run, fed one result at a time (append + flush)."""

    def __init__(self, *, jsonl: str | None = None, errors: str | None = None, csv_path: str | None = None,
                 out_dir: str | None = None, html_dir: str | None = None, sources: dict[str, Source] | None = None):
        self.jsonl_path, self.errors_path, self.csv_path = jsonl, errors, csv_path
        self.out_dir = Path(out_dir) if out_dir else None
        self.html_dir = Path(html_dir) if html_dir else None
        self.sources = sources if sources is not None else {}
        self._jsonl = open(jsonl, "a", encoding="utf-8", newline="\n") if jsonl else None
        self._errors = open(errors, "a", encoding="utf-8", newline="\n") if errors else None
        self._csv = None
        if csv_path and not jsonl:  # without a JSONL output, the table is written as results land
            self._csv_fh = open(csv_path, "w", encoding="utf-8", newline="")
            self._csv = csv.DictWriter(self._csv_fh, fieldnames=CSV_COLUMNS)
            self._csv.writeheader()
        for d in (self.out_dir, self.html_dir):
            if d:
                d.mkdir(parents=True, exist_ok=True)

    def __call__(self, r: DocResult) -> None:
        if r.skipped:
            return
        # failures go to the errors file when there is one, else into the JSONL
        fh = (self._errors or self._jsonl) if r.error else self._jsonl
        if fh:
            fh.write(summary_line(r) + "\n")
            fh.flush()
        if r.error:
            return
        if self._csv:
            for row in csv_rows(r.id, r.summary):
                self._csv.writerow(row)
            self._csv_fh.flush()
        if self.out_dir:
            doc = json.dumps({"id": r.id, **r.summary.model_dump(mode="json")}, ensure_ascii=False, indent=2)
            _replace_file(self.out_dir / safe_filename(r.id, ".json"), doc.encode("utf-8"))
        if self.html_dir and r.id in self.sources:
            from .viewer import html_filename, write_html

            write_html(r.summary, self.sources[r.id].text, self.html_dir / html_filename(r.id), title=r.id)

    def close(self) -> None:
        for fh in (self._jsonl, self._errors, getattr(self, "_csv_fh", None)):
            if fh:
                fh.close()
        if self.csv_path and self.jsonl_path:
            write_csv_from_jsonl(self.jsonl_path, self.csv_path)


def out_dir_done(out_dir: str | os.PathLike) -> dict[str, str]:
    done: dict[str, str] = {}
    d = Path(out_dir)
    if not d.is_dir():
        return done
    for f in d.glob("*.json"):
        try:
            obj = json.loads(f.read_text(encoding="utf-8"))
            done[obj["id"]] = obj["provenance"]["input"]["sha256"]
        except (ValueError, KeyError, TypeError):
            continue
    return done


# ---------------------------------------------------------------------------
# Progress


class Progress:
    """A progress bar on stderr (rich): done / failed / cached, rate and ETA. Silent when not a terminal."""

    def __init__(self, total: int, *, enabled: bool):
        self.enabled = enabled
        self.counts = {"done": 0, "failed": 0, "cached": 0, "skipped": 0}
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn

        self._p = RichProgress(
            TextColumn("[bold]summarize[/]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"), TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True,
        )
        self._task = self._p.add_task("docs", total=total, counts="", rate="")
        self._t0 = time.perf_counter()
        self._p.start()

    def __call__(self, r: DocResult) -> None:
        key = "skipped" if r.skipped else "failed" if r.error else "done"
        self.counts[key] += 1
        if not r.error and not r.skipped and r.from_cache:
            self.counts["cached"] += 1
        if not self.enabled:
            return
        c = self.counts
        elapsed = max(1e-6, time.perf_counter() - self._t0)
        processed = c["done"] + c["failed"]
        self._p.update(self._task, advance=1, rate=f"{processed / elapsed:.1f} docs/s",
                       counts=f"{c['done']} done, {c['failed']} failed, {c['cached']} cached" + (f", {c['skipped']} skipped" if c["skipped"] else ""))

    def say(self, message: str) -> None:
        """A line on stderr that does not tear the bar."""
        if self.enabled:
            self._p.console.print(message, markup=False, highlight=False)
        else:
            print(message, file=sys.stderr)

    def close(self) -> None:
        if self.enabled:
            self._p.stop()


# ---------------------------------------------------------------------------
# OpenAI Batch API / vLLM run-batch


def batch_request_line(custom_id: str, body: dict[str, Any]) -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}, ensure_ascii=False)


def document_from_request(body: dict[str, Any]) -> str | None:
    """The document a prepared request carries (verbatim, between its fence lines)."""
    for m in reversed(body.get("messages") or []):
        content = m.get("content")
        if m.get("role") == "user" and isinstance(content, str):
            found = FENCED_DOCUMENT.search(content)
            if found:
                return found.group(2)
    return None


def read_batch_results(paths: Iterable[str | os.PathLike]) -> dict[str, dict[str, Any]]:
    """custom_id -> result line, from OpenAI / vLLM output and error files (last one wins)."""
    out: dict[str, dict[str, Any]] = {}
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    raise InputError(f"{path}:{lineno}: not valid JSON") from None
                cid = obj.get("custom_id")
                if cid is None:
                    raise InputError(f"{path}:{lineno}: no custom_id")
                prev = out.get(cid)
                # a success beats an error for the same id (e.g. an error file from an earlier attempt)
                if prev is None or result_error(prev) is not None:
                    out[cid] = obj
    return out


def collect_results(bodies: dict[str, dict[str, Any]], results: dict[str, dict[str, Any]], backend) -> Iterator[DocResult]:
    """One DocResult per prepared request: its reply parsed, grounded and validated by
    ``backend.from_batch_reply``, or the reason it failed."""
    from .api import finalize

    for cid, body in bodies.items():
        text = document_from_request(body)
        result = results.get(cid)
        if text is None:
            problem = "the request carries no document (not written by `summarize batch prepare`)"
        elif result is None:
            problem = "no result for this request"
        else:
            problem = result_error(result)
        if problem is None:
            source = Source(text=text, id=cid)
            try:
                backend.model = result["response"]["body"].get("model") or backend.model
                summary = finalize(backend.from_batch_reply(source, result["response"]["body"]), source, backend)
                yield DocResult(cid, source.sha256, summary=summary)
                continue
            except Exception as exc:
                problem = one_line(exc)
        yield DocResult(cid, None, error=problem)


def result_error(obj: dict[str, Any]) -> str | None:
    """None for a successful result line, else a one-line reason."""
    err = obj.get("error")
    if err:
        if isinstance(err, dict):
            return f"{err.get('code') or 'error'}: {err.get('message') or err}"
        return str(err)
    resp = obj.get("response")
    if not isinstance(resp, dict):
        return "no response"
    status = resp.get("status_code")
    if status != 200:
        body = resp.get("body") or {}
        msg = (body.get("error") or {}).get("message") if isinstance(body, dict) and isinstance(body.get("error"), dict) else None
        return f"status {status}" + (f": {msg}" if msg else "")
    if not isinstance(resp.get("body"), dict):
        return "response has no body"
    return None
