"""The Typer CLI: help, precedence through the real entry point, error lines and exit codes.

``run_chat``, ``logs``, ``list_devices`` and the simulator's ``serve`` are replaced by small
fakes here: these are unit tests of the CLI layer, not of the parts it calls.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import voicelive.audio.device_choice
import voicelive.audio.portaudio
import voicelive.chat
import voicelive.logs
import voicelive.simulator
from voicelive import __version__
from voicelive.audio.device_choice import DeviceInfo
from voicelive.cli import app
from voicelive.config.options import OPTIONS
from voicelive.config.settings import AgentSettings, LogSettings, Settings
from voicelive.errors import AudioDeviceError, AuthError

ENDPOINT = "https://res.services.ai.azure.com"
SECRET = "sk-VERY-SECRET-0123456789abcdef"


class Calls:
    """What the fakes saw."""

    def __init__(self) -> None:
        self.settings: list[Settings] = []
        self.configured: list[LogSettings] = []
        self.shutdowns = 0
        self.exit_code = 0
        self.raises: BaseException | None = None


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Calls]:
    """A clean environment, an empty working directory, and fake run_chat/logs."""
    for spec in OPTIONS:
        for name in spec.envvars:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("VOICELIVE_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))  # not the user's file
    monkeypatch.chdir(tmp_path)
    record = Calls()

    async def fake_run_chat(settings: Settings) -> int:
        record.settings.append(settings)
        if record.raises is not None:
            raise record.raises
        return record.exit_code

    def fake_configure(settings: LogSettings) -> None:
        record.configured.append(settings)

    def fake_shutdown() -> None:
        record.shutdowns += 1

    monkeypatch.setattr(voicelive.chat, "run_chat", fake_run_chat)
    monkeypatch.setattr(voicelive.logs, "configure", fake_configure)
    monkeypatch.setattr(voicelive.logs, "shutdown", fake_shutdown)
    yield record


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def assert_one_error_line(result: Result, exit_code: int, *fragments: str) -> str:
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# --- help and version --------------------------------------------------------------------------


def test_root_help_lists_the_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("chat", "devices", "simulate"):
        assert command in result.stdout


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"voicelive {__version__}"


def test_chat_help_shows_every_flag_with_its_variables_and_default() -> None:
    result = invoke("chat", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())  # undo line wrapping
    for spec in OPTIONS:
        assert spec.flag in text, spec.flag
        if spec.negative:
            assert spec.negative in text, spec.negative
        assert f"[env var: {', '.join(spec.envvars)}]" in text, spec.envvars
        assert f"[default: {spec.default}]" in text, spec.default


def test_chat_help_lists_the_reconnection_and_statistics_options() -> None:
    text = " ".join(invoke("chat", "--help").stdout.split())
    for fragment in (
        "--reconnect / --no-reconnect",
        "[env var: VOICELIVE_RECONNECT] [default: on]",
        "--reconnect-attempts N",
        "1 to 100",
        "--replay-turns N",
        "(0: no replay)",
        "--replay-chars N",
        "--stats-json FILE",
        "[env var: VOICELIVE_STATS_JSON] [default: (none)]",
    ):
        assert fragment in text, fragment


def test_chat_command_declares_exactly_the_option_table() -> None:
    import typer.main

    command = typer.main.get_command(app)
    chat = command.commands["chat"]  # type: ignore[attr-defined]
    declared = {param.name for param in chat.params} - {"help"}
    assert declared == {spec.dest for spec in OPTIONS}


HEAVY = ("websockets", "numpy", "sounddevice", "soxr", "azure", "voicelive.simulator.server")
# pydantic: Typer 0.29 converts values (and an unset --help) through it, 0.2 s (pinned to 0.28)
HELP_HEAVY = (*HEAVY, "pydantic", "asyncio", "dotenv")

LOADED_AFTER = """
import sys
from voicelive.cli import main
try:
    main()
except SystemExit as exit:
    print("exit", exit.code, file=sys.stderr)
print("\\n".join(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_by(*args: str) -> tuple[str, list[str]]:
    """Run ``voicelive <args>`` in a fresh interpreter; its stdout and the modules it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", LOADED_AFTER, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = result.stderr.splitlines()
    assert "exit 0" in lines, result.stderr
    return result.stdout, lines[lines.index("exit 0") + 1 :]


@pytest.mark.parametrize("args", [["--help"], ["chat", "--help"], ["--version"]])
def test_help_loads_nothing_heavy(args: list[str]) -> None:
    stdout, modules = loaded_by(*args)
    assert stdout.strip(), "no help printed"
    heavy = [m for m in modules if any(m == h or m.startswith(h + ".") for h in HELP_HEAVY)]
    assert heavy == []
    assert "voicelive.config.options" in modules or args == ["--version"]


def test_the_chat_path_imports_azure_identity_only_for_entra_id() -> None:
    """Everything ``voicelive chat`` imports, and an API key's headers, without azure.*."""
    script = (
        "import asyncio, sys\n"
        "import voicelive.chat, voicelive.auth, voicelive.connection.client\n"
        "from voicelive.config.settings import Secret\n"
        "h = asyncio.run(voicelive.auth.ApiKeyAuth(Secret('k')).headers())\n"
        "assert h, h\n"
        "print([m for m in sys.modules if m == 'azure' or m.startswith('azure.')])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "voicelive", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"voicelive {__version__}"


# --- chat: precedence and the call into run_chat -----------------------------------------------


def test_chat_resolves_flag_over_env_over_dotenv_over_default(calls: Calls, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"AZURE_VOICELIVE_ENDPOINT={ENDPOINT}\n"
        "VOICELIVE_MODEL=from-dotenv\n"
        "VOICELIVE_VOICE=from-dotenv-Neural\n"
        "VOICELIVE_PREBUFFER_MS=120\n"
        "VOICELIVE_INSTRUCTIONS=from dotenv\n"
    )
    env = {"VOICELIVE_VOICE": "en-US-EnvNeural", "VOICELIVE_PREBUFFER_MS": "60"}
    result = invoke("chat", "--prebuffer-ms", "30", env=env)
    assert result.exit_code == 0, result.output
    (settings,) = calls.settings
    assert settings.connection.endpoint == ENDPOINT  # .env
    assert settings.connection.model == "from-dotenv"  # .env
    assert settings.session.voice == "en-US-EnvNeural"  # env beats .env
    assert settings.audio.prebuffer_ms == 30  # flag beats env and .env
    assert settings.session.instructions == "from dotenv"
    assert settings.session.turn_detection.vad_type == "server_vad"  # default


def test_chat_passes_the_reconnection_replay_and_statistics_options(
    calls: Calls, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("VOICELIVE_REPLAY_CHARS=123\nVOICELIVE_RECONNECT_ATTEMPTS=9\n")
    env = {"VOICELIVE_RECONNECT_ATTEMPTS": "4", "VOICELIVE_STATS_JSON": "stats.json"}
    args = ["chat", "--simulate", "--no-reconnect", "--replay-turns", "0"]
    result = invoke(*args, env=env)
    assert result.exit_code == 0, result.output
    (settings,) = calls.settings
    assert settings.connection.reconnect is False  # flag
    assert settings.connection.reconnect_attempts == 4  # environment beats .env
    assert (settings.replay.turns, settings.replay.chars) == (0, 123)  # flag; .env
    assert settings.stats_json == Path("stats.json")


def test_chat_configures_logging_and_shuts_it_down(calls: Calls) -> None:
    result = invoke("chat", "--simulate", "--log-file", "none", "--log-level", "info")
    assert result.exit_code == 0, result.output
    assert calls.configured == [LogSettings(log_file=None, log_level="INFO", debug=False)]
    assert calls.shutdowns == 1
    assert calls.settings[0].simulate is True
    assert calls.settings[0].connection.endpoint == "simulator"


@pytest.mark.parametrize("code", [0, 130, 143])
def test_chat_exit_code_is_run_chats_return_value(calls: Calls, code: int) -> None:
    calls.exit_code = code
    assert invoke("chat", "--simulate").exit_code == code


def test_voicelive_error_becomes_one_line_and_its_exit_code(calls: Calls) -> None:
    calls.raises = AuthError("The service refused the API key (401): check --api-key.")
    result = invoke("chat", "--endpoint", ENDPOINT, "--api-key", SECRET)
    assert_one_error_line(result, 3, "refused the API key (401)")
    assert calls.shutdowns == 1
    assert SECRET not in result.output


def test_debug_adds_the_traceback(calls: Calls) -> None:
    calls.raises = AuthError("The service refused the credential (403).")
    result = invoke("chat", "--endpoint", ENDPOINT, "--debug")
    assert result.exit_code == 3
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: The service refused the credential (403)."
    )


def test_keyboard_interrupt_exits_130_quietly(calls: Calls) -> None:
    calls.raises = KeyboardInterrupt()
    result = invoke("chat", "--simulate")
    assert result.exit_code == 130
    assert "Traceback" not in result.output
    assert calls.shutdowns == 1


def test_unexpected_exception_is_one_line_without_its_message(calls: Calls) -> None:
    calls.raises = RuntimeError(f"boom {SECRET}")
    result = invoke("chat", "--endpoint", ENDPOINT, "--api-key", SECRET)
    line = assert_one_error_line(result, 1, "internal error (RuntimeError)", "--debug")
    assert SECRET not in line
    assert calls.shutdowns == 1


def test_unopenable_log_file_is_a_config_error(
    calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(settings: LogSettings) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(voicelive.logs, "configure", refuse)
    result = invoke("chat", "--simulate", "--log-file", "x.log")
    assert_one_error_line(result, 2, "--log-file", "Permission denied")
    assert calls.settings == []


# --- chat: validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "fragments"),
    [
        (["--vad-threshold", "1.5"], {}, ["--vad-threshold", "VOICELIVE_VAD_THRESHOLD", "'1.5'"]),
        (
            [],
            {"VOICELIVE_PREBUFFER_MS": "-1"},
            ["--prebuffer-ms", "VOICELIVE_PREBUFFER_MS", "0 to"],
        ),
        (["--api-version", "2099-01-01"], {}, ["--api-version", "2026-07-15"]),
        (["--vad-eagerness", "low"], {}, ["--vad-eagerness", "semantic_vad"]),
        (["--eou-model", "semantic_detection_v1", "--eou-threshold", "0.2"], {}, ["low, medium"]),
        (["--modalities", "audio"], {}, ["--modalities", "text,audio or text"]),
        (["--voice", "Zeus"], {}, ["--voice", "--voice-type"]),
        (
            ["--echo-cancellation"],
            {"VOICELIVE_VAD": "none", "VOICELIVE_INTERRUPT": "1"},
            ["--interrupt"],
        ),
        (["--log-level", "chatty"], {}, ["--log-level", "DEBUG, INFO"]),
        (
            ["--reconnect-attempts=0"],
            {},
            ["--reconnect-attempts (VOICELIVE_RECONNECT_ATTEMPTS)", "1 to 100", "'0'"],
        ),
        (
            [],
            {"VOICELIVE_REPLAY_CHARS": "-5"},
            ["--replay-chars (VOICELIVE_REPLAY_CHARS)", "'-5' in the environment"],
        ),
        ([], {"VOICELIVE_RECONNECT": "sometimes"}, ["--reconnect", "'sometimes'", "true or"]),
        (["--vad", "loud"], {}, ["--vad (VOICELIVE_VAD)", "'loud' on the command line"]),
    ],
)
def test_validation_errors_exit_2_with_one_line(
    calls: Calls, args: list[str], env: dict[str, str], fragments: list[str]
) -> None:
    result = invoke("chat", "--endpoint", ENDPOINT, *args, env=env)
    assert_one_error_line(result, 2, *fragments)
    assert calls.settings == []  # refused before connecting
    assert calls.configured == []


def test_bad_value_in_dotenv_is_reported_as_coming_from_dotenv(
    calls: Calls, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("VOICELIVE_SILENCE_DURATION_MS=lots\n")
    result = invoke("chat", "--simulate")
    assert_one_error_line(result, 2, "--silence-duration-ms", "'lots'", "in .env")


def test_quickstart_variable_name_is_named_when_it_supplied_the_bad_value(
    calls: Calls, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("AZURE_VOICE_LIVE_API_VERSION=2020-01-01\n")
    result = invoke("chat", "--simulate")
    assert_one_error_line(result, 2, "--api-version (AZURE_VOICE_LIVE_API_VERSION)", "in .env")


def test_unreadable_dotenv_is_one_line(calls: Calls, tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"VOICELIVE_VOICE=\xff\xfe\n")
    result = invoke("chat", "--simulate")
    assert_one_error_line(result, 2, ".env", "UnicodeDecodeError")


def test_missing_endpoint_tells_how_to_configure(calls: Calls) -> None:
    result = invoke("chat")
    assert_one_error_line(
        result, 2, "AZURE_VOICELIVE_ENDPOINT", "AZURE_VOICELIVE_API_KEY", "az login", "--simulate"
    )


def test_clear_text_endpoint_refused_unless_loopback(calls: Calls) -> None:
    refused = invoke("chat", "--endpoint", "ws://voice.example.com:8080", "--api-key", SECRET)
    assert_one_error_line(refused, 2, "--endpoint", "loopback", "never sent in clear")
    assert SECRET not in refused.output
    accepted = invoke("chat", "--endpoint", "ws://127.0.0.1:8765")
    assert accepted.exit_code == 0, accepted.output
    assert calls.settings[0].connection.endpoint == "ws://127.0.0.1:8765"


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--endpoint", ENDPOINT, "--vad-threshold", "7"],
        ["--endpoint", "ws://example.com"],
        ["--endpoint", f"https://u:{SECRET}@res.example.com/?api-key={SECRET}"],
        ["--endpoint", ENDPOINT, "--voice", "Zeus"],
        ["--endpoint", ENDPOINT, "--debug", "--vad", "robot"],
        [],  # missing endpoint
    ],
)
def test_api_key_never_appears_in_output(calls: Calls, args: list[str]) -> None:
    result = invoke("chat", "--api-key", SECRET, *args)
    assert result.exit_code in (0, 2)
    assert SECRET not in result.output
    assert result.exception is None or SECRET not in str(result.exception)


def test_malformed_api_key_is_refused_without_quoting_it(calls: Calls) -> None:
    result = invoke("chat", "--endpoint", ENDPOINT, "--api-key", SECRET + " tail")
    assert_one_error_line(result, 2, "--api-key", "hidden")
    assert SECRET not in result.output


def test_api_key_from_environment_reaches_settings_but_not_repr(calls: Calls) -> None:
    result = invoke("chat", "--endpoint", ENDPOINT, env={"AZURE_VOICE_LIVE_API_KEY": SECRET})
    assert result.exit_code == 0
    (settings,) = calls.settings
    assert settings.connection.api_key == SECRET
    assert SECRET not in repr(settings)


# --- devices -----------------------------------------------------------------------------------


def device(index: int, name: str, inputs: int, outputs: int, **flags: bool) -> DeviceInfo:
    return DeviceInfo(
        index=index,
        name=name,
        hostapi="ALSA",
        max_input_channels=inputs,
        max_output_channels=outputs,
        default_samplerate=48000.0,
        is_default_input=flags.get("din", False),
        is_default_output=flags.get("dout", False),
    )


def test_devices_lists_inputs_and_outputs_marking_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listing = [
        device(0, "Built-in Mic", 2, 0, din=True),
        device(1, "HDMI Out", 0, 8),
        device(2, "pulse", 32, 32, dout=True),
    ]
    monkeypatch.setattr(voicelive.audio.device_choice, "list_devices", lambda: listing)
    result = invoke("devices")
    assert result.exit_code == 0, result.output
    inputs, outputs = result.stdout.split("Output devices:")
    assert "Input devices:" in inputs
    assert "Built-in Mic" in inputs and "pulse" in inputs and "HDMI Out" not in inputs
    assert "HDMI Out" in outputs and "pulse" in outputs and "Built-in Mic" not in outputs
    marked = [line for line in result.stdout.splitlines() if line.lstrip().startswith("*   ")]
    assert any("Built-in Mic" in line for line in marked)
    assert any("pulse" in line for line in marked)
    assert not any("HDMI Out" in line for line in marked)
    assert "48000" in result.stdout


def test_devices_error_is_one_line_with_the_audio_exit_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> list[DeviceInfo]:
        raise AudioDeviceError("PortAudio is not installed: install libportaudio2.")

    monkeypatch.setattr(voicelive.audio.device_choice, "list_devices", broken)
    assert_one_error_line(invoke("devices"), 8, "libportaudio2")


# --- simulate ----------------------------------------------------------------------------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, Any]]:
    seen: list[tuple[str, int, Any]] = []

    async def fake_serve(host: str, port: int, options: Any) -> None:
        seen.append((host, port, options))

    monkeypatch.setattr(voicelive.simulator, "serve", fake_serve, raising=False)
    return seen


def test_simulate_passes_its_options_to_serve(
    served: list[tuple[str, int, Any]], tmp_path: Path
) -> None:
    record = tmp_path / "rec.jsonl"
    args = ["simulate", "--port", "9001", "--key", "k1", "--record", str(record)]
    result = invoke(*args, "--speedup", "2", "--fault", "benign-error", "--fault-after", "0.5")
    assert result.exit_code == 0, result.output
    ((host, port, options),) = served
    assert (host, port) == ("127.0.0.1", 9001)
    assert options.api_key == "k1"
    assert options.record_path == record
    assert (options.speedup, options.fault, options.fault_after_s) == (2.0, "benign-error", 0.5)
    assert "ws://127.0.0.1:9001" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--host", "0.0.0.0"], "--host must be a loopback address"),
        (["--fault", "meteor"], "--fault must be one of"),
        (["--speedup", "0"], "--speedup"),
    ],
)
def test_simulate_refuses_bad_options(
    served: list[tuple[str, int, Any]], args: list[str], fragment: str
) -> None:
    assert_one_error_line(invoke("simulate", *args), 2, fragment)
    assert served == []


def test_simulate_port_in_use_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    async def busy(host: str, port: int, options: Any) -> None:
        raise OSError(98, "Address already in use")

    monkeypatch.setattr(voicelive.simulator, "serve", busy, raising=False)
    assert_one_error_line(invoke("simulate"), 1, "127.0.0.1:8765", "Address already in use")


# --- greeting, recording, transcript, echo reference, Foundry agent ----------------------------


def test_chat_passes_the_greeting_recording_echo_reference_and_agent_options(
    calls: Calls, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        f"AZURE_VOICELIVE_ENDPOINT={ENDPOINT}\nVOICELIVE_AGENT_PROJECT=contoso\n"
        "VOICELIVE_TRANSCRIPT=talk.jsonl\n"
    )
    args = ["chat", "--greet", "--greet-instructions", "Welcome the user."]
    args += ["--record", "talk.wav", "--echo-reference", "--agent", "planner"]
    result = invoke(*args, env={"VOICELIVE_CONVERSATION_ID": "conv_9"})
    assert result.exit_code == 0, result.output
    (settings,) = calls.settings
    assert (settings.greet, settings.greet_instructions) == (True, "Welcome the user.")
    assert (settings.record, settings.transcript) == (Path("talk.wav"), Path("talk.jsonl"))
    assert settings.session.echo_reference is True
    assert settings.connection.features == ("client_ec_reference:true",)
    assert settings.connection.agent == AgentSettings("planner", "contoso", None, "conv_9")


def test_chat_help_shows_the_new_options() -> None:
    text = " ".join(invoke("chat", "--help").stdout.split())
    for fragment in (
        "--greet / --no-greet",
        "[env var: VOICELIVE_GREET] [default: off]",
        "--greet-instructions TEXT",
        "--record FILE.wav",
        "--transcript FILE",
        "--echo-reference / --no-echo-reference",
        "--agent NAME",
        "--agent-project NAME",
        "--agent-version VERSION",
        "--conversation-id ID",
    ):
        assert fragment in text, fragment


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--agent", "planner"], ["--agent (VOICELIVE_AGENT)", "--agent-project"]),
        (["--conversation-id", "c1"], ["--conversation-id (VOICELIVE_CONVERSATION_ID)", "--agent"]),
        (
            ["--agent", "planner", "--agent-project", "p", "--api-key", SECRET],
            ["--api-key (AZURE_VOICELIVE_API_KEY)", "--agent", "`az login` (Entra ID)"],
        ),
        (
            ["--agent", "planner", "--agent-project", "p", "--instructions", "Be brief."],
            ["--instructions (VOICELIVE_INSTRUCTIONS)", "cannot be combined with --agent"],
        ),
        (
            ["--echo-reference", "--api-version", "2026-04-10"],
            ["--echo-reference (VOICELIVE_ECHO_REFERENCE)", "2026-06-01-preview or later"],
        ),
        (
            ["--echo-reference", "--no-echo-cancellation"],
            ["--echo-reference (VOICELIVE_ECHO_REFERENCE)", "--no-echo-cancellation"],
        ),
        (["--greet-instructions", "Hi"], ["--greet-instructions", "needs --greet"]),
        (["--record", "talk.ogg"], ["--record (VOICELIVE_RECORD)", ".wav", "'talk.ogg'"]),
        (["--transcript", "talk.txt"], ["--transcript (VOICELIVE_TRANSCRIPT)", ".md or .jsonl"]),
    ],
)
def test_new_option_refusals_are_one_line_exit_2(
    calls: Calls, args: list[str], fragments: list[str]
) -> None:
    result = invoke("chat", "--endpoint", ENDPOINT, *args)
    assert_one_error_line(result, 2, *fragments)
    assert SECRET not in result.output
    assert calls.settings == []


def test_an_early_end_waits_for_portaudios_start_up_before_stderr_is_restored(
    calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PortAudio's start-up moves fd 2 while the stderr capture is on: the chat must not undo
    the capture under it, even when it ends before it opened a device."""
    joined: list[float | None] = []

    class WarmUp:
        def join(self, timeout: float | None = None) -> None:
            joined.append(timeout)

    monkeypatch.setattr(voicelive.audio.portaudio, "warm_up_portaudio", WarmUp)
    calls.raises = AuthError("The service refused the API key (401): check --api-key.")
    assert invoke("chat", "--endpoint", ENDPOINT, "--api-key", SECRET).exit_code == 3
    assert len(joined) == 1 and joined[0] is not None
