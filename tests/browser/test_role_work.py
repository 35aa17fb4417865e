"""Each role does its main job in the browser on the demo: the bookkeeper resolves a
hygiene issue, the controller approves a week of bills (one at least blocked by the
guardrail, with its numbers), the advisor reads a client's digest; and every client page
opens, keeping a screenshot of each."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from browser.harness import Demo, SignIn, Visit

pytestmark = pytest.mark.browser


def _scene(demo: Demo) -> tuple[str, list[str]]:
    """The demo's client with a week of bills close to its buffer, and those bills."""
    text = "\n".join(demo.output)
    bills = re.search(r"-d '(\{\"bill_ids\".*?\})'", text)
    client = re.search(r"/clients/([\w-]+)/approve-bills", text)
    assert bills and client, "the demo prints the week of bills to pay"
    return client[1], list(json.loads(bills[1])["bill_ids"])


def _planning_client(demo: Demo) -> str:
    found = re.search(r"Plan ahead: .*?\(([\w-]+)\)", "\n".join(demo.output))
    assert found, "the demo prints its planning client"
    return found[1]


def test_the_bookkeeper_resolves_an_issue_with_a_note(
    page: Page, demo: Demo, sign_in: SignIn, visit: Visit
) -> None:
    sign_in(page, "bookkeeper")
    assert visit(f"/advisor/{demo.lead}/hygiene") == 200
    before = demo.api("bookkeeper", f"/advisor/{demo.lead}/hygiene").json()
    assert before, "the demo has hygiene issues"
    first = page.locator("article.issue").first
    summary = first.get_by_role("heading").inner_text()
    first.get_by_label("Note").fill("duplicate confirmed with the vendor; voided in QBO")
    first.get_by_role("button", name="Resolve").click()
    page.wait_for_url(f"**/advisor/{demo.lead}/hygiene**")
    visit.shot()
    after = demo.api("bookkeeper", f"/advisor/{demo.lead}/hygiene").json()
    assert len(after) == len(before) - 1
    resolved = demo.api("bookkeeper", f"/advisor/{demo.lead}/hygiene?status=resolved").json()
    done = next(i for i in resolved if i["summary"] == summary)
    assert done["note"] == "duplicate confirmed with the vendor; voided in QBO"
    assert visit(f"/advisor/{demo.lead}/hygiene?status=resolved") == 200
    expect(page.get_by_text("duplicate confirmed with the vendor").first).to_be_visible()


def test_the_controller_approves_a_batch_and_the_guardrail_blocks_with_its_numbers(
    page: Page, demo: Demo, sign_in: SignIn, visit: Visit
) -> None:
    client, bills = _scene(demo)
    sign_in(page, "controller")
    assert visit(f"/advisor/{demo.lead}/clients/{client}/decisions") == 200
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pay bills for")
    for bill in bills:
        page.check(f'input[name="bill_id"][value="{bill}"]')
    page.get_by_role("button", name="Approve chosen").click()
    page.wait_for_load_state("load")
    visit.shot()
    outcome = page.get_by_role("region", name="Outcome of the batch")
    expect(outcome).to_be_visible()
    text = outcome.inner_text()
    assert "blocked by the guardrail" in text
    assert "submitted for payment" in text or "needs a second approval" in text
    assert "Guardrail blocked" in text and "buffer" in text and "short by" in text
    payments = demo.api("controller", f"/advisor/{demo.lead}/clients/{client}/payments").json()
    assert {p["bill_id"] for p in payments} & set(bills)


def test_the_advisor_reads_a_client_s_digest_from_the_console(
    page: Page, demo: Demo, sign_in: SignIn, visit: Visit
) -> None:
    client = _planning_client(demo)
    sign_in(page, "advisor")
    page.locator(f'table.console a[href*="/clients/{client}/"]').first.click()
    page.wait_for_url(f"**/clients/{client}/digest")
    visit.shot()
    expect(page.get_by_role("heading", name="What changed and why it matters")).to_be_visible()
    expect(page.get_by_role("img", name="13-week cash forecast")).to_be_visible()
    expect(page.get_by_role("heading", name="Scenarios side by side")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("^Receivables"))).to_be_visible()
    expect(page.get_by_role("heading", name="Collections in progress")).to_be_visible()
    digest = demo.api("advisor", f"/advisor/{demo.lead}/clients/{client}/digest").json()
    expect(page.locator("main")).to_contain_text(digest["cash"]["display"])


def test_every_client_page_opens_for_staff(
    page: Page, demo: Demo, sign_in: SignIn, visit: Visit
) -> None:
    client = _planning_client(demo)
    sign_in(page, "advisor")
    base = f"/advisor/{demo.lead}/clients/{client}"
    for path, heading in (
        ("/forecast", "Cash forecast"),
        ("/scenarios", "Scenarios"),
        ("/collections", "Collections"),
        ("/decisions", "Pay bills for"),
    ):
        assert visit(f"{base}{path}") == 200, path
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    assert visit(f"/advisor/{demo.lead}/rails") == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Rail connections")
    # Another advisor's client is not found, as a page.
    assert visit(f"/advisor/{demo.advisors[1]}/clients/{client}/digest") in (403, 404)
