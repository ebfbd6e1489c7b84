"""The subcommands of ``cxrloc``, by stage: each module's ``register`` adds its parsers, next to the
handlers they run; handlers import what they run when they run (``cxrloc --help`` loads no torch)."""
