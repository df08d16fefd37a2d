"""The summarize command as a user runs it: outputs, formats, exit codes, one-line errors."""

from __future__ import annotations

import json

import pytest

from helpers import EVAL, ROOT, run_cli

SEED = EVAL / "docs" / "004_22dd3392854c3327.txt"


def _no_traceback(proc) -> None:
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()


def test_json_when_piped_and_notice_on_stderr():
    proc = run_cli(str(SEED))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["document"]["doi"] == "10.1186/1546-0096-6-S1-P215"
    assert [p["age_years"] for p in data["patients"]] == [11, 7, 9]
    assert data["provenance"]["backend"] == "offline"
    assert data["provenance"]["input"]["sha256"]
    assert proc.stderr.decode().strip() == (
        "summarize: no LLM endpoint configured (OPENAI_API_KEY / OPENAI_BASE_URL); using the offline extractor"
    )


def test_quiet_and_explicit_offline_backend_print_no_notice():
    for args in (["--backend", "offline"], ["-q"]):
        proc = run_cli(str(SEED), *args)
        assert proc.returncode == 0 and proc.stderr == b""


def test_markdown_and_text_formats_and_output_file(tmp_path):
    md = run_cli(str(SEED), "--format", "md", "-q")
    assert md.returncode == 0
    out = md.stdout.decode()
    assert out.startswith("# Treatment of refractory juvenile dermatomyositis with tacrolimus")
    assert "| Patient 1 | 11 y | male | tacrolimus | improved |" in out

    text = run_cli(str(SEED), "--format", "text", "-q")
    assert "Key message:" in text.stdout.decode() and "Patient 2" in text.stdout.decode()

    target = tmp_path / "out.md"
    proc = run_cli(str(SEED), "-o", str(target), "-q")
    assert proc.returncode == 0 and proc.stdout == b""
    assert target.read_text(encoding="utf-8").startswith("# Treatment of refractory")


def test_many_inputs_give_one_json_line_each_with_id(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text((EVAL / "docs" / "dev05_neonatal_hsv_acyclovir.txt").read_text(encoding="utf-8"), encoding="utf-8")
    proc = run_cli(str(folder), "-q")
    assert proc.returncode == 0
    lines = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert [x["id"] for x in lines] == [(folder / "a.txt").as_posix(), (folder / "b.txt").as_posix()]


def test_stdin_dash_and_implicit_stdin():
    text = SEED.read_bytes()
    for args in (["-"], []):
        proc = run_cli(*args, "-q", input=text)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["study"]["n_patients"] == 3


@pytest.mark.parametrize(
    "setup, expected",
    [
        ("missing", "summarize: error: {dir}/missing.txt: no such file"),
        ("empty", "summarize: error: {dir}/empty.txt: is empty (nothing but whitespace); give a file with the abstract's text"),
        ("binary", "summarize: error: {dir}/binary.txt: contains NUL bytes, so it looks binary; give a plain-text file"),
        ("folder", "summarize: error: {dir}/folder: folder holds no *.txt files"),
        ("big", "summarize: error: {dir}/big.txt: is 150,000 bytes, over the 100,000 bytes limit; raise it with --max-bytes"),
    ],
)
def test_bad_inputs_fail_with_one_line_and_exit_1(tmp_path, setup, expected):
    (tmp_path / "empty.txt").write_text("  \n ")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01binary")
    (tmp_path / "folder").mkdir()
    (tmp_path / "big.txt").write_text("word " * 30_000)
    target = {"missing": "missing.txt", "empty": "empty.txt", "binary": "binary.txt", "folder": "folder", "big": "big.txt"}[setup]
    args = [str(tmp_path / target), "-q"] + (["--max-bytes", "100000"] if setup == "big" else [])
    proc = run_cli(*args)
    assert proc.returncode == 1
    _no_traceback(proc)
    assert proc.stderr.decode().strip() == expected.format(dir=tmp_path)


def test_one_bad_input_does_not_stop_the_others(tmp_path):
    proc = run_cli(str(tmp_path / "missing.txt"), str(SEED), "-q")
    assert proc.returncode == 1
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["id"] == str(SEED).replace("\\", "/")
    assert "missing.txt: no such file" in proc.stderr.decode()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        ([str(SEED), "--backend", "magic"], "invalid choice: 'magic'"),
        ([str(SEED), "--timeout", "0"], "--timeout must be a positive number"),
        ([str(SEED), "-o", "/nonexistent-dir/x.json"], "cannot write /nonexistent-dir/x.json"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, fragment):
    proc = run_cli(*args)
    assert proc.returncode == 2
    _no_traceback(proc)
    err = proc.stderr.decode().strip().splitlines()
    assert len(err) == 1 and fragment in err[0] and err[0].startswith("summarize: error:")


def test_no_input_on_a_terminal_is_a_usage_error():
    # stdin is a pipe in tests; emulate a terminal by closing it: the CLI must still not hang
    proc = run_cli(input=b"")
    assert proc.returncode == 1
    assert "is empty" in proc.stderr.decode()


def test_help_has_examples_and_version():
    proc = run_cli("--help")
    assert proc.returncode == 0 and b"examples:" in proc.stdout and b"--backend" in proc.stdout
    assert run_cli("--version").stdout.decode().startswith("summarizer ")


def test_html_page_for_one_document_and_pages_for_many(tmp_path):
    page = tmp_path / "case.html"
    proc = run_cli(str(SEED), "--html", str(page), "-q")
    assert proc.returncode == 0, proc.stderr
    html = page.read_text(encoding="utf-8")
    assert html.lower().startswith("<!doctype html>") and "tacrolimus" in html and "<script" in html
    assert "http://" not in html.split("<body", 1)[1].replace("http://www.w3.org", "")  # self-contained
    pages = tmp_path / "pages"
    proc = run_cli(str(EVAL / "docs"), "--html-dir", str(pages), "-o", str(tmp_path / "o.jsonl"), "-q")
    assert proc.returncode == 0
    assert len(list(pages.glob("*.html"))) == len(list((EVAL / "docs").glob("*.txt")))
    assert run_cli(str(EVAL / "docs"), "--html", str(page)).returncode == 2  # one page for many documents: usage error
