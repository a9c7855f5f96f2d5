"""Configuration: the option table (:mod:`.options`), the frozen settings (:mod:`.settings`)
and their resolution from flags, environment and files (:mod:`.resolve`)."""
