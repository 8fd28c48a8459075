"""Domain models of adw_tui: pydantic types with no I/O and no project imports."""
