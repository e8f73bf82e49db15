"""Text normalisation for matching, with a map back to offsets in the original text.

Obfuscation that a reader sees through must not hide an attack from the patterns: compatibility
forms (NFKC: fullwidth, mathematical, circled letters), Latin letters with diacritics, Cyrillic and
Greek look-alikes, small capitals, Unicode "tag" characters (invisible ASCII), zero-width, bidi and
other invisible characters, and separators put between single letters ("i.g.n.o.r.e", "i g n o r e").

Plain ASCII text without spaced-out letters (most text) is returned as is, without copying; text
whose only non-ASCII is typography or single accented letters gets its typography (curly quotes,
dashes, no-break spaces) folded to ASCII one character for one. Other text goes through two
C-speed steps (``str.translate`` per 4096-character chunk, then joining spaced-out letter runs by
slicing); offsets are mapped back lazily, only for the few findings that need it.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable

import re2

from beluga_core import raw_match, re2_anchor

_CHUNK = 4096

# -- the character table -----------------------------------------------------------------------

_INVISIBLE = [
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0x1BCA0, 0x1BCA3), (0xE0000, 0xE001F),
    (0xE007F, 0xE007F), (0xE0100, 0xE01EF),
    (0x0300, 0x036F),  # combining diacritics: "i\u0308gnore" reads as "ignore"
    (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F),
]

# Look-alikes NFKC leaves alone: Cyrillic and Greek letters shaped like Latin ones, small capitals.
_HOMOGLYPHS = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "һ": "h", "ӏ": "l",
    "ԛ": "q", "ԝ": "w", "ɡ": "g", "ү": "y", "ո": "n", "ց": "g", "օ": "o", "ս": "u",
    "А": "A", "В": "B", "Е": "E", "Ё": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ї": "I", "Ј": "J", "Ԁ": "D", "Һ": "H", "Ӏ": "I",
    "Ԛ": "Q", "Ԝ": "W", "Ү": "Y",
    # Greek
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # Latin variants and small capitals
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɩ": "i", "ʟ": "l", "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e",
    "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r",
    "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z", "ø": "o", "Ø": "O", "ð": "d",
    "đ": "d", "ħ": "h", "ł": "l", "Ł": "L", "ŧ": "t", "ƀ": "b", "ß": "ss", "æ": "ae", "œ": "oe",
    # punctuation that reads as ASCII
    "‘": "'", "’": "'", "ʼ": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "‐": "-", "‑": "-", "‒": "-",
    "–": "-", "—": "-", "―": "-", "⁄": "/", "∕": "/", "∶": ":", "։": ":", "꞉": ":",
}

# Blocks where NFKD (then dropping marks) gives the ASCII a reader sees.
_NFKD_RANGES = [
    (0x00A0, 0x024F), (0x1D00, 0x1DBF), (0x1E00, 0x1EFF), (0x2000, 0x200A), (0x2024, 0x2026),
    (0x202F, 0x202F), (0x205F, 0x205F), (0x2070, 0x209F), (0x2100, 0x218F), (0x2460, 0x24FF),
    (0x3000, 0x3000), (0xFB00, 0xFB06), (0xFF01, 0xFF5E), (0x1D400, 0x1D7FF), (0x1F100, 0x1F1FF),
]


def _build_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for lo, hi in _NFKD_RANGES:
        for cp in range(lo, hi + 1):
            ch = chr(cp)
            folded = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            if folded != ch and folded and folded.isascii() and len(folded) <= 4:
                table[cp] = " " if folded.isspace() else folded
    for cp in range(0x1F1E6, 0x1F200):  # regional indicators read as letters
        table[cp] = chr(ord("a") + cp - 0x1F1E6)
    for ch, ascii_ in _HOMOGLYPHS.items():
        table[ord(ch)] = ascii_
    for cp in range(0xE0020, 0xE007F):  # Unicode tags smuggle invisible ASCII
        table[cp] = chr(cp - 0xE0000)
    for lo, hi in _INVISIBLE:
        for cp in range(lo, hi + 1):
            table[cp] = ""
    return table


TABLE: dict[int, str] = _build_table()
# The table str.translate uses: TABLE plus identity entries for the rest of the alphabetic blocks below
# U+3000. A code point missing from a translate mapping costs a raised-and-cleared LookupError inside
# CPython; with these entries, look-alike prose translates ~1.7x faster (25 vs 43 ms per MB).
_XLATE: dict[int, int | str] = {cp: cp for cp in range(0x3000)}
_XLATE.update(TABLE)


# Typography that ordinary prose is full of and that hides nothing: left as is (patterns accept ’).
_TYPOGRAPHY = {0x00A0, 0x2019, 0x2018, 0x201C, 0x201D, 0x2013, 0x2014, 0x2026, 0x2009, 0x202F, 0x00AB, 0x00BB}
_ACCENTED = "\\x{C0}-\\x{24F}\\x{1E00}-\\x{1EFF}"


def _re2_class(code_points: Iterable[int]) -> str:
    ranges: list[list[int]] = []
    for cp in sorted(code_points):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "[" + "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges) + "]"


# What makes a chunk worth normalising: any rewritten character except typography and single accented
# letters ("café"); two accented letters in one word ("ïgnörè") do count.
_TRIGGER = re2.compile(
    _re2_class(cp for cp in TABLE if cp not in _TYPOGRAPHY and not (0xC0 <= cp <= 0x24F or 0x1E00 <= cp <= 0x1EFF))
    + f"|[{_ACCENTED}]\\pL*[{_ACCENTED}]"
)
# Typography folded to ASCII one character for one (offsets stay those of the original) in text that
# is otherwise left as is: a single curly apostrophe used to make a whole text non-ASCII, which the
# detector then read with the patterns' full UTF-8 form, several times slower on real prose.
_TYPO_FOLD = tuple((chr(cp), TABLE[cp]) for cp in sorted(_TYPOGRAPHY) if len(TABLE.get(cp, "")) == 1)


def _fold_typography(text: str) -> str:
    """``text`` with its typography (curly quotes, dashes, no-break spaces) as ASCII; the same object if none."""
    out = text
    for ch, ascii_ in _TYPO_FOLD:
        if ch in out:
            out = out.replace(ch, ascii_)
    return out


# Letters spelled out with one separator between them: "i.g.n.o.r.e", "i g n o r e", "i-g-n-o-r-e".
# SPACED_RUN (part of the detector's combined RE2 pass) says whether a run of four or more letters
# exists; collapse_spaced then joins every run of at least three single letters (linear, C-speed).
# Bounded on purpose: a greedy {3,} made every pass that met a 1 MB run ("a a a ...") read all of it, and
# the capturing pass ran RE2's slow engines over it. Existence is the same: four letters, then a boundary.
SPACED_RUN = r"(?:^|[^A-Za-z0-9])[A-Za-z](?:[^A-Za-z0-9\n][A-Za-z]){3}(?:[^A-Za-z0-9]|$)"
_MIN_RUN = 3
# One spelled-out run: a letter, then (separator, letter) pairs; word boundaries are checked in Python.
# A separator is anything but a letter or digit of any script ("a_aßa" is not "a a a": ß is a letter).
_RUN = re2.compile(r"[A-Za-z](?:[^\p{L}\p{N}\n][A-Za-z]){2,}")
# The same on the bytes of pure-ASCII text: offsets need no conversion back to characters, which
# costs more than the match itself when random text holds thousands of short runs ("a.b,c").
_RUN_ASCII = raw_match(re2.compile(rb"[A-Za-z](?:[^A-Za-z0-9\n][A-Za-z]){2,}"))
_UNANCHORED = re2_anchor()


def _runs(text: str) -> Iterable[tuple[int, int]]:
    """Spans of spelled-out runs in ``text``. On ASCII text from RE2's raw ``Match`` (no match objects:
    random text holds ~16,000 short runs per MB, ~30 ms through ``finditer``)."""
    if not text.isascii():
        yield from (m.span() for m in _RUN.finditer(text))
        return
    data, pos, n = text.encode("ascii"), 0, len(text)
    while pos < n:
        s, e = _RUN_ASCII(_UNANCHORED, data, pos, n)[0]
        if s < 0:
            return
        yield s, e
        pos = e


_INVISIBLE_BETWEEN_LETTERS = re.compile(
    r"[^\W\d_][\u00ad\u034f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\U000e0000-\U000e007f]+[^\W\d_]"
)
_MIXED_SCRIPT = re.compile(r"[A-Za-z][\u0370-\u03ff\u0400-\u04ff]|[\u0370-\u03ff\u0400-\u04ff][A-Za-z]")


class Normalized:
    """A normalised view of a text: ``text`` to match on, ``to_original`` to map spans back.

    ``obfuscated`` says whether the original hid letters (invisible characters between letters,
    mixed-script look-alikes, spaced-out letters), itself a weak signal of intent.
    """

    __slots__ = ("_chunk_starts", "_data", "_obfuscated", "_plain_chunks", "_runs_t2", "original", "stage1", "text")

    def __init__(self, original: str) -> None:
        self.original = original
        self._obfuscated: bool | None = False
        self._chunk_starts: list[int] | None = None
        self._runs_t2: list[tuple[int, int, int]] = []
        self._plain_chunks: set[int] = set()
        t1 = original
        self._data: bytes | None = None
        if not original.isascii():
            data = original.encode("utf-8")  # RE2 reads bytes: encode once, reuse for the signal pass
            if _TRIGGER.search(data) is not None:
                t1 = self._translate(original)
                self._obfuscated = None  # decided on first use: only texts with signals need it
            else:
                t1 = _fold_typography(original)
                if t1 is original:
                    self._data = data
        self.stage1 = t1
        self.text = t1

    @property
    def data(self) -> bytes:
        """``text`` as UTF-8 (what RE2 matches on), encoded at most once."""
        if self._data is None:
            self._data = self.text.encode("utf-8")
        return self._data

    @property
    def obfuscated(self) -> bool:
        if self._obfuscated is None:
            src = self.original
            self._obfuscated = bool(_INVISIBLE_BETWEEN_LETTERS.search(src) or _MIXED_SCRIPT.search(src))
        return self._obfuscated

    # -- step 1: characters ------------------------------------------------------------------
    def _translate(self, text: str) -> str:
        parts: list[str] = []
        starts: list[int] = []
        plain: set[int] = set()
        self._plain_chunks = plain
        pos = 0
        for i in range(0, len(text), _CHUNK):
            starts.append(pos)
            chunk = text[i : i + _CHUNK]
            if chunk.isascii() or _TRIGGER.search(chunk) is None:
                part = _fold_typography(chunk)  # one character for one: offsets as in the original
                plain.add(i // _CHUNK)
            else:
                part = chunk.translate(_XLATE)
            parts.append(part)
            pos += len(part)
        self._chunk_starts = starts
        return "".join(parts)

    # -- step 2: spaced-out letters ----------------------------------------------------------
    def collapse_spaced(self) -> bool:
        """Join letters spelled out with separators; returns whether anything changed.

        Each run is found by one RE2 pass; a run alternates letter and separator, so its joined form
        is the slice ``run[::2]`` (C speed). ``_runs_t2`` keeps (start in text, start in stage1, letters)
        per run for mapping offsets back.
        """
        t1 = self.stage1
        n = len(t1)
        parts: list[str] = []
        runs: list[tuple[int, int, int]] = []
        last = 0
        out_len = 0
        for s, e in _runs(t1):
            if s > 0 and t1[s - 1].isalnum():
                s += 2  # the first letter is glued to a word: not spelled out
            if e < n and t1[e].isalnum():
                e -= 2
            if (e - s + 1) // 2 < _MIN_RUN or s < last:
                continue
            parts.append(t1[last:s])
            out_len += s - last
            letters = t1[s:e:2]
            runs.append((out_len, s, len(letters)))
            parts.append(letters)
            out_len += len(letters)
            last = e
        if not runs:
            return False
        parts.append(t1[last:])
        self._runs_t2 = runs
        self.text = "".join(parts)
        self._data = None
        self._obfuscated = True
        return True

    # -- mapping back ------------------------------------------------------------------------
    def _to_stage1(self, p: int, end: bool) -> int:
        runs = self._runs_t2
        if not runs:
            return p
        if end:
            return 0 if p <= 0 else self._to_stage1(p - 1, False) + 1
        k = bisect.bisect_right(runs, (p, len(self.stage1) + 1, 0)) - 1
        if k < 0:
            return p
        t2, t1, letters = runs[k]
        if p < t2 + letters:
            return t1 + 2 * (p - t2)
        return min(len(self.stage1), t1 + 2 * letters - 1 + (p - t2 - letters))

    def _to_original(self, p: int, end: bool) -> int:
        starts = self._chunk_starts
        if starts is None:
            return p
        src = self.original
        if end:
            if p <= 0:
                return 0
            return self._to_original(p - 1, False) + 1
        k = bisect.bisect_right(starts, p) - 1
        acc = starts[k]
        base = k * _CHUNK
        if k in self._plain_chunks:
            return min(len(src), base + (p - acc))
        table = TABLE
        for i, ch in enumerate(src[base : base + _CHUNK]):
            mapped = table.get(ord(ch), ch)
            if acc + len(mapped) > p:
                return base + i
            acc += len(mapped)
        return min(len(src), base + _CHUNK)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of ``text`` (end exclusive) to the span of ``original`` it came from."""
        if self.text is self.original:
            return start, end
        s1 = self._to_stage1(start, False)
        e1 = self._to_stage1(end, True)
        s = self._to_original(s1, False)
        e = self._to_original(e1, True)
        return s, max(s, e)


def normalize(text: str, *, spaced: bool = True) -> Normalized:
    """Normalise ``text`` (characters, then spaced-out letters unless ``spaced=False``)."""
    n = Normalized(text)
    if spaced:
        n.collapse_spaced()
    return n


def special_characters() -> Iterable[int]:
    """Code points the normaliser rewrites or removes (for tests and docs)."""
    return TABLE.keys()


__all__ = ["SPACED_RUN", "TABLE", "Normalized", "normalize", "special_characters"]
