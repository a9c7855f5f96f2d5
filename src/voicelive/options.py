"""The one table of ``voicelive chat`` options, and what is made from it.

Each row is a flag, its environment variables (the first preferred, a second one being the name
Microsoft's quickstart uses), the default as the docs state it, what it means, and the kind of
value with its range or choices. From this table come the Typer parameters of ``voicelive chat``
(:func:`parameters`: types, ``min``/``max``, choices and ``--help`` text, so Typer converts and
range-checks every value), the README table (:func:`options_markdown`) and ``.env.example``
(:func:`env_example`); tests keep the last two equal to the files.

Precedence (flag > environment > ``.env`` > default) and the cross-option rules are in
:mod:`voicelive.config`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

import typer

from voicelive.protocol.session import VAD_TYPES, VOICE_TYPES
from voicelive.settings import (
    DEFAULT_API_VERSION,
    DEFAULT_MODEL,
    DEFAULT_TOKEN_SCOPE,
    KNOWN_API_VERSIONS,
)

Kind = Literal["text", "int", "float", "choice", "bool"]

EAGERNESS: Final = ("low", "medium", "high", "auto")
EOU_MODELS: Final = ("semantic_detection_v1", "semantic_detection_v1_multilingual", "none")
NOISE_REDUCTION: Final = ("azure_deep_noise_suppression", "near_field", "far_field", "none")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_UNITS: Final = {"MS": " of milliseconds", "HZ": " of hertz"}


@dataclass(frozen=True)
class OptionSpec:
    """One ``voicelive chat`` option: one row of the table.

    ``dest`` is the Typer parameter name; ``envvars`` the variables, first preferred;
    ``default`` how the default reads in the docs; ``example`` the value ``.env.example`` shows;
    ``low``/``high`` the inclusive range of numbers; ``choices`` the accepted words (any case).
    """

    dest: str
    envvars: tuple[str, ...]
    default: str
    meaning: str
    group: str
    kind: Kind = "text"
    metavar: str = "TEXT"
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    negative: str | None = None
    example: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")

    @property
    def variable(self) -> str:
        """The preferred environment variable."""
        return self.envvars[0]

    def expected(self) -> str:
        """What a value must be, for messages: ``a whole number of milliseconds from 0 to 5000``."""
        if self.kind == "int":
            return f"a whole number{_UNITS.get(self.metavar, '')} from {self.low:g} to {self.high:g}"
        if self.kind == "float":
            return f"a number from {self.low:g} to {self.high:g}"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false (1/0, yes/no, on/off)"
        return "text"


def _opt(
    dest: str,
    envvars: str | tuple[str, ...],
    default: str,
    meaning: str,
    group: str,
    metavar: str = "TEXT",
    *,
    kind: Kind = "text",
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
    negative: str | None = None,
    example: str | None = None,
) -> OptionSpec:
    if low is not None and high is not None:
        meaning = meaning.replace("{range}", f"{low:g} to {high:g}")
    if example is None:  # a plain default is also the example; "(service default)" is not
        example = {"on": "true", "off": "false"}.get(default, default)
        example = "" if example.startswith("(") else example
    names = (envvars,) if isinstance(envvars, str) else envvars
    return OptionSpec(
        dest, names, default, meaning, group, kind, metavar, low, high, choices, negative, example
    )


def _int(dest: str, default: str, meaning: str, group: str, metavar: str, low: int, high: int,
         example: str | None = None) -> OptionSpec:  # fmt: skip
    variable = "VOICELIVE_" + dest.upper()
    return _opt(dest, variable, default, meaning, group, metavar, kind="int", low=low, high=high,
                example=example)  # fmt: skip


def _bool(dest: str, default: str, meaning: str, group: str, negative: str = "") -> OptionSpec:
    negative = negative or "--no-" + dest.replace("_", "-")
    variable = "VOICELIVE_" + dest.upper()
    return _opt(dest, variable, default, meaning, group, "", kind="bool", negative=negative)


_C, _V, _T, _A, _L = "Connection", "Conversation", "Turn detection", "Audio", "Logging and mode"

OPTIONS: Final[tuple[OptionSpec, ...]] = (
    # --- connection
    _opt("endpoint", ("AZURE_VOICELIVE_ENDPOINT", "AZURE_VOICE_LIVE_ENDPOINT"), "(none)",
         "Voice Live resource URL, https://<name>.services.ai.azure.com (wss:// also; ws:// and "
         "http:// only for loopback hosts).", _C, "URL",
         example="https://<your-resource>.services.ai.azure.com"),
    _opt("api_key", ("AZURE_VOICELIVE_API_KEY", "AZURE_VOICE_LIVE_API_KEY"), "(none: Entra ID)",
         "Resource API key; when absent, Entra ID is used (az login, managed identity, ...).",
         _C, "KEY", example="<your-api-key>"),
    _opt("model", ("VOICELIVE_MODEL", "VOICE_LIVE_MODEL"), DEFAULT_MODEL,
         "Model name, e.g. gpt-4o, gpt-realtime, gpt-4.1-mini.", _C, "NAME"),
    _opt("api_version", ("AZURE_VOICELIVE_API_VERSION", "AZURE_VOICE_LIVE_API_VERSION"),
         DEFAULT_API_VERSION, "Voice Live API version.", _C, "VERSION", kind="choice",
         choices=KNOWN_API_VERSIONS),
    _opt("token_scope", "AZURE_VOICELIVE_TOKEN_SCOPE", DEFAULT_TOKEN_SCOPE,
         "Entra ID token scope.", _C, "SCOPE"),
    _bool("reconnect", "on",
          "Reconnect automatically when the connection drops, with the conversation replayed.", _C),
    _int("reconnect_attempts", "8", "Reconnection attempts per outage before giving up, {range}.",
         _C, "N", 1, 100),
    _int("replay_turns", "20",
         "Turns of the conversation replayed to a new connection, {range} (0: no replay).", _C,
         "N", 0, 1000),
    _int("replay_chars", "8000", "Characters of the conversation replayed at most, {range}.", _C,
         "N", 0, 1_000_000),
    # --- conversation
    _opt("instructions", "VOICELIVE_INSTRUCTIONS", "(service default)",
         "System instructions for the assistant.", _V),
    _opt("voice", "VOICELIVE_VOICE", "(service default)",
         "Voice name, e.g. en-US-Ava:DragonHDLatestNeural or alloy.", _V, "NAME"),
    _opt("voice_type", "VOICELIVE_VOICE_TYPE", "(inferred from --voice)",
         "azure-standard, azure-custom, azure-personal or openai.", _V, "TYPE", kind="choice",
         choices=VOICE_TYPES),
    _opt("voice_temperature", "VOICELIVE_VOICE_TEMPERATURE", "(service default)",
         "Azure HD voice temperature, {range}.", _V, "FLOAT", kind="float", low=0, high=1),
    _opt("voice_endpoint_id", "VOICELIVE_VOICE_ENDPOINT_ID", "(none)",
         "Deployment id of an azure-custom voice (required for that type).", _V, "ID"),
    _opt("voice_model", "VOICELIVE_VOICE_MODEL", "(none)",
         "Base model of an azure-personal voice, e.g. DragonLatestNeural (required for that "
         "type).", _V, "NAME"),
    _opt("modalities", "VOICELIVE_MODALITIES", "text,audio",
         "Response modalities: text,audio or text.", _V, "LIST"),
    _opt("transcription_model", "VOICELIVE_TRANSCRIPTION_MODEL",
         "azure-speech (whisper-1 for gpt-realtime models)",
         "Model transcribing your speech, or none.", _V, "NAME", example="azure-speech"),
    _opt("language", "VOICELIVE_LANGUAGE", "(auto)",
         "Transcription language hint: BCP-47 such as en-US, or a list such as en,fr.", _V,
         "LANG"),
    # --- turn detection
    _opt("vad", "VOICELIVE_VAD", "server_vad",
         "Turn detection: server_vad, azure_semantic_vad, azure_semantic_vad_multilingual, "
         "semantic_vad, or none (no automatic turns).", _T, "TYPE", kind="choice",
         choices=(*VAD_TYPES, "none")),
    _opt("vad_threshold", "VOICELIVE_VAD_THRESHOLD", "(service default, 0.5)",
         "Speech activation threshold, {range} (not semantic_vad).", _T, "FLOAT", kind="float",
         low=0, high=1),
    _opt("vad_eagerness", "VOICELIVE_VAD_EAGERNESS", "(service default, auto)",
         "How soon semantic_vad ends a turn: low, medium, high or auto (semantic_vad only).",
         _T, "LEVEL", kind="choice", choices=EAGERNESS),
    _int("prefix_padding_ms", "(service default)", "Audio kept before detected speech, {range} ms.",
         _T, "MS", 0, 5000),
    _int("silence_duration_ms", "(service default, 500)", "Silence that ends a turn, {range} ms.",
         _T, "MS", 50, 5000),
    _bool("remove_filler_words", "(service default, off)",
          "Ignore filler words (um, ah) as turn starts; azure semantic VADs only.", _T,
          negative="--keep-filler-words"),
    _opt("eou_model", "VOICELIVE_EOU_MODEL", "none",
         "End-of-utterance model: semantic_detection_v1, semantic_detection_v1_multilingual or "
         "none (server_vad and azure semantic VADs).", _T, "MODEL", kind="choice",
         choices=EOU_MODELS),
    _opt("eou_threshold", "VOICELIVE_EOU_THRESHOLD", "(service default)",
         "End-of-utterance threshold: low, medium, high or default; on 2025-05-01-preview a "
         "number 0 to 1.", _T, "LEVEL"),
    _int("eou_timeout_ms", "(service default, 1000)", "End-of-utterance timeout, {range} ms.", _T,
         "MS", 1, 60_000),
    _bool("interrupt", "on", "Let speech interrupt the assistant (barge-in).", _T),
    _bool("auto_truncate", "off",
          "Let the service truncate interrupted replies instead of the client.", _T),
    # --- audio
    _opt("noise_reduction", "VOICELIVE_NOISE_REDUCTION", "azure_deep_noise_suppression",
         "azure_deep_noise_suppression, near_field, far_field (gpt-realtime models) or none.",
         _A, "TYPE", kind="choice", choices=NOISE_REDUCTION),
    _bool("echo_cancellation", "on", "Server-side echo cancellation (for open speakers).", _A),
    _opt("input_device", "VOICELIVE_INPUT_DEVICE", "(system default)",
         "Microphone: index or name substring (see voicelive devices).", _A, "DEVICE"),
    _opt("output_device", "VOICELIVE_OUTPUT_DEVICE", "(system default)",
         "Speaker: index or name substring (see voicelive devices).", _A, "DEVICE"),
    _int("prebuffer_ms", "40", "Audio buffered before a reply starts playing, {range} ms.", _A,
         "MS", 0, 2000),
    _int("chunk_ms", "20", "Microphone audio per message, {range} ms.", _A, "MS", 10, 100),
    _int("output_latency_ms", "20", "Speaker buffer PortAudio keeps, {range} ms: lower is "
         "snappier, higher survives a busy machine.", _A, "MS", 1, 1000),
    _int("device_rate", "(24000 if the device takes it, else its own)",
         "Open the audio devices at this rate (Hz, {range}) and resample.", _A, "HZ", 8000,
         192_000, example="48000"),
    _opt("input_file", "VOICELIVE_INPUT_FILE", "(microphone)",
         "Read the user's audio from this WAV file instead of the microphone.", _A, "WAV"),
    _opt("output_file", "VOICELIVE_OUTPUT_FILE", "(speaker)",
         "Write the assistant's audio to this WAV file instead of the speaker.", _A, "WAV"),
    # --- logging and mode
    _opt("log_file", "VOICELIVE_LOG_FILE", "voicelive.log",
         "Debug log file (mode 0600, secrets redacted), or none.", _L, "PATH"),
    _opt("log_level", "VOICELIVE_LOG_LEVEL", "DEBUG",
         "Log file level: DEBUG, INFO, WARNING, ERROR or CRITICAL.", _L, "LEVEL", kind="choice",
         choices=LOG_LEVELS),
    _opt("stats_json", "VOICELIVE_STATS_JSON", "(none)",
         "Write per-turn latency and session statistics as JSON to this file at exit.", _L,
         "FILE"),
    _bool("debug", "off", "Show tracebacks on errors.", _L),
    _bool("simulate", "off", "Talk to the bundled offline simulator instead of Azure.", _L),
)  # fmt: skip

SPECS: Final[dict[str, OptionSpec]] = {spec.dest: spec for spec in OPTIONS}

_TYPES: Final[dict[str, Any]] = {"text": str, "int": int, "float": float, "bool": bool}


def help_text(spec: OptionSpec) -> str:
    """The ``--help`` line of ``spec``: meaning, variables and default."""
    return f"{spec.meaning} [env var: {', '.join(spec.envvars)}] [default: {spec.default}]"


def parameters() -> list[inspect.Parameter]:
    """The Typer parameters of ``voicelive chat``, one per row, all defaulting to None.

    None means "not given": :mod:`voicelive.config` then fills in the environment, ``.env`` or
    the settings' default. Typer converts each value to its kind and refuses numbers out of
    range and words not among the choices (any case; the value becomes the listed spelling).
    """
    params = []
    for spec in OPTIONS:
        kind = Literal.__getitem__(spec.choices) if spec.kind == "choice" else _TYPES[spec.kind]
        decls = f"{spec.flag}/{spec.negative}" if spec.negative else spec.flag
        option = typer.Option(
            decls,
            help=help_text(spec),
            metavar=spec.metavar or None,
            show_default=False,
            min=spec.low,
            max=spec.high,
            case_sensitive=False,
        )
        annotation = Annotated[kind | None, option]  # type: ignore[valid-type]
        params.append(
            inspect.Parameter(spec.dest, inspect.Parameter.KEYWORD_ONLY, default=None,
                              annotation=annotation)  # fmt: skip
        )
    return params


def options_markdown() -> str:
    """A Markdown table ``flag | variable | default | meaning`` of every option, for the README."""
    lines = ["| flag | variable | default | meaning |", "|---|---|---|---|"]
    for spec in OPTIONS:
        flag = f"`{spec.flag}` / `{spec.negative}`" if spec.negative else f"`{spec.flag}`"
        variables = "<br>".join(f"`{name}`" for name in spec.envvars)
        meaning = spec.meaning.replace("<", "&lt;").replace(">", "&gt;")  # not HTML tags
        lines.append(f"| {flag} | {variables} | {spec.default} | {meaning} |")
    return "\n".join(lines) + "\n"


_ENV_HEADER = """\
# voicelive configuration: copy to .env in the directory you run voicelive from.
# Generated from src/voicelive/options.py (python -m voicelive.options > .env.example).
# Precedence: command-line flag > environment variable > .env > default.
# Every line is commented out, so the defaults apply until you uncomment one.
# Empty values count as unset. Booleans: 1/true/yes/on or 0/false/no/off.
# Never commit a real key: .env is in .gitignore.
"""


def env_example() -> str:
    """The text of ``.env.example``: every option, grouped, commented out, wrapped at 100."""
    import textwrap

    out = [_ENV_HEADER]
    group = ""
    for spec in OPTIONS:
        if spec.group != group:
            group = spec.group
            out.append(f"\n# ===== {group} =====\n")
        flag = f"{spec.flag} / {spec.negative}" if spec.negative else spec.flag
        text = f"{flag}: {spec.meaning} Default: {spec.default}."
        if len(spec.envvars) > 1:
            text += f" Also read as {', '.join(spec.envvars[1:])} (the quickstart's name)."
        comment = textwrap.wrap(text, 98, break_on_hyphens=False)
        out.append("\n" + "".join(f"# {line}\n" for line in comment))
        out.append(f"# {spec.variable}={spec.example}\n")
    return "".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(env_example(), end="")
