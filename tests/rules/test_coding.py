from __future__ import annotations

from dataclasses import replace

import pytest

from claims_tasks.records import Diagnosis
from claims_tasks.rules import PLACE_OF_SERVICE_CODES, validate_claim

from .builders import CTX, case, check, make_claim, with_line

C, DQ = "coding", "data_quality"


def with_dx(code: str | None) -> object:
    return make_claim(diagnoses=(Diagnosis(1, "E11.9"), Diagnosis(2, code)))


BAD_PROCEDURES = ("9921", "992134", "D0120", "I1234", "N1234", "O1234", "W1234", "j1100", "9921X", "A12")
UNASSIGNED_POS = frozenset(
    {"00", "28", "29", "30", "35", "40", "43", "48", "59", "63", "64", "67", "70", "73", "80", "82", "98"}
)

FAILING = [
    *(
        case(with_dx(code), [("ICD10_FORMAT", C, "diagnoses[1].icd10_code")], f"icd-{code!r}")
        for code in ["e11.9", "11.9", "E1", "E11.12345", "E11..9", "E11.9 ", "E11.", "EE1.9", "", "  ", None]
    ),
    case(
        with_line(0, diagnosis_pointers=(3,)),
        [("DIAGNOSIS_POINTER_INVALID", C, "lines[0].diagnosis_pointers")],
        "ptr-dangling",
    ),
    case(
        with_line(1, diagnosis_pointers=(0,)),
        [("DIAGNOSIS_POINTER_INVALID", C, "lines[1].diagnosis_pointers")],
        "ptr-zero",
    ),
    case(
        with_line(0, diagnosis_pointers=(1, 2, 1, 2, 1)),
        [("DIAGNOSIS_POINTER_INVALID", C, "lines[0].diagnosis_pointers")],
        "ptr-five",
    ),
    *(
        case(with_line(1, procedure_code=code), [("CPT_FORMAT", C, "lines[1].procedure_code")], f"cpt-{code}")
        for code in BAD_PROCEDURES
    ),
    *(
        case(
            with_line(0, modifiers=mods),
            [("MODIFIER_FORMAT", C, "lines[0].modifiers")],
            f"mod-{'-'.join(map(str, mods))}",
        )
        for mods in [("2",), ("259",), ("lt",), ("2 ",), ("25", "é5"), (None,)]
    ),
    case(
        with_line(0, modifiers=("25", "59", "76", "77", "78")),
        [("MODIFIER_FORMAT", C, "lines[0].modifiers")],
        "mod-five",
    ),
    case(make_claim(place_of_service="00"), [("POS_INVALID", C, "place_of_service")], "pos-00"),
    case(make_claim(place_of_service="29"), [("POS_INVALID", C, "place_of_service")], "pos-unassigned-29"),
    case(make_claim(place_of_service="1"), [("POS_INVALID", C, "place_of_service")], "pos-one-digit"),
    case(with_line(1, place_of_service="98"), [("POS_INVALID", C, "lines[1].place_of_service")], "pos-line"),
    *(
        case(make_claim(claim_frequency=f), [("FREQUENCY_INVALID", DQ, "claim_frequency")], f"freq-{f}")
        for f in ["0", "2", "9", "01", "1 "]
    ),
]


@pytest.mark.parametrize(("claim", "ctx", "expected"), FAILING)
def test_failing(claim, ctx, expected):
    assert check(claim, ctx) == expected


@pytest.mark.parametrize(
    "claim",
    [
        *(
            pytest.param(with_dx(code), id=f"icd-{code}")
            for code in ["I10", "E119", "S72.001A", "Z00.00", "U07.1", "C4A.0", "M1A.0110"]
        ),
        *(
            pytest.param(with_line(1, procedure_code=code), id=f"cpt-{code}")
            for code in ["99213", "J1100", "G0101", "0001U", "1234F", "0075T", "0001A", "0001M", "V2020"]
        ),
        pytest.param(with_line(0, modifiers=("25", "59", "XE", "LT")), id="mod-four"),
        pytest.param(with_line(0, modifiers=()), id="mod-none"),
        pytest.param(with_line(0, diagnosis_pointers=()), id="ptr-none"),
        pytest.param(with_line(0, diagnosis_pointers=(2, 1, 2, 1)), id="ptr-four"),
        *(
            pytest.param(make_claim(place_of_service=p), id=f"pos-{p}")
            for p in ["02", "10", "27", "66", "99", None, ""]
        ),
        pytest.param(with_line(0, place_of_service=None), id="pos-line-absent"),
        pytest.param(make_claim(claim_frequency="7"), id="freq-7"),
        pytest.param(make_claim(claim_frequency="8"), id="freq-8"),
    ],
)
def test_passing(claim):
    # Formats only: whether a code is known is CPT_UNKNOWN's (tests/rules/test_procedures.py).
    assert check(claim, replace(CTX, known_procedures=frozenset())) == []


def test_pointer_check_waits_for_diagnoses():
    assert [c for c, _, _ in check(make_claim(diagnoses=()))] == ["DIAGNOSIS_MISSING"]


def test_blank_procedure_code_is_reported_once():
    assert [c for c, _, _ in check(with_line(0, procedure_code=""))] == ["LINE_REQUIRED_FIELD"]


def test_each_bad_modifier_is_reported():
    failures = validate_claim(with_line(0, modifiers=("x", "25", "y")), CTX)
    assert [f.message for f in failures] == [
        "line 1 modifier 'x' is not 2 uppercase letters or digits",
        "line 1 modifier 'y' is not 2 uppercase letters or digits",
    ]


def test_place_of_service_set():
    assert len(PLACE_OF_SERVICE_CODES) == 52
    assert all(len(p) == 2 and p.isdigit() for p in PLACE_OF_SERVICE_CODES)
    assert {"11", "21", "22", "23", "27", "58", "66", "99"} <= PLACE_OF_SERVICE_CODES
    assert not UNASSIGNED_POS & PLACE_OF_SERVICE_CODES


def test_long_values_are_cut_in_messages():
    code = "X" * 200
    [failure] = validate_claim(replace(with_dx(code)), CTX)
    assert len(failure.message) < 100
    assert code not in failure.message
