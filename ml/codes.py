"""What procedure and diagnosis codes mean, as far as the model is concerned: public coding facts (CPT
ranges, E/M levels, global periods, paired anatomy, ICD-10-CM chapters), not payer behaviour.

Both the features (ml/features.py) and the latent payer rules of the generated history (ml/history.py)
read these tables, so a feature and the rule it helps predict mean the same thing by the same name.
"""

from __future__ import annotations

from functools import lru_cache

# Procedure kinds, in the order the feature columns use them. `other` catches everything unlisted.
KINDS: tuple[str, ...] = (
    "em",  # evaluation and management visits (99202-99499) and annual wellness visits
    "minor",  # minor procedures with a 0- or 10-day global period (CMS physician fee schedule)
    "surgery",  # other surgical procedures (10021-69990): arthroscopy, cataract, spinal injections
    "endoscopy",  # upper and lower GI endoscopy (43200-43289, 45300-45398)
    "ct_mri",  # computed tomography and magnetic resonance imaging
    "xray",  # plain radiography
    "ultrasound",  # ultrasound, including echocardiography
    "cardiac",  # ECG and other cardiovascular diagnostics (93000-93799, less echo)
    "lab",  # pathology and laboratory (80047-89398) and venipuncture (36415)
    "therapy",  # physical medicine and rehabilitation (97010-97799)
    "psych",  # psychiatry (90785-90899)
    "vaccine",  # vaccine products (90476-90759) and their administration
    "injection",  # therapeutic injections (96360-96379) and pulmonary treatments (94xxx)
    "drug",  # HCPCS J-codes: drugs given in the office
    "other",
)

# Minor procedures: 0- or 10-day global period, so a same-day visit needs modifier 25 to be paid.
MINOR_GLOBAL: frozenset[str] = frozenset(
    {"10060", "11042", "11102", "11721", "12001", "17000", "17110", "20552", "20610", "69210"}
)
# Procedures on paired organs or limbs: the claim must say which side (LT/RT, or 50 for both).
PAIRED_ANATOMY: frozenset[str] = frozenset(
    {"20610", "29881", "64483", "66984", "69210", "73030", "73562", "73610", "73721"}
)
SIDE_MODIFIERS: frozenset[str] = frozenset({"LT", "RT", "50"})
DISTINCT_MODIFIERS: frozenset[str] = frozenset({"59", "XE", "XP", "XS", "XU"})
PROFESSIONAL_TECHNICAL: frozenset[str] = frozenset({"26", "TC"})
# The highest level of each E/M family: the level a payer audits against the documented complexity.
EM_TOP_LEVEL: frozenset[str] = frozenset({"99205", "99215", "99223", "99233", "99285", "99310", "99350"})

_CT_MRI = frozenset({"70450", "70551", "71250", "72148", "72141", "73221", "73721", "74176", "74177"})
_ULTRASOUND = frozenset({"76700", "76705", "76856", "93306", "93880"})
_WELLNESS = frozenset({"G0438", "G0439"})
_VACCINE_ADMIN = frozenset({"90460", "90461", "90471", "90472", "90473", "90474", "G0008", "G0009", "G0010"})

# ICD-10-CM chapters by first letter, grouped as the feature columns use them.
DX_GROUPS: tuple[str, ...] = (
    "ab",  # A00-B99 infectious and parasitic
    "cd",  # C00-D89 neoplasms, blood
    "e",  # E00-E89 endocrine, nutritional, metabolic
    "f",  # F01-F99 mental and behavioural
    "g",  # G00-G99 nervous system
    "h",  # H00-H95 eye and ear
    "i",  # I00-I99 circulatory
    "j",  # J00-J99 respiratory
    "k",  # K00-K95 digestive
    "l",  # L00-L99 skin
    "m",  # M00-M99 musculoskeletal
    "n",  # N00-N99 genitourinary
    "r",  # R00-R99 symptoms and signs
    "st",  # S00-T88 injury and poisoning
    "z",  # Z00-Z99 factors influencing health status (screening, history, long-term drugs)
    "other",  # O-Q (pregnancy, perinatal, congenital), U, V-Y (external causes)
)
DX_GROUP_OF_LETTER: dict[str, int] = {
    **{letter: DX_GROUPS.index(group) for group in DX_GROUPS[:-1] for letter in group.upper()},
    "T": DX_GROUPS.index("st"),
}
DX_OTHER = DX_GROUPS.index("other")


def dx_group(code: str | None) -> int:
    """Index into DX_GROUPS of an ICD-10-CM code (by its chapter letter)."""
    if not code:
        return DX_OTHER
    return DX_GROUP_OF_LETTER.get(code[0], DX_OTHER)


def dx_category(code: str | None) -> str | None:
    """The three-character ICD-10-CM category (E11.9 -> E11): fine enough to tell conditions apart,
    coarse enough that the model sees each one often."""
    return code[:3] if code else None


@lru_cache(maxsize=4096)
def procedure_kind(code: str | None) -> int:
    """Index into KINDS for a CPT/HCPCS code, by CPT section ranges and the sets above."""
    if not code:
        return KINDS.index("other")
    kind = _kind_name(code)
    return KINDS.index(kind)


def _kind_name(code: str) -> str:
    if code in _WELLNESS:
        return "em"
    if code in _VACCINE_ADMIN:
        return "vaccine"
    if code in MINOR_GLOBAL:
        return "minor"
    if code in _CT_MRI:
        return "ct_mri"
    if code in _ULTRASOUND:
        return "ultrasound"
    if code[0] == "J":
        return "drug"
    if not code.isdigit():
        return "other"
    n = int(code)
    ranges = (
        (99202, 99499, "em"),
        (43200, 43289, "endoscopy"),
        (45300, 45398, "endoscopy"),
        (10021, 69990, "surgery"),
        (70010, 76499, "xray"),
        (80047, 89398, "lab"),
        (36415, 36416, "lab"),
        (97010, 97799, "therapy"),
        (90785, 90899, "psych"),
        (90476, 90759, "vaccine"),
        (93000, 93799, "cardiac"),
        (96360, 96379, "injection"),
        (94002, 94799, "injection"),
    )
    for low, high, name in ranges:
        if low <= n <= high:
            return name
    return "other"
