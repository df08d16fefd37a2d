"""The eval harness: run a backend over a gold suite, score it, compare with a baseline.

    run = run_suite(load_suite("eval"), Config(backend="offline"))
    verdict = gate(run.results, load_results("eval/baseline.json"))
    verdict.passed, verdict.reasons

A suite is a folder with ``docs/<id>.txt`` and ``gold/<id>.json``. A run's
results are one JSON document: what produced them (backend, model, prompt
name/version/hash, vocabulary hash, git commit), the scores (overall, per
field, per document, key message, grounding), and each document's predicted
facts, so two runs can be compared fact by fact.
"""

from __future__ import annotations

import datetime as _dt
import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Config
from .models import CaseSummary
from .reader import InputError, Source, read_file
from .scoring import DocumentScore, SuiteScore, load_gold, score_document

RESULTS_KIND = "summarizer-eval"

# The gate's tolerances: how far below the baseline a score may fall.
TOLERANCE = {
    "overall_f1": 0.005,
    "field_f1": 0.02,
    "must_mention_recall": 0.02,
    "faithfulness": 0.02,
    "fk_grade_rise": 1.0,
}


class SuiteError(ValueError):
    pass


@dataclass
class SuiteDoc:
    id: str
    text_path: Path
    gold: dict[str, Any]


def load_suite(folder: str | Path) -> list[SuiteDoc]:
    root = Path(folder)
    docs_dir, gold_dir = root / "docs", root / "gold"
    if not docs_dir.is_dir() or not gold_dir.is_dir():
        raise SuiteError(f"{root}: a suite needs docs/<id>.txt and gold/<id>.json folders")
    docs = []
    for p in sorted(docs_dir.glob("*.txt")):
        g = gold_dir / f"{p.stem}.json"
        if not g.is_file():
            raise SuiteError(f"{p}: no gold file {g}")
        try:
            docs.append(SuiteDoc(p.stem, p, load_gold(g)))
        except ValueError as exc:
            raise SuiteError(f"{g}: not valid JSON ({exc})") from None
    if not docs:
        raise SuiteError(f"{docs_dir}: holds no documents")
    return docs


def flatten_facts(summary: CaseSummary) -> list[str]:
    """Every scored fact of a summary as 'path=value' lines (for fact-level diffs)."""
    out: list[str] = []
    d = summary.model_dump(mode="json")
    for k, v in d["document"].items():
        if v not in (None, [], ""):
            out.append(f"document.{k}={json.dumps(v, ensure_ascii=False)}")
    for k, v in d["study"].items():
        if k != "evidence" and v is not None:
            out.append(f"study.{k}={json.dumps(v, ensure_ascii=False)}")
    for p in d["patients"]:
        base = f"patients[{p['label']}]"
        for k in ("age_years", "sex", "age_at_onset_years"):
            if p[k] is not None:
                out.append(f"{base}.{k}={json.dumps(p[k])}")
        for k in ("comorbidities", "manifestations"):
            out += [f"{base}.{k}+={json.dumps(x, ensure_ascii=False)}" for x in p[k]]
        for f in p["findings"]:
            out.append(f"{base}.findings[{f['name']}]={json.dumps(f['result'], ensure_ascii=False)}")
        for t in p["treatments"]:
            for k in ("role", "response", "courses", "dose", "route", "duration"):
                if t[k] is not None:
                    out.append(f"{base}.treatments[{t['name']}].{k}={json.dumps(t[k], ensure_ascii=False)}")
        out.append(f"{base}.outcome.status={p['outcome']['status']}")
        out.append(f"{base}.adverse_events.status={p['adverse_events']['status']}")
        out += [f"{base}.adverse_events.events+={json.dumps(e, ensure_ascii=False)}" for e in p["adverse_events"]["events"]]
    return out


def git_commit(path: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=path, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


@dataclass
class EvalRun:
    results: dict[str, Any]
    summaries: dict[str, CaseSummary] = field(default_factory=dict)
    scores: SuiteScore | None = None


async def _run_docs(docs: list[SuiteDoc], config: Config, concurrency: int, backend=None):
    """Each document through the batch runner; returns (results by id, sources by id, backend)."""
    from .backends import open_backend
    from .batch import DocResult, arun_batch

    be = backend or open_backend(config)
    results: dict[str, DocResult] = {}
    sources: dict[str, Source] = {}

    def items():
        for d in docs:
            try:
                sources[d.id] = read_file(d.text_path, id=d.id, max_bytes=config.max_bytes)
                yield sources[d.id]
            except InputError as exc:
                yield exc

    try:
        await arun_batch(items(), be, concurrency=concurrency, on_result=lambda r: results.__setitem__(r.id, r))
    finally:
        if backend is None:
            await be.aclose()
    return results, sources, be


def run_suite(docs: list[SuiteDoc], config: Config, *, concurrency: int = 4, suite_name: str = "", backend=None) -> EvalRun:
    """Run a backend over a suite and score it. ``backend`` overrides the one ``config`` opens."""
    from .api import run_sync
    from .vocab import vocabulary_sha256

    t0 = time.perf_counter()
    out, sources, be = run_sync(_run_docs(docs, config, concurrency, backend))
    runtime = time.perf_counter() - t0
    scores: dict[str, DocumentScore] = {}
    documents: dict[str, Any] = {}
    summaries: dict[str, CaseSummary] = {}
    usage = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    prompts = {}
    for d in docs:
        r = out[d.id]
        if r.summary is None:
            documents[d.id] = {"error": f"{type(r.exception).__name__}: {r.error}"}
            continue
        result = summaries[d.id] = r.summary
        sc = score_document(result, d.gold, sources[d.id].text)
        scores[d.id] = sc
        documents[d.id] = {**sc.as_dict(), "error": None, "facts": flatten_facts(result)}
        u = result.provenance.usage
        for k in usage:
            usage[k] += getattr(u, k)
        if result.provenance.prompt:
            prompts[result.provenance.prompt.name] = result.provenance.prompt.model_dump()
    suite = SuiteScore(scores)
    summary = suite.as_dict()
    summary.pop("documents")
    results = {
        "kind": RESULTS_KIND,
        "version": 1,
        "suite": suite_name,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(Path(__file__).resolve().parent),
        "backend": be.name,
        "model": be.model,
        "prompts": prompts,
        "vocabulary_sha256": vocabulary_sha256(),
        "config": config.public(),
        "runtime_s": round(runtime, 3),
        "usage": usage,
        "documents_total": len(docs),
        "documents_failed": sum(1 for v in documents.values() if v.get("error")),
        **summary,
        "documents": documents,
    }
    return EvalRun(results, summaries, suite)


def save_results(results: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(results, indent=1, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")


def load_results(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(f"{p}: no such results file") from None
    except ValueError as exc:
        raise SuiteError(f"{p}: not valid JSON ({exc})") from None
    if data.get("kind") != RESULTS_KIND:
        raise SuiteError(f"{p}: not a results file written by `summarize eval`")
    return data


# ---------------------------------------------------------------------------
# The regression gate


@dataclass
class Verdict:
    passed: bool
    reasons: list[str]
    flipped: list[str]


def gate(current: dict[str, Any], baseline: dict[str, Any] | None, tolerance: dict[str, float] = TOLERANCE) -> Verdict:
    """Fail on errors, ungrounded quotes, or scores more than ``tolerance`` below the baseline."""
    reasons: list[str] = []
    flipped: list[str] = []
    errors = {k: v["error"] for k, v in current["documents"].items() if v.get("error")}
    for doc, e in errors.items():
        reasons.append(f"{doc}: failed ({e})")
    if current.get("grounding", 1.0) < 1.0:
        bad = [k for k, v in current["documents"].items() if not v.get("error") and v.get("grounding", 1.0) < 1.0]
        reasons.append(f"grounding {current['grounding']:.2%} < 100% (documents: {', '.join(bad)})")
    if baseline is None:
        return Verdict(not reasons, reasons, flipped)

    def f1(d: dict, key: str) -> float | None:
        c = d.get("per_field", {}).get(key)
        return None if c is None else c["f1"]

    cur_f1, base_f1 = current["overall"]["f1"], baseline["overall"]["f1"]
    if cur_f1 < base_f1 - tolerance["overall_f1"]:
        reasons.append(f"overall F1 {cur_f1:.4f} < baseline {base_f1:.4f} - {tolerance['overall_f1']}")
    for name, b in baseline.get("per_field", {}).items():
        c = current.get("per_field", {}).get(name)
        if c is None:
            continue
        if c["f1"] < b["f1"] - tolerance["field_f1"]:
            reasons.append(f"field {name}: F1 {c['f1']:.3f} < baseline {b['f1']:.3f} - {tolerance['field_f1']}")
    km, bkm = current.get("key_message") or {}, baseline.get("key_message") or {}
    for key in ("must_mention_recall", "faithfulness"):
        if key in km and key in bkm and km[key] < bkm[key] - tolerance[key]:
            reasons.append(f"key message {key.replace('_', ' ')} {km[key]:.3f} < baseline {bkm[key]:.3f} - {tolerance[key]}")
    if "fk_grade" in km and "fk_grade" in bkm and km["fk_grade"] > bkm["fk_grade"] + tolerance["fk_grade_rise"]:
        reasons.append(f"key message Flesch-Kincaid grade {km['fk_grade']:.1f} > baseline {bkm['fk_grade']:.1f} + {tolerance['fk_grade_rise']}")

    # which documents and fields flipped (any worse, even within tolerance)
    for doc, bdoc in sorted(baseline.get("documents", {}).items()):
        cdoc = current["documents"].get(doc)
        if cdoc is None:
            flipped.append(f"{doc}: missing from this run")
            continue
        if cdoc.get("error") or bdoc.get("error"):
            continue
        for name in sorted(set(bdoc.get("per_field", {})) | set(cdoc.get("per_field", {}))):
            b, c = f1(bdoc, name), f1(cdoc, name)
            if b is not None and c is not None and c < b - 1e-9:
                flipped.append(f"{doc}: {name} F1 {b:.2f} -> {c:.2f}")
        new = sorted(set(cdoc.get("mismatches", [])) - set(bdoc.get("mismatches", [])))
        flipped += [f"{doc}: now wrong: {m}" for m in new[:8]]
    return Verdict(not reasons, reasons, flipped)


# ---------------------------------------------------------------------------
# Tables


def field_table(current: dict[str, Any], baseline: dict[str, Any] | None = None, *, top: int | None = None) -> list[tuple]:
    rows = []
    for name, c in sorted(current["per_field"].items(), key=lambda kv: kv[1]["f1"]):
        b = (baseline or {}).get("per_field", {}).get(name)
        rows.append((name, c["precision"], c["recall"], c["f1"], c["tp"] + c["fn"], None if b is None else c["f1"] - b["f1"]))
    return rows[:top] if top else rows


def document_table(current: dict[str, Any], baseline: dict[str, Any] | None = None) -> list[tuple]:
    rows = []
    for doc, d in sorted(current["documents"].items()):
        if d.get("error"):
            rows.append((doc, None, None, None, d["error"]))
            continue
        b = (baseline or {}).get("documents", {}).get(doc)
        delta = None if not b or b.get("error") else d["overall"]["f1"] - b["overall"]["f1"]
        km = d.get("key_message") or {}
        rows.append((doc, d["overall"]["f1"], delta, km.get("must_mention_recall"), None))
    return rows


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two runs side by side: per-field deltas and the documents whose facts changed."""
    fields = []
    for name in sorted(set(a["per_field"]) | set(b["per_field"])):
        fa, fb = a["per_field"].get(name), b["per_field"].get(name)
        fields.append((name, fa and fa["f1"], fb and fb["f1"], (fb["f1"] - fa["f1"]) if fa and fb else None))
    changed = {}
    for doc in sorted(set(a["documents"]) | set(b["documents"])):
        da, db = a["documents"].get(doc, {}), b["documents"].get(doc, {})
        fa, fb = set(da.get("facts", [])), set(db.get("facts", []))
        if fa != fb or bool(da.get("error")) != bool(db.get("error")):
            changed[doc] = {
                "f1": (da.get("overall", {}).get("f1"), db.get("overall", {}).get("f1")),
                "removed": sorted(fa - fb),
                "added": sorted(fb - fa),
                "error": (da.get("error"), db.get("error")),
            }
    return {
        "a": describe_run(a),
        "b": describe_run(b),
        "overall": (a["overall"]["f1"], b["overall"]["f1"]),
        "key_message": (a.get("key_message"), b.get("key_message")),
        "fields": fields,
        "changed_documents": changed,
    }


def describe_run(r: dict[str, Any]) -> str:
    """One line naming what produced a results file: backend, model, prompts, commit, time."""
    prompts = ", ".join(f"{p.get('name')} v{p.get('version')} ({str(p.get('sha256', ''))[:8]})" for p in (r.get("prompts") or {}).values())
    commit = r.get("git_commit") or ""
    commit = commit[:12] + ("-dirty" if commit.endswith("-dirty") else "")
    bits = [r.get("backend") or "?", r.get("model"), prompts, commit, r.get("created_at")]
    return " · ".join(str(b) for b in bits if b)


def markdown_report(current: dict[str, Any], baseline: dict[str, Any] | None, verdict: Verdict | None) -> str:
    lines = [f"# Eval report: {current.get('suite') or 'suite'}", "", f"Run: {describe_run(current)}  ", f"Runtime: {current['runtime_s']} s; documents: {current['documents_total']} ({current['documents_failed']} failed)  "]
    if baseline:
        lines.append(f"Baseline: {describe_run(baseline)}  ")
    lines += ["", f"**Overall micro-F1: {current['overall']['f1']:.3f}**" + (f" (baseline {baseline['overall']['f1']:.3f})" if baseline else "")]
    km = current.get("key_message") or {}
    if km:
        lines.append(f"Key message: must-mention recall {km.get('must_mention_recall')}, faithfulness {km.get('faithfulness')}, FK grade {km.get('fk_grade')}, words {km.get('words')}  ")
    lines.append(f"Grounding: {current.get('grounding', 1.0):.2%} of evidence quotes exact at their offsets")
    if verdict:
        lines += ["", "## Gate: " + ("passed" if verdict.passed else "FAILED"), ""] + [f"- {r}" for r in verdict.reasons]
        if verdict.flipped:
            lines += ["", "Flipped:", ""] + [f"- {x}" for x in verdict.flipped]
    lines += ["", "## Per field", "", "| field | precision | recall | F1 | gold facts | Δ F1 |", "|---|---|---|---|---|---|"]
    for name, p, r, f, n, delta in field_table(current, baseline):
        lines.append(f"| {name} | {p:.2f} | {r:.2f} | {f:.2f} | {n} | {'' if delta is None else f'{delta:+.3f}'} |")
    lines += ["", "## Per document", "", "| document | F1 | Δ F1 | must-mention recall |", "|---|---|---|---|"]
    for doc, f, delta, mm, error in document_table(current, baseline):
        lines.append(f"| {doc} | {'error: ' + error if error else f'{f:.3f}'} | {'' if delta is None else f'{delta:+.3f}'} | {'' if mm is None else mm} |")
    return "\n".join(lines) + "\n"
