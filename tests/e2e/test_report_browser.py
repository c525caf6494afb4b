"""The HTML report in a real headless Chromium (Debian's ``chromium``).

The browser is driven over the DevTools protocol through ``--remote-debugging-pipe``
(JSON messages separated by NUL bytes on file descriptors 3 and 4): a real CDP
session that sees every console message, every network request and every dialog,
without a WebDriver binary or a client library.  Chromium missing means a skip --
unless ``SPANSCOPE_REQUIRE_SERVICES=1``, where it is a failure.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from spanscope.analyzer.render.html import html_report
from spanscope.analyzer.schema import SPAN_SCHEMA

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "analyzer"))
from report_traffic import XSS, shop_spans
from test_render_http_nplusone import two_level_spans

pytestmark = pytest.mark.e2e

REQUIRE_SERVICES = "SPANSCOPE_REQUIRE_SERVICES"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
)
#: The documented bound on a report's size (see spanscope.analyzer.render.html.document).
MAX_REPORT_BYTES = 2_000_000
#: What "opens in a few seconds" means for the 100 k-request report on 2 cores.
LARGE_REPORT_OPEN_S = 5.0
VIEWPORT = {"width": 1280, "height": 900}
# Colours the charts fill with (see assets/report.js); their pixels prove drawing.
DB_BLUE = (0x4E, 0x79, 0xA7)
APP_TEAL = (0x76, 0xB7, 0xB2)
REQUEST_YELLOW = (0xED, 0xC9, 0x48)


def find_chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    message = "chromium is not installed (hint: apt-get install chromium)"
    if os.environ.get(REQUIRE_SERVICES, "") == "1":
        pytest.fail(f"{message}; {REQUIRE_SERVICES}=1 makes a missing browser a failure")
    pytest.skip(message)


class CdpError(RuntimeError):
    pass


class Browser:
    """One headless Chromium and one page, spoken to over the DevTools pipe."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The browser expects the pipe on fds 3 (commands) and 4 (replies).
        child_in, child_out = to_browser_r, from_browser_w

        def remap() -> None:
            low_in = os.dup(child_in)
            low_out = os.dup(child_out)
            os.dup2(low_in, 3)
            os.dup2(low_out, 4)

        self.process = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=remap,
            # Our pipe ends are close-on-exec; only the inheritable copies on fds 3
            # and 4 made by remap() reach the browser.
            close_fds=False,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._reply_ready = threading.Condition()
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.log: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._stderr = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr.start()
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride", deviceScaleFactor=1, mobile=False, **VIEWPORT
        )

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        for _ in self.process.stderr:  # chromium's own chatter (dbus, ...) is not the page's
            pass

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                if "id" in message:
                    with self._reply_ready:
                        self._replies[message["id"]] = message
                        self._reply_ready.notify_all()
                else:
                    self.log.append(message)
                    self.events.put(message)
                    if message.get("method") == "Page.javascriptDialogOpening":
                        # Dismiss at once: an open dialog would block the page.
                        self._post(
                            "Page.handleJavaScriptDialog", {"accept": False}, message["sessionId"]
                        )

    def _post(self, method: str, params: dict[str, Any], session: str | None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next_id

    def call(self, method: str, *, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        """A browser-level command (no page session)."""
        return self._wait(self._post(method, params, None), method, timeout)

    def send(self, method: str, *, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        """A command to the page."""
        return self._wait(self._post(method, params, self.session), method, timeout)

    def _wait(self, ident: int, method: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._reply_ready:
            while ident not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise CdpError(f"no reply to {method} within {timeout} s")
                self._reply_ready.wait(left)
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def wait_for(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError(f"no {method} event within {timeout} s")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event.get("method") == method:
                return event

    def open(self, path: Path) -> float:
        """Load ``path``; seconds until the load event and the report drawn."""
        while not self.events.empty():
            self.events.get_nowait()
        self.log.clear()
        started = time.monotonic()
        self.send("Page.navigate", url=path.as_uri())
        self.wait_for("Page.loadEventFired")
        self.wait_until("document.documentElement.dataset.rendered === 'true'")
        return time.monotonic() - started

    def evaluate(self, expression: str) -> Any:
        reply = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in reply:
            raise CdpError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait_until(self, expression: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise CdpError(f"{expression!r} never became true")
            time.sleep(0.05)

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the middle of ``selector``."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box[0],
                y=box[1],
                button="left",
                clickCount=1,
            )

    def screenshot(self) -> bytes:
        """The whole page as PNG."""
        metrics = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": metrics["height"], "scale": 1}
        data = self.send(
            "Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip
        )
        return base64.b64decode(data["data"])

    def problems(self, page: Path) -> dict[str, list[Any]]:
        """Console errors, uncaught exceptions, dialogs and requests other than ``page``."""
        found: dict[str, list[Any]] = {
            "console": [],
            "exceptions": [],
            "dialogs": [],
            "requests": [],
        }
        for event in self.log:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in (
                "error",
                "warning",
                "assert",
            ):
                found["console"].append(params)
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found["console"].append(params["entry"])
            elif method == "Runtime.exceptionThrown":
                found["exceptions"].append(params["exceptionDetails"])
            elif method == "Page.javascriptDialogOpening":
                found["dialogs"].append(params)
            elif (
                method == "Network.requestWillBeSent" and params["request"]["url"] != page.as_uri()
            ):
                found["requests"].append(params["request"]["url"])
        return found

    def close(self) -> None:
        with contextlib.suppress(CdpError):
            self.call("Browser.close", timeout=5)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


def pixel_colours(png: bytes) -> dict[tuple[int, int, int], int]:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    counts = image.getcolors(maxcolors=1 << 24) or []
    return {colour: count for count, colour in counts}


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    executable = find_chromium()
    session = Browser(executable, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="module")
def shop_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report of 3 000 requests over 40 minutes, with N+1s and a span named like markup."""
    path = tmp_path_factory.mktemp("report") / "shop.html"
    path.write_text(html_report(shop_spans(3_000, 40, seed=3), title="Shop").html, "utf-8")
    return path


@pytest.fixture(scope="module")
def large_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100 k requests (about a million spans) over two hours, 40 endpoints."""
    path = tmp_path_factory.mktemp("report") / "large.html"
    path.write_text(html_report(shop_spans(100_000, 120, seed=7)).html, "utf-8")
    return path


@pytest.fixture
def opened_shop_report(browser: Browser, shop_report: Path) -> tuple[Browser, Path]:
    browser.open(shop_report)
    return browser, shop_report


def test_report_loads_without_console_errors_exceptions_or_network_requests(
    opened_shop_report: tuple[Browser, Path],
) -> None:
    browser, page = opened_shop_report
    problems = browser.problems(page)
    assert problems == {"console": [], "exceptions": [], "dialogs": [], "requests": []}
    requested = [
        event["params"]["request"]["url"]
        for event in browser.log
        if event.get("method") == "Network.requestWillBeSent"
    ]
    assert requested == [page.as_uri()]


def test_span_name_with_markup_renders_as_text_and_runs_nothing(
    opened_shop_report: tuple[Browser, Path],
) -> None:
    browser, page = opened_shop_report
    cells = browser.evaluate(
        "[...document.querySelectorAll('#endpoint-table td.endpoint')].map(td => td.textContent)"
    )
    assert f"GET {XSS}/" in cells
    assert browser.evaluate("document.querySelectorAll('script').length") == 2
    names = browser.evaluate(
        "[...document.querySelectorAll('#n-plus-one .endpoint')].map(e => e.textContent)"
    )
    assert f"GET {XSS}/" in names
    assert browser.problems(page)["dialogs"] == []


def test_charts_draw_visible_pixels(
    opened_shop_report: tuple[Browser, Path], tmp_path: Path
) -> None:
    browser, _ = opened_shop_report
    assert browser.evaluate("document.querySelectorAll('#latency svg path').length") >= 3
    assert browser.evaluate("document.querySelectorAll('#breakdown-chart rect').length") >= 10
    assert browser.evaluate("document.querySelectorAll('#waterfall .wf-bar').length") > 1
    png = browser.screenshot()
    (tmp_path / "report.png").write_bytes(png)
    colours = pixel_colours(png)
    assert len(colours) > 200, "a blank or nearly blank page"
    for colour in (DB_BLUE, APP_TEAL, REQUEST_YELLOW):
        assert colours.get(colour, 0) > 100, f"no chart drawn in {colour}"


def test_clicking_a_column_header_sorts_the_endpoint_table(
    opened_shop_report: tuple[Browser, Path],
) -> None:
    browser, _ = opened_shop_report
    column = "[...document.querySelectorAll('#endpoint-table tbody tr')].map(r => Number(r.children[1].textContent.replace(/,/g, '')))"
    header = "#endpoint-table th[data-key='requests'] button"
    browser.click(header)
    descending = browser.evaluate(column)
    assert descending == sorted(descending, reverse=True)
    assert len(set(descending)) > 3
    browser.click(header)
    ascending = browser.evaluate(column)
    assert ascending == sorted(ascending)
    assert (
        browser.evaluate(
            "document.querySelector(\"#endpoint-table th[data-key='requests']\").getAttribute('aria-sort')"
        )
        == "ascending"
    )


def test_report_without_requests_loads_cleanly_and_says_so(
    browser: Browser, tmp_path: Path
) -> None:
    page = tmp_path / "empty.html"
    page.write_text(html_report(SPAN_SCHEMA.empty_table()).html, "utf-8")
    browser.open(page)
    assert browser.problems(page) == {
        "console": [],
        "exceptions": [],
        "dialogs": [],
        "requests": [],
    }
    assert "No requests" in browser.evaluate("document.getElementById('endpoints').textContent")


def test_report_of_100k_requests_stays_under_the_documented_size(large_report: Path) -> None:
    # Runs without a browser too: the bound is the renderer's, not Chromium's.
    assert large_report.stat().st_size < MAX_REPORT_BYTES


def test_report_of_100k_requests_opens_within_seconds(browser: Browser, large_report: Path) -> None:
    seconds = browser.open(large_report)
    assert browser.problems(large_report) == {
        "console": [],
        "exceptions": [],
        "dialogs": [],
        "requests": [],
    }
    assert browser.evaluate("document.querySelectorAll('#endpoint-table tbody tr').length") == 40
    assert seconds < LARGE_REPORT_OPEN_S


def test_backend_call_findings_render_at_both_levels(browser: Browser, tmp_path: Path) -> None:
    page = tmp_path / "calls.html"
    page.write_text(html_report(two_level_spans().table(), title="Calls").html, "utf-8")
    browser.open(page)
    assert browser.problems(page)["exceptions"] == []
    repeated = browser.evaluate(
        "[...document.querySelectorAll('#n-plus-one-http pre')].map(e => e.textContent)"
    )
    assert sorted(repeated) == ["GET /orders/{id}", "GET /users/{id}"]
    facts = browser.evaluate("document.querySelector('#n-plus-one-http').textContent")
    assert "Spread over" in facts and "Runs under" in facts
