"""The streaming tokenizer: delimiters from the ISA, chunk boundaries, and what it refuses."""

from __future__ import annotations

import io

import pytest

from claims_tasks.x12 import SegmentReader, X12Error, read_delimiters

ISA = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *180402*1023*^*00501*000000101*0*P*:~"


def segments(data: bytes, chunk_size: int = 1 << 20) -> list[str]:
    return list(SegmentReader(io.BytesIO(data), "f.x12", chunk_size=chunk_size))


def test_delimiters_come_from_the_isa() -> None:
    d = read_delimiters(ISA)
    assert (d.element, d.repetition, d.component, d.segment) == ("*", "^", ":", "~")


def test_other_delimiters_and_a_newline_terminator() -> None:
    isa = ISA.replace("*", "|").replace("^", "{").replace(":~", ">\n")
    data = (isa + "GS|HC|A>B\nST|837|0001\n").encode()
    assert segments(data) == [isa[:-1], "GS|HC|A>B", "ST|837|0001"]


@pytest.mark.parametrize("chunk_size", [7, 64, 1 << 20])
def test_segments_split_across_chunks_and_line_breaks_dropped(chunk_size: int) -> None:
    body = "GS*HC*X~\r\nST*837*0001~\nBHT*0019*00*1*20180402*1023*CH~\nSE*3*0001~\n"
    # A sender that wraps at a fixed width puts line breaks inside segments: they are not data either.
    wrapped = body.replace("BHT*0019", "BHT*00\r\n19")
    got = segments((ISA + "\n" + wrapped).encode(), chunk_size)
    assert got == [ISA[:-1], "GS*HC*X", "ST*837*0001", "BHT*0019*00*1*20180402*1023*CH", "SE*3*0001"]


def test_utf8_text_is_read_across_a_chunk_boundary() -> None:
    data = (ISA + "NM1*QC*1*MÜLLER*JOSÉ~").encode()
    assert segments(data, chunk_size=107)[1] == "NM1*QC*1*MÜLLER*JOSÉ"


@pytest.mark.parametrize(
    ("data", "segment", "reason"),
    [
        (b"", None, "empty file"),
        (b"GS*HC*X~", 1, "does not start with an ISA"),
        (ISA[:60].encode(), 1, "106-character ISA"),
        (ISA.replace("*SENDER         ", "*SENDER").encode() + b"GS*HC*SENDER*RECEIVER~", 1, "not fixed-width"),
        (ISA.replace(":~", "*~").encode(), 1, "must differ"),
        ((ISA + "GS*HC*X~ST*837*0001").encode(), 3, "ends inside a segment"),
        ((ISA + "GS*HC*X~~ST*837~").encode(), 3, "empty segment"),
        ((ISA + "GS*HC*X~ST*8\x0737~").encode(), 3, "control character"),
        ((ISA + "GS*HC*X~").encode() + b"NM1*QC*\xff\xfe~", 3, "not UTF-8"),
    ],
)
def test_malformed_input_is_refused_naming_the_segment(data: bytes, segment: int | None, reason: str) -> None:
    with pytest.raises(X12Error) as caught:
        segments(data)
    err = caught.value
    assert err.file == "f.x12"
    assert err.segment == segment
    assert reason in err.reason
    assert str(err).startswith("f.x12: ")
