"""SIGTERM flushes spans and then does whatever it did before."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from types import FrameType

import pytest
from spanscope.instrument.shutdown import install_sigterm_flush


class RecordingProvider:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.calls.append("force_flush")
        return True

    def shutdown(self) -> None:
        self.calls.append("shutdown")


@pytest.fixture
def restore_sigterm() -> Iterator[None]:
    original = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, original)


def deliver_sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.05)  # Python runs the handler on the main thread at the next bytecode


def test_the_applications_own_handler_still_runs_after_the_flush(restore_sigterm: None) -> None:
    order: list[str] = []
    provider = RecordingProvider()

    def app_handler(signum: int, frame: FrameType | None) -> None:
        order.append(f"app handler {signum}")

    signal.signal(signal.SIGTERM, app_handler)
    assert install_sigterm_flush(provider)
    deliver_sigterm()

    assert provider.calls == ["force_flush"]  # flush only: the app may keep serving
    assert order == [f"app handler {int(signal.SIGTERM)}"]


def test_an_ignored_sigterm_stays_ignored(restore_sigterm: None) -> None:
    provider = RecordingProvider()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    assert install_sigterm_flush(provider)

    deliver_sigterm()  # the test process survives

    assert provider.calls == ["force_flush"]


def test_installing_twice_for_one_provider_is_a_no_op(restore_sigterm: None) -> None:
    provider = RecordingProvider()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    assert install_sigterm_flush(provider)
    handler = signal.getsignal(signal.SIGTERM)
    assert not install_sigterm_flush(provider)
    assert signal.getsignal(signal.SIGTERM) is handler
