"""``audioop``, imported once: the C loops over PCM16 that the callbacks and the loop use (an
RMS, a least-squares fit, a gain, a mix) without numpy's cost or import.

The standard library has it up to Python 3.12 (deprecated from 3.11, hence the silenced
warning); from 3.13 the ``audioop-lts`` package, a dependency there, provides the same module.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop as audioop  # re-exported

__all__ = ["audioop"]
