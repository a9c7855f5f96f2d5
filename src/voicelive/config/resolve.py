"""From flags, the environment, ``.env`` and the config file to one checked :class:`Settings`.

Typer parses the command line (each value as typed, text or a bool flag); the other layers
come from :mod:`voicelive.config.layers`. The rest is here, because every layer needs it alike:

* Precedence per option: a flag, else the first of its variables set in the environment, else
  the first set in ``.env`` (blank = unset), so the environment wins whichever of an option's
  two names each uses; then the config file's profile, then its top level
  (:mod:`voicelive.config.layers`).
* One conversion for every layer (:func:`_convert`: whole numbers, finite numbers in range,
  choices in any case, on/off words) and one sentence per refusal, naming the flag, the
  variable that supplied the value, the value (never the API key; an endpoint without user
  info or query) and where it came from: ``--vad-threshold (VOICELIVE_VAD_THRESHOLD) must be a
  number from 0 to 1, got '1.5' in .env.`` Refusals are :class:`ConfigError` (exit 2), raised
  before anything connects.
* The cross-option rules (:mod:`voicelive.config.rules`, which lists them).

The checked values then fill the settings fields the table names (:func:`_build`); an option not
given leaves its field's default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn, Unpack

from voicelive.config import rules
from voicelive.config.layers import Origin, Sources, gather
from voicelive.config.options import SECTIONS, SPECS, OptionSpec, field_default, shown
from voicelive.config.settings import Settings
from voicelive.errors import ConfigError

_TRUE, _FALSE = {"1", "true", "t", "yes", "y", "on"}, {"0", "false", "f", "no", "n", "off"}


def resolve_settings(flags: Mapping[str, object], **sources: Unpack[Sources]) -> Settings:
    """``flags`` (text or bool by option name, None or blank for not given) over the
    environment over ``.env`` over the chosen profile of the config file over its top level
    over the defaults, checked. Raises ConfigError."""
    values = _Values(gather(flags, **sources))
    rules.check(values)
    return _build(values.values)


def describe(flags: Mapping[str, object], **sources: Unpack[Sources]) -> list[tuple[str, str, str]]:
    """``(flag, value, where it came from)`` of every option, the API key hidden; each value
    converted, the cross-option rules not applied (``voicelive config``). ConfigError."""
    values = _Values(gather(flags, **sources))
    rows = []
    for dest, spec in SPECS.items():
        origin = values.origins.get(dest)
        value = shown(values[dest]) if origin is not None else spec.default
        if dest in ("api_key", "endpoint", "proxy") and origin is not None:
            value = "(set, hidden)" if dest == "api_key" else _quoted(spec, origin).strip("'")
        rows.append((spec.flag, value, origin.where if origin is not None else "(default)"))
    return rows


def _convert(spec: OptionSpec, raw: object) -> Any:
    """``raw`` as the kind of ``spec``; ValueError if it is not one."""
    text = str(raw).strip()
    if spec.kind == "bool":
        if isinstance(raw, bool) or text.lower() in _TRUE | _FALSE:
            return raw if isinstance(raw, bool) else text.lower() in _TRUE
        raise ValueError(text)
    if isinstance(raw, bool | list | dict):  # from the config file: a value of the wrong type
        raise ValueError(text)
    if spec.kind == "choice":
        return next(c for c in spec.choices if c.lower() == text.lower())  # StopIteration
    if spec.kind in ("int", "float"):
        number = int(text) if spec.kind == "int" else float(text)
        if not (math.isfinite(number) and (spec.low or 0) <= number <= (spec.high or 0)):
            raise ValueError(text)
        return number
    return Path(text).expanduser() if spec.kind == "path" else text


class _Values:
    """The given options, converted (``values``: only those given, so a rule can set one to
    None), with their origins, and the two ways to refuse one."""

    def __init__(self, origins: dict[str, Origin]) -> None:
        self.origins = origins
        self.values: dict[str, Any] = {}
        for dest in (dest for dest in SPECS if dest in origins):  # in the table's order
            try:
                self.values[dest] = _convert(SPECS[dest], origins[dest].raw)
            except (ValueError, StopIteration):
                self.fail(dest, SPECS[dest].expected())

    def __getitem__(self, dest: str) -> Any:
        return self.values.get(dest)

    def given(self, dest: str) -> bool:
        return self.values.get(dest) is not None

    def effective(self, dest: str) -> Any:
        """The value given, else the default of its settings field."""
        spec = SPECS[dest]
        return self.values[dest] if dest in self.values else field_default(spec.section, spec.field)

    def fail(self, dest: str, expected: str) -> NoReturn:
        raise ConfigError(_refusal(SPECS[dest], self.origins.get(dest), f"must be {expected}"))

    def refuse(self, dest: str, reason: str) -> NoReturn:
        """Refuse an option that was set although it does not apply."""
        origin = self.origins.get(dest)
        where = f", set {origin.where}," if origin is not None else ""
        raise ConfigError(f"{_name(SPECS[dest], origin)}{where} {reason}.")

    def set_by(self, dest: str) -> str:
        """``VARIABLE, set in .env``: who supplied ``dest`` (else its preferred variable)."""
        origin = self.origins.get(dest)
        if origin is None:
            return SPECS[dest].variable
        return f"{origin.variable or SPECS[dest].variable}, set {origin.where}"


def _name(spec: OptionSpec, origin: Origin | None) -> str:
    """``--flag (VARIABLE)``: the flag as typed (``--no-…`` for False), and the variable that
    supplied the value, else the preferred one."""
    variable = origin.variable if origin is not None and origin.variable else spec.variable
    negated = origin is not None and origin.raw is False and spec.negative
    return f"{spec.negative if negated else spec.flag} ({variable})"


def _refusal(spec: OptionSpec, origin: Origin | None, predicate: str) -> str:
    if origin is None:
        return f"{_name(spec, origin)} {predicate}."
    return f"{_name(spec, origin)} {predicate}, got {_quoted(spec, origin)} {origin.where}."


def _quoted(spec: OptionSpec, origin: Origin) -> str:
    """The value as given, quoted, and safe to show: never the API key, an endpoint without
    its user info and query (either may carry a key)."""
    if spec.dest == "api_key":
        return "a value (hidden)"
    if spec.dest in ("endpoint", "proxy"):  # user info: a password; a query: a key
        scheme, sep, rest = str(origin.raw).partition("?")[0].rpartition("://")
        authority, slash, path = rest.partition("/")
        return repr(f"{scheme}{sep}{authority.rpartition('@')[2]}{slash}{path}")
    if isinstance(origin.raw, bool) and origin.variable is None:
        return spec.flag if origin.raw else (spec.negative or spec.flag)
    if isinstance(origin.raw, bool):  # the config file's spelling
        return repr(str(origin.raw).lower())
    return repr(str(origin.raw))


def _build(values: Mapping[str, Any]) -> Settings:
    """The settings with the given values in their fields, the defaults elsewhere."""
    fields: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    for dest, value in values.items():
        fields[SPECS[dest].section][SPECS[dest].field] = value
    for section, (cls, place) in reversed(SECTIONS.items()):  # children before parents
        if section and fields[section]:
            parent, _, attr = place.rpartition(".")
            fields[parent][attr] = cls(**fields[section])
    return Settings(**fields[""])
