"""Where option values come from, below the flags: the environment, ``.env`` and the user's
config file (a profile of it, then its top level), each value with its :class:`Origin`.

``.env`` is read by python-dotenv, literally (no ``${VAR}``); the config file by tomllib. Its
keys are the long flag names (``vad-threshold = 0.6``); top-level keys are the user's defaults
and ``[profile.NAME]`` tables the profiles, one picked by ``--profile``/``VOICELIVE_PROFILE``.
The file is ``config.toml`` in the user's config directory (:func:`config_path`) or the one
``VOICELIVE_CONFIG`` names. Every problem is a :class:`ConfigError` (exit 2) naming the file,
the line and the key. A file that holds an API key and that others can read gets a warning
(as ssh does), through the ``warn`` callback: the CLI is the only place that prints.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Required, TypedDict

from voicelive.config.options import OPTIONS, SPECS
from voicelive.errors import ConfigError

COMMAND_LINE, ENVIRONMENT, DOTENV = "on the command line", "in the environment", "in .env"
_KEYS = {spec.flag[2:]: spec for spec in OPTIONS if spec.dest != "profile"}
_HEADER = re.compile(r"""^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$""")
_KEY = re.compile(r"""^\s*["']?([A-Za-z0-9_-]+)["']?\s*=""")


@dataclass(frozen=True)
class Origin:
    """Where a value came from (a phrase: ``in .env``, ``in FILE, line 3``), the variable or
    config-file key that supplied it (None for a flag) and the value as given."""

    where: str
    variable: str | None
    raw: object


class Sources(TypedDict, total=False):
    """Where option values come from below the flags: ``environ``, the ``.env`` file at
    ``dotenv_path`` and the config file at ``config_path`` (None: none); ``warn`` hears what is
    allowed but unwise (the CLI prints it)."""

    environ: Required[Mapping[str, str]]
    dotenv_path: Path | None
    config_path: Path | None
    warn: Callable[[str], None] | None


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


def gather(
    flags: Mapping[str, object],
    environ: Mapping[str, str],
    dotenv_path: Path | None = None,
    config_path: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Origin]:
    """Per option given anywhere, the value that wins and its origin: ``flags`` (None or blank
    for not given) over ``environ`` over ``dotenv_path`` over the file's profile and top level."""
    origins = layered(environ, read_dotenv(dotenv_path))
    for dest, value in flags.items():
        if dest in SPECS and value is not None and str(value).strip():
            origins[dest] = Origin(COMMAND_LINE, None, value)
    if config_path is None:
        return origins
    named = bool(environ.get("VOICELIVE_CONFIG", "").strip())
    return {**read_config(config_path, origins.get("profile"), named=named, warn=warn), **origins}


def config_path(environ: Mapping[str, str], platform: str = sys.platform) -> Path:
    """``VOICELIVE_CONFIG``, else ``config.toml`` in the user's config directory: Windows
    ``%APPDATA%\\voicelive``, macOS ``~/Library/Application Support/voicelive``, elsewhere
    ``$XDG_CONFIG_HOME/voicelive`` (``~/.config/voicelive`` when unset or relative)."""
    named = environ.get("VOICELIVE_CONFIG", "").strip()
    if named:
        return Path(named).expanduser()
    home = Path(environ.get("HOME") or environ.get("USERPROFILE") or Path.home())
    if platform == "win32":
        base = Path(environ["APPDATA"]) if environ.get("APPDATA") else home / "AppData/Roaming"
    elif platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = environ.get("XDG_CONFIG_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else home / ".config"
    return base / "voicelive" / "config.toml"


def read_config(
    path: Path,
    profile: Origin | None,
    *,
    named: bool = False,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Origin]:
    """The values of ``path``: the profile's over the top level's. No file is no values,
    unless ``named`` (by ``VOICELIVE_CONFIG``) or a profile is asked for. ConfigError."""
    if not path.is_file():
        if profile is not None:
            _no_profile(profile, f"there is no config file at {path}")
        if named:
            raise ConfigError(f"VOICELIVE_CONFIG names {path}, which is not a file.")
        return {}
    import tomllib  # only when there is a file: keeps --help quick

    try:
        text = path.read_text(encoding="utf-8")
        document = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"Cannot read {path}: {err.__class__.__name__}.") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}; fix it or move it away.") from None
    lines = _key_lines(text)
    profiles = document.pop("profile", {})
    if not isinstance(profiles, dict) or not all(isinstance(t, dict) for t in profiles.values()):
        raise ConfigError(f"In {path}, profile must be tables: [profile.NAME] with keys in each.")
    tables = [("", document)]
    if profile is not None:
        if str(profile.raw) not in profiles:
            have = ", ".join(sorted(profiles)) or "none"
            _no_profile(profile, f"{path} has no [profile.{profile.raw}] (its profiles: {have})")
        tables.insert(0, (f"profile.{profile.raw}", profiles[str(profile.raw)]))
    found: dict[str, Origin] = {}
    for table, values in tables:
        for key, raw in values.items():
            line = lines.get((table, key))
            where = f"in {path}" + (f", line {line}" if line else "")
            where += f" ([{table}])" if table else ""
            spec = _KEYS.get(key)
            if spec is None:
                import difflib

                near = difflib.get_close_matches(key, _KEYS, n=1)
                hint = f"; did you mean {near[0]!r}?" if near else "; the keys are the long flags."
                raise ConfigError(f"Unknown key {key!r} {where}{hint}")
            if not (isinstance(raw, str) and not raw.strip()):  # blank counts as unset
                found.setdefault(spec.dest, Origin(where, key, raw))
    if warn is not None and "api_key" in found:
        _warn_if_readable(path, warn)
    return found


def _no_profile(profile: Origin, reason: str) -> None:
    who = f"--profile ({profile.variable or SPECS['profile'].variable})"
    raise ConfigError(f"{who} asks for profile {str(profile.raw)!r}, but {reason}.")


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    """``(table, key) -> line`` of each ``key = …`` (tomllib does not say where a key was)."""
    table, lines = "", dict[tuple[str, str], int]()
    for number, line in enumerate(text.splitlines(), 1):
        header, key = _HEADER.match(line), _KEY.match(line)
        if header:
            table = ".".join(part.strip().strip("\"'") for part in header[1].split("."))
        elif key:
            lines.setdefault((table, key[1]), number)
    return lines


def _warn_if_readable(path: Path, warn: Callable[[str], None]) -> None:
    """An API key in a file that others may read: say so, as ssh does (POSIX modes only)."""
    mode = path.stat().st_mode & 0o777
    if os.name == "posix" and mode & 0o077:
        warn(
            f"{path} holds an API key and other users can read it (mode {mode:o}); "
            f"run `chmod 600 {path}`."
        )
