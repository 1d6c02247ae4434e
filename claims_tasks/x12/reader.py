"""read_837: one interchange, streamed — the envelope, the loop structure and the mapping together.

Pure: a binary file object in, an iterator out — first the `Interchange` (the ISA), then one `ClaimRows`
per claim as soon as the claim is complete, then a `Trailer` once IEA has checked out. Memory does not
grow with the file. Anything malformed raises X12Error naming the file, the segment number and the
reason; a caller that writes as it reads must therefore write inside one transaction and roll back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from . import loops
from .claim837 import ClaimMapper
from .elements import Reject
from .envelope import Envelope, Interchange, Trailer, read_isa
from .errors import X12Error
from .hierarchy import Hierarchy
from .loops import Loop, LoopError, LoopTracker
from .rows import ClaimRows, Lookups
from .tokenizer import SegmentReader

_ENVELOPE = frozenset({"ISA", "IEA", "GS", "GE", "ST", "SE"})
_TREES = {"837P": loops.professional, "837I": loops.institutional}


def read_837(fh: BinaryIO, path: str, lookups: Lookups) -> Iterator[Interchange | ClaimRows | Trailer]:
    """Read one interchange: yields Interchange, then ClaimRows per claim, then Trailer. Raises X12Error
    (file, segment number, reason) for anything malformed, including a file that ends before IEA."""
    reader = SegmentReader(fh, path)
    sep = reader.delimiters.element
    n, tag = 1, "ISA"
    try:
        segments = iter(reader)
        head = read_isa(next(segments).split(sep))
        env = Envelope(head.control_number)
        mapper = ClaimMapper(reader.delimiters, lookups, head, Hierarchy(lookups, env))
        # One loop tree per claim type per file, its actions bound to this file's mapper.
        roots: dict[str, Loop] = {}
        yield head
        count = 0  # segments of the open transaction set so far, ST included; 0 outside one
        tracker = LoopTracker(Loop("none", "no transaction set"))
        stack = tracker.stack
        keep = mapper.claim_segments.append
        for seg in segments:
            n += 1
            el = seg.split(sep)
            tag = el[0]
            if tag == "NM1":
                key = "NM1*" + el[1]
            elif tag == "HL":
                key = "HL*" + el[3]
            elif tag in _ENVELOPE:
                if env.closed:
                    raise Reject("data after IEA: one interchange per file")
                if tag == "ST":
                    kind = env.st(el)
                    if kind not in roots:
                        roots[kind] = loops.with_actions(_TREES[kind](), mapper.actions(kind))
                    mapper.start_set(kind)
                    tracker = LoopTracker(roots[kind])
                    stack = tracker.stack
                    count = 1
                elif tag == "SE":
                    out = mapper.end_set()
                    env.se(el, count + 1)
                    count = 0
                    if out is not None:
                        yield out
                elif tag == "GS":
                    env.gs(el)
                elif tag == "GE":
                    env.ge(el)
                elif tag == "IEA":
                    env.iea(el)
                    yield Trailer(env.groups, env.sets, mapper.claims, n)
                else:
                    raise Reject("a second ISA: one interchange per file")
                continue
            else:
                key = tag
            if not count:
                raise Reject("data after IEA" if env.closed else "segment outside a transaction set (ST..SE)")
            count += 1
            if count == 2 and tag != "BHT":
                raise Reject("BHT must follow ST")
            top = stack[-1]
            loop = top if key in top.body else tracker.step(key)
            action = loop.actions.get(key)
            if action is not None:
                out = action(el, n)
                if out is not None:
                    yield out
            keep(seg)
        if not env.closed:
            raise Reject("the file ends without IEA: truncated")
    except Reject as exc:
        raise X12Error(path, exc.segment or n, exc.segment_id or tag, exc.reason) from None
    except LoopError as exc:
        raise X12Error(path, n, tag, str(exc)) from None
    except IndexError:
        raise X12Error(path, n, tag, "the segment has fewer elements than its required ones") from None
