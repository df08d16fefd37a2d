"""Batches: many documents through the scripted server, faults, resume after SIGKILL, CSV, Batch API round trip."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from helpers import EVAL, ROOT, run_cli
from scripted_replies import document_of, reply_for
from scripted_server import Reply

BASE_DOCS = sorted((EVAL / "docs").glob("*.txt"))
KEY = "sk-batch-test"


def make_corpus(folder, n: int) -> list[str]:
    """n distinct documents (real eval texts, each with its own trailing registry line)."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = []
    for i in range(n):
        base = BASE_DOCS[i % len(BASE_DOCS)].read_text(encoding="utf-8")
        text = f"{base}\n\nRegistry entry {i:04d}.\n"
        (folder / f"doc{i:04d}.txt").write_text(text, encoding="utf-8")
        texts.append(text)
    return texts


class CachedReplies:
    """Replies computed once per document (the server answers fast under concurrency)."""

    def __init__(self):
        self._replies: dict[str, dict] = {}
        self._lock = threading.Lock()

    def __call__(self, text: str) -> dict:
        with self._lock:
            if text not in self._replies:
                self._replies[text] = reply_for(text)
            return self._replies[text]


def env_for(server, tmp_path) -> dict:
    return {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": KEY, "SUMMARIZER_CACHE": str(tmp_path / "cache.sqlite3")}


def ids_in(path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_200_documents_with_30_percent_transient_faults_all_land_exactly_once(scripted_server, tmp_path):
    folder = tmp_path / "in"
    make_corpus(folder, 200)
    replies = CachedReplies()
    attempts: Counter = Counter()
    lock = threading.Lock()

    def responder(request):
        text = document_of(request)
        n = int(text.rsplit("Registry entry ", 1)[1][:4])
        with lock:
            attempts[n] += 1
            first = attempts[n] == 1
        if first and n % 10 < 3:  # 30% of documents meet a transient fault on their first request
            return [Reply.error(429, "rate limited", headers={"Retry-After-Ms": "20"}), Reply.error(503), Reply.reset()][n % 3]
        return Reply.auto(replies(text))

    scripted_server.responder = responder
    out = tmp_path / "out.jsonl"
    proc = run_cli(str(folder), "--model", "m", "-o", str(out), "--concurrency", "16", "--csv", str(tmp_path / "patients.csv"),
                   env=env_for(scripted_server, tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    ids = ids_in(out)
    assert len(ids) == 200 and len(set(ids)) == 200
    assert sum(attempts.values()) == 200 + 60  # every faulty document was retried once
    summary = proc.stderr.decode().strip().splitlines()[-1]
    assert summary.startswith("summarize: 200 done, 0 failed, 0 from cache; 260 requests")
    rows = list(csv.DictReader(open(tmp_path / "patients.csv", encoding="utf-8")))
    assert {r["document_id"] for r in rows} <= set(ids) and len(rows) >= 200
    assert set(rows[0]) == {"document_id", "title", "patient", "age_years", "sex", "condition", "index_treatment",
                            "courses", "response", "outcome", "adverse_events", "prior_treatments"}

    # the same command again: everything is already done, nothing is sent
    scripted_server.reset_log()
    again = run_cli(str(folder), "--model", "m", "-o", str(out), "--concurrency", "16", env=env_for(scripted_server, tmp_path))
    assert again.returncode == 0 and scripted_server.requests == []
    assert "0 done, 0 failed, 0 from cache, 200 already done" in again.stderr.decode()
    assert ids_in(out) == ids


def test_401_for_some_documents_fails_those_only(scripted_server, tmp_path):
    folder = tmp_path / "in"
    make_corpus(folder, 20)
    replies = CachedReplies()

    def responder(request):
        text = document_of(request)
        n = int(text.rsplit("Registry entry ", 1)[1][:4])
        return Reply.error(401, "invalid key") if n in (3, 11) else Reply.auto(replies(text))

    scripted_server.responder = responder
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    proc = run_cli(str(folder), "--model", "m", "-o", str(out), "--errors", str(errors), "-q", env=env_for(scripted_server, tmp_path))
    assert proc.returncode == 1
    assert len(ids_in(out)) == 18
    failed = [json.loads(l) for l in errors.read_text().splitlines()]
    assert sorted(f["id"].rsplit("/", 1)[1] for f in failed) == ["doc0003.txt", "doc0011.txt"]
    assert all("401 from" in f["error"] and "check OPENAI_API_KEY" in f["error"] for f in failed)
    err_lines = proc.stderr.decode().strip().splitlines()
    assert len(err_lines) == 2 and all(l.startswith("summarize: error: ") and "401 from" in l for l in err_lines)

    # fixed key: the rerun does only the two failures
    scripted_server.responder = lambda r: Reply.auto(replies(document_of(r)))
    scripted_server.reset_log()
    proc = run_cli(str(folder), "--model", "m", "-o", str(out), "-q", env=env_for(scripted_server, tmp_path))
    assert proc.returncode == 0 and len(scripted_server.requests) == 2
    assert sorted(ids_in(out)) == sorted(str(folder / f"doc{i:04d}.txt") for i in range(20))


def test_sigkill_mid_batch_then_rerun_gives_every_document_exactly_once(scripted_server, tmp_path):
    folder = tmp_path / "in"
    make_corpus(folder, 40)
    replies = CachedReplies()
    scripted_server.responder = lambda r: Reply.auto(replies(document_of(r)))
    scripted_server.latency = 0.15
    out = tmp_path / "out.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARIZER_"))}
    env.update(env_for(scripted_server, tmp_path))
    env["SUMMARIZER_CACHE"] = str(tmp_path / "nocache-first.sqlite3")
    cmd = [sys.executable, "-m", "summarizer", str(folder), "--model", "m", "-o", str(out), "--concurrency", "4", "-q"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        if out.exists() and len(out.read_bytes().splitlines()) >= 10:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    written = out.read_bytes()
    complete = [l for l in written.split(b"\n")[:-1]]
    assert 10 <= len(complete) < 40, "killed in the middle"
    for line in complete:
        json.loads(line)  # every complete line is valid JSON
    # simulate the worst case: the kill landed in the middle of a write
    with open(out, "ab") as fh:
        fh.write(b'{"id": "partial", "document": {"ti')

    scripted_server.latency = 0
    scripted_server.reset_log()
    env["SUMMARIZER_CACHE"] = str(tmp_path / "nocache-second.sqlite3")  # no cache: resume must come from the file
    rerun = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    ids = ids_in(out)
    assert sorted(ids) == sorted(str(folder / f"doc{i:04d}.txt") for i in range(40))
    assert len(scripted_server.requests) == 40 - len(complete)
    assert out.read_bytes().endswith(b"\n")


def _completion(request_body: dict, reply: dict, model: str = "m") -> dict:
    message = {"role": "assistant", "content": None}
    if request_body.get("tools"):
        message["tool_calls"] = [{"id": "call_1", "type": "function",
                                  "function": {"name": request_body["tools"][0]["function"]["name"], "arguments": json.dumps(reply)}}]
    else:
        message["content"] = json.dumps(reply)
    return {"id": "chatcmpl-x", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if request_body.get("tools") else "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}}


@pytest.mark.parametrize("mode", ["tools", "json"])
def test_batch_prepare_results_collect_round_trip(tmp_path, mode):
    folder = tmp_path / "in"
    texts = make_corpus(folder, 6)
    requests = tmp_path / "requests.jsonl"
    proc = run_cli("batch", "prepare", str(folder), "--model", "gpt-x", "--mode", mode, "-o", str(requests))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(l) for l in requests.read_text().splitlines()]
    assert len(lines) == 6 and {l["method"] for l in lines} == {"POST"} and {l["url"] for l in lines} == {"/v1/chat/completions"}
    assert lines[0]["body"]["model"] == "gpt-x" and ("tools" in lines[0]["body"]) == (mode == "tools")

    results, errors = tmp_path / "results.jsonl", tmp_path / "errors.jsonl"
    with open(results, "w") as out, open(errors, "w") as err_file:
        for i, line in enumerate(lines):
            cid, body = line["custom_id"], line["body"]
            text = texts[i]
            if i == 1:  # inline error, the way vLLM writes it
                out.write(json.dumps({"id": f"r{i}", "custom_id": cid, "response": {"status_code": 500, "body": {"error": {"message": "engine died"}}}, "error": None}) + "\n")
            elif i == 2:  # OpenAI: failures go to a separate error file
                err_file.write(json.dumps({"id": f"r{i}", "custom_id": cid, "response": None, "error": {"code": "rate_limit_exceeded", "message": "too many"}}) + "\n")
            elif i == 3:
                continue  # no result at all
            else:
                out.write(json.dumps({"id": f"r{i}", "custom_id": cid, "response": {"status_code": 200, "request_id": f"q{i}", "body": _completion(body, reply_for(text))}, "error": None}) + "\n")

    summaries = tmp_path / "summaries.jsonl"
    proc = run_cli("batch", "collect", str(results), "--errors", str(errors), "--requests", str(requests), "-o", str(summaries),
                   "--failed", str(tmp_path / "failed.jsonl"), "--csv", str(tmp_path / "p.csv"))
    assert proc.returncode == 1
    got = [json.loads(l) for l in summaries.read_text().splitlines()]
    assert [g["id"] for g in got] == [lines[i]["custom_id"] for i in (0, 4, 5)]
    for g, i in zip(got, (0, 4, 5)):
        assert g["provenance"]["backend"] == "openai" and g["provenance"]["input"]["sha256"]
        assert g["provenance"]["usage"]["prompt_tokens"] == 100
        for p in g["patients"]:
            for t in p["treatments"]:
                for e in t["evidence"]:
                    assert texts[i][e["start"] : e["end"]] == e["quote"]
    failed = {json.loads(l)["id"]: json.loads(l)["error"] for l in (tmp_path / "failed.jsonl").read_text().splitlines()}
    assert failed == {lines[1]["custom_id"]: "status 500: engine died",
                      lines[2]["custom_id"]: "rate_limit_exceeded: too many",
                      lines[3]["custom_id"]: "no result for this request"}
    resubmit = tmp_path / "summaries.resubmit.jsonl"
    assert [json.loads(l) for l in resubmit.read_text().splitlines()] == [lines[1], lines[2], lines[3]]
    assert "3 collected, 3 failed; resubmit" in proc.stderr.decode()
    assert len(list(csv.DictReader(open(tmp_path / "p.csv")))) >= 3


def test_jsonl_input_and_out_dir(tmp_path):
    src = tmp_path / "docs.jsonl"
    rows = [{"id": "alpha", "text": BASE_DOCS[0].read_text(encoding="utf-8")}, {"id": "beta/1", "text": BASE_DOCS[1].read_text(encoding="utf-8")}]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out_dir = tmp_path / "per-doc"
    proc = run_cli("--jsonl", str(src), "--backend", "offline", "--out-dir", str(out_dir), "-o", str(tmp_path / "o.jsonl"), "-q")
    assert proc.returncode == 0, proc.stderr
    files = sorted(out_dir.glob("*.json"))
    assert len(files) == 2 and {json.loads(f.read_text())["id"] for f in files} == {"alpha", "beta/1"}
    assert ids_in(tmp_path / "o.jsonl") == ["alpha", "beta/1"]
