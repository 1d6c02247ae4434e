"""A strict, streaming X12 tokenizer: bytes in, segment strings out, in bounded memory.

The ISA segment is fixed-width (106 characters with its terminator), so it names the delimiters itself:
the element separator is the character at position 3, the repetition separator is ISA11, the component
separator is ISA16 and the segment terminator is the character right after ISA16. Everything after it is
split on the terminator a chunk at a time. CR and LF are dropped wherever they stand (unless one of them
is the terminator): senders put them after terminators or wrap long lines at a fixed width, and neither
is data. Any other control character that is not a delimiter rejects the file, as does text that is not
UTF-8 (X12 5010's extended character set is a subset of it).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from .errors import X12Error

ISA_LENGTH = 106  # including the segment terminator
# Positions of the element separator inside the fixed-width ISA (ISA01..ISA16 widths 2,10,2,10,2,15,2,
# 15,6,4,1,5,9,1,1,1).
ISA_SEPARATOR_POSITIONS = (3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103)
CHUNK_SIZE = 1 << 20
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str
    component: str
    repetition: str
    segment: str


def read_delimiters(isa: str) -> Delimiters:
    """The delimiters an ISA segment declares; ValueError (the reason) when the ISA is not well-formed."""
    if len(isa) < ISA_LENGTH or not isa.startswith("ISA"):
        raise ValueError(f"the file must start with a {ISA_LENGTH}-character ISA segment")
    element = isa[3]
    for pos in ISA_SEPARATOR_POSITIONS:
        if isa[pos] != element:
            raise ValueError(
                f"ISA is not fixed-width: expected the element separator at position {pos} "
                "(ISA fields have fixed widths; is the ISA padded with spaces?)"
            )
    delimiters = Delimiters(element=element, component=isa[104], repetition=isa[82], segment=isa[105])
    chars = (delimiters.element, delimiters.component, delimiters.repetition, delimiters.segment)
    if len(set(chars)) != 4:
        raise ValueError("ISA delimiters (element, ISA11 repetition, ISA16 component, terminator) must differ")
    if any(c.isalnum() or c == " " for c in chars):
        raise ValueError("ISA delimiters must not be letters, digits or spaces")
    return delimiters


class SegmentReader:
    """Iterate a file's segments as strings without the terminator, ISA first.

    `path` only names the file in messages. Memory is one chunk plus one partial segment, whatever the
    file's size. `saw_backslash` turns true once any data read so far contained a backslash (writers that
    must escape it can skip that work for the files, nearly all, that have none).
    """

    def __init__(self, fh: BinaryIO, path: str, chunk_size: int = CHUNK_SIZE) -> None:
        self.fh = fh
        self.path = path
        self.chunk_size = chunk_size
        self.saw_backslash = False
        head = fh.read(max(chunk_size, ISA_LENGTH + len(_BOM)))
        if head.startswith(_BOM):
            head = head[len(_BOM) :]
        if not head.strip():
            raise X12Error(path, None, None, "empty file: no ISA segment")
        if not head.startswith(b"ISA"):
            raise X12Error(path, 1, None, "the file does not start with an ISA segment")
        try:
            isa = head[:ISA_LENGTH].decode("ascii")
        except UnicodeDecodeError:
            raise X12Error(path, 1, "ISA", "ISA contains non-ASCII bytes") from None
        try:
            self.delimiters = read_delimiters(isa)
        except ValueError as exc:
            raise X12Error(path, 1, "ISA", str(exc)) from None
        self.isa = isa[: ISA_LENGTH - 1]
        self._rest = head[ISA_LENGTH:]
        term = self.delimiters.segment
        self._drop = "".join(c for c in "\r\n" if c != term)
        allowed = set(self._drop) | {
            self.delimiters.element,
            self.delimiters.component,
            self.delimiters.repetition,
            term,
        }
        bad = "".join(chr(c) for c in [*range(32), 127] if chr(c) not in allowed)
        self._bad = re.compile("[" + re.escape(bad) + "]")

    def _error(self, before: int, text: str, pos: int, reason: str) -> X12Error:
        return X12Error(self.path, before + text.count(self.delimiters.segment, 0, pos) + 1, None, reason)

    def __iter__(self) -> Iterator[str]:
        term = self.delimiters.segment
        drop = self._drop
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        yield self.isa
        done = 1  # segments yielded so far
        carry = ""
        raw = self._rest
        while True:
            final = not raw
            try:
                text = decoder.decode(raw, final)
            except UnicodeDecodeError as exc:
                partial = raw[: exc.start].decode("utf-8", "replace")
                raise self._error(done, carry + partial, len(carry) + len(partial), "text is not UTF-8") from None
            for c in drop:
                if c in text:
                    text = text.replace(c, "")
            if not text.isprintable():
                found = self._bad.search(text)
                if found is not None:
                    buf = carry + text
                    pos = len(carry) + found.start()
                    raise self._error(done, buf, pos, f"control character {found.group()!r} in a segment")
            if "\\" in text:
                self.saw_backslash = True
            parts = (carry + text).split(term)
            carry = parts.pop()
            if "" in parts:
                empty = parts.index("")
                raise X12Error(self.path, done + empty + 1, None, "empty segment (two terminators in a row)")
            yield from parts
            done += len(parts)
            if final:
                break
            raw = self.fh.read(self.chunk_size)
        if carry.strip():
            raise X12Error(self.path, done + 1, carry[:3], "the file ends inside a segment (no terminator): truncated")
