"""Synthetic 837P interchanges of any size, written as a stream (for benchmarks; not committed data).

Realistic shape: one billing provider (2000A) per transaction set of up to 5,000 claims, a subscriber
(2000B) per claim, a dependent patient (2000C) for one claim in five, one or two service lines with
DTP*472, modifiers, diagnosis pointers, prior authorisation on one claim in ten. Codes come from the
reference files (facility NPIs from db.reference, payers via their EDI aliases, CPT codes with RVUs).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

from db.reference import facility_rows

CLAIMS_PER_SET = 5_000
_CPT = ("99213", "99214", "99203", "85025", "80053", "36415", "93000", "71046", "97110", "90471")
_ICD = ("E119", "I10", "J069", "E785", "M25561", "Z0000", "K219", "F419", "N390", "R51")
_EDI_PAYERS = (("60054", "CI"), ("62308", "CI"), ("87726", "12"), ("61101", "16"), ("04412", "MB"))
_LAST = ("SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS", "LOPEZ", "WILSON")
_FIRST = ("JAMES", "MARY", "ROBERT", "PATRICIA", "JOHN", "JENNIFER", "MICHAEL", "LINDA", "DAVID", "ANNA")


def isa(control: int, when: date) -> str:
    return (
        f"ISA*00*          *00*          *ZZ*{'SUBMITTER01':<15}*ZZ*{'RECEIVER01':<15}*"
        f"{when:%y%m%d}*1200*^*00501*{control:09d}*0*T*:~"
    )


def _claim_segments(rng: random.Random, hl: int, k: int, npi: str, day: date) -> tuple[list[str], int]:
    payer, sbr09 = rng.choice(_EDI_PAYERS)
    dependent = rng.random() < 0.2
    last = rng.choice(_LAST)
    out = [
        f"HL*{hl}*1*22*{1 if dependent else 0}",
        f"SBR*P*{'' if dependent else '18'}*GRP{k % 997:04d}******{sbr09}",
        f"NM1*IL*1*{last}*{rng.choice(_FIRST)}****MI*M{k:011d}",
        "N3*100 MAIN ST",
        "N4*AUSTIN*TX*78701",
        f"DMG*D8*{1940 + k % 60}{1 + k % 12:02d}{1 + k % 28:02d}*{'FM'[k % 2]}",
        f"NM1*PR*2*PAYER*****PI*{payer}",
    ]
    used = 1
    if dependent:
        out += [
            f"HL*{hl + 1}*{hl}*23*0",
            "PAT*19",
            f"NM1*QC*1*{last}*{rng.choice(_FIRST)}",
            "N3*100 MAIN ST",
            "N4*AUSTIN*TX*78701",
            f"DMG*D8*{2010 + k % 10}0{1 + k % 9}15*{'MF'[k % 2]}",
        ]
        used = 2
    n_lines = 1 + (rng.random() < 0.6)
    charges = [rng.randrange(20, 400) for _ in range(n_lines)]
    out.append(f"CLM*PCN{k:09d}*{sum(charges)}.00***11:B:1*Y*A*Y*Y")
    if rng.random() < 0.1:
        out.append(f"REF*G1*PA{k:08d}")
    out.append(f"HI*ABK:{rng.choice(_ICD)}*ABF:{rng.choice(_ICD)}")
    out.append(f"NM1*82*1*DOC*ANNA****XX*{npi}")
    for i, charge in enumerate(charges, 1):
        mods = ":25" if i == 1 and n_lines > 1 else ""
        out += [
            f"LX*{i}",
            f"SV1*HC:{rng.choice(_CPT)}{mods}*{charge}.00*UN*1***1:2",
            f"DTP*472*D8*{day:%Y%m%d}",
        ]
    return out, used


def interchange(target_bytes: int, seed: int = 1, control: int = 1, when: date | None = None) -> Iterator[str]:
    """Segments (with terminators and newlines) of one 837P interchange of about target_bytes."""
    rng = random.Random(seed)
    when = when or date.today() - timedelta(days=3)
    npis = [row[2] for row in facility_rows(50)]
    head = isa(control, when) + "\n" + f"GS*HC*SUBMITTER01*RECEIVER01*{when:%Y%m%d}*1200*{control}*X*005010X222A1~\n"
    yield head
    written, sets, k = len(head), 0, 0
    while written < target_bytes or sets == 0:
        sets += 1
        npi = npis[sets % len(npis)]
        segs = [
            f"ST*837*{sets:04d}*005010X222A1",
            f"BHT*0019*00*B{sets:06d}*{when:%Y%m%d}*1200*CH",
            "NM1*41*2*SUBMITTER*****46*SUBMITTER01",
            "PER*IC*EDI DESK*TE*5125550100",
            "NM1*40*2*RECEIVER*****46*RECEIVER01",
            "HL*1**20*1",
            f"NM1*85*2*BILLING PROVIDER*****XX*{npi}",
            "N3*1 CLINIC WAY",
            "N4*AUSTIN*TX*78701",
            "REF*EI*741234567",
        ]
        hl = 2
        size = written + sum(len(s) + 2 for s in segs)
        for _ in range(CLAIMS_PER_SET):
            k += 1
            claim, used = _claim_segments(rng, hl, k, npi, when - timedelta(days=1 + k % 60))
            segs += claim
            hl += used
            size += sum(len(s) + 2 for s in claim)
            if size >= target_bytes:
                break
        segs.append(f"SE*{len(segs) + 1}*{sets:04d}")
        text = "~\n".join(segs) + "~\n"
        written += len(text)
        yield text
    yield f"GE*{sets}*{control}~\nIEA*1*{control:09d}~\n"


def write_file(path: Path, target_bytes: int, seed: int = 1, control: int = 1, when: date | None = None) -> int:
    """Write an interchange of about target_bytes to path; returns the number of claims."""
    claims = 0
    with path.open("w", encoding="ascii", newline="") as fh:
        for text in interchange(target_bytes, seed, control, when):
            claims += text.count("\nCLM*")
            fh.write(text)
    return claims


def stream(fh: BinaryIO, target_bytes: int, seed: int = 1) -> None:
    for text in interchange(target_bytes, seed):
        fh.write(text.encode())
