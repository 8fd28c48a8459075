"""The names of the engines, without the engines.

`adw`'s argument parser offers them as `--engine` choices; importing the registry for
them would import every engine (the Claude engine, its stream parser, the process
control) into every command, even `adw --version`. The registry checks at import that
its table has exactly these names, in this order.
"""

ENGINE_NAMES = ("claude", "sim", "codex", "gemini", "opencode")
