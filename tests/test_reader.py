"""Input reading: encodings, folders, stdin, and the clear errors for bad input."""

from __future__ import annotations

import io

import pytest

from summarizer.reader import InputError, decode_bytes, iter_sources, read_file, read_jsonl, read_stream

TEXT = "A 45-year-old woman with dermatomyositis – “refractory” – received méthotrexate."


@pytest.mark.parametrize(
    "data, encoding",
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),  # with BOM (little-endian here)
        (b"\xfe\xff" + TEXT.encode("utf-16-be"), "utf-16"),
        (TEXT.encode("cp1252"), "cp1252"),
    ],
)
def test_decodes_common_encodings_to_the_same_text(data, encoding):
    text, used = decode_bytes(data)
    assert text == TEXT
    assert used == encoding


def test_latin1_fallback_for_bytes_cp1252_cannot_decode():
    data = "caf\u00e9 ".encode("latin-1") + b"\x81 and \x8d"  # 0x81/0x8d are undefined in cp1252
    text, used = decode_bytes(data)
    assert used == "latin-1"
    assert text.startswith("café ")


def test_offsets_refer_to_the_decoded_text_with_crlf_kept(tmp_path):
    p = tmp_path / "crlf.txt"
    p.write_bytes(b"\xef\xbb\xbfTitle\r\n\r\nA 3-year-old boy.\r\n")
    src = read_file(p)
    assert src.text == "Title\r\n\r\nA 3-year-old boy.\r\n"  # BOM removed, CRLF kept
    i = src.text.index("3-year-old")
    assert src.text[i : i + 10] == "3-year-old"


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"", "is empty"),
        (b"   \n\t \r\n", "is empty"),
        (b"abc\x00def", "NUL bytes"),
        (b"%PDF-1.7\n...", "PDF"),
        (b"PK\x03\x04rest", "ZIP"),
        (bytes(range(1, 32)) * 20, "control characters"),
    ],
)
def test_bad_content_is_refused_with_one_line(tmp_path, data, fragment):
    p = tmp_path / "bad.txt"
    p.write_bytes(data)
    with pytest.raises(InputError) as exc:
        read_file(p)
    msg = str(exc.value)
    assert fragment in msg and "\n" not in msg and str(p) in msg


def test_missing_file_and_size_limit(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_file(tmp_path / "nope.txt")
    big = tmp_path / "big.txt"
    big.write_text("x " * 600)
    with pytest.raises(InputError, match="over the 1,000 bytes limit; raise it with --max-bytes"):
        read_file(big, max_bytes=1000)
    assert read_file(big, max_bytes=2000).text.startswith("x x")


def test_folder_means_its_txt_files_recursively_sorted(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.txt").write_text("second case")
    (tmp_path / "a.txt").write_text("first case")
    (tmp_path / "notes.md").write_text("ignored")
    items = list(iter_sources([str(tmp_path)]))
    assert [s.id for s in items] == [(tmp_path / "a.txt").as_posix(), (tmp_path / "b" / "two.txt").as_posix()]
    assert [s.text for s in items] == ["first case", "second case"]


def test_empty_folder_and_errors_are_yielded_not_raised(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    good = tmp_path / "good.txt"
    good.write_text("a case")
    items = list(iter_sources([str(empty), str(tmp_path / "missing.txt"), str(good)]))
    assert isinstance(items[0], InputError) and "holds no *.txt files" in str(items[0])
    assert isinstance(items[1], InputError) and "no such file" in str(items[1])
    assert items[2].text == "a case"


def test_stdin_stream_and_its_limit():
    assert read_stream(io.BytesIO("Case: a boy.".encode("utf-16"))).text == "Case: a boy."
    with pytest.raises(InputError, match="over the"):
        read_stream(io.BytesIO(b"x" * 50), max_bytes=10)


def test_jsonl_input_gives_ids_and_per_line_errors(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text('{"id": "a", "text": "first"}\nnot json\n{"id": "b"}\n{"id": "a", "text": "dup"}\n{"id": "c", "text": "  "}\n')
    items = list(read_jsonl(p))
    assert items[0].id == "a" and items[0].text == "first"
    assert [type(i).__name__ for i in items[1:]] == ["InputError"] * 4
    assert "not valid JSON" in str(items[1]) and "duplicate id" in str(items[3]) and "is empty" in str(items[4])
