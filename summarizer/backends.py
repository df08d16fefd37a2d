"""The backend interface and the registry of backends.

A backend turns one ``Source`` into a ``CaseSummary``; the rest of the code
never asks which backend produced a record. Backends are async so a batch can
run many documents at once; the offline backend simply does its (fast,
CPU-bound) work inside the coroutine.
"""

from __future__ import annotations

import abc

from .config import Config
from .models import CaseSummary, PromptInfo, Usage
from .reader import Source
from .vocab import vocabulary_sha256


class Backend(abc.ABC):
    name: str = "backend"
    model: str | None = None
    prompt: PromptInfo | None = None
    # True when the backend itself limits requests in flight (to --concurrency); a
    # batch then keeps more documents in flight, so a request slot never waits while
    # a finished reply is parsed.
    limits_requests: bool = False

    @abc.abstractmethod
    async def summarize(self, source: Source) -> CaseSummary:
        """Summarise one document. Fills ``provenance.usage`` / ``warnings`` when it has them."""

    async def aclose(self) -> None:
        """Release connections."""

class OfflineBackend(Backend):
    """The deterministic extractor: no network, no model."""

    name = "offline"

    def __init__(self) -> None:
        from . import __version__

        self.prompt = PromptInfo(name="offline-extractor", version=__version__, sha256=vocabulary_sha256())

    async def summarize(self, source: Source) -> CaseSummary:
        from .offline import extract

        summary = extract(source)
        summary.provenance.usage = Usage()
        return summary


def open_backend(config: Config) -> Backend:
    name = config.effective_backend()
    if name == "offline":
        return OfflineBackend()
    from .llm import OpenAIBackend

    return OpenAIBackend(config)
