"""The simulator is an independent oracle: it imports nothing from the client it tests.

Also: the fault catalogue (``voicelive.simulator.options``) stays cheap to import, because
``voicelive --help`` lists the faults and must stay fast.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import voicelive.simulator

SIMULATOR_DIR = Path(voicelive.simulator.__file__).parent


def _imported_modules(source: str, package: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, relative ones resolved.

    ``package`` is the package the module lives in (what ``from . import x`` refers to).
    """
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if not node.level:
                found.append((node.lineno, node.module or ""))
                continue
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            if node.module:
                found.append((node.lineno, f"{base}.{node.module}"))
            else:  # `from .. import settings` imports the module voicelive.settings
                found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def _is_client_module(name: str) -> bool:
    return (name == "voicelive" or name.startswith("voicelive.")) and not (
        name == "voicelive.simulator" or name.startswith("voicelive.simulator.")
    )


def _package_of(path: Path) -> str:
    parts = path.parent.relative_to(SIMULATOR_DIR).parts
    return ".".join(("voicelive", "simulator", *parts))


def test_import_scan_catches_every_spelling_of_a_client_import() -> None:
    # The checker itself must be able to fail: feed it the forms it has to catch.
    source = (
        "import voicelive.settings\n"
        "from voicelive import protocol\n"
        "from voicelive.settings import SAMPLE_RATE\n"
        "from .. import settings\n"
        "from ..events import parse\n"
        "def lazy():\n"
        "    from voicelive.config import load\n"
        "from . import audio\n"
        "from .wire import JsonDict\n"
        "from voicelive.simulator.wire import JsonDict as J\n"
        "import numpy\n"
    )
    names = [name for _, name in _imported_modules(source, "voicelive.simulator")]
    assert [n for n in names if _is_client_module(n)] == [
        "voicelive.settings",
        "voicelive",
        "voicelive.settings",
        "voicelive.settings",
        "voicelive.events",
        "voicelive.config",
    ]
    assert {"voicelive.simulator.audio", "voicelive.simulator.wire", "numpy"} <= set(names)


def test_no_simulator_module_imports_the_client() -> None:
    files = sorted(SIMULATOR_DIR.rglob("*.py"))
    assert len(files) > 10  # really scanned the package
    offenders = [
        f"{path.relative_to(SIMULATOR_DIR)}:{line}: {name}"
        for path in files
        for line, name in _imported_modules(path.read_text(encoding="utf-8"), _package_of(path))
        if _is_client_module(name)
    ]
    assert offenders == []


def _modules_after(code: str) -> list[str]:
    """Module names present in a fresh interpreter after running ``code``."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    modules: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return modules


def test_importing_the_simulator_loads_no_client_module() -> None:
    code = "import voicelive.simulator\nfrom voicelive.simulator import Simulator, serve\n"
    code += "import voicelive.simulator.server, voicelive.simulator.handler\n"
    modules = _modules_after(code)
    assert "voicelive.simulator.server" in modules  # the whole simulator really was loaded
    assert [m for m in modules if _is_client_module(m) and m != "voicelive"] == []


def test_fault_catalogue_import_is_light() -> None:
    modules = _modules_after("import voicelive.simulator.options")
    heavy = [m for m in modules if m.split(".")[0] in ("websockets", "numpy")]
    assert heavy == []
    assert "voicelive.simulator.server" not in modules


def test_public_names_still_import() -> None:
    code = (
        "from voicelive.simulator import FAULTS, Simulator, SimulatorOptions, serve\n"
        "import voicelive.simulator as s\n"
        "assert callable(serve) and isinstance(Simulator, type)\n"
        "assert 'drop-mid-reply' in FAULTS and SimulatorOptions().speedup > 0\n"
        "assert set(s.__all__) <= set(dir(s))\n"
        "try:\n"
        "    s.NoSuchThing\n"
        "except AttributeError:\n"
        "    pass\n"
        "else:\n"
        "    raise SystemExit('missing attribute did not raise')\n"
    )
    assert "websockets" in _modules_after(code)
