"""Identifiers of the simulated city, generated vectorised over numpy arrays.

* Unified Social Credit Code (USCC, GB 32100-2015): 2-char registration department + category, 6-digit
  division, 9-char organisation code (GB 11714, with its own check character), final check character.
* Resident identity numbers (GB 11643): 6-digit division of birth registration, birth date, 3-digit sequence
  (odd = male), ISO 7064 MOD 11-2 check character.
* Legacy 15-digit business registration numbers (注册号): 6-digit authority division, 8-digit sequence,
  ISO 7064 MOD 11,10 check digit.
* Phone numbers: mobiles (13x/15x/18x) and Chaoyang landlines (0421-xxxxxxx).

Strings are built from 2-D arrays of ASCII codes (one row per code) so that 300,000 codes take milliseconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_USCC_ASCII = np.frombuffer(USCC_CHARS.encode(), dtype=np.uint8)
# letters allowed in the body of a new-style organisation code (USCC charset minus digits)
_BODY_LETTERS = np.frombuffer(b"ABCDEFGHJKLMNPQRTUWXY", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)

_USCC_VALUE = np.full(256, -1, dtype=np.int64)
_USCC_VALUE[_USCC_ASCII] = np.arange(len(USCC_CHARS))
# GB 11714 values: digits 0-9, letters A-Z 10-35
_ORG_VALUE = np.full(256, -1, dtype=np.int64)
_ORG_VALUE[np.frombuffer(b"0123456789", dtype=np.uint8)] = np.arange(10)
_ORG_VALUE[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)] = np.arange(10, 36)

MOBILE_PREFIXES = np.array(
    [
        "130",
        "131",
        "132",
        "133",
        "135",
        "136",
        "137",
        "138",
        "139",
        "150",
        "151",
        "152",
        "155",
        "156",
        "157",
        "158",
        "159",
        "180",
        "181",
        "182",
        "183",
        "185",
        "186",
        "187",
        "188",
        "189",
    ]
)


def zfill(values: np.ndarray, width: int) -> np.ndarray:
    """Integers as zero-padded decimal strings (also for empty arrays)."""
    values = np.asarray(values, dtype=np.int64)
    if values.size == 0:
        return np.array([], dtype=f"U{width}")
    return np.char.zfill(values.astype(str), width)


def labels(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Identifiers such as ``E0000042``: a prefix and a zero-padded number."""
    return np.char.add(prefix, zfill(numbers, width)).astype(object)


def to_codes(strings: np.ndarray | list[str], width: int) -> np.ndarray:
    """ASCII strings of equal ``width`` as an (n, width) uint8 array."""
    arr = np.asarray(strings, dtype=f"S{width}")
    return np.frombuffer(arr.tobytes(), dtype=np.uint8).reshape(len(arr), width).copy()


def from_codes(codes: np.ndarray) -> np.ndarray:
    """An (n, width) uint8 array of ASCII codes as an array of Python strings."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    width = codes.shape[1]
    return codes.view(f"S{width}").ravel().astype(f"U{width}").astype(object)


def org_check_chars(body: np.ndarray) -> np.ndarray:
    """GB 11714 check characters (ASCII codes) of (n, 8) organisation-code bodies."""
    s = (_ORG_VALUE[body] * _ORG_WEIGHTS).sum(axis=1)
    c = 11 - s % 11
    out = np.where(c == 10, ord("X"), np.where(c == 11, ord("0"), ord("0") + c))
    return out.astype(np.uint8)


def uscc_check_chars(first17: np.ndarray) -> np.ndarray:
    """GB 32100 check characters (ASCII codes) of (n, 17) USCC prefixes."""
    s = (_USCC_VALUE[first17] * _USCC_WEIGHTS).sum(axis=1)
    return _USCC_ASCII[(31 - s % 31) % 31]


def uscc_valid(codes: np.ndarray | list[str]) -> np.ndarray:
    """Whether each string is an 18-character USCC with a correct final check character."""
    arr = np.asarray(codes, dtype=object)
    ok_len = np.array([isinstance(c, str) and len(c) == 18 for c in arr], dtype=bool)
    out = np.zeros(len(arr), dtype=bool)
    if ok_len.any():
        c = to_codes(arr[ok_len].astype(str), 18)
        charset_ok = (_USCC_VALUE[c] >= 0).all(axis=1)
        out[np.flatnonzero(ok_len)] = charset_ok & (uscc_check_chars(c[:, :17]) == c[:, 17])
    return out


def org_code_bodies(rng: np.random.Generator, modern: np.ndarray, individual: np.ndarray) -> np.ndarray:
    """Unique 8-character organisation-code bodies, (n, 8) ASCII.

    Codes issued since the 2015 reform start with ``MA`` followed by 6 characters of the USCC charset;
    older enterprise codes are 8 digits; older individual businesses get ``L`` + 7 digits.
    """
    n = len(modern)
    body = np.empty((n, 8), dtype=np.uint8)
    todo = np.arange(n)
    while len(todo):
        k = len(todo)
        b = _DIGITS[rng.integers(0, 10, size=(k, 8))]
        new = modern[todo]
        b[new, 0] = ord("M")
        b[new, 1] = ord("A")
        b[new, 2:] = _USCC_ASCII[rng.integers(0, 31, size=(int(new.sum()), 6))]
        old_ind = ~new & individual[todo]
        b[old_ind, 0] = ord("L")
        body[todo] = b
        # draw again wherever a body repeats one drawn before (uniqueness of the 9-char code)
        _, first = np.unique(body.view("S8").ravel(), return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        todo = np.flatnonzero(dup)
    return body


def make_uscc(
    prefix: np.ndarray, division: np.ndarray, org_body: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """USCCs from 2-char prefixes, 6-digit divisions and (n, 8) org bodies; also the 9-char org codes."""
    n = len(prefix)
    codes = np.empty((n, 18), dtype=np.uint8)
    codes[:, 0:2] = to_codes(prefix, 2)
    codes[:, 2:8] = to_codes(division, 6)
    codes[:, 8:16] = org_body
    codes[:, 16] = org_check_chars(org_body)
    codes[:, 17] = uscc_check_chars(codes[:, :17])
    return from_codes(codes), from_codes(codes[:, 8:17])


def corrupt_uscc(rng: np.random.Generator, codes: np.ndarray) -> np.ndarray:
    """The same USCCs with one character of the subject identifier or the check changed (checksum fails)."""
    c = to_codes(np.asarray(codes).astype(str), 18)
    n = len(c)
    pos = rng.integers(8, 18, size=n)
    rows = np.arange(n)
    old = _USCC_VALUE[c[rows, pos]]
    shift = rng.integers(1, 31, size=n)
    c[rows, pos] = _USCC_ASCII[(old + shift) % 31]
    bad = uscc_check_chars(c[:, :17]) == c[:, 17]
    # a changed body char can by chance keep the checksum right: then change the check char itself
    c[bad, 17] = _USCC_ASCII[(_USCC_VALUE[c[bad, 17]] + 1) % 31]
    return from_codes(c)


def id_numbers(division: np.ndarray, birth: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """GB 11643 identity numbers from 6-digit divisions, birth dates (datetime64[D]) and 3-digit sequences."""
    n = len(division)
    ymd = np.datetime_as_string(birth.astype("datetime64[D]"), unit="D")
    digits = np.empty((n, 18), dtype=np.uint8)
    digits[:, 0:6] = to_codes(division, 6)
    d = to_codes(ymd, 10)
    digits[:, 6:10] = d[:, 0:4]
    digits[:, 10:12] = d[:, 5:7]
    digits[:, 12:14] = d[:, 8:10]
    digits[:, 14:17] = to_codes(zfill(seq, 3), 3)
    s = ((digits[:, :17].astype(np.int64) - ord("0")) * _ID_WEIGHTS).sum(axis=1)
    c = (12 - s % 11) % 11
    digits[:, 17] = np.where(c == 10, ord("X"), ord("0") + c)
    return from_codes(digits)


def mask_id(ids: np.ndarray) -> np.ndarray:
    """Court-style masking of identity numbers: ``3301061977****0418``."""
    s = pd.Series(np.asarray(ids, dtype=object), dtype=object)
    return (s.str[:10] + "****" + s.str[14:]).to_numpy(dtype=object)


def reg_numbers(division: np.ndarray, seq: np.ndarray, kind_digit: np.ndarray) -> np.ndarray:
    """Legacy 15-digit registration numbers: division, kind digit, 7-digit sequence, MOD 11,10 check."""
    n = len(division)
    d = np.empty((n, 15), dtype=np.uint8)
    d[:, 0:6] = to_codes(division, 6)
    d[:, 6] = ord("0") + kind_digit
    d[:, 7:14] = to_codes(zfill(seq, 7), 7)
    p = np.full(n, 10, dtype=np.int64)
    for i in range(14):  # 14 columns, vectorised over rows
        s = (p + (d[:, i].astype(np.int64) - ord("0"))) % 10
        s = np.where(s == 0, 10, s)
        p = (2 * s) % 11
    d[:, 14] = ord("0") + (11 - p) % 10
    return from_codes(d)


def mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Mobile numbers: a 13x/15x/18x prefix and 8 random digits."""
    pre = MOBILE_PREFIXES[rng.integers(0, len(MOBILE_PREFIXES), size=n)]
    rest = zfill(rng.integers(0, 10**8, size=n), 8)
    return np.char.add(pre, rest).astype(object)


def landlines(rng: np.random.Generator, n: int) -> np.ndarray:
    """Chaoyang landlines: ``0421-`` and 7 digits not starting with 0 or 1."""
    num = rng.integers(2_000_000, 9_000_000, size=n).astype(str)
    return np.char.add("0421-", num).astype(object)
