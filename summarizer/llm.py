"""The LLM backend: any OpenAI-compatible endpoint through ``openai`` + ``instructor``.

Two retry layers, kept apart:

1. **Transport** (this module, tenacity): every single HTTP request is retried on
   transient faults (429 honouring ``Retry-After``, 500/502/503/504, connection
   resets, timeouts) with exponential backoff and jitter, up to
   ``--max-retries`` times. A 429 also pauses the whole pool of requests, not
   only the one that got it. These faults never reach the prompt. The openai
   client's own retries are switched off (``max_retries=0``) so the two do not
   stack. A reply cut off by the token limit (``finish_reason: length``) is
   requested once more with twice the ``max_tokens``.
2. **Validation** (instructor): a reply that does not parse, breaks the schema or
   is not grounded in the source is re-asked with the precise error, up to
   ``--max-reasks`` times. After that, what is grounded is kept and the rest is
   dropped and listed in ``provenance.warnings``.

Permanent errors (400, 401, 403, 404, context length) fail the document at once
with one line naming the cause and the fix. The API key is never written to an
output, a log, the cache or an error message.

Every request goes through the response cache (``cache.py``): identical
requests are answered from it, and ``replay`` mode answers only from it.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from .backends import Backend
from .cache import Store, open_store, request_key
from .config import DEFAULT_BASE_URL, Config, ConfigError
from .models import CaseSummary, Usage
from .prompt import load_prompt
from .reader import Source, one_line
from .reply import CURRENT, CaseSummaryReply, GroundingContext, to_case_summary

# instructor and openai log failed attempts at ERROR level; with no logging set up
# Python would print them on stderr. We report errors ourselves, once.
for _name in ("instructor", "openai", "httpx", "httpx2"):
    logging.getLogger(_name).addHandler(logging.NullHandler())

MODES = {"tools": "TOOLS", "json": "JSON", "md_json": "MD_JSON"}
TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}
MAX_RETRY_AFTER = 120.0


class LLMError(Exception):
    """A document failed on the LLM path; the message is one line, safe to show."""


class ReplayMiss(LLMError):
    """Replay mode: the request is not in the cache and would need a live call."""


@dataclass
class _DocumentCalls:
    """Per-document accounting, carried by a ContextVar through instructor's loop."""

    doc_id: str
    usage: Usage = field(default_factory=Usage)
    warnings: list[str] = field(default_factory=list)


_CALLS: contextvars.ContextVar[_DocumentCalls | None] = contextvars.ContextVar("summarizer_calls", default=None)


class OpenAIBackend(Backend):
    name = "openai"
    limits_requests = True

    def __init__(self, config: Config, *, store: Store | None = None, sleep=asyncio.sleep):
        import instructor
        import openai

        self.config = config
        self.model = config.resolved_model
        self.base_url = config.resolved_base_url
        key = config.api_key
        if not key:
            if not self.base_url:
                raise ConfigError(
                    f"no API key: set {config.api_key_env} (or --api-key-env NAME), or --base-url for a local server"
                )
            key = "not-needed"  # local servers (Ollama, llama.cpp, LM Studio, vLLM) accept any key
        self._secret = config.api_key or None
        self._prompt = load_prompt(config.prompt)
        self.prompt = self._prompt.info
        self._openai = openai
        self._client = openai.AsyncOpenAI(base_url=self.base_url, api_key=key, timeout=config.timeout, max_retries=0)
        self._mode = getattr(instructor.Mode, MODES[config.mode])
        # instructor patches *our* transport function, so each attempt it makes
        # (first ask and every re-ask) goes through retries, cache and log.
        self._create = instructor.patch(create=self._transport, mode=self._mode)
        # Prepared once: instructor would otherwise wrap the model in a new class on
        # every call, and rebuild its JSON schema (the costliest step per document).
        self._response_model = instructor.response_schema(CaseSummaryReply)
        from openai.types.chat import ChatCompletion

        self._completion_type = ChatCompletion
        self._store = store if store is not None else (open_store(config.cache_path) if config.use_cache else None)
        self._sleep = sleep
        self._not_before = 0.0  # pool-wide pause after a 429 with Retry-After
        self._next_slot = 0.0  # --rpm: when the next request may start
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None  # --concurrency requests in flight

    @property
    def endpoint(self) -> str:
        return (self.base_url or DEFAULT_BASE_URL).rstrip("/")

    async def aclose(self) -> None:
        await self._client.close()

    # -- one document --------------------------------------------------------
    async def summarize(self, source: Source) -> CaseSummary:
        from instructor.core import InstructorRetryException

        calls = _DocumentCalls(source.id)
        ctx = GroundingContext(text=source.text)
        calls_token = _CALLS.set(calls)
        ground_token = CURRENT.set(ctx)
        try:
            try:
                reply = await self._create(response_model=self._response_model, max_retries=self.config.max_reasks, **self._request_args(source))
            except InstructorRetryException as exc:
                cause = exc.__cause__ or exc.__context__
                if isinstance(cause, LLMError):
                    raise cause from None
                if _is_openai_error(cause, self._openai):
                    raise self._permanent(cause) from None
                reply = self._salvage(exc, ctx)
        finally:
            _CALLS.reset(calls_token)
            CURRENT.reset(ground_token)
        await asyncio.sleep(0)
        return self._finish(reply, source, ctx, calls)

    def _request_args(self, source: Source) -> dict[str, Any]:
        return dict(messages=self._prompt.render(source.text), model=self.model, max_tokens=self.config.max_tokens, temperature=0)

    def _finish(self, reply: CaseSummaryReply, source: Source, ctx: GroundingContext, calls: _DocumentCalls) -> CaseSummary:
        summary = to_case_summary(reply)
        self._fill_from_parser(summary, source.text)
        if not summary.key_message.plain_language.strip():
            from .keymessage import compose

            summary.key_message = compose(summary, source.text)
            ctx.warnings.append("key message composed from the record: the model gave none that could be kept")
        summary.provenance.usage = calls.usage
        summary.provenance.prompt = self.prompt
        summary.provenance.warnings = calls.warnings + ctx.warnings
        return summary

    # -- batch APIs (OpenAI Batch, vLLM run-batch) -------------------------------
    async def prepare_request(self, source: Source) -> dict[str, Any]:
        """The request body this backend would send first for a document (instructor's
        mode-specific tools / response_format included): for an offline batch job."""
        captured: dict[str, Any] = {}

        class _Captured(Exception):
            pass

        async def capture(**request):
            captured.update(request)
            raise _Captured

        import instructor

        create = instructor.patch(create=capture, mode=self._mode)
        try:
            await create(response_model=self._response_model, max_retries=0, **self._request_args(source))
        except Exception:
            if not captured:
                raise
        return captured

    def from_batch_reply(self, source: Source, completion: dict[str, Any]) -> CaseSummary:
        """Parse, ground and validate one reply of a batch job (no re-ask is possible:
        ungrounded facts are dropped and listed as warnings)."""
        response = self._completion_type.model_validate(completion)
        data = _reply_json(response)
        if data is None:
            raise LLMError("the reply is not JSON of the requested shape")
        if response.choices and response.choices[0].finish_reason == "length":
            raise LLMError("the reply was cut off by the token limit")
        calls = _DocumentCalls(source.id)
        if response.usage:
            calls.usage = _usage(response.usage, requests=1)
        ctx = GroundingContext(text=source.text, salvage=True)
        token = CURRENT.set(ctx)
        try:
            reply = CaseSummaryReply.model_validate(data)
        except Exception as e:
            raise LLMError(f"the reply does not fit the schema ({one_line(e)})") from None
        finally:
            CURRENT.reset(token)
        return self._finish(reply, source, ctx, calls)

    def _salvage(self, exc, ctx: GroundingContext) -> CaseSummaryReply:
        """The re-ask budget is spent: keep the last reply's grounded facts, drop the rest."""
        completion = getattr(exc, "last_completion", None)
        data = _reply_json(completion)
        if data is None:
            raise LLMError(
                f"the model's reply was not valid JSON of the requested shape after {self.config.max_reasks} re-ask(s); "
                "try --mode json, a stronger model, or more --max-reasks"
            ) from None
        ctx.salvage = True
        try:
            reply = CaseSummaryReply.model_validate(data)
        except Exception as e:  # schema errors (wrong types or vocabulary) cannot be salvaged
            raise LLMError(
                f"the model's reply did not fit the schema after {self.config.max_reasks} re-ask(s) "
                f"({one_line(e)}); try a stronger model or more --max-reasks"
            ) from None
        ctx.warnings.insert(0, f"re-ask budget ({self.config.max_reasks}) spent; ungrounded facts were dropped")
        return reply

    def _fill_from_parser(self, summary: CaseSummary, text: str) -> None:
        """DOI, year, journal, volume, issue, pages and authors come from the deterministic parser
        when it finds them: models invent DOIs and mangle author lists."""
        from .layout import Layout
        from .offline.metadata import read_header
        from .textview import TextView

        parsed, _ = read_header(Layout(TextView(text)), title=False)
        doc = summary.document
        for name in ("doi", "year", "journal", "volume", "issue", "pages", "published", "authors"):
            value = getattr(parsed, name)
            if value:
                setattr(doc, name, value)
        if doc.doi and doc.doi not in text:
            doc.doi = None  # a DOI the text does not contain is invented

    # -- one HTTP request ------------------------------------------------------
    async def _transport(self, **request: Any):
        """One chat-completions request: cache, retries of transient faults, length retry, log."""
        calls = _CALLS.get()
        key = request_key(request, endpoint=self.endpoint, mode=self.config.mode) if self._store is not None or self.config.replay else None
        doc = calls.doc_id if calls else None
        if self._store is not None:
            cached = self._store.get_reply(key)
            if cached is not None:
                if calls:
                    calls.usage = calls.usage.add(Usage(cached_requests=1))
                self._store.log_call(model=self.model, prompt=self._prompt_tag, document=doc, key=key, outcome="ok", cached=True)
                return self._completion_type.model_validate(cached)
        if self.config.replay:
            self._log(doc, key, "replay-miss")
            raise ReplayMiss("not in the response cache (replay mode): this request would need a live call")
        t0 = time.perf_counter()
        response = await self._send(request, doc, key)
        if response.choices and response.choices[0].finish_reason == "length":
            bigger = dict(request, max_tokens=2 * int(request.get("max_tokens") or self.config.max_tokens))
            if calls:
                calls.warnings.append(f"reply cut off at max_tokens={request.get('max_tokens')}; asked again with {bigger['max_tokens']}")
            response = await self._send(bigger, doc, key)
            if response.choices and response.choices[0].finish_reason == "length":
                self._log(doc, key, "truncated")
                raise LLMError(
                    f"the model's reply was cut off at max_tokens={bigger['max_tokens']} twice; "
                    "use a model with a larger output limit or shorten the input"
                )
        latency = int(1000 * (time.perf_counter() - t0))
        usage = response.usage
        if calls and usage:
            calls.usage = calls.usage.add(_usage(usage))  # requests are counted as they are sent
        if self._store is not None:
            self._store.put_reply(key, self.model, response.model_dump(mode="json"))
            self._store.log_call(model=self.model, prompt=self._prompt_tag, document=doc, key=key, outcome="ok",
                                 prompt_tokens=usage.prompt_tokens if usage else None,
                                 completion_tokens=usage.completion_tokens if usage else None, latency_ms=latency)
        # Let the event loop read other documents' replies before this one is parsed
        # and validated (a few milliseconds of CPU): fewer replies wait behind it.
        await asyncio.sleep(0)
        return response

    @property
    def _prompt_tag(self) -> str:
        return f"{self.prompt.name}@{self.prompt.version}"

    def _log(self, doc, key, outcome, detail: str | None = None) -> None:
        if self._store is not None:
            self._store.log_call(model=self.model, prompt=self._prompt_tag, document=doc, key=key, outcome=outcome,
                                 detail=self._scrub(detail) if detail else None)

    async def _send(self, request: dict[str, Any], doc, key):
        """POST with tenacity retries on transient faults; permanent errors raise LLMError at once."""
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

        calls = _CALLS.get()

        def transient(exc: BaseException) -> bool:
            return _is_transient(exc, self._openai)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.config.max_retries + 1),
            retry=retry_if_exception(transient),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
            before_sleep=lambda state: self._note_fault(state, doc, key),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    async with self._request_slot():
                        # checked once the slot is ours: a request that was waiting for a
                        # slot while another got a 429 must honour the pause too
                        await self._respect_pool_pause()
                        if calls:
                            calls.usage = calls.usage.add(Usage(requests=1))
                        # the documented low-level call: the request is already plain JSON,
                        # so create()'s parameter transformation would only cost time
                        return await self._client.post("/chat/completions", cast_to=self._completion_type, body=request)
        except Exception as exc:
            if _is_openai_error(exc, self._openai):
                self._log(doc, key, "error", one_line(exc))
                if transient(exc):
                    raise LLMError(
                        f"{self._describe(exc)} from {self.endpoint} after {self.config.max_retries + 1} attempts; "
                        "the server keeps failing: try later, lower --concurrency, or raise --max-retries"
                    ) from None
                raise self._permanent(exc) from None
            raise

    def _wait(self, state) -> float:
        """Retry-After when the server gives one (capped), else exponential backoff with jitter."""
        exc = state.outcome.exception() if state.outcome else None
        retry_after = _retry_after(exc)
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        n = state.attempt_number
        return min(30.0, 0.5 * 2 ** (n - 1)) * (0.5 + random.random())

    def _note_fault(self, state, doc, key) -> None:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = _retry_after(exc)
        if retry_after is not None:
            # the whole pool slows down, not just this request
            self._not_before = max(self._not_before, time.monotonic() + min(retry_after, MAX_RETRY_AFTER))
        self._log(doc, key, "retry", f"{self._describe(exc)}; attempt {state.attempt_number}")

    def _request_slot(self) -> asyncio.Semaphore:
        """At most --concurrency requests in flight, whatever the number of documents."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(max(1, self.config.concurrency)))
        return self._slots[1]

    async def _respect_pool_pause(self) -> None:
        """Wait out a pool-wide Retry-After pause, and keep to --rpm requests per minute."""
        now = time.monotonic()
        start = max(now, self._not_before)
        if self.config.rpm:
            start = max(start, self._next_slot)
            self._next_slot = start + 60.0 / self.config.rpm
        if start > now:
            await self._sleep(start - now)

    # -- errors ---------------------------------------------------------------
    def _describe(self, exc: BaseException) -> str:
        status = getattr(exc, "status_code", None)
        if status:
            return str(status)
        if isinstance(exc, self._openai.APITimeoutError):
            return f"timeout after {self.config.timeout:g} s"
        if isinstance(exc, self._openai.APIConnectionError):
            return "connection failed"
        return type(exc).__name__

    def _permanent(self, exc: BaseException) -> LLMError:
        o = self._openai
        where = f"from {self.endpoint}"
        message = self._scrub(_error_message(exc))
        code = (getattr(exc, "body", None) or {}).get("code") if isinstance(getattr(exc, "body", None), dict) else None
        status = getattr(exc, "status_code", None)
        if isinstance(exc, o.AuthenticationError):
            text = f"401 {where}: the API key was refused; check {self.config.api_key_env} (or --api-key-env)"
        elif isinstance(exc, o.PermissionDeniedError):
            text = f"403 {where}: access denied; check that the key may use model {self.model!r}"
        elif isinstance(exc, o.NotFoundError):
            text = f"404 {where}: not found; check --model {self.model!r} and --base-url (it usually ends in /v1)"
        elif code == "context_length_exceeded" or "context length" in message.lower() or "maximum context" in message.lower():
            text = f"{status or 400} {where}: the document does not fit model {self.model!r}'s context window; use a model with a longer context or split the input"
        elif isinstance(exc, o.BadRequestError):
            text = f"400 {where}: the server rejected the request ({message}); servers without forced tool calls need --mode json"
        elif isinstance(exc, o.APIStatusError):
            text = f"{status} {where}: {message}"
        elif isinstance(exc, o.APITimeoutError):
            text = f"no reply {where} within {self.config.timeout:g} s; raise --timeout"
        elif isinstance(exc, o.APIConnectionError):
            text = f"cannot connect to {self.endpoint}; check --base-url and that the server is running"
        else:
            text = f"{type(exc).__name__} {where}: {message}"
        return LLMError(self._scrub(text))

    def _scrub(self, text: str) -> str:
        if self._secret and self._secret in text:
            text = text.replace(self._secret, "***")
        return text


# ---------------------------------------------------------------------------
# helpers


def _is_openai_error(exc: BaseException | None, openai_module) -> bool:
    return isinstance(exc, openai_module.OpenAIError)


def _is_transient(exc: BaseException, o) -> bool:
    if isinstance(exc, (o.APITimeoutError, o.APIConnectionError)):
        return True
    if isinstance(exc, o.APIStatusError):
        return exc.status_code in TRANSIENT_STATUS
    return False


def _retry_after(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _error_message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error")
        msg = body.get("message") or (err.get("message") if isinstance(err, dict) else None)
        if msg:
            return one_line(msg)
    return one_line(exc)


def _usage(u, requests: int = 0) -> Usage:
    """Our Usage from an OpenAI usage block."""
    return Usage(requests=requests, prompt_tokens=u.prompt_tokens or 0, completion_tokens=u.completion_tokens or 0, total_tokens=u.total_tokens or 0)


def _reply_json(completion) -> dict | None:
    """The JSON object a completion carries (tool-call arguments or message content)."""
    if completion is None or not getattr(completion, "choices", None):
        return None
    msg = completion.choices[0].message
    candidates = []
    for call in getattr(msg, "tool_calls", None) or []:
        candidates.append(call.function.arguments)
    if msg.content:
        candidates.append(msg.content)
    for raw in candidates:
        try:
            data = json.loads(raw)
        except (TypeError, ValueError):
            start, end = raw.find("{"), raw.rfind("}")
            if start < 0 or end <= start:
                continue
            try:
                data = json.loads(raw[start : end + 1])
            except ValueError:
                continue
        if isinstance(data, dict):
            return data
    return None
