"""Small helpers shared by the tests (paths, running the CLI as a user would)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "eval"
SEEDS = ["000_ea6a1c9a960d91e2", "004_22dd3392854c3327"]


def seed_text(seed_id: str) -> str:
    return (EVAL / "docs" / f"{seed_id}.txt").read_text(encoding="utf-8")


def gold(doc_id: str, suite: Path = EVAL) -> dict:
    return json.loads((suite / "gold" / f"{doc_id}.json").read_text(encoding="utf-8"))


def run_cli(*args: str, input: bytes | None = None, env: dict | None = None, cwd: Path | None = None, timeout: float = 60):
    """Run ``python -m summarizer ARGS`` in a clean environment (no API key, private cache)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARIZER_"))}
    base.setdefault("SUMMARIZER_CACHE", str(ROOT / ".pytest_cache" / "summarizer-test.sqlite3"))
    if env:
        base.update(env)
    return subprocess.run(
        [sys.executable, "-m", "summarizer", *args],
        input=input,
        capture_output=True,
        env=base,
        cwd=str(cwd or ROOT),
        timeout=timeout,
    )
