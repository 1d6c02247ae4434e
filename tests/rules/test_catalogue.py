"""The catalogue is complete and consistent: every code a rule can emit is in it, every code in it is
exercised by a failing test, the docs list every code, and the rules package stays pure."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from claims_tasks.records import CATEGORIES
from claims_tasks.rules import RULE_CATALOGUE, validate_claim

from . import (
    test_charges,
    test_coding,
    test_dates,
    test_diagnoses,
    test_duplicates,
    test_npi,
    test_procedures,
    test_reference,
    test_required,
)

RULES_DIR = Path(__file__).resolve().parents[2] / "claims_tasks" / "rules"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "RULES.md"
FAILING = [
    p
    for module in (
        test_required,
        test_dates,
        test_npi,
        test_coding,
        test_charges,
        test_reference,
        test_diagnoses,
        test_procedures,
        test_duplicates,
    )
    for p in module.FAILING
]


def test_catalogue_entries_are_well_formed():
    for code, (category, description) in RULE_CATALOGUE.items():
        assert code.isupper() and code.replace("_", "").isalnum(), code
        assert category in CATEGORIES, code
        assert description and "\n" not in description, code


def test_every_emitted_code_is_catalogued_with_its_category():
    for param in FAILING:
        claim, ctx, _ = param.values
        for f in validate_claim(claim, ctx):
            assert f.code in RULE_CATALOGUE, f.code
            assert f.category == RULE_CATALOGUE[f.code][0], f.code


def test_every_catalogued_code_has_a_failing_case():
    covered = {code for param in FAILING for code, _, _ in param.values[2]}
    covered.add("SYSTEM_RULE_ERROR")  # test_engine builds raising rules for it
    assert covered == set(RULE_CATALOGUE)


def test_expected_categories_match_the_catalogue():
    for param in FAILING:
        for code, category, _ in param.values[2]:
            assert RULE_CATALOGUE[code][0] == category, code


def _sources() -> dict[str, ast.Module]:
    return {p.name: ast.parse(p.read_text()) for p in sorted(RULES_DIR.glob("*.py"))}


def test_literal_codes_in_rule_sources_are_catalogued():
    for name, tree in _sources().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "failure" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant):
                    assert first.value in RULE_CATALOGUE, f"{name}: {first.value}"


def test_rules_package_imports_only_the_standard_library_and_records():
    allowed = set(sys.stdlib_module_names) | {"claims_tasks"}
    for name, tree in _sources().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [(node.module or "").split(".")[0]]
                if roots == ["claims_tasks"]:
                    assert node.module in {"claims_tasks.records"}, f"{name}: {node.module}"
            else:
                continue
            assert set(roots) <= allowed, f"{name}: {roots}"


def test_docs_list_every_code_with_its_category():
    text = DOCS.read_text()
    for code, (category, _) in RULE_CATALOGUE.items():
        assert f"| `{code}` | {category} |" in text, code
