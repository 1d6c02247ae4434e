"""The one exception of the X12 reader: a file rejected, with where and why."""

from __future__ import annotations

from claims_tasks.errors import ClaimsError


class X12Error(ClaimsError):
    """A malformed interchange. Names the file, the segment number (1 = ISA, counting every segment of
    the file) and the segment id when known, and the reason; never element values that carry patient
    data. Args go to super() so that the exception pickles."""

    def __init__(self, file: str, segment: int | None, segment_id: str | None, reason: str) -> None:
        super().__init__(file, segment, segment_id, reason)
        self.file = file
        self.segment = segment
        self.segment_id = segment_id
        self.reason = reason

    def __str__(self) -> str:
        if self.segment is None:
            return f"{self.file}: {self.reason}"
        where = f"segment {self.segment}" + (f" ({self.segment_id})" if self.segment_id else "")
        return f"{self.file}: {where}: {self.reason}"
