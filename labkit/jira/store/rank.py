"""LexoRank-style rank strings (``0|i0002n:``): fixed 6-digit base-36 part, optional fraction after ``:``.

Plain string comparison orders them, so ``ORDER BY Rank`` is a string sort; there is always
room between two ranks (the fraction grows a digit when needed).
"""

from __future__ import annotations

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
BUCKET = "0|"
INT_WIDTH = 6
RANK_START = int("100000", 36)
RANK_STEP = 1024
MIN_RANK = BUCKET + "000000:"
MAX_RANK = BUCKET + "zzzzzz:"


def _b36(n: int, width: int) -> str:
    """A non-negative integer in base 36, zero-padded."""
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(_DIGITS[r])
    return "".join(reversed(out)).rjust(width, "0")


def rank_of(n: int) -> str:
    """Return the rank string of the n-th issue appended at the bottom (n from 0)."""
    return f"{BUCKET}{_b36(RANK_START + n * RANK_STEP, INT_WIDTH)}:"


def _split(rank: str) -> tuple[str, str]:
    """The integer and fraction digits of a rank string."""
    body = rank.split("|", 1)[-1]
    whole, _, frac = body.partition(":")
    return whole.rjust(INT_WIDTH, "0")[:INT_WIDTH].lower(), frac.lower()


def rank_int(rank: str) -> int:
    """Return the integer part of a rank (to continue numbering after imported ranks)."""
    try:
        return int(_split(rank)[0], 36)
    except ValueError:
        return 0


def between(low: str | None, high: str | None, count: int) -> list[str]:
    """Return ``count`` ascending ranks strictly between ``low`` and ``high`` (None: the open ends)."""
    lo_w, lo_f = _split(low or MIN_RANK)
    hi_w, hi_f = _split(high or MAX_RANK)
    prec = max(len(lo_f), len(hi_f)) + 1
    while True:
        lo = int(lo_w + lo_f.ljust(prec, "0"), 36)
        hi = int(hi_w + hi_f.ljust(prec, "0"), 36)
        if hi - lo > count:
            break
        prec += 1
    step = (hi - lo) // (count + 1)
    out = []
    for k in range(1, count + 1):
        digits = _b36(lo + k * step, INT_WIDTH + prec)
        whole, frac = digits[:INT_WIDTH], digits[INT_WIDTH:].rstrip("0")
        out.append(f"{BUCKET}{whole}:{frac}")
    return out
