"""summarizer: grounded, structured summaries of clinical case reports.

    from summarizer import summarize
    summary = summarize(Path("case.txt"))          # or summarize("text ...")
    summary.patients[0].treatments[0].response

Everything here is imported lazily so ``summarize --help`` and the offline
backend start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from .api import asummarize, summarize
    from .config import Config
    from .models import CaseSummary
    from .reader import Source

_LAZY = {
    "summarize": ("api", "summarize"),
    "asummarize": ("api", "asummarize"),
    "Config": ("config", "Config"),
    "CaseSummary": ("models", "CaseSummary"),
    "Source": ("reader", "Source"),
    "score_document": ("scoring", "score_document"),
}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'summarizer' has no attribute {name!r}")
