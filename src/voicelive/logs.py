"""Logging setup: one file log, with secrets and audio payloads redacted before they are written.

``websockets`` logs every handshake header at DEBUG (``> api-key: …``) and every frame; the
Microsoft quickstart leaked its API key that way. :class:`RedactingFilter` sits on our handler,
so it sees every record from every library, and rewrites the message before formatting:
credential header values, ``Bearer`` tokens and ``api-key=`` query values become ``<redacted>``,
and long base64 runs (audio) become ``<N base64 chars>``. TEXT/BINARY frame dumps from
websockets are dropped: our own event log (connection.py) records each event with its ids.

The log file is private because, even redacted, it holds the conversation: on POSIX it is
created with mode 0600 and an existing file is set back to 0600 (:mod:`voicelive.private_files`); on
Windows a mode means nothing beyond read-only, and privacy comes from where the file is: a file
under the user's profile (the default ``voicelive.log`` in a folder of one's own, or
``%LOCALAPPDATA%``) inherits an ACL that gives access to that user, SYSTEM and Administrators
only. A log file put in a shared folder on Windows is as readable as that folder.

Without a log file (``--log-file none``) nothing below WARNING is even built: the root logger
is set to WARNING, so debug records (and the per-event summaries guarded by ``isEnabledFor``)
cost nothing; warnings still reach stderr through Python's last-resort handler, as before.

Platform differences are chosen here, once: :data:`CAPTURES_NATIVE_STDERR`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from voicelive.config.settings import LogSettings
from voicelive.private_files import open_append_text

_HEADER_ARG_NAMES: Final = frozenset({"api-key", "authorization", "ocp-apim-subscription-key"})
_PATTERNS: Final = (
    # "api-key: value" / "Authorization: Bearer value" in any free text
    (
        re.compile(
            r"(?i)\b(api-key|authorization|ocp-apim-subscription-key)(\s*[:=]\s*)"
            r"(?:bearer\s+)?[^\s,;&'\"]+"
        ),
        r"\1\2<redacted>",
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"), "Bearer <redacted>"),
    (
        re.compile(r"(?i)([?&](?:api-key|authorization|agent-access-token)=)[^&\s'\"]+"),
        r"\1<redacted>",
    ),
)
_BASE64_RUN: Final = re.compile(r"[A-Za-z0-9+/]{64,}={0,2}")
_FRAME_DUMP: Final = re.compile(r"^[<>] (TEXT|BINARY|CONT) ")

_handler: logging.Handler | None = None

CAPTURES_NATIVE_STDERR: Final = sys.platform != "win32"
"""Whether :func:`native_stderr_to_log` redirects file descriptor 2 (POSIX only).

On Windows PortAudio's host APIs (WASAPI, MME, DirectSound) do not print to stderr, and a
DLL may use its own C runtime whose descriptor 2 a ``dup2`` in ours would not reach; there the
context manager does nothing."""

_NO_FILE_LEVEL: Final = logging.WARNING
"""The root level when there is no log file: warnings still show (stderr), nothing less."""

_CHATTY: Final = ("azure", "asyncio")
"""azure-identity and asyncio are chatty at DEBUG and say nothing the user needs."""


def redact(text: str) -> str:
    """Return ``text`` with credentials and long base64 payloads replaced. Pure; any thread."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _BASE64_RUN.sub(lambda m: f"<{len(m.group(0))} base64 chars>", text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with :func:`redact`; drops websockets frame dumps."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) == 2
            and isinstance(args[0], str)
            and args[0].lower() in _HEADER_ARG_NAMES
        ):
            # websockets: logger.debug("> %s: %s", name, value) for each handshake header
            record.args = (args[0], "<redacted>")
        message = record.getMessage()
        if record.name.startswith("websockets") and _FRAME_DUMP.match(message):
            return False
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
        return True


def configure(settings: LogSettings) -> None:
    """Send all logging (ours and libraries') to ``settings.log_file`` at ``settings.log_level``.

    Creates the file private to the user (see the module docstring), appending if it exists.
    ``log_file=None`` disables file logging and raises the root level to at least WARNING, so
    DEBUG/INFO records are dropped before they are built. Idempotent: a second call replaces
    the first handler. Call from the main thread before the event loop starts. Raises OSError
    when the file cannot be opened.
    """
    shutdown()
    root = logging.getLogger()
    level = getattr(logging, settings.log_level.upper(), logging.DEBUG)
    if settings.log_file is None:
        root.setLevel(max(level, _NO_FILE_LEVEL))
        for name in _CHATTY:
            logging.getLogger(name).setLevel(logging.NOTSET)
        return
    global _handler
    stream = open_append_text(Path(settings.log_file))
    root.setLevel(level)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s.%(msecs)03d %(levelname)-5s %(name)s: %(message)s", "%H:%M:%S"
        )
    )
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    _handler = handler
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(level, logging.INFO))


def shutdown() -> None:
    """Flush and close the file handler, if any. Safe to call more than once, from any exit path."""
    global _handler
    if _handler is None:
        return
    logging.getLogger().removeHandler(_handler)
    _handler.flush()
    _handler.close()
    stream = getattr(_handler, "stream", None)
    if stream is not None:
        stream.close()
    _handler = None


def native_stderr_to_log(
    logger_name: str = "voicelive.native",
) -> contextlib.AbstractContextManager[None]:
    """Route what C libraries write to file descriptor 2 into the log, for the duration.

    PortAudio's ALSA host API prints diagnostics straight to fd 2 (``Expression '…' failed in
    'src/hostapi/alsa/pa_linux_alsa.c'``) when a device goes away, which would scribble over
    the transcript and bury voicelive's own one-line error. Inside this context fd 2 is a pipe
    drained by a thread into the log (redacted like everything else), while ``sys.stderr``
    keeps writing to the real terminal through a duplicate of the original descriptor. Both
    are restored on exit, before the CLI prints anything. Main thread only.

    Where :data:`CAPTURES_NATIVE_STDERR` is false (Windows) this does nothing: fd 2 and
    ``sys.stderr`` are left as they are.
    """
    if not CAPTURES_NATIVE_STDERR:
        return contextlib.nullcontext()
    return _capture_fd2(logger_name)


@contextlib.contextmanager
def _capture_fd2(logger_name: str) -> Iterator[None]:
    """The POSIX body of :func:`native_stderr_to_log`."""
    sys.stderr.flush()
    saved = os.dup(2)
    python_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    native = logging.getLogger(logger_name)

    def drain() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                text = line.decode(errors="replace").rstrip()
                if text:
                    native.debug("%s", text)

    reader = threading.Thread(target=drain, name="native-stderr", daemon=True)
    reader.start()
    try:
        yield
    finally:
        os.dup2(saved, 2)  # closes the pipe's last write end: the reader sees EOF
        os.close(saved)
        reader.join(timeout=2)
        sys.stderr.close()
        sys.stderr = python_stderr
