"""Moved to :mod:`voicelive.config.settings`; this name stays until the imports are updated."""

from voicelive.config.settings import *  # noqa: F403
