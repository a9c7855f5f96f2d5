"""Configuration: the option table (:mod:`.options`), the frozen settings (:mod:`.settings`)
and their resolution from flags, environment and files (:mod:`.resolve`)."""


def __getattr__(name: str) -> object:
    """``from voicelive.config import resolve_settings``, until the imports are updated."""
    if name not in ("resolve_settings", "SIMULATOR_ENDPOINT", "is_loopback", "read_dotenv"):
        raise AttributeError(name)
    from voicelive.config import resolve

    return getattr(resolve, name)
