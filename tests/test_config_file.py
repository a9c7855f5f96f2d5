"""The user's config file: where it is, its keys and profiles, its place in the precedence,
its refusals (file, line and key named, exit 2) and the warning for a key others can read.
Real files in a temporary directory; the CLI through Typer's runner."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import voicelive.chat
import voicelive.logs
from voicelive.cli import app
from voicelive.config.layers import config_path
from voicelive.config.options import OPTIONS
from voicelive.config.resolve import resolve_settings
from voicelive.config.settings import Settings
from voicelive.errors import ConfigError

ENDPOINT = "https://res.services.ai.azure.com"
SECRET = "cfg-SECRET-0123456789abcdef"


def write(tmp_path: Path, text: str, name: str = "config.toml", mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def resolve(
    path: Path | None,
    flags: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    dotenv: Path | None = None,
    warnings: list[str] | None = None,
) -> Settings:
    sink = warnings if warnings is not None else []
    return resolve_settings(
        {"endpoint": ENDPOINT, **(flags or {})},
        environ=env or {},
        dotenv_path=dotenv,
        config_path=path,
        warn=sink.append,
    )


def refused(path: Path, flags: dict[str, Any] | None = None, **kw: Any) -> str:
    with pytest.raises(ConfigError) as info:
        resolve(path, flags, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- where the file is -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "env", "expected"),
    [
        ("linux", {"HOME": "/home/ann", "XDG_CONFIG_HOME": "/xdg"}, "/xdg"),
        ("linux", {"HOME": "/home/ann"}, "/home/ann/.config"),
        ("linux", {"HOME": "/home/ann", "XDG_CONFIG_HOME": "rel"}, "/home/ann/.config"),
        ("darwin", {"HOME": "/Users/ann"}, "/Users/ann/Library/Application Support"),
        ("win32", {"APPDATA": "C:/Users/ann/AppData/Roaming"}, "C:/Users/ann/AppData/Roaming"),
        ("win32", {"HOME": "/u"}, "/u/AppData/Roaming"),
    ],
)
def test_the_file_is_in_the_user_config_directory_of_each_system(
    platform: str, env: dict[str, str], expected: str
) -> None:
    assert config_path(env, platform) == Path(expected) / "voicelive" / "config.toml"


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_voicelive_config_names_another_file(platform: str) -> None:
    env = {"HOME": "/h", "APPDATA": "/a", "VOICELIVE_CONFIG": "~/vl.toml"}
    assert config_path(env, platform) == Path("~/vl.toml").expanduser()


# --- keys, values and the precedence -----------------------------------------------------------


def test_keys_are_the_long_flags_with_toml_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'api-version = "2026-06-01-preview"\nvad-threshold = 0.6\necho-reference = true\n'
        'reconnect-attempts = 3\nprebuffer-ms = 80\ninput-device = "pulse"\nvoice = "alloy"\n'
        "\n[profile.unused]\nmodel = 'gpt-5'\n",
    )
    s = resolve(path)
    assert s.session.turn_detection.threshold == 0.6
    assert s.session.echo_reference is True
    assert (s.connection.reconnect_attempts, s.audio.prebuffer_ms) == (3, 80)
    assert (s.audio.input_device, s.session.voice, s.connection.model) == (
        "pulse",
        "alloy",
        "gpt-4o",
    )
    assert s.profile is None


LAYERS = ("flag", "env", "dotenv", "profile", "top")


@pytest.mark.parametrize(
    "present",
    [
        LAYERS,
        LAYERS[1:],
        LAYERS[2:],
        LAYERS[3:],
        LAYERS[4:],
        (),
        ("flag", "top"),
        ("env", "profile"),
        ("dotenv", "top"),
    ],
)
def test_precedence_flag_env_dotenv_profile_top_level_default(
    tmp_path: Path, present: tuple[str, ...]
) -> None:
    """Each layer that is present holds its own name as the model; the first one wins."""
    flags = {"model": "flag", "profile": "work"}
    env = {"VOICELIVE_MODEL": "env"} if "env" in present else {}
    dotenv = write(tmp_path, "VOICELIVE_MODEL=dotenv\n" if "dotenv" in present else "", ".env")
    text = 'model = "top"\n' if "top" in present else ""
    text += "[profile.work]\n" + ('model = "profile"\n' if "profile" in present else "")
    path = write(tmp_path, text)
    if "flag" not in present:
        flags.pop("model")
    s = resolve(path, flags, env, dotenv)
    assert s.connection.model == (present[0] if present else "gpt-4o")
    assert s.profile == "work"


def test_the_profile_is_picked_by_flag_environment_or_dotenv(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f'endpoint = "{ENDPOINT}"\nvoice = "alloy"\n'
        '[profile.home]\nvoice = "echo"\n[profile.work]\nvoice = "en-US-AvaNeural"\n',
    )
    env = {"VOICELIVE_PROFILE": "home"}
    assert resolve(path, {"profile": "work"}, env).session.voice == "en-US-AvaNeural"
    assert resolve(path, env=env).session.voice == "echo"
    dotenv = write(tmp_path, "VOICELIVE_PROFILE=work\n", ".env")
    assert resolve(path, dotenv=dotenv).session.voice == "en-US-AvaNeural"
    assert resolve(path).session.voice == "alloy"


def test_no_file_is_no_values_but_a_named_missing_file_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    assert resolve(missing).connection.model == "gpt-4o"
    message = refused(missing, env={"VOICELIVE_CONFIG": str(missing)})
    assert message == f"VOICELIVE_CONFIG names {missing}, which is not a file."


# --- refusals ----------------------------------------------------------------------------------


def test_an_unknown_key_names_the_file_the_line_and_the_nearest_key(tmp_path: Path) -> None:
    path = write(tmp_path, '# mine\nmodel = "gpt-4o"\nvad-treshold = 0.6\n')
    assert refused(path) == (
        f"Unknown key 'vad-treshold' in {path}, line 3; did you mean 'vad-threshold'?"
    )
    path = write(tmp_path, '[profile.work]\n\n  "echo_reference" = true\n')
    assert refused(path, {"profile": "work"}) == (
        f"Unknown key 'echo_reference' in {path}, line 3 ([profile.work]); did you mean "
        "'echo-reference'?"
    )
    path = write(tmp_path, "[audio]\nchunk-ms = 20\n")
    assert refused(path).startswith(f"Unknown key 'audio' in {path}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "vad-threshold = 1.5\n",
            "--vad-threshold (vad-threshold) must be a number from 0 to 1, got '1.5' in {path}, "
            "line 1.",
        ),
        (
            '\n[profile.work]\nprebuffer-ms = "lots"\n',
            "--prebuffer-ms (prebuffer-ms) must be a whole number of milliseconds from 0 to "
            "2000, got 'lots' in {path}, line 3 ([profile.work]).",
        ),
        (
            'echo-reference = "maybe"\n',
            "--echo-reference (echo-reference) must be true or false (1/0, yes/no, on/off), got "
            "'maybe' in {path}, line 1.",
        ),
        ("model = true\n", "--model (model) must be text, got 'true' in {path}, line 1."),
        ("chunk-ms = [20]\n", "--chunk-ms (chunk-ms) must be a whole number of milliseconds"),
        (
            'greet-instructions = "Hi"\n',
            "--greet-instructions (greet-instructions), set in {path}, line 1, needs --greet "
            "(VOICELIVE_GREET).",
        ),
    ],
)
def test_a_bad_value_names_the_flag_the_key_the_file_and_the_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    message = refused(path, {"profile": "work"} if "profile.work" in text else None)
    assert message.startswith(expected.format(path=path)), message


def test_an_unknown_profile_names_the_profiles_there_are(tmp_path: Path) -> None:
    path = write(tmp_path, "[profile.home]\n[profile.work]\n")
    assert refused(path, {"profile": "wrok"}) == (
        f"--profile (VOICELIVE_PROFILE) asks for profile 'wrok', but {path} has no "
        "[profile.wrok] (its profiles: home, work)."
    )
    message = refused(path, env={"VOICELIVE_PROFILE": "gym"})
    assert message.startswith("--profile (VOICELIVE_PROFILE) asks for profile 'gym'")
    missing = tmp_path / "none.toml"
    assert refused(missing, {"profile": "work"}) == (
        f"--profile (VOICELIVE_PROFILE) asks for profile 'work', but there is no config file "
        f"at {missing}."
    )


def test_a_file_that_is_not_toml_is_one_sentence(tmp_path: Path) -> None:
    path = write(tmp_path, 'model = "gpt-4o\n')
    message = refused(path)
    assert message.startswith(f"{path} is not valid TOML: ")
    assert "line 1" in message
    path = write(tmp_path, 'profile = "work"\n')
    assert refused(path) == f"In {path}, profile must be tables: [profile.NAME] with keys in each."


def test_a_bad_key_in_the_file_is_never_quoted(tmp_path: Path) -> None:
    path = write(tmp_path, f'api-key = "{SECRET} with spaces"\n')
    message = refused(path)
    assert message.startswith("--api-key (api-key) must be a key without spaces")
    assert SECRET not in message


# --- the API key in the file -------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_a_key_in_a_file_others_can_read_gets_a_warning(tmp_path: Path) -> None:
    warnings: list[str] = []
    path = write(tmp_path, f'api-key = "{SECRET}"\n', mode=0o644)
    s = resolve(path, warnings=warnings)
    assert s.connection.api_key == SECRET
    assert warnings == [
        f"{path} holds an API key and other users can read it (mode 644); run `chmod 600 {path}`."
    ]
    warnings.clear()
    path.chmod(0o600)
    resolve(path, warnings=warnings)
    write(tmp_path, 'model = "gpt-4o"\n', mode=0o644)
    resolve(path, warnings=warnings)
    assert warnings == []  # private, or no key in it


# --- through the CLI ---------------------------------------------------------------------------


@pytest.fixture
def chat_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Settings]:
    """A clean environment whose config directory is in ``tmp_path``; run_chat recorded."""
    for spec in OPTIONS:
        for name in spec.envvars:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("VOICELIVE_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    runs: list[Settings] = []

    async def fake_run_chat(settings: Settings) -> int:
        runs.append(settings)
        return 0

    monkeypatch.setattr(voicelive.chat, "run_chat", fake_run_chat)
    monkeypatch.setattr(voicelive.logs, "configure", lambda settings: None)
    return runs


def test_the_cli_reads_the_file_in_the_config_directory(
    chat_runs: list[Settings], tmp_path: Path
) -> None:
    (tmp_path / "xdg" / "voicelive").mkdir(parents=True)
    write(
        tmp_path / "xdg" / "voicelive",
        f'endpoint = "{ENDPOINT}"\napi-key = "{SECRET}"\n[profile.quiet]\nchunk-ms = 40\n',
        mode=0o640,
    )
    result = CliRunner().invoke(app, ["chat", "--profile", "quiet"])
    assert result.exit_code == 0, result.output
    (settings,) = chat_runs
    assert (settings.connection.endpoint, settings.audio.chunk_ms) == (ENDPOINT, 40)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "chmod 600" in lines[0]
    assert SECRET not in result.output


def test_the_cli_refuses_a_bad_file_in_one_line_with_exit_2(
    chat_runs: list[Settings], tmp_path: Path
) -> None:
    path = write(tmp_path, "simulate = true\nvad = 'loud'\n", "other.toml")
    result = CliRunner().invoke(app, ["chat"], env={"VOICELIVE_CONFIG": str(path)})
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --vad (vad) must be one of server_vad, azure_semantic_vad, "
        f"azure_semantic_vad_multilingual, semantic_vad, none, got 'loud' in {path}, line 2."
    ]
    assert chat_runs == []


def test_voicelive_config_shows_each_value_and_where_it_came_from(
    chat_runs: list[Settings], tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        f'api-key = "{SECRET}"\nvoice = "alloy"\nendpoint = "wss://u:{SECRET}@h.example/v?k={SECRET}"'
        "\n[profile.work]\nvad-threshold = 0.7\n",
    )
    (tmp_path / ".env").write_text("VOICELIVE_CHUNK_MS=40\n")
    env = {"VOICELIVE_CONFIG": str(path), "VOICELIVE_MODEL": "gpt-realtime"}
    result = CliRunner().invoke(app, ["config", "--profile", "work"], env=env)
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split(None, 1)[1] for line in result.stdout.splitlines()[1:]}
    assert result.stdout.splitlines()[0] == f"config file: {path}"
    assert rows["--vad-threshold"] == f"0.7  in {path}, line 5 ([profile.work])"
    assert rows["--endpoint"] == f"wss://h.example/v  in {path}, line 3"
    assert rows["--voice"] == f"alloy  in {path}, line 2"
    assert rows["--api-key"] == f"(set, hidden)  in {path}, line 1"
    assert rows["--model"] == "gpt-realtime  in the environment"
    assert rows["--chunk-ms"] == "40  in .env"
    assert rows["--profile"] == "work  on the command line"
    assert rows["--prebuffer-ms"] == "40  (default)"
    assert len(rows) == len(OPTIONS)
    assert SECRET not in result.output
    assert chat_runs == []


def test_voicelive_config_path_prints_the_file_it_would_read(
    chat_runs: list[Settings], tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["config", "path"])
    assert (result.exit_code, result.stdout) == (0, f"{tmp_path / 'xdg/voicelive/config.toml'}\n")
    env = {"VOICELIVE_CONFIG": str(tmp_path / "mine.toml")}
    result = CliRunner().invoke(app, ["config", "path"], env=env)
    assert result.stdout == f"{tmp_path / 'mine.toml'}\n"
    bad = write(tmp_path, "chunk-ms = 5\n")
    result = CliRunner().invoke(app, ["config"], env={"VOICELIVE_CONFIG": str(bad)})
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --chunk-ms (chunk-ms) must be a whole number")
