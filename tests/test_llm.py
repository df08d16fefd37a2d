"""The LLM backend against a loopback OpenAI-compatible server playing scripted replies.

Every scenario is asserted on the final output and on the requests the server
received. No internet; the real openai client talks to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

from helpers import EVAL, run_cli
from scripted_replies import document_of, reply_for, responder
from scripted_server import Reply
from summarizer.api import summarize_with
from summarizer.config import Config
from summarizer.llm import LLMError, OpenAIBackend
from summarizer.reader import Source

SEED = "004_22dd3392854c3327"
TEXT = (EVAL / "docs" / f"{SEED}.txt").read_text(encoding="utf-8")
CANARY = "sk-canary-7f3a9c1e5b2d4068"


class FakeSleep:
    """Records the waits tenacity asks for instead of sleeping them."""

    def __init__(self):
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def run(server, text=TEXT, *, mode="tools", sleep=None, tmp_path=None, **cfg):
    config = Config(backend="openai", base_url=server.base_url, model="m", mode=mode,
                    cache_path=(tmp_path / "cache.sqlite3") if tmp_path else None, use_cache=tmp_path is not None, **cfg)
    backend = OpenAIBackend(config, sleep=sleep or FakeSleep())

    async def go():
        try:
            return await summarize_with(backend, Source(text=text, id="doc"))
        finally:
            await backend.aclose()

    return asyncio.run(go())


@pytest.fixture(autouse=True)
def _canary_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)


@pytest.mark.parametrize("mode", ["tools", "json", "md_json"])
def test_valid_reply_in_each_mode(scripted_server, mode):
    scripted_server.script(Reply.auto(reply_for(TEXT)))
    s = run(scripted_server, mode=mode)
    assert [p.age_years for p in s.patients] == [11, 7, 9]
    assert s.patients[0].treatments[-1].name == "tacrolimus"
    for _, e in s.evidence_items():
        assert TEXT[e.start : e.end] == e.quote
    assert s.provenance.backend == "openai" and s.provenance.model == "m"
    assert s.provenance.prompt.name == "case_summary" and len(s.provenance.prompt.sha256) == 64
    req = scripted_server.requests
    assert len(req) == 1 and req[0].model == "m"
    assert req[0].headers["authorization"] == f"Bearer {CANARY}"
    if mode == "tools":
        assert req[0].tools[0]["function"]["name"] == "CaseSummaryReply" and req[0].response_format is None
    elif mode == "json":
        assert req[0].response_format == {"type": "json_object"} and req[0].tools is None
    else:
        assert req[0].response_format is None and req[0].tools is None
    assert s.provenance.usage.requests == 1
    # the scripted server bills chars // 4 + 1 prompt tokens for what it received
    chars = sum(len(m["content"]) for m in req[0].messages if isinstance(m.get("content"), str))
    assert s.provenance.usage.prompt_tokens == chars // 4 + 1


def test_usage_counts_what_the_server_billed(scripted_server):
    scripted_server.script(Reply.auto(reply_for(TEXT), usage={"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}))
    s = run(scripted_server)
    assert (s.provenance.usage.requests, s.provenance.usage.prompt_tokens, s.provenance.usage.completion_tokens) == (1, 1000, 200)


def test_reply_with_offsets_and_unknown_fields_is_accepted(scripted_server):
    data = reply_for(TEXT, with_offsets=True)
    data["confidence"] = 0.9
    data["patients"][0]["mood"] = "cheerful"
    scripted_server.script(Reply.auto(data))
    s = run(scripted_server)
    assert len(s.patients) == 3 and all(e.alignment == "exact" for _, e in s.evidence_items())


def test_invalid_json_then_valid(scripted_server):
    scripted_server.script(Reply.tool_call('{"document": {"title": "x"', usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}),
                           Reply.auto(reply_for(TEXT)))
    s = run(scripted_server)
    assert len(s.patients) == 3
    assert len(scripted_server.requests) == 2
    second = scripted_server.requests[1].messages
    assert "Validation Error" in json.dumps(second) or "error" in json.dumps(second[-1]).lower()
    assert s.provenance.usage.requests == 2


def test_schema_invalid_then_valid(scripted_server):
    bad = reply_for(TEXT)
    bad["patients"][0]["treatments"][0]["response"] = "much better"
    scripted_server.script(Reply.auto(bad), Reply.auto(reply_for(TEXT)))
    s = run(scripted_server, mode="json")
    assert s.patients[0].treatments[0].response in {"not_reported", "improved", "no_change"}
    assert len(scripted_server.requests) == 2
    assert "much better" in json.dumps(scripted_server.requests[1].messages)


def test_ungrounded_quote_is_reasked_with_the_precise_error(scripted_server):
    bad = reply_for(TEXT)
    bad["patients"][1]["treatments"][-1]["evidence"] = [{"quote": "tacrolimus was stopped because of nephrotoxicity"}]
    scripted_server.script(Reply.auto(bad), Reply.auto(reply_for(TEXT)))
    s = run(scripted_server, mode="json")
    assert s.provenance.warnings == []
    assert len(scripted_server.requests) == 2
    feedback = scripted_server.requests[1].messages[-1]["content"]
    assert "quote 'tacrolimus was stopped because of nephrotoxicity' does not occur in the source" in feedback
    # the first request's messages are unchanged in the second (only the re-ask is appended)
    assert scripted_server.requests[1].messages[:2] == scripted_server.requests[0].messages


def test_always_ungrounded_facts_are_dropped_and_listed(scripted_server):
    bad = reply_for(TEXT)
    bad["patients"][0]["treatments"].append({"name": "rituximab", "role": "concomitant", "evidence": [{"quote": "rituximab 375 mg/m2 weekly"}]})
    bad["patients"][2]["sex"] = "male"
    bad["study"]["n_patients"] = 4
    bad["key_message"]["plain_language"] = "Twelve of 40 children improved."
    scripted_server.script(*[Reply.auto(bad)] * 3)
    s = run(scripted_server, max_reasks=2)
    assert len(scripted_server.requests) == 3  # first ask + 2 re-asks
    assert [t.name for t in s.patients[0].treatments] == [t["name"] for t in reply_for(TEXT)["patients"][0]["treatments"]]
    assert s.patients[2].sex is None and s.study.n_patients == 3
    w = "\n".join(s.provenance.warnings)
    assert "re-ask budget (2) spent" in w
    assert "dropped patients[0] (Patient 1).treatments[" in w and "(rituximab): no quote could be found in the source" in w
    assert "sex 'male' removed" in w and "n_patients 4 corrected to 3" in w
    assert "40" not in s.key_message.plain_language  # replaced by the templated message
    assert "tacrolimus" in s.key_message.plain_language


def test_429_with_retry_after_then_valid(scripted_server):
    scripted_server.script(Reply.error(429, "slow down", headers={"Retry-After": "7"}), Reply.auto(reply_for(TEXT)))
    sleep = FakeSleep()
    s = run(scripted_server, sleep=sleep)
    assert len(s.patients) == 3
    assert len(scripted_server.requests) == 2
    assert sleep.waits and sleep.waits[0] == 7.0  # the server's Retry-After, honoured
    # the transient fault is never written into the prompt
    assert scripted_server.requests[1].messages == scripted_server.requests[0].messages
    assert s.provenance.usage.requests == 2


def test_503_twice_then_valid_with_backoff(scripted_server):
    scripted_server.script(Reply.error(503), Reply.error(503), Reply.auto(reply_for(TEXT)))
    sleep = FakeSleep()
    s = run(scripted_server, sleep=sleep)
    assert len(s.patients) == 3 and len(scripted_server.requests) == 3
    assert len(sleep.waits) == 2 and 0 < sleep.waits[0] < 1 < sleep.waits[1] * 2  # exponential with jitter
    assert scripted_server.requests[2].messages == scripted_server.requests[0].messages


def test_connection_reset_is_retried(scripted_server):
    scripted_server.script(Reply.reset(), Reply.auto(reply_for(TEXT)))
    s = run(scripted_server)
    assert len(s.patients) == 3 and len(scripted_server.requests) == 2


def test_reply_slower_than_the_timeout_is_retried(scripted_server):
    scripted_server.script(Reply.auto(reply_for(TEXT), delay=1.5), Reply.auto(reply_for(TEXT)))
    s = run(scripted_server, timeout=0.5)
    assert len(s.patients) == 3 and len(scripted_server.requests) == 2


def test_transient_faults_beyond_the_budget_fail_with_one_line(scripted_server):
    scripted_server.script(*[Reply.error(503)] * 3)
    with pytest.raises(LLMError) as exc:
        run(scripted_server, max_retries=2)
    assert str(exc.value) == (
        f"503 from {scripted_server.base_url} after 3 attempts; the server keeps failing: "
        "try later, lower --concurrency, or raise --max-retries"
    )


def test_401_fails_at_once_and_names_the_fix(scripted_server):
    scripted_server.script(Reply.error(401, f"Incorrect API key provided: {CANARY}"), Reply.auto(reply_for(TEXT)))
    with pytest.raises(LLMError) as exc:
        run(scripted_server)
    assert str(exc.value) == f"401 from {scripted_server.base_url}: the API key was refused; check OPENAI_API_KEY (or --api-key-env)"
    assert len(scripted_server.requests) == 1  # permanent: no retry, no re-ask


@pytest.mark.parametrize(
    "status, body, fragment",
    [
        (400, {"message": "This model's maximum context length is 8192 tokens", "code": "context_length_exceeded"}, "does not fit model 'm''s context window"),
        (404, {"message": "model not found"}, "404 from"),
        (403, {"message": "forbidden"}, "403 from"),
        (400, {"message": "tool_choice is not supported"}, "need --mode json"),
    ],
)
def test_other_permanent_errors(scripted_server, status, body, fragment):
    scripted_server.script(Reply.error(status, body["message"], code=body.get("code")))
    with pytest.raises(LLMError, match=fragment.replace("(", r"\(").replace("'", "'")):
        run(scripted_server)
    assert len(scripted_server.requests) == 1


def test_reply_cut_off_is_asked_again_with_more_tokens(scripted_server):
    scripted_server.script(Reply.auto({"document": {}}, finish_reason="length"), Reply.auto(reply_for(TEXT)))
    s = run(scripted_server, max_tokens=1000)
    assert [r.max_tokens for r in scripted_server.requests] == [1000, 2000]
    assert len(s.patients) == 3
    assert any("cut off at max_tokens=1000" in w for w in s.provenance.warnings)


def test_reply_cut_off_twice_is_reported(scripted_server):
    scripted_server.script(*[Reply.auto({"document": {}}, finish_reason="length")] * 2)
    with pytest.raises(LLMError, match="cut off at max_tokens=2000 twice"):
        run(scripted_server, max_tokens=1000)


def test_template_markup_in_the_abstract_reaches_the_model_verbatim(scripted_server):
    text = "Case: A {{ patient.name }} boy {% if x %}aged 9{% endif %} </document> received {# note #} aspirin. {{7*7}}"
    scripted_server.script(Reply.auto(reply_for(text)))
    run(scripted_server, text=text)
    user = scripted_server.requests[0].messages[-1]["content"]
    assert text in user
    assert document_of(scripted_server.requests[0]) == text
    assert "49" not in user


def test_doi_and_authors_come_from_the_parser_not_the_model(scripted_server):
    data = reply_for(TEXT)
    data["document"]["doi"] = "10.9999/invented.by.model"
    data["document"]["authors"] = ["Someone Else"]
    scripted_server.script(Reply.auto(data))
    s = run(scripted_server)
    assert s.document.doi == "10.1186/1546-0096-6-S1-P215"
    assert s.document.authors == ["J Hassan", "JJ van der Net", "A van Royen-Kerkhof"]


def test_fuzzy_quotes_snap_to_the_source_span(scripted_server):
    data = reply_for(TEXT)
    data["patients"][0]["evidence"] = [{"quote": "Patient 1:  11-year-old  BOY"}]  # spacing, hyphens, case
    scripted_server.script(Reply.auto(data))
    s = run(scripted_server)
    e = s.patients[0].evidence[0]
    assert e.alignment == "fuzzy" and e.quote == TEXT[e.start : e.end] == "Patient 1: 11 year old boy"


def test_cache_answers_repeats_and_never_stores_the_key(scripted_server, tmp_path):
    scripted_server.script(Reply.auto(reply_for(TEXT)))
    first = run(scripted_server, tmp_path=tmp_path)
    second = run(scripted_server, tmp_path=tmp_path)  # nothing scripted: must come from the cache
    assert len(scripted_server.requests) == 1
    assert second.patients[0].age_years == first.patients[0].age_years
    raw = (tmp_path / "cache.sqlite3").read_bytes()
    for f in tmp_path.glob("cache.sqlite3*"):
        assert CANARY.encode() not in f.read_bytes()
    rows = sqlite3.connect(tmp_path / "cache.sqlite3").execute("SELECT outcome, cached FROM calls ORDER BY id").fetchall()
    assert rows == [("ok", 0), ("ok", 1)]
    assert raw


def test_replay_mode_needs_the_cache(scripted_server, tmp_path):
    with pytest.raises(LLMError, match="replay mode"):
        run(scripted_server, tmp_path=tmp_path, replay=True)
    assert scripted_server.requests == []


@pytest.mark.parametrize("mode", ["tools", "json", "md_json"])
def test_cli_end_to_end_over_the_socket_never_shows_the_key(scripted_server, tmp_path, mode):
    scripted_server.responder = responder
    doc = EVAL / "docs" / f"{SEED}.txt"
    env = {"OPENAI_BASE_URL": scripted_server.base_url, "OPENAI_API_KEY": CANARY, "SUMMARIZER_CACHE": str(tmp_path / "c.sqlite3")}
    proc = run_cli("--backend", "openai", "--model", "m", "--mode", mode, str(doc), env=env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["provenance"]["backend"] == "openai" and len(data["patients"]) == 3
    assert all(TEXT[e["start"] : e["end"]] == e["quote"] for p in data["patients"] for t in p["treatments"] for e in t["evidence"])
    assert CANARY not in proc.stdout.decode() + proc.stderr.decode()
    # auto picks the endpoint when one is configured
    proc = run_cli("--model", "m", "--mode", mode, str(doc), env=env)
    assert proc.returncode == 0 and json.loads(proc.stdout)["provenance"]["backend"] == "openai"


def test_cli_401_is_one_line_exit_1_without_the_key(scripted_server, tmp_path):
    scripted_server.script(Reply.error(401, f"bad key {CANARY}"))
    env = {"OPENAI_BASE_URL": scripted_server.base_url, "OPENAI_API_KEY": CANARY, "SUMMARIZER_CACHE": str(tmp_path / "c.sqlite3")}
    proc = run_cli("--model", "m", str(EVAL / "docs" / f"{SEED}.txt"), env=env)
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert err.strip().splitlines() == [
        f"summarize: error: {EVAL / 'docs' / (SEED + '.txt')}: 401 from {scripted_server.base_url}: the API key was refused; check OPENAI_API_KEY (or --api-key-env)"
    ]
    assert CANARY not in err and b"Traceback" not in proc.stderr


def test_missing_key_without_base_url_is_a_usage_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    proc = run_cli("--backend", "openai", str(EVAL / "docs" / f"{SEED}.txt"))
    assert proc.returncode == 2
    assert "no API key: set OPENAI_API_KEY" in proc.stderr.decode()


def test_eval_replay_runs_from_cache_and_reports_misses(scripted_server, tmp_path):
    from summarizer.evaluation import gate, load_suite, run_suite
    from summarizer.prompt import Prompt

    docs = [d for d in load_suite(EVAL) if d.id in {SEED, "dev05_neonatal_hsv_acyclovir"}]
    scripted_server.responder = responder
    config = Config(backend="openai", base_url=scripted_server.base_url, model="m", cache_path=tmp_path / "c.sqlite3")
    live = run_suite(docs, config)
    assert live.results["documents_failed"] == 0 and len(scripted_server.requests) == 2

    scripted_server.reset_log()
    replay = run_suite(docs, config.with_(replay=True))
    assert replay.results["documents_failed"] == 0 and scripted_server.requests == []
    assert replay.results["overall"] == live.results["overall"]

    # a prompt edit changes every request: replay lists each document that needs a live call
    edited = OpenAIBackend(config.with_(replay=True))
    p = edited._prompt
    edited._prompt = Prompt(p.name, p.version, p.sha256, p.source.replace("meticulous", "careful"))
    missed = run_suite(docs, config.with_(replay=True), backend=edited)
    verdict = gate(missed.results, None)
    assert sorted(verdict.reasons) == sorted(
        f"{d.id}: failed (ReplayMiss: not in the response cache (replay mode): this request would need a live call)" for d in docs
    )
    assert scripted_server.requests == []


def test_log_lists_recent_calls(scripted_server, tmp_path):
    scripted_server.responder = responder
    env = {"OPENAI_BASE_URL": scripted_server.base_url, "OPENAI_API_KEY": CANARY, "SUMMARIZER_CACHE": str(tmp_path / "c.sqlite3")}
    doc = str(EVAL / "docs" / f"{SEED}.txt")
    assert run_cli("--model", "m", doc, env=env).returncode == 0
    assert run_cli("--model", "m", doc, env=env).returncode == 0
    out = run_cli("log", env=env).stdout.decode().splitlines()
    assert out[0].startswith("time (UTC)") and len(out) == 3
    assert "ok (cache)" in out[1] and "case_summary@1" in out[1] and out[1].rstrip().endswith(doc)
    assert " ok " in out[2] and CANARY not in "\n".join(out)


def test_429_retry_after_pauses_the_whole_pool(scripted_server):
    """One document's 429 with Retry-After holds back the other documents' requests too."""
    from summarizer.batch import arun_batch

    texts = {f"d{i}": TEXT + f"\n\nRegistry entry {i}.\n" for i in range(3)}
    first = {"done": False}

    def responder(request):
        if not first["done"]:
            first["done"] = True
            return Reply.error(429, "slow down", headers={"Retry-After": "0.4"})
        return Reply.auto(reply_for(document_of(request)))

    scripted_server.responder = responder
    config = Config(backend="openai", base_url=scripted_server.base_url, model="m", use_cache=False, concurrency=1)

    async def go():
        backend = OpenAIBackend(config)
        try:
            return await arun_batch([Source(text=t, id=i) for i, t in texts.items()], backend, concurrency=1)
        finally:
            await backend.aclose()

    stats = asyncio.run(go())
    assert stats.done == 3
    times = [r.arrival_time for r in scripted_server.requests]
    assert len(times) == 4 and times[1] - times[0] >= 0.38  # the retry waited for Retry-After


def test_rpm_spaces_request_starts():
    import time as _time

    from summarizer.config import Config as C

    waits: list[float] = []

    async def sleep(s):
        waits.append(s)

    backend = OpenAIBackend(C(backend="openai", base_url="http://127.0.0.1:9/v1", model="m", rpm=120, use_cache=False), sleep=sleep)

    async def go():
        for _ in range(4):
            await backend._respect_pool_pause()

    asyncio.run(go())
    # 120 requests per minute: starts 0.5 s apart (the first goes at once)
    assert len(waits) == 3 and all(0.45 <= w <= 0.5 for w in waits[:1]) and waits[-1] == pytest.approx(1.5, abs=0.05)
