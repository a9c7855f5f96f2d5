"""Field-level validation of session and response parameters, as the service checks them.

Each checker raises :class:`SessionError` with an OpenAI-style ``code`` and the dotted
``param`` path (``session.turn_detection.threshold``). Ranges follow the Voice Live reference
(see shared protocol notes §4); where the documentation and the SDK disagree the
documentation wins (temperature 0.6 to 1.2, ``max_response_output_tokens`` 1 to 4096 or
``"inf"``). Pure functions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from .audio import INPUT_FORMATS, INPUT_RATES, OUTPUT_FORMATS


class SessionError(ValueError):
    """A rejected parameter: ``code``, human ``message`` and the dotted ``param`` path."""

    def __init__(self, code: str, message: str, param: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


Checker = Callable[[Any, str], None]

OPENAI_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)
VAD_TYPES = (
    "server_vad",
    "semantic_vad",
    "azure_semantic_vad",
    "azure_semantic_vad_multilingual",
    "azure_semantic_vad_en",
)
EOU_MODELS = (
    "semantic_detection_v1",
    "semantic_detection_v1_en",
    "semantic_detection_v1_multilingual",
    "smart_end_of_turn_detection",
)
TRANSCRIPTION_MODELS = (
    "whisper-1",
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-transcribe-diarize",
    "azure-speech",
    "mai-transcribe",
    "mai-transcribe-1",
    "mai-transcribe-2",
)
_VOICE_OPTIONAL = frozenset(
    {
        "temperature",
        "custom_lexicon_url",
        "custom_text_normalization_url",
        "prefer_locales",
        "locale",
        "style",
        "pitch",
        "rate",
        "volume",
    }
)
_VOICE_FIELDS: dict[str, frozenset[str]] = {
    "openai": frozenset({"type", "name"}),
    "azure-standard": frozenset({"type", "name"}) | _VOICE_OPTIONAL,
    "azure-custom": frozenset({"type", "name", "endpoint_id"}) | _VOICE_OPTIONAL,
    "azure-personal": frozenset({"type", "name", "model"}) | _VOICE_OPTIONAL,
    "avatar-voice-sync": frozenset({"type", "name", "model"}) | _VOICE_OPTIONAL,
    "azure-realtime-native": frozenset({"type", "name"}),
}
_TD_COMMON = frozenset(
    {
        "type",
        "threshold",
        "prefix_padding_ms",
        "silence_duration_ms",
        "speech_duration_ms",
        "end_of_utterance_detection",
        "create_response",
        "interrupt_response",
        "auto_truncate",
    }
)
TOLERATED_TD_FIELDS = frozenset({"speech_duration_assistant_speaking_ms"})
"""``turn_detection`` fields accepted (type-checked, kept, logged) though neither the reference
nor the SDK models name them: Microsoft's live suite sends them, so the service takes them. The
simulator does not model them (its barge-in needs ``speech_duration_ms`` as any turn does)."""
_TD_COMMON = _TD_COMMON | TOLERATED_TD_FIELDS
_TD_FIELDS: dict[str, frozenset[str]] = {
    "server_vad": _TD_COMMON,
    "semantic_vad": frozenset(
        {"type", "eagerness", "create_response", "interrupt_response", "auto_truncate"}
    ),
    "azure_semantic_vad": _TD_COMMON
    | {"remove_filler_words", "languages", "appended_text_after_truncation"},
    "azure_semantic_vad_multilingual": _TD_COMMON
    | {"remove_filler_words", "languages", "appended_text_after_truncation"},
    "azure_semantic_vad_en": _TD_COMMON | {"remove_filler_words", "appended_text_after_truncation"},
}
_EOU_GA = frozenset({"model", "threshold_level", "timeout_ms"})
_EOU_LEGACY = frozenset(
    {
        "model",
        "threshold",
        "timeout",
        "secondary_threshold",
        "secondary_timeout",
        "disable_rules",
        "sr_boost",
        "extra_imend_check",
    }
)


# --- primitives ---------------------------------------------------------------------------


def _unknown(param: str) -> SessionError:
    return SessionError("unknown_parameter", f"Unknown parameter: '{param}'.", param)


def _invalid(param: str, detail: str) -> SessionError:
    return SessionError("invalid_value", f"Invalid value for '{param}': {detail}.", param)


def _obj(value: Any, param: str, allowed: Collection[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SessionError(
            "invalid_type", f"Invalid type for '{param}': expected an object.", param
        )
    for key in value:
        if key not in allowed:
            raise _unknown(f"{param}.{key}")
    return value


def _enum(value: Any, param: str, choices: Collection[Any]) -> None:
    if value not in choices:
        raise _invalid(param, f"{value!r}; supported values are: {', '.join(map(repr, choices))}")


def _number(value: Any, param: str, lo: float, hi: float, integer: bool = False) -> None:
    is_num = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_num or (integer and not isinstance(value, int)):
        kind = "an integer" if integer else "a number"
        raise SessionError("invalid_type", f"Invalid type for '{param}': expected {kind}.", param)
    if value < lo:
        raise SessionError("invalid_value", f"'{param}' must be >= {lo}, got {value}.", param)
    if value > hi:
        raise SessionError("invalid_value", f"'{param}' must be <= {hi}, got {value}.", param)


def _bool(value: Any, param: str) -> None:
    if not isinstance(value, bool):
        raise SessionError(
            "invalid_type", f"Invalid type for '{param}': expected a boolean.", param
        )


def _string(value: Any, param: str) -> None:
    if not isinstance(value, str):
        raise SessionError("invalid_type", f"Invalid type for '{param}': expected a string.", param)


def _str_list(value: Any, param: str, choices: Collection[str] | None = None) -> None:
    if not isinstance(value, list):
        raise SessionError("invalid_type", f"Invalid type for '{param}': expected an array.", param)
    for i, item in enumerate(value):
        _string(item, f"{param}[{i}]")
        if choices is not None:
            _enum(item, f"{param}[{i}]", choices)


# --- fields -------------------------------------------------------------------------------


def check_modalities(value: Any, param: str) -> None:
    _str_list(value, param, ("text", "audio", "avatar", "animation"))
    if "text" not in value:
        raise _invalid(param, "modalities must include 'text' (audio-only is not supported)")


def check_voice(value: Any, param: str) -> None:
    if isinstance(value, str):
        _enum(value, param, OPENAI_VOICES)
        return
    if not isinstance(value, dict):
        raise SessionError("invalid_type", f"Invalid type for '{param}'.", param)
    _enum(value.get("type"), f"{param}.type", tuple(_VOICE_FIELDS))
    _obj(value, param, _VOICE_FIELDS[value["type"]])
    if not isinstance(value.get("name"), str) or not value["name"]:
        raise SessionError(
            "missing_required_parameter", f"Missing '{param}.name'.", f"{param}.name"
        )
    if value["type"] == "openai":
        _enum(value["name"], f"{param}.name", OPENAI_VOICES)
    if value["type"] == "azure-custom" and not isinstance(value.get("endpoint_id"), str):
        raise SessionError(
            "missing_required_parameter", f"Missing '{param}.endpoint_id'.", f"{param}.endpoint_id"
        )
    if "temperature" in value:
        _number(value["temperature"], f"{param}.temperature", 0.0, 1.0)


def _check_eou(value: Any, param: str, legacy: bool) -> None:
    if value is None:
        return
    eou = _obj(value, param, _EOU_LEGACY if legacy else _EOU_GA)
    _enum(eou.get("model"), f"{param}.model", EOU_MODELS)
    if "threshold_level" in eou:
        _enum(
            eou["threshold_level"], f"{param}.threshold_level", ("low", "medium", "high", "default")
        )
    if "timeout_ms" in eou:
        _number(eou["timeout_ms"], f"{param}.timeout_ms", 0, 10_000, integer=True)
    if "threshold" in eou:
        _number(eou["threshold"], f"{param}.threshold", 0.0, 1.0)
    if "timeout" in eou:
        _number(eou["timeout"], f"{param}.timeout", 0.0, 10.0)


def check_turn_detection(value: Any, param: str, *, legacy_eou: bool = False) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise SessionError("invalid_type", f"Invalid type for '{param}'.", param)
    _enum(value.get("type"), f"{param}.type", VAD_TYPES)
    td = _obj(value, param, _TD_FIELDS[value["type"]])
    if "threshold" in td:
        _number(td["threshold"], f"{param}.threshold", 0.0, 1.0)
    for key in (
        "prefix_padding_ms",
        "silence_duration_ms",
        "speech_duration_ms",
        *TOLERATED_TD_FIELDS,
    ):
        if key in td:
            _number(td[key], f"{param}.{key}", 0, 10_000, integer=True)
    for key in ("create_response", "interrupt_response", "auto_truncate", "remove_filler_words"):
        if key in td:
            _bool(td[key], f"{param}.{key}")
    if "eagerness" in td:
        _enum(td["eagerness"], f"{param}.eagerness", ("low", "medium", "high", "auto"))
    if "languages" in td:
        _str_list(td["languages"], f"{param}.languages")
    if "end_of_utterance_detection" in td:
        _check_eou(
            td["end_of_utterance_detection"], f"{param}.end_of_utterance_detection", legacy_eou
        )


def _check_typed_object(choices: Collection[str], extra: Collection[str] = ()) -> Checker:
    def check(value: Any, param: str) -> None:
        if value is None:
            return
        obj = _obj(value, param, {"type", *extra})
        _enum(obj.get("type"), f"{param}.type", choices)

    return check


def check_transcription(value: Any, param: str) -> None:
    if value is None:
        return
    obj = _obj(value, param, {"model", "language", "phrase_list", "custom_speech", "prompt"})
    _enum(obj.get("model"), f"{param}.model", TRANSCRIPTION_MODELS)
    if "language" in obj:
        _string(obj["language"], f"{param}.language")
    if "phrase_list" in obj:
        _str_list(obj["phrase_list"], f"{param}.phrase_list")


def check_max_tokens(value: Any, param: str) -> None:
    if value != "inf":
        _number(value, param, 1, 4096, integer=True)


def check_tools(value: Any, param: str) -> None:
    if not isinstance(value, list):
        raise SessionError("invalid_type", f"Invalid type for '{param}': expected an array.", param)
    for i, tool in enumerate(value):
        if not isinstance(tool, dict):
            raise SessionError("invalid_type", f"Invalid type for '{param}[{i}]'.", f"{param}[{i}]")
        _enum(
            tool.get("type"), f"{param}[{i}].type", ("function", "mcp", "web_search", "file_search")
        )
        if tool["type"] == "mcp":
            for key in ("server_label", "server_url"):
                if not isinstance(tool.get(key), str) or not tool[key]:
                    raise SessionError(
                        "missing_required_parameter",
                        f"Missing '{param}[{i}].{key}'.",
                        f"{param}[{i}].{key}",
                    )
            approval = tool.get("require_approval", "always")
            if not isinstance(approval, dict):
                _enum(approval, f"{param}[{i}].require_approval", ("always", "never"))


def check_tool_choice(value: Any, param: str) -> None:
    if isinstance(value, dict):
        _enum(value.get("type"), f"{param}.type", ("function", "mcp"))
    elif not (isinstance(value, str) and value):
        # "auto", "none", "required", or (REF0715's example, protocol notes C6) the bare name
        # of a function to force.
        raise _invalid(param, f"{value!r}; expected 'auto', 'none', 'required' or a function")


def check_metadata(value: Any, param: str) -> None:
    if not isinstance(value, dict) or len(value) > 16:
        raise _invalid(param, "expected an object with at most 16 pairs")
    for key, item in value.items():
        if len(key) > 64 or not isinstance(item, str) or len(item) > 512:
            raise _invalid(f"{param}.{key}", "keys ≤ 64 chars, string values ≤ 512 chars")


def _any_object_or_null(value: Any, param: str) -> None:
    if value is not None and not isinstance(value, dict):
        raise SessionError("invalid_type", f"Invalid type for '{param}'.", param)


def _rate(value: Any, param: str) -> None:
    _enum(value, param, INPUT_RATES)


SESSION_FIELDS: dict[str, Checker] = {
    "modalities": check_modalities,
    "instructions": _string,
    "voice": check_voice,
    "input_audio_format": lambda v, p: _enum(v, p, INPUT_FORMATS),
    "input_audio_sampling_rate": _rate,
    "output_audio_format": lambda v, p: _enum(v, p, OUTPUT_FORMATS),
    "input_audio_noise_reduction": _check_typed_object(
        ("azure_deep_noise_suppression", "near_field", "far_field")
    ),
    "input_audio_echo_cancellation": _check_typed_object(
        ("server_echo_cancellation",), ("reference_source", "channels")
    ),
    "input_audio_transcription": check_transcription,
    "output_audio_timestamp_types": lambda v, p: _str_list(v, p, ("word",)),
    "animation": _any_object_or_null,
    "avatar": _any_object_or_null,
    "tools": check_tools,
    "tool_choice": check_tool_choice,
    "parallel_tool_calls": _bool,
    "temperature": lambda v, p: _number(v, p, 0.6, 1.2),
    "max_response_output_tokens": check_max_tokens,
    "reasoning_effort": lambda v, p: _enum(
        v, p, ("none", "minimal", "low", "medium", "high", "xhigh")
    ),
    "interim_response": _any_object_or_null,
    "include": lambda v, p: _str_list(
        v,
        p,
        (
            "item.input_audio_transcription.logprobs",
            "item.input_audio_transcription.phrases",
            "file_search_call.results",
        ),
    ),
    "metadata": check_metadata,
}


def check_session_field(key: str, value: Any, *, legacy_eou: bool, current: dict[str, Any]) -> None:
    """Validate one top-level field of a ``session.update``; raises :class:`SessionError`."""
    param = f"session.{key}"
    if key == "model":
        _string(value, param)
        if value != current.get("model"):
            raise _invalid(param, "the model cannot be changed during a session")
        return
    if key == "turn_detection":
        check_turn_detection(value, param, legacy_eou=legacy_eou)
        return
    checker = SESSION_FIELDS.get(key)
    if checker is None:
        raise _unknown(param)
    checker(value, param)


RESPONSE_FIELDS: dict[str, Checker] = {
    "modalities": check_modalities,
    "instructions": _string,
    "voice": check_voice,
    "output_audio_format": SESSION_FIELDS["output_audio_format"],
    "tools": check_tools,
    "tool_choice": check_tool_choice,
    "temperature": SESSION_FIELDS["temperature"],
    "max_response_output_tokens": check_max_tokens,
    "max_output_tokens": check_max_tokens,  # SDK spelling (protocol notes §2.7)
    "conversation": lambda v, p: _enum(v, p, ("auto", "none")),
    "metadata": check_metadata,
    "interim_response": _any_object_or_null,
    "reasoning_effort": SESSION_FIELDS["reasoning_effort"],
    "pre_generated_assistant_message": _any_object_or_null,
    "invoke_input": lambda v, p: None,
    "input_items": lambda v, p: None,
    "append_input_items": lambda v, p: None,
    "commit": _bool,
    "cancel_previous": _bool,
}


def check_response_params(value: Any) -> dict[str, Any]:
    """Validate ``response.create``'s ``response`` overrides; returns them (``{}`` if absent)."""
    if value is None:
        return {}
    obj = _obj(value, "response", RESPONSE_FIELDS)
    for key, item in obj.items():
        RESPONSE_FIELDS[key](item, f"response.{key}")
    return obj
