"""The terminal: what the user sees (:mod:`~voicelive.terminal.view`) and types
(:mod:`~voicelive.terminal.keyboard` reads lines, :mod:`~voicelive.terminal.typed_commands`
parses them)."""
