"""The scripted server speaks the chat-completions protocol to the REAL openai client.

Every test goes through a TCP socket on 127.0.0.1 with ``openai.OpenAI``
(openai 3.x, transport ``httpx2``); replies are scripted, never recorded.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import instructor
import openai
import pytest
from instructor.core import InstructorRetryException
from pydantic import BaseModel

from scripted_server import MODEL_ID, RecordedRequest, Reply, ScriptedServer

USER = [{"role": "user", "content": "Summarise: a 54-year-old man with chest pain."}]


@pytest.fixture
def client(scripted_server: ScriptedServer):
    with openai.OpenAI(base_url=scripted_server.base_url, api_key="test", max_retries=0) as c:
        yield c


class Tiny(BaseModel):
    name: str
    age: int


# --------------------------------------------------------------------------- #
# Basic replies
# --------------------------------------------------------------------------- #


def test_content_reply_parses_and_request_is_recorded(scripted_server, client):
    scripted_server.script(Reply.content('{"title": "Chest pain"}'))

    completion = client.chat.completions.create(model="gpt-test", messages=USER, max_tokens=77)

    assert completion.choices[0].message.content == '{"title": "Chest pain"}'
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-test"
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion._request_id.startswith("req_scripted_")

    (req,) = scripted_server.requests
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.model == "gpt-test"
    assert req.messages == USER
    assert req.max_tokens == 77
    assert req.tools is None and req.response_format is None
    assert req.headers["authorization"] == "Bearer test"
    assert json.loads(req.body) == req.json
    assert scripted_server.pending == 0


def test_tool_call_reply_returns_arguments_and_requested_name(scripted_server, client):
    tools = [
        {"type": "function", "function": {"name": "other", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "Summary", "parameters": {"type": "object"}}},
    ]
    scripted_server.script(
        Reply.tool_call({"title": "Chest pain", "n": 2}),  # name from tool_choice
        Reply.tool_call({"x": 1}),  # no tool_choice: first entry of tools
        Reply.tool_call({"x": 1}, name="explicit"),
    )

    first = client.chat.completions.create(
        model="m", messages=USER, tools=tools,
        tool_choice={"type": "function", "function": {"name": "Summary"}},
    )
    second = client.chat.completions.create(model="m", messages=USER, tools=tools)
    third = client.chat.completions.create(model="m", messages=USER, tools=tools)

    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert first.choices[0].message.content is None
    assert call.type == "function"
    assert call.id
    assert call.function.name == "Summary"
    assert json.loads(call.function.arguments) == {"title": "Chest pain", "n": 2}
    assert second.choices[0].message.tool_calls[0].function.name == "other"
    assert third.choices[0].message.tool_calls[0].function.name == "explicit"
    assert scripted_server.requests[0].tools == tools


def test_invalid_json_arguments_arrive_verbatim(scripted_server, client):
    broken = '{"title": "Chest pain", "n": '
    scripted_server.script(Reply.tool_call(broken))

    completion = client.chat.completions.create(
        model="m", messages=USER,
        tools=[{"type": "function", "function": {"name": "Summary", "parameters": {"type": "object"}}}],
    )

    assert completion.choices[0].message.tool_calls[0].function.arguments == broken


def test_auto_follows_request_mode(scripted_server, client):
    tools = [{"type": "function", "function": {"name": "Summary", "parameters": {"type": "object"}}}]
    scripted_server.script(Reply.auto({"a": 1}), Reply.auto({"a": 2}))

    with_tools = client.chat.completions.create(model="m", messages=USER, tools=tools)
    without = client.chat.completions.create(model="m", messages=USER)

    assert json.loads(with_tools.choices[0].message.tool_calls[0].function.arguments) == {"a": 1}
    assert json.loads(without.choices[0].message.content) == {"a": 2}


def test_default_usage_is_computed_from_the_request(scripted_server, client):
    messages = [
        {"role": "system", "content": "s" * 10},
        {"role": "user", "content": [{"type": "text", "text": "u" * 31}]},
    ]
    scripted_server.script(Reply.content("x" * 17), Reply.content("y", usage={"prompt_tokens": 1000}))

    usage = client.chat.completions.create(model="m", messages=messages).usage
    overridden = client.chat.completions.create(model="m", messages=messages).usage

    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (41 // 4 + 1, 17 // 4 + 1, 11 + 5)
    assert (overridden.prompt_tokens, overridden.completion_tokens, overridden.total_tokens) == (1000, 1, 1001)


# --------------------------------------------------------------------------- #
# Errors, resets, timeouts, retries
# --------------------------------------------------------------------------- #


def test_401_raises_authentication_error(scripted_server, client):
    scripted_server.script(Reply.error(401, "Incorrect API key provided", code="invalid_api_key"))

    with pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(model="m", messages=USER)

    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"
    assert info.value.body["message"] == "Incorrect API key provided"
    assert info.value.request_id.startswith("req_scripted_")


def test_429_carries_retry_after_header(scripted_server, client):
    scripted_server.script(Reply.error(429, "Rate limit reached", headers={"Retry-After": "1"}))

    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="m", messages=USER)

    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.response.headers["content-type"] == "application/json"
    assert info.value.type == "rate_limit_exceeded"


def test_client_retries_consume_the_script_in_order(scripted_server):
    scripted_server.script(
        Reply.error(429, headers={"Retry-After-Ms": "10"}),
        Reply.error(503, headers={"Retry-After-Ms": "10"}),
        Reply.content("finally"),
    )
    with openai.OpenAI(base_url=scripted_server.base_url, api_key="test", max_retries=2) as c:
        completion = c.chat.completions.create(model="m", messages=USER)

    assert completion.choices[0].message.content == "finally"
    assert [r.headers["x-stainless-retry-count"] for r in scripted_server.requests] == ["0", "1", "2"]
    # the SDK reuses one idempotency key across retries
    assert len({r.headers.get("idempotency-key") for r in scripted_server.requests}) == 1


def test_reset_raises_connection_error_and_only_kills_that_connection(scripted_server, client):
    scripted_server.script(Reply.content("before"), Reply.reset(), Reply.content("after"))

    assert client.chat.completions.create(model="m", messages=USER).choices[0].message.content == "before"
    with pytest.raises(openai.APIConnectionError) as info:
        client.chat.completions.create(model="m", messages=USER)
    assert not isinstance(info.value, openai.APITimeoutError)
    assert client.chat.completions.create(model="m", messages=USER).choices[0].message.content == "after"
    assert len(scripted_server.requests) == 3


def test_delay_longer_than_client_timeout_raises_timeout(scripted_server, client):
    scripted_server.script(Reply.content("too late", delay=3.0), Reply.content("on time"))

    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=USER, timeout=0.2)
    assert time.monotonic() - started < 1.5
    assert scripted_server.requests[0].headers["x-stainless-read-timeout"] == "0.2"
    # the pool dropped the timed-out connection; the next request is served
    assert client.chat.completions.create(model="m", messages=USER).choices[0].message.content == "on time"


def test_empty_queue_without_responder_is_a_clear_500(scripted_server, client):
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="m", messages=USER)

    assert info.value.status_code == 500
    assert info.value.body["message"] == "scripted server: no reply scripted"
    assert info.value.type == "server_error"


def test_streaming_is_rejected_without_consuming_the_script(scripted_server, client):
    scripted_server.script(Reply.content("kept"))

    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="m", messages=USER, stream=True)

    assert scripted_server.pending == 1


def test_models_endpoint_and_unknown_routes(scripted_server, client):
    assert [m.id for m in client.models.list()] == [MODEL_ID]
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("nope")
    assert info.value.body["type"] == "invalid_request_error"
    assert [r.path for r in scripted_server.requests] == ["/v1/models", "/v1/models/nope"]


# --------------------------------------------------------------------------- #
# Responder and concurrency
# --------------------------------------------------------------------------- #


def test_responder_is_used_when_queue_is_empty(scripted_server, client):
    seen: list[RecordedRequest] = []

    def responder(request: RecordedRequest) -> Reply:
        seen.append(request)
        return Reply.content(f"summary of: {request.messages[-1]['content']}")

    scripted_server.responder = responder
    scripted_server.script(Reply.content("scripted first"))

    first = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "doc-1"}])
    second = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "doc-2"}])

    assert first.choices[0].message.content == "scripted first"
    assert second.choices[0].message.content == "summary of: doc-2"
    assert [r.messages[-1]["content"] for r in seen] == ["doc-2"]


def test_32_parallel_requests_overlap_their_latency(scripted_server, client):
    scripted_server.latency = 0.3
    scripted_server.responder = lambda req: Reply.content(req.messages[0]["content"].upper())

    def call(i: int) -> str:
        completion = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"doc-{i}"}]
        )
        return completion.choices[0].message.content

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(call, range(32)))
    elapsed = time.monotonic() - started

    assert results == [f"DOC-{i}" for i in range(32)]
    assert len(scripted_server.requests) == 32
    assert 0.3 <= elapsed < 2.5, elapsed  # serial would be 32 * 0.3 = 9.6 s


# --------------------------------------------------------------------------- #
# instructor against the server
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("mode", [instructor.Mode.JSON, instructor.Mode.MD_JSON, instructor.Mode.TOOLS])
def test_instructor_creates_a_model(scripted_server, client, mode):
    scripted_server.script(Reply.auto({"name": "Ada", "age": 36}))
    ic = instructor.from_openai(client, mode=mode)

    result = ic.chat.completions.create(
        model="m", response_model=Tiny, messages=[{"role": "user", "content": "Ada is 36"}], max_retries=0
    )

    # (instructor attaches a private _raw_response, so compare the dumps)
    assert result.model_dump() == {"name": "Ada", "age": 36}
    (req,) = scripted_server.requests
    if mode is instructor.Mode.TOOLS:
        assert req.tools[0]["function"]["name"] == "Tiny"
        assert req.json["tool_choice"] == {"type": "function", "function": {"name": "Tiny"}}
        assert req.response_format is None
        assert req.messages == [{"role": "user", "content": "Ada is 36"}]
    else:
        assert req.tools is None
        assert req.messages[0]["role"] == "system" and '"Tiny"' in req.messages[0]["content"]
        if mode is instructor.Mode.JSON:
            assert req.response_format == {"type": "json_object"}
        else:  # MD_JSON: no response_format; the codeblock request is merged into the user turn
            assert req.response_format is None
            assert "```json codeblock" in req.messages[-1]["content"]


def test_instructor_reasks_after_invalid_tool_arguments(scripted_server, client):
    scripted_server.script(Reply.tool_call({"name": "Ada"}), Reply.tool_call({"name": "Ada", "age": 36}))
    ic = instructor.from_openai(client, mode=instructor.Mode.TOOLS)

    result = ic.chat.completions.create(
        model="m", response_model=Tiny, messages=[{"role": "user", "content": "Ada is 36"}], max_retries=1
    )

    assert result.age == 36
    first, second = scripted_server.requests
    assert len(first.messages) == 1
    assert [m["role"] for m in second.messages] == ["user", "assistant", "tool"]
    assert "Validation Error" in second.messages[-1]["content"]


def test_instructor_wraps_api_errors(scripted_server, client):
    scripted_server.script(Reply.error(429))
    ic = instructor.from_openai(client, mode=instructor.Mode.TOOLS)

    with pytest.raises(InstructorRetryException) as info:
        ic.chat.completions.create(model="m", response_model=Tiny, messages=USER)

    assert isinstance(info.value.__cause__, openai.RateLimitError)
    assert len(scripted_server.requests) == 1  # no re-ask for API errors


# --------------------------------------------------------------------------- #
# Lifecycle
# --------------------------------------------------------------------------- #


def test_stop_joins_threads_even_with_open_keepalive_and_sleeping_handlers():
    before = {t.name for t in threading.enumerate()}
    server = ScriptedServer().start()
    server.script(Reply.content("ok"), Reply.content("slow", delay=30))
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as c:
        c.chat.completions.create(model="m", messages=USER)  # leaves a pooled keep-alive connection
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(c.chat.completions.create, model="m", messages=USER)
            while len(server.requests) < 2:
                time.sleep(0.01)
            started = time.monotonic()
            server.stop()
            assert time.monotonic() - started < 2.0
            with pytest.raises(openai.APIConnectionError):
                slow.result(timeout=5)

    leftover = [t for t in threading.enumerate() if t.name.startswith("scripted-server") and t.name not in before]
    assert leftover == []
