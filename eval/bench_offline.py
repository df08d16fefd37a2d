"""Speed of the offline backend: documents per second on one core, and CLI cold start.

    python eval/bench_offline.py [--rounds 5]

Prints a Markdown table. Numbers depend on the machine; run it before and after
a change to the extractor and compare.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def documents() -> list[str]:
    paths = sorted((HERE / "docs").glob("*.txt")) + sorted((HERE / "holdout" / "docs").glob("*.txt"))
    paths += sorted((HERE / "external" / "maccrobat").glob("*.txt"))
    return [p.read_text(encoding="utf-8") for p in paths]


def cli_seconds(path: Path, cache: str, runs: int) -> list[float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARIZER_"))}
    env["SUMMARIZER_CACHE"] = cache
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "summarizer", "--backend", "offline", "-f", "json", str(path)],
                       check=True, capture_output=True, env=env)
        out.append(time.perf_counter() - t)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)

    from summarizer.offline import extract

    docs = documents()
    chars = sum(len(d) for d in docs)
    for d in docs[:3]:  # warm-up: vocabularies loaded, regexes compiled
        extract(d)
    t = time.perf_counter()
    for _ in range(args.rounds):
        for d in docs:
            extract(d)
    elapsed = time.perf_counter() - t
    n = len(docs) * args.rounds
    example = HERE / "docs" / "004_22dd3392854c3327.txt"
    with tempfile.TemporaryDirectory() as tmp:
        cold = cli_seconds(example, os.path.join(tmp, "cold", "db.sqlite3"), 1)
        warm = cli_seconds(example, os.path.join(tmp, "cold", "db.sqlite3"), args.rounds)

    print("| measure | value |")
    print("|---|---|")
    print(f"| documents (eval dev + holdout + MACCROBAT), mean length | {len(docs)}, {chars // len(docs):,} chars |")
    print(f"| offline extractor, one core | {n / elapsed:.1f} documents/s ({1000 * elapsed / n:.1f} ms each) |")
    print(f"| `summarize --backend offline FILE`, first run (builds the vocabulary cache) | {cold[0]:.2f} s |")
    print(f"| `summarize --backend offline FILE`, later runs (median of {len(warm)}) | {statistics.median(warm):.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
