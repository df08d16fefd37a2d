"""The ``summarize`` command line. Thin: it parses arguments and calls the API.

    summarize case.txt                  readable summary on a terminal, JSON when piped
    summarize papers/ -o out.jsonl      a folder, one JSON line per document
    summarize eval                      score the eval suite against gold (see ``summarize eval -h``)

Exit codes: 0 every document done, 1 some failed (the others are still
written), 2 usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
PROG = "summarize"

EXAMPLES = """\
examples:
  summarize examples/ivig_dermatomyositis.txt        readable summary (JSON when piped)
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
    g = p.add_argument_group("backend")
    g.add_argument("--backend", choices=["auto", "offline", "openai"], default="auto",
                   help="auto (default): openai when an endpoint is configured, else offline")
    g.add_argument("--model", help="model name (default: $SUMMARIZER_MODEL or gpt-4o-mini)")
    g.add_argument("--base-url", help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL)")
    g.add_argument("--api-key-env", default="OPENAI_API_KEY", metavar="NAME",
                   help="environment variable holding the API key (default: OPENAI_API_KEY)")
    g.add_argument("--mode", choices=["tools", "json", "md_json"], default="tools",
                   help="how the model returns structure; json suits Ollama/llama.cpp/LM Studio (default: tools)")
    g.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default: 120)")
    g.add_argument("--max-retries", type=int, default=4, metavar="N", help="retries of transient faults per request (default: 4)")
    g.add_argument("--max-reasks", type=int, default=2, metavar="N", help="re-asks after a reply fails validation (default: 2)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Turn clinical case-report abstracts into grounded, structured summaries.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="text files, folders (their *.txt files, recursively) or - for stdin")
    p.add_argument("-f", "--format", choices=["text", "json", "jsonl", "md"],
                   help="output format (default: text on a terminal, json otherwise; from -o's extension when given)")
    p.add_argument("-o", "--output", metavar="PATH", help="write to PATH instead of standard output")
    p.add_argument("--max-bytes", type=int, default=None, metavar="N", help="refuse inputs larger than N bytes (default: 2000000)")
    p.add_argument("-q", "--quiet", action="store_true", help="no notices on standard error")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    _add_backend_options(p)
    return p


def _config(args: argparse.Namespace):
    from .config import Config

    kwargs = dict(
        backend=args.backend, model=args.model, base_url=args.base_url, api_key_env=args.api_key_env,
        mode=args.mode, timeout=args.timeout, max_retries=args.max_retries, max_reasks=args.max_reasks,
    )
    if getattr(args, "max_bytes", None):
        kwargs["max_bytes"] = args.max_bytes
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
    from .config import ConfigError
    from .reader import InputError, iter_sources

    if args.version:
        from . import __version__

        print(f"summarizer {__version__}")
        return EXIT_OK
    try:
        config = _config(args)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    inputs = list(args.inputs)
    if not inputs:
        if sys.stdin.isatty():
            raise UsageError("give at least one INPUT file or folder, or - to read standard input (see --help)")
        inputs = ["-"]
    fmt = _format_for(args)
    out_fh = None
    if args.output:
        try:
            out_fh = open(args.output, "w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    if config.backend == "auto" and config.effective_backend() == "offline":
        notice("no LLM endpoint configured (OPENAI_API_KEY / OPENAI_BASE_URL); using the offline extractor", args.quiet)

    from .api import run_sync

    sources = list(iter_sources(inputs, max_bytes=config.max_bytes))
    failures = 0
    try:
        stream = out_fh or sys.stdout
        ok_sources = [s for s in sources if not isinstance(s, InputError)]
        for s in sources:
            if isinstance(s, InputError):
                err(str(s))
                failures += 1
        results = run_sync(_summarize_all(config, ok_sources)) if ok_sources else []
        many = len(sources) > 1 or any(os.path.isdir(i) for i in inputs)
        for source, result in results:
            if isinstance(result, Exception):
                err(f"{source.id}: {result}")
                failures += 1
                continue
            _write(stream, result, source.id, fmt, many)
            stream.flush()
    finally:
        if out_fh:
            out_fh.close()
    return EXIT_FAILED if failures else EXIT_OK


async def _summarize_all(config, sources):
    from .api import summarize_with
    from .backends import open_backend

    backend = open_backend(config)
    out = []
    try:
        for s in sources:
            try:
                out.append((s, await summarize_with(backend, s)))
            except Exception as exc:  # one document's failure never stops the others
                out.append((s, _one_line(exc)))
    finally:
        await backend.aclose()
    return out


def _one_line(exc: Exception) -> Exception:
    if os.environ.get("SUMMARIZER_DEBUG"):
        import traceback

        traceback.print_exception(exc)
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return type(exc)(msg) if isinstance(exc, Exception) and type(exc).__init__ is Exception.__init__ else RuntimeError(msg)


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


SUBCOMMANDS: dict[str, str] = {}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            import importlib

            module = importlib.import_module(SUBCOMMANDS[argv[0]])
            return module.main(argv[1:])
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
