"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripted_server import ScriptedServer


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    """A started loopback :class:`ScriptedServer` (function scope); stopped afterwards.

    Point the real client at it::

        openai.OpenAI(base_url=scripted_server.base_url, api_key="test", max_retries=0)
    """
    with ScriptedServer() as server:
        yield server
