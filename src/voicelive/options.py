"""The table of ``voicelive chat`` options: flag, environment variables, default, meaning, range.

This module is data only. :mod:`voicelive.config` resolves and validates values against it,
:mod:`voicelive.cli` builds its ``--help`` text from it, and :func:`options_markdown` renders
it for the README, so the three never drift apart.

Every option can be given as a flag, as an environment variable, or in a ``.env`` file in the
working directory, in that order of precedence (flag > environment > ``.env`` > default). When an
option has several variables, the first one that is set wins, in the order listed. An empty
value counts as unset. Boolean variables accept ``1/true/yes/on`` and ``0/false/no/off``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from voicelive.settings import DEFAULT_API_VERSION, DEFAULT_MODEL, DEFAULT_TOKEN_SCOPE

RANGES: Final[dict[str, tuple[float, float]]] = {
    # dest: (lowest, highest), both inclusive. The service documents few bounds; where it does
    # not, these are generous limits that still catch typos such as seconds given as ms.
    "voice_temperature": (0.0, 1.0),
    "vad_threshold": (0.0, 1.0),
    "prefix_padding_ms": (0, 5000),
    "silence_duration_ms": (50, 5000),
    "eou_threshold": (0.0, 1.0),  # only 2025-05-01-preview takes a number here
    "eou_timeout_ms": (1, 60_000),
    "prebuffer_ms": (0, 2000),
    "chunk_ms": (10, 100),
    "device_rate": (8000, 192_000),
    "output_latency_ms": (1, 1000),
}


def range_text(dest: str) -> str:
    """The range of ``dest`` as text, e.g. ``"0 to 5000"``."""
    low, high = RANGES[dest]
    return f"{low:g} to {high:g}"


@dataclass(frozen=True)
class OptionSpec:
    """One ``voicelive chat`` option.

    ``dest`` is the Typer parameter name and the key of the raw values mapping; ``flag`` is the
    primary flag (used in messages); ``negative`` the ``--no-…`` form of boolean options;
    ``envvars`` the variables, first preferred; ``default`` how the default reads in docs.
    """

    dest: str
    flag: str
    envvars: tuple[str, ...]
    default: str
    meaning: str
    group: str
    metavar: str = "TEXT"
    negative: str | None = None
    is_bool: bool = False

    @property
    def variable(self) -> str:
        """The preferred environment variable."""
        return self.envvars[0]

    @property
    def decl(self) -> str:
        """The Typer/click declaration: ``--flag`` or ``--flag/--no-flag``."""
        if self.negative:
            return f"{self.flag}/{self.negative}"
        return self.flag


def _opt(
    dest: str,
    envvars: str | tuple[str, ...],
    default: str,
    meaning: str,
    group: str,
    metavar: str = "TEXT",
    negative: str | None = None,
) -> OptionSpec:
    flag = "--" + dest.replace("_", "-")
    names = (envvars,) if isinstance(envvars, str) else envvars
    return OptionSpec(dest, flag, names, default, meaning, group, metavar, negative)


def _bool(
    dest: str, envvar: str, default: str, meaning: str, group: str, negative: str | None = None
) -> OptionSpec:
    flag = "--" + dest.replace("_", "-")
    neg = negative or "--no-" + dest.replace("_", "-")
    return OptionSpec(dest, flag, (envvar,), default, meaning, group, "", neg, True)


_C, _V, _T, _A, _L = "Connection", "Conversation", "Turn detection", "Audio", "Logging and mode"

OPTIONS: Final[tuple[OptionSpec, ...]] = (
    # --- connection
    _opt("endpoint", ("AZURE_VOICELIVE_ENDPOINT", "AZURE_VOICE_LIVE_ENDPOINT"), "(none)",
         "Voice Live resource URL, https://<name>.services.ai.azure.com (wss:// also; ws:// and "
         "http:// only for loopback hosts).", _C, "URL"),
    _opt("api_key", ("AZURE_VOICELIVE_API_KEY", "AZURE_VOICE_LIVE_API_KEY"), "(none: Entra ID)",
         "Resource API key; when absent, Entra ID is used (az login, managed identity, ...).",
         _C, "KEY"),
    _opt("model", ("VOICELIVE_MODEL", "VOICE_LIVE_MODEL"), DEFAULT_MODEL,
         "Model name, e.g. gpt-4o, gpt-realtime, gpt-4.1-mini.", _C, "NAME"),
    _opt("api_version", ("AZURE_VOICELIVE_API_VERSION", "AZURE_VOICE_LIVE_API_VERSION"),
         DEFAULT_API_VERSION, "Voice Live API version.", _C, "VERSION"),
    _opt("token_scope", "AZURE_VOICELIVE_TOKEN_SCOPE", DEFAULT_TOKEN_SCOPE,
         "Entra ID token scope.", _C, "SCOPE"),
    # --- conversation
    _opt("instructions", "VOICELIVE_INSTRUCTIONS", "(service default)",
         "System instructions for the assistant.", _V),
    _opt("voice", "VOICELIVE_VOICE", "(service default)",
         "Voice name, e.g. en-US-Ava:DragonHDLatestNeural or alloy.", _V, "NAME"),
    _opt("voice_type", "VOICELIVE_VOICE_TYPE", "(inferred from --voice)",
         "azure-standard, azure-custom, azure-personal or openai.", _V, "TYPE"),
    _opt("voice_temperature", "VOICELIVE_VOICE_TEMPERATURE", "(service default)",
         f"Azure HD voice temperature, {range_text('voice_temperature')}.", _V, "FLOAT"),
    _opt("voice_endpoint_id", "VOICELIVE_VOICE_ENDPOINT_ID", "(none)",
         "Deployment id of an azure-custom voice (required for that type).", _V, "ID"),
    _opt("voice_model", "VOICELIVE_VOICE_MODEL", "(none)",
         "Base model of an azure-personal voice, e.g. DragonLatestNeural (required for that "
         "type).", _V, "NAME"),
    _opt("modalities", "VOICELIVE_MODALITIES", "text,audio",
         "Response modalities: text,audio or text.", _V, "LIST"),
    _opt("transcription_model", "VOICELIVE_TRANSCRIPTION_MODEL",
         "azure-speech (whisper-1 for gpt-realtime models)",
         "Model transcribing your speech, or none.", _V, "NAME"),
    _opt("language", "VOICELIVE_LANGUAGE", "(auto)",
         "Transcription language hint: BCP-47 such as en-US, or a list such as en,fr.", _V,
         "LANG"),
    # --- turn detection
    _opt("vad", "VOICELIVE_VAD", "server_vad",
         "Turn detection: server_vad, azure_semantic_vad, azure_semantic_vad_multilingual, "
         "semantic_vad, or none (no automatic turns).", _T, "TYPE"),
    _opt("vad_threshold", "VOICELIVE_VAD_THRESHOLD", "(service default, 0.5)",
         f"Speech activation threshold, {range_text('vad_threshold')} (not semantic_vad).",
         _T, "FLOAT"),
    _opt("vad_eagerness", "VOICELIVE_VAD_EAGERNESS", "(service default, auto)",
         "How soon semantic_vad ends a turn: low, medium, high or auto (semantic_vad only).",
         _T, "LEVEL"),
    _opt("prefix_padding_ms", "VOICELIVE_PREFIX_PADDING_MS", "(service default)",
         f"Audio kept before detected speech, {range_text('prefix_padding_ms')} ms.", _T, "MS"),
    _opt("silence_duration_ms", "VOICELIVE_SILENCE_DURATION_MS", "(service default, 500)",
         f"Silence that ends a turn, {range_text('silence_duration_ms')} ms.", _T, "MS"),
    _bool("remove_filler_words", "VOICELIVE_REMOVE_FILLER_WORDS", "(service default, off)",
          "Ignore filler words (um, ah) as turn starts; azure semantic VADs only.", _T,
          negative="--keep-filler-words"),
    _opt("eou_model", "VOICELIVE_EOU_MODEL", "none",
         "End-of-utterance model: semantic_detection_v1, semantic_detection_v1_multilingual or "
         "none (server_vad and azure semantic VADs).", _T, "MODEL"),
    _opt("eou_threshold", "VOICELIVE_EOU_THRESHOLD", "(service default)",
         "End-of-utterance threshold: low, medium, high or default; on 2025-05-01-preview a "
         f"number {range_text('eou_threshold')}.", _T, "LEVEL"),
    _opt("eou_timeout_ms", "VOICELIVE_EOU_TIMEOUT_MS", "(service default, 1000)",
         f"End-of-utterance timeout, {range_text('eou_timeout_ms')} ms.", _T, "MS"),
    _bool("interrupt", "VOICELIVE_INTERRUPT", "on",
          "Let speech interrupt the assistant (barge-in).", _T),
    _bool("auto_truncate", "VOICELIVE_AUTO_TRUNCATE", "off",
          "Let the service truncate interrupted replies instead of the client.", _T),
    # --- audio
    _opt("noise_reduction", "VOICELIVE_NOISE_REDUCTION", "azure_deep_noise_suppression",
         "azure_deep_noise_suppression, near_field, far_field (gpt-realtime models) or none.",
         _A, "TYPE"),
    _bool("echo_cancellation", "VOICELIVE_ECHO_CANCELLATION", "on",
          "Server-side echo cancellation (for open speakers).", _A),
    _opt("input_device", "VOICELIVE_INPUT_DEVICE", "(system default)",
         "Microphone: index or name substring (see voicelive devices).", _A, "DEVICE"),
    _opt("output_device", "VOICELIVE_OUTPUT_DEVICE", "(system default)",
         "Speaker: index or name substring (see voicelive devices).", _A, "DEVICE"),
    _opt("prebuffer_ms", "VOICELIVE_PREBUFFER_MS", "40",
         f"Audio buffered before a reply starts playing, {range_text('prebuffer_ms')} ms.", _A,
         "MS"),
    _opt("chunk_ms", "VOICELIVE_CHUNK_MS", "20",
         f"Microphone audio per message, {range_text('chunk_ms')} ms.", _A, "MS"),
    _opt("output_latency_ms", "VOICELIVE_OUTPUT_LATENCY_MS", "20",
         f"Speaker buffer PortAudio keeps, {range_text('output_latency_ms')} ms: lower is "
         "snappier, higher survives a busy machine.", _A, "MS"),
    _opt("device_rate", "VOICELIVE_DEVICE_RATE", "(24000 if the device takes it, else its own)",
         f"Open the audio devices at this rate (Hz, {range_text('device_rate')}) and resample.",
         _A, "HZ"),
    _opt("input_file", "VOICELIVE_INPUT_FILE", "(microphone)",
         "Read the user's audio from this WAV file instead of the microphone.", _A, "WAV"),
    _opt("output_file", "VOICELIVE_OUTPUT_FILE", "(speaker)",
         "Write the assistant's audio to this WAV file instead of the speaker.", _A, "WAV"),
    # --- logging and mode
    _opt("log_file", "VOICELIVE_LOG_FILE", "voicelive.log",
         "Debug log file (mode 0600, secrets redacted), or none.", _L, "PATH"),
    _opt("log_level", "VOICELIVE_LOG_LEVEL", "DEBUG",
         "Log file level: DEBUG, INFO, WARNING, ERROR or CRITICAL.", _L, "LEVEL"),
    _bool("debug", "VOICELIVE_DEBUG", "off", "Show tracebacks on errors.", _L),
    _bool("simulate", "VOICELIVE_SIMULATE", "off",
          "Talk to the bundled offline simulator instead of Azure.", _L),
)  # fmt: skip

SPECS: Final[dict[str, OptionSpec]] = {spec.dest: spec for spec in OPTIONS}


def help_text(dest: str) -> str:
    """The ``--help`` line for ``dest``: meaning, variables and default."""
    spec = SPECS[dest]
    return f"{spec.meaning} [env var: {', '.join(spec.envvars)}] [default: {spec.default}]"


def options_markdown() -> str:
    """A Markdown table ``flag | variable | default | meaning`` of every option, for the README."""
    lines = ["| flag | variable | default | meaning |", "|---|---|---|---|"]
    for spec in OPTIONS:
        flag = f"`{spec.flag}` / `{spec.negative}`" if spec.negative else f"`{spec.flag}`"
        variables = "<br>".join(f"`{name}`" for name in spec.envvars)
        meaning = spec.meaning.replace("<", "&lt;").replace(">", "&gt;")  # not HTML tags
        lines.append(f"| {flag} | {variables} | {spec.default} | {meaning} |")
    return "\n".join(lines) + "\n"
