"""``voicelive doctor``'s CLI layer and the runner's order: the exit code (0 with warnings, 9
with a failure), the --json document, the settings it takes from the same places as chat, and
checks skipped after a failed prerequisite. The checks themselves are replaced by fakes here;
tests/e2e/test_doctor_audio.py runs the real ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import voicelive.doctor.runner as runner
from voicelive.cli import app
from voicelive.config.options import OPTIONS
from voicelive.config.resolve import resolve_settings
from voicelive.config.settings import Settings
from voicelive.doctor import audio_checks, local_checks, network_checks
from voicelive.doctor.check import Check, fail, ok, warn
from voicelive.errors import EXIT_CODES

SECRET = "sk-VERY-SECRET-0123456789abcdef"


class Seen:
    settings: Settings | None = None
    connection_error: str | None = None
    spoken: bool | None = None
    results: list[Check]


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Seen]:
    for spec in OPTIONS:
        for name in spec.envvars:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("VOICELIVE_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))
    monkeypatch.chdir(tmp_path)
    record = Seen()
    record.results = [ok("python", "Python"), warn("echo", "heard", "use headphones")]

    async def fake_run(
        settings: Settings, hooks: runner.Hooks, connection_error: str | None = None
    ) -> list[Check]:
        record.settings, record.connection_error = settings, connection_error
        record.spoken = hooks.spoken
        for check in record.results:
            hooks.report(check)
        return record.results

    monkeypatch.setattr(runner, "run_doctor", fake_run)
    yield record


def test_warnings_alone_exit_0_and_the_text_shows_each_check(seen: Seen) -> None:
    result = CliRunner().invoke(app, ["doctor", "--endpoint", "https://r.example.com"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["ok", "python"]
    assert lines[1].split()[:2] == ["warn", "echo"]
    assert lines[2].strip() == "fix: use headphones"
    assert lines[-1] == "1 ok, 1 warn, 0 fail"
    assert seen.spoken is False  # no terminal here: the room is recorded, nobody is asked


def test_a_failure_exits_9_and_json_is_the_whole_stdout(seen: Seen) -> None:
    seen.results.append(fail("handshake", "refused", "check the key"))
    result = CliRunner().invoke(app, ["doctor", "--json", "--endpoint", "https://r.example.com"])
    assert result.exit_code == 9 == EXIT_CODES["doctor"]
    parsed = json.loads(result.stdout)
    assert [c["name"] for c in parsed] == ["python", "echo", "handshake"]
    assert parsed[2] == {
        "name": "handshake", "status": "fail", "detail": "refused", "fix": "check the key"
    }  # fmt: skip


def test_doctor_takes_the_settings_as_chat_does(seen: Seen, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"AZURE_VOICELIVE_API_KEY={SECRET}\n")
    result = CliRunner().invoke(
        app,
        ["doctor", "--endpoint", "https://r.example.com", "--input-device", "USB"],
        env={"VOICELIVE_DEVICE_RATE": "48000"},
    )
    assert result.exit_code == 0, result.output
    expected = resolve_settings(
        {"endpoint": "https://r.example.com", "input_device": "USB"},
        environ={"VOICELIVE_DEVICE_RATE": "48000"},
        dotenv_path=tmp_path / ".env",
    )
    assert seen.settings == expected
    assert SECRET not in result.output


def test_no_endpoint_still_runs_and_hands_the_reason_to_the_endpoint_check(seen: Seen) -> None:
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output  # the fake reported no failure
    assert seen.connection_error is not None
    assert "AZURE_VOICELIVE_ENDPOINT" in seen.connection_error
    assert seen.settings is not None and seen.settings.simulate  # the sound can be checked


def test_a_bad_audio_value_is_a_config_error_as_in_chat(seen: Seen) -> None:
    result = CliRunner().invoke(app, ["doctor", "--chunk-ms", "5"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "--chunk-ms" in result.stderr
    assert seen.settings is None


# --- the runner's order and prerequisites, with the checks faked -------------------------------


async def test_after_portaudio_fails_the_sound_is_not_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        local_checks, "check_portaudio", lambda: fail("portaudio", "missing", "install it")
    )

    def must_not_run(*args: object) -> Check:
        raise AssertionError("a device check ran without PortAudio")

    monkeypatch.setattr(audio_checks, "check_devices", must_not_run)
    heard: list[Check] = []
    settings = resolve_settings({"simulate": True}, environ={})

    async def dns_fails(url: str) -> Check:
        return fail("endpoint", "no DNS", "check it")

    monkeypatch.setattr(network_checks, "check_endpoint", dns_fails)
    checks = await runner.run_doctor(settings, runner.Hooks(heard.append))
    assert checks == heard
    assert [c.name for c in checks] == [
        "python", "packages", "portaudio", "devices", "microphone-level", "headset", "echo",
        "endpoint", "tls", "credential", "handshake",
    ]  # fmt: skip
    skipped = [c.name for c in checks if c.detail.startswith("not checked")]
    assert skipped == [
        "devices", "microphone-level", "headset", "echo", "tls", "credential", "handshake",
    ]  # fmt: skip
    assert all(c.status == "fail" for c in checks if c.name in skipped)


def test_a_missing_package_fails_the_packages_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    real = metadata.version

    def version(name: str) -> str:
        if name == "soxr":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "version", version)
    check = local_checks.check_packages()
    assert (check.status, check.detail) == ("fail", "missing: soxr")
    assert "reinstall" in check.fix
    monkeypatch.setattr(metadata, "version", real)
    assert local_checks.check_packages().status == "ok"
