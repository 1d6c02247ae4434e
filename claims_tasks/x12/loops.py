"""The loop structure of the 837P and 837I transaction sets, and a tracker that places each segment.

Each loop lists the segments its body may hold and its sub-loops in the implementation guide's order; a
sub-loop opens on its trigger segment (NM1 by its entity code NM101, HL by its level code HL03). The
tracker keeps the stack of open loops and, for every segment, finds where it belongs: the innermost
loop's body, or a sub-loop of an open loop (closing the deeper ones). It refuses a segment that belongs
nowhere (unknown segment or loop), a sub-loop that comes before a sibling it must follow (out of order),
and a body segment that comes after its loop's sub-loops. Repeat counts and the order of body segments
are not checked: the mapping in claim837.py checks what it reads.

Sources: ASC X12N 837 Professional 005010X222A1 and 837 Institutional 005010X223A2 implementation
guides, table 2 (loop ids and names as the guides give them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class LoopError(Exception):
    """A segment that has no place here; the message is the reason (the caller adds file and segment)."""


@dataclass(eq=False)
class Loop:
    id: str
    name: str
    triggers: tuple[str, ...] = ()
    body: frozenset[str] = frozenset()
    children: tuple[Loop, ...] = ()
    # trigger key -> (rank among the siblings, loop)
    by_trigger: dict[str, tuple[int, Loop]] = field(default_factory=dict, repr=False)
    # segment key -> what the mapping does with it in this loop (filled by with_actions)
    actions: dict[str, Callable[..., Any]] = field(default_factory=dict, repr=False)
    # segment key -> (loops to close, rank, sub-loop opened): where a trigger seen with this loop on top
    # went last time. Valid because each loop has one parent, so the open loops above it are always the
    # same; the rank check still runs every time.
    jumps: dict[str, tuple[int, int, Loop]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for rank, child in enumerate(self.children):
            for key in child.triggers:
                self.by_trigger[key] = (rank, child)

    @property
    def label(self) -> str:
        return f"loop {self.id} ({self.name})"


def _loop(id: str, name: str, triggers: str, body: str = "", *children: Loop) -> Loop:
    return Loop(id, name, tuple(triggers.split()), frozenset(body.split()), children)


_NAME = "N3 N4"  # address lines of a name loop


# ---------------------------------------------------------------- 837P (005010X222A1)
def _professional_claim() -> Loop:
    line = _loop(
        "2400", "service line", "LX",
        "SV1 SV5 PWK CR1 CR3 CRC DTP QTY MEA CN1 REF AMT K3 NTE PS1 HCP",
        _loop("2410", "drug identification", "LIN", "CTP REF"),
        _loop("2420A", "rendering provider", "NM1*82", "PRV REF"),
        _loop("2420B", "purchased service provider", "NM1*QB", "REF"),
        _loop("2420C", "service facility location", "NM1*77", f"{_NAME} REF"),
        _loop("2420D", "supervising provider", "NM1*DQ", "REF"),
        _loop("2420E", "ordering provider", "NM1*DK", f"{_NAME} REF PER"),
        _loop("2420F", "referring provider", "NM1*DN NM1*P3", "REF"),
        _loop("2420G", "ambulance pick-up location", "NM1*PW", _NAME),
        _loop("2420H", "ambulance drop-off location", "NM1*45", _NAME),
        _loop("2430", "line adjudication information", "SVD", "CAS DTP AMT"),
        _loop("2440", "form identification code", "LQ", "FRM"),
    )  # fmt: skip
    other_subscriber = _loop(
        "2320", "other subscriber information", "SBR", "CAS AMT OI MIA MOA",
        _loop("2330A", "other subscriber name", "NM1*IL", f"{_NAME} REF"),
        _loop("2330B", "other payer name", "NM1*PR", f"{_NAME} DTP REF"),
        _loop("2330C", "other payer referring provider", "NM1*DN NM1*P3", "REF"),
        _loop("2330D", "other payer rendering provider", "NM1*82", "REF"),
        _loop("2330E", "other payer service facility location", "NM1*77", "REF"),
        _loop("2330F", "other payer supervising provider", "NM1*DQ", "REF"),
        _loop("2330G", "other payer billing provider", "NM1*85", "REF"),
    )  # fmt: skip
    return _loop(
        "2300", "claim information", "CLM",
        "DTP PWK CN1 AMT REF K3 NTE CR1 CR2 CRC HI HCP",
        _loop("2310A", "referring provider", "NM1*DN NM1*P3", "REF"),
        _loop("2310B", "rendering provider", "NM1*82", "PRV REF"),
        _loop("2310C", "service facility location", "NM1*77", f"{_NAME} REF PER"),
        _loop("2310D", "supervising provider", "NM1*DQ", "REF"),
        _loop("2310E", "ambulance pick-up location", "NM1*PW", _NAME),
        _loop("2310F", "ambulance drop-off location", "NM1*45", _NAME),
        other_subscriber,
        line,
    )  # fmt: skip


# ---------------------------------------------------------------- 837I (005010X223A2)
def _institutional_claim() -> Loop:
    line = _loop(
        "2400", "service line", "LX", "SV2 PWK DTP REF AMT NTE HCP",
        _loop("2410", "drug identification", "LIN", "CTP REF"),
        _loop("2420A", "operating physician", "NM1*72", "REF"),
        _loop("2420B", "other operating physician", "NM1*ZZ", "REF"),
        _loop("2420C", "rendering provider", "NM1*82", "REF"),
        _loop("2420D", "referring provider", "NM1*DN", "REF"),
        _loop("2430", "line adjudication information", "SVD", "CAS DTP AMT"),
    )  # fmt: skip
    other_subscriber = _loop(
        "2320", "other subscriber information", "SBR", "CAS AMT OI MIA MOA",
        _loop("2330A", "other subscriber name", "NM1*IL", f"{_NAME} REF"),
        _loop("2330B", "other payer name", "NM1*PR", f"{_NAME} DTP REF"),
        _loop("2330C", "other payer attending provider", "NM1*71", "REF"),
        _loop("2330D", "other payer operating physician", "NM1*72", "REF"),
        _loop("2330E", "other payer other operating physician", "NM1*ZZ", "REF"),
        _loop("2330F", "other payer service facility location", "NM1*77", "REF"),
        _loop("2330G", "other payer rendering provider", "NM1*82", "REF"),
        _loop("2330H", "other payer referring provider", "NM1*DN", "REF"),
        _loop("2330I", "other payer billing provider", "NM1*85", "REF"),
    )  # fmt: skip
    return _loop(
        "2300", "claim information", "CLM",
        "DTP CL1 PWK CN1 AMT REF K3 NTE CR6 CRC HI HCP",
        _loop("2310A", "attending provider", "NM1*71", "PRV REF"),
        _loop("2310B", "operating physician", "NM1*72", "REF"),
        _loop("2310C", "other operating physician", "NM1*ZZ", "REF"),
        _loop("2310D", "rendering provider", "NM1*82", "REF"),
        _loop("2310E", "service facility location", "NM1*77", f"{_NAME} REF"),
        _loop("2310F", "referring provider", "NM1*DN", "REF"),
        other_subscriber,
        line,
    )  # fmt: skip


def _transaction(claim: Callable[[], Loop]) -> Loop:
    """Header, submitter, receiver and the HL hierarchy: the same in both guides. The claim loop is
    built twice (under 2000B and under 2000C) so that every loop has one parent: the tracker's jumps
    depend on the path from the root."""
    patient = _loop(
        "2000C", "patient hierarchical level", "HL*23", "PAT",
        _loop("2010CA", "patient name", "NM1*QC", f"{_NAME} DMG REF PER"),
        claim(),
    )  # fmt: skip
    subscriber = _loop(
        "2000B", "subscriber hierarchical level", "HL*22", "SBR PAT",
        _loop("2010BA", "subscriber name", "NM1*IL", f"{_NAME} DMG REF PER"),
        _loop("2010BB", "payer name", "NM1*PR", f"{_NAME} REF"),
        claim(),
        patient,
    )  # fmt: skip
    # A subscriber's own claims (2300 in 2000B) and its dependants (2000C) are siblings of equal rank: the
    # guides order them by HL, not by position, so either may follow the other.
    subscriber.by_trigger["HL*23"] = (subscriber.by_trigger["CLM"][0], patient)
    billing = _loop(
        "2000A", "billing provider hierarchical level", "HL*20", "PRV CUR",
        _loop("2010AA", "billing provider name", "NM1*85", f"{_NAME} REF PER"),
        _loop("2010AB", "pay-to address", "NM1*87", _NAME),
        _loop("2010AC", "pay-to plan name", "NM1*PE", f"{_NAME} REF"),
        subscriber,
    )  # fmt: skip
    return _loop(
        "header", "transaction set header", "ST", "BHT",
        _loop("1000A", "submitter name", "NM1*41", "PER"),
        _loop("1000B", "receiver name", "NM1*40", ""),
        billing,
    )  # fmt: skip


def professional() -> Loop:
    """A fresh 837P loop tree (its `actions` are the caller's to fill)."""
    return _transaction(_professional_claim)


def institutional() -> Loop:
    """A fresh 837I loop tree (its `actions` are the caller's to fill)."""
    return _transaction(_institutional_claim)


def with_actions(root: Loop, actions: Mapping[tuple[str, str], Callable[..., Any]]) -> Loop:
    """Give every loop of the tree its actions from a {(loop id, segment key): action} table."""
    seen: set[int] = set()
    todo = [root]
    while todo:
        loop = todo.pop()
        if id(loop) in seen:
            continue
        seen.add(id(loop))
        loop.actions = {key: act for (loop_id, key), act in actions.items() if loop_id == loop.id}
        todo.extend(loop.children)
    return root


class LoopTracker:
    """Where each segment of one transaction set belongs. `step(key)` returns the loop the segment
    belongs to (a newly opened sub-loop for a trigger) or raises LoopError."""

    __slots__ = ("ranks", "stack")

    def __init__(self, root: Loop) -> None:
        self.stack: list[Loop] = [root]
        self.ranks: list[int] = [-1]  # rank of the last sub-loop opened under each open loop

    @property
    def current(self) -> Loop:
        return self.stack[-1]

    def step(self, key: str) -> Loop:
        stack = self.stack
        top = stack[-1]
        if key in top.body:
            return top
        ranks = self.ranks
        jump = top.jumps.get(key)
        if jump is not None:
            up, rank, child = jump
            depth = len(stack) - 1 - up
            if rank >= ranks[depth]:
                del stack[depth + 1 :], ranks[depth + 1 :]
                ranks[depth] = rank
                stack.append(child)
                ranks.append(-1)
                return child
        for depth in range(len(stack) - 1, -1, -1):
            loop = stack[depth]
            hit = loop.by_trigger.get(key)
            if hit is not None:
                rank, child = hit
                if rank < ranks[depth]:
                    raise LoopError(
                        f"{child.label} is out of order: it must come before {_opened(loop, ranks[depth]).label}"
                    )
                top.jumps[key] = (len(stack) - 1 - depth, rank, child)
                del stack[depth + 1 :], ranks[depth + 1 :]
                ranks[depth] = rank
                stack.append(child)
                ranks.append(-1)
                return child
            if key in loop.body:
                raise LoopError(f"{key} belongs to {loop.label} but comes after its sub-loop {stack[depth + 1].id}")
        raise LoopError(f"unexpected segment {key} in {top.label}")


def _opened(loop: Loop, rank: int) -> Loop:
    return loop.children[rank]
