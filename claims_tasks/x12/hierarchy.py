"""Who a claim is about: the header (receipt date), submitter and receiver, and the HL hierarchy —
billing provider (2000A/2010AA), subscriber and payer (2000B/2010BA/2010BB), patient (2000C/2010CA).

The claim mapping (claim837.py) reads the current context when a claim completes. The identity loops
are structure: a claim whose billing provider, subscriber, payer or patient is missing rejects the file.
"""

from __future__ import annotations

from . import codes
from .elements import Reject, at, parse_date, parse_time
from .envelope import Envelope
from .rows import Lookups


def pad(el: list[str], size: int) -> list[str]:
    """X12 drops trailing empty elements: pad so that fixed positions can be read directly."""
    if len(el) < size:
        el.extend([""] * (size - len(el)))
    return el


def npi(el: list[str]) -> str | None:
    """NM109 when NM108 says it is an NPI (XX); other ids are not NPIs and are not kept as one."""
    return (el[9] or None) if len(el) > 9 and el[8] == "XX" else None


class Hierarchy:
    """The context of one transaction set as it is read. Actions take (elements, segment number)."""

    def __init__(self, lookups: Lookups, envelope: Envelope) -> None:
        self.lookups = lookups
        self.envelope = envelope
        self.start()

    def start(self) -> None:
        """A new transaction set (ST)."""
        self.received_at: str | None = None
        self.hl_next = 1
        self.seen_submitter = self.seen_receiver = False
        self.billing_hl = self.subscriber_hl = ""
        self.billing_npi: str | None = None
        self.billing_seen = False
        self._new_subscriber()
        self._new_patient()
        self.in_patient = False

    def _new_subscriber(self) -> None:
        self.sbr_seen = self.sub_seen = self.payer_seen = False
        self.financial_class: str | None = None
        self.sub_last: str | None = None
        self.sub_first: str | None = None
        self.subscriber_id: str | None = None
        self.sub_sex: str | None = None
        self.sub_dob: str | None = None
        self.payer_edi: str | None = None
        self.payer_id: str | None = None

    def _new_patient(self) -> None:
        self.pat_seen = self.patient_seen = False
        self.pat_last: str | None = None
        self.pat_first: str | None = None
        self.pat_sex: str | None = None
        self.pat_dob: str | None = None

    # ------------------------------------------------------------ header, 1000A/B
    def bht(self, el: list[str], n: int) -> None:
        pad(el, 6)
        if el[1] != "0019":
            raise Reject(f"BHT01 {el[1]!r} is not 0019")
        day_value, time_value = el[4], el[5]
        if not day_value:  # the receipt date: BHT04/05, else the group's GS04/05
            day_value, time_value = self.envelope.group_date, self.envelope.group_time
        day = parse_date(day_value, "BHT04")
        hh, mm, ss = parse_time(time_value, "BHT05")
        # X12 times carry no zone; they are read as UTC (docs/X12.md).
        self.received_at = f"{day[:4]}-{day[4:6]}-{day[6:]} {hh:02d}:{mm:02d}:{ss:02d}+00"

    def submitter(self, el: list[str], n: int) -> None:
        self.seen_submitter = True

    def receiver(self, el: list[str], n: int) -> None:
        self.seen_receiver = True

    # ------------------------------------------------------------ HL levels
    def _hl(self, el: list[str], parent: str) -> str:
        own = at(el, 1)
        if own != str(self.hl_next):
            raise Reject(f"HL01 is {own!r}; the next hierarchical id is {self.hl_next}")
        if at(el, 2) != parent:
            raise Reject(f"HL02 parent {at(el, 2)!r} is not the enclosing level's HL01 {parent!r}")
        self.hl_next += 1
        return own

    def hl_billing(self, el: list[str], n: int) -> None:
        if not (self.seen_submitter and self.seen_receiver):
            raise Reject("loop 1000A submitter (NM1*41) or 1000B receiver (NM1*40) is missing")
        self.billing_hl = self._hl(el, "")
        self.billing_npi, self.billing_seen = None, False

    def hl_subscriber(self, el: list[str], n: int) -> None:
        if not self.billing_seen:
            raise Reject("loop 2000A has no billing provider name (loop 2010AA, NM1*85)")
        self.subscriber_hl = self._hl(el, self.billing_hl)
        self._new_subscriber()
        self.in_patient = False

    def hl_patient(self, el: list[str], n: int) -> None:
        self.require_subscriber()
        self._hl(el, self.subscriber_hl)
        self._new_patient()
        self.in_patient = True

    def require_subscriber(self) -> None:
        if not self.sbr_seen:
            raise Reject("loop 2000B has no SBR (subscriber information)")
        if not self.sub_seen:
            raise Reject("loop 2000B has no subscriber name (loop 2010BA, NM1*IL)")
        if not self.payer_seen:
            raise Reject("loop 2000B has no payer name (loop 2010BB, NM1*PR)")

    def require_for_claim(self) -> None:
        """A claim (CLM) needs its subscriber and payer, and its patient when it sits in a 2000C."""
        self.require_subscriber()
        if self.in_patient and not (self.pat_seen and self.patient_seen):
            raise Reject("loop 2000C has no PAT or no patient name (loop 2010CA, NM1*QC)")

    # ------------------------------------------------------------ 2010AA .. 2010CA
    def billing_name(self, el: list[str], n: int) -> None:
        self.billing_npi, self.billing_seen = npi(el), True

    def sbr(self, el: list[str], n: int) -> None:
        self.sbr_seen = True
        self.financial_class = codes.financial_class(at(el, 9))

    def subscriber_name(self, el: list[str], n: int) -> None:
        pad(el, 10)
        self.sub_seen = True
        self.sub_last, self.sub_first, self.subscriber_id = el[3] or None, el[4] or None, el[9] or None

    def subscriber_dmg(self, el: list[str], n: int) -> None:
        self.sub_dob, self.sub_sex = _dmg(el)

    def payer_name(self, el: list[str], n: int) -> None:
        self.payer_seen = True
        self.payer_edi = at(el, 9) or None
        self.payer_id = self.lookups.payer(self.payer_edi)

    def pat(self, el: list[str], n: int) -> None:
        self.pat_seen = True

    def patient_name(self, el: list[str], n: int) -> None:
        pad(el, 5)
        self.patient_seen = True
        self.pat_last, self.pat_first = el[3] or None, el[4] or None

    def patient_dmg(self, el: list[str], n: int) -> None:
        self.pat_dob, self.pat_sex = _dmg(el)

    def patient(self) -> tuple[str | None, str | None, str | None, str | None]:
        """(last name, first name, birth date, sex) of the claim's patient: the 2010CA patient in a 2000C,
        else the subscriber (SBR02 18, self)."""
        if self.in_patient:
            return self.pat_last, self.pat_first, self.pat_dob, self.pat_sex
        return self.sub_last, self.sub_first, self.sub_dob, self.sub_sex

    def actions(self) -> dict[tuple[str, str], object]:
        """{(loop id, segment key): bound action} for the loops this object reads; both guides alike."""
        return {
            ("header", "BHT"): self.bht,
            ("1000A", "NM1*41"): self.submitter,
            ("1000B", "NM1*40"): self.receiver,
            ("2010AA", "NM1*85"): self.billing_name,
            ("2000B", "SBR"): self.sbr,
            ("2010BA", "NM1*IL"): self.subscriber_name,
            ("2010BA", "DMG"): self.subscriber_dmg,
            ("2010BB", "NM1*PR"): self.payer_name,
            ("2000C", "PAT"): self.pat,
            ("2010CA", "NM1*QC"): self.patient_name,
            ("2010CA", "DMG"): self.patient_dmg,
        }


def _dmg(el: list[str]) -> tuple[str, str | None]:
    pad(el, 4)
    if el[1] != "D8":
        raise Reject(f"DMG01 {el[1]!r} is not D8")
    return parse_date(el[2], "DMG02 birth date"), el[3] or None
