"""Browser-test plumbing: the real server (`ecabinet demo`, then `ecabinet serve`) in a subprocess on a
free loopback port with a throwaway data directory, driven by Debian's headless Chromium through
Playwright. Chromium missing: the tests skip, or fail when ECABINET_REQUIRE_SERVICES=1. WebRTC tests put
Chromium in a network namespace of their own (`netns`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect, sync_playwright

from tests.conftest import free_port, unavailable
from tests.support.netns import network_namespace

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"
CHROMIUM = Path(os.environ.get("ECABINET_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              "--autoplay-policy=no-user-gesture-required"]
VENDORED = [REPO / "frontend" / "vendor" / name for name in ("preact-htm.js", "socket.io.js")]
START_TIMEOUT_S = 30
TABLET = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class LiveServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECABINET_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"ECABINET_DATA_DIR": str(data_dir), "ECABINET_MODE": "demo", "ECABINET_LOG_LEVEL": "warning",
                "PYTHONUNBUFFERED": "1"})
    # Sending documents to other agencies signs packages (tests/e2e/test_exchange_send.py); no gateway URL:
    # what is sent stays queued.
    from tests.support.exchange_packages import exchange_pki

    pki = exchange_pki(data_dir / "exchange-pki")
    env.update({"ECABINET_EXCHANGE_SIGNING_KEY": str(pki.our_key), "ECABINET_EXCHANGE_SIGNING_CERT": str(pki.our_cert)})
    return env


def _exchange_env(data_dir: Path) -> dict[str, str]:
    """The document exchange on, as in the integration tests: the gateway's secret, the test PKI's root as
    the trust anchor and our own status-signing key (tests/support/exchange_packages.py)."""
    from tests.support.exchange_packages import GATEWAY_SECRET, exchange_pki

    pki = exchange_pki(data_dir / "exchange-pki")
    return {"ECABINET_EXCHANGE_GATEWAY_SECRET": GATEWAY_SECRET, "ECABINET_EXCHANGE_TRUST_ANCHORS": str(pki.anchors),
            "ECABINET_EXCHANGE_SIGNING_KEY": str(pki.our_key), "ECABINET_EXCHANGE_SIGNING_CERT": str(pki.our_cert)}


def _wait_ready(server: LiveServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(base_url=server.base_url, timeout=2) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(f"the server exited with {server.process.returncode}:\n{server.output()}")
            try:
                if http.get("/api/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    pytest.fail(f"the server did not answer /api/health within {START_TIMEOUT_S} s:\n{server.output()}")


@pytest.fixture(scope="module")
def netns() -> Iterator[tuple[str, str, str]]:
    """(namespace, host address, browser address): a namespace with one veth link to the host."""
    with network_namespace("10.231", "the bridge test (Chromium in its own network namespace)") as ns:
        yield ns.name, ns.host, ns.inside


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: install Debian's chromium (`make chromium`) to run the browser tests")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@contextmanager
def demo_server(data_dir: Path, env: dict[str, str], host: str = "127.0.0.1") -> Iterator[LiveServer]:
    """`ecabinet demo` then `ecabinet serve` on `host` with `env`, as a user starts them; stopped at the end.
    Every e2e server (the shared one, the bridge's in its namespace, the TURN and the tasks ones) is this."""
    for vendored in VENDORED:
        if not vendored.is_file():
            unavailable(f"{vendored.relative_to(REPO)} is missing: run `make setup` (npm ci and frontend/vendor.sh)")
    demo = subprocess.run([sys.executable, "-m", "backend.cli", "demo"], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert demo.returncode == 0, f"ecabinet demo failed:\n{demo.stdout}\n{demo.stderr}"
    port = free_port()
    log = data_dir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--host", host, "--port", str(port), "--no-migrate"],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = LiveServer(f"http://{host}:{port}", process, log)
    try:
        _wait_ready(server)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@contextmanager
def browser_in_namespace(namespace: str, server: LiveServer, folder: Path) -> Iterator[Browser]:
    """Chromium started inside a test's network namespace, with a fake camera and microphone, the server's
    plain-http test address treated as secure so that the camera works there as on https."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: install Debian's chromium (`make chromium`)")
    wrapper = folder / "chromium-in-netns"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {namespace} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    with sync_playwright() as playwright:
        secure = f"--unsafely-treat-insecure-origin-as-secure={server.base_url}"
        launched = playwright.chromium.launch(executable_path=str(wrapper), args=CHROMIUM_ARGS + MEDIA_ARGS + [secure])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("e2e-data")
    with demo_server(data_dir, {**_env(data_dir), **_exchange_env(data_dir)}) as server:
        yield server


@dataclass
class Tablet:
    """One browser context (one device) with its page, collecting script errors and CSP refusals."""

    context: BrowserContext
    page: Page
    base_url: str
    problems: list[str] = field(default_factory=list)

    def open(self, route: str = "") -> Page:
        self.page.goto(f"{self.base_url}/{route}")
        return self.page

    def login(self, username: str, password: str) -> Page:
        page = self.page
        # The first page of a fresh server once showed no login form within 15 s at load 8 (why is not known:
        # _describe now says what a failing test's devices show); the test is about what follows.
        page.get_by_test_id("login-username").wait_for(timeout=45_000)
        page.get_by_test_id("login-username").fill(username)
        page.get_by_test_id("login-password").fill(password)
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("logout")).to_be_visible()
        return page

    def screenshot(self, name: str, *, full_page: bool = False, page: Page | None = None) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (page or self.page).screenshot(path=str(SCREENSHOTS / name), full_page=full_page)

    def watch(self, page: Page) -> Page:
        """Collect the script errors and CSP refusals of `page` too."""

        def on_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
                self.problems.append(f"CSP: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.problems.append(f"script error: {exc}"))
        return page

    def new_page(self, route: str = "") -> Page:
        """A second tab on the same device (same cookies and storage)."""
        page = self.watch(self.context.new_page())
        page.goto(f"{self.base_url}/{route}")
        return page

    def assert_clean(self) -> None:
        assert not self.problems, "the page reported problems:\n" + "\n".join(self.problems)


@pytest.fixture
def devices(browser: Browser, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """devices(viewport=TABLET) opens a fresh device (its own cookies and storage) in Vietnam's time zone."""
    opened: list[Tablet] = []

    def open_device(viewport: dict[str, int] = TABLET, **options: Any) -> Tablet:
        context = browser.new_context(viewport=viewport, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", **options)
        context.set_default_timeout(15_000)
        page = context.new_page()
        tablet = Tablet(context, page, live_server.base_url)
        tablet.watch(page)
        opened.append(tablet)
        return tablet

    yield open_device
    if request.node.stash.get(CALL_FAILED, False):
        _describe(request, opened)
    for tablet in opened:
        tablet.context.close()


CALL_FAILED = pytest.StashKey[bool]()
FAILURES = Path(os.environ.get("TMPDIR", "/tmp")) / "ecabinet-e2e-failures"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


def _describe(request: pytest.FixtureRequest, opened: list[Tablet]) -> None:
    """What each device showed when its test failed: its address, its text, a screenshot (a CI log
    has only this to tell a slow start from a wrong screen)."""
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    FAILURES.mkdir(parents=True, exist_ok=True)
    for i, tablet in enumerate(opened):
        try:
            shot = FAILURES / f"{request.node.name}-{i}.png"
            tablet.page.screenshot(path=str(shot), timeout=5_000)
            text = " ".join(tablet.page.inner_text("body", timeout=5_000).split())[:600]
            lines = [f"device {i} at {tablet.page.url}: {text!r}", f"  screenshot: {shot}",
                     *(f"  {problem}" for problem in tablet.problems)]
        except Exception as exc:  # a page that cannot even say what it shows
            lines = [f"device {i}: could not be described: {exc}"]
        for line in lines:
            if terminal is not None:
                terminal.write_line(line)


def rest_client(base_url: str, username: str, password: str) -> httpx.Client:
    """A REST client logged in with a bearer token (no cookie, so no CSRF header needed)."""
    r = httpx.post(f"{base_url}/api/auth/tokens", json={"username": username, "password": password}, timeout=10)
    r.raise_for_status()
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {r.json()['token']}"}, timeout=10)
