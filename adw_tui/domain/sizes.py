"""Sizes on disk as people read them."""


def format_size(size_bytes: int | None) -> str:
    """`812 B`, `4.2 MiB`; empty when not measured (None)."""
    if size_bytes is None:
        return ""
    if size_bytes < 1024:
        return f"{size_bytes} B"
    size = size_bytes / 1024
    for unit in ("KiB", "MiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
