"""837P and 837I claims (loops 2300 and 2400) to staging rows, in the context hierarchy.py keeps.

What is *structure* — envelope counts and control numbers (envelope.py), loop order (loops.py), the
identity of the billing provider, subscriber, payer and patient (hierarchy.py), a service line per
claim, the syntax of the elements read (elements.py) — rejects the file. What is *content* — an unknown
payer or facility, a bad NPI check digit, a non-ICD-10 code, a missing service date or diagnosis — is
stored as it came, for a validation rule to fail the claim with its code. docs/X12.md lists every
mapping.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from . import codes
from .elements import Reject, at, parse_decimal, parse_period, parse_units
from .envelope import Interchange
from .hierarchy import Hierarchy, npi, pad
from .rows import ClaimRows, Lookups
from .tokenizer import Delimiters

CLAIM_ID_PREFIX = "X"  # seeded claims are C + 12 digits: imported claim ids never collide with them

# HI composite qualifiers (X12 code list 1270) kept as diagnoses; ICD-9 ones (BK, BF, BJ) are kept as
# sent, for the ICD-10 rules to refuse. Sequence: principal 1, then the others in order, then admitting.
_PRINCIPAL = frozenset({"ABK", "BK"})
_OTHER_DX = frozenset({"ABF", "BF"})
_ADMITTING = frozenset({"ABJ", "BJ"})
# Other code types an HI may carry that are not this claim's diagnosis list: skipped.
_HI_SKIPPED = {
    "837P": frozenset({"BP", "BO", "BG"}),  # anesthesia related procedures, condition codes
    "837I": frozenset(
        # patient reason for visit, external cause, DRG, procedures, occurrence (span), value, condition,
        # treatment codes
        {"APR", "PR", "ABN", "BN", "DR", "BBR", "BR", "CAH", "BBQ", "BQ", "BI", "BH", "BE", "BG", "TC"}
    ),
}
_HI_KEPT = {"837P": _PRINCIPAL | _OTHER_DX, "837I": _PRINCIPAL | _OTHER_DX | _ADMITTING}

# Indexes into the open claim's list (the 2300 values until the claim is complete).
_ACCOUNT, _TOTAL, _POS, _FREQ, _BILL_TYPE, _AUTH, _FROM, _TO = range(8)
_REFERRING, _RENDERING, _ATTENDING, _FACILITY_NPI, _DIAGNOSES, _CLM_AT = range(8, 14)
# Indexes into an open line's list.
_L_NUM, _L_PROC, _L_MODS, _L_UNITS, _L_CHARGE, _L_DATE, _L_POS, _L_PTRS, _L_DATE_TO = range(9)
_L_REVENUE, _L_BASIS, _L_AT = range(9, 12)

Action = Callable[[list[str], int], Any]


class ClaimMapper:
    """The open claim and line of one interchange. Actions take (elements, segment number) and return
    the claim they completed, if any: a claim ends at the next CLM, HL or SE."""

    def __init__(self, delimiters: Delimiters, lookups: Lookups, head: Interchange, who: Hierarchy) -> None:
        self.lookups = lookups
        self.who = who
        self.component = delimiters.component
        # The claim id digest reads segments with the standard delimiters, so that a claim re-enveloped
        # with other delimiters keeps its id.
        self.canon = str.maketrans({delimiters.element: "*", delimiters.component: ":", delimiters.repetition: "^"})
        self.standard = (delimiters.element, delimiters.component, delimiters.repetition) == ("*", ":", "^")
        self.sender = f"{head.sender_qualifier}:{head.sender_id}"
        self.kind = ""
        self.claims = 0  # in the interchange
        self.set_claims = 0  # in the open transaction set
        self.claim: list | None = None
        # Every segment read goes here; CLM empties it, so when a claim completes it holds exactly the
        # claim's segments (the reader appends after the action, and a claim completes before its end).
        self.claim_segments: list[str] = []
        self.lines: list[list] = []
        self.line: list | None = None

    def start_set(self, kind: str) -> None:
        self.kind = kind
        self.set_claims = 0
        self.who.start()

    def end_set(self) -> ClaimRows | None:
        done = self.finish_claim() if self.claim is not None else None
        if not self.set_claims:
            raise Reject("the transaction set has no claim (CLM)")
        return done

    # ------------------------------------------------------------ HL: the claim before it is complete
    def hl_billing(self, el: list[str], n: int) -> ClaimRows | None:
        done = self.finish_claim() if self.claim is not None else None
        self.who.hl_billing(el, n)
        return done

    def hl_subscriber(self, el: list[str], n: int) -> ClaimRows | None:
        done = self.finish_claim() if self.claim is not None else None
        self.who.hl_subscriber(el, n)
        return done

    def hl_patient(self, el: list[str], n: int) -> ClaimRows | None:
        done = self.finish_claim() if self.claim is not None else None
        self.who.hl_patient(el, n)
        return done

    # ------------------------------------------------------------ 2300 claim
    def clm(self, el: list[str], n: int) -> ClaimRows | None:
        done = self.finish_claim() if self.claim is not None else None
        self.who.require_for_claim()
        pad(el, 6)
        if not el[1]:
            raise Reject("CLM01 patient control number is empty")
        total = parse_decimal(el[2], "CLM02 total charge")
        facility = el[5].split(self.component)
        if len(facility) < 3 or not facility[0] or not facility[2]:
            c = self.component
            raise Reject(f"CLM05 is not facility code{c}qualifier{c}frequency (ISA16 component separator {c!r})")
        code, qualifier, frequency = facility[0], facility[1], facility[2]
        # An empty CLM05-2 is read as the only value the guide allows for the claim type.
        if self.kind == "837P":
            if qualifier not in ("B", ""):
                raise Reject(f"CLM05-2 {qualifier!r} is not B (place of service) in an 837P")
            pos, bill_type = code, None
        else:
            if qualifier not in ("A", ""):
                raise Reject(f"CLM05-2 {qualifier!r} is not A (facility type) in an 837I")
            pos, bill_type = None, code + frequency  # UB-04 type of bill, e.g. 131
        self.claim = [el[1], total, pos, frequency, bill_type, None, None, None, None, None, None, None, [], n]
        self.claim_segments.clear()
        self.lines = []
        self.line = None
        return done

    def claim_dtp(self, el: list[str], n: int) -> None:
        if at(el, 1) == "434":  # 837I statement covers period
            start, end = parse_period(at(el, 2), at(el, 3), "DTP03 statement period")
            claim = self.claim
            assert claim is not None
            claim[_FROM], claim[_TO] = start, end or start

    def claim_ref(self, el: list[str], n: int) -> None:
        if at(el, 1) == "G1":  # prior authorization
            claim = self.claim
            assert claim is not None
            claim[_AUTH] = at(el, 2) or None

    def hi(self, el: list[str], n: int) -> None:
        claim = self.claim
        assert claim is not None
        found: list[tuple[str, str]] = claim[_DIAGNOSES]
        kept, skipped = _HI_KEPT[self.kind], _HI_SKIPPED[self.kind]
        for i in range(1, len(el)):
            if not el[i]:
                continue
            parts = el[i].split(self.component)
            qualifier = parts[0]
            if qualifier in skipped:
                continue
            if qualifier not in kept:
                raise Reject(f"HI{i:02d} qualifier {qualifier!r} is not one an {self.kind} carries")
            if len(parts) < 2 or not parts[1]:
                raise Reject(f"HI{i:02d} has no code")
            if qualifier in _PRINCIPAL and any(q in _PRINCIPAL for q, _ in found):
                raise Reject(f"HI{i:02d}: a second principal diagnosis ({qualifier})")
            found.append((qualifier, parts[1]))

    def _provider(self, slot: int, el: list[str]) -> None:
        claim = self.claim
        assert claim is not None
        claim[slot] = npi(el)

    def referring(self, el: list[str], n: int) -> None:
        if el[1] == "DN":  # P3, the primary care provider, is not the referring provider
            self._provider(_REFERRING, el)

    def rendering(self, el: list[str], n: int) -> None:
        self._provider(_RENDERING, el)

    def attending(self, el: list[str], n: int) -> None:
        self._provider(_ATTENDING, el)

    def service_facility(self, el: list[str], n: int) -> None:
        self._provider(_FACILITY_NPI, el)

    # ------------------------------------------------------------ 2400 lines
    def lx(self, el: list[str], n: int) -> None:
        if self.line is not None:
            self._check_line()
        number = len(self.lines) + 1
        if len(el) < 2 or el[1] != str(number):
            raise Reject(f"LX01 is {at(el, 1)!r}; line numbers run 1, 2, ... and this is line {number}")
        self.line = [number, None, "{}", None, None, None, None, "{}", None, None, None, n]
        self.lines.append(self.line)

    def _check_line(self) -> None:
        line = self.line
        assert line is not None
        if line[_L_CHARGE] is None:
            service = "SV1" if self.kind == "837P" else "SV2"
            raise Reject(f"service line {line[_L_NUM]} has no {service}", line[_L_AT], "LX")

    def _procedure(self, composite: str, what: str) -> tuple[str | None, str]:
        """SV101 / SV202: qualifier:code:modifier 1..4[:description]; modifiers as an array literal."""
        if not composite:
            return None, "{}"
        parts = composite.split(self.component)
        if len(parts) < 2 or not parts[1]:
            raise Reject(f"{what} has no procedure code")
        if len(parts) == 2:
            return parts[1], "{}"
        return parts[1], array_literal([m for m in parts[2:6] if m])

    def sv1(self, el: list[str], n: int) -> None:
        line = self.line
        assert line is not None
        if line[_L_CHARGE] is not None:
            raise Reject("a second SV1 in one service line")
        pad(el, 8)
        code, modifiers = self._procedure(el[1], "SV101")
        if code is None:
            raise Reject("SV101 procedure is empty")
        if el[3] not in ("UN", "MJ"):
            raise Reject(f"SV103 unit basis {el[3]!r} is not UN (units) or MJ (minutes)")
        line[_L_PROC], line[_L_MODS], line[_L_BASIS] = code, modifiers, el[3]
        line[_L_CHARGE] = parse_decimal(el[2], "SV102 line charge")
        line[_L_UNITS] = parse_units(el[4], "SV104 service unit count")
        line[_L_POS] = el[5] or None
        if el[7]:
            line[_L_PTRS] = _pointers(el[7], self.component)

    def sv2(self, el: list[str], n: int) -> None:
        line = self.line
        assert line is not None
        if line[_L_CHARGE] is not None:
            raise Reject("a second SV2 in one service line")
        pad(el, 6)
        if not el[1]:
            raise Reject("SV201 revenue code is empty")
        if el[4] not in ("UN", "DA"):
            raise Reject(f"SV204 unit basis {el[4]!r} is not UN (units) or DA (days)")
        line[_L_REVENUE], line[_L_BASIS] = el[1], el[4]
        line[_L_PROC], line[_L_MODS] = self._procedure(el[2], "SV202")
        line[_L_CHARGE] = parse_decimal(el[3], "SV203 line charge")
        line[_L_UNITS] = parse_units(el[5], "SV205 service unit count")

    def line_dtp(self, el: list[str], n: int) -> None:
        pad(el, 4)
        if el[1] != "472":
            return
        line = self.line
        assert line is not None
        if line[_L_DATE] is not None:
            raise Reject("a second DTP*472 service date in one service line")
        line[_L_DATE], line[_L_DATE_TO] = parse_period(el[2], el[3], "DTP03 service date")

    # ------------------------------------------------------------ claim complete
    def finish_claim(self) -> ClaimRows:
        claim, who = self.claim, self.who
        assert claim is not None
        (account, total, pos, frequency, bill_type, prior_auth, stmt_from, stmt_to,
         referring, rendering, attending, service_npi, found, clm_at) = claim  # fmt: skip
        if self.line is None:
            raise Reject("the claim has no service line (loop 2400)", clm_at, "CLM")
        self._check_line()
        professional = self.kind == "837P"
        if rendering is None:
            # 837P sends 2310B only when it differs from the billing provider; an 837I without 2310D
            # was rendered by its attending provider.
            rendering = who.billing_npi if professional else attending
        last, first, dob, sex = who.patient()
        first_day = last_day = None
        for line in self.lines:
            day = line[_L_DATE]
            if day is not None:
                end = line[_L_DATE_TO] or day
                if first_day is None or day < first_day:
                    first_day = day
                if last_day is None or end > last_day:
                    last_day = end
        if stmt_from is not None:  # 837I: the statement covers period is the claim's service period
            first_day, last_day = stmt_from, stmt_to
        claim_id = self._claim_id(first_day, last, first, dob)

        lines = []
        for number, proc, mods, units, charge, day, line_pos, ptrs, day_to, revenue, basis, _ in self.lines:
            if professional and line_pos is None:
                line_pos = pos  # SV105 is sent only when it differs from CLM05-1
            lines.append((claim_id, number, proc, mods, units, charge, day, line_pos, ptrs, revenue, day_to, basis))

        principal = [x for x in found if x[0] in _PRINCIPAL]
        if found and not principal:
            raise Reject("diagnoses without a principal diagnosis (HI ABK)", clm_at, "CLM")
        ordered = principal + [x for x in found if x[0] in _OTHER_DX] + [x for x in found if x[0] in _ADMITTING]
        diagnoses = [
            (claim_id, seq, codes.icd10_with_dot(code) if qualifier[0] == "A" else code, qualifier)
            for seq, (qualifier, code) in enumerate(ordered, 1)
        ]
        row = (
            claim_id, self.lookups.facility(who.billing_npi, service_npi), account, first, last, dob, sex,
            who.subscriber_id, who.payer_id, who.financial_class, who.billing_npi, rendering, pos,
            frequency, first_day, last_day, total, prior_auth, who.received_at,
            self.kind, bill_type, referring, attending, service_npi,
        )  # fmt: skip
        self.claim = self.line = None
        self.claims += 1
        self.set_claims += 1
        return ClaimRows(row, lines, diagnoses, clm_at)

    def _claim_id(self, service_from: str | None, last: str | None, first: str | None, dob: str | None) -> str:
        """X, the first service date (CCYYMMDD), then a digest of who sent the claim, for whom, to whom,
        and every segment of the claim: the same claim read again (another file, other delimiters) gets
        the same id; a replacement or a corrected claim, whose segments differ, gets its own. The date
        first keeps index inserts near each other (a file's claims share a few weeks of dates, and new
        claims sort after old ones), where a bare digest would scatter them over every page of the
        claim_id indexes."""
        who = self.who
        segments = "~".join(self.claim_segments)
        if not self.standard:
            segments = segments.translate(self.canon)
        context = "\x1f".join(
            (self.sender, who.billing_npi or "", who.payer_edi or "", who.subscriber_id or "",
             last or "", first or "", dob or "", segments)
        )  # fmt: skip
        digest = hashlib.blake2b(context.encode(), digest_size=8).hexdigest()
        return f"{CLAIM_ID_PREFIX}{service_from or '00000000'}{digest}"

    def actions(self, kind: str) -> dict[tuple[str, str], Action]:
        """{(loop id, segment key): bound action} for one claim type, the hierarchy's included."""
        common: dict[tuple[str, str], Action] = {
            **self.who.actions(),  # type: ignore[dict-item]
            ("2000A", "HL*20"): self.hl_billing,
            ("2000B", "HL*22"): self.hl_subscriber,
            ("2000C", "HL*23"): self.hl_patient,
            ("2300", "CLM"): self.clm,
            ("2300", "DTP"): self.claim_dtp,
            ("2300", "REF"): self.claim_ref,
            ("2300", "HI"): self.hi,
            ("2400", "LX"): self.lx,
            ("2400", "DTP"): self.line_dtp,
        }
        if kind == "837P":
            return common | {
                ("2310A", "NM1*DN"): self.referring,
                ("2310A", "NM1*P3"): self.referring,
                ("2310B", "NM1*82"): self.rendering,
                ("2310C", "NM1*77"): self.service_facility,
                ("2400", "SV1"): self.sv1,
            }
        return common | {
            ("2310A", "NM1*71"): self.attending,
            ("2310D", "NM1*82"): self.rendering,
            ("2310E", "NM1*77"): self.service_facility,
            ("2310F", "NM1*DN"): self.referring,
            ("2400", "SV2"): self.sv2,
        }


_POINTERS: dict[str, str] = {}


def _pointers(value: str, component: str) -> str:
    """SV107: diagnosis pointers, 1-based positions in the claim's HI list, as an array literal."""
    found = _POINTERS.get(value)
    if found is None:
        try:
            numbers = [int(p) for p in value.split(component)]
        except ValueError:
            raise Reject("SV107 diagnosis pointers are not numbers") from None
        if not all(0 < p < 100 for p in numbers):
            raise Reject("SV107 diagnosis pointers are not between 1 and 99")
        found = array_literal([str(p) for p in numbers])
        if len(_POINTERS) < 10_000:
            _POINTERS[value] = found
    return found


def array_literal(values: list[str]) -> str:
    """A PostgreSQL array literal; elements other than letters and digits are quoted."""
    if all(v.isalnum() for v in values):
        return "{" + ",".join(values) + "}"
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"
