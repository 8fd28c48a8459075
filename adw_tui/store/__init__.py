"""The state store (SQLite, or PostgreSQL): versioned run state, dead letters and the
audit log."""

from adw_tui.store.store import Store

__all__ = ["Store"]
