"""`python -m adw_tui` runs the `adw` command."""

from adw_tui.cli import run

run()
