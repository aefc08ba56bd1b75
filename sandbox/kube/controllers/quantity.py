"""Kubernetes resource quantities and int-or-percent values, as controllers need them.

Controllers compare CPU and memory requests with capacity, the HPA divides usage by
requests, and rolling updates resolve ``maxSurge: 25%``; all of that needs the API's
quantity grammar ("500m", "2", "1Gi", "512Mi", "1e3") read into plain numbers and written
back the way kubectl prints them.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9,
            "T": 1e12, "P": 1e15, "E": 1e18}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def parse(value: str | int | float | None) -> float:
    """A quantity as a float in base units (cores for CPU, bytes for memory).
    Missing or unreadable values count as zero, as an absent request does."""
    if value is None:
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return 0.0
    number, suffix = float(match.group(1)), match.group(2)
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    return number * _DECIMAL.get(suffix, 0.0)


def cpu_millis(value: str | int | float | None) -> int:
    return round(parse(value) * 1000)


def memory_bytes(value: str | int | float | None) -> int:
    return round(parse(value))


def format_cpu(millicores: float) -> str:
    """``250m``; whole cores keep the milli form too, as metrics-server reports them."""
    return f"{max(0, round(millicores))}m"


def format_memory(nbytes: float) -> str:
    """``512Mi``, rounded to whole mebibytes (what ``kubectl top`` shows anyway)."""
    return f"{max(0, round(nbytes / 2**20))}Mi"


def int_or_percent(value: str | int | None, total: int, *, round_up: bool, default: str) -> int:
    """Resolve ``maxSurge``/``maxUnavailable``/``minAvailable`` style values against
    ``total``: surge rounds up, unavailability rounds down, as the deployment controller
    does."""
    if value is None:
        value = default
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        fraction = float(text[:-1]) * total / 100.0
        return math.ceil(fraction) if round_up else math.floor(fraction)
    return int(text)


_DECIMAL_ORDER = ("E", "P", "T", "G", "M", "k", "", "m", "u", "n")
_EXACT = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
          "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
          "P": Fraction(10**15), "E": Fraction(10**18)}


def canonical(value: str | int | float) -> str:
    """The form the apiserver (and every typed client) writes a quantity back in:
    ``2000m`` -> ``2``, ``0.5`` -> ``500m``, ``1024Mi`` -> ``1Gi``. Templates are compared
    in this form, because ``kubectl rollout undo`` sends back a re-serialised template."""
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        return text
    number, suffix = Fraction(match.group(1)), match.group(2)
    if number == 0:
        return "0"
    if suffix in _BINARY:
        amount = number * _BINARY[suffix]
        if amount.denominator == 1:
            for unit in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
                if amount % _BINARY[unit] == 0:
                    return f"{amount // _BINARY[unit]}{unit}"
            return str(amount)
        suffix, number = "", amount
    else:
        number = number * _EXACT.get(suffix, Fraction(1)) if suffix in _EXACT else number
    for unit in _DECIMAL_ORDER:
        scaled = number / _EXACT[unit]
        if scaled.denominator == 1:
            return f"{scaled.numerator}{unit}"
    return text
