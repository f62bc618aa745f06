"""Numbers as a paper prints them: an error with one or two significant digits, the value to the
same decimal place, integers as integers.

The error is rounded by the Particle Data Group's rule: take its three leading digits; 100–354
keeps two significant digits, 355–949 one, and 950–999 rounds up to 1000 with two digits
(0.0962 -> 0.10, 0.0312 -> 0.031, 0.0047 -> 0.005).
"""

from __future__ import annotations

import math
from typing import Any

PM = "±"


def error_decimals(error: float) -> int | None:
    """Decimal places to print an error (and its value) with; None when the error is not a
    positive finite number. Negative: round to tens, hundreds, ..."""
    if error is None or not math.isfinite(error) or error <= 0:
        return None
    exponent = math.floor(math.log10(error))
    leading = round(error / 10 ** (exponent - 2))  # three leading digits, 100..1000
    if leading >= 1000:  # 999.6 rounds to 1000: one order up
        exponent, leading = exponent + 1, 100
    if leading <= 354:
        digits = 2
    elif leading <= 949:
        digits = 1
    else:  # 950..999 rounds up to 1000: written with two digits, "1.0" times the next power
        exponent, digits = exponent + 1, 2
    return digits - 1 - exponent


def _fixed(value: float, decimals: int) -> str:
    if decimals >= 0:
        return f"{value:.{decimals}f}"
    step = 10 ** (-decimals)
    return f"{int(round(value / step) * step)}"


def format_pm(value: float | None, error: float | None, fallback_decimals: int = 3) -> str:
    """'0.84 ± 0.03': the value to the decimal of its rounded error. Without a usable error
    (None, NaN, 0: every resample gave the same value) the value alone with `fallback_decimals`
    and '± 0' is not claimed; a missing value is an empty string."""
    if value is None or not math.isfinite(float(value)):
        return ""
    decimals = error_decimals(float(error)) if error is not None else None
    if decimals is None:
        return _fixed(float(value), fallback_decimals)
    return f"{_fixed(float(value), decimals)} {PM} {_fixed(float(error), decimals)}"


def format_value(value: float | None, error: float | None, fallback_decimals: int = 3) -> str:
    """The value alone to the decimal of its rounded error (as `format_pm` prints it), for a value
    shown with an asymmetric interval beside it; a missing value is an empty string."""
    if value is None or not math.isfinite(float(value)):
        return ""
    decimals = error_decimals(float(error)) if error is not None else None
    return _fixed(float(value), fallback_decimals if decimals is None else decimals)


def format_interval(low: float | None, high: float | None, error: float | None) -> str:
    """'[0.78, 0.90]' with the digits the error allows."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return ""
    decimals = error_decimals(error) if error is not None else None
    decimals = 3 if decimals is None else decimals
    return f"[{_fixed(float(low), decimals)}, {_fixed(float(high), decimals)}]"


def format_cell(value: Any) -> str:
    """A table cell: integers (also integral floats such as 157.0) without decimals, other
    numbers with three significant figures, missing as empty, strings unchanged."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if value.is_integer():
            return str(int(value))
        return f"{value:.3g}"
    try:  # numpy scalars
        return format_cell(value.item())
    except AttributeError:
        return str(value)
