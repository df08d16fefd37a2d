"""The ``summarize`` command line. Thin: it parses arguments and calls the API.

    summarize case.txt                  readable summary on a terminal, JSON when piped
    summarize papers/ -o out.jsonl      a folder, one JSON line per document
    summarize eval                      score the eval suite against gold (see ``summarize eval -h``)

Exit codes: 0 every document done, 1 some failed (the others are still
written), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from .reader import Source

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
PROG = "summarize"

EXAMPLES = """\
examples:
  summarize examples/tacrolimus_juvenile_dermatomyositis.txt   readable summary (JSON when piped)
  summarize a.txt b.txt --format json -o out.jsonl    several files, one JSON line each
  summarize abstracts/ --format md -o review.md       every *.txt under a folder
  pbpaste | summarize -                               text from standard input
  summarize case.txt --backend openai --model gpt-4o-mini
  OPENAI_BASE_URL=http://localhost:11434/v1 summarize case.txt --model llama3.1 --mode json
  summarize eval                                      score the eval suite (summarize eval -h)

environment:
  OPENAI_API_KEY, OPENAI_BASE_URL, SUMMARIZER_MODEL, SUMMARIZER_CACHE
"""


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        raise UsageError(message)


def _add_backend_options(p: argparse.ArgumentParser) -> None:
    from .config import BACKENDS, DEFAULT_MODEL, MODES, Config

    d = Config.__dataclass_fields__  # the defaults live in Config; the help text shows them
    g = p.add_argument_group("backend")
    g.add_argument("--backend", choices=BACKENDS, default=d["backend"].default,
                   help="auto (default): openai when an endpoint is configured, else offline")
    g.add_argument("--model", help=f"model name (default: $SUMMARIZER_MODEL or {DEFAULT_MODEL})")
    g.add_argument("--base-url", help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL)")
    g.add_argument("--api-key-env", default=d["api_key_env"].default, metavar="NAME",
                   help="environment variable holding the API key (default: %(default)s)")
    g.add_argument("--mode", choices=MODES, default=d["mode"].default,
                   help="how the model returns structure; json suits Ollama/llama.cpp/LM Studio (default: %(default)s)")
    g.add_argument("--timeout", type=float, default=d["timeout"].default, help="seconds per request (default: %(default)g)")
    g.add_argument("--max-retries", type=int, default=d["max_retries"].default, metavar="N", help="retries of transient faults per request (default: %(default)s)")
    g.add_argument("--max-reasks", type=int, default=d["max_reasks"].default, metavar="N", help="re-asks after a reply fails validation (default: %(default)s)")
    g.add_argument("--max-tokens", type=int, default=d["max_tokens"].default, metavar="N", help="output token limit per reply (default: %(default)s; doubled once if a reply is cut off)")
    g.add_argument("--prompt", default=d["prompt"].default, metavar="NAME", help="prompt template from prompts/ (default: %(default)s)")
    g.add_argument("--cache", metavar="PATH", help="response cache and run log (default: $SUMMARIZER_CACHE or ~/.cache/summarizer/summarizer.sqlite3)")
    g.add_argument("--no-cache", action="store_true", help="neither read nor write the response cache")


def build_parser() -> argparse.ArgumentParser:
    from .config import Config
    from .reader import DEFAULT_MAX_BYTES

    p = _Parser(
        prog=PROG,
        description="Turn clinical case-report abstracts into grounded, structured summaries.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="text files, folders (their *.txt files, recursively) or - for stdin")
    p.add_argument("-f", "--format", choices=["text", "json", "jsonl", "md"],
                   help="output format (default: text on a terminal, json otherwise; from -o's extension when given)")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="write to PATH instead of standard output; a .jsonl file is appended to and resumed: "
                        "documents already in it (same id and content) are skipped")
    p.add_argument("--max-bytes", type=int, default=None, metavar="N", help=f"refuse inputs larger than N bytes (default: {DEFAULT_MAX_BYTES})")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or notices on standard error")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    g = p.add_argument_group("batches")
    g.add_argument("--jsonl", metavar="FILE", action="append", default=[], help='read documents from a JSON Lines file of {"id", "text"} (repeatable)')
    g.add_argument("--glob", default="*.txt", metavar="PATTERN", help="files to take from folders, recursively (default: *.txt)")
    g.add_argument("--errors", metavar="PATH", help="write failures as {id, error} lines here instead of into the JSON Lines output")
    g.add_argument("--csv", metavar="PATH", help="one row per patient: the individual-patient table reviewers pool")
    g.add_argument("--out-dir", metavar="DIR", help="one JSON file per document")
    g.add_argument("--html", metavar="PATH", help="evidence viewer page for one document")
    g.add_argument("--html-dir", metavar="DIR", help="one evidence viewer page per document")
    g.add_argument("--concurrency", type=int, default=Config.__dataclass_fields__["concurrency"].default, metavar="N",
                   help="documents in flight at once (default: %(default)s)")
    g.add_argument("--rpm", type=float, metavar="N", help="at most N requests per minute to the endpoint")
    _add_backend_options(p)
    return p


def _config(args: argparse.Namespace):
    from .config import Config

    kwargs = dict(
        backend=args.backend, model=args.model, base_url=args.base_url, api_key_env=args.api_key_env,
        mode=args.mode, timeout=args.timeout, max_retries=args.max_retries, max_reasks=args.max_reasks,
        max_tokens=args.max_tokens, prompt=args.prompt, use_cache=not args.no_cache,
    )
    if args.cache:
        kwargs["cache_path"] = Path(args.cache).expanduser()
    if getattr(args, "max_bytes", None):
        kwargs["max_bytes"] = args.max_bytes
    if getattr(args, "concurrency", None):
        kwargs["concurrency"] = args.concurrency
    if getattr(args, "rpm", None):
        kwargs["rpm"] = args.rpm
    return Config(**kwargs)


def _format_for(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    if args.output:
        ext = Path(args.output).suffix.lower()
        return {".json": "json", ".jsonl": "jsonl", ".md": "md", ".markdown": "md", ".txt": "text"}.get(ext, "json")
    return "text" if sys.stdout.isatty() else "json"


def err(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def notice(message: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"{PROG}: {message}", file=sys.stderr)


def cmd_summarize(args: argparse.Namespace) -> int:
    from .batch import Progress, Writers, arun_batch, drop_ids, out_dir_done, prepare_jsonl
    from .config import ConfigError
    from .reader import iter_sources

    if args.version:
        from . import __version__

        print(f"summarizer {__version__}")
        return EXIT_OK
    try:
        config = _config(args)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    inputs = list(args.inputs)
    if not inputs and not args.jsonl:
        if sys.stdin.isatty():
            raise UsageError("give at least one INPUT file or folder, or - to read standard input (see --help)")
        inputs = ["-"]
    fmt = _format_for(args)
    jsonl_out = args.output if args.output and fmt == "jsonl" else None
    if args.html and args.html_dir:
        raise UsageError("use --html for one document or --html-dir for many, not both")
    for path in filter(None, [args.output, args.errors, args.csv]):
        parent = Path(path).expanduser().resolve().parent
        if not parent.is_dir():
            raise UsageError(f"cannot write {path}: No such file or directory")

    sources = list(iter_sources(inputs, jsonl=args.jsonl, glob=args.glob, max_bytes=config.max_bytes))
    if args.html and len(sources) > 1:
        raise UsageError("--html writes one page: with several documents use --html-dir DIR")

    if config.backend == "auto" and config.effective_backend() == "offline":
        notice("no LLM endpoint configured (OPENAI_API_KEY / OPENAI_BASE_URL); using the offline extractor", args.quiet)
    from .api import run_sync
    from .backends import open_backend

    try:
        backend = open_backend(config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None

    # Resume: what the outputs already hold (by id and content hash).
    done: dict[str, str] = {}
    if jsonl_out:
        done = prepare_jsonl(jsonl_out)
        changed = {s.id for s in sources if isinstance(s, Source) and s.id in done and done[s.id] != s.sha256}
        drop_ids(jsonl_out, changed)
        for i in changed:
            done.pop(i)
    elif args.out_dir:
        done = out_dir_done(args.out_dir)

    by_id = {s.id: s for s in sources if isinstance(s, Source)}
    many = len(sources) > 1 or any(os.path.isdir(i) for i in inputs) or bool(args.jsonl)
    stream_fh = None
    if args.output and not jsonl_out:
        try:
            stream_fh = open(args.output, "w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    try:
        writers = Writers(jsonl=jsonl_out, errors=args.errors, csv_path=args.csv, out_dir=args.out_dir,
                          html_dir=args.html_dir, sources=by_id)
    except OSError as exc:
        raise UsageError(f"cannot write the outputs: {exc.strerror or exc}") from None
    progress = Progress(len(sources), enabled=sys.stderr.isatty() and not args.quiet and len(sources) > 1)
    stream = stream_fh or (None if jsonl_out else sys.stdout)

    def on_result(r) -> None:
        progress(r)
        if r.error:
            progress.say(f"{PROG}: error: {r.error if r.error.startswith(r.id) else f'{r.id}: {r.error}'}")
        writers(r)
        if r.summary is not None and stream is not None:
            _write(stream, r.summary, r.id, fmt, many)
            stream.flush()
        if r.summary is not None and args.html:
            from .viewer import write_html

            write_html(r.summary, by_id[r.id].text, args.html, title=r.id)

    async def go():
        try:
            return await arun_batch(sources, backend, concurrency=config.concurrency, on_result=on_result,
                                    skip=lambda src: done.get(src.id) == src.sha256)
        finally:
            await backend.aclose()

    try:
        stats = run_sync(go())
    finally:
        progress.close()
        writers.close()
        if stream_fh:
            stream_fh.close()
    if not args.quiet and many:
        notice(stats.line())
    return EXIT_FAILED if stats.failed else EXIT_OK


def _write(stream, summary, id: str, fmt: str, many: bool) -> None:
    from . import render

    if fmt == "text":
        render.print_terminal(summary, stream, id=id)
    elif fmt == "md":
        stream.write(render.to_markdown(summary, id=id) + "\n")
    elif fmt == "jsonl" or (fmt == "json" and many):
        stream.write(render.to_json(summary, id=id, indent=None) + "\n")
    else:
        stream.write(render.to_json(summary) + "\n")


# ---------------------------------------------------------------------------
# summarize eval

EVAL_EXAMPLES = """\
examples:
  summarize eval                               offline backend over ./eval, gate against eval/baseline.json
  summarize eval --update-baseline             bless the current results as the baseline
  summarize eval --backend openai --model gpt-4o-mini -o runs/v2.json --report runs/v2.md
  summarize eval --compare runs/v1.json runs/v2.json
  summarize eval --suite my_gold/ --baseline none
"""


def build_eval_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=f"{PROG} eval",
        description="Score a backend against the gold suite; exit 1 when quality drops below the baseline.",
        epilog=EVAL_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--suite", default="eval", metavar="DIR", help="folder with docs/<id>.txt and gold/<id>.json (default: ./eval)")
    p.add_argument("--baseline", metavar="PATH", help="blessed results to gate against (default: SUITE/baseline.json; 'none' to skip)")
    p.add_argument("--update-baseline", action="store_true", help="write this run's results as the new baseline")
    p.add_argument("-o", "--output", metavar="PATH", help="write the full results as JSON")
    p.add_argument("--report", metavar="PATH", help="write a report (.md Markdown, .html HTML)")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="show two results files side by side instead of running")
    p.add_argument("--concurrency", type=int, default=4, metavar="N", help="documents in flight at once (default: 4)")
    p.add_argument("--replay", action="store_true", help="LLM backends: answer only from the response cache; list documents that would need a live call")
    p.add_argument("-q", "--quiet", action="store_true", help="only the verdict")
    _add_backend_options(p)
    p.set_defaults(backend="offline")
    return p


def _fmt(x, spec: str = ".3f") -> str:
    return "" if x is None else format(x, spec)


def cmd_eval(argv: list[str]) -> int:
    from . import evaluation as ev

    args = build_eval_parser().parse_args(argv)
    if args.compare:
        try:
            a, b = (ev.load_results(x) for x in args.compare)
        except ev.SuiteError as exc:
            raise UsageError(str(exc)) from None
        print_comparison(ev.compare(a, b))
        return EXIT_OK
    from .config import ConfigError

    try:
        config = _config(args)
        docs = ev.load_suite(args.suite)
    except (ConfigError, ev.SuiteError) as exc:
        raise UsageError(str(exc)) from None
    baseline_path = None if (args.baseline or "").lower() == "none" else Path(args.baseline or Path(args.suite) / "baseline.json")
    baseline = None
    if baseline_path and baseline_path.is_file() and not args.update_baseline:
        try:
            baseline = ev.load_results(baseline_path)
        except ev.SuiteError as exc:
            raise UsageError(str(exc)) from None

    if args.replay:
        config = config.with_(replay=True)
    try:
        run = ev.run_suite(docs, config, concurrency=args.concurrency, suite_name=str(args.suite))
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    results = run.results
    verdict = ev.gate(results, baseline)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        ev.save_results(results, args.output)
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        if args.report.lower().endswith((".html", ".htm")):
            from .viewer import eval_report_html

            eval_report_html(results, baseline, verdict, run.summaries, docs, args.report)
        else:
            Path(args.report).write_text(ev.markdown_report(results, baseline, verdict), encoding="utf-8")
    if not args.quiet:
        print_eval(results, baseline)
    if args.update_baseline:
        if verdict.passed:
            ev.save_results(results, baseline_path)
            print(f"baseline updated: {baseline_path} (overall F1 {results['overall']['f1']:.4f})")
            return EXIT_OK
        print("baseline NOT updated: " + "; ".join(verdict.reasons))
        return EXIT_FAILED
    if baseline is None and baseline_path:
        print(f"no baseline at {baseline_path}: run `summarize eval --update-baseline` to bless this run")
    print_verdict(verdict, baseline is not None)
    return EXIT_OK if verdict.passed else EXIT_FAILED


def print_eval(results: dict, baseline: dict | None) -> None:
    from .evaluation import document_table, field_table

    o, b = results["overall"], (baseline or {}).get("overall")
    delta = f" ({o['f1'] - b['f1']:+.4f} vs baseline)" if b else ""
    km = results.get("key_message") or {}
    print(f"{results['backend']}{' / ' + results['model'] if results.get('model') else ''}: "
          f"{results['documents_total']} documents in {results['runtime_s']:.1f} s, {results['documents_failed']} failed")
    print(f"overall micro-F1 {o['f1']:.4f}  P {o['precision']:.3f}  R {o['recall']:.3f}{delta}")
    if km:
        print(f"key message: must-mention recall {km['must_mention_recall']:.3f}  faithfulness {km['faithfulness']:.3f}  "
              f"FK grade {km['fk_grade']:.1f}  {km['words']:.0f} words")
    print(f"grounding: {results['grounding']:.2%} of evidence quotes exact")
    if results["usage"]["requests"]:
        u = results["usage"]
        print(f"usage: {u['requests']} requests, {u['prompt_tokens']} prompt + {u['completion_tokens']} completion tokens")
    print()
    print(f"{'field':42s} {'P':>5s} {'R':>5s} {'F1':>5s} {'gold':>5s} {'ΔF1':>7s}")
    for name, p, r, f, n, d in field_table(results, baseline):
        print(f"{name:42s} {p:5.2f} {r:5.2f} {f:5.2f} {n:5d} {_fmt(d, '+.3f'):>7s}")
    print()
    print(f"{'document':42s} {'F1':>6s} {'ΔF1':>7s} {'must-mention':>12s}")
    for doc, f, d, mm, error in document_table(results, baseline):
        if error:
            print(f"{doc:42s} error: {error}")
        else:
            print(f"{doc:42s} {f:6.3f} {_fmt(d, '+.3f'):>7s} {_fmt(mm, '.2f'):>12s}")
    print()


def print_verdict(verdict, had_baseline: bool) -> None:
    if verdict.passed:
        print("gate: passed" + ("" if had_baseline else " (errors and grounding only: no baseline)"))
    else:
        print("gate: FAILED")
        for r in verdict.reasons:
            print(f"  - {r}")
    if verdict.flipped:
        print("flipped against the baseline:")
        for x in verdict.flipped[:60]:
            print(f"  - {x}")
        if len(verdict.flipped) > 60:
            print(f"  ... and {len(verdict.flipped) - 60} more")


def print_comparison(c: dict) -> None:
    print(f"A: {c['a']}")
    print(f"B: {c['b']}")
    (fa, fb) = c["overall"]
    print(f"overall micro-F1: A {fa:.4f}  B {fb:.4f}  ({fb - fa:+.4f})")
    ka, kb = c["key_message"]
    if ka and kb:
        for key in ("must_mention_recall", "faithfulness", "fk_grade", "words"):
            print(f"key message {key.replace('_', ' ')}: A {ka.get(key)}  B {kb.get(key)}")
    print()
    print(f"{'field':42s} {'A':>6s} {'B':>6s} {'Δ':>7s}")
    for name, a, b, d in c["fields"]:
        print(f"{name:42s} {_fmt(a, '.3f'):>6s} {_fmt(b, '.3f'):>6s} {_fmt(d, '+.3f'):>7s}")
    print()
    if not c["changed_documents"]:
        print("no document's facts changed")
    for doc, ch in c["changed_documents"].items():
        fa, fb = ch["f1"]
        print(f"{doc}: F1 {_fmt(fa)} -> {_fmt(fb)}")
        for x in ch["removed"][:12]:
            print(f"  - {x}")
        for x in ch["added"][:12]:
            print(f"  + {x}")
        if ch["error"][1]:
            print(f"  ! B failed: {ch['error'][1]}")


def cmd_log(argv: list[str]) -> int:
    from .cache import Store
    from .config import default_cache_path

    p = _Parser(prog=f"{PROG} log", description="List recent LLM calls from the run log (newest first).")
    p.add_argument("-n", "--limit", type=int, default=20, help="how many calls (default: 20)")
    p.add_argument("--cache", metavar="PATH", help="the cache / run-log file (default: $SUMMARIZER_CACHE)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    args = p.parse_args(argv)
    path = Path(args.cache).expanduser() if args.cache else default_cache_path()
    if not path.is_file():
        print(f"no run log at {path} yet: it is written by runs with an LLM backend")
        return EXIT_OK
    rows = Store(path).recent_calls(args.limit)
    if args.json:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
        return EXIT_OK
    print(f"{'time (UTC)':24s} {'model':18s} {'prompt':18s} {'outcome':12s} {'tokens in/out':>14s} {'ms':>7s}  document")
    for r in rows:
        tokens = f"{r['prompt_tokens'] or 0}/{r['completion_tokens'] or 0}" if r["prompt_tokens"] is not None else ""
        outcome = r["outcome"] + (" (cache)" if r["cached"] else "")
        print(f"{r['at'][:23]:24s} {str(r['model'])[:18]:18s} {str(r['prompt'])[:18]:18s} {outcome:12s} {tokens:>14s} "
              f"{'' if r['latency_ms'] is None else r['latency_ms']:>7}  {r['document'] or ''}{'  ' + r['detail'] if r['detail'] else ''}")
    return EXIT_OK


BATCH_EXAMPLES = """\
examples (OpenAI Batch API):
  summarize batch prepare abstracts/ --model gpt-4o-mini -o requests.jsonl
  openai api files.create -f requests.jsonl -p batch        # then create the batch job, download its output
  summarize batch collect output.jsonl --errors errors.jsonl --requests requests.jsonl -o summaries.jsonl --csv patients.csv

examples (vLLM):
  summarize batch prepare abstracts/ --model Qwen/Qwen2.5-7B-Instruct --mode json -o requests.jsonl
  vllm run-batch -i requests.jsonl -o results.jsonl --model Qwen/Qwen2.5-7B-Instruct
  summarize batch collect results.jsonl --requests requests.jsonl -o summaries.jsonl
"""


def build_batch_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"{PROG} batch", description="Prepare and collect OpenAI Batch API / vLLM run-batch jobs.",
                epilog=BATCH_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", required=True, parser_class=_Parser)
    prep = sub.add_parser("prepare", help="write one request line per document")
    prep.add_argument("inputs", nargs="*", metavar="INPUT")
    prep.add_argument("--jsonl", metavar="FILE", action="append", default=[], help='documents as {"id", "text"} lines')
    prep.add_argument("--glob", default="*.txt", metavar="PATTERN")
    prep.add_argument("-o", "--output", required=True, metavar="PATH", help="the requests file (JSON Lines)")
    prep.add_argument("--max-bytes", type=int, default=None, metavar="N")
    _add_backend_options(prep)
    col = sub.add_parser("collect", help="turn a job's results into summaries")
    col.add_argument("results", nargs="+", metavar="RESULTS", help="the job's output file(s)")
    col.add_argument("--requests", required=True, metavar="PATH", help="the requests file written by `batch prepare`")
    col.add_argument("--errors", dest="error_files", metavar="PATH", action="append", default=[],
                     help="the job's separate error file (OpenAI), repeatable")
    col.add_argument("-o", "--output", required=True, metavar="PATH", help="summaries, one JSON line per document")
    col.add_argument("--failed", metavar="PATH", help="errors as {id, error} lines (default: into the output)")
    col.add_argument("--resubmit", metavar="PATH", help="request lines of the failures, to submit again (default: OUTPUT stem + .resubmit.jsonl)")
    col.add_argument("--csv", metavar="PATH")
    col.add_argument("--out-dir", metavar="DIR")
    col.add_argument("-q", "--quiet", action="store_true")
    _add_backend_options(col)
    for sp in (prep, col):
        sp.set_defaults(backend="openai")
    return p


def cmd_batch(argv: list[str]) -> int:
    args = build_batch_parser().parse_args(argv)
    return _batch_prepare(args) if args.action == "prepare" else _batch_collect(args)


def _batch_backend(args):
    from .config import DEFAULT_BASE_URL, ConfigError
    from .llm import OpenAIBackend

    try:
        config = _config(args)
        # nothing is sent from here: a placeholder endpoint spares the need for a key
        return OpenAIBackend(config.with_(backend="openai", base_url=config.resolved_base_url or DEFAULT_BASE_URL, use_cache=False))
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _batch_prepare(args) -> int:
    from .api import run_sync
    from .batch import batch_request_line
    from .reader import InputError, iter_sources

    backend = _batch_backend(args)
    max_bytes = args.max_bytes or backend.config.max_bytes
    items = list(iter_sources(args.inputs, jsonl=args.jsonl, glob=args.glob, max_bytes=max_bytes))
    if not items:
        raise UsageError("give INPUT files or folders, or --jsonl FILE")
    seen, failures, n = set(), 0, 0
    try:
        fh = open(args.output, "w", encoding="utf-8", newline="\n")
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    with fh:
        for item in items:
            if isinstance(item, InputError):
                err(str(item))
                failures += 1
                continue
            if item.id in seen:
                err(f"{item.id}: duplicate id; every document needs its own")
                failures += 1
                continue
            seen.add(item.id)
            body = run_sync(backend.prepare_request(item))
            fh.write(batch_request_line(item.id, body) + "\n")
            n += 1
    print(f"wrote {n} request{'s' if n != 1 else ''} to {args.output} (model {backend.model}, mode {backend.config.mode}, "
          f"prompt {backend.prompt.name}@{backend.prompt.version})")
    return EXIT_FAILED if failures else EXIT_OK


def _batch_collect(args) -> int:
    from .batch import Writers, collect_results, read_batch_results
    from .reader import InputError

    backend = _batch_backend(args)
    requests: dict[str, str] = {}
    bodies: dict[str, dict] = {}
    try:
        with open(args.requests, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    obj = json.loads(line)
                    requests[obj["custom_id"]] = line.rstrip("\n")
                    bodies[obj["custom_id"]] = obj["body"]
        results = read_batch_results(list(args.results) + list(args.error_files))
    except FileNotFoundError as exc:
        raise UsageError(f"{exc.filename}: no such file") from None
    except (ValueError, KeyError) as exc:
        raise UsageError(f"{args.requests}: not a requests file written by `summarize batch prepare` ({exc})") from None
    except InputError as exc:
        raise UsageError(str(exc)) from None
    unknown = sorted(set(results) - set(requests))
    if unknown:
        err(f"{len(unknown)} result(s) have a custom_id that is not in {args.requests}, e.g. {unknown[0]!r}; ignored")
    resubmit_path = args.resubmit or str(Path(args.output).with_suffix("")) + ".resubmit.jsonl"
    writers = Writers(jsonl=args.output, errors=args.failed, csv_path=args.csv, out_dir=args.out_dir)
    done = failed = 0
    resubmit: list[str] = []
    try:
        for r in collect_results(bodies, results, backend):
            if r.error:
                failed += 1
                err(f"{r.id}: {r.error}")
                resubmit.append(requests[r.id])
            else:
                done += 1
            writers(r)
    finally:
        writers.close()
    if resubmit:
        Path(resubmit_path).write_text("\n".join(resubmit) + "\n", encoding="utf-8")
    if not args.quiet:
        notice(f"{done} collected, {failed} failed" + (f"; resubmit {resubmit_path}" if resubmit else ""))
    return EXIT_FAILED if failed else EXIT_OK


SUBCOMMANDS = {"eval": cmd_eval, "log": cmd_log, "batch": cmd_batch}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return SUBCOMMANDS[argv[0]](argv[1:])
        args = build_parser().parse_args(argv)
        return cmd_summarize(args)
    except UsageError as exc:
        err(f"{exc} (see {PROG} --help)")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err("interrupted")
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
