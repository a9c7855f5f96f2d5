"""Turn raw option values into one validated :class:`~voicelive.settings.Settings`.

Precedence, per option: command-line flag > process environment > ``.env`` in the working
directory > default. ``.env`` is read with ``dotenv_values`` (literally, no ``${VAR}``
interpolation) and never copied into ``os.environ``; the environment is passed in as a mapping,
so this module reads no global state except the ``.env`` file and the existence of
``--input-file``. The option table (flags, variables, defaults, ranges) is :mod:`voicelive.options`;
``options.options_markdown()`` renders it for the README; :mod:`voicelive.layers` does the
layered lookup and the typed, messaging accessors.

Every refusal is a :class:`~voicelive.errors.ConfigError` (exit 2) raised before any connection,
whose message is one sentence naming the flag, the variable, the value and what is accepted, e.g.
``--vad-threshold (VOICELIVE_VAD_THRESHOLD) must be a number from 0 to 1, got '1.5' in .env.``
The API key is never quoted in a message.

Cross-option rules, beyond each value's own range:

* VAD knobs apply only to VAD types that have them (``--vad-eagerness``: semantic_vad;
  ``--remove-filler-words``: azure semantic VADs; EOU options: server_vad and azure semantic VADs;
  threshold/padding/silence: all but semantic_vad; nothing but ``--vad`` with ``--vad none``).
* ``--eou-threshold`` is ``low|medium|high|default`` except on 2025-05-01-preview (a number);
  EOU threshold/timeout need ``--eou-model``; ``--auto-truncate`` needs 2025-10-01 or later.
* ``--voice-type``/``--voice-temperature`` need ``--voice``; the temperature is for Azure voices;
  azure-custom needs ``--voice-endpoint-id``, azure-personal needs ``--voice-model``.
* ``--language`` needs a transcription model; a device and a file for the same direction exclude
  each other.
* The endpoint is ``https``/``wss``; ``http``/``ws`` only for loopback hosts. With ``--simulate``
  the endpoint is ignored and left as the placeholder ``"simulator"`` for the orchestrator.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from voicelive.errors import ConfigError
from voicelive.layers import Resolver, Sources, read_dotenv
from voicelive.protocol.session import (
    AZURE_SEMANTIC_VADS,
    EOU_VADS,
    THRESHOLD_VADS,
    VAD_TYPES,
    VOICE_TYPES,
    infer_voice_type,
    supports_auto_truncate,
)
from voicelive.settings import (
    DEFAULT_API_VERSION,
    DEFAULT_MODEL,
    DEFAULT_TOKEN_SCOPE,
    KNOWN_API_VERSIONS,
    AudioSettings,
    ConnectionSettings,
    LogSettings,
    Secret,
    SessionSettings,
    Settings,
    TurnDetectionSettings,
    uses_legacy_eou_fields,
)

SIMULATOR_ENDPOINT = "simulator"
"""Placeholder endpoint under ``--simulate``; ``run_chat`` replaces it with the simulator's URL."""

EAGERNESS = ("low", "medium", "high", "auto")
EOU_MODELS = ("semantic_detection_v1", "semantic_detection_v1_multilingual", "none")
EOU_LEVELS = ("low", "medium", "high", "default")
NOISE_REDUCTION = ("azure_deep_noise_suppression", "near_field", "far_field", "none")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*(,[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*)*$")


def resolve_settings(
    flags: Mapping[str, object],
    *,
    environ: Mapping[str, str],
    dotenv_path: Path | None = None,
) -> Settings:
    """Resolve and validate every option; return the frozen :class:`Settings`.

    ``flags`` maps option ``dest`` names (see :data:`voicelive.options.OPTIONS`) to the values
    given on the command line, None for "not given"; unknown keys are ignored. ``environ`` is the
    process environment; ``dotenv_path`` the ``.env`` file to read (None: no ``.env`` layer).
    Raises :class:`ConfigError` for anything missing, out of range or inconsistent.
    """
    dotenv = read_dotenv(dotenv_path) if dotenv_path is not None else {}
    r = Resolver(Sources(flags, environ, dotenv))
    simulate = bool(r.boolean("simulate"))
    api_version = r.choice("api_version", KNOWN_API_VERSIONS) or DEFAULT_API_VERSION
    connection = _connection(r, api_version, simulate)
    return Settings(
        connection=connection,
        session=_session(r, api_version, connection.model),
        audio=_audio(r),
        log=_log(r),
        simulate=simulate,
    )


def _connection(r: Resolver, api_version: str, simulate: bool) -> ConnectionSettings:
    api_key = r.text("api_key")
    if api_key is not None and any(ch.isspace() or not ch.isprintable() for ch in api_key):
        r.fail("api_key", "a key without spaces or control characters")
    model = r.text("model") or DEFAULT_MODEL
    if any(ch.isspace() for ch in model):
        r.fail("model", "a model name without spaces, such as gpt-4o")
    scope = r.text("token_scope") or DEFAULT_TOKEN_SCOPE
    if not scope.startswith("https://") or any(ch.isspace() for ch in scope):
        r.fail("token_scope", "an https:// scope such as https://ai.azure.com/.default")
    endpoint = SIMULATOR_ENDPOINT if simulate else _endpoint(r)
    return ConnectionSettings(
        endpoint=endpoint,
        api_key=Secret(api_key) if api_key is not None else None,
        model=model,
        api_version=api_version,
        token_scope=scope,
    )


def _endpoint(r: Resolver) -> str:
    endpoint = r.text("endpoint")
    if endpoint is None:
        raise ConfigError(
            "No Voice Live endpoint is configured: set AZURE_VOICELIVE_ENDPOINT (or --endpoint) "
            "to https://<your-resource>.services.ai.azure.com, plus AZURE_VOICELIVE_API_KEY or "
            "`az login` for Entra ID, in the environment or in .env; or try the offline simulator "
            "with `voicelive chat --simulate`."
        )
    expected = "an https:// or wss:// URL such as https://<name>.services.ai.azure.com"
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
        _ = parts.port  # raises ValueError for a bad port
    except ValueError:
        r.fail("endpoint", expected)
    if parts.scheme.lower() not in ("https", "wss", "http", "ws") or not host:
        r.fail("endpoint", expected)
    if parts.username is not None or parts.password is not None:
        r.refuse("endpoint", "must not contain a user name or password; use --api-key")
    if parts.scheme.lower() in ("http", "ws") and not is_loopback(host):
        r.refuse(
            "endpoint",
            f"uses unencrypted {parts.scheme}:// for {host}, which is allowed only for loopback "
            "hosts (127.0.0.0/8, ::1, localhost) because credentials are never sent in clear; "
            "use https:// or wss://",
        )
    return endpoint


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (``host`` without brackets)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _session(r: Resolver, api_version: str, model: str) -> SessionSettings:
    voice = r.text("voice")
    voice_type = r.choice("voice_type", VOICE_TYPES)
    if voice is None:
        for dest in ("voice_type", "voice_temperature", "voice_endpoint_id", "voice_model"):
            if r.given(dest):
                r.refuse(dest, "needs --voice (VOICELIVE_VOICE)")
    elif voice_type is None:
        voice_type = infer_voice_type(voice)
        if voice_type is None:
            r.fail(
                "voice",
                "an Azure voice name such as en-US-AvaNeural or an OpenAI voice such as alloy "
                f"(for other voices set --voice-type to one of {', '.join(VOICE_TYPES)})",
            )
    temperature = r.number("voice_temperature")
    if temperature is not None and voice_type == "openai":
        r.refuse("voice_temperature", "applies only to Azure voices, not to openai voices")
    endpoint_id = _required_for(r, "voice_endpoint_id", voice_type, "azure-custom")
    voice_model = _required_for(r, "voice_model", voice_type, "azure-personal")

    modalities = r.text("modalities")
    parsed: tuple[str, ...] = ("text", "audio")
    if modalities is not None:
        words = {word.strip().lower() for word in modalities.split(",") if word.strip()}
        if words not in ({"text", "audio"}, {"text"}):
            r.fail("modalities", "text,audio or text")
        parsed = ("text", "audio") if "audio" in words else ("text",)

    # gpt-realtime models transcribe with OpenAI models; the others with azure-speech.
    default_transcription = "whisper-1" if model.startswith("gpt-realtime") else "azure-speech"
    transcription = r.text("transcription_model") or default_transcription
    if any(ch.isspace() for ch in transcription):
        r.fail("transcription_model", "a model name such as azure-speech or whisper-1, or none")
    transcription_model = None if transcription.lower() == "none" else transcription
    language = r.text("language")
    if language is not None:
        if not _LANGUAGE.match(language):
            r.fail("language", "a language tag such as en-US, or a list such as en,fr")
        if transcription_model is None:
            r.refuse("language", "needs a transcription model, but --transcription-model is none")

    noise = r.choice("noise_reduction", NOISE_REDUCTION) or "azure_deep_noise_suppression"
    echo = r.boolean("echo_cancellation")
    return SessionSettings(
        instructions=r.text("instructions"),
        voice=voice,
        voice_type=voice_type,
        voice_temperature=temperature,
        modalities=parsed,
        transcription_model=transcription_model,
        language=language,
        turn_detection=_turn_detection(r, api_version),
        noise_reduction=None if noise == "none" else noise,
        echo_cancellation=True if echo is None else echo,
        voice_endpoint_id=endpoint_id,
        voice_model=voice_model,
    )


def _required_for(r: Resolver, dest: str, voice_type: str | None, needed_by: str) -> str | None:
    value = r.text(dest)
    if value is not None and voice_type != needed_by:
        r.refuse(dest, f"applies only to --voice-type {needed_by}")
    if value is None and voice_type == needed_by:
        r.fail(dest, f"set for an {needed_by} voice")
    return value


def _turn_detection(r: Resolver, api_version: str) -> TurnDetectionSettings:
    vad = r.choice("vad", (*VAD_TYPES, "none")) or "server_vad"
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
        if r.given(dest) and vad not in vads:
            allowed = _or_list([v for v in VAD_TYPES if v in vads])
            r.refuse(dest, f"applies only to --vad {allowed}, but --vad is {vad}")

    eou_model = r.choice("eou_model", EOU_MODELS)
    if eou_model in (None, "none"):
        for dest in ("eou_threshold", "eou_timeout_ms"):
            if r.given(dest):
                r.refuse(dest, "needs --eou-model (VOICELIVE_EOU_MODEL)")
    eou_threshold: str | None
    if uses_legacy_eou_fields(api_version):
        number = r.number("eou_threshold")
        eou_threshold = None if number is None else f"{number:g}"
    else:
        eou_threshold = r.choice("eou_threshold", EOU_LEVELS)
    auto_truncate = r.boolean("auto_truncate")
    if auto_truncate and not supports_auto_truncate(api_version):
        r.refuse("auto_truncate", f"needs --api-version 2025-10-01 or later, not {api_version}")
    interrupt = r.boolean("interrupt")
    return TurnDetectionSettings(
        vad_type=None if vad == "none" else vad,
        threshold=r.number("vad_threshold"),
        eagerness=r.choice("vad_eagerness", EAGERNESS),
        prefix_padding_ms=r.integer("prefix_padding_ms"),
        silence_duration_ms=r.integer("silence_duration_ms"),
        remove_filler_words=r.boolean("remove_filler_words"),
        eou_model=None if eou_model == "none" else eou_model,
        eou_threshold=eou_threshold,
        eou_timeout_ms=r.integer("eou_timeout_ms"),
        interrupt_response=True if interrupt is None else interrupt,
        auto_truncate=bool(auto_truncate),
    )


def _or_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _audio(r: Resolver) -> AudioSettings:
    defaults = AudioSettings()
    input_file = _path(r, "input_file")
    output_file = _path(r, "output_file")
    if input_file is not None:
        if not input_file.is_file():
            r.fail("input_file", "an existing WAV file")
        if r.given("input_device"):
            r.refuse("input_device", "cannot be combined with --input-file")
    if output_file is not None:
        if not output_file.parent.is_dir():
            r.fail("output_file", "a WAV file path in an existing directory")
        if r.given("output_device"):
            r.refuse("output_device", "cannot be combined with --output-file")
    prebuffer = r.integer("prebuffer_ms")
    chunk = r.integer("chunk_ms")
    device_rate = r.integer("device_rate")
    output_latency = r.integer("output_latency_ms")
    return AudioSettings(
        input_device=r.text("input_device"),
        output_device=r.text("output_device"),
        prebuffer_ms=defaults.prebuffer_ms if prebuffer is None else prebuffer,
        chunk_ms=defaults.chunk_ms if chunk is None else chunk,
        device_rate=device_rate,
        output_latency_ms=defaults.output_latency_ms if output_latency is None else output_latency,
        input_file=input_file,
        output_file=output_file,
    )


def _path(r: Resolver, dest: str) -> Path | None:
    value = r.text(dest)
    return None if value is None else Path(value).expanduser()


def _log(r: Resolver) -> LogSettings:
    defaults = LogSettings()
    log_file = r.text("log_file")
    path: Path | None = defaults.log_file
    if log_file is not None:
        path = None if log_file.lower() == "none" else Path(log_file).expanduser()
    if path is not None and path.is_dir():
        r.fail("log_file", "a file path (not a directory) or none")
    return LogSettings(
        log_file=path,
        log_level=r.choice("log_level", LOG_LEVELS, upper=True) or defaults.log_level,
        debug=bool(r.boolean("debug")),
    )
