"""/ui in a real browser (Debian's chromium, driven by Playwright) against a real uvicorn and a real worker:
a batch's progress bar moves from 0 to 100 %, a failed claim opens with its patient data for an admin (who
assigns and resolves it on the page) and masked for an auditor (who gets no review actions)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from claims_tasks.config import Settings
from claims_tasks.tasks import run_dispatch
from db.seed import seed_claims
from tests.api.servers import ServerProcess, api_server
from tests.workers import WorkerProcess

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (deploy/local.sh test does it)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def server(clean: Settings, tmp_path: Path) -> Iterator[ServerProcess]:
    s = api_server(tmp_path / "api.log")
    try:
        yield s
    finally:
        s.stop()


def _open(browser: object, server: ServerProcess, api_key: str) -> tuple[object, list[str]]:
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{server.base_url}/ui")
    page.fill("#api-key", api_key)
    page.click("#save-key")
    page.wait_for_selector("#whoami:not(:empty)")
    return page, errors


def test_progress_moves_to_100_and_a_failed_claim_opens_by_role(
    clean: Settings, server: ServerProcess, browser: object, api_keys: dict[str, str], tmp_path: Path
) -> None:
    seed_claims(clean.staging_dsn, 3_000, facilities=10, invalid_share=0.1, seed=8)
    result = run_dispatch()
    assert result is not None
    row = f'#batches tr[data-batch-id="{result.batch_id}"]'

    page, errors = _open(browser, server, api_keys["admin"])
    assert page.text_content("#whoami") == "test-admin (admin)"
    page.wait_for_selector(row)
    assert page.text_content(f"{row} .pct") == "0.0%"  # dispatched, no worker yet

    worker = WorkerProcess(tmp_path / "worker.log", name="ui")
    try:
        worker.wait_ready()
        page.wait_for_function(
            f"""() => {{
                const r = document.querySelector('{row}');
                return r && r.dataset.status === 'finished' && r.querySelector('progress').value === 100;
            }}""",
            timeout=120_000,
        )
    finally:
        worker.stop()
    assert page.text_content(f"{row} .pct") == "100.0%"
    assert page.text_content(f"{row} .status") == "finished"

    # The failed claims the batch left: filter to it, open the first.
    page.fill('#filters input[name="batch_id"]', result.batch_id)
    page.click("#apply-filters")
    page.wait_for_selector("#failed tbody tr[data-id]")
    first = page.locator("#failed tbody tr[data-id]").first
    failed_id = first.get_attribute("data-id")
    claim_id = first.get_attribute("data-claim-id")
    with psycopg.connect(clean.staging_dsn) as conn:
        last_name = conn.execute(
            "SELECT patient_last_name FROM staging.claims WHERE claim_id = %s", (claim_id,)
        ).fetchone()[0]  # type: ignore[index]
    first.click()
    page.wait_for_selector("#detail:not([hidden])")
    assert page.get_attribute("#detail-phi", "data-phi") == "disclosed"
    assert page.text_content('#detail-fields dd[data-field="patient_last_name"]') == (last_name or "—")
    assert page.locator("#detail-failures li").count() >= 1

    # Review: assign, then resolve (void); the page shows each outcome, the database has the audit rows.
    assert page.locator("#review").is_visible()
    page.fill('#review-form input[name="assignee"]', "ann")
    page.click('#review-form button[data-action="assign"]')
    page.wait_for_function("() => document.querySelector('#review-result').textContent === 'assign: review'")
    assert page.text_content('#detail-fields dd[data-field="assigned to"]') == "ann"
    page.select_option('#review-form select[name="resolution"]', "void")
    page.fill('#review-form input[name="notes"]', "not billable")
    page.click('#review-form button[data-action="resolve"]')
    page.wait_for_function("() => document.querySelector('#review-result').textContent === 'resolve: voided'")
    assert page.text_content('#detail-fields dd[data-field="status"]') == "voided"
    with psycopg.connect(clean.production_dsn) as conn:
        actions = conn.execute(
            "SELECT action, notes FROM review_actions WHERE claim_id = %s ORDER BY id", (claim_id,)
        ).fetchall()
    assert actions == [("assign", None), ("void", "not billable")]
    assert errors == []

    auditor, auditor_errors = _open(browser, server, api_keys["auditor"])
    auditor.fill('#filters input[name="batch_id"]', result.batch_id)
    auditor.click("#apply-filters")
    auditor.click(f'#failed tbody tr[data-id="{failed_id}"]')
    auditor.wait_for_selector("#detail:not([hidden])")
    assert auditor.get_attribute("#detail-phi", "data-phi") == "masked"
    shown = auditor.text_content('#detail-fields dd[data-field="patient_last_name"]')
    assert shown == ("***" if last_name else "—")
    assert last_name is None or last_name not in auditor.content()
    assert auditor.locator("#review").is_hidden()
    assert auditor_errors == []

    # A wrong key is refused on the page, with the API's message.
    stranger, _ = _open_refused(browser, server)
    assert "401" in stranger.text_content("#message")


def _open_refused(browser: object, server: ServerProcess) -> tuple[object, None]:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{server.base_url}/ui")
    page.fill("#api-key", "ctk_wrong")
    page.click("#save-key")
    page.wait_for_selector("#message:not([hidden])")
    page.wait_for_function("() => document.querySelector('#message').textContent.includes('401')")
    return page, None
