"""Flush buffered spans when the process is told to stop.

Normal exit and Ctrl-C (``KeyboardInterrupt`` unwinds to a normal exit) are
covered by the SDK's own ``atexit`` hook on the TracerProvider.  SIGTERM is not:
its default action kills the process without running ``atexit``, and it is what
process managers, containers and test harnesses send.  :func:`install_sigterm_flush`
installs a handler that flushes and then behaves exactly as before:

- a previous Python handler (gunicorn's arbiter and workers, uvicorn, the app's
  own) is called after the flush; we only flush, not shut down, because such a
  handler may keep serving in-flight requests, and their spans are written by
  ``atexit`` later;
- a previous ``SIG_DFL`` means the process is about to die without ``atexit``:
  we shut the provider down (flush and close the exporters), restore
  ``SIG_DFL`` and re-send the signal, so the exit status stays "killed by
  SIGTERM";
- a previous ``SIG_IGN`` is honoured: flush and carry on.

Servers that install their own SIGTERM handler *after* us replace ours; they
exit through ``sys.exit``, which runs ``atexit`` and so flushes too.

The flush runs on a helper thread with a deadline: a signal handler runs on the
main thread between two bytecodes, possibly while that thread holds a lock the
span processor needs, and waiting on it there would deadlock.  When the
deadline passes before the process dies, the exporters' drop summaries
(:func:`spanscope.instrument.otlp_drops.report_before_exit`) are logged anyway,
with the spans still unsent counted as such.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Protocol

from spanscope.instrument.otlp_drops import report_before_exit

_logger = logging.getLogger(__name__)

# Long enough to write a few thousand buffered spans, short enough that a
# process manager's own kill timeout (commonly 10 s or more) is not reached.
DEFAULT_FLUSH_TIMEOUT_S = 5.0

_installed_lock = threading.Lock()
_installed: set[int] = set()


class _Flushable(Protocol):
    def force_flush(self, timeout_millis: int = ...) -> bool: ...

    def shutdown(self) -> None: ...


Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


def _run_with_deadline(action: Callable[[], object], timeout_s: float) -> None:
    thread = threading.Thread(target=action, name="spanscope-flush", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        _logger.warning(
            "spanscope: flushing spans took longer than %.1f s; some may be lost", timeout_s
        )


def _make_handler(
    provider: _Flushable, previous: Handler, timeout_s: float
) -> Callable[[int, FrameType | None], None]:
    timeout_ms = int(timeout_s * 1000)

    def handler(signum: int, frame: FrameType | None) -> None:
        if previous is signal.SIG_DFL or previous is None:
            # Dying without atexit: close the exporters now, then die as SIGTERM would have.
            _run_with_deadline(provider.shutdown, timeout_s)
            # A no-op for summaries the shutdown already logged.
            report_before_exit()
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        _run_with_deadline(lambda: provider.force_flush(timeout_ms), timeout_s)
        if callable(previous):
            previous(signum, frame)
        # SIG_IGN: the application chose to ignore the signal; so do we.

    return handler


def install_sigterm_flush(provider: _Flushable, timeout_s: float = DEFAULT_FLUSH_TIMEOUT_S) -> bool:
    """Make SIGTERM flush ``provider`` first, then do what it did before.  Never raises.

    Returns False when the handler cannot be installed (not on the main thread,
    a platform without SIGTERM) or is already installed for this provider.
    """
    try:
        with _installed_lock:
            if id(provider) in _installed:
                return False
            if threading.current_thread() is not threading.main_thread():
                _logger.debug("spanscope: not on the main thread, SIGTERM flush not installed")
                return False
            previous = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, _make_handler(provider, previous, timeout_s))
            _installed.add(id(provider))
            return True
    except (ValueError, OSError, AttributeError):
        _logger.debug("spanscope: cannot install a SIGTERM handler", exc_info=True)
        return False
