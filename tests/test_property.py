"""Property-based: arbitrary text never crashes the reader or the extractor, and every span is valid."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from summarizer.grounding import check_offsets
from summarizer.offline import extract
from summarizer.reader import InputError, decode_bytes

CLINICAL_WORDS = st.sampled_from(
    "A 45-year-old woman man boy girl patient Case 1: Patient 2 presented with fever rash ulcers digital necrosis "
    "was treated with methotrexate IVIG 2 g/kg intravenous prednisone rituximab without any improvement then "
    "complete remission after 3 courses no side effects died history of diabetes CK 850 U/L was negative . , ; : "
    "\n \n\n \u00a0 \u2013 ( ) Background: Results Conclusion References 1. Smith J. doi: 10.1000/x1 \u00b9 \u2022".split(" ")
)
texts = st.one_of(
    st.text(max_size=400),
    st.lists(CLINICAL_WORDS, max_size=120).map(" ".join),
    st.lists(st.one_of(CLINICAL_WORDS, st.text(max_size=8)), max_size=80).map(" ".join),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_extractor_never_fails_and_spans_are_valid(text):
    summary = extract(text)
    assert check_offsets(summary, text) == []
    for _, e in summary.evidence_items():
        assert e.quote and text[e.start : e.end] == e.quote


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_reader_decodes_or_refuses_cleanly(data):
    try:
        text, encoding = decode_bytes(data, "x")
    except InputError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(text, str) and encoding
