"""Response cache and run log: one SQLite file shared by every run.

* ``replies``: each LLM reply, keyed by a hash of everything that shapes the
  request (endpoint, model, messages, tools/schema, response format, mode,
  parameters). A repeated request is answered from here: a batch pays for each
  request once, and ``summarize eval --replay`` can run without a network.
* ``calls``: one row per request the backends made or answered from cache:
  time, model, prompt name/version, document id, tokens, latency, outcome.
  ``summarize log`` lists them.

The API key is never part of a key, a reply or a log row. WAL mode and a busy
timeout make the file safe to share between several processes.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    model TEXT,
    created_at TEXT,
    response TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    model TEXT,
    prompt TEXT,
    document TEXT,
    key TEXT,
    outcome TEXT NOT NULL,
    cached INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    latency_ms INTEGER,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS calls_at ON calls(at);
"""

_KEY_FIELDS = ("model", "messages", "tools", "tool_choice", "response_format", "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed", "stop")


def request_key(request: dict[str, Any], *, endpoint: str, mode: str) -> str:
    """A stable hash of everything that shapes a chat-completions request (never headers or keys)."""
    shaped = {k: request.get(k) for k in _KEY_FIELDS if request.get(k) is not None}
    shaped["_endpoint"] = endpoint
    shaped["_mode"] = mode
    blob = json.dumps(shaped, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Store:
    """The SQLite cache and run log. Cheap to create; connections are per thread."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as c:
            c.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- replies -----------------------------------------------------------
    def get_reply(self, key: str) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT response FROM replies WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_reply(self, key: str, model: str | None, response: dict[str, Any]) -> None:
        self._conn().execute(
            "INSERT OR REPLACE INTO replies(key, model, created_at, response) VALUES (?, ?, ?, ?)",
            (key, model, _now(), json.dumps(response, ensure_ascii=False)),
        )

    # -- run log -----------------------------------------------------------
    def log_call(
        self,
        *,
        model: str | None,
        prompt: str | None,
        document: str | None,
        key: str | None,
        outcome: str,
        cached: bool = False,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        latency_ms: int | None = None,
        detail: str | None = None,
    ) -> None:
        self._conn().execute(
            "INSERT INTO calls(at, model, prompt, document, key, outcome, cached, prompt_tokens, completion_tokens, latency_ms, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_now(), model, prompt, document, key, outcome, int(cached), prompt_tokens, completion_tokens, latency_ms, detail),
        )

    def recent_calls(self, limit: int = 20) -> list[dict[str, Any]]:
        cur = self._conn().execute(
            "SELECT at, model, prompt, document, outcome, cached, prompt_tokens, completion_tokens, latency_ms, detail"
            " FROM calls ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


_STORES: dict[str, Store] = {}
_STORES_LOCK = threading.Lock()


def open_store(path: str | os.PathLike | None) -> Store | None:
    """The shared Store for a path (None: caching off). A file that cannot be opened disables the cache."""
    if path is None:
        return None
    key = str(Path(path).expanduser().resolve())
    with _STORES_LOCK:
        if key not in _STORES:
            try:
                _STORES[key] = Store(key)
            except (OSError, sqlite3.Error):
                return None
        return _STORES[key]
