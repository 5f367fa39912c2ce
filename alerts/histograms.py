"""Log-spaced histograms that add up: how a rollup keeps an hour's durations and fire lags so
that a p95 over any number of hours can be read back.

Bucket 0 holds values under 0.1 ms (zero lags, a skewed clock's negative ones); bucket i >= 1
holds [0.1 ms * r^(i-1), 0.1 ms * r^i) with r = 2^(1/8) (8 buckets an octave, each 9.05 % wide);
the last one, from 0.1 ms * 2^34 (19.9 days), holds everything above. A value is read back as
the middle of its bucket, narrowed to the observed minimum and maximum, so a percentile read
from the histogram is within half a bucket of percentile_cont's: at most 4.53 % of the value
(at most 0.05 ms from 0 to 0.1 ms). Both databases put a value in its bucket with the same SQL
expression (Bucket), so the rows of a window's raw edges and its hourly rows add up exactly.

Stored compactly: 2 bytes for the first non-empty bucket's index (bits 0-13) and the width of
the counts (bits 14-15: 1, 2 or 4 bytes each, the fewest that hold the largest), then the counts
from there to the last non-empty bucket, little-endian; an hour of a minutely alert is 20 to 120
bytes (counts under 256 take one byte: a year of them transfers 4 times faster than 4-byte counts,
which was most of a year's statistics). Adding is adding big integers (one field of 32 bits per
bucket), which Python does in C: a year of hourly rows (17,520 histograms) adds up in about 20 ms."""

import math
from array import array

from django.db.models import Func, IntegerField

BASE_MS = 0.1
PER_OCTAVE = 8
OCTAVES = 34
BUCKETS = 1 + PER_OCTAVE * OCTAVES  # 273
TOP_MS = BASE_MS * 2 ** OCTAVES
_SCALE = PER_OCTAVE / math.log(2)
_FIELD = 32  # bits a bucket takes in the big integer that adds histograms up
_WIDTHS = (1, 2, 4)  # bytes a stored count takes
_CODES = {1: "B", 2: "H", 4: "I"}


class Bucket(Func):
    """The bucket of a value in ms, as SQL (PostgreSQL and SQLite alike: ln() and floor() on both)."""

    output_field = IntegerField()
    template = (f"(CASE WHEN {{x}} < {BASE_MS} THEN 0 WHEN {{x}} >= {TOP_MS!r} THEN {BUCKETS - 1} "
                f"ELSE CAST(floor(ln({{x}} / {BASE_MS}) * {_SCALE!r}) AS INTEGER) + 1 END)")

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return self.template.format(x=f"({sql})"), tuple(params) * self.template.count("{x}")


def bounds(bucket: int) -> tuple[float, float]:
    """[low, high) of a bucket in ms; the first and last are open-ended."""
    low = -math.inf if bucket == 0 else BASE_MS * 2 ** ((bucket - 1) / PER_OCTAVE)
    high = math.inf if bucket == BUCKETS - 1 else BASE_MS * 2 ** (bucket / PER_OCTAVE)
    return low, high


def encode(counts: dict[int, int]) -> bytes:
    """bucket -> count as stored in a rollup row (b"" when empty)."""
    used = [b for b, n in counts.items() if n]
    if not used:
        return b""
    first, last = min(used), max(used)
    width = next(w for w in _WIDTHS if max(counts.values()) < 256 ** w)
    header = first | _WIDTHS.index(width) << 14
    dense = array(_CODES[width], [counts.get(b, 0) for b in range(first, last + 1)])
    return header.to_bytes(2, "little") + dense.tobytes()


def add(blobs, total: int) -> list[int]:
    """The counts of every bucket of many stored histograms together. `total` (the values in
    them all) says whether 32 bits a bucket can carry the sums; past 4 billion it adds per bucket."""
    blobs = [bytes(b) for b in blobs if b]
    if total < 2 ** _FIELD:
        # Summed by first bucket, shifted into place once each: shifting every row was half the time.
        by_first: dict[int, int] = {}
        for blob in blobs:
            first, width = blob[0] | (blob[1] & 0x3F) << 8, _WIDTHS[blob[1] >> 6]
            if width == 4:
                wide = blob[2:]
            else:  # spread each count into 4 bytes, in C: strided copies
                wide = bytearray((len(blob) - 2) // width * 4)
                for byte in range(width):
                    wide[byte::4] = blob[2 + byte::width]
            by_first[first] = by_first.get(first, 0) + int.from_bytes(wide, "little")
        summed = sum(part << (_FIELD * first) for first, part in by_first.items())
        return list(array("I", summed.to_bytes(BUCKETS * 4, "little")))
    counts = [0] * BUCKETS
    for blob in blobs:
        first, width = blob[0] | (blob[1] & 0x3F) << 8, _WIDTHS[blob[1] >> 6]
        for offset, n in enumerate(array(_CODES[width], blob[2:])):
            counts[first + offset] += n
    return counts


def percentile(counts: list[int], fraction: float, minimum: float, maximum: float) -> float | None:
    """percentile_cont(fraction) read from the counts: the same interpolation between the two
    values around the position, each read as the middle of its bucket within [minimum, maximum]."""
    n = sum(counts)
    if not n:
        return None
    position = fraction * (n - 1)
    low = math.floor(position)
    below = _value_at(counts, low, minimum, maximum)
    if position == low:
        return below
    above = _value_at(counts, low + 1, minimum, maximum)
    return below + (above - below) * (position - low)


def _value_at(counts: list[int], rank: int, minimum: float, maximum: float) -> float:
    seen = 0
    for bucket, n in enumerate(counts):
        seen += n
        if seen > rank:
            low, high = bounds(bucket)
            low, high = max(low, minimum), min(high, maximum)
            return (low + high) / 2
    return maximum
