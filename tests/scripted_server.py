"""Loopback OpenAI-compatible chat-completions server that plays SCRIPTED replies.

Nothing served here comes from a real model: every reply is written by the
test that uses the server.  The real ``openai`` client talks to it over a TCP
socket on 127.0.0.1, so retries, timeouts, connection pooling and error
mapping are exercised exactly as in production.

Standard library only.

Example::

    from scripted_server import Reply, ScriptedServer

    with ScriptedServer() as server:
        server.script(
            # the SDK honours retry-after-ms / Retry-After in (0, 120] s;
            # otherwise it backs off 0.5 s, 1 s, 2 s ... (with jitter)
            Reply.error(429, "slow down", headers={"Retry-After-Ms": "10"}),
            Reply.content('{"title": "ok"}'),
        )
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=1)
        completion = client.chat.completions.create(model="m", messages=[...])
        assert completion.choices[0].message.content == '{"title": "ok"}'
        assert [r.headers["x-stainless-retry-count"] for r in server.requests] == ["0", "1"]

Endpoints:

* ``POST /v1/chat/completions`` (also ``/chat/completions``): consumes one
  scripted :class:`Reply` (FIFO), or asks :attr:`ScriptedServer.responder`
  when the queue is empty, or answers 500 "scripted server: no reply scripted".
  ``stream: true`` and unparsable bodies get a 400 and consume nothing.
* ``GET /v1/models`` (also ``/models``): lists one model, ``scripted-model``.
* anything else: 404 in the OpenAI error format.
"""

from __future__ import annotations

import collections
import http.server
import itertools
import json as _json
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Callable, Mapping, Optional, Union

__all__ = ["Reply", "RecordedRequest", "ScriptedServer", "MODEL_ID"]

#: The single model id listed by ``GET /v1/models``.
MODEL_ID = "scripted-model"

_CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
_MODELS_PATHS = ("/v1/models", "/models")

_DEFAULT_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_exceeded",
}

_ids = itertools.count(1)  # next() on itertools.count is atomic under the GIL


def _next_id() -> int:
    return next(_ids)


# --------------------------------------------------------------------------- #
# Recorded requests
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the server received it.

    Attributes:
        method: HTTP method, e.g. ``"POST"``.
        path: request path without the query string, e.g. ``"/v1/chat/completions"``.
        headers: request headers, keys lower-cased (last value wins).
        json: the parsed JSON body, or ``None`` when the body is empty or not JSON.
        body: the raw body bytes.
        arrival_time: ``time.monotonic()`` when the request was fully read.
    """

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    body: bytes
    arrival_time: float = field(default=0.0)

    def _get(self, key: str) -> Any:
        return self.json.get(key) if isinstance(self.json, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The ``messages`` list of a chat-completions body (``[]`` if absent)."""
        return self._get("messages") or []

    @property
    def model(self) -> Optional[str]:
        """The requested ``model``."""
        return self._get("model")

    @property
    def tools(self) -> Optional[list[dict[str, Any]]]:
        """The ``tools`` list, or ``None`` when the request sent no tools."""
        return self._get("tools")

    @property
    def response_format(self) -> Optional[dict[str, Any]]:
        """The ``response_format`` object, or ``None``."""
        return self._get("response_format")

    @property
    def max_tokens(self) -> Optional[int]:
        """``max_tokens``, falling back to ``max_completion_tokens``."""
        value = self._get("max_tokens")
        return value if value is not None else self._get("max_completion_tokens")


def _content_chars(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return sum(
            len(part.get("text") or "") for part in content if isinstance(part, dict)
        )
    return 0


def _prompt_tokens(request: RecordedRequest) -> int:
    chars = sum(
        _content_chars(m.get("content")) for m in request.messages if isinstance(m, dict)
    )
    return chars // 4 + 1


def _requested_tool_name(request: RecordedRequest) -> str:
    choice = request._get("tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        if name:
            return name
    for tool in request.tools or []:
        if isinstance(tool, dict):
            name = (tool.get("function") or {}).get("name") or tool.get("name")
            if name:
                return name
    return "scripted_function"


# --------------------------------------------------------------------------- #
# Replies
# --------------------------------------------------------------------------- #


@dataclass
class _Wire:
    """A fully rendered HTTP response (``status is None`` means reset)."""

    status: Optional[int]
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Reply:
    """One scripted HTTP reply to a chat-completions request.

    Build replies with the constructors below; never instantiate directly.
    Every constructor takes ``delay`` (seconds slept in the handler thread
    before answering, on top of :attr:`ScriptedServer.latency`).

    ``usage`` (optional dict) overrides the default token counts key by key;
    missing keys are computed as ``prompt_tokens = (total characters of all
    request message contents) // 4 + 1``, ``completion_tokens =
    len(reply text) // 4 + 1`` (reply text = content, or the tool-call
    arguments string) and ``total_tokens = prompt + completion``.
    """

    __slots__ = ("kind", "delay", "_params")

    def __init__(self, kind: str, delay: float = 0.0, **params: Any) -> None:
        if delay < 0:
            raise ValueError("delay must be >= 0")
        self.kind = kind
        self.delay = float(delay)
        self._params = params

    def __repr__(self) -> str:
        shown = {k: v for k, v in self._params.items() if v is not None}
        return f"Reply.{self.kind}({shown!r}, delay={self.delay})"

    # -- constructors --------------------------------------------------- #

    @classmethod
    def content(
        cls,
        text: Optional[str],
        *,
        finish_reason: str = "stop",
        usage: Optional[Mapping[str, int]] = None,
        delay: float = 0.0,
        model: Optional[str] = None,
    ) -> "Reply":
        """A chat.completion whose ``message.content`` is ``text`` (JSON / MD_JSON modes)."""
        return cls("content", delay, text=text, finish_reason=finish_reason, usage=usage, model=model)

    @classmethod
    def tool_call(
        cls,
        arguments: Union[Mapping[str, Any], str],
        *,
        name: Optional[str] = None,
        finish_reason: str = "tool_calls",
        usage: Optional[Mapping[str, int]] = None,
        delay: float = 0.0,
        model: Optional[str] = None,
    ) -> "Reply":
        """A chat.completion whose message carries one function tool call.

        ``arguments``: a dict (serialised with ``json.dumps``) or a string sent
        verbatim (e.g. invalid JSON).  ``name`` defaults to the function the
        request asked for (``tool_choice``, else the first entry of ``tools``).
        """
        if not isinstance(arguments, str):
            arguments = _json.dumps(dict(arguments))
        return cls(
            "tool_call", delay, arguments=arguments, name=name,
            finish_reason=finish_reason, usage=usage, model=model,
        )

    @classmethod
    def auto(cls, obj: Mapping[str, Any], **kw: Any) -> "Reply":
        """``obj`` as a tool call if the request has ``tools``, else as JSON message content.

        ``kw`` is passed to :meth:`tool_call` or :meth:`content` (``usage``,
        ``delay``, ``model``, ``finish_reason``; ``name`` only applies to tool calls).
        """
        unknown = set(kw) - {"delay", "finish_reason", "usage", "model", "name"}
        if unknown:
            raise TypeError(f"Reply.auto() got unexpected keyword(s): {sorted(unknown)}")
        return cls("auto", kw.pop("delay", 0.0), obj=dict(obj), kw=kw)

    @classmethod
    def error(
        cls,
        status: int,
        message: Optional[str] = None,
        *,
        type: Optional[str] = None,
        code: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        delay: float = 0.0,
    ) -> "Reply":
        """An OpenAI-style error ``{"error": {"message", "type", "code", "param": null}}``.

        ``headers`` are added to the response, e.g. ``{"Retry-After": "1"}``.
        ``type`` defaults to a plausible value for the status (``"server_error"`` for 5xx).
        """
        if message is None:
            message = f"scripted server: {status} {_phrase(status)}"
        if type is None:
            type = _DEFAULT_ERROR_TYPES.get(status, "server_error" if status >= 500 else "api_error")
        body = {"error": {"message": message, "type": type, "code": code, "param": None}}
        return cls("error", delay, status=status, body=body, headers=dict(headers or {}))

    @classmethod
    def reset(cls, delay: float = 0.0) -> "Reply":
        """Abort the connection (TCP RST via SO_LINGER 0) without sending a response.

        Only the connection carrying this request is closed; the client sees a
        connection error (``openai.APIConnectionError``).
        """
        return cls("reset", delay)

    @classmethod
    def raw(
        cls,
        status: int,
        body_bytes: Union[bytes, str],
        headers: Optional[Mapping[str, str]] = None,
        delay: float = 0.0,
    ) -> "Reply":
        """Any other response: ``status`` with ``body_bytes`` as is.

        ``Content-Type`` defaults to ``application/json``.  ``Content-Length`` is
        computed unless given in ``headers``; when given it is sent as is (so a
        truncated body can be simulated) and the connection is closed afterwards.
        """
        if isinstance(body_bytes, str):
            body_bytes = body_bytes.encode("utf-8")
        return cls("raw", delay, status=status, body=bytes(body_bytes), headers=dict(headers or {}))

    # -- rendering (internal) ------------------------------------------- #

    def _render(self, request: RecordedRequest) -> _Wire:
        p = self._params
        if self.kind == "auto":
            kw = dict(p["kw"])
            if request.tools:
                return Reply.tool_call(p["obj"], **kw)._render(request)
            kw.pop("name", None)
            return Reply.content(_json.dumps(p["obj"]), **kw)._render(request)
        if self.kind == "reset":
            return _Wire(None)
        if self.kind == "error":
            return _Wire(p["status"], _json.dumps(p["body"]).encode(), dict(p["headers"]))
        if self.kind == "raw":
            headers = {"Content-Type": "application/json", **p["headers"]}
            return _Wire(p["status"], p["body"], headers)

        if self.kind == "content":
            message: dict[str, Any] = {"role": "assistant", "content": p["text"], "refusal": None}
            reply_text = p["text"] or ""
        else:  # tool_call
            message = {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {
                        "id": f"call_scripted_{_next_id()}",
                        "type": "function",
                        "function": {
                            "name": p["name"] or _requested_tool_name(request),
                            "arguments": p["arguments"],
                        },
                    }
                ],
            }
            reply_text = p["arguments"]

        usage = {
            "prompt_tokens": _prompt_tokens(request),
            "completion_tokens": len(reply_text) // 4 + 1,
        }
        usage.update(p["usage"] or {})
        usage.setdefault("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"])
        completion = {
            "id": f"chatcmpl-scripted-{_next_id()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": p["model"] or request.model or MODEL_ID,
            "choices": [
                {"index": 0, "message": message, "finish_reason": p["finish_reason"], "logprobs": None}
            ],
            "usage": usage,
        }
        return _Wire(200, _json.dumps(completion).encode())


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _error_wire(status: int, message: str, type: str = "invalid_request_error") -> _Wire:
    return Reply.error(status, message, type=type)._render(RecordedRequest("", "", {}, None, b""))


def _coerce(reply: Any) -> Reply:
    if isinstance(reply, Reply):
        return reply
    if isinstance(reply, str):
        return Reply.content(reply)
    if isinstance(reply, Mapping):
        return Reply.auto(reply)
    raise TypeError(f"expected Reply, str or dict, got {type(reply).__name__}")


# --------------------------------------------------------------------------- #
# HTTP plumbing
# --------------------------------------------------------------------------- #


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response has Content-Length
    server: "_HTTPServer"

    def setup(self) -> None:
        super().setup()
        self._abort = False
        # Headers and body go out in one write, but disable Nagle anyway so
        # keep-alive requests never pay the delayed-ACK penalty.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr
        pass

    # Every method is routed through one place.
    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        body = self._read_body()
        path = self.path.split("?", 1)[0]
        if len(path) > 1:
            path = path.rstrip("/")
        try:
            parsed = _json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = RecordedRequest(
            method=self.command,
            path=path,
            headers={k.lower(): v for k, v in self.headers.items()},
            json=parsed,
            body=body,
            arrival_time=time.monotonic(),
        )
        owner = self.server.owner
        owner._record(request)

        if path in _CHAT_PATHS and self.command == "POST":
            if not isinstance(parsed, dict):
                wire = _error_wire(400, "scripted server: request body is not a JSON object")
            elif parsed.get("stream"):
                wire = _error_wire(400, "scripted server: streaming is not supported")
            else:
                reply = owner._next_reply(request)
                if not self._sleep(owner.latency + reply.delay):
                    return
                try:
                    wire = reply._render(request)
                except Exception as exc:  # a bad Reply must not hang the client
                    traceback.print_exc()
                    wire = _error_wire(500, f"scripted server: cannot render {reply!r}: {exc}", "server_error")
        elif path in _MODELS_PATHS and self.command == "GET":
            wire = _Wire(200, _json.dumps({
                "object": "list",
                "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "scripted-server"}],
            }).encode())
        else:
            wire = _error_wire(404, f"scripted server: no route for {self.command} {path}")
        self._send(wire)

    def _sleep(self, seconds: float) -> bool:
        """Sleep without blocking other connections; False if the server is stopping."""
        if seconds > 0 and self.server.stopping.wait(seconds):
            self._reset_connection()
            return False
        return True

    def _reset_connection(self) -> None:
        self._abort = True
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass

    def _send(self, wire: _Wire) -> None:
        if wire.status is None:
            self._reset_connection()
            return
        headers = {"Content-Type": "application/json", **wire.headers}
        lower = {k.lower() for k in headers}
        if "content-length" in lower:
            self.close_connection = True  # caller-controlled length: don't reuse
        else:
            headers["Content-Length"] = str(len(wire.body))
        if "x-request-id" not in lower:
            headers["x-request-id"] = f"req_scripted_{_next_id()}"
        if self.close_connection and "connection" not in lower:
            headers["Connection"] = "close"
        head = [f"HTTP/1.1 {wire.status} {_phrase(wire.status)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if self.command != "HEAD":
            data += wire.body
        try:
            self.wfile.write(data)
        except OSError:  # client went away (e.g. it timed out)
            self.close_connection = True

    def finish(self) -> None:
        if not self._abort:
            super().finish()
            return
        for f in (self.wfile, self.rfile):
            try:
                f.close()
            except OSError:
                pass
        # SO_LINGER 0 + close => RST; shutdown_request() then finds a closed socket.
        self.connection.close()


class _HTTPServer(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False  # we join our own handler threads with a timeout
    request_queue_size = 256  # 64+ simultaneous connects must not hit the backlog

    def __init__(self, owner: "ScriptedServer") -> None:
        self.owner = owner
        self.stopping = threading.Event()
        self.conn_lock = threading.Lock()
        self.connections: dict[threading.Thread, socket.socket] = {}
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() calls socket.getfqdn(), a reverse DNS lookup
        # that can stall without network; we know who we are.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"scripted-server-{self.server_address[1]}-conn",
            daemon=True,
        )
        with self.conn_lock:
            self.connections[thread] = request
        thread.start()

    def process_request_thread(self, request: socket.socket, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.conn_lock:
                self.connections.pop(threading.current_thread(), None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, ValueError)) or self.stopping.is_set():
            return  # client hung up / we are shutting down: not interesting
        super().handle_error(request, client_address)


# --------------------------------------------------------------------------- #
# Public server
# --------------------------------------------------------------------------- #


class ScriptedServer:
    """OpenAI-compatible loopback server playing scripted replies.

    Use as a context manager (or call :meth:`start` / :meth:`stop`).

    Attributes:
        responder: optional ``callable(RecordedRequest) -> Reply`` used when
            the script queue is empty (it may also return a ``str`` ->
            :meth:`Reply.content` or a ``dict`` -> :meth:`Reply.auto`).  It is
            called from handler threads, concurrently.
        latency: seconds added before every chat-completions reply (default 0).
            Sleeps happen in the per-connection handler thread, so concurrent
            requests overlap.
    """

    def __init__(
        self,
        *,
        responder: Optional[Callable[[RecordedRequest], Any]] = None,
        latency: float = 0.0,
    ) -> None:
        self.responder = responder
        self.latency = latency
        self._lock = threading.Lock()
        self._queue: collections.deque[Reply] = collections.deque()
        self._log: list[RecordedRequest] = []
        self._httpd: Optional[_HTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle ------------------------------------------------------- #

    def start(self) -> "ScriptedServer":
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        if self._httpd is not None:
            raise RuntimeError("scripted server already started")
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"scripted-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, abort open connections and join all server threads."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stopping.set()  # wakes handlers sleeping on delays
        httpd.shutdown()  # stops accepting
        assert self._thread is not None
        self._thread.join(timeout)
        with httpd.conn_lock:
            conns = dict(httpd.connections)
        for sock in conns.values():  # idle keep-alive handlers block in readline()
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for thread in conns:
            thread.join(max(0.0, deadline - time.monotonic()))
        httpd.server_close()

    def __enter__(self) -> "ScriptedServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- addresses ------------------------------------------------------- #

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._httpd is None:
            raise RuntimeError("scripted server not started")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` - pass as ``base_url`` to ``openai.OpenAI``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting ------------------------------------------------------- #

    def script(self, *replies: Union[Reply, str, Mapping[str, Any]]) -> "ScriptedServer":
        """Append replies to the FIFO queue; each chat-completions request consumes one.

        A ``str`` means :meth:`Reply.content`, a ``dict`` :meth:`Reply.auto`.
        """
        coerced = [_coerce(r) for r in replies]
        with self._lock:
            self._queue.extend(coerced)
        return self

    @property
    def pending(self) -> int:
        """Number of scripted replies not yet consumed."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of every request received (all paths), in arrival order."""
        with self._lock:
            return list(self._log)

    def reset_log(self) -> None:
        """Forget the recorded requests (the script queue is kept)."""
        with self._lock:
            self._log.clear()

    # -- internal -------------------------------------------------------- #

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._log.append(request)

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        responder = self.responder
        if responder is None:
            return Reply.error(500, "scripted server: no reply scripted", type="server_error")
        try:
            return _coerce(responder(request))
        except Exception as exc:  # surface responder bugs to the client, loudly
            traceback.print_exc()
            return Reply.error(
                500, f"scripted server: responder raised {exc.__class__.__name__}: {exc}",
                type="server_error",
            )
