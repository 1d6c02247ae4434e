"""Synthetic claims: realistic, deterministic for a seed, vectorised; a chosen share carries one known defect.

Pure: numpy draws, polars frames, no I/O. `db/seed.py` reserves claim numbers and writes what this makes;
`db/reference.py` supplies the reference codes. A claim is drawn in this order: setting (place of service),
facility, patient, dates, payer, lines (an E/M visit first where the setting has one, then distinct
ancillary codes that fit the setting), diagnoses (distinct, a principal-eligible code first, sex- and
age-specific codes only where they fit), then the defect if the claim was picked for one. A claim without
a defect passes every edit in DESIGN §4 under `today`, a 365-day timely-filing limit, facilities
F0001..F{facilities}, the active payers and financial classes given and the edit tables in `ref` (units
within the MUE, a bypass modifier on NCCI pairs, a prior authorisation number where the payer needs one,
diagnoses consistent with sex and age, no duplicates); each defect fires exactly its expected rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
import polars as pl

from claims_tasks.records import CLAIM_FIELDS, DIAGNOSIS_FIELDS, LINE_FIELDS, Claim, Diagnosis, Line

EPOCH = date(1970, 1, 1)
DAY_US = 86_400_000_000
CHARGE_MARKUP = 2.5  # chargemaster prices run at roughly 2-3x the Medicare allowed amount
MAX_LINES = 8
MAX_DIAGNOSES = 6
ROSTER = 25  # rendering providers per facility

# (defect, rule code that must fire); generate_block rotates through these evenly.
DEFECTS: tuple[tuple[str, str], ...] = (
    ("bad_npi_check_digit", "NPI_CHECK_DIGIT"),
    ("bad_npi_format", "NPI_FORMAT"),
    ("bad_icd10", "ICD10_FORMAT"),
    ("bad_cpt", "CPT_FORMAT"),
    ("from_after_to", "DATE_RANGE_INVERTED"),
    ("dob_after_service", "DOB_AFTER_SERVICE"),
    ("future_service", "DATE_IN_FUTURE"),
    ("timely_filing", "TIMELY_FILING"),
    ("total_mismatch", "CHARGE_TOTAL_MISMATCH"),
    ("negative_charge", "CHARGE_NEGATIVE"),
    ("missing_last_name", "REQUIRED_FIELD"),
    ("bad_pos", "POS_INVALID"),
    ("zero_units", "UNITS_INVALID"),
    ("unknown_facility", "FACILITY_UNKNOWN"),
    ("unknown_payer", "PAYER_UNKNOWN"),
    ("no_diagnoses", "DIAGNOSIS_MISSING"),
    # the edit catalogue (issue 3): code sets, demographics, MUE, NCCI, prior authorisation, duplicates
    ("icd10_unknown", "ICD10_UNKNOWN"),
    ("icd10_not_billable", "ICD10_NOT_BILLABLE"),
    ("external_cause_principal", "ICD10_EXTERNAL_CAUSE_PRINCIPAL"),
    ("sex_dx_conflict", "DX_SEX_CONFLICT"),
    ("age_dx_conflict", "DX_AGE_CONFLICT"),
    ("unknown_procedure", "CPT_UNKNOWN"),
    ("invalid_modifier", "MODIFIER_INVALID"),
    ("mue_exceeded", "MUE_EXCEEDED"),
    ("ncci_pair", "NCCI_PTP_CONFLICT"),
    ("prior_auth_missing", "PRIOR_AUTH_MISSING"),
    ("duplicate_claim", "DUPLICATE_CLAIM"),
)
_D = {name: i for i, (name, _) in enumerate(DEFECTS)}
BAD_CPT = ("9921", "D0120X", "W9213", "99213B")
BAD_ICD10 = ("1E11", "E1", "E11..9", "E11.99999")
BAD_POS = ("00", "77")
UNKNOWN_FACILITY = "FX999"
UNKNOWN_PAYER = "PX999"
UNKNOWN_CPT = ("99999",)  # CPT/HCPCS shaped, in no code list
UNKNOWN_ICD10 = ("E11.99", "I10.9", "Z99.999")  # ICD-10-CM shaped, in no edition
HEADER_ICD10 = ("E11", "I25.1", "M54.5", "J45.90")  # categories with subcodes: not billable
EXTERNAL_CAUSE_ICD10 = ("W19.XXXA", "X58.XXXA", "V43.52XA", "Y93.01")  # billable, never principal
FEMALE_ONLY_ICD10, MALE_ONLY_ICD10 = "N95.1", "N40.0"  # MCE sex edits (no age edit on either)
NEWBORN_ICD10 = "P59.9"  # MCE newborn edit: age 0; generated patients are at least 2
INVALID_MODIFIER = "ZZ"

# Procedure codes the generator knows how to place: group, relative weight within the group, flags.
# Flags: L laterality (LT/RT), I imaging (26/TC), G minor procedure with a global period (puts 25 on the
# visit), T therapy (GP), U up to 3 units, A prior authorisation usually needed, M Medicare-only G-code.
# Codes in the reference but not here are drawn as office ancillaries with weight 1.
_PROCEDURES = """
99202 em_office 3 -|99203 em_office 6 -|99204 em_office 4 -|99205 em_office 1.5 -|99211 em_office 2 -
99212 em_office 8 -|99213 em_office 30 -|99214 em_office 24 -|99215 em_office 6 -|99495 em_office 0.6 -
99496 em_office 0.4 -|99221 em_inp 3 -|99222 em_inp 4 -|99223 em_inp 5 -|99231 em_inp 6 -|99232 em_inp 10 -
99233 em_inp 5 -|99281 em_ed 0.5 -|99282 em_ed 2 -|99283 em_ed 6 -|99284 em_ed 8 -|99285 em_ed 6 -
99308 em_snf 4 -|99309 em_snf 5 -|99310 em_snf 2 -|99347 em_home 1 -|99348 em_home 3 -|99349 em_home 3 -
99350 em_home 1 -|G0438 awv 1 M|G0439 awv 3 M|90791 psych 1 -|90834 psych 3 -|90837 psych 3 -
92012 eye_exam 2 -|92014 eye_exam 2 -|80053 lab 6 -|80048 lab 3 -|85025 lab 8 -|83036 lab 5 -|80061 lab 5 -
84443 lab 4 -|82947 lab 1 -|81002 lab 2 -|81001 lab 2 -|87880 lab 2 -|87804 lab 1.5 -|87635 lab 1 -
82306 lab 2 -|87086 lab 1 -|85610 lab 1 -|36415 venip 1 -|71046 xr 6 I|73030 xr 2 IL|72100 xr 2 I
73562 xr 2 IL|73610 xr 1.5 IL|72148 adv 2 IA|73721 adv 1 IAL|70450 adv 2 I|74177 adv 2 IA|76700 adv 1 I
93306 adv 1 I|93000 ecg 1 -|20610 minor 4 LG|20552 minor 1 G|11042 minor 1.5 G|17110 minor 2 G
17000 minor 2 G|11102 minor 1.5 G|12001 minor 1.5 G|10060 minor 1 G|69210 minor 2 LG|11721 minor 1.5 G
29881 ortho 1 LA|66984 eye_proc 1 LA|45378 endo 2 A|45380 endo 2 A|45385 endo 1 A|43239 endo 2 A
64483 pain 1 LA|62323 pain 1 A|97110 therapy 8 TU|97140 therapy 5 TU|97530 therapy 5 TU|97112 therapy 3 TU
97116 therapy 1 TU|97161 therapy 1 T|90686 vaccine 4 -|90715 vaccine 1 -|90732 vaccine 1 -
90471 vax_admin 5 -|G0008 vax_admin 3 M|96372 inj 1 -|J1885 drug 1 U|J3301 drug 1 U|J1030 drug 1 -
J0696 drug 1 U|G2211 addon 3 M|99406 addon 1 -|96127 addon 1.5 -|G0442 addon 0.5 M|G0444 addon 0.5 M
99497 addon 0.5 -|94010 pulm 1 -|94640 pulm 1 -
"""
_EM_GROUPS = frozenset({"em_office", "em_inp", "em_ed", "em_snf", "em_home"})
_FACILITY_POS = frozenset({"19", "21", "22", "23"})

# Settings: place of service, share of claims, chance of a visit line, days from service_from to
# service_to (0..3), visit-line groups and ancillary groups with their shares.
# fmt: off
_SETTINGS: tuple[tuple[str, float, float, tuple[float, ...], dict[str, float], dict[str, float]], ...] = (
    ("11", 0.52, 0.90, (0.96, 0.02, 0.01, 0.01),
     {"em_office": 0.85, "awv": 0.05, "psych": 0.05, "eye_exam": 0.05},
     {"lab": 0.27, "venip": 0.13, "xr": 0.06, "adv": 0.01, "ecg": 0.03, "minor": 0.13, "therapy": 0.04,
      "vaccine": 0.06, "vax_admin": 0.06, "inj": 0.05, "drug": 0.03, "addon": 0.07, "pulm": 0.02}),
    ("22", 0.08, 0.55, (0.90, 0.06, 0.02, 0.02), {"em_office": 1.0},
     {"lab": 0.15, "venip": 0.08, "xr": 0.15, "adv": 0.15, "ecg": 0.07, "minor": 0.08, "endo": 0.12,
      "therapy": 0.12, "inj": 0.04, "drug": 0.04}),
    ("19", 0.03, 0.55, (0.90, 0.06, 0.02, 0.02), {"em_office": 1.0},
     {"lab": 0.15, "venip": 0.08, "xr": 0.15, "adv": 0.15, "ecg": 0.07, "minor": 0.08, "endo": 0.12,
      "therapy": 0.12, "inj": 0.04, "drug": 0.04}),
    ("23", 0.08, 0.97, (0.80, 0.18, 0.02, 0.0), {"em_ed": 1.0},
     {"lab": 0.28, "venip": 0.12, "xr": 0.15, "adv": 0.12, "ecg": 0.12, "minor": 0.06, "inj": 0.08,
      "drug": 0.07}),
    ("21", 0.06, 0.98, (0.10, 0.30, 0.35, 0.25), {"em_inp": 1.0}, {"ecg": 0.4, "xr": 0.3, "adv": 0.3}),
    ("24", 0.03, 0.0, (1.0, 0.0, 0.0, 0.0), {},
     {"endo": 0.45, "ortho": 0.15, "eye_proc": 0.25, "pain": 0.15}),
    ("81", 0.05, 0.0, (0.95, 0.05, 0.0, 0.0), {}, {"lab": 0.8, "venip": 0.2}),
    ("02", 0.02, 1.0, (1.0, 0.0, 0.0, 0.0), {"em_office": 0.8, "psych": 0.2}, {"addon": 1.0}),
    ("10", 0.03, 1.0, (1.0, 0.0, 0.0, 0.0), {"em_office": 0.8, "psych": 0.2}, {"addon": 1.0}),
    ("20", 0.05, 0.95, (1.0, 0.0, 0.0, 0.0), {"em_office": 1.0},
     {"lab": 0.35, "venip": 0.10, "xr": 0.20, "ecg": 0.05, "minor": 0.10, "inj": 0.10, "drug": 0.10}),
    ("12", 0.02, 1.0, (1.0, 0.0, 0.0, 0.0), {"em_home": 1.0}, {"venip": 0.5, "lab": 0.5}),
    ("31", 0.03, 1.0, (0.50, 0.20, 0.20, 0.10), {"em_snf": 1.0}, {"lab": 0.3, "venip": 0.2, "therapy": 0.5}),
)
# fmt: on
_MODIFIERS = ("25", "59", "LT", "RT", "26", "TC", "XS", "GP", INVALID_MODIFIER)
_BYPASS = ("59", "XS")  # NCCI bypass modifiers this generator uses
_M = {m: i for i, m in enumerate(_MODIFIERS)}

# Billable ICD-10-CM codes (checked against the FY2026 code list), relative weight, flags:
# c chronic/adult-typical (rare in children), M/F sex-specific, A adult only (21+), P paediatric (<15),
# S not acceptable as principal diagnosis. No external-cause (V-Y) codes.
_ICD10 = """
I10 30 c|I25.10 6 c|I48.91 4 c|I50.9 3 c|I11.9 2 c|E11.9 15 c|E11.65 5 c|E11.22 3 c|E11.40 2 c|E78.5 15 c
E78.00 4 c|E78.2 3 c|E66.9 5 -|E66.01 3 c|E03.9 6 c|E55.9 5 -|E87.1 1 c|D64.9 3 -|D50.9 2 -|I73.9 1 c
I87.2 1 c|I63.9 1 c|I21.4 1 c|I20.9 1 c|I49.9 1 -|R00.0 1 -|R00.2 1 -|I95.9 1 -|J06.9 10 -|J02.9 5 -
J02.0 3 -|J01.90 3 -|J20.9 4 -|J18.9 3 -|J44.9 4 c|J44.1 2 c|J45.909 4 -|J45.20 2 -|J30.9 3 -|J30.2 2 -
J32.9 1 -|J40 1 -|U07.1 2 -|R05.9 4 -|R06.02 3 -|R09.81 1 -|J21.9 1 -|J11.1 2 -|J10.1 1 -|K21.9 6 -
K59.00 3 -|K57.30 2 c|K58.9 2 -|K29.70 1 -|K52.9 2 -|K80.20 1 c|K35.80 1 -|R10.9 3 -|R10.84 2 -|R10.13 2 -
R11.2 2 -|R19.7 2 -|K64.9 1 -|K63.5 2 c|Z12.11 4 A|Z86.0100 1 AS|M54.50 8 -|M54.2 4 -|M54.16 2 c
M25.561 3 -|M25.562 3 -|M25.511 2 -|M25.512 2 -|M17.11 3 c|M17.12 3 c|M17.0 2 c|M19.90 2 c|M79.7 2 -
M62.830 1 -|M75.101 1 c|M23.221 1 -|S83.241A 1 -|M79.10 2 -|M81.0 2 c|M48.061 2 c|M51.16 2 c|M72.2 2 -
S93.401A 2 -|S61.411A 1 -|S01.81XA 1 -|S39.012A 2 -|S06.0X0A 1 -|S52.501A 1 -|S82.101A 1 -|L03.115 2 -
L03.90 1 -|L02.91 2 -|L57.0 3 c|L82.1 2 c|B07.9 2 -|L30.9 2 -|L70.0 1 -|L60.0 1 -|L97.512 1 c|L89.152 1 c
B35.1 2 c|L21.9 1 -|G43.909 3 -|G47.33 3 c|G47.00 2 -|G62.9 1 c|G89.29 2 c|G40.909 1 -|R51.9 3 -|R42 2 -
F32.A 4 -|F32.9 3 -|F41.1 4 -|F41.9 3 -|F43.10 2 -|F90.0 3 -|F17.210 3 c|F10.20 1 c|F33.1 2 -|G30.9 1 c
F03.90 1 c|R41.82 1 c|N39.0 4 -|N18.30 2 c|N18.9 1 c|N17.9 1 c|R31.9 1 -|R35.0 1 -|N20.0 1 -|R39.15 1 c
H52.4 2 c|H52.13 2 -|H25.11 1 c|H25.9 2 c|H10.9 2 -|H61.21 1 -|H61.23 2 -|H66.90 3 -|H65.90 1 -|B34.9 3 -
A09 1 -|A49.9 1 -|R07.9 3 -|R07.89 2 -|R50.9 2 -|R53.83 3 -|R53.81 1 c|R73.03 4 c|R73.9 1 -|R63.4 1 -
R60.0 1 c|R55 1 -|R26.81 1 c|R26.89 1 c|R29.6 1 c|R20.2 1 -|R21 1 -|R91.8 1 c|R94.31 1 -|R79.89 1 -
R06.00 1 -|R06.2 1 -|R52 1 -|Z00.00 8 A|Z00.01 3 A|Z00.129 4 P|Z00.121 2 P|Z23 6 -|Z01.00 1 -|Z01.10 1 -
Z01.818 2 -|Z09 2 -|Z13.1 1 -|Z13.220 1 -|Z02.1 1 -|Z47.1 1 c|Z51.81 1 -|Z71.3 1 -|Z11.59 1 -|Z79.4 3 cS
Z79.84 2 cS|Z79.01 2 cS|Z79.899 4 S|Z87.891 3 AS|Z68.30 1 AS|Z68.41 1 AS|Z86.73 1 cS|Z88.0 1 S|Z95.1 1 cS
Z96.651 1 cS|Z91.81 1 cS|Z72.0 1 AS|Z80.0 1 S|Z82.49 1 S|Z83.3 1 S|Z99.81 1 cS|Z98.890 1 S|Z79.2 1 S
Z79.82 1 cS|Z79.891 1 cS|C34.90 1 c|C18.9 1 c|C44.91 1 c|D22.9 2 -|D12.6 1 c|D17.9 1 -|C50.911 1 FA
C61 1 MA|N40.0 3 MA|N40.1 1 MA|N52.9 1 MA|R97.20 1 MA|Z12.5 1 MA|N95.1 1 FA|N92.0 1 F|N94.6 1 F
Z01.419 2 F|Z12.4 1 F|N76.0 1 F|E28.2 1 F|Z12.31 3 FA
"""


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST_F = _words(
    "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Sandra "
    "Margaret Ashley Kimberly Emily Donna Michelle Carol Amanda Melissa Deborah Stephanie Rebecca Sharon "
    "Laura Cynthia Dorothy Amy Kathleen Angela Shirley Emma Brenda Pamela Nicole Anna Samantha Katherine "
    "Christine Debra Rachel Carolyn Janet Maria Olivia Heather Helen Catherine Diane Julie Victoria Joyce "
    "Lauren Kelly Christina Ruth Joan Virginia Judith Evelyn Hannah Andrea Megan Cheryl Jacqueline Madison "
    "Sophia Abigail Teresa Isabella Sara Janice Martha Gloria Kathryn Ann Charlotte Judy Amber Julia Grace "
    "Denise Danielle Natalie Alice Marilyn Diana Beverly Jean Brittany Theresa Frances Kayla Alexis Lori"
)
_FIRST_M = _words(
    "James Robert John Michael David William Richard Joseph Thomas Christopher Charles Daniel Matthew "
    "Anthony Mark Donald Steven Andrew Paul Joshua Kenneth Kevin Brian Timothy Ronald George Jason Edward "
    "Jeffrey Ryan Jacob Nicholas Gary Eric Jonathan Stephen Larry Justin Scott Brandon Benjamin Samuel "
    "Gregory Alexander Patrick Frank Raymond Jack Dennis Jerry Tyler Aaron Jose Adam Nathan Henry Zachary "
    "Douglas Peter Kyle Noah Ethan Jeremy Christian Walter Keith Austin Roger Terry Sean Gerald Carl Dylan "
    "Harold Jordan Jesse Bryan Lawrence Arthur Gabriel Bruce Logan Billy Joe Alan Juan Elijah Willie Albert "
    "Wayne Randy Mason Vincent Liam Roy Bobby Caleb Bradley Russell Lucas Luis Carlos Miguel Jamal Hector"
)
_LAST = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams "
    "Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz "
    "Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson "
    "Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins "
    "Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero "
    "Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant "
    "Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez "
    "McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford "
    "Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer "
    "Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels "
    "Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold "
    "Pierce Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson "
    "Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Pena Richards "
    "Willis Carpenter Lawrence Sandoval Guerrero George Chapman Rios Estrada Ortega Watkins Greene Nunez "
    "Wheeler Valdez Harper Burke Larson Santiago Maldonado Morrison Franklin Carlson Austin Dominguez "
    "Carr Lawson Jacobs O'Brien Lynch Singh Vega Bishop Montgomery Oliver Jensen Harvey Williamson Gilbert "
    "Dean Sims Espinoza Howell Li Wong Reid Hanson Le McCoy Garrett Burton Fuller Wang Weber Welch Rojas "
    "Lucas Marquez Fields Park Yang Little Banks Padilla Day Walsh Bowman Schultz Luna Fowler Mejia Davidson"
)

# Payer mix by payer_type for patients aged <18, 18-64 and 65+; split evenly among payers of a type.
_PAYER_MIX: dict[str | None, tuple[float, float, float]] = {
    "medicare": (0.0, 0.03, 0.55),
    "medicare_advantage": (0.0, 0.01, 0.20),
    "medicaid": (0.42, 0.17, 0.03),
    "commercial": (0.44, 0.59, 0.19),
    "hmo": (0.06, 0.06, 0.01),
    "tricare": (0.04, 0.03, 0.02),
    "workers_comp": (0.0, 0.04, 0.0),
    "self_pay": (0.04, 0.07, 0.01),
}
_PAYER_CLASS = {
    "medicare": "MC",
    "medicare_advantage": "MC",
    "medicaid": "MD",
    "commercial": "CM",
    "hmo": "HM",
    "tricare": "TR",
    "workers_comp": "WC",
    "self_pay": "SP",
}
_MEDICARE_TYPES = frozenset({"medicare", "medicare_advantage"})
_MBI_ALPHA = np.frombuffer(b"ACDEFGHJKMNPQRTUVWXY", dtype=np.uint8)
_MBI_ALNUM = np.frombuffer(b"0123456789ACDEFGHJKMNPQRTUVWXY", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)


def _table(text: str) -> list[tuple[str, ...]]:
    return [tuple(item.split()) for row in text.strip().splitlines() for item in row.split("|")]


_PROC_INFO = {code: (group, float(weight), flags) for code, group, weight, flags in _table(_PROCEDURES)}
_ICD_ROWS = _table(_ICD10)
ICD10_CODES: tuple[str, ...] = tuple(row[0] for row in _ICD_ROWS)


@dataclass(frozen=True)
class ReferenceCodes:
    """What the generator draws from: procedure codes with a typical charge each (from their RVUs),
    the active payers (with payer_type) and the active financial class codes."""

    procedure_codes: tuple[str, ...]
    typical_charges: tuple[float, ...]
    payer_ids: tuple[str, ...]
    payer_types: tuple[str | None, ...]
    financial_classes: tuple[str, ...]
    # The edit tables valid claims must respect: code -> (MUE, MAI), (column1, column2) -> modifier
    # indicator, (payer_id, code) pairs that need a prior authorisation number.
    mue: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    ncci: Mapping[tuple[str, str], int] = field(default_factory=dict)
    prior_auth: frozenset[tuple[str, str]] = frozenset()

    def __post_init__(self) -> None:
        if not self.procedure_codes or len(self.procedure_codes) != len(self.typical_charges):
            raise ValueError("reference needs procedure codes, each with a typical charge")
        if not self.payer_ids or len(self.payer_ids) != len(self.payer_types):
            raise ValueError("reference needs at least one active payer, each with a payer_type")
        if not self.financial_classes:
            raise ValueError("reference needs at least one active financial class")


def typical_charge(work_rvu: float, pe_rvu: float, mp_rvu: float, conversion_factor: float) -> float:
    """A chargemaster-like price: the Medicare fee (total RVUs x conversion factor) times a markup."""
    return round((work_rvu + pe_rvu + mp_rvu) * conversion_factor * CHARGE_MARKUP, 2)


@dataclass(frozen=True)
class Block:
    """Staging rows for one block of claims (columns as the staging tables, without ledger columns)."""

    claims: pl.DataFrame
    lines: pl.DataFrame
    diagnoses: pl.DataFrame
    defects: pl.DataFrame


# ---------------------------------------------------------------- NPIs


def npi_check_digits(body: np.ndarray) -> np.ndarray:
    """Check digits for 9-digit NPI bodies: Luhn over '80840' + body (CMS), the prefix adding 24."""
    b = np.asarray(body, dtype=np.int64)
    total = np.full(b.shape, 24, dtype=np.int64)
    for pos in range(9):  # pos 0 = rightmost body digit, which sits next to the check digit: doubled
        d = (b // 10**pos) % 10
        if pos % 2 == 0:
            d = d * 2
            d = d // 10 + d % 10
        total += d
    return (10 - total % 10) % 10


def is_valid_npi(npi: str | None) -> bool:
    if npi is None or len(npi) != 10 or not npi.isdigit() or npi[0] not in "12":
        return False
    return int(npi_check_digits(np.array([int(npi[:9])]))[0]) == int(npi[9])


def facility_npis(numbers: np.ndarray) -> np.ndarray:
    """Organisation NPIs (as int64) of facilities F{k:04d}, deterministic in k."""
    k = np.asarray(numbers, dtype=np.int64)
    body = (1 + (k % 2)) * 100_000_000 + (k * 7_919_311 + 4_216_417) % 100_000_000
    return body * 10 + npi_check_digits(body)


def _roster_npis(facility: np.ndarray, slot: np.ndarray) -> np.ndarray:
    body = 100_000_000 + ((facility * ROSTER + slot) * 2_654_435 + 1_013_904) % 100_000_000
    return body * 10 + npi_check_digits(body)


# ---------------------------------------------------------------- helpers


def _str_ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    s = pl.Series(numbers, dtype=pl.Int64).cast(pl.String).str.zfill(width)
    return (prefix + s) if prefix else s


def _chars(alphabet: np.ndarray, rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    return alphabet[rng.integers(0, len(alphabet), size=(n, width))]


def _fixed_strings(matrix: np.ndarray) -> pl.Series:
    width = matrix.shape[1]
    raw = np.ascontiguousarray(matrix, dtype=np.uint8).view(f"S{width}").ravel()
    return pl.Series(raw).cast(pl.String)


def _draw(rng: np.random.Generator, p: np.ndarray | list[float], n: int) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(0, len(p) - 1)


def _distinct(
    rng: np.random.Generator, weights: np.ndarray, need: np.ndarray, k: int, exclude: np.ndarray | None = None
) -> np.ndarray:
    """(len(need), k) indexes drawn in proportion to weights, the first need[i] of row i distinct (and
    not exclude[i]): successive sampling without replacement, done as draws with replacement whose
    clashes are redrawn. Entries past need[i] are filler. need[i] must not exceed the positive weights."""
    m = len(need)
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0

    def draw(size: int | tuple[int, int]) -> np.ndarray:
        return np.searchsorted(cdf, rng.random(size), side="right").clip(0, len(cdf) - 1)

    out = draw((m, k))
    active = np.arange(k)[None, :] < need[:, None]
    rows = np.arange(m)  # rows still to check: after the first pass, only those that clashed
    for _ in range(200):
        sub = out[rows]
        clash = np.zeros(sub.shape, dtype=bool)
        for j in range(k):
            for i in range(j):
                clash[:, j] |= sub[:, j] == sub[:, i]
            if exclude is not None:
                clash[:, j] |= sub[:, j] == exclude[rows]
        clash &= active[rows]
        count = int(clash.sum())
        if not count:
            break
        sub[clash] = draw(count)
        out[rows] = sub
        rows = rows[clash.any(axis=1)]
    else:  # pragma: no cover - only with pathological weights
        raise RuntimeError("could not draw distinct codes; a pool is smaller than the draw needs")
    return out


def _one_row_each(rows: np.ndarray, offsets: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random child row (line or diagnosis) of each claim in `rows` (claim indexes)."""
    return offsets[rows] + (rng.random(len(rows)) * counts[rows]).astype(np.int64)


# ---------------------------------------------------------------- the generator


def generate_block(
    rng: np.random.Generator,
    start_seq: int,
    n: int,
    facilities: int,
    invalid_share: float,
    ref: ReferenceCodes,
    today: date,
) -> Block:
    """n claims numbered start_seq.. ('C' + 12 digits), round(n * invalid_share) of them with one defect."""
    if n < 0 or facilities < 1 or not 0.0 <= invalid_share <= 1.0:
        raise ValueError(f"bad block request: n={n} facilities={facilities} invalid_share={invalid_share}")
    t0 = (today - EPOCH).days
    d = _Draft(kind=_pick_defects(rng, n, invalid_share))
    _draw_claims(d, rng, facilities, ref, t0)
    _draw_lines(d, rng, ref)
    _draw_diagnoses(d, rng)
    _apply_defects(d, rng, t0)
    claim_ids = _str_ids("C", start_seq + np.arange(n), 12)
    claims = _claims_frame(d, rng, ref, claim_ids)
    lines = _lines_frame(d, rng, ref, claims)
    diagnoses = _diagnoses_frame(d, rng, claim_ids)
    claims, lines, diagnoses = _copy_duplicates(d.has("duplicate_claim"), claims, lines, diagnoses)
    return Block(
        claims=claims.select(CLAIM_FIELDS),
        lines=lines.select(LINE_FIELDS),
        diagnoses=diagnoses.select(DIAGNOSIS_FIELDS),
        defects=_defects_frame(d, claim_ids),
    )


def _copy_duplicates(
    rows: np.ndarray, claims: pl.DataFrame, lines: pl.DataFrame, diagnoses: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """duplicate_claim: claim i becomes a copy of claim i-1 (a valid original, see _place_duplicates) under
    its own claim_id and account number, as an original (frequency 1): every line repeats one of i-1's."""
    if not len(rows):
        return claims, lines, diagnoses
    take = np.arange(claims.height)
    take[rows] = rows - 1
    copied = claims[take].with_columns(
        claims["claim_id"], claims["patient_account_number"],
        pl.Series("claim_frequency", np.where(np.isin(np.arange(claims.height), rows), "1",
                                              claims["claim_frequency"].to_numpy())),
    )  # fmt: skip
    rename = dict(zip(claims["claim_id"].gather(rows - 1), claims["claim_id"].gather(rows), strict=True))
    gone = claims["claim_id"].gather(rows).implode()

    def swap(frame: pl.DataFrame) -> pl.DataFrame:
        sources = frame.filter(pl.col("claim_id").is_in(list(rename)))
        return pl.concat([
            frame.filter(~pl.col("claim_id").is_in(gone)),
            sources.with_columns(pl.col("claim_id").replace_strict(rename)),
        ])  # fmt: skip

    return copied, swap(lines), swap(diagnoses)


@dataclass
class _Draft:
    """A block being drawn, as numeric arrays: `c` one entry per claim, `lines` per line, `dx` per
    diagnosis. Private and mutable: the defects are applied in place before the frames are built."""

    kind: np.ndarray  # index into DEFECTS, -1 for a valid claim
    c: dict[str, np.ndarray] = field(default_factory=dict)
    lines: dict[str, np.ndarray] = field(default_factory=dict)
    dx: dict[str, np.ndarray] = field(default_factory=dict)

    def has(self, defect: str) -> np.ndarray:
        """Claim indexes carrying this defect."""
        return np.flatnonzero(self.kind == _D[defect])


def _pick_defects(rng: np.random.Generator, n: int, invalid_share: float) -> np.ndarray:
    """round(n * share) claims at random, the defect kinds rotating evenly from a random start."""
    n_bad = round(n * invalid_share)
    kind = np.full(n, -1, dtype=np.int8)
    if n_bad:
        chosen = rng.choice(n, n_bad, replace=False)
        kind[chosen] = (int(rng.integers(len(DEFECTS))) + np.arange(n_bad)) % len(DEFECTS)
    _place_duplicates(kind, rng)
    return kind


def _place_duplicates(kind: np.ndarray, rng: np.random.Generator) -> None:
    """A duplicate_claim copies the claim just before it, which must be valid (and so the original): move
    a duplicate that has no valid predecessor to a place that has one, swapping with a valid claim."""
    dup = _D["duplicate_claim"]
    for i in np.flatnonzero(kind == dup):
        if i > 0 and kind[i - 1] == -1:
            continue
        after = np.append(kind[1:], -1)
        ok = np.flatnonzero((kind == -1) & (np.insert(kind[:-1], 0, 0) == -1) & (after != dup))
        if len(ok):  # none only when nearly every claim is a defect: the copy then carries a defect too
            kind[ok[rng.integers(len(ok))]], kind[i] = dup, -1


def _draw_claims(d: _Draft, rng: np.random.Generator, facilities: int, ref: ReferenceCodes, t0: int) -> None:
    n = len(d.kind)
    c = d.c
    c["setting"] = _draw(rng, [s[1] for s in _SETTINGS], n)
    # prior_auth_missing: an ambulatory surgery claim, every code of which payers authorise in advance
    c["setting"][d.has("prior_auth_missing")] = [s[0] for s in _SETTINGS].index("24")
    c["facility"] = _draw(rng, 1.0 / np.arange(1, facilities + 1) ** 0.3, n) + 1  # mildly uneven volumes
    c["female"] = rng.random(n) < 0.55
    dob_lo = (date(1930, 1, 1) - EPOCH).days
    dob_hi = min((date(2022, 12, 31) - EPOCH).days, t0 - 1000)  # before any service date, shifted or not
    c["dob"] = dob_lo + (rng.beta(1.4, 1.3, n) * (dob_hi - dob_lo)).astype(np.int64)
    # service within the last 300 days, a 0-3 day span by setting, received 1-45 days later, before today
    c["from"] = t0 - rng.integers(2, 301, n)
    span_cum = np.cumsum([s[3] for s in _SETTINGS], axis=1)[c["setting"]]
    span = (rng.random(n)[:, None] > span_cum[:, :-1]).sum(axis=1)
    c["to"] = np.minimum(c["from"] + span, t0 - 2)
    c["line_base"] = c["from"].copy()  # line dates count from here (shifted with the claim by defects)
    received = np.minimum(c["to"] + rng.integers(1, 46, n), t0 - 1)
    c["received_us"] = received * DAY_US + rng.integers(0, DAY_US, n)
    c["age"] = (c["from"] - c["dob"]) / 365.2425
    # payer by age band (<18, 18-64, 65+), spread evenly over the payers of each type
    band = np.where(c["age"] < 18, 0, np.where(c["age"] < 65, 1, 2))
    ptypes = list(ref.payer_types)
    mix = np.array([_PAYER_MIX.get(t, (0.01, 0.01, 0.01)) for t in ptypes], dtype=np.float64)
    mix /= np.array([ptypes.count(t) for t in ptypes], dtype=np.float64)[:, None]
    c["payer"] = np.zeros(n, dtype=np.int64)
    for b in range(3):
        rows = np.flatnonzero(band == b)
        c["payer"][rows] = _draw(rng, mix[:, b] if mix[:, b].sum() > 0 else np.ones(len(ptypes)), len(rows))
    c["payer"][d.has("prior_auth_missing")] = _strictest_payer(ref)
    c["medicare"] = np.array([t in _MEDICARE_TYPES for t in ptypes])[c["payer"]]
    c["billing"] = facility_npis(c["facility"])
    c["rendering"] = _roster_npis(c["facility"], rng.integers(0, ROSTER, n))
    c["has_rendering"] = rng.random(n) < 0.85
    c["replacement"] = rng.random(n) >= 0.96


def _strictest_payer(ref: ReferenceCodes) -> int:
    """The payer that authorises the most ambulatory-surgery codes in advance (for prior_auth_missing)."""
    asc = {code for code, (group, _, _) in _PROC_INFO.items() if group in _SETTINGS[5][5]}
    needs = [sum((p, code) in ref.prior_auth for code in asc) for p in ref.payer_ids]
    if not ref.prior_auth or max(needs) == 0:
        raise ValueError("prior_auth_missing needs a payer x procedure prior authorisation table")
    return int(np.argmax(needs))


def _draw_lines(d: _Draft, rng: np.random.Generator, ref: ReferenceCodes) -> None:
    """Line count, codes (a visit first where the setting has one, then distinct ancillaries), units,
    charges, dates, modifiers; and prior authorisation, which depends on the codes."""
    c, n = d.c, len(d.kind)
    n_lines = _draw(rng, [0.36, 0.27, 0.16, 0.09, 0.05, 0.035, 0.02, 0.015], n) + 1
    neg = d.has("negative_charge")
    n_lines[neg] = np.maximum(n_lines[neg], 2)  # so the other lines keep the total positive
    sel, n_lines = _choose_procedures(rng, c["setting"], c["medicare"], n_lines, ref)
    pair_rows = d.has("ncci_pair")  # two lines, an NCCI pair on one date, no bypass modifier (below)
    column1, column2 = _bypassable_pair(ref)
    sel[pair_rows, 0], sel[pair_rows, 1], n_lines[pair_rows] = column1, column2, 2
    offsets = np.concatenate([[0], np.cumsum(n_lines)[:-1]])
    claim = np.repeat(np.arange(n), n_lines)
    number = np.arange(len(claim)) - offsets[claim] + 1
    code = sel[claim, number - 1]
    m = len(code)
    codes = np.array(ref.procedure_codes)
    info = [_PROC_INFO.get(p, ("other", 1.0, "-")) for p in ref.procedure_codes]
    flag = {f: np.array([f in i[2] for i in info])[code] for f in "LIGTUA"}
    mue = np.array([ref.mue.get(p, (0, 0))[0] for p in ref.procedure_codes], dtype=np.int64)[code]
    units = np.where(flag["U"], _draw(rng, [0.3, 0.45, 0.25], m) + 1, 1)
    units = np.where(mue > 0, np.minimum(units, mue), units)  # within the MUE (codes are distinct)
    typical = np.round(np.array(ref.typical_charges) * 100).astype(np.int64)
    cents = np.maximum(1, np.round(typical[code] * units * rng.uniform(0.9, 1.2, m))).astype(np.int64)
    offset = np.where(number == 1, 0, rng.integers(0, (c["to"] - c["from"])[claim] + 1))
    offset[np.isin(claim, pair_rows)] = 0

    def per_claim(mask: np.ndarray) -> np.ndarray:
        return np.bincount(claim, weights=mask.astype(np.float64), minlength=n)[claim] > 0

    # modifiers, two slots (-1 = none): 25 on a visit with a minor procedure, LT/RT, GP on therapy;
    # 26/TC on imaging by setting, 59 on manual therapy beside therapeutic activities, XS now and then
    u = rng.random((2, m))
    mod_a = np.full(m, -1, dtype=np.int8)
    is_visit = np.array([i[0] in _EM_GROUPS for i in info])[code]
    mod_a[is_visit & per_claim(flag["G"]) & (u[0] < 0.9)] = _M["25"]
    lateral = flag["L"] & (u[0] < 0.85)
    mod_a[lateral] = np.where(u[1][lateral] < 0.5, _M["LT"], _M["RT"])
    mod_a[flag["T"] & (u[0] < 0.95)] = _M["GP"]
    mod_b = np.full(m, -1, dtype=np.int8)
    facility_pos = np.array([s[0] in _FACILITY_POS for s in _SETTINGS])[c["setting"]][claim]
    mod_b[flag["I"] & facility_pos & (u[1] < 0.7)] = _M["26"]
    mod_b[flag["I"] & ~facility_pos & (u[1] < 0.03)] = _M["TC"]
    mod_b[(codes[code] == "97140") & per_claim(codes[code] == "97530") & (u[1] < 0.8)] = _M["59"]
    mod_b[np.isin(codes[code], ("17110", "20552")) & (u[1] < 0.15)] = _M["XS"]
    # NCCI pairs with modifier indicator 1 on one claim: the column-two line carries a bypass modifier
    # (the generator draws no pair with indicator 0 together: none of those codes are in its reference)
    bypassed = np.isin(mod_b, [_M[b] for b in _BYPASS])
    for (first, second), indicator in ref.ncci.items():
        if indicator == 1 and first in ref.procedure_codes and second in ref.procedure_codes:
            mod_b[(codes[code] == second) & per_claim(codes[code] == first) & ~bypassed] = _M["59"]
    paired = np.isin(claim, pair_rows)
    mod_b[paired] = -1
    mod_a[_one_row_each(d.has("invalid_modifier"), offsets, n_lines, rng)] = _M[INVALID_MODIFIER]

    # a prior authorisation number wherever the payer needs one (and now and then where it does not)
    table = np.array([[(p, k) in ref.prior_auth for k in ref.procedure_codes] for p in ref.payer_ids])
    needs = table[c["payer"][claim], code] if m else np.zeros(0, dtype=bool)
    auth = np.bincount(claim, weights=needs.astype(np.float64), minlength=n) > 0
    c["has_auth"] = auth | (rng.random(n) < 0.03)
    c["has_auth"][d.has("prior_auth_missing")] = False
    c["n_lines"], c["offsets"] = n_lines, offsets
    c["total"] = np.add.reduceat(cents, offsets) if n else np.zeros(0, dtype=np.int64)
    d.lines.update(claim=claim, number=number, code=code, units=units, cents=cents, offset=offset,
                   mod_a=mod_a, mod_b=mod_b, mue=mue)  # fmt: skip


def _bypassable_pair(ref: ReferenceCodes) -> tuple[int, int]:
    """Procedure indexes of an NCCI pair (modifier indicator 1) both of whose codes the generator draws."""
    index = {code: i for i, code in enumerate(ref.procedure_codes)}
    for (first, second), indicator in sorted(ref.ncci.items()):
        if indicator == 1 and first in index and second in index:
            return index[first], index[second]
    raise ValueError("ncci_pair needs an NCCI pair with modifier indicator 1 among the RVU codes")


def _draw_diagnoses(d: _Draft, rng: np.random.Generator) -> None:
    """Diagnosis count and distinct codes (principal first), then each line's pointers: 1-4 consecutive
    sequences, mostly starting at the principal."""
    c, n = d.c, len(d.kind)
    n_diag = _draw(rng, [0.30, 0.27, 0.18, 0.12, 0.08, 0.05], n) + 1
    n_diag[d.has("no_diagnoses")] = 0
    sel = _choose_diagnoses(rng, c["age"], c["female"], n_diag)
    offsets = np.concatenate([[0], np.cumsum(n_diag)[:-1]])
    claim = np.repeat(np.arange(n), n_diag)
    seq = np.arange(len(claim)) - offsets[claim] + 1
    c["n_diag"], c["d_offsets"] = n_diag, offsets
    d.dx.update(claim=claim, seq=seq, code=sel[claim, seq - 1])

    available = n_diag[d.lines["claim"]]
    m = len(available)
    count = np.minimum(_draw(rng, [0.55, 0.30, 0.10, 0.05], m) + 1, available)
    start = 1 + (rng.random(m) * (available - count + 1)).astype(np.int64)
    d.lines["ptr_start"] = np.where(rng.random(m) < 0.6, 1, start)
    d.lines["ptr_count"] = count


def _apply_defects(d: _Draft, rng: np.random.Generator, t0: int) -> None:
    """The numeric defects, in place; text ones (codes, names, ids) are applied as the frames are built.
    Each leaves every other rule passing."""
    c, lines = d.c, d.lines
    rows = d.has("bad_npi_check_digit")
    c["billing"][rows] = c["billing"][rows] // 10 * 10 + (c["billing"][rows] + rng.integers(1, 10, len(rows))) % 10
    rows = d.has("bad_npi_format")  # 9 digits, or a first digit of 3 (with a correct check digit)
    body = 300_000_000 + (c["billing"][rows] // 10) % 100_000_000
    short = rng.random(len(rows)) < 0.5
    c["billing"][rows] = np.where(short, c["billing"][rows] // 10, body * 10 + npi_check_digits(body))

    rows = d.has("from_after_to")  # lines keep their dates: the line-date rule stands down when inverted
    new_from = c["to"][rows] + np.minimum(rng.integers(1, 4, len(rows)), t0 - 1 - c["to"][rows])
    c["to"][rows] = c["from"][rows]
    c["from"][rows] = new_from
    rows = d.has("dob_after_service")  # after service_from, still not in the future
    c["dob"][rows] = c["from"][rows] + 1 + (rng.random(len(rows)) * (t0 - 1 - c["from"][rows])).astype(np.int64)
    for name in ("future_service", "timely_filing"):  # move the whole service period, lines included
        rows = d.has(name)
        if name == "future_service":
            delta = (t0 - c["from"][rows]) + rng.integers(1, 31, len(rows))
        else:  # 400-600 days back: received_at stays put and > 365 days after service_to
            delta = -rng.integers(400, 601, len(rows))
        for key in ("from", "to", "line_base"):
            c[key][rows] += delta

    rows = d.has("total_mismatch")
    delta = rng.integers(100, 5001, len(rows))
    down = (rng.random(len(rows)) < 0.5) & (c["total"][rows] - delta >= 100)
    c["total"][rows] += np.where(down, -delta, delta)
    rows = d.has("negative_charge")  # the last line goes negative, by less than half the others
    last = c["offsets"][rows] + c["n_lines"][rows] - 1
    cents = lines["cents"]
    others = c["total"][rows] - cents[last]
    small = -np.maximum(1, np.minimum(cents[last], others // 2))
    cents[last] = np.where(c["n_lines"][rows] > 1, small, -cents[last])
    c["total"][rows] = others + cents[last]
    lines["units"] = lines["units"].astype(np.int64)
    lines["units"][_one_row_each(d.has("zero_units"), c["offsets"], c["n_lines"], rng)] = 0
    over = _one_row_each(d.has("mue_exceeded"), c["offsets"], c["n_lines"], rng)  # every code has an MUE
    lines["units"][over] = lines["mue"][over] + rng.integers(1, 4, len(over))


def _scatter_choice(s: pl.Series, rows: np.ndarray, choices: tuple[str, ...], rng: np.random.Generator) -> None:
    if len(rows):
        s.scatter(rows, pl.Series(choices).gather(rng.integers(0, len(choices), len(rows))))


def _pick(mask: np.ndarray, yes: str | pl.Series, no: str | pl.Series) -> pl.Series:
    lit = [pl.lit(v) if isinstance(v, str) else v for v in (yes, no)]
    return pl.select(pl.when(pl.Series(mask)).then(lit[0]).otherwise(lit[1])).to_series()


def _claims_frame(d: _Draft, rng: np.random.Generator, ref: ReferenceCodes, claim_ids: pl.Series) -> pl.DataFrame:
    c, n = d.c, len(d.kind)
    first = _pick(
        c["female"],
        pl.Series(_FIRST_F).gather(rng.integers(0, len(_FIRST_F), n)),
        pl.Series(_FIRST_M).gather(rng.integers(0, len(_FIRST_M), n)),
    )
    last = pl.Series(_LAST).gather(rng.integers(0, len(_LAST), n))
    last.scatter(d.has("missing_last_name"), None)
    facility = _str_ids("F", c["facility"], 4)
    facility.scatter(d.has("unknown_facility"), UNKNOWN_FACILITY)
    payer = pl.Series(ref.payer_ids).gather(c["payer"])
    payer.scatter(d.has("unknown_payer"), UNKNOWN_PAYER)
    classes = list(ref.financial_classes)
    fallback = classes.index("OT") if "OT" in classes else 0
    class_of_payer = [_PAYER_CLASS.get(t or "", "OT") for t in ref.payer_types]
    class_idx = np.array([classes.index(k) if k in classes else fallback for k in class_of_payer])
    pos = pl.Series([s[0] for s in _SETTINGS]).gather(c["setting"])
    _scatter_choice(pos, d.has("bad_pos"), BAD_POS, rng)
    rendering = pl.Series(c["rendering"]).cast(pl.String)
    rendering.scatter(np.flatnonzero(~c["has_rendering"]), None)
    prior_auth = _str_ids("PA", rng.integers(0, 10**9, n), 9)
    prior_auth.scatter(np.flatnonzero(~c["has_auth"]), None)
    return pl.DataFrame({
        "claim_id": claim_ids,
        "facility_id": facility,
        "patient_account_number": _str_ids("A", rng.integers(0, 10**10, n), 10),
        "patient_first_name": first,
        "patient_last_name": last,
        "date_of_birth": pl.Series(c["dob"], dtype=pl.Int32).cast(pl.Date),
        "sex": _pick(c["female"], "F", "M"),
        "subscriber_id": _subscriber_ids(rng, c["payer"], c["medicare"], ref),
        "payer_id": payer,
        "financial_class": pl.Series(classes).gather(class_idx[c["payer"]]),
        "billing_npi": pl.Series(c["billing"]).cast(pl.String),
        "rendering_npi": rendering,
        "place_of_service": pos,
        "claim_frequency": _pick(c["replacement"], "7", "1"),
        "service_from": pl.Series(c["from"], dtype=pl.Int32).cast(pl.Date),
        "service_to": pl.Series(c["to"], dtype=pl.Int32).cast(pl.Date),
        "total_charge": _money(c["total"]),
        "prior_auth_number": prior_auth,
        "received_at": pl.Series(c["received_us"], dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
    })  # fmt: skip


def _lines_frame(d: _Draft, rng: np.random.Generator, ref: ReferenceCodes, claims: pl.DataFrame) -> pl.DataFrame:
    ln, c = d.lines, d.c
    proc = pl.Series(ref.procedure_codes).gather(ln["code"])
    _scatter_choice(proc, _one_row_each(d.has("bad_cpt"), c["offsets"], c["n_lines"], rng), BAD_CPT, rng)
    unknown = _one_row_each(d.has("unknown_procedure"), c["offsets"], c["n_lines"], rng)
    _scatter_choice(proc, unknown, UNKNOWN_CPT, rng)
    modifier = dict(enumerate(_MODIFIERS))
    raw = pl.DataFrame({
        "claim_id": claims["claim_id"].gather(ln["claim"]),
        "line_number": pl.Series(ln["number"], dtype=pl.Int16),
        "procedure_code": proc,
        "a": ln["mod_a"],
        "b": ln["mod_b"],
        "units": pl.Series(ln["units"], dtype=pl.Int64).cast(pl.Decimal(12, 3)),
        "line_charge": _money(ln["cents"]),
        "service_date": pl.Series(c["line_base"][ln["claim"]] + ln["offset"], dtype=pl.Int32).cast(pl.Date),
        "place_of_service": claims["place_of_service"].gather(ln["claim"]),  # copied from the claim
        "p0": pl.Series(ln["ptr_start"], dtype=pl.Int16),
        "pn": pl.Series(ln["ptr_count"], dtype=pl.Int16),
    })  # fmt: skip
    return raw.select(
        "claim_id",
        "line_number",
        "procedure_code",
        pl.concat_list(
            pl.col("a").replace_strict(modifier, default=None, return_dtype=pl.String),
            pl.col("b").replace_strict(modifier, default=None, return_dtype=pl.String),
        )
        .list.drop_nulls()
        .alias("modifiers"),
        "units",
        "line_charge",
        "service_date",
        "place_of_service",
        pl.int_ranges(pl.col("p0"), pl.col("p0") + pl.col("pn"), dtype=pl.Int16).alias("diagnosis_pointers"),
        pl.lit(None, dtype=pl.String).alias("revenue_code"),  # professional lines: no revenue code
    )


def _diagnoses_frame(d: _Draft, rng: np.random.Generator, claim_ids: pl.Series) -> pl.DataFrame:
    icd = pl.Series(ICD10_CODES).gather(d.dx["code"])
    offsets, counts = d.c["d_offsets"], d.c["n_diag"]
    for defect, choices in (
        ("bad_icd10", BAD_ICD10),
        ("icd10_unknown", UNKNOWN_ICD10),
        ("icd10_not_billable", HEADER_ICD10),
        ("age_dx_conflict", (NEWBORN_ICD10,)),
    ):
        _scatter_choice(icd, _one_row_each(d.has(defect), offsets, counts, rng), choices, rng)
    _scatter_choice(icd, offsets[d.has("external_cause_principal")], EXTERNAL_CAUSE_ICD10, rng)
    rows = d.has("sex_dx_conflict")
    at = _one_row_each(rows, offsets, counts, rng)
    if len(at):
        icd.scatter(at, _pick(d.c["female"][rows], MALE_ONLY_ICD10, FEMALE_ONLY_ICD10))
    return pl.DataFrame({
        "claim_id": claim_ids.gather(d.dx["claim"]),
        "sequence": pl.Series(d.dx["seq"], dtype=pl.Int16),
        "icd10_code": icd,
    })  # fmt: skip


def _defects_frame(d: _Draft, claim_ids: pl.Series) -> pl.DataFrame:
    bad = np.flatnonzero(d.kind >= 0)
    kind = d.kind[bad]
    return pl.DataFrame({
        "claim_id": claim_ids.gather(bad),
        "defect": pl.Series([name for name, _ in DEFECTS]).gather(kind),
        "expected_rule": pl.Series([rule for _, rule in DEFECTS]).gather(kind),
    })  # fmt: skip


def _money(cents: np.ndarray) -> pl.Series:
    return (pl.Series(cents, dtype=pl.Int64).cast(pl.Decimal(18, 2)) / Decimal("100.00")).cast(pl.Decimal(16, 2))


def _choose_procedures(
    rng: np.random.Generator,
    setting: np.ndarray,
    medicare: np.ndarray,
    n_lines: np.ndarray,
    ref: ReferenceCodes,
) -> tuple[np.ndarray, np.ndarray]:
    """(n, 8) code indexes per claim and the line counts capped to what the setting can fill."""
    n = len(setting)
    k = len(ref.procedure_codes)
    info = [_PROC_INFO.get(c, ("other", 1.0, "-")) for c in ref.procedure_codes]
    groups = np.array([i[0] for i in info])
    weight = np.array([i[1] for i in info])
    medicare_only = np.array(["M" in i[2] for i in info])
    sel = np.zeros((n, MAX_LINES), dtype=np.int64)
    capped = n_lines.copy()
    row = setting * 2 + medicare
    for r in np.unique(row):
        claims = np.flatnonzero(row == r)
        m = len(claims)
        pos, _, p_visit, _, primary, ancillary = _SETTINGS[r // 2]
        allowed = np.ones(k, dtype=bool) if r % 2 else ~medicare_only
        pw = _group_weights(groups, weight, allowed, primary)
        aw = _group_weights(groups, weight, allowed, ancillary | ({"other": 0.01} if pos == "11" else {}))
        if pw.sum() == 0 and not (aw > 0).any():
            aw = np.ones(k)
        visit = (rng.random(m) < p_visit) & (pw.sum() > 0)
        if not (aw > 0).any():
            visit[:] = True
        visit_code = _draw(rng, pw, m) if pw.sum() > 0 else np.zeros(m, dtype=np.int64)
        capped[claims] = np.minimum(n_lines[claims], visit + int((aw > 0).sum()))
        top = _distinct(rng, aw, capped[claims] - visit, MAX_LINES)
        sel[claims] = np.where(visit[:, None], np.column_stack([visit_code, top[:, :-1]]), top)
    return sel, capped


def _group_weights(groups: np.ndarray, weight: np.ndarray, allowed: np.ndarray, shares: dict[str, float]) -> np.ndarray:
    out = np.zeros(len(groups))
    for group, share in shares.items():
        members = (groups == group) & allowed
        if members.any():
            out[members] = share * weight[members] / weight[members].sum()
    return out


def _choose_diagnoses(rng: np.random.Generator, age: np.ndarray, female: np.ndarray, n_diag: np.ndarray) -> np.ndarray:
    """(n, 6) distinct ICD-10-CM indexes per claim; column 0 is acceptable as principal diagnosis."""
    n = len(age)
    weight = np.array([float(r[1]) for r in _ICD_ROWS])
    flags = [r[2] for r in _ICD_ROWS]
    has = {f: np.array([f in fl for fl in flags]) for f in "cMFAPS"}
    band = np.where(age < 15, 0, np.where(age < 21, 1, 2))
    sel = np.zeros((n, MAX_DIAGNOSES), dtype=np.int64)
    for b in range(3):
        for fem in (False, True):
            claims = np.flatnonzero((band == b) & (female == fem))
            if not len(claims):
                continue
            w = weight * np.where(has["M" if fem else "F"], 0.0, 1.0)
            if b == 0:
                w = w * np.where(has["A"], 0.0, np.where(has["c"], 0.05, 1.0))
            elif b == 1:
                w = w * np.where(has["A"] | has["P"], 0.0, np.where(has["c"], 0.3, 1.0))
            else:
                w = w * np.where(has["P"], 0.0, 1.0)
            principal = _draw(rng, np.where(has["S"], 0.0, w), len(claims))
            rest = _distinct(rng, w, n_diag[claims] - 1, MAX_DIAGNOSES - 1, exclude=principal)
            sel[claims] = np.column_stack([principal, rest])
    return sel


def _subscriber_ids(
    rng: np.random.Generator, payer: np.ndarray, medicare: np.ndarray, ref: ReferenceCodes
) -> pl.Series:
    """Medicare Beneficiary Identifier format for Medicare; payer prefix + 9 digits otherwise."""
    n = len(payer)
    mbi = np.column_stack(
        [
            _chars(_DIGITS[1:], rng, n, 1),
            _chars(_MBI_ALPHA, rng, n, 1),
            _chars(_MBI_ALNUM, rng, n, 1),
            _chars(_DIGITS, rng, n, 1),
            _chars(_MBI_ALPHA, rng, n, 1),
            _chars(_MBI_ALNUM, rng, n, 1),
            _chars(_DIGITS, rng, n, 1),
            _chars(_MBI_ALPHA, rng, n, 2),
            _chars(_DIGITS, rng, n, 2),
        ]
    )
    prefix = pl.Series([(p[:3] or "SUB").upper() for p in ref.payer_ids]).gather(payer)
    other = prefix + _str_ids("", rng.integers(0, 10**9, n), 9)
    return pl.select(pl.when(pl.Series(medicare)).then(_fixed_strings(mbi)).otherwise(other)).to_series()


# ---------------------------------------------------------------- records (tests, small tools)


def to_records(block: Block) -> list[Claim]:
    """The block as records.Claim values, as a chunk loader would build them. For tests and small blocks."""
    lines: dict[str, list[Line]] = {}
    for r in block.lines.iter_rows(named=True):
        lines.setdefault(r["claim_id"], []).append(
            Line(
                line_number=r["line_number"],
                procedure_code=r["procedure_code"],
                modifiers=tuple(r["modifiers"] or ()),
                units=r["units"],
                line_charge=r["line_charge"],
                service_date=r["service_date"],
                place_of_service=r["place_of_service"],
                diagnosis_pointers=tuple(r["diagnosis_pointers"] or ()),
                revenue_code=r["revenue_code"],
            )
        )
    diags: dict[str, list[Diagnosis]] = {}
    for r in block.diagnoses.iter_rows(named=True):
        diags.setdefault(r["claim_id"], []).append(Diagnosis(r["sequence"], r["icd10_code"]))
    return [
        Claim(**r, lines=tuple(lines.get(r["claim_id"], ())), diagnoses=tuple(diags.get(r["claim_id"], ())))
        for r in block.claims.iter_rows(named=True)
    ]
