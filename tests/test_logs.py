"""Log redaction and file mode: secrets and audio never reach voicelive.log."""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from voicelive import logs
from voicelive.config.settings import LogSettings

SECRET = "sk-REAL-looking-key-1234567890abcdef"


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "voicelive.log"
    logs.configure(LogSettings(log_file=path, log_level="DEBUG"))
    yield path
    logs.shutdown()


def test_handshake_headers_as_websockets_logs_them_are_redacted(log_file: Path) -> None:
    ws = logging.getLogger("websockets.client")
    ws.debug("> GET %s HTTP/1.1", "/voice-live/realtime?api-version=2026-07-15&model=gpt-4o")
    ws.debug("> %s: %s", "api-key", SECRET)
    ws.debug("> %s: %s", "Authorization", f"Bearer {SECRET}")
    ws.debug("> %s: %s", "x-ms-client-request-id", "abc-123")
    logs.shutdown()
    text = log_file.read_text()
    assert SECRET not in text
    assert "api-key: <redacted>" in text and "Authorization: <redacted>" in text
    assert "x-ms-client-request-id: abc-123" in text  # not a secret, kept for support


def test_free_text_secrets_and_query_keys_are_redacted(log_file: Path) -> None:
    log = logging.getLogger("voicelive.test")
    log.info("retrying with api-key=%s and Bearer %s", SECRET, SECRET)
    log.info("url wss://h/voice-live/realtime?api-version=x&api-key=%s&model=m", SECRET)
    try:
        raise RuntimeError(f"boom Authorization: Bearer {SECRET}")
    except RuntimeError:
        log.exception("failed")
    logs.shutdown()
    text = log_file.read_text()
    assert SECRET not in text
    assert "&model=m" in text


def test_audio_payloads_and_frame_dumps_are_elided(log_file: Path) -> None:
    b64 = "QUJD" * 400
    logging.getLogger("voicelive.test").debug("payload %s", b64)
    logging.getLogger("websockets.client").debug(
        '< TEXT \'{"type":"response.audio.delta"...\' [9 bytes]'
    )
    logs.shutdown()
    text = log_file.read_text()
    assert b64 not in text and "<1600 base64 chars>" in text
    assert "< TEXT" not in text


def test_log_file_is_private(log_file: Path) -> None:
    logging.getLogger("voicelive.test").info("hello")
    logs.shutdown()
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600


def test_existing_world_readable_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "old.log"
    path.write_text("old\n")
    path.chmod(0o644)
    logs.configure(LogSettings(log_file=path))
    logs.shutdown()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_redact_is_idempotent() -> None:
    once = logs.redact(f"api-key: {SECRET}")
    assert logs.redact(once) == once and SECRET not in once


@pytest.fixture
def restore_root_level() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.level
    yield
    logs.shutdown()
    root.setLevel(saved)


@pytest.mark.usefixtures("restore_root_level")
def test_no_log_file_means_debug_records_are_not_even_built() -> None:
    built: list[str] = []

    class Probe:
        def __str__(self) -> str:
            built.append("formatted")
            return "probe"

    logs.configure(LogSettings(log_file=None, log_level="DEBUG"))
    log = logging.getLogger("voicelive.test")
    assert not log.isEnabledFor(logging.DEBUG)
    assert not log.isEnabledFor(logging.INFO)
    assert logging.getLogger().level >= logging.WARNING
    log.debug("%s", Probe())
    log.info("%s", Probe())
    assert built == []
    # warnings are still seen (Python's last-resort handler shows them on stderr)
    assert log.isEnabledFor(logging.WARNING)


@pytest.mark.usefixtures("restore_root_level")
def test_a_log_file_after_none_turns_debug_back_on(tmp_path: Path) -> None:
    logs.configure(LogSettings(log_file=None))
    path = tmp_path / "vl.log"
    logs.configure(LogSettings(log_file=path, log_level="DEBUG"))
    logging.getLogger("voicelive.test").debug("now recorded")
    logs.shutdown()
    assert "voicelive.test: now recorded" in path.read_text()


@pytest.mark.usefixtures("restore_root_level")
def test_an_existing_file_is_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "vl.log"
    path.write_text("earlier run\n")
    logs.configure(LogSettings(log_file=path))
    logging.getLogger("voicelive.test").info("this run")
    logs.shutdown()
    lines = path.read_text().splitlines()
    assert lines[0] == "earlier run" and lines[1].endswith("voicelive.test: this run")
