"""Walks a raw event against the official SDK's model of it (``azure-ai-voicelive``, test-only).

Shared by the client's conformance test (what voicelive sends) and the simulator's (what it
sends back): every field of ``raw`` must be known to the model at every depth, unless it is
a listed extra; optionally every required field must be there, and some fields a real server
always sends.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from azure.ai.voicelive._utils.model_base import Model


def walk_model(
    model: Any,
    raw: dict[str, Any],
    path: str,
    *,
    extras: Collection[tuple[str, str]] = (),
    required: bool = False,
    omissions: Collection[tuple[str, str]] = (),
    always_sends: Mapping[str, Collection[str]] | None = None,
) -> None:
    """Assert ``raw`` fits ``model`` (an SDK model deserialized from it), recursively.

    ``extras``: (model class, field) pairs that may be sent though the SDK does not model them.
    ``required``: fields the SDK marks required must be present, except ``omissions``.
    ``always_sends``: per model class, fields a real server always includes.
    """
    cls = type(model).__name__
    fields = type(model)._attr_to_rest_field
    rest_names = {rf._rest_name for rf in fields.values()}
    for key in raw:
        assert key in rest_names or (cls, key) in extras, (
            f"{path}.{key}: unknown to the SDK ({cls})"
        )
    for name in (always_sends or {}).get(cls, ()):
        assert name in raw, f"{path}.{name}: a real server sends it"
    for attr, rf in fields.items():
        name = rf._rest_name
        if required and not rf._is_optional and (cls, name) not in omissions:
            assert name in raw, f"{path}.{name}: required by the SDK model {cls}"
        if raw.get(name) is None:
            continue
        value = getattr(model, attr)  # forces deserialization of the field
        options: dict[str, Any] = {
            "extras": extras,
            "required": required,
            "omissions": omissions,
            "always_sends": always_sends,
        }
        if isinstance(value, Model):
            walk_model(value, raw[name], f"{path}.{name}", **options)
        elif isinstance(value, list):
            for index, entry in enumerate(value):
                if isinstance(entry, Model):
                    walk_model(entry, raw[name][index], f"{path}.{name}[{index}]", **options)
