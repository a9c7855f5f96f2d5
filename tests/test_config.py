"""Resolution and validation of options: precedence, ranges, cross-option rules, secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from voicelive.config.layers import read_dotenv
from voicelive.config.options import (
    OPTIONS,
    SECTIONS,
    SPECS,
    OptionSpec,
    env_example,
    field_default,
    options_markdown,
    shown,
)
from voicelive.config.resolve import resolve_settings
from voicelive.config.rules import SIMULATOR_ENDPOINT, is_loopback
from voicelive.config.settings import (
    DEFAULT_API_VERSION,
    DEFAULT_MODEL,
    KNOWN_API_VERSIONS,
    AgentSettings,
    ReplaySettings,
    Settings,
)
from voicelive.errors import ConfigError

ENDPOINT = "https://res.services.ai.azure.com"
SECRET = "s3cr3t-KEY-0123456789abcdef"


def resolve(
    flags: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    dotenv: Path | None = None,
) -> Settings:
    base: dict[str, Any] = {"endpoint": ENDPOINT}
    base.update(flags or {})
    return resolve_settings(base, environ=env or {}, dotenv_path=dotenv)


def refused(flags: dict[str, Any], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        resolve(flags, env)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- defaults and precedence -------------------------------------------------------------------


def test_defaults_without_any_option() -> None:
    s = resolve()
    assert s.connection.endpoint == ENDPOINT
    assert s.connection.api_key is None
    assert s.connection.model == DEFAULT_MODEL
    assert s.connection.api_version == DEFAULT_API_VERSION
    assert s.session.transcription_model == "azure-speech"
    assert s.session.turn_detection.vad_type == "server_vad"
    assert s.session.noise_reduction == "azure_deep_noise_suppression"
    assert s.session.echo_cancellation is True
    assert s.audio.prebuffer_ms == 40
    assert s.log.log_file == Path("voicelive.log")
    assert s.log.log_level == "DEBUG"
    assert s.simulate is False
    assert (s.connection.reconnect, s.connection.reconnect_attempts) == (True, 8)
    assert s.replay == ReplaySettings(turns=20, chars=8000)
    assert s.stats_json is None


@pytest.mark.parametrize(
    ("flag", "env", "dotenv", "expected"),
    [
        ("flag-model", "env-model", "dotenv-model", "flag-model"),
        (None, "env-model", "dotenv-model", "env-model"),
        (None, None, "dotenv-model", "dotenv-model"),
        (None, None, None, DEFAULT_MODEL),
        (None, "  ", "dotenv-model", "dotenv-model"),  # blank counts as unset
    ],
)
def test_precedence_flag_env_dotenv_default(
    tmp_path: Path, flag: str | None, env: str | None, dotenv: str | None, expected: str
) -> None:
    path = tmp_path / ".env"
    path.write_text(f"VOICELIVE_MODEL={dotenv}\n" if dotenv else "")
    s = resolve({"model": flag}, {"VOICELIVE_MODEL": env} if env else {}, path)
    assert s.connection.model == expected


def test_quickstart_variable_names_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        'AZURE_VOICE_LIVE_ENDPOINT="https://quick.services.ai.azure.com"\n'
        f"AZURE_VOICE_LIVE_API_KEY={SECRET}\n"
        "VOICE_LIVE_MODEL=gpt-realtime\n"
        "AZURE_VOICE_LIVE_API_VERSION=2025-10-01\n"
    )
    s = resolve_settings({}, environ={}, dotenv_path=path)
    assert s.connection.endpoint == "https://quick.services.ai.azure.com"
    assert s.connection.api_key == SECRET
    assert s.connection.model == "gpt-realtime"
    assert s.connection.api_version == "2025-10-01"
    # gpt-realtime transcribes with an OpenAI model by default
    assert s.session.transcription_model == "whisper-1"


def test_preferred_variable_wins_over_quickstart_name() -> None:
    env = {"VOICELIVE_MODEL": "gpt-4.1", "VOICE_LIVE_MODEL": "gpt-5"}
    assert resolve(env=env).connection.model == "gpt-4.1"


def test_environment_beats_dotenv_even_for_another_name_of_the_same_option(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("AZURE_VOICELIVE_API_VERSION=2025-10-01\n")
    s = resolve_settings(
        {"endpoint": ENDPOINT},
        environ={"AZURE_VOICE_LIVE_API_VERSION": "2026-04-10"},
        dotenv_path=path,
    )
    assert s.connection.api_version == "2026-04-10"


def test_boolean_flag_false_overrides_environment_true() -> None:
    s = resolve({"echo_cancellation": False}, {"VOICELIVE_ECHO_CANCELLATION": "yes"})
    assert s.session.echo_cancellation is False
    assert resolve(env={"VOICELIVE_ECHO_CANCELLATION": "off"}).session.echo_cancellation is False


def test_dotenv_is_read_literally_and_not_copied_into_the_environment(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("VOICELIVE_INSTRUCTIONS=cost is ${HOME}\nEMPTY=\nBARE\n")
    env: dict[str, str] = {}
    s = resolve(env=env, dotenv=path)
    assert s.session.instructions == "cost is ${HOME}"
    assert env == {}
    assert read_dotenv(path) == {"VOICELIVE_INSTRUCTIONS": "cost is ${HOME}", "EMPTY": ""}
    assert read_dotenv(tmp_path / "missing.env") == {}


def test_every_option_resolves_from_its_variable(tmp_path: Path) -> None:
    wav = tmp_path / "in.wav"
    wav.write_bytes(b"RIFF")
    env = {
        "AZURE_VOICELIVE_ENDPOINT": ENDPOINT,
        "AZURE_VOICELIVE_API_KEY": SECRET,
        "VOICELIVE_MODEL": "gpt-realtime",
        "AZURE_VOICELIVE_API_VERSION": "2026-04-10",
        "AZURE_VOICELIVE_TOKEN_SCOPE": "https://cognitiveservices.azure.com/.default",
        "VOICELIVE_INSTRUCTIONS": "Be brief.",
        "VOICELIVE_VOICE": "Custom Voice",
        "VOICELIVE_VOICE_TYPE": "azure-custom",
        "VOICELIVE_VOICE_TEMPERATURE": "0.7",
        "VOICELIVE_VOICE_ENDPOINT_ID": "1234",
        "VOICELIVE_MODALITIES": "audio, text",
        "VOICELIVE_TRANSCRIPTION_MODEL": "gpt-4o-transcribe",
        "VOICELIVE_LANGUAGE": "en,fr",
        "VOICELIVE_VAD": "azure_semantic_vad",
        "VOICELIVE_VAD_THRESHOLD": "0.3",
        "VOICELIVE_PREFIX_PADDING_MS": "250",
        "VOICELIVE_SILENCE_DURATION_MS": "600",
        "VOICELIVE_REMOVE_FILLER_WORDS": "true",
        "VOICELIVE_EOU_MODEL": "semantic_detection_v1",
        "VOICELIVE_EOU_THRESHOLD": "HIGH",
        "VOICELIVE_EOU_TIMEOUT_MS": "1500",
        "VOICELIVE_INTERRUPT": "0",
        "VOICELIVE_AUTO_TRUNCATE": "1",
        "VOICELIVE_NOISE_REDUCTION": "none",
        "VOICELIVE_ECHO_CANCELLATION": "false",
        "VOICELIVE_INPUT_DEVICE": "pulse",
        "VOICELIVE_PREBUFFER_MS": "80",
        "VOICELIVE_CHUNK_MS": "40",
        "VOICELIVE_OUTPUT_FILE": str(tmp_path / "out.wav"),
        "VOICELIVE_LOG_FILE": "none",
        "VOICELIVE_LOG_LEVEL": "info",
        "VOICELIVE_DEBUG": "on",
        "VOICELIVE_SIMULATE": "no",
    }
    s = resolve_settings({}, environ=env, dotenv_path=None)
    c, ses, td, a, log = s.connection, s.session, s.session.turn_detection, s.audio, s.log
    assert (c.endpoint, c.api_key, c.model, c.api_version) == (
        ENDPOINT,
        SECRET,
        "gpt-realtime",
        "2026-04-10",
    )
    assert c.token_scope == "https://cognitiveservices.azure.com/.default"
    assert (ses.instructions, ses.voice, ses.voice_type) == (
        "Be brief.",
        "Custom Voice",
        "azure-custom",
    )
    assert (ses.voice_temperature, ses.voice_endpoint_id) == (0.7, "1234")
    assert ses.modalities == ("text", "audio")
    assert (ses.transcription_model, ses.language) == ("gpt-4o-transcribe", "en,fr")
    assert (ses.noise_reduction, ses.echo_cancellation) == (None, False)
    assert (td.vad_type, td.threshold, td.prefix_padding_ms, td.silence_duration_ms) == (
        "azure_semantic_vad",
        0.3,
        250,
        600,
    )
    assert (td.remove_filler_words, td.eou_model, td.eou_threshold, td.eou_timeout_ms) == (
        True,
        "semantic_detection_v1",
        "high",
        1500,
    )
    assert (td.interrupt_response, td.auto_truncate) == (False, True)
    assert (a.input_device, a.prebuffer_ms, a.chunk_ms) == ("pulse", 80, 40)
    assert a.output_file == tmp_path / "out.wav"
    other = {"VOICELIVE_INPUT_FILE": str(wav), "VOICELIVE_OUTPUT_DEVICE": "3"}
    a = resolve(env=other).audio
    assert (a.input_file, a.output_device, a.input_device, a.output_file) == (wav, "3", None, None)
    assert (log.log_file, log.log_level, log.debug) == (None, "INFO", True)
    assert s.simulate is False


# --- validation messages -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (
            {"api_version": "2024-01-01"},
            ["--api-version", "AZURE_VOICELIVE_API_VERSION", "2024-01-01", "2026-07-15"],
        ),
        (
            {"vad_threshold": "1.5"},
            ["--vad-threshold", "VOICELIVE_VAD_THRESHOLD", "'1.5'", "from 0 to 1"],
        ),
        ({"vad_threshold": "nan"}, ["--vad-threshold", "'nan'"]),
        ({"vad_threshold": "loud"}, ["--vad-threshold", "'loud'"]),
        (
            {"voice": "en-US-AvaNeural", "voice_temperature": "-0.1"},
            ["--voice-temperature", "VOICELIVE_VOICE_TEMPERATURE", "from 0 to 1"],
        ),
        (
            {"prefix_padding_ms": "9000"},
            ["--prefix-padding-ms", "VOICELIVE_PREFIX_PADDING_MS", "'9000'", "0 to 5000"],
        ),
        ({"prefix_padding_ms": "2.5"}, ["--prefix-padding-ms", "whole number"]),
        (
            {"silence_duration_ms": "10"},
            ["--silence-duration-ms", "VOICELIVE_SILENCE_DURATION_MS", "50 to 5000"],
        ),
        ({"prebuffer_ms": "2001"}, ["--prebuffer-ms", "VOICELIVE_PREBUFFER_MS", "0 to 2000"]),
        ({"chunk_ms": "5"}, ["--chunk-ms", "VOICELIVE_CHUNK_MS", "10 to 100"]),
        ({"quiet_hold_ms": "1500"}, ["--quiet-hold-ms", "VOICELIVE_QUIET_HOLD_MS", "0 to 1000"]),
        (
            {"vad": "loud_vad"},
            ["--vad", "VOICELIVE_VAD", "'loud_vad'", "azure_semantic_vad_multilingual", "none"],
        ),
        (
            {"vad": "semantic_vad", "vad_eagerness": "eager"},
            ["--vad-eagerness", "VOICELIVE_VAD_EAGERNESS", "'eager'", "low, medium, high, auto"],
        ),
        (
            {"eou_model": "smart"},
            ["--eou-model", "VOICELIVE_EOU_MODEL", "semantic_detection_v1_multilingual"],
        ),
        (
            {"eou_model": "semantic_detection_v1", "eou_threshold": "0.3"},
            ["--eou-threshold", "VOICELIVE_EOU_THRESHOLD", "'0.3'", "low, medium, high, default"],
        ),
        (
            {"eou_model": "semantic_detection_v1", "eou_timeout_ms": "0"},
            ["--eou-timeout-ms", "VOICELIVE_EOU_TIMEOUT_MS", "1 to 60000"],
        ),
        (
            {"modalities": "audio"},
            ["--modalities", "VOICELIVE_MODALITIES", "'audio'", "text,audio or text"],
        ),
        (
            {"noise_reduction": "heavy"},
            ["--noise-reduction", "VOICELIVE_NOISE_REDUCTION", "far_field"],
        ),
        (
            {"voice_type": "robot", "voice": "x"},
            ["--voice-type", "VOICELIVE_VOICE_TYPE", "azure-personal"],
        ),
        ({"voice": "Zeus"}, ["--voice", "VOICELIVE_VOICE", "'Zeus'", "--voice-type"]),
        ({"voice": "alloy", "voice_temperature": "0.5"}, ["--voice-temperature", "openai"]),
        ({"voice_temperature": "0.5"}, ["--voice-temperature", "needs --voice"]),
        (
            {"voice": "Mine", "voice_type": "azure-custom"},
            ["--voice-endpoint-id", "VOICELIVE_VOICE_ENDPOINT_ID", "azure-custom"],
        ),
        ({"voice": "Mine", "voice_type": "azure-personal"}, ["--voice-model", "azure-personal"]),
        (
            {"voice": "alloy", "voice_model": "DragonLatestNeural"},
            ["--voice-model", "azure-personal"],
        ),
        ({"log_level": "loud"}, ["--log-level", "VOICELIVE_LOG_LEVEL", "CRITICAL"]),
        ({"language": "english!"}, ["--language", "VOICELIVE_LANGUAGE", "'english!'"]),
        ({"language": "en-US", "transcription_model": "none"}, ["--language", "transcription"]),
        ({"model": "gpt 4o"}, ["--model", "VOICELIVE_MODEL"]),
        (
            {"token_scope": "ai.azure.com"},
            ["--token-scope", "AZURE_VOICELIVE_TOKEN_SCOPE", "https://"],
        ),
        (
            {"input_file": "/nonexistent/in.wav"},
            ["--input-file", "VOICELIVE_INPUT_FILE", "existing WAV"],
        ),
        ({"output_file": "/nonexistent/dir/out.wav"}, ["--output-file", "VOICELIVE_OUTPUT_FILE"]),
        (
            {"endpoint": "res.services.ai.azure.com"},
            ["--endpoint", "AZURE_VOICELIVE_ENDPOINT", "https://"],
        ),
        ({"endpoint": "ftp://res.example.com"}, ["--endpoint", "https://"]),
        ({"endpoint": "https://user:pw@res.example.com"}, ["--endpoint", "user name or password"]),
    ],
)
def test_out_of_range_values_are_refused_naming_flag_variable_and_accepted(
    flags: dict[str, Any], fragments: list[str]
) -> None:
    message = refused(flags)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_message_names_the_variable_and_source_that_supplied_the_value() -> None:
    message = refused({}, {"AZURE_VOICE_LIVE_API_VERSION": "2020-01-01"})
    assert "AZURE_VOICE_LIVE_API_VERSION" in message
    assert "in the environment" in message


def test_message_says_dotenv_when_the_value_came_from_dotenv(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("VOICELIVE_VAD_THRESHOLD=7\n")
    with pytest.raises(ConfigError, match=r"--vad-threshold \(VOICELIVE_VAD_THRESHOLD\).*in \.env"):
        resolve(dotenv=path)


def test_endpoint_in_a_message_loses_user_info_and_query() -> None:
    message = refused({"endpoint": f"ftp://me:{SECRET}@host.example/p?api-key={SECRET}"})
    assert SECRET not in message
    assert "'ftp://host.example/p'" in message


def test_negative_flag_is_named_as_typed() -> None:
    message = refused({"remove_filler_words": False})
    assert message.startswith("--keep-filler-words (VOICELIVE_REMOVE_FILLER_WORDS)")


def test_bad_boolean_variable() -> None:
    message = refused({}, {"VOICELIVE_ECHO_CANCELLATION": "maybe"})
    assert "--echo-cancellation" in message
    assert "'maybe'" in message
    assert "true or false" in message


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        ({"vad_eagerness": "low"}, "only to --vad semantic_vad, but --vad is server_vad"),
        ({"vad": "semantic_vad", "vad_threshold": "0.5"}, "--vad-threshold"),
        ({"vad": "semantic_vad", "silence_duration_ms": "500"}, "--silence-duration-ms"),
        (
            {"vad": "server_vad", "remove_filler_words": True},
            "azure_semantic_vad or azure_semantic_vad_multilingual",
        ),
        ({"vad": "semantic_vad", "eou_model": "semantic_detection_v1"}, "--eou-model"),
        ({"vad": "none", "interrupt": False}, "--no-interrupt (VOICELIVE_INTERRUPT)"),
        ({"vad": "none", "auto_truncate": True}, "--auto-truncate"),
        ({"eou_threshold": "high"}, "needs --eou-model"),
        ({"eou_model": "none", "eou_timeout_ms": "900"}, "needs --eou-model"),
        ({"api_version": "2025-05-01-preview", "auto_truncate": True}, "2025-10-01 or later"),
    ],
)
def test_options_that_do_not_apply_are_refused(flags: dict[str, Any], fragment: str) -> None:
    assert fragment in refused(flags)


def test_legacy_preview_takes_a_numeric_eou_threshold() -> None:
    flags = {
        "api_version": "2025-05-01-preview",
        "vad": "azure_semantic_vad",
        "eou_model": "semantic_detection_v1",
        "eou_threshold": "0.01",
        "eou_timeout_ms": "2000",
    }
    td = resolve(flags).session.turn_detection
    assert (td.eou_threshold, td.eou_timeout_ms) == ("0.01", 2000)
    message = refused({**flags, "eou_threshold": "high"})
    assert "from 0 to 1" in message
    assert "'high'" in message


def test_voice_type_is_inferred() -> None:
    assert resolve({"voice": "en-US-Ava:DragonHDLatestNeural"}).session.voice_type == (
        "azure-standard"
    )
    assert resolve({"voice": "en-US-AvaNeural"}).session.voice_type == "azure-standard"
    assert resolve({"voice": "alloy"}).session.voice_type == "openai"
    assert resolve({"voice": "Mine", "voice_type": "openai"}).session.voice_type == "openai"


def test_device_and_file_for_the_same_direction_exclude_each_other(tmp_path: Path) -> None:
    wav = tmp_path / "in.wav"
    wav.write_bytes(b"RIFF")
    assert "--input-file" in refused({"input_file": str(wav), "input_device": "1"})
    assert "--output-file" in refused(
        {"output_file": str(tmp_path / "o.wav"), "output_device": "2"}
    )


# --- endpoint ----------------------------------------------------------------------------------


def test_missing_endpoint_explains_how_to_configure_or_simulate() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_settings({}, environ={}, dotenv_path=None)
    message = str(info.value)
    for fragment in (
        "AZURE_VOICELIVE_ENDPOINT",
        "AZURE_VOICELIVE_API_KEY",
        "az login",
        "--simulate",
    ):
        assert fragment in message


def test_simulate_needs_no_endpoint_and_uses_the_placeholder() -> None:
    s = resolve_settings({"simulate": True}, environ={}, dotenv_path=None)
    assert s.simulate is True
    assert s.connection.endpoint == SIMULATOR_ENDPOINT
    env = {"VOICELIVE_SIMULATE": "1", "AZURE_VOICELIVE_ENDPOINT": ENDPOINT}
    assert resolve_settings({}, environ=env, dotenv_path=None).connection.endpoint == "simulator"


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://res.services.ai.azure.com",
        "https://res.cognitiveservices.azure.com/",
        "wss://res.services.ai.azure.com",
        "ws://127.0.0.1:8765",
        "ws://127.8.9.10:1",
        "http://localhost:8765",
        "ws://LOCALHOST",
        "ws://[::1]:9000",
    ],
)
def test_accepted_endpoints(endpoint: str) -> None:
    assert resolve({"endpoint": endpoint}).connection.endpoint == endpoint


@pytest.mark.parametrize(
    "endpoint",
    ["ws://example.com", "http://10.0.0.1:80", "ws://[2001:db8::1]", "ws://128.0.0.1"],
)
def test_clear_text_endpoints_only_for_loopback(endpoint: str) -> None:
    message = refused({"endpoint": endpoint})
    assert "loopback" in message
    assert "never sent in clear" in message


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("example.com") and not is_loopback("10.0.0.1")


# --- secrets -----------------------------------------------------------------------------------


def test_api_key_is_kept_but_never_shown() -> None:
    s = resolve({"api_key": SECRET})
    assert s.connection.api_key == SECRET
    assert SECRET not in repr(s)


@pytest.mark.parametrize("flags", [{"api_key": SECRET + " x"}, {"api_key": SECRET + "\x07"}])
def test_malformed_api_key_error_does_not_quote_it(flags: dict[str, Any]) -> None:
    message = refused(flags)
    assert "--api-key" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    "flags",
    [{"vad_threshold": "9"}, {"endpoint": "ws://example.com"}, {"voice": "Zeus"}],
)
def test_other_errors_do_not_quote_the_api_key(flags: dict[str, Any]) -> None:
    assert SECRET not in refused({"api_key": SECRET, **flags})


def test_missing_endpoint_error_does_not_quote_the_api_key() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_settings({"api_key": SECRET}, environ={}, dotenv_path=None)
    assert SECRET not in str(info.value)


# --- the option table --------------------------------------------------------------------------


def test_option_table_is_consistent() -> None:
    flags = [spec.flag for spec in OPTIONS]
    variables = [name for spec in OPTIONS for name in spec.envvars]
    assert len(set(flags)) == len(flags)
    assert len(set(variables)) == len(variables)
    assert set(SPECS) == {spec.dest for spec in OPTIONS}
    table = options_markdown()
    for spec in OPTIONS:
        assert f"`{spec.flag}`" in table
        for name in spec.envvars:
            assert f"`{name}`" in table


def _valid_alone(spec: OptionSpec) -> str:
    """A value that ``spec`` converts without complaint."""
    if spec.kind == "bool":
        return "true"
    if spec.choices:
        return spec.choices[0]
    if spec.low is not None:
        return shown(spec.low)
    return "low" if spec.dest == "eou_threshold" else "x"  # a level; elsewhere any text


def _refusal_or_none(flags: dict[str, Any]) -> str:
    try:
        resolve(flags)
    except ConfigError as err:
        return str(err)
    return ""


@pytest.mark.parametrize("spec", [s for s in OPTIONS if s.needs], ids=lambda s: s.dest)
def test_a_row_that_needs_another_is_refused_without_it(spec: OptionSpec) -> None:
    """The table's ``needs``: given alone, the option is refused naming the one it needs; with
    that one given too, that refusal is gone."""
    needed = SPECS[spec.needs]
    sentence = (
        f"{spec.flag} ({spec.variable}), set on the command line, needs {needed.flag} "
        f"({needed.variable})"
    )
    assert refused({spec.dest: _valid_alone(spec)}).startswith(sentence)
    both = {spec.dest: _valid_alone(spec), spec.needs: _valid_alone(needed)}
    assert sentence not in _refusal_or_none(both)


@pytest.mark.parametrize("spec", [s for s in OPTIONS if s.vads], ids=lambda s: s.dest)
def test_a_turn_detection_knob_is_refused_for_a_vad_without_it(spec: OptionSpec) -> None:
    """The table's ``vads``: under every ``--vad`` outside them the option is refused, under
    every one inside them it is not (for that reason)."""
    assert spec.vads is not None
    for vad in ("server_vad", "azure_semantic_vad", "semantic_vad", "none"):
        message = _refusal_or_none({"vad": vad, spec.dest: _valid_alone(spec)})
        if vad in spec.vads:
            assert "applies only to --vad" not in message, (vad, message)
        else:
            assert message.startswith(
                f"{spec.flag} ({spec.variable}), set on the command line, applies only to --vad "
            ), (vad, message)
            assert message.endswith(f", but --vad is {vad}."), (vad, message)


def _field_value(settings: Settings, spec: OptionSpec) -> object:
    """The value of the settings field ``spec`` sets, None under an unset section (agent)."""
    attrs, section = [], spec.section
    while section:
        parent, _, attr = SECTIONS[section][1].rpartition(".")
        attrs.insert(0, attr)
        section = parent
    holder: object = settings
    for attr in attrs:
        holder = getattr(holder, attr)
    return None if holder is None else getattr(holder, spec.field)


def test_each_default_is_written_once_in_its_settings_field() -> None:
    """The field holds the default; the table's words for it (which --help, the README and
    .env.example print, as the tests above and in test_cli/test_readme hold) show the field's
    value, or say in words what happens for a field that has none; resolving nothing gives it."""
    settings = resolve()
    for spec in OPTIONS:
        value = field_default(spec.section, spec.field)
        if value is None and "none" not in spec.choices:
            assert spec.default.startswith("("), (spec.dest, spec.default)
        else:
            assert spec.default.startswith(shown(value)), (spec.dest, spec.default, value)
        if spec.dest != "endpoint":
            assert _field_value(settings, spec) == value, spec.dest
    assert shown(field_default("audio", "prebuffer_ms")) == SPECS["prebuffer_ms"].default == "40"
    assert "| `--prebuffer-ms` | `VOICELIVE_PREBUFFER_MS` | 40 |" in options_markdown()


def test_env_example_is_generated_from_the_table() -> None:
    text = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    assert text == env_example(), "regenerate: python -m voicelive.config.options > .env.example"
    for spec in OPTIONS:
        assert f"\n# {spec.variable}={spec.example}\n" in text, spec.variable
        for name in spec.envvars:
            assert name in text, name


def test_every_option_in_the_example_resolves_when_uncommented(tmp_path: Path) -> None:
    """Uncommenting every concrete example value in .env.example gives a valid configuration."""
    lines = [
        f"{spec.variable}={spec.example}"
        for spec in OPTIONS
        if spec.example and "<" not in spec.example and spec.dest not in ("simulate", "debug")
    ]
    path = tmp_path / ".env"
    path.write_text("\n".join(lines) + "\n")
    s = resolve(dotenv=path)
    assert (s.audio.device_rate, s.connection.reconnect_attempts) == (48000, 8)


# --- reconnection, replay and statistics options -----------------------------------------------

NEW_OPTIONS = [
    # dest, variable, (flag, env, .env) as given, the same as read back from the settings
    ("reconnect", "VOICELIVE_RECONNECT", (False, "on", "0"), (False, True, False)),
    ("reconnect_attempts", "VOICELIVE_RECONNECT_ATTEMPTS", ("3", "50", "100"), (3, 50, 100)),
    ("replay_turns", "VOICELIVE_REPLAY_TURNS", ("0", "7", "1000"), (0, 7, 1000)),
    ("replay_chars", "VOICELIVE_REPLAY_CHARS", ("0", "500", "1000000"), (0, 500, 1_000_000)),
]
READ = {
    "reconnect": lambda s: s.connection.reconnect,
    "reconnect_attempts": lambda s: s.connection.reconnect_attempts,
    "replay_turns": lambda s: s.replay.turns,
    "replay_chars": lambda s: s.replay.chars,
}


@pytest.mark.parametrize(("dest", "variable", "given", "expected"), NEW_OPTIONS)
def test_new_options_follow_the_precedence(
    tmp_path: Path,
    dest: str,
    variable: str,
    given: tuple[Any, str, str],
    expected: tuple[Any, Any, Any],
) -> None:
    flag, env, dotenv = given
    path = tmp_path / ".env"
    path.write_text(f"{variable}={dotenv}\n")
    read = READ[dest]
    assert read(resolve({dest: flag}, {variable: env}, path)) == expected[0]
    assert read(resolve(env={variable: env}, dotenv=path)) == expected[1]
    assert read(resolve(dotenv=path)) == expected[2]


def test_stats_json_follows_the_precedence(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(f"VOICELIVE_STATS_JSON={tmp_path / 'dotenv.json'}\n")
    env = {"VOICELIVE_STATS_JSON": str(tmp_path / "env.json")}
    flag = {"stats_json": str(tmp_path / "flag.json")}
    assert resolve(flag, env, path).stats_json == tmp_path / "flag.json"
    assert resolve(env=env, dotenv=path).stats_json == tmp_path / "env.json"
    assert resolve(dotenv=path).stats_json == tmp_path / "dotenv.json"
    assert resolve().stats_json is None


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (
            {"reconnect_attempts": "0"},
            ["--reconnect-attempts (VOICELIVE_RECONNECT_ATTEMPTS)", "from 1 to 100", "'0'"],
        ),
        ({"reconnect_attempts": "101"}, ["--reconnect-attempts", "from 1 to 100", "'101'"]),
        ({"reconnect_attempts": "many"}, ["--reconnect-attempts", "whole number", "'many'"]),
        ({"replay_turns": "-1"}, ["--replay-turns (VOICELIVE_REPLAY_TURNS)", "from 0 to 1000"]),
        ({"replay_turns": "1001"}, ["--replay-turns", "'1001'"]),
        (
            {"replay_chars": "1000001"},
            ["--replay-chars (VOICELIVE_REPLAY_CHARS)", "from 0 to 1000000", "'1000001'"],
        ),
        ({"reconnect": "maybe"}, ["--reconnect (VOICELIVE_RECONNECT)", "true or false"]),
        (
            {"stats_json": "/nonexistent/dir/stats.json"},
            ["--stats-json (VOICELIVE_STATS_JSON)", "existing directory"],
        ),
    ],
)
def test_new_options_refuse_values_out_of_range(
    flags: dict[str, Any], fragments: list[str]
) -> None:
    message = refused(flags)
    assert message.endswith("on the command line.") or "--stats-json" in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_new_option_errors_name_the_variable_and_the_source(tmp_path: Path) -> None:
    message = refused({}, {"VOICELIVE_REPLAY_TURNS": "5000"})
    assert message == (
        "--replay-turns (VOICELIVE_REPLAY_TURNS) must be a whole number from 0 to 1000, "
        "got '5000' in the environment."
    )
    path = tmp_path / ".env"
    path.write_text("VOICELIVE_RECONNECT_ATTEMPTS=0\n")
    with pytest.raises(ConfigError) as info:
        resolve(dotenv=path)
    assert str(info.value) == (
        "--reconnect-attempts (VOICELIVE_RECONNECT_ATTEMPTS) must be a whole number from 1 to "
        "100, got '0' in .env."
    )


def test_stats_json_must_not_be_a_directory(tmp_path: Path) -> None:
    assert "--stats-json" in refused({"stats_json": str(tmp_path)})


# --- greeting, recording, transcript, echo reference and Foundry agent options -----------------


def test_new_chat_options_default_off() -> None:
    s = resolve()
    assert (s.greet, s.greet_instructions, s.record, s.transcript) == (False, None, None, None)
    assert s.session.echo_reference is False
    assert (s.connection.agent, s.connection.features) == (None, ())


def test_greet_record_and_transcript_follow_the_precedence(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        "VOICELIVE_GREET=yes\nVOICELIVE_GREET_INSTRUCTIONS=from dotenv\n"
        f"VOICELIVE_RECORD={tmp_path / 'dotenv.wav'}\nVOICELIVE_TRANSCRIPT={tmp_path / 'd.md'}\n"
    )
    env = {
        "VOICELIVE_GREET_INSTRUCTIONS": "from env",
        "VOICELIVE_TRANSCRIPT": str(tmp_path / "e.JSONL"),
    }
    s = resolve({"record": str(tmp_path / "flag.wav")}, env, path)
    assert (s.greet, s.greet_instructions) == (True, "from env")
    assert (s.record, s.transcript) == (tmp_path / "flag.wav", tmp_path / "e.JSONL")
    s = resolve(dotenv=path)
    assert (s.greet_instructions, s.record, s.transcript) == (
        "from dotenv",
        tmp_path / "dotenv.wav",
        tmp_path / "d.md",
    )
    assert resolve({"greet": False}, env={"VOICELIVE_GREET": "1"}).greet is False


@pytest.mark.parametrize(
    ("flags", "env", "expected"),
    [
        (
            {"greet_instructions": "Say hello."},
            {},
            "--greet-instructions (VOICELIVE_GREET_INSTRUCTIONS), set on the command line, "
            "needs --greet (VOICELIVE_GREET).",
        ),
        (
            {"greet": False},
            {"VOICELIVE_GREET_INSTRUCTIONS": "Say hello."},
            "--greet-instructions (VOICELIVE_GREET_INSTRUCTIONS), set in the environment, "
            "needs --greet (VOICELIVE_GREET).",
        ),
        (
            {"record": "talk.mp3"},
            {},
            "--record (VOICELIVE_RECORD) must be a .wav file path in an existing directory, "
            "got 'talk.mp3' on the command line.",
        ),
        (
            {},
            {"VOICELIVE_RECORD": "/nonexistent/dir/talk.wav"},
            "--record (VOICELIVE_RECORD) must be a .wav file path in an existing directory, "
            "got '/nonexistent/dir/talk.wav' in the environment.",
        ),
        (
            {"transcript": "talk.txt"},
            {},
            "--transcript (VOICELIVE_TRANSCRIPT) must be a .md or .jsonl file path in an "
            "existing directory, got 'talk.txt' on the command line.",
        ),
        (
            {"transcript": "/nonexistent/dir/talk.md"},
            {},
            "--transcript (VOICELIVE_TRANSCRIPT) must be a .md or .jsonl file path in an "
            "existing directory, got '/nonexistent/dir/talk.md' on the command line.",
        ),
    ],
)
def test_greet_record_and_transcript_refusals(
    flags: dict[str, Any], env: dict[str, str], expected: str
) -> None:
    assert refused(flags, env) == expected


def test_record_and_transcript_must_not_be_directories_or_the_audio_files(tmp_path: Path) -> None:
    folder = tmp_path / "take.wav"
    folder.mkdir()
    assert "--record (VOICELIVE_RECORD) must be a .wav file" in refused({"record": str(folder)})
    wav = tmp_path / "in.wav"
    wav.write_bytes(b"")
    message = refused({"record": str(wav), "input_file": str(wav)})
    assert message == (
        "--record (VOICELIVE_RECORD), set on the command line, is the same file as --input-file."
    )
    out = tmp_path / "out.wav"
    assert "same file as --output-file" in refused({"record": str(out), "output_file": str(out)})


ECHO_REFERENCE_VERSIONS = ["2026-06-01-preview", "2026-07-15"]


@pytest.mark.parametrize("api_version", KNOWN_API_VERSIONS)
def test_echo_reference_needs_2026_06_01_preview_or_later(api_version: str) -> None:
    flags = {"echo_reference": True, "api_version": api_version}
    if api_version in ECHO_REFERENCE_VERSIONS:
        s = resolve(flags)
        assert s.session.echo_reference is True
        assert s.connection.features == ("client_ec_reference:true",)
    else:
        assert refused(flags) == (
            "--echo-reference (VOICELIVE_ECHO_REFERENCE), set on the command line, needs "
            f"--api-version 2026-06-01-preview or later, not {api_version}."
        )


def test_echo_reference_needs_echo_cancellation(tmp_path: Path) -> None:
    assert refused({"echo_reference": True, "echo_cancellation": False}) == (
        "--echo-reference (VOICELIVE_ECHO_REFERENCE), set on the command line, is the reference "
        "for server echo cancellation, which --no-echo-cancellation "
        "(VOICELIVE_ECHO_CANCELLATION, set on the command line) turns off."
    )
    path = tmp_path / ".env"
    path.write_text("VOICELIVE_ECHO_REFERENCE=on\nVOICELIVE_ECHO_CANCELLATION=off\n")
    with pytest.raises(ConfigError) as info:
        resolve(dotenv=path)
    assert str(info.value).startswith("--echo-reference (VOICELIVE_ECHO_REFERENCE), set in .env,")
    assert "(VOICELIVE_ECHO_CANCELLATION, set in .env)" in str(info.value)
    # turning the reference off explicitly is always fine
    assert (
        resolve({"echo_reference": False, "echo_cancellation": False}).session.echo_reference
        is False
    )


AGENT = {"agent": "trip-planner", "agent_project": "contoso-travel"}


def test_agent_options_make_agent_settings(tmp_path: Path) -> None:
    s = resolve(AGENT)
    assert s.connection.agent == AgentSettings("trip-planner", "contoso-travel")
    path = tmp_path / ".env"
    path.write_text(
        "VOICELIVE_AGENT=from-dotenv\nVOICELIVE_AGENT_PROJECT=proj\n"
        "VOICELIVE_AGENT_VERSION=3\nVOICELIVE_CONVERSATION_ID=conv_123\n"
    )
    s = resolve({"agent_version": "7"}, {"VOICELIVE_AGENT": "from-env"}, path)
    assert s.connection.agent == AgentSettings("from-env", "proj", "7", "conv_123")


@pytest.mark.parametrize(
    ("flags", "env", "expected"),
    [
        (
            {"agent": "a"},
            {},
            "--agent (VOICELIVE_AGENT), set on the command line, needs --agent-project "
            "(VOICELIVE_AGENT_PROJECT), the Foundry project that holds it.",
        ),
        (
            {},
            {"VOICELIVE_AGENT_PROJECT": "p"},
            "--agent-project (VOICELIVE_AGENT_PROJECT), set in the environment, needs --agent "
            "(VOICELIVE_AGENT), the agent to talk to.",
        ),
        (
            {"agent_version": "2"},
            {},
            "--agent-version (VOICELIVE_AGENT_VERSION), set on the command line, needs --agent "
            "(VOICELIVE_AGENT), the agent to talk to.",
        ),
        (
            {"conversation_id": "conv_1"},
            {},
            "--conversation-id (VOICELIVE_CONVERSATION_ID), set on the command line, needs "
            "--agent (VOICELIVE_AGENT), the agent to talk to.",
        ),
        (
            {**AGENT, "instructions": "Be brief."},
            {},
            "--instructions (VOICELIVE_INSTRUCTIONS), set on the command line, cannot be "
            "combined with --agent: the agent has its own instructions (edit them on the agent "
            "in Foundry).",
        ),
        (
            AGENT,
            {"VOICE_LIVE_MODEL": "gpt-4o"},
            "--model (VOICE_LIVE_MODEL), set in the environment, does not apply with --agent: "
            "the agent's own model answers.",
        ),
        (
            {**AGENT, "agent": "trip planner"},
            {},
            "--agent (VOICELIVE_AGENT) must be an agent name without spaces, got 'trip planner' "
            "on the command line.",
        ),
    ],
)
def test_agent_refusals(flags: dict[str, Any], env: dict[str, str], expected: str) -> None:
    assert refused(flags, env) == expected


def test_an_api_key_with_an_agent_is_refused_for_entra_id_without_quoting_it() -> None:
    expected = (
        "--api-key (AZURE_VOICELIVE_API_KEY), set {where}, cannot be used with --agent: agent "
        "sessions accept only Microsoft Entra ID, so remove the key and use `az login` (Entra "
        "ID) instead."
    )
    assert refused({**AGENT, "api_key": SECRET}) == expected.format(where="on the command line")
    message = refused(AGENT, {"AZURE_VOICE_LIVE_API_KEY": SECRET})
    assert message == expected.format(where="in the environment").replace(
        "(AZURE_VOICELIVE_API_KEY)", "(AZURE_VOICE_LIVE_API_KEY)"
    )
    assert SECRET not in message


def test_quiet_batching_is_on_by_default_and_can_be_turned_off() -> None:
    assert resolve({}).audio.quiet_hold_ms == 200
    assert resolve({}, {"VOICELIVE_QUIET_HOLD_MS": "0"}).audio.quiet_hold_ms == 0
