"""What the browser tests share: the running demo, screenshots, and signing in."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
ROLES = ("firm_admin", "controller", "bookkeeper", "advisor")
VIEWPORT = {"width": 1280, "height": 800}

SignIn = Callable[..., None]
"""The `sign_in` fixture: sign_in(page, role, *, paste=False) as the lead advisor's `role`."""

# "  controller: Theo Maddox <theo@...> (adv-1):" and the token on the next line;
# "  controller: <token>" on one line is read too.
_WHO = re.compile(r"^  (?P<role>[a-z_]+): (?P<rest>.*?)(?: \((?P<advisor>[\w-]+)\))?:?\s*$")
_TOKEN = re.compile(r"^\s+(?P<token>[\w-]+\.[\w-]+\.[\w-]+)\s*$")


@dataclass(frozen=True)
class Demo:
    """A running demo: where it is, a token per role of the lead advisor, and the firm."""

    base_url: str
    tokens: dict[str, str]
    advisor_ids: dict[str, str]
    """The advisor each role's token speaks for."""
    advisors: tuple[str, ...]
    """Every advisor of the demo firm, the lead first."""
    output: list[str] = field(default_factory=list)

    @property
    def lead(self) -> str:
        return self.advisors[0]

    def api(self, role: str, path: str) -> httpx.Response:
        """GET `path` from the JSON API as `role`."""
        return httpx.get(
            f"{self.base_url}{path}",
            headers={"Authorization": f"Bearer {self.tokens[role]}", "Accept": "application/json"},
            timeout=30,
        )


def parse_demo_output(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """The tokens and advisor ids `rowcol demo` prints, per role."""
    tokens: dict[str, str] = {}
    advisors: dict[str, str] = {}
    pending: str | None = None
    for line in text.splitlines():
        token = _TOKEN.match(line)
        if pending is not None and token is not None:
            tokens[pending] = token["token"]
            pending = None
            continue
        who = _WHO.match(line)
        if who is None or who["role"] not in ROLES:
            continue
        if who["advisor"]:
            advisors[who["role"]] = who["advisor"]
        inline = who["rest"].strip()
        if _TOKEN.match(f" {inline}"):
            tokens[who["role"]] = inline
        else:
            pending = who["role"]
    return tokens, advisors


def system_chromium() -> str:
    """The system Chromium's path; a clear failure (never a skip) when it is missing."""
    named = os.environ.get("ROWCOL_CHROMIUM")
    found = shutil.which(named) if named else shutil.which("chromium")
    if found is None:
        pytest.fail(
            "the browser tests need the system Chromium: install the Debian package "
            "`chromium` (apt-get install -y --no-install-recommends chromium), or set "
            "ROWCOL_CHROMIUM to a Chromium executable",
            pytrace=False,
        )
    return found


class Screenshots:
    """Numbered full-page screenshots of one test's pages, in artifacts/screenshots/."""

    def __init__(self, test_name: str) -> None:
        self.stem = re.sub(r"[^\w.-]+", "_", test_name).strip("_")
        self.taken: list[Path] = []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for stale in SCREENSHOTS.glob(f"{self.stem}-*.png"):
            stale.unlink()

    def take(self, page: Page, suffix: str = "") -> Path:
        path = SCREENSHOTS / f"{self.stem}-{len(self.taken) + 1}{suffix}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@dataclass
class Visit:
    """Opens pages of the demo and keeps a screenshot of each."""

    demo: Demo
    page: Page
    screenshots: Screenshots

    def __call__(self, path: str) -> int:
        """Opens `path`; the HTTP status it was served with."""
        response = self.page.goto(f"{self.demo.base_url}{path}")
        self.page.wait_for_load_state("load")
        self.screenshots.take(self.page)
        return response.status if response is not None else 0

    def shot(self) -> Path:
        """Keeps the page as it is now (after a click that navigated, say)."""
        self.page.wait_for_load_state("load")
        return self.screenshots.take(self.page)


def sign_in(page: Page, demo: Demo, role: str, shots: Screenshots, *, paste: bool = False) -> None:
    """Signs in on /signin as the lead advisor's `role`: the demo's one-click button for
    that person, or (`paste`, or no such button) the role's token pasted into the form.
    The sign-in page and the page it leads to are kept as screenshots."""
    page.goto(f"{demo.base_url}/signin")
    shots.take(page)
    label = re.compile(rf"^Sign in as .+ \({re.escape(role.replace('_', ' '))}\)$")
    button = page.get_by_role("button", name=label)
    if not paste and button.count() == 1:
        button.click()
    else:
        page.get_by_label("Access token").fill(demo.tokens[role])
        page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state("load")
    shots.take(page)
