"""Run configuration: which backend, which endpoint, which limits.

Values come from keyword arguments / command-line flags first, then the
environment the way OpenAI-ecosystem tools read it:

    OPENAI_API_KEY      the key (or the variable named by --api-key-env)
    OPENAI_BASE_URL     an OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, LM Studio)
    SUMMARIZER_MODEL    the model name
    SUMMARIZER_CACHE    the cache / run-log database path
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from .reader import DEFAULT_MAX_BYTES

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
BACKENDS = ("auto", "offline", "openai")
MODES = ("tools", "json", "md_json")


class ConfigError(ValueError):
    """A usage problem: a bad option or a missing setting (exit code 2)."""


def default_cache_path() -> Path:
    env = os.environ.get("SUMMARIZER_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.environ["LOCALAPPDATA"], "summarizer", "Cache") if os.name == "nt" and os.environ.get("LOCALAPPDATA") else "~/.cache"
    )
    return Path(base).expanduser() / "summarizer" / "summarizer.sqlite3"


@dataclass(frozen=True)
class Config:
    backend: str = "auto"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    mode: str = "tools"
    timeout: float = 120.0
    max_retries: int = 4
    max_reasks: int = 2
    max_tokens: int = 4096
    prompt: str = "case_summary"
    max_bytes: int = DEFAULT_MAX_BYTES
    cache_path: Path | None = field(default_factory=default_cache_path)
    concurrency: int = 8
    rpm: float | None = None
    replay: bool = False  # answer only from the response cache (eval --replay)
    use_cache: bool = True

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.mode not in MODES:
            raise ConfigError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.max_retries < 0 or self.max_reasks < 0:
            raise ConfigError("--max-retries and --max-reasks must be 0 or more")
        if self.timeout <= 0:
            raise ConfigError("--timeout must be a positive number of seconds")
        if self.concurrency < 1:
            raise ConfigError("--concurrency must be at least 1")
        if self.max_bytes < 1:
            raise ConfigError("--max-bytes must be positive")

    # -- resolved values ---------------------------------------------------
    @property
    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) or None

    @property
    def resolved_base_url(self) -> str | None:
        return self.base_url or os.environ.get("OPENAI_BASE_URL") or None

    @property
    def resolved_model(self) -> str:
        return self.model or os.environ.get("SUMMARIZER_MODEL") or DEFAULT_MODEL

    def endpoint_configured(self) -> bool:
        return bool(self.resolved_base_url or self.api_key)

    def effective_backend(self) -> str:
        if self.backend != "auto":
            return self.backend
        return "openai" if self.endpoint_configured() else "offline"

    def with_(self, **changes) -> "Config":
        return replace(self, **changes)

    def public(self) -> dict:
        """Settings safe to log or print: never the key itself."""
        return {
            "backend": self.effective_backend(),
            "model": self.resolved_model if self.effective_backend() == "openai" else None,
            "base_url": self.resolved_base_url,
            "mode": self.mode,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "max_reasks": self.max_reasks,
            "prompt": self.prompt,
        }
