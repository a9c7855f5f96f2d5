"""Layered lookup of option values, and typed accessors whose errors name flag and variable.

:class:`Sources` finds an option's raw value in precedence order: command-line flag, process
environment, ``.env`` (each option may have several variable names; the first set one wins;
blank values count as unset). :class:`Resolver` turns raw values into typed ones and raises
:class:`~voicelive.errors.ConfigError` with one sentence naming the flag, the variable that
supplied the value, the value (never the API key, and an endpoint without user info or query)
and what is accepted. Pure apart from :func:`read_dotenv`; used by :mod:`voicelive.config`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from dotenv import dotenv_values

from voicelive.errors import ConfigError
from voicelive.options import RANGES, SPECS, OptionSpec

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_SECRETS = frozenset({"api_key"})


@dataclass(frozen=True)
class Raw:
    """One option's value and where it came from (for messages)."""

    value: str | bool
    where: str  # "on the command line", "in the environment", "in .env"
    variable: str | None  # the variable that supplied it, None for a flag


def read_dotenv(path: Path) -> dict[str, str]:
    """Return the non-empty ``KEY=value`` pairs of ``path``; ``{}`` when it does not exist.

    Raises :class:`ConfigError` when the file exists but cannot be read.
    """
    if not path.is_file():
        return {}
    try:
        values = dotenv_values(path, interpolate=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"Cannot read {path}: {err.__class__.__name__}.") from None
    return {key: value for key, value in values.items() if value is not None}


class Sources:
    """Looks values up in the three layers, in precedence order."""

    def __init__(
        self, flags: Mapping[str, object], environ: Mapping[str, str], dotenv: Mapping[str, str]
    ) -> None:
        self._flags = flags
        self._environ = environ
        self._dotenv = dotenv

    def get(self, dest: str) -> Raw | None:
        spec = SPECS[dest]
        flag = self._flags.get(dest)
        if isinstance(flag, bool):
            return Raw(flag, "on the command line", None)
        if isinstance(flag, str | Path) and str(flag).strip():
            return Raw(str(flag).strip(), "on the command line", None)
        for layer, origin in ((self._environ, "in the environment"), (self._dotenv, "in .env")):
            for variable in spec.envvars:
                value = layer.get(variable)
                if value is not None and value.strip():
                    return Raw(value.strip(), origin, variable)
        return None


class Resolver:
    """Typed accessors over :class:`Sources` that raise one-sentence :class:`ConfigError`."""

    def __init__(self, sources: Sources) -> None:
        self._sources = sources

    def given(self, dest: str) -> bool:
        return self._sources.get(dest) is not None

    def fail(self, dest: str, expected: str, raw: Raw | None = None) -> NoReturn:
        raw = raw or self._sources.get(dest)
        spec = SPECS[dest]
        name = _name(spec, raw)
        if raw is None:
            raise ConfigError(f"{name} must be {expected}.")
        if dest in _SECRETS:
            shown = "a value (hidden)"
        elif dest == "endpoint" and isinstance(raw.value, str):
            shown = repr(_without_credentials(raw.value))
        else:
            shown = repr(_show(raw.value, spec))
        raise ConfigError(f"{name} must be {expected}, got {shown} {raw.where}.")

    def refuse(self, dest: str, reason: str) -> NoReturn:
        """Refuse an option that was set although it does not apply."""
        raw = self._sources.get(dest)
        where = f", set {raw.where}," if raw else ""
        raise ConfigError(f"{_name(SPECS[dest], raw)}{where} {reason}.")

    def text(self, dest: str) -> str | None:
        raw = self._sources.get(dest)
        if raw is None:
            return None
        if isinstance(raw.value, bool):  # a boolean where text belongs: only from a bad caller
            self.fail(dest, "text", raw)
        return raw.value

    def choice(self, dest: str, choices: Collection[str], *, upper: bool = False) -> str | None:
        value = self.text(dest)
        if value is None:
            return None
        value = value.upper() if upper else value.lower()
        if value not in choices:
            self.fail(dest, "one of " + ", ".join(choices))
        return value

    def number(self, dest: str) -> float | None:
        low, high = RANGES[dest]
        value = self.text(dest)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not low <= number <= high:  # also refuses nan and inf
            self.fail(dest, f"a number from {low:g} to {high:g}")
        return number

    def integer(self, dest: str) -> int | None:
        low, high = RANGES[dest]
        value = self.text(dest)
        if value is None:
            return None
        unit = "milliseconds" if dest.endswith("_ms") else "hertz"
        try:
            number = int(value)
        except ValueError:
            self.fail(dest, f"a whole number of {unit} from {low:g} to {high:g}")
        if not low <= number <= high:
            self.fail(dest, f"a whole number of {unit} from {low:g} to {high:g}")
        return number

    def boolean(self, dest: str) -> bool | None:
        raw = self._sources.get(dest)
        if raw is None:
            return None
        if isinstance(raw.value, bool):
            return raw.value
        word = raw.value.lower()
        if word in _TRUE | _FALSE:
            return word in _TRUE
        self.fail(dest, "true or false (1/0, yes/no, on/off)", raw)


def _name(spec: OptionSpec, raw: Raw | None) -> str:
    variable = raw.variable if raw is not None and raw.variable else spec.variable
    flag = spec.negative if raw is not None and raw.value is False and spec.negative else spec.flag
    return f"{flag} ({variable})"


def _without_credentials(url: str) -> str:
    """``url`` without user info and query, which may carry a key (``?api-key=``)."""
    head, _, _ = url.partition("?")
    scheme, sep, rest = head.partition("://")
    if sep:
        authority, slash, path = rest.partition("/")
        return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"
    return head.rpartition("@")[2]


def _show(value: str | bool, spec: OptionSpec) -> str:
    if isinstance(value, bool):
        return spec.flag if value else (spec.negative or spec.flag)
    return value
