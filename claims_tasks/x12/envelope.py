"""The interchange envelope: ISA/IEA, GS/GE, ST/SE — their counts and control numbers.

Source: ASC X12 005010 control segments (ISA, GS, ST and their trailers), as the 837 implementation
guides (appendix B) use them: GS01 HC, GS08/ST03 the guide's version, SE01 counts ST..SE, GE01 the
transaction sets of the group, IEA01 the groups; trailers repeat their header's control number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from .elements import Reject, at, parse_date, parse_time

PROFESSIONAL_VERSIONS = frozenset({"005010X222A1", "005010X222A2"})
INSTITUTIONAL_VERSIONS = frozenset({"005010X223A1", "005010X223A2", "005010X223A3"})


@dataclass(frozen=True, slots=True)
class Interchange:
    """The ISA: who sent the interchange to whom, its control number, when and what for."""

    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    control_number: str
    created_at: datetime
    usage: str  # ISA15: P production, T test


@dataclass(frozen=True, slots=True)
class Trailer:
    """What IEA closed: counts of the whole interchange."""

    groups: int
    transaction_sets: int
    claims: int
    segments: int


def read_isa(el: list[str]) -> Interchange:
    if len(el) != 17:
        raise Reject(f"ISA has {len(el) - 1} elements, not 16")
    if el[12] != "00501":
        raise Reject(f"ISA12 version {el[12]!r} is not 00501: only 005010 837s are read")
    if not (len(el[13]) == 9 and el[13].isdigit()):
        raise Reject("ISA13 control number is not 9 digits")
    if el[15] not in ("P", "T"):
        raise Reject(f"ISA15 usage indicator {el[15]!r} is not P or T")
    if len(el[9]) != 6:
        raise Reject("ISA09 is not a YYMMDD date")
    day = parse_date("20" + el[9], "ISA09")
    hh, mm, _ = parse_time(el[10], "ISA10")
    return Interchange(
        sender_qualifier=el[5].strip(),
        sender_id=el[6].strip(),
        receiver_qualifier=el[7].strip(),
        receiver_id=el[8].strip(),
        control_number=el[13],
        created_at=datetime(int(day[:4]), int(day[4:6]), int(day[6:]), hh, mm, tzinfo=UTC),
        usage=el[15],
    )


class Envelope:
    """Checks the envelope segments in order; the reader calls one method per envelope segment."""

    def __init__(self, control_number: str) -> None:
        self.control_number = control_number
        self.groups = 0
        self.sets = 0
        self.group_control: str | None = None
        self.group_version = ""
        self.group_date = ""  # GS04/GS05: the receipt date when BHT04 is absent
        self.group_time = ""
        self.group_sets = 0
        self.set_controls: set[str] = set()
        self.set_control: str | None = None
        self.closed = False

    def gs(self, el: list[str]) -> None:
        self._not_in_set("GS")
        if self.group_control is not None:
            raise Reject("GS before the GE of the previous group")
        if at(el, 1) != "HC":
            raise Reject(f"GS01 functional identifier {at(el, 1)!r} is not HC (health care claim)")
        if not at(el, 6).isdigit():
            raise Reject("GS06 group control number is not numeric")
        version = at(el, 8)
        if version not in PROFESSIONAL_VERSIONS | INSTITUTIONAL_VERSIONS:
            raise Reject(f"GS08 version {version!r} is not an 837P 005010X222A1 or 837I 005010X223A2")
        parse_date(at(el, 4), "GS04")
        parse_time(at(el, 5), "GS05")
        self.group_control, self.group_version = el[6], version
        self.group_date, self.group_time = el[4], at(el, 5)
        self.group_sets = 0
        self.set_controls = set()
        self.groups += 1

    def st(self, el: list[str]) -> str:
        """Opens a transaction set; returns its claim type, 837P or 837I."""
        if self.group_control is None:
            raise Reject("ST outside a functional group (no GS)")
        self._not_in_set("ST")
        if at(el, 1) != "837":
            raise Reject(f"ST01 transaction set {at(el, 1)!r} is not 837")
        control = at(el, 2)
        if not 4 <= len(control) <= 9:
            raise Reject("ST02 control number is not 4-9 characters")
        if control in self.set_controls:
            raise Reject(f"ST02 control number {control!r} repeats within the group")
        version = at(el, 3) or self.group_version
        professional = version in PROFESSIONAL_VERSIONS
        if not professional and version not in INSTITUTIONAL_VERSIONS:
            raise Reject(f"ST03 version {version!r} is not an 837P or 837I 005010 guide")
        if professional != (self.group_version in PROFESSIONAL_VERSIONS):
            raise Reject(f"ST03 version {version!r} is not of the group's GS08 {self.group_version!r}")
        self.set_controls.add(control)
        self.set_control = control
        return "837P" if professional else "837I"

    def se(self, el: list[str], segments: int) -> None:
        """Closes the transaction set; segments counts ST..SE inclusive."""
        if self.set_control is None:
            raise Reject("SE without ST")
        if at(el, 2) != self.set_control:
            raise Reject(f"SE02 {at(el, 2)!r} does not match ST02 {self.set_control!r}")
        if at(el, 1) != str(segments):
            raise Reject(f"SE01 says {at(el, 1)!r} segments; the transaction set has {segments}")
        self.set_control = None
        self.sets += 1
        self.group_sets += 1

    def ge(self, el: list[str]) -> None:
        self._not_in_set("GE")
        if self.group_control is None:
            raise Reject("GE without GS")
        if at(el, 2) != self.group_control:
            raise Reject(f"GE02 {at(el, 2)!r} does not match GS06 {self.group_control!r}")
        if at(el, 1) != str(self.group_sets):
            raise Reject(f"GE01 says {at(el, 1)!r} transaction sets; the group has {self.group_sets}")
        self.group_control = None

    def iea(self, el: list[str]) -> None:
        self._not_in_set("IEA")
        if self.group_control is not None:
            raise Reject("IEA before the GE of the last group")
        if at(el, 2) != self.control_number:
            raise Reject(f"IEA02 {at(el, 2)!r} does not match ISA13 {self.control_number!r}")
        if at(el, 1) != str(self.groups):
            raise Reject(f"IEA01 says {at(el, 1)!r} functional groups; the interchange has {self.groups}")
        if not self.groups:
            raise Reject("the interchange has no functional group")
        self.closed = True

    def _not_in_set(self, tag: str) -> None:
        if self.set_control is not None:
            raise Reject(f"{tag} inside transaction set {self.set_control} (missing SE)")
