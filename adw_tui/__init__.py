"""adw_tui: drive AI coding agents from issue to reviewed branch."""

__version__ = "0.1.0"
