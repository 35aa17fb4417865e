"""RowCol's pages in a real browser, served by the demo."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from browser.harness import Demo, SignIn, Visit

pytestmark = pytest.mark.browser


def test_the_home_page_renders_and_links_to_the_reference(visit: Visit) -> None:
    assert visit("/") == 200
    expect(visit.page).to_have_title("RowCol")
    expect(visit.page.get_by_role("heading", level=1)).to_be_visible()
    visit.page.get_by_role("link", name="API reference").click()
    visit.page.wait_for_url("**/docs")
    visit.shot()
    expect(visit.page.get_by_role("table")).to_be_visible()


def test_the_docs_page_lists_the_api(visit: Visit) -> None:
    assert visit("/docs") == 200
    expect(visit.page).to_have_title("RowCol API reference")
    rows = visit.page.locator("tbody tr")
    assert rows.count() > 20
    expect(
        visit.page.get_by_text("/advisor/{advisor_id}/clients", exact=True).first
    ).to_be_visible()
    health = visit.page.locator("tbody tr").filter(
        has=visit.page.get_by_text("/health", exact=True)
    )
    expect(health).to_have_count(1)
    expect(health.locator("td").first).to_have_text("GET")


STAFF = ("controller", "bookkeeper", "advisor")


def _console_path(advisor_id: str) -> str:
    return f"/advisor/{advisor_id}/portfolio"


def _open_console(page: Page, demo: Demo, sign_in: SignIn, role: str) -> None:
    """Signs in as `role` and ends on the lead advisor's console (a firm admin, who looks
    after every advisor of the firm, picks the lead from the list first)."""
    sign_in(page, role)
    if role == "firm_admin" and not page.url.endswith(_console_path(demo.lead)):
        expect(page.get_by_role("heading", name="Choose an advisor")).to_be_visible()
        page.locator("main").locator(f'a[href="{_console_path(demo.lead)}"]').click()
        page.wait_for_load_state("load")
    page.wait_for_url(f"**{_console_path(demo.lead)}")


def _client_ids(page: Page) -> list[str]:
    """The client ids of the console's rows, in order, from each row's link to the
    client (…/clients/<id>/…)."""
    links = page.locator("table.console tbody tr").get_by_role("link")
    ids = []
    for href in links.evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        found = re.search(r"/clients/([^/?#]+)", href or "")
        if found and found[1] not in ids[-1:]:
            ids.append(found[1])
    return ids


def _client_names(page: Page) -> list[str]:
    return page.locator("table.console tbody td.client a").all_inner_texts()


@pytest.mark.parametrize("role", ["firm_admin", *STAFF])
def test_each_role_signs_in_with_one_click_and_lands_on_its_console(
    page: Page, demo: Demo, sign_in: SignIn, visit: Visit, role: str
) -> None:
    _open_console(page, demo, sign_in, role)
    visit.shot()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Portfolio")
    expect(page.locator("header")).to_contain_text(role.replace("_", " "))
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert _client_ids(page), "the console shows no client"


def test_a_pasted_token_signs_in_too_and_a_bad_one_is_refused_with_the_reason(
    page: Page, demo: Demo, sign_in: SignIn, visit: Visit
) -> None:
    assert visit("/signin") == 200
    page.get_by_label("Access token").fill("not-a-token")
    page.get_by_role("button", name="Sign in", exact=True).click()
    visit.shot()
    expect(page.get_by_role("alert")).to_contain_text("Could not sign in")
    sign_in(page, "controller", paste=True)
    page.wait_for_url(f"**{_console_path(demo.lead)}")


@pytest.mark.parametrize("role", ["firm_admin", *STAFF])
def test_the_console_shows_exactly_its_advisors_clients(
    page: Page, demo: Demo, sign_in: SignIn, visit: Visit, role: str
) -> None:
    _open_console(page, demo, sign_in, role)
    visit.shot()
    own = demo.api(role, f"/advisor/{demo.lead}/clients")
    assert own.status_code == 200
    expected = {c["client_id"] for c in own.json()}
    as_json = demo.api(role, f"{_console_path(demo.lead)}?per_page=200")
    assert as_json.status_code == 200
    assert {r["client_id"] for r in as_json.json()["rows"]} == expected

    shown = _client_ids(page)
    assert len(shown) == len(set(shown))
    assert set(shown) == expected
    others = {
        c["client_id"]
        for advisor in demo.advisors[1:]
        for c in demo.api("firm_admin", f"/advisor/{advisor}/clients").json()
    }
    assert others, "the demo firm's other advisors have clients"
    assert not others & set(shown)
    expect(page.locator(".strip")).to_contain_text(f"{len(expected)}")


@pytest.mark.parametrize("role", STAFF)
def test_another_advisors_console_is_refused_to_staff(
    demo: Demo, sign_in: SignIn, visit: Visit, role: str
) -> None:
    other = demo.advisors[1]
    sign_in(visit.page, role)
    assert visit(_console_path(other)) == 403
    expect(visit.page.get_by_role("alert")).to_contain_text("Error 403")
    assert _client_ids(visit.page) == []
    assert demo.api(role, _console_path(other)).status_code == 403


def test_a_firm_admin_opens_every_advisors_console(
    demo: Demo, sign_in: SignIn, visit: Visit
) -> None:
    other = demo.advisors[1]
    sign_in(visit.page, "firm_admin")
    assert visit(_console_path(other)) == 200
    expected = {c["client_id"] for c in demo.api("firm_admin", f"/advisor/{other}/clients").json()}
    assert set(_client_ids(visit.page)) == expected


def test_sorting_by_a_column_and_searching_change_the_rows(
    page: Page, demo: Demo, sign_in: SignIn, visit: Visit
) -> None:
    _open_console(page, demo, sign_in, "advisor")
    names = _client_names(page)
    assert len(names) >= 3, "the lead advisor has too few clients to sort"

    header = page.locator("table.console thead th").filter(has_text="Client")
    header.get_by_role("link").click()
    page.wait_for_url("**sort=name**")
    visit.shot()
    first = header.get_attribute("aria-sort")
    by_name = _client_names(page)
    assert first in ("ascending", "descending")
    assert by_name == sorted(names, key=str.casefold, reverse=first == "descending")

    header.get_by_role("link").click()
    page.wait_for_load_state("load")
    visit.shot()
    assert header.get_attribute("aria-sort") != first
    assert _client_names(page) == by_name[::-1]

    target = by_name[1]
    word = max(target.split(), key=len)
    page.get_by_label("Client name").fill(word)
    page.get_by_label("Client name").press("Enter")
    page.wait_for_url("**q=**")
    visit.shot()
    found = _client_names(page)
    assert target in found
    assert all(word.casefold() in name.casefold() for name in found)
    assert len(found) < len(names)

    page.get_by_label("Client name").fill("no client is called this")
    page.get_by_label("Client name").press("Enter")
    page.wait_for_load_state("load")
    visit.shot()
    assert _client_names(page) == []
    expect(page.get_by_text("No client matches")).to_be_visible()


_FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  return {
    tag: el.tagName.toLowerCase(),
    id: el.id,
    inHeader: !!el.closest('thead'),
    text: (el.innerText || el.value || '').trim().slice(0, 40),
    focusVisible: el.matches(':focus-visible'),
    outline: style.outlineStyle,
    outlineWidth: parseFloat(style.outlineWidth) || 0,
    shadow: style.boxShadow,
  };
}"""


def test_the_keyboard_reaches_the_search_field_and_the_sort_controls_with_visible_focus(
    page: Page, demo: Demo, sign_in: SignIn, visit: Visit
) -> None:
    _open_console(page, demo, sign_in, "controller")
    page.locator("body").click(position={"x": 5, "y": 5})
    seen: list[dict[str, Any]] = []
    search: dict[str, Any] | None = None
    sort: dict[str, Any] | None = None
    for _ in range(80):
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUS)
        if focused is None:
            continue
        seen.append(focused)
        if search is None and focused["id"] == "q":
            search = focused
            visit.shot()
        if sort is None and focused["inHeader"] and focused["tag"] == "a":
            sort = focused
            visit.shot()
        if search and sort:
            break
    reached = [f"{f['tag']}#{f['id']} {f['text']}" for f in seen]
    assert search is not None, f"Tab never reached the search field; it went {reached}"
    assert sort is not None, f"Tab never reached a sort control; it went {reached}"
    for focused in (search, sort):
        assert focused["focusVisible"], focused
        visible = (focused["outline"] != "none" and focused["outlineWidth"] > 0) or (
            focused["shadow"] not in ("", "none")
        )
        assert visible, f"no focus indicator on {focused}"

    page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    visit.shot()
    assert "sort=" in page.url


def test_the_hygiene_tray_opens_from_the_console_with_only_its_advisors_issues(
    page: Page, demo: Demo, sign_in: SignIn, visit: Visit
) -> None:
    _open_console(page, demo, sign_in, "bookkeeper")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Hygiene tray").click()
    page.wait_for_url(f"**/advisor/{demo.lead}/hygiene**")
    visit.shot()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hygiene tray")
    issues = demo.api("bookkeeper", f"/advisor/{demo.lead}/hygiene")
    assert issues.status_code == 200
    own = {c["client_id"] for c in demo.api("bookkeeper", f"/advisor/{demo.lead}/clients").json()}
    assert {i["client_id"] for i in issues.json()} <= own
    total = len(issues.json())
    assert page.locator("article.issue").count() == min(total, 50)
    if total > 50:  # the tray pages by 50, highest priority first
        page.get_by_role("link", name="Next").click()
        page.wait_for_url("**page=2**")
        visit.shot()
        assert page.locator("article.issue").count() == min(total - 50, 50)

    assert visit(f"/advisor/{demo.advisors[1]}/hygiene") == 403
    expect(page.get_by_role("alert")).to_contain_text("Error 403")
