"""Batch throughput against the loopback scripted server (no real model anywhere).

    python eval/bench_batch.py [--latency 0.2] [--docs 200] [--big 5000] [--quick]

The server runs in its own process and answers every request after
``--latency`` seconds with a scripted reply (built once per base text from the
offline extractor, so the LLM path accepts it). Prints a Markdown table:

* documents per second at concurrency 1, 4, 16, 64 against the ideal
  ``concurrency / latency`` (timed from the first document to the last; the
  one-off backend setup is shown beside it). With 200 documents at concurrency
  16 the last wave is half full, so even a perfect client tops out at 96%;
* the same documents through a naive sequential loop of instructor calls (the peer);
* the offline backend's documents per second;
* a second identical run with the response cache: how many requests reach the server;
* the peak memory (max RSS) of a 5,000-document run, measured in a child process;
* requests and prompt tokens per document on the happy path for the two seeds,
  and what one validation re-ask costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
SUFFIX = "\n\nRegistry entry "


def corpus(n: int) -> list[tuple[str, str]]:
    base = sorted((HERE / "docs").glob("*.txt"))
    return [(f"doc{i:05d}", base[i % len(base)].read_text(encoding="utf-8") + f"{SUFFIX}{i:05d}.\n") for i in range(n)]


def _serve(latency: float, port_q, counter, stop) -> None:
    """The scripted server. Replies are rendered to bytes once per base text: its own CPU
    (one process, one GIL) must not be what the benchmark measures."""
    from scripted_replies import document_of, reply_for
    from scripted_server import Reply, ScriptedServer

    rendered: dict[tuple[str, bool], bytes] = {}

    def render(base: str, tools: bool) -> bytes:
        reply = json.dumps(reply_for(base))
        message = {"role": "assistant", "content": None if tools else reply}
        if tools:
            message["tool_calls"] = [{"id": "call_0", "type": "function", "function": {"name": "CaseSummaryReply", "arguments": reply}}]
        return json.dumps({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "scripted",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tools else "stop"}],
            "usage": {"prompt_tokens": len(base) // 4 + 900, "completion_tokens": len(reply) // 4, "total_tokens": len(base) // 4 + 900 + len(reply) // 4},
        }).encode()

    def responder(request):
        with counter.get_lock():
            counter.value += 1
        base = document_of(request).split(SUFFIX)[0]
        key = (base, bool(request.tools))
        if key not in rendered:
            rendered[key] = render(*key)
        return Reply.raw(200, rendered[key], headers={"Content-Type": "application/json"})

    for p in sorted((HERE / "docs").glob("*.txt")):  # warm: no extraction on the request path
        text = p.read_text(encoding="utf-8")
        rendered[(text, True)] = render(text, True)
    with ScriptedServer(responder=responder, latency=latency) as server:
        port_q.put(server.base_url)
        stop.wait()


class Server:
    def __init__(self, latency: float):
        ctx = mp.get_context("spawn")
        self.counter = ctx.Value("i", 0)
        self.stop = ctx.Event()
        q = ctx.Queue()
        self.proc = ctx.Process(target=_serve, args=(latency, q, self.counter, self.stop), daemon=True)
        self.proc.start()
        self.base_url = q.get(timeout=120)

    def close(self) -> None:
        self.stop.set()
        self.proc.join(10)


def run_llm(base_url: str, docs, concurrency: int, cache_path: str | None) -> tuple[float, object]:
    from summarizer.batch import arun_batch
    from summarizer.config import Config
    from summarizer.llm import OpenAIBackend
    from summarizer.reader import Source

    config = Config(backend="openai", base_url=base_url, model="scripted", concurrency=concurrency,
                    cache_path=Path(cache_path) if cache_path else None, use_cache=cache_path is not None)
    sources = [Source(text=t, id=i) for i, t in docs]

    async def go():
        t_setup = time.perf_counter()
        backend = OpenAIBackend(config)  # one-off: client, SSL context, schema
        setup = time.perf_counter() - t_setup
        try:
            t0 = time.perf_counter()
            stats = await arun_batch(sources, backend, concurrency=concurrency)
            stats.setup_seconds = setup
            return time.perf_counter() - t0, stats
        finally:
            await backend.aclose()

    return asyncio.run(go())


def run_sequential_instructor(base_url: str, docs) -> float:
    """The peer: what a reviewer writes first, one instructor call after another."""
    import instructor
    import openai

    from summarizer.prompt import load_prompt
    from summarizer.reply import CaseSummaryReply

    client = instructor.from_openai(openai.OpenAI(base_url=base_url, api_key="x", max_retries=0), mode=instructor.Mode.TOOLS)
    prompt = load_prompt("case_summary")
    t0 = time.perf_counter()
    for _, text in docs:
        client.chat.completions.create(response_model=CaseSummaryReply, messages=prompt.render(text), model="scripted", max_retries=2)
    return time.perf_counter() - t0


def run_offline(docs) -> float:
    from summarizer.backends import OfflineBackend
    from summarizer.batch import run_batch
    from summarizer.reader import Source

    t0 = time.perf_counter()
    run_batch([Source(text=t, id=i) for i, t in docs], OfflineBackend(), concurrency=1)
    return time.perf_counter() - t0


def peak_memory(base_url: str, n: int) -> tuple[float, float]:
    """Max RSS (MB) and seconds of a child process that runs n documents to a JSONL file."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        with open(src, "w", encoding="utf-8") as fh:
            for i, t in corpus(n):
                fh.write(json.dumps({"id": i, "text": t}) + "\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARIZER_"))}
        env.update(OPENAI_BASE_URL=base_url, OPENAI_API_KEY="x", SUMMARIZER_CACHE=str(Path(tmp) / "c.sqlite3"))
        code = (
            "import resource, sys, time; from summarizer.cli import main\n"
            "t = time.perf_counter(); rc = main(sys.argv[1:]); s = time.perf_counter() - t\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, s, rc)"
        )
        out = subprocess.run([sys.executable, "-c", code, "--jsonl", str(src), "--model", "scripted", "-o", str(Path(tmp) / "out.jsonl"),
                              "--concurrency", "32", "--no-cache", "-q"], env=env, capture_output=True, text=True, cwd=ROOT)
        mb, seconds, rc = out.stdout.split()
        lines = sum(1 for _ in open(Path(tmp) / "out.jsonl", encoding="utf-8"))
        assert rc == "0" and lines == n, (out.stderr[-2000:], lines)
        return float(mb), float(seconds)


async def _one(backend, source):
    from summarizer.api import summarize_with

    try:
        return await summarize_with(backend, source)
    finally:
        await backend.aclose()  # its HTTP client belongs to this event loop


def costs(base_url_counter: Server) -> list[tuple[str, int, int]]:
    """Requests and prompt tokens per document for the seeds, and one re-ask's cost (scripted usage)."""
    from scripted_replies import reply_for
    from scripted_server import Reply, ScriptedServer

    from summarizer.api import run_sync
    from summarizer.config import Config
    from summarizer.llm import OpenAIBackend
    from summarizer.reader import Source

    rows = []
    for seed in ("000_ea6a1c9a960d91e2", "004_22dd3392854c3327"):
        text = (HERE / "docs" / f"{seed}.txt").read_text(encoding="utf-8")
        with ScriptedServer() as srv:
            good = reply_for(text)
            bad = json.loads(json.dumps(good))
            bad["patients"][0]["treatments"][0]["evidence"] = [{"quote": "a quote the document does not contain"}]
            for label, script in (("happy path", [Reply.auto(good)]), ("one re-ask", [Reply.auto(bad), Reply.auto(good)])):
                srv.reset_log()
                srv.script(*script)
                s = run_sync(_one(OpenAIBackend(Config(backend="openai", base_url=srv.base_url, model="scripted", use_cache=False)), Source(text=text, id=seed)))
                prompt_chars = [sum(len(m.get("content") or "") for m in r.messages) for r in srv.requests]
                rows.append((f"{seed} {label}", len(srv.requests), s.provenance.usage.prompt_tokens, prompt_chars))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--big", type=int, default=5000)
    ap.add_argument("--quick", action="store_true", help="concurrency 16 and 64 only, no sequential peer")
    args = ap.parse_args(argv)

    docs = corpus(args.docs)
    server = Server(args.latency)
    rows = []
    try:
        levels = [16, 64] if args.quick else [1, 4, 16, 64]
        results = {}
        # warm-up: imports, the vocabulary cache, compiled templates and regexes
        run_llm(server.base_url, corpus(8), 8, None)
        for c in levels:
            before = server.counter.value
            cpu = time.process_time()
            seconds, stats = run_llm(server.base_url, docs, c, None)
            cpu = (time.process_time() - cpu) / len(docs) * 1000
            assert stats.done == len(docs), stats.line()
            rate, ideal = len(docs) / seconds, c / args.latency
            results[c] = rate
            rows.append((f"openai backend, concurrency {c}", f"{rate:.1f} docs/s", f"ideal {ideal:.1f}: {rate / ideal:.0%}",
                         f"{server.counter.value - before} requests, {seconds:.2f} s (+{stats.setup_seconds * 1000:.0f} ms backend setup), "
                         f"client CPU {cpu:.1f} ms/doc"))
        if not args.quick:
            seconds = run_sequential_instructor(server.base_url, docs[: max(20, len(docs) // 4)])
            n = max(20, len(docs) // 4)
            seq = n / seconds
            rows.append(("naive sequential instructor loop (peer)", f"{seq:.1f} docs/s", f"ideal {1 / args.latency:.1f}",
                         f"{n} docs; concurrency 16 is {results[16] / seq:.1f}x faster"))
        seconds = run_offline(docs)
        rows.append(("offline backend (one core)", f"{len(docs) / seconds:.1f} docs/s", "", f"{seconds:.1f} s"))
        with tempfile.TemporaryDirectory() as tmp:
            cache = os.path.join(tmp, "cache.sqlite3")
            run_llm(server.base_url, docs, 16, cache)
            before = server.counter.value
            seconds, stats = run_llm(server.base_url, docs, 16, cache)
            rows.append(("second identical run (response cache)", f"{len(docs) / seconds:.1f} docs/s", "",
                         f"{server.counter.value - before} requests reached the server; {stats.cached} documents from cache"))
        mb, seconds = peak_memory(server.base_url, args.big)
        rows.append((f"{args.big} documents, concurrency 32, to JSONL", f"{args.big / seconds:.1f} docs/s", "",
                     f"peak memory {mb:.0f} MB (max RSS of the process)"))
        cost_rows = costs(server)
    finally:
        server.close()

    print(f"Scripted server latency {args.latency * 1000:.0f} ms, {args.docs} documents, {os.cpu_count()} cores.\n")
    print("| run | throughput | vs ideal | notes |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print("\n| seed | requests | prompt tokens (billed by the scripted server: chars/4) | prompt chars per request |")
    print("|---|---|---|---|")
    for name, n, tokens, chars in cost_rows:
        print(f"| {name} | {n} | {tokens} | {', '.join(map(str, chars))} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
