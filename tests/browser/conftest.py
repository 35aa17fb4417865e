"""Real-browser tests: RowCol served by `rowcol demo` (embedded SQLite, a few clients) and
driven by Playwright in the system's headless Chromium (Debian's `chromium` package).

The browser is never downloaded: without `chromium` on PATH (or ROWCOL_CHROMIUM naming it)
these tests fail, saying which package to install. Every page a test visits is kept as a
full-page screenshot in artifacts/screenshots/<test>-<n>.png, and so is the page a failing
test ended on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Generator, Iterator
from datetime import date

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from browser.harness import (
    ROLES,
    VIEWPORT,
    Demo,
    Screenshots,
    SignIn,
    Visit,
    parse_demo_output,
    sign_in,
    system_chromium,
)
from rowcol.demodata import generate_firm

CLIENTS = 10
SEED = 7
START_TIMEOUT_SECONDS = 120.0


def _free_pair() -> int:
    """A port P with P+1 free too: the demo serves its rail simulators on P+1."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port >= 65534:
            continue
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", port + 1))
            return port
    raise RuntimeError("no two consecutive free ports on 127.0.0.1")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ends the demo and everything it started (its process group)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`rowcol demo` on the embedded database in a fresh data dir, served until the end."""
    data_dir = tmp_path_factory.mktemp("rowcol-demo")
    port = _free_pair()
    log_path = data_dir / "demo.log"
    env = {
        **os.environ,
        "ROWCOL_DATA_DIR": str(data_dir),
        "ROWCOL_DATABASE_URL": "",
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "-c",
        "from rowcol.entrypoints.cli.main import main; main()",
        "demo",
        "--clients",
        str(CLIENTS),
        "--seed",
        str(SEED),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=data_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"rowcol demo exited with {process.returncode}:\n{log_path.read_text()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"rowcol demo did not answer /health:\n{log_path.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.3)
        output = log_path.read_text()
        tokens, advisor_ids = parse_demo_output(output)
        missing = [role for role in ROLES if role not in tokens]
        assert not missing, f"the demo printed no token for {missing}:\n{output}"
        firm = generate_firm(clients=CLIENTS, seed=SEED, today=date.today())
        advisors = tuple(a.advisor_id for a in firm.advisors)
        yield Demo(base_url, tokens, advisor_ids, advisors, output.splitlines())
    finally:
        _stop(process)


# Module scope, not session: Playwright's sync API keeps an event loop running on this
# thread while it is open, which the asyncio tests of other modules could not start under.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=system_chromium(), headless=True)
    try:
        yield launched
    finally:
        launched.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(request.node.name)


@pytest.fixture
def page(
    browser: Browser, screenshots: Screenshots, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A fresh browser context and page (1280x800) per test; the page it ends on is kept
    as a screenshot when the test fails."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    opened = context.new_page()
    opened.set_default_navigation_timeout(30_000)
    try:
        yield opened
    finally:
        if request.node.stash.get(_CALL_FAILED, False) and not opened.is_closed():
            with contextlib.suppress(Exception):
                screenshots.take(opened, "-failed")
        context.close()


@pytest.fixture
def visit(demo: Demo, page: Page, screenshots: Screenshots) -> Visit:
    return Visit(demo, page, screenshots)


@pytest.fixture(name="sign_in")
def sign_in_fixture(demo: Demo, screenshots: Screenshots) -> SignIn:
    def go(page: Page, role: str, *, paste: bool = False) -> None:
        sign_in(page, demo, role, screenshots, paste=paste)

    return go
