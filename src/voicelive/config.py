"""From flags, the environment and ``.env`` to one validated :class:`~voicelive.settings.Settings`.

Typer parses the flags and converts each value to its kind from the table in
:mod:`voicelive.options`, refusing numbers out of range and words not among the choices;
python-dotenv reads ``.env`` literally (no ``${VAR}``); Click's ``default_map`` is the layer
between the flags and the defaults, and ``ctx.get_parameter_source`` tells the two apart.

Written here because no library does it:

* :func:`layered`: per option, the first of its variables set in the environment, else the first
  set in ``.env`` (blank = unset), so the environment wins whichever of an option's two names
  each uses. Typer's ``envvar`` lists with ``load_dotenv(override=False)`` would let ``.env``'s
  ``AZURE_VOICELIVE_API_VERSION`` beat the environment's ``AZURE_VOICE_LIVE_API_VERSION`` (the
  names are scanned in order), and could not tell ``.env`` from the environment in a message.
* One sentence per refusal (exit 2, before connecting) naming the flag, the variable that
  supplied the value, the value (never the API key; an endpoint without user info or query)
  and where it came from: ``--vad-threshold (VOICELIVE_VAD_THRESHOLD) must be a number from 0
  to 1, got '1.5' in .env.`` :class:`ChatCommand` retells Typer's refusals so.
* The cross-option rules of :func:`settings_from_context`: VAD knobs only for the VAD types
  that have them (and nothing with ``--vad none``); EOU threshold/timeout need ``--eou-model``,
  the threshold is a level except on 2025-05-01-preview (a number); ``--auto-truncate`` needs
  2025-10-01 or later; voice options need ``--voice`` and the voice type they belong to;
  ``--language`` needs a transcription model; a device and a file for the same direction
  exclude each other; the endpoint is https/wss (http/ws only for loopback hosts), and under
  ``--simulate`` it is the placeholder :data:`SIMULATOR_ENDPOINT`.
* Foundry agents: ``--agent`` and ``--agent-project`` come together, ``--agent-version`` and
  ``--conversation-id`` need them; an agent session takes neither ``--instructions`` (the agent
  has its own) nor ``--model`` (the agent's model answers), nor an API key (agent sessions are
  Entra ID only, per the Voice Live agent quickstart).
* ``--echo-reference`` needs server echo cancellation and 2026-06-01-preview or later;
  ``--greet-instructions`` needs ``--greet``; ``--record`` is a ``.wav`` and ``--transcript`` a
  ``.md`` or ``.jsonl`` file, each in an existing directory.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, cast
from urllib.parse import urlsplit

import typer
import typer.core

from voicelive.errors import ConfigError
from voicelive.options import SPECS, OptionSpec
from voicelive.protocol.session_payload import (
    AZURE_SEMANTIC_VADS,
    EOU_VADS,
    THRESHOLD_VADS,
    VAD_TYPES,
    VOICE_TYPES,
    infer_voice_type,
    supports_auto_truncate,
    supports_echo_reference,
)
from voicelive.settings import (
    DEFAULT_API_VERSION,
    AgentSettings,
    AudioSettings,
    ConnectionSettings,
    LogSettings,
    ReplaySettings,
    Secret,
    SessionSettings,
    Settings,
    ToolsSettings,
    TurnDetectionSettings,
    uses_legacy_eou_fields,
)

SIMULATOR_ENDPOINT = "simulator"
"""Placeholder endpoint under ``--simulate``; ``run_chat`` replaces it with the simulator's URL."""

COMMAND_LINE, ENVIRONMENT, DOTENV = "on the command line", "in the environment", "in .env"
EOU_LEVELS = ("low", "medium", "high", "default")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*(,[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*)*$")
_NO_SPACES = {
    "model": "a model name without spaces, such as gpt-4o",
    "transcription_model": "a model name such as azure-speech or whisper-1, or none",
    "agent": "an agent name without spaces",
    "agent_project": "a project name without spaces",
    "agent_version": "a version without spaces",
    "conversation_id": "a conversation id without spaces",
}
TRANSCRIPT_SUFFIXES = (".md", ".jsonl")


@dataclass(frozen=True)
class Origin:
    """Where a value came from (one of the three phrases above), the variable that supplied it
    (None for a flag) and the value as given."""

    where: str
    variable: str | None
    raw: object


def read_dotenv(path: Path | None) -> dict[str, str]:
    """The ``KEY=value`` pairs of ``path``, ``{}`` if there is none; ConfigError if unreadable."""
    if path is None or not path.is_file():
        return {}
    from dotenv import dotenv_values  # only when there is a .env: keeps --help quick

    try:
        values = dotenv_values(path, interpolate=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"Cannot read {path}: {err.__class__.__name__}.") from None
    return {key: value for key, value in values.items() if value is not None}


def layered(environ: Mapping[str, str], dotenv: Mapping[str, str]) -> dict[str, Origin]:
    """Per option, the first of its variables set in ``environ``, else in ``dotenv``."""
    found: dict[str, Origin] = {}
    for spec in SPECS.values():
        for where, layer in ((ENVIRONMENT, environ), (DOTENV, dotenv)):
            variable = next((name for name in spec.envvars if layer.get(name, "").strip()), None)
            if variable is not None:
                found[spec.dest] = Origin(where, variable, layer[variable].strip())
                break
    return found


class BadValue(typer.BadParameter):
    """A refused value as one sentence; Typer shows it as ``error: <sentence>`` and exits 2."""

    exit_code = ConfigError.exit_code

    def show(self, file: Any = None) -> None:
        typer.echo(f"error: {self.message}", err=True)


class ChatCommand(typer.core.TyperCommand):
    """``voicelive chat``: puts :func:`layered` values under the flags as Click's ``default_map``
    (those of the process environment and ``./.env``, or the ``dict[str, Origin]`` given as
    ``ctx.obj``), and retells Typer's refusals as :class:`BadValue` sentences."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if not isinstance(ctx.obj, dict):
            try:
                ctx.obj = layered(os.environ, read_dotenv(Path.cwd() / ".env"))
            except ConfigError as err:
                raise BadValue(str(err)) from None
        ctx.default_map = {dest: origin.raw for dest, origin in ctx.obj.items()}
        given = list(args)  # the parser consumes args
        try:
            rest = super().parse_args(ctx, args)
            for dest, value in ctx.params.items():  # Click's FloatRange lets "nan" through
                if isinstance(value, float) and not math.isfinite(value) and dest in SPECS:
                    raise typer.BadParameter("not a finite number", param_hint=dest)
            return rest
        except typer.BadParameter as err:
            name = getattr(err.param, "name", None) or err.param_hint
            spec = SPECS.get(name if isinstance(name, str) else "")
            if spec is None:
                raise
            origin = _Values(ctx).origins.get(spec.dest)
            if origin is None or origin.raw is None:  # a flag: find what was typed
                typed = [a.partition("=")[2] for a in given if a.startswith(spec.flag + "=")]
                typed += [v for f, v in itertools.pairwise(given) if f == spec.flag]
                origin = Origin(COMMAND_LINE, None, typed[-1] if typed else None)
            raise BadValue(_refusal(spec, origin, f"must be {spec.expected()}")) from None


def resolve_settings(
    flags: Mapping[str, object], *, environ: Mapping[str, str], dotenv_path: Path | None = None
) -> Settings:
    """As ``voicelive chat`` resolves, for tests and tools: ``flags`` (text or bool by option
    name, None for not given) over ``environ`` over ``dotenv_path``. Raises ConfigError."""
    from voicelive.cli import app  # the chat command itself, so that both parse alike

    layer = layered(environ, read_dotenv(dotenv_path))
    for dest, value in flags.items():
        if dest in SPECS and value is not None and str(value).strip():
            layer[dest] = Origin(COMMAND_LINE, None, value)
    command = cast(typer.core.TyperGroup, typer.main.get_command(app)).commands["chat"]
    try:
        ctx = command.make_context("chat", [], obj=layer)
    except BadValue as err:
        raise ConfigError(err.message) from None
    return settings_from_context(cast(typer.Context, ctx))


class _Values:
    """The parsed values of ``ctx`` with their origins, and the two ways to refuse one."""

    def __init__(self, ctx: typer.Context) -> None:
        self._params = ctx.params
        self.origins: dict[str, Origin] = {}
        for dest in SPECS:
            source = getattr(ctx.get_parameter_source(dest), "name", None)
            if source == "COMMANDLINE":
                self.origins[dest] = Origin(COMMAND_LINE, None, ctx.params.get(dest))
            elif source == "DEFAULT_MAP":
                self.origins[dest] = ctx.obj[dest]

    def __getitem__(self, dest: str) -> Any:
        """The typed value, None when not given (text stripped, blank counts as not given)."""
        value = self._params.get(dest)
        return (value.strip() or None) if isinstance(value, str) else value

    def given(self, dest: str) -> bool:
        return self[dest] is not None

    def path(self, dest: str) -> Path | None:
        return None if self[dest] is None else Path(self[dest]).expanduser()

    def fail(self, dest: str, expected: str) -> NoReturn:
        raise ConfigError(_refusal(SPECS[dest], self.origins.get(dest), f"must be {expected}"))

    def refuse(self, dest: str, reason: str) -> NoReturn:
        """Refuse an option that was set although it does not apply."""
        origin = self.origins.get(dest)
        where = f", set {origin.where}," if origin is not None else ""
        raise ConfigError(f"{_name(SPECS[dest], origin)}{where} {reason}.")


def _name(spec: OptionSpec, origin: Origin | None) -> str:
    """``--flag (VARIABLE)``: the flag as typed (``--no-…`` for False), and the variable that
    supplied the value, else the preferred one."""
    variable = origin.variable if origin is not None and origin.variable else spec.variable
    negated = origin is not None and origin.raw is False and spec.negative
    return f"{spec.negative if negated else spec.flag} ({variable})"


def _refusal(spec: OptionSpec, origin: Origin | None, predicate: str) -> str:
    if origin is None or origin.raw is None:
        return f"{_name(spec, origin)} {predicate}."
    if spec.dest == "api_key":
        shown = "a value (hidden)"
    elif spec.dest == "endpoint":  # without user info and query, which may carry a key
        scheme, sep, rest = str(origin.raw).partition("?")[0].rpartition("://")
        authority, slash, path = rest.partition("/")
        shown = repr(f"{scheme}{sep}{authority.rpartition('@')[2]}{slash}{path}")
    elif isinstance(origin.raw, bool):
        shown = spec.flag if origin.raw else (spec.negative or spec.flag)
    else:
        shown = repr(str(origin.raw))
    return f"{_name(spec, origin)} {predicate}, got {shown} {origin.where}."


def settings_from_context(ctx: typer.Context) -> Settings:
    """Apply the cross-option rules to the parsed ``chat`` values; raises ConfigError."""
    v = _Values(ctx)
    simulate = bool(v["simulate"])
    api_version = v["api_version"] or DEFAULT_API_VERSION
    connection = _connection(v, api_version, simulate)
    log_file = _log_file(v)
    audio = _audio(v)
    if v.given("greet_instructions") and not v["greet"]:
        v.refuse("greet_instructions", "needs --greet (VOICELIVE_GREET)")
    return Settings(
        connection=connection,
        session=_session(v, api_version, connection.model),
        audio=audio,
        log=LogSettings(log_file, **_present(log_level=v["log_level"], debug=v["debug"])),
        replay=ReplaySettings(**_present(turns=v["replay_turns"], chars=v["replay_chars"])),
        stats_json=_writable_file(v, "stats_json"),
        simulate=simulate,
        greet=bool(v["greet"]),
        greet_instructions=v["greet_instructions"],
        record=_output(v, "record", (".wav",), audio),
        transcript=_output(v, "transcript", TRANSCRIPT_SUFFIXES, audio),
        tools=_tools(v, api_version),
    )


def _tools(v: _Values, api_version: str) -> ToolsSettings | None:
    """``--mcp-config`` read and checked here (the CLI layer: ``${VAR}`` comes from the
    environment); the tools modules are imported only when it is given."""
    path = v.path("mcp_config")
    if path is None:
        for dest in ("approve", "tool_timeout"):
            if v.given(dest):
                v.refuse(dest, "needs --mcp-config (VOICELIVE_MCP_CONFIG)")
        return None
    from voicelive.tools.catalog import service_mcp_refusal
    from voicelive.tools.config import load_mcp_config

    mcp = load_mcp_config(path, os.environ)
    refusal = service_mcp_refusal(api_version, mcp.service)
    if refusal is not None:
        raise ConfigError(refusal)
    patterns = tuple(p.strip() for p in (v["approve"] or "").split(",") if p.strip())
    return ToolsSettings(mcp, patterns, **_present(call_timeout_s=v["tool_timeout"]))


def _present(**values: Any) -> dict[str, Any]:
    """The values that were given; the settings' own defaults stand for the others."""
    return {name: value for name, value in values.items() if value is not None}


def _none(word: str | None) -> str | None:
    """The word ``none`` means None (no VAD, no EOU model, no noise reduction...)."""
    return None if word == "none" else word


def _connection(v: _Values, api_version: str, simulate: bool) -> ConnectionSettings:
    api_key = v["api_key"]
    if api_key is not None and any(ch.isspace() or not ch.isprintable() for ch in api_key):
        v.fail("api_key", "a key without spaces or control characters")
    scope = v["token_scope"]
    if scope is not None and (not scope.startswith("https://") or " " in scope):
        v.fail("token_scope", "an https:// scope such as https://ai.azure.com/.default")
    for dest, expected in _NO_SPACES.items():
        if any(ch.isspace() for ch in v[dest] or ""):
            v.fail(dest, expected)
    return ConnectionSettings(
        endpoint=SIMULATOR_ENDPOINT if simulate else _endpoint(v),
        api_key=Secret(api_key) if api_key is not None else None,
        api_version=api_version,
        agent=_agent(v),
        **_present(model=v["model"], token_scope=scope, reconnect=v["reconnect"]),
        **_present(reconnect_attempts=v["reconnect_attempts"]),
    )


def _agent(v: _Values) -> AgentSettings | None:
    """The Foundry agent, or None; refuses what an agent session cannot take."""
    name, project = v["agent"], v["agent_project"]
    if name is None:
        for dest in ("agent_project", "agent_version", "conversation_id"):
            if v.given(dest):
                v.refuse(dest, "needs --agent (VOICELIVE_AGENT), the agent to talk to")
        return None
    if project is None:
        v.refuse(
            "agent",
            "needs --agent-project (VOICELIVE_AGENT_PROJECT), the Foundry project that holds it",
        )
    if v.given("api_key"):
        v.refuse(
            "api_key",
            "cannot be used with --agent: agent sessions accept only Microsoft Entra ID, so "
            "remove the key and use `az login` (Entra ID) instead",
        )
    if v.given("model"):
        v.refuse("model", "does not apply with --agent: the agent's own model answers")
    if v.given("instructions"):
        v.refuse(
            "instructions",
            "cannot be combined with --agent: the agent has its own instructions (edit them on "
            "the agent in Foundry)",
        )
    return AgentSettings(name, project, v["agent_version"], v["conversation_id"])


def _endpoint(v: _Values) -> str:
    endpoint: str | None = v["endpoint"]
    if endpoint is None:
        raise ConfigError(
            "No Voice Live endpoint is configured: set AZURE_VOICELIVE_ENDPOINT (or --endpoint) "
            "to https://<your-resource>.services.ai.azure.com, plus AZURE_VOICELIVE_API_KEY or "
            "`az login` for Entra ID, in the environment or in .env; or try the offline simulator "
            "with `voicelive chat --simulate`."
        )
    try:
        parts = urlsplit(endpoint)
        scheme, host, _ = parts.scheme.lower(), parts.hostname, parts.port  # port: ValueError
    except ValueError:
        scheme, host = "", None
    if scheme not in ("https", "wss", "http", "ws") or not host:
        v.fail("endpoint", "an https:// or wss:// URL such as https://<name>.services.ai.azure.com")
    if parts.username is not None or parts.password is not None:
        v.refuse("endpoint", "must not contain a user name or password; use --api-key")
    if scheme in ("http", "ws") and not is_loopback(host):
        v.refuse(
            "endpoint",
            f"uses unencrypted {parts.scheme}:// for {host}, which is allowed only for loopback "
            "hosts (127.0.0.0/8, ::1, localhost) because credentials are never sent in clear; "
            "use https:// or wss://",
        )
    return endpoint


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (``host`` without brackets)."""
    try:
        return host.lower() == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _session(v: _Values, api_version: str, model: str) -> SessionSettings:
    voice, voice_type = v["voice"], v["voice_type"]
    if voice is None:
        for dest in ("voice_type", "voice_temperature", "voice_endpoint_id", "voice_model"):
            if v.given(dest):
                v.refuse(dest, "needs --voice (VOICELIVE_VOICE)")
    voice_type = voice_type or (voice and infer_voice_type(voice))
    if voice is not None and voice_type is None:
        v.fail(
            "voice",
            "an Azure voice name such as en-US-AvaNeural or an OpenAI voice such as alloy "
            f"(for other voices set --voice-type to one of {', '.join(VOICE_TYPES)})",
        )
    if v.given("voice_temperature") and voice_type == "openai":
        v.refuse("voice_temperature", "applies only to Azure voices, not to openai voices")
    for dest, owner in (("voice_endpoint_id", "azure-custom"), ("voice_model", "azure-personal")):
        if v.given(dest) and voice_type != owner:
            v.refuse(dest, f"applies only to --voice-type {owner}")
        if not v.given(dest) and voice_type == owner:
            v.fail(dest, f"set for an {owner} voice")

    modalities: tuple[str, ...] = ("text", "audio")
    if v["modalities"] is not None:
        words = {word.strip().lower() for word in v["modalities"].split(",") if word.strip()}
        if words not in ({"text", "audio"}, {"text"}):
            v.fail("modalities", "text,audio or text")
        modalities = ("text", "audio") if "audio" in words else ("text",)
    # gpt-realtime models transcribe with OpenAI models; the others with azure-speech.
    default_transcription = "whisper-1" if model.startswith("gpt-realtime") else "azure-speech"
    given_transcription: str = v["transcription_model"] or default_transcription
    transcription = None if given_transcription.lower() == "none" else given_transcription
    if v["language"] is not None:
        if not _LANGUAGE.match(v["language"]):
            v.fail("language", "a language tag such as en-US, or a list such as en,fr")
        if transcription is None:
            v.refuse("language", "needs a transcription model, but --transcription-model is none")
    noise = v["noise_reduction"] or SessionSettings.noise_reduction
    if v["echo_reference"]:
        if v["echo_cancellation"] is False:
            v.refuse(
                "echo_reference",
                "is the reference for server echo cancellation, which --no-echo-cancellation "
                f"({_set_by(v, 'echo_cancellation')}) turns off",
            )
        if not supports_echo_reference(api_version):
            v.refuse(
                "echo_reference",
                f"needs --api-version 2026-06-01-preview or later, not {api_version}",
            )
    return SessionSettings(
        instructions=v["instructions"],
        voice=voice,
        voice_type=voice_type,
        voice_temperature=v["voice_temperature"],
        modalities=modalities,
        transcription_model=transcription,
        language=v["language"],
        turn_detection=_turn_detection(v, api_version),
        noise_reduction=_none(noise),
        voice_endpoint_id=v["voice_endpoint_id"],
        voice_model=v["voice_model"],
        echo_reference=bool(v["echo_reference"]),
        **_present(echo_cancellation=v["echo_cancellation"]),
    )


def _set_by(v: _Values, dest: str) -> str:
    """``VARIABLE, set in .env``: the variable that supplied ``dest`` (else its preferred one)
    and where the value came from."""
    origin = v.origins.get(dest)
    if origin is None:
        return SPECS[dest].variable
    return f"{origin.variable or SPECS[dest].variable}, set {origin.where}"


def _turn_detection(v: _Values, api_version: str) -> TurnDetectionSettings:
    vad = v["vad"] or "server_vad"
    applies = {
        "vad_threshold": THRESHOLD_VADS,
        "prefix_padding_ms": THRESHOLD_VADS,
        "silence_duration_ms": THRESHOLD_VADS,
        "vad_eagerness": {"semantic_vad"},
        "remove_filler_words": AZURE_SEMANTIC_VADS,
        "eou_model": EOU_VADS,
        "eou_threshold": EOU_VADS,
        "eou_timeout_ms": EOU_VADS,
        "interrupt": set(VAD_TYPES),
        "auto_truncate": set(VAD_TYPES),
    }
    for dest, vads in applies.items():
        if v.given(dest) and vad not in vads:
            *most, last = [name for name in VAD_TYPES if name in vads]
            listed = f"{', '.join(most)} or {last}" if most else last
            v.refuse(dest, f"applies only to --vad {listed}, but --vad is {vad}")
    eou_model = _none(v["eou_model"])
    for dest in ("eou_threshold", "eou_timeout_ms"):
        if eou_model is None and v.given(dest):
            v.refuse(dest, "needs --eou-model (VOICELIVE_EOU_MODEL)")
    if v["auto_truncate"] and not supports_auto_truncate(api_version):
        v.refuse("auto_truncate", f"needs --api-version 2025-10-01 or later, not {api_version}")
    return TurnDetectionSettings(
        vad_type=_none(vad),
        threshold=v["vad_threshold"],
        eagerness=v["vad_eagerness"],
        prefix_padding_ms=v["prefix_padding_ms"],
        silence_duration_ms=v["silence_duration_ms"],
        remove_filler_words=v["remove_filler_words"],
        eou_model=eou_model,
        eou_threshold=_eou_threshold(v, uses_legacy_eou_fields(api_version)),
        eou_timeout_ms=v["eou_timeout_ms"],
        **_present(interrupt_response=v["interrupt"], auto_truncate=v["auto_truncate"]),
    )


def _eou_threshold(v: _Values, legacy: bool) -> str | None:
    """A level on GA versions; on 2025-05-01-preview a number from 0 to 1 (kept as text)."""
    value = v["eou_threshold"]
    if value is None or not legacy:
        if value is not None and value.lower() not in EOU_LEVELS:
            v.fail("eou_threshold", "one of " + ", ".join(EOU_LEVELS))
        return None if value is None else value.lower()
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0 <= number <= 1:  # also refuses nan and inf
        v.fail("eou_threshold", "a number from 0 to 1")
    return f"{number:g}"


def _audio(v: _Values) -> AudioSettings:
    input_file, output_file = v.path("input_file"), _writable_file(v, "output_file")
    if input_file is not None and not input_file.is_file():
        v.fail("input_file", "an existing WAV file")
    for file, device in (("input_file", "input_device"), ("output_file", "output_device")):
        if v.given(file) and v.given(device):
            v.refuse(device, f"cannot be combined with --{file.replace('_', '-')}")
    return AudioSettings(
        input_device=v["input_device"],
        output_device=v["output_device"],
        device_rate=v["device_rate"],
        input_file=input_file,
        output_file=output_file,
        **_present(prebuffer_ms=v["prebuffer_ms"], chunk_ms=v["chunk_ms"]),
        **_present(quiet_hold_ms=v["quiet_hold_ms"]),
        **_present(output_latency_ms=v["output_latency_ms"]),
    )


def _output(v: _Values, dest: str, suffixes: tuple[str, ...], audio: AudioSettings) -> Path | None:
    """A file to write, with one of ``suffixes``, in an existing directory, and not one of the
    audio files (the input would be overwritten, the output written twice)."""
    path = v.path(dest)
    if path is None:
        return None
    if path.suffix.lower() not in suffixes or path.is_dir() or not path.parent.is_dir():
        kind = " or ".join(suffixes)
        v.fail(dest, f"a {kind} file path in an existing directory")
    for other in ("input_file", "output_file"):
        given = getattr(audio, other)
        if given is not None and given.resolve() == path.resolve():
            v.refuse(dest, f"is the same file as --{other.replace('_', '-')}")
    return path


def _writable_file(v: _Values, dest: str) -> Path | None:
    path = v.path(dest)
    if path is not None and (path.is_dir() or not path.parent.is_dir()):
        v.fail(dest, "a file path in an existing directory")
    return path


def _log_file(v: _Values) -> Path | None:
    if v["log_file"] is None or v["log_file"].lower() == "none":
        return LogSettings.log_file if v["log_file"] is None else None
    path = v.path("log_file")
    if path is not None and path.is_dir():
        v.fail("log_file", "a file path (not a directory) or none")
    return path
