"""Reading 837P and 837I interchanges into staging rows (pure: no database)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from claims_tasks.x12 import ClaimRows, Interchange, Trailer, X12Error, financial_class, icd10_with_dot
from tests.x12.helpers import I_FILE, P_FILE, by_account, claims_of, line_of, read_text, replace_once

P_TEXT = P_FILE.read_text()
I_TEXT = I_FILE.read_text()


def test_an_837p_interchange_yields_its_header_claims_and_trailer() -> None:
    items = read_text(P_TEXT)
    head, *claims, trailer = items
    assert isinstance(head, Interchange) and isinstance(trailer, Trailer)
    assert (head.sender_qualifier, head.sender_id, head.receiver_id) == ("ZZ", "CLINICSUB01", "CLAIMSTASKS")
    assert (head.control_number, head.usage) == ("000000101", "P")
    assert all(isinstance(c, ClaimRows) for c in claims)
    assert (trailer.groups, trailer.transaction_sets, trailer.claims, trailer.segments) == (1, 1, 5, 100)


def test_837p_claim_fields() -> None:
    claims = by_account(P_TEXT)
    head, lines, dx = claims["PCN-1001"]
    assert {k: v for k, v in head.items() if k != "claim_id"} == {
        "facility_id": "F0001",  # NM1*85 NPI 2121357281 is F0001's
        "patient_account_number": "PCN-1001",
        "patient_first_name": "JANE",
        "patient_last_name": "DOE",
        "date_of_birth": "19800214",
        "sex": "F",
        "subscriber_id": "SUB0001",
        "payer_id": "AETNA",  # EDI payer id 60054 through payer_aliases.csv
        "financial_class": "CM",  # SBR09 CI
        "billing_npi": "2121357281",
        "rendering_npi": "1987654328",
        "place_of_service": "11",
        "claim_frequency": "1",
        "service_from": "20180312",
        "service_to": "20180313",  # the end of line 2's RD8 range
        "total_charge": "185",
        "prior_auth_number": "PA778899",
        "received_at": "2018-04-02 10:23:00+00",  # BHT04/BHT05, not the clock
        "claim_type": "837P",
        "bill_type": None,
        "referring_npi": "1555666779",
        "attending_npi": None,
        "service_facility_npi": None,
    }
    assert [{k: v for k, v in ln.items() if k != "claim_id"} for ln in lines] == [
        {
            "line_number": 1,
            "procedure_code": "99214",
            "modifiers": "{25}",
            "units": "1",
            "line_charge": "140",
            "service_date": "20180312",
            "place_of_service": "11",
            "diagnosis_pointers": "{1,2}",
            "service_date_to": None,
            "revenue_code": None,
            "unit_basis": "UN",
        },
        {
            "line_number": 2,
            "procedure_code": "97110",
            "modifiers": "{GP}",
            "units": "2",
            "line_charge": "45",
            "service_date": "20180312",
            "place_of_service": "11",
            "diagnosis_pointers": "{1}",
            "service_date_to": "20180313",
            "revenue_code": None,
            "unit_basis": "UN",
        },
    ]
    assert [(d["sequence"], d["icd10_code"], d["qualifier"]) for d in dx] == [(1, "E11.9", "ABK"), (2, "I10", "ABF")]
    assert {ln["claim_id"] for ln in lines} | {d["claim_id"] for d in dx} == {head["claim_id"]}


def test_837p_hierarchy_defaults_and_overrides() -> None:
    claims = by_account(P_TEXT)
    second = claims["PCN-1002"][0]
    assert second["rendering_npi"] == second["billing_npi"] == "2121357281"  # no 2310B: the billing provider
    assert claims["PCN-1002"][1][0]["place_of_service"] == "11"  # SV105 sent
    dependant, lines, _ = claims["PCN-1003"]  # 2000C: the patient is not the subscriber
    assert (dependant["patient_first_name"], dependant["patient_last_name"]) == ("EMMA", "SMITH")
    assert (dependant["date_of_birth"], dependant["sex"], dependant["subscriber_id"]) == ("20100605", "F", "SUB0002")
    assert (dependant["payer_id"], dependant["financial_class"]) == ("BCBS", "CM")  # our own payer id; SBR09 BL
    assert [ln["modifiers"] for ln in lines] == ["{}", "{QW}"]
    medicare, lines, _ = claims["PCN-1004"]
    assert (medicare["payer_id"], medicare["financial_class"]) == ("MCRB", "MC")  # 04412 alias; SBR09 MB
    assert (lines[1]["unit_basis"], lines[1]["units"]) == ("MJ", "45")  # minutes
    replacement, lines, _ = claims["PCN-2001"]
    assert (replacement["facility_id"], replacement["claim_frequency"]) == ("F0002", "7")
    assert (replacement["place_of_service"], replacement["service_facility_npi"]) == ("22", "1444333227")
    assert (replacement["payer_id"], replacement["financial_class"]) == ("UHC", "CM")  # 87726; SBR09 12 PPO
    assert [ln["modifiers"] for ln in lines] == ["{RT,26,GC,59}", "{LT,26}"]


def test_837i_claim_fields() -> None:
    claims = by_account(I_TEXT)
    head, lines, dx = claims["HOSP-2001"]
    assert head["claim_type"] == "837I"
    assert (head["bill_type"], head["place_of_service"], head["claim_frequency"]) == ("131", None, "1")
    assert (head["facility_id"], head["payer_id"], head["financial_class"]) == ("F0003", "MCRB", "MC")
    assert (head["service_from"], head["service_to"]) == ("20190601", "20190601")  # DTP*434 statement period
    assert (head["attending_npi"], head["rendering_npi"]) == ("1333444556", "1333444556")  # no 2310D
    assert head["referring_npi"] == "1555666779"
    assert head["received_at"] == "2019-06-11 08:15:00+00"
    assert [(ln["revenue_code"], ln["procedure_code"], ln["modifiers"], ln["place_of_service"]) for ln in lines] == [
        ("0300", "85025", "{}", None),
        ("0450", "99283", "{25}", None),
    ]
    # ABK principal, ABF other, ABJ admitting last; the occurrence code (BH) is not a diagnosis
    assert [(d["sequence"], d["icd10_code"], d["qualifier"]) for d in dx] == [
        (1, "J06.9", "ABK"),
        (2, "I10", "ABF"),
        (3, "R50.9", "ABJ"),
    ]
    inpatient, lines, dx = claims["HOSP-2002"]
    assert (inpatient["bill_type"], inpatient["service_from"], inpatient["service_to"]) == (
        "111",
        "20190603",
        "20190605",
    )
    assert (inpatient["patient_first_name"], inpatient["subscriber_id"]) == ("LIAM", "CIG0005")
    assert (inpatient["rendering_npi"], inpatient["attending_npi"]) == ("1666777887", "1333444556")
    assert inpatient["prior_auth_number"] == "AUTH55501"
    assert [(ln["unit_basis"], ln["units"], ln["service_date"], ln["service_date_to"]) for ln in lines] == [
        ("DA", "1", "20190603", None),
        ("UN", "2", "20190604", None),
    ]
    assert [(d["icd10_code"], d["qualifier"]) for d in dx] == [("J18.9", "ABK"), ("R06.02", "ABJ")]


def test_claim_ids_are_deterministic_distinct_and_delimiter_blind() -> None:
    first = [c.claim_id for c in claims_of(P_TEXT)]
    assert first == [c.claim_id for c in claims_of(P_TEXT)]
    assert len(set(first)) == 5 and all(len(cid) == 25 for cid in first)
    # X, the first service date, 16 hex digits of digest
    assert [cid[:9] for cid in first] == ["X20180312", "X20180320", "X20180322", "X20180326", "X20180328"]
    # The same interchange with other delimiters (element |, component >, repetition {) keeps its ids.
    other = P_TEXT.replace("*", "|").replace(":", ">").replace("^", "{")
    assert [c.claim_id for c in claims_of(other)] == first
    # A corrected claim (one segment differs) is another claim.
    corrected = replace_once(P_TEXT, "SV1*HC:99212*80*UN*1*11**1", "SV1*HC:99212*80*UN*1*11**1:1")
    assert [c.claim_id for c in claims_of(corrected)][1] != first[1]


def test_received_at_falls_back_to_gs04_when_bht04_is_empty() -> None:
    text = replace_once(P_TEXT, "BHT*0019*00*RB20180402*20180402*1023*CH", "BHT*0019*00*RB20180402***CH")
    assert {c.claim[18] for c in claims_of(text)} == {"2018-04-02 10:23:00+00"}


@pytest.mark.parametrize(
    ("sbr09", "expected"),
    [
        *[("MB", "MC"), ("MA", "MC"), ("16", "MC"), ("MC", "MD"), ("CI", "CM"), ("BL", "CM"), ("HM", "HM")],
        *[("CH", "TR"), ("WC", "WC"), ("ZZ", "OT"), ("Q9", "SBR09:Q9"), ("", None)],
    ],
)
def test_financial_class_from_sbr09(sbr09: str, expected: str | None) -> None:
    assert financial_class(sbr09) == expected


@pytest.mark.parametrize(
    ("code", "dotted"), [("E119", "E11.9"), ("I10", "I10"), ("S72001A", "S72.001A"), ("E11.9", "E11.9")]
)
def test_icd10_codes_get_their_dot(code: str, dotted: str) -> None:
    assert icd10_with_dot(code) == dotted


def test_unknown_facility_and_payer_are_kept_for_the_rules_to_name() -> None:
    text = replace_once(P_TEXT, "XX*2121357281", "XX*1234567893").replace("PI*60054", "PI*99999", 1)
    head = claims_of(text)[0].as_dicts()[0]
    assert (head["facility_id"], head["billing_npi"], head["payer_id"]) == ("NPI:1234567893", "1234567893", "99999")


# ---------------------------------------------------------------- malformed files
def _drop_line(text: str, prefix: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(prefix))


Case = tuple[Callable[[str], str], Callable[[str], int], str]
MALFORMED: dict[str, Case] = {
    "missing ISA": (lambda t: t.split("\n", 1)[1], lambda t: 1, "does not start with an ISA"),
    "missing IEA": (lambda t: _drop_line(t, "IEA"), lambda t: line_of(t, "GE"), "ends without IEA"),
    "truncated mid-segment": (lambda t: t[: t.index("LX*2") + 3], lambda t: t.count("\n") + 1, "truncated"),
    "truncated before SE": (lambda t: t[: t.index("SE*")], lambda t: t.count("\n"), "ends without IEA"),
    "SE count": (lambda t: replace_once(t, "SE*96*", "SE*95*"), lambda t: line_of(t, "SE*"), "SE01 says '95'"),
    "SE control": (lambda t: replace_once(t, "SE*96*0001", "SE*96*0002"), lambda t: line_of(t, "SE*"), "SE02"),
    "GE count": (lambda t: replace_once(t, "GE*1*101", "GE*2*101"), lambda t: line_of(t, "GE*"), "GE01 says '2'"),
    "GE control": (lambda t: replace_once(t, "GE*1*101", "GE*1*102"), lambda t: line_of(t, "GE*"), "GS06"),
    "IEA count": (lambda t: replace_once(t, "IEA*1*", "IEA*3*"), lambda t: line_of(t, "IEA"), "IEA01 says '3'"),
    "IEA control": (
        lambda t: replace_once(t, "IEA*1*000000101", "IEA*1*000000999"),
        lambda t: line_of(t, "IEA"),
        "ISA13",
    ),
    "data after IEA": (
        lambda t: t + "GS*HC*A*B*20180402*1023*7*X*005010X222A1~\n",
        lambda t: line_of(t, "IEA") + 1,
        "after IEA",
    ),
    "unknown loop": (
        lambda t: replace_once(t, "HI*ABK:J069~", "HI*ABK:J069~\nNM1*XY*1*WHO~"),
        lambda t: line_of(t, "NM1*XY"),
        "unexpected segment NM1*XY in loop 2300",
    ),
    "loop out of order": (
        lambda t: replace_once(
            t,
            "NM1*DN*1*REFER*RITA****XX*1555666779~\nNM1*82*1*RENDER*RON****XX*1987654328~",
            "NM1*82*1*RENDER*RON****XX*1987654328~\nNM1*DN*1*REFER*RITA****XX*1555666779~",
        ),
        lambda t: line_of(t, "NM1*DN"),
        "loop 2310A (referring provider) is out of order",
    ),
    "claim segment after its sub-loops": (
        lambda t: replace_once(t, "PRV*PE*PXC*207Q00000X~", "HI*ABF:E785~"),
        lambda t: line_of(t, "HI*ABF:E785"),
        "HI belongs to loop 2300",
    ),
    "wrong transaction set": (lambda t: replace_once(t, "ST*837*", "ST*835*"), lambda t: line_of(t, "ST*"), "ST01"),
    "HL parent": (lambda t: replace_once(t, "HL*4*3*23*0", "HL*4*2*23*0"), lambda t: line_of(t, "HL*4*"), "HL02"),
    "LX numbering": (lambda t: replace_once(t, "LX*2", "LX*3"), lambda t: line_of(t, "LX*3"), "LX01"),
    "no payer": (lambda t: _drop_line(t, "NM1*PR*2*AETNA"), lambda t: line_of(t, "CLM*PCN-1001"), "no payer name"),
    "calendar date": (
        lambda t: replace_once(t, "DTP*472*D8*20180320", "DTP*472*D8*20180231"),
        lambda t: line_of(t, "DTP*472*D8*20180231"),
        "not a calendar date",
    ),
    "amount": (
        lambda t: replace_once(t, "CLM*PCN-1002*80*", "CLM*PCN-1002*8O*"),
        lambda t: line_of(t, "CLM*PCN-1002"),
        "CLM02",
    ),
    "unit basis": (lambda t: replace_once(t, "*45*UN*2*", "*45*XX*2*"), lambda t: line_of(t, "SV1*HC:97110"), "SV103"),
    "line without SV1": (lambda t: _drop_line(t, "SV1*HC:99212"), lambda t: line_of(t, "LX*1", 2), "has no SV1"),
    "claim without lines": (
        lambda t: replace_once(t, "LX*1~\nSV1*HC:99212*80*UN*1*11**1~\nDTP*472*D8*20180320~\n", ""),
        lambda t: line_of(t, "CLM*PCN-1002"),
        "no service line",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_file_is_refused_with_file_segment_and_reason(case: str) -> None:
    mutate, where, reason = MALFORMED[case]
    text = mutate(P_TEXT)
    with pytest.raises(X12Error) as caught:
        read_text(text, name="bad.x12")
    err = caught.value
    assert reason in err.reason
    assert err.segment == where(text), str(err)
    assert str(err).startswith(f"bad.x12: segment {err.segment}")
