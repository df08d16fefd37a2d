"""The evidence viewer and the HTML eval report.

Unit tests parse the page with the standard library's ``html.parser``: the source
pane's text must equal the source exactly, and every evidence item's range must be
tiled by highlighted segments carrying its id. Browser tests drive Debian's
Chromium through Playwright (skipped when either is missing) and save screenshots
to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from helpers import EVAL, ROOT, SEEDS
from summarizer import summarize
from summarizer.config import Config
from summarizer.evaluation import gate, load_results, load_suite, run_suite
from summarizer.models import AdverseEvents, CaseSummary, Evidence, Finding, Outcome, Patient, Provenance, Treatment
from summarizer.offline import extract
from summarizer.reader import read_file
from summarizer.viewer import eval_report_html, html_filename, render_html, segment, write_html

DOCS = sorted((EVAL / "docs").glob("*.txt")) + sorted((EVAL / "holdout" / "docs").glob("*.txt"))
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


class ViewerPage(HTMLParser):
    """A viewer page taken apart: the source pane's text, its highlighted segments, the scripts."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.segments: list[dict] = []
        self.scripts: list[tuple[str | None, str]] = []
        self._depth = 0  # element depth inside #source
        self._seg: dict | None = None
        self._script: list | None = None
        self.feed(page)
        self.close()

    @property
    def pos(self) -> int:
        return sum(map(len, self.pieces))

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def data(self) -> dict:
        (blob,) = [s for t, s in self.scripts if t == "application/json"]
        return json.loads(blob)

    @property
    def code(self) -> str:
        (code,) = [s for t, s in self.scripts if t is None]
        return code

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self._depth:
            assert tag == "span" and "hl" in a["class"].split() and self._seg is None, f"unexpected <{tag} {a}> in the source pane"
            assert int(a["data-start"]) == self.pos
            self._seg = {"start": self.pos, "ev": a["data-ev"].split(), "facts": a["data-facts"].split(),
                         "kinds": a["data-kinds"].split(), "title": a["title"], "class": a["class"].split()}
            self._depth += 1
        elif tag == "div" and a.get("id") == "source":
            self._depth = 1
        elif tag == "script":
            self._script = [a.get("type"), ""]

    def handle_endtag(self, tag):
        if self._depth:
            if tag == "span":
                self._seg["end"] = self.pos
                self.segments.append(self._seg)
                self._seg = None
            self._depth -= 1
        elif tag == "script" and self._script is not None:
            self.scripts.append(tuple(self._script))
            self._script = None

    def handle_data(self, data):
        if self._depth:
            self.pieces.append(data)
        elif self._script is not None:
            self._script[1] += data


def check_page(summary: CaseSummary, text: str, page: str) -> ViewerPage:
    """The invariants every viewer page keeps (see the module docstring)."""
    v = ViewerPage(page)
    assert v.text == text, "the source pane must show the source exactly"
    for seg in v.segments:
        assert seg["end"] > seg["start"] and seg["ev"] and seg["facts"]
    facts = v.data["facts"]
    owner = {e: fid for fid, f in facts.items() for e in f["ev"]}
    n = len(text)  # ranges past the end are clamped
    expected = {f"e{i}": ev for i, (_, ev) in enumerate(summary.evidence_items()) if min(ev.end, n) > ev.start}
    assert set(owner) == set(expected), "every visible evidence item belongs to exactly one fact"
    for eid, ev in expected.items():
        segs = [s for s in v.segments if eid in s["ev"]]
        assert segs, f"{eid} ({ev.quote!r}) is not highlighted"
        assert segs[0]["start"] == ev.start and segs[-1]["end"] == min(ev.end, n)
        assert all(a["end"] == b["start"] for a, b in zip(segs, segs[1:])), f"{eid}'s segments are contiguous"
        if text[ev.start:ev.end] == ev.quote:
            assert "".join(text[s["start"]:s["end"]] for s in segs) == ev.quote
        assert all(owner[eid] in s["facts"] for s in segs), f"{eid}'s segments must carry its fact id"
    for fid in facts:
        assert f'data-fact="{fid}"' in page, f"highlighted fact {fid} has no clickable entry on the right"
    return v


# ---------------------------------------------------------------------------
# Unit tests (no browser)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.stem)
def test_every_evidence_quote_is_highlighted(path):
    text = read_file(path).text
    summary = extract(text)
    v = check_page(summary, text, render_html(summary, text))
    assert len(v.data["facts"]) >= 1 and v.segments


def overlap_case(text: str = "0123456789" * 4) -> tuple[CaseSummary, str]:
    """A patient span [0,20], a treatment span [10,30] and a fuzzy finding span [12,15] nested in both."""

    def ev(s, e, **kw):
        return Evidence(quote=text[s:e], start=s, end=e, **kw)

    p = Patient(
        label="Case 1", age_years=30, evidence=[ev(0, 20, field="age_years")],
        findings=[Finding(name="CK", result="high", evidence=[ev(12, 15, field="finding", alignment="fuzzy")])],
        treatments=[Treatment(name="tacrolimus", role="index", response="improved", evidence=[ev(10, 30, field="name")])],
    )
    return CaseSummary(patients=[p]), text


def test_segment_splits_at_every_boundary():
    assert segment(40, [(0, 20, "A"), (10, 30, "B"), (12, 15, "C")]) == [
        (0, 10, ["A"]), (10, 12, ["A", "B"]), (12, 15, ["A", "B", "C"]), (15, 20, ["A", "B"]), (20, 30, ["B"]), (30, 40, []),
    ]
    # identical and empty spans, spans past the end
    assert segment(5, [(1, 3, "x"), (1, 3, "y"), (2, 2, "z"), (4, 9, "w")]) == [
        (0, 1, []), (1, 3, ["x", "y"]), (3, 4, []), (4, 5, ["w"]),
    ]
    assert segment(0, []) == []


def test_overlapping_and_nested_spans():
    summary, text = overlap_case()
    v = check_page(summary, text, render_html(summary, text))
    # evidence_items order: patient (A), finding (C), treatment (B)
    a, c, b = "e0", "e1", "e2"
    owner = {e: fid for fid, f in v.data["facts"].items() for e in f["ev"]}
    got = [(s["start"], s["end"], set(s["ev"]), set(s["facts"])) for s in v.segments]
    want = [(0, 10, {a}), (10, 12, {a, b}), (12, 15, {a, b, c}), (15, 20, {a, b}), (20, 30, {b})]
    assert got == [(s, e, ids, {owner[i] for i in ids}) for s, e, ids in want]
    mixed = v.segments[2]
    assert mixed["kinds"] == ["demo", "finding", "treat"] and "fuzzy" in mixed["class"]
    assert "Case 1 · finding: CK — high" in mixed["title"] and "fuzzy match" in mixed["title"]
    assert "Case 1 · treatment: tacrolimus (index, improved)" in mixed["title"]
    assert v.data["facts"][owner[c]]["label"] == "Case 1 · finding: CK — high"


def test_fuzzy_and_broken_evidence_are_flagged_not_lost():
    summary, text = overlap_case()
    p = summary.patients[0]
    p.outcome = Outcome(status="improved", evidence=[Evidence(quote="", start=35, end=35)])  # empty: nothing to show
    p.adverse_events = AdverseEvents(status="none", evidence=[
        Evidence(quote="zzz", start=38, end=60),  # runs past the end: clamped
        Evidence(quote="xyz", start=0, end=3),  # offsets do not match the quote
    ])
    # quotes for values the record left empty, and for fields the viewer has no row for
    p.evidence += [Evidence(quote=text[30:33], start=30, end=33, field="sex"), Evidence(quote=text[33:35], start=33, end=35, field="comorbidities"),
                   Evidence(quote=text[35:37], start=35, end=37, field="weight"), Evidence(quote=text[37:38], start=37, end=38)]
    summary.study.evidence = [Evidence(quote=text[20:22], start=20, end=22, field="condition"), Evidence(quote=text[22:24], start=22, end=24, field="setting")]
    summary.provenance = Provenance(warnings=["1 quote was matched fuzzily", "<b>not bold</b>"])
    page = render_html(summary, text)
    v = check_page(summary, text, page)
    assert "fuzzy match</span>" in page and 'class="badge bad"' in page and "no quote" in page
    assert "with wrong offsets" in page and 'id="warnings"' in page and "&lt;b&gt;not bold&lt;/b&gt;" in page
    bad = [s for s in v.segments if "bad" in s["class"]]
    assert bad and bad[0]["start"] == 0 and "offsets do not match" in bad[0]["title"]
    empty = next(f"e{n}" for n, (path, _) in enumerate(summary.evidence_items()) if path.endswith("outcome"))
    assert empty not in {e for f in v.data["facts"].values() for e in f["ev"]}


def test_crlf_nbsp_and_astral_characters_survive():
    text = "Line one\r\nA 5\u00a0year old 😀 boy\r\rwith café\u0301 — <treated> & \"well\" 'done'\r\n"
    start = text.index("boy")
    summary = CaseSummary(patients=[Patient(label="P", sex="male", evidence=[Evidence(quote="boy", start=start, end=start + 3, field="sex")])])
    page = render_html(summary, text)
    assert "\r" not in page.split('id="source"')[1].split("</div>")[0]  # CR goes out as &#13;, which HTML keeps
    check_page(summary, text, page)


def test_user_text_is_escaped_everywhere():
    evil = "<script>alert(1)</script>"
    text = f"Case {evil} and </pre><img src=x onerror=alert(1)> with \"quotes\" 'single' & ampersand; tacrolimus helped."
    s = text.index("tacrolimus")
    summary = CaseSummary(patients=[Patient(
        label="</script><script>alert(2)</script>",
        treatments=[Treatment(name='tacro"limus<img src=y onerror=alert(3)>', evidence=[Evidence(quote="tacrolimus", start=s, end=s + 10)])],
        evidence=[Evidence(quote=evil, start=5, end=5 + len(evil), field="label")],
    )])
    summary.document.title = "<script>alert(4)</script>"
    summary.key_message.plain_language = "</script><b>x</b>"
    summary.provenance = Provenance(warnings=["<img src=z onerror=alert(5)>"], model="m<script>")
    page = render_html(summary, text, title="t<script>alert(6)</script>")
    v = check_page(summary, text, page)
    assert "<script>alert" not in page and "<img" not in page and "<b>" not in page
    assert page.count("<script") == 2  # the JSON data block and the viewer's own code
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&amp; ampersand" in page and "&#34;quotes&#34;" in page
    # the code is the same for every page: no user text in it; the data block is JSON without raw '<'
    other = ViewerPage(render_html(*overlap_case()))
    assert v.code == other.code
    blob = page.split('id="viewer-data">')[1].split("</script>")[0]
    assert "<" not in blob and ">" not in blob
    labels = [f["label"] for f in v.data["facts"].values()]
    assert any("</script><script>alert(2)</script>" in label for label in labels)  # round-trips through JSON


def test_html_filename_is_safe_and_unique():
    ids = ["a/b c.txt", "../x", "x", "ü.txt", "u.txt", "U.txt", "a_b_c.txt", "a b c.txt", "", ".hidden", "con",
           "dev01_kawasaki_infliximab", "x" * 300, "x" * 301, "a\\b", "日本語", "né", "ne\u0301"]
    names = [html_filename(i) for i in ids]
    for name in names:
        assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*\.html", name), name
        assert "/" not in name and "\\" not in name and len(name) <= 100
    assert len({n.lower() for n in names}) == len(ids), "unique, also on case-insensitive file systems"
    assert html_filename("dev01_kawasaki_infliximab") == "dev01_kawasaki_infliximab.html"
    assert html_filename("a/b c.txt") == html_filename("a/b c.txt")
    assert html_filename("con") != "con.html"


def test_gold_is_shown_beside_predicted(tmp_path):
    doc = "004_22dd3392854c3327"
    text = read_file(EVAL / "docs" / f"{doc}.txt").text
    summary = extract(text)
    gold = json.loads((EVAL / "gold" / f"{doc}.json").read_text(encoding="utf-8"))
    summary.patients = summary.patients[:-1]  # one gold patient is now missing
    out = write_html(summary, text, tmp_path / "deep" / "page.html", gold=gold, title=doc)
    page = out.read_text(encoding="utf-8")
    check_page(summary, text, page)
    assert 'id="gold-score"' in page and "<th>Gold</th>" in page and "in gold, not found" in page
    assert 'class="card gold-only"' in page and "Gold reference:" in page
    assert page.count('class="gold-row') >= 2  # gold treatments under predicted ones


def _suite_run():
    docs = load_suite(EVAL)
    run = run_suite(docs, Config(backend="offline", use_cache=False))
    baseline = load_results(EVAL / "baseline.json")
    return docs, run, baseline, gate(run.results, baseline)


def test_eval_report_links_every_document(tmp_path):
    docs, run, baseline, verdict = _suite_run()
    results = json.loads(json.dumps(run.results))
    broken = docs[1].id
    results["documents"][broken] = {"error": "RuntimeError: <boom>"}
    summaries = {k: v for k, v in run.summaries.items() if k != broken}
    report = tmp_path / "my report.html"
    eval_report_html(results, baseline, verdict, summaries, docs, report)
    page = report.read_text(encoding="utf-8")
    links = re.findall(r'<a class="doc-link" href="([^"]+)">', page)
    assert len(links) == len(docs) - 1
    for href in links:
        assert not href.startswith(("/", "file:", "http")) and href.startswith("my%20report_docs/")
        target = tmp_path / "my report_docs" / href.split("/", 1)[1]
        assert target.is_file(), href
    assert page.count('class="field-row"') == len(results["per_field"])
    assert "RuntimeError: &lt;boom&gt;" in page and 'id="verdict"' in page
    sub = tmp_path / "my report_docs" / html_filename(docs[0].id)
    assert 'href="../my%20report.html"' in sub.read_text(encoding="utf-8")
    # a report without a baseline or verdict renders too
    eval_report_html(run.results, None, None, run.summaries, docs, tmp_path / "plain.html")
    assert "No baseline" in (tmp_path / "plain.html").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------
# Browser tests (Playwright driving Debian's Chromium)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[test]'")
    exe = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    if not exe:
        pytest.skip("Chromium not installed: apt-get install chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser, tmp_path):
    """Open HTML (a string or a file) at 1280x800; yields (page, console errors)."""
    contexts = []

    def _open(page_html: str | Path, name: str = "page.html"):
        path = page_html if isinstance(page_html, Path) else tmp_path / name
        if not isinstance(page_html, Path):
            path.write_text(page_html, encoding="utf-8")
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(ctx)
        page = ctx.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
        page.goto(path.as_uri())
        return page, errors

    yield _open
    for ctx in contexts:
        ctx.close()


DOM_HIGHLIGHTS = """() => {
  const byEv = {}, facts = new Set();
  for (const s of document.querySelectorAll('#source .hl')) {
    for (const id of s.dataset.ev.split(' ')) byEv[id] = (byEv[id] || '') + s.textContent;
    for (const id of s.dataset.facts.split(' ')) facts.add(id);
  }
  const right = [...document.querySelectorAll('#record-pane .fact[data-fact]')].map(e => e.dataset.fact);
  return {byEv, facts: [...facts].sort(), right: [...new Set(right)].sort(),
          source: document.getElementById('source').textContent};
}"""

IN_VIEW = """(sel) => {
  const el = document.querySelector(sel), pane = document.getElementById('source-pane');
  const r = el.getBoundingClientRect(), p = pane.getBoundingClientRect();
  return r.top >= p.top && r.bottom <= p.bottom && r.left >= p.left && r.right <= p.right;
}"""


def check_dom_highlights(page, summary: CaseSummary, text: str) -> None:
    dom = page.evaluate(DOM_HIGHLIGHTS)
    expected = {f"e{n}": ev.quote for n, (_, ev) in enumerate(summary.evidence_items()) if ev.end > ev.start}
    assert dom["source"] == text
    assert dom["byEv"] == expected, "each evidence item's text is the text of the segments carrying its id"
    assert dom["facts"] == dom["right"], "every highlighted fact is on the right, and every clickable fact is highlighted"


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    return path


@pytest.mark.parametrize("doc", SEEDS)
def test_seed_viewer_in_browser(open_page, doc):
    source = read_file(EVAL / "docs" / f"{doc}.txt")
    text = source.text
    summary = summarize(source, backend="offline")  # with provenance, as the CLI writes it
    page, errors = open_page(render_html(summary, text, title=doc))
    # (a) every quote highlighted
    check_dom_highlights(page, summary, text)
    # (b) click the treatment whose words come last; its first span scrolls into the left pane and flashes
    fid = page.evaluate("""() => {
      const ids = [...document.querySelectorAll('#record-pane tr.fact.k-treat[data-fact]')].map(e => e.dataset.fact);
      const first = id => +document.querySelector(`#source .hl[data-facts~="${id}"]`).dataset.start;
      return ids.sort((a, b) => first(b) - first(a))[0];
    }""")
    span = f'#source .hl[data-facts~="{fid}"]'
    page.evaluate("() => { const p = document.getElementById('source-pane'); p.scrollTop = p.scrollHeight; }")
    if page.evaluate(IN_VIEW, span):
        page.evaluate("() => { document.getElementById('source-pane').scrollTop = 0; }")
    assert not page.evaluate(IN_VIEW, span), "the seed texts are longer than the pane: the span starts out of view"
    page.click(f'#record-pane .fact[data-fact="{fid}"]')
    assert page.evaluate(IN_VIEW, span), "the fact's first span is scrolled into view"
    assert "flash" in page.get_attribute(span, "class")
    # (c) hovering a span names the fact
    label = page.evaluate(f"() => JSON.parse(document.getElementById('viewer-data').textContent).facts['{fid}'].label")
    assert "treatment:" in label
    page.hover(span)
    assert label in page.get_attribute(span, "title")
    assert label in page.inner_text("#hover-info")
    assert page.is_visible(f'#record-pane .fact.hot[data-fact="{fid}"]')
    # (d) no console errors; (e) a screenshot
    assert errors == []
    screenshot(page, f"viewer-{doc}")
    # printing: one column, nothing scrolls, highlights kept
    page.emulate_media(media="print")
    style = page.evaluate("""() => { const s = getComputedStyle(document.getElementById('source-pane'));
      const h = getComputedStyle(document.querySelector('#source .hl'));
      return {overflow: s.overflowY, adjust: h.printColorAdjust || h.webkitPrintColorAdjust, deco: h.textDecorationLine,
              below: document.getElementById('record-pane').getBoundingClientRect().top >= document.getElementById('source-pane').getBoundingClientRect().bottom - 1}; }""")
    assert style == {"overflow": "visible", "adjust": "exact", "deco": "underline", "below": True}


@pytest.mark.parametrize("path", [p for p in DOCS if p.stem not in SEEDS], ids=lambda p: p.stem)
def test_every_document_in_browser(open_page, path):
    text = read_file(path).text
    summary = extract(text)
    page, errors = open_page(render_html(summary, text, title=path.stem))
    check_dom_highlights(page, summary, text)
    assert errors == []


def test_hostile_text_in_browser(open_page):
    text = "A <script>alert(1)</script>\r\n</pre><img src=x onerror=alert(1)> 5\u00a0year old 😀 boy & \"x\" 'y'\r\n"
    s = text.index("boy")
    summary = CaseSummary(patients=[Patient(label="<b>P</b>", sex="male", evidence=[Evidence(quote="boy", start=s, end=s + 3, field="sex")])])
    summary.provenance = Provenance(warnings=["<img src=z onerror=alert(2)>"])
    page, errors = open_page(render_html(summary, text))
    check_dom_highlights(page, summary, text)
    assert page.locator("img").count() == 0 and page.locator("b").count() == 0
    assert "<img src=z onerror=alert(2)>" in page.inner_text("#warnings")
    page.click('#record-pane .fact[data-fact]')
    assert errors == []  # no alert() dialog, no script error


def test_eval_report_in_browser(open_page, tmp_path):
    docs, run, baseline, verdict = _suite_run()
    report = tmp_path / "report.html"
    eval_report_html(run.results, baseline, verdict, run.summaries, docs, report)
    page, errors = open_page(report)
    assert page.locator("#fields tbody tr.field-row").count() == len(run.results["per_field"]) > 0
    assert page.locator("#documents tbody tr.doc-row").count() == len(docs)
    assert "Gate: passed" in page.inner_text("#verdict")
    screenshot(page, "eval-report")
    link = page.locator("a.doc-link").first
    doc_id = link.inner_text()
    link.click()
    page.wait_for_load_state()
    assert page.url.endswith("/report_docs/" + html_filename(doc_id))
    assert page.inner_text("h1") == doc_id
    assert page.locator("#source .hl").count() > 0 and page.locator("#gold-score").count() == 1
    page.click("a.back")
    page.wait_for_load_state()
    assert page.url.endswith("/report.html")
    assert errors == []
