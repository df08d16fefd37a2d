"""Scripted model replies for the loopback server (never recorded from a real model).

``reply_for(text)`` builds a contract-shaped reply for any document from the
offline extractor's record: the facts are grounded by construction, so the LLM
path accepts them. ``responder`` reads the document back out of a request, so a
ScriptedServer can answer any number of documents (batch tests, benchmarks).
"""

from __future__ import annotations

import re
from typing import Any

from scripted_server import RecordedRequest, Reply

_FENCE = re.compile(r"^(=====DOCUMENT [0-9a-f]{12}=====)\n(.*)\n\1$", re.S | re.M)


def reply_for(text: str, *, with_offsets: bool = False) -> dict[str, Any]:
    from summarizer.offline import extract

    s = extract(text)
    data = s.model_dump(mode="json", exclude={"provenance", "schema_version"})

    def strip(obj):
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                if k == "evidence":
                    out[k] = [({"quote": e["quote"], "start": e["start"], "end": e["end"]} if with_offsets else {"quote": e["quote"]}) for e in v]
                else:
                    out[k] = strip(v)
            return out
        if isinstance(obj, list):
            return [strip(x) for x in obj]
        return obj

    data = strip(data)
    data["study"].pop("evidence", None)
    return data


def document_of(request: RecordedRequest) -> str:
    user = next(m for m in reversed(request.messages) if m["role"] == "user" and "=====DOCUMENT" in str(m.get("content")))
    m = _FENCE.search(user["content"])
    assert m, "the request carries the document between fence lines"
    return m.group(2)


def responder(request: RecordedRequest) -> Reply:
    return Reply.auto(reply_for(document_of(request)))
