"""Sizes and ages as the runbook's tools print them."""

from __future__ import annotations


def human_size(n: float) -> str:
    """Sizes as ``aws s3 ls --human-readable`` prints them (1024-based, one decimal)."""
    for unit in ("Bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "Bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} Bytes"


def human_age(hours: float | None) -> str:
    if hours is None:
        return "?"
    if hours < 1:
        return f"{max(0, round(hours * 60))}m"
    if hours < 48:
        return f"{hours:.1f}h"
    return f"{hours / 24:.1f}d"
