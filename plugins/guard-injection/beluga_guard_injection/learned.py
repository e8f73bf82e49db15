"""The learned stage: a logistic regression over words and word pairs plus the engine's score.

The model reads the same normalised text as the pattern engine (look-alike letters, invisible
characters and typography folded), lower-cased and split into words (``\\w+``). Its features are the
distinct words and distinct adjacent word pairs, L2-normalised (each present one weighs
``1/sqrt(their count)``, the count taken as at least ``MIN_FEATURES`` so that two or three words cannot
decide alone), and two from the engine: its passage score (capped at 3) and whether it saw any
signal at all. So

    logit = bias + sum(weights of the distinct words and pairs) / sqrt(max(their count, MIN_FEATURES))
                 + engine_weight * min(engine score, 3) + engine_hit_weight * [engine score > 0]

and the probability is the logistic of the logit. A text of more than ``WINDOW`` words is read in
windows of ``WINDOW`` words, ``STRIDE`` apart, and scores as its most suspicious window: a long
document is not judged by its average. (A short instruction inside a window of ordinary prose is
still weighed with that prose: buried instructions are the pattern engine's to find.)

Two models: a words-only ``screen`` that counts words (a window's part is a difference of prefix
sums, so it reads each word once however the windows overlap), and the ``full`` words-and-pairs
model, which reads only the windows whose screen logit reaches ``screen_logit`` (most ordinary text
stops at the screen), at most ``MAX_FULL_WINDOWS`` of them per text, the screen's most suspicious.
Every step is a C-speed pass over the text or its word list (``bytes.translate`` or a regex
``findall``, ``set``, ``pairwise``, dictionary look-ups through ``map``, ``accumulate``): the cost
is linear in the text's length.

The weights ship with the plugin (``model/injection-lr.json.gz``) and are read on first use. The
training script in the repository (``plugins/guard-injection/training/train.py``) rebuilds them
from pinned, hashed inputs with fixed seeds; the file's ``card`` records those inputs, their
licences, the seeds and the figures the model was selected on.
"""

from __future__ import annotations

import gzip
import heapq
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from itertools import accumulate, pairwise, repeat
from pathlib import Path
from typing import Any

import attrs

MODEL_PATH = Path(__file__).resolve().parent / "model" / "injection-lr.json.gz"
WINDOW = 256  #: words per window (a longer text scores as its most suspicious window)
STRIDE = 128  #: words between window starts
ENGINE_CAP = 3.0  #: the engine's score is capped before it is weighed
CHUNK_CHARS = 1 << 16  #: longer text is split into words chunk by chunk
MAX_FULL_WINDOWS = 32  #: windows the full model reads at most per text: the screen's most suspicious
MIN_FEATURES = 12  #: a window with fewer distinct words and pairs is normalised as if it had this many

_WORD = re.compile(r"\w+")
# ASCII text (most text) is split without the regex engine: bytes.translate maps every byte that is
# not [A-Za-z0-9_] to a space and upper case to lower, then str.split. Same words, about 6x faster.
_ASCII_WORDS = bytes(
    c + 32 if 65 <= c <= 90 else c if (48 <= c <= 57 or 97 <= c <= 122 or c == 95) else 32 for c in range(256)
)


def words(text: str) -> list[str]:
    """The words the model reads: ``\\w+`` runs of the lower-cased (already normalised) text."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split()
    return _WORD.findall(text.lower())


def features(toks: Sequence[str]) -> tuple[set[str], set[tuple[str, str]]]:
    """The distinct words and distinct adjacent word pairs of ``toks``."""
    return set(toks), set(pairwise(toks))


def window_starts(n: int) -> tuple[int, ...]:
    """Where the windows over ``n`` words start: one window, or ``WINDOW`` words ``STRIDE`` apart."""
    if n <= WINDOW:
        return (0,)
    last = n - WINDOW
    return (*range(0, last, STRIDE), last)


def windows(toks: Sequence[str]) -> list[Sequence[str]]:
    """``toks`` as one window, or as windows of ``WINDOW`` words ``STRIDE`` apart that cover it."""
    return [toks[s : s + WINDOW] for s in window_starts(len(toks))]


def engine_features(engine_score: float) -> tuple[float, float]:
    """The engine's two features: its capped score, and whether it scored at all."""
    return min(engine_score, ENGINE_CAP), 1.0 if engine_score > 0 else 0.0


@attrs.frozen
class Weights:
    """One logistic regression: word (and pair) weights, a bias and the two engine weights. The full
    model reads a window's distinct words and pairs (``window_sum``); the screen reads word counts
    (``LearnedModel.screen_windows``)."""

    unigrams: Mapping[str, float]
    bigrams: Mapping[tuple[str, str], float]
    bias: float
    engine_weight: float
    engine_hit_weight: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Weights:
        return cls(
            unigrams={str(k): float(v) for k, v in data["unigrams"].items()},
            bigrams={_pair(k): float(v) for k, v in data.get("bigrams", {}).items()},
            bias=float(data["bias"]),
            engine_weight=float(data["engine_weight"]),
            engine_hit_weight=float(data["engine_hit_weight"]),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bias": self.bias, "engine_weight": self.engine_weight,
                               "engine_hit_weight": self.engine_hit_weight,
                               "unigrams": dict(sorted(self.unigrams.items()))}
        if self.bigrams:
            out["bigrams"] = {f"{a} {b}": w for (a, b), w in sorted(self.bigrams.items())}
        return out

    def window_sum(self, toks: Sequence[str]) -> float:
        """The words' (and pairs') part of the logit for one window."""
        if not self.bigrams:  # the words-only model: no pairs to build
            uni = set(toks)
            return sum(map(self.unigrams.get, uni, repeat(0.0))) / math.sqrt(max(len(uni), MIN_FEATURES))
        uni, bi = features(toks)
        total = sum(map(self.unigrams.get, uni, repeat(0.0))) + sum(map(self.bigrams.get, bi, repeat(0.0)))
        return total / math.sqrt(max(len(uni) + len(bi), MIN_FEATURES))

    def logit(self, toks: Sequence[str], engine_score: float) -> float:
        e, hit = engine_features(engine_score)
        best = max(self.window_sum(w) for w in windows(toks))
        return self.bias + best + self.engine_weight * e + self.engine_hit_weight * hit


def _pair(text: str) -> tuple[str, str]:
    a, _, b = text.partition(" ")
    return a, b


def logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


@attrs.frozen
class LearnedModel:
    """The learned stage: a cheap words-only ``screen`` in front of the ``full`` words-and-pairs model.

    Text whose screen logit stays below ``screen_logit`` is passed at the screen's probability (the
    threshold was chosen so that no validation text the full model blocks falls below it); the rest
    is scored by the full model, which blocks at ``threshold``.
    """

    full: Weights
    screen: Weights
    threshold: float  #: the full model's probability that blocks
    screen_logit: float  #: below this screen logit, the full model is not consulted
    card: Mapping[str, Any] = attrs.field(factory=dict)  #: inputs, licences, seeds, figures

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LearnedModel:
        return cls(Weights.from_dict(data["full"]), Weights.from_dict(data["screen"]), float(data["threshold"]),
                   float(data["screen_logit"]), data.get("card", {}))

    def to_dict(self) -> dict[str, Any]:
        return {"full": self.full.to_dict(), "screen": self.screen.to_dict(), "threshold": self.threshold,
                "screen_logit": self.screen_logit, "card": dict(self.card)}

    def screen_windows(self, toks: Sequence[str], engine_score: float) -> tuple[float, list[tuple[float, int]]]:
        """The screen's best logit over the windows, and the windows it lets through: (logit, start).

        The screen counts words (a word twice weighs twice), so a window's part is a difference of
        prefix sums: one pass over the words, however many windows overlap."""
        e, hit = engine_features(engine_score)
        base = self.screen.bias + self.screen.engine_weight * e + self.screen.engine_hit_weight * hit
        n = len(toks)
        if n <= WINDOW:  # one window (most messages): no prefix sums needed
            z = base + sum(map(self.screen.unigrams.get, toks, repeat(0.0))) / math.sqrt(max(n, MIN_FEATURES))
            return z, [(z, 0)] if z >= self.screen_logit else []
        prefix = list(accumulate(map(self.screen.unigrams.get, toks, repeat(0.0)), initial=0.0))
        best = -math.inf
        passed: list[tuple[float, int]] = []
        for start in window_starts(n):
            end = min(start + WINDOW, n)
            z = base + (prefix[end] - prefix[start]) / math.sqrt(max(end - start, MIN_FEATURES))
            best = max(best, z)
            if z >= self.screen_logit:
                passed.append((z, start))
        return best, passed

    def probability(self, text: str, engine_score: float = 0.0) -> float:
        """How likely ``text`` (normalised as the engine normalises) is an injection, 0..1, given the
        engine's score for it. The full model reads only the windows the screen lets through, at
        most ``MAX_FULL_WINDOWS`` (the screen's most suspicious) per text."""
        best = -math.inf
        chosen: list[tuple[float, int, Sequence[str]]] = []  # a min-heap of the most suspicious windows
        for n, toks in enumerate(word_chunks(text)):
            z, passed = self.screen_windows(toks, engine_score)
            best = max(best, z)
            for zw, start in passed:
                item = (zw, n * CHUNK_CHARS + start, toks[start : start + WINDOW])
                if len(chosen) < MAX_FULL_WINDOWS:
                    heapq.heappush(chosen, item)
                elif zw > chosen[0][0]:
                    heapq.heapreplace(chosen, item)
        if not chosen:
            return logistic(best)
        e, hit = engine_features(engine_score)
        full = max(self.full.window_sum(window) for _, _, window in chosen)
        return logistic(self.full.bias + full + self.full.engine_weight * e + self.full.engine_hit_weight * hit)


def word_chunks(text: str) -> Iterator[list[str]]:
    """The words of ``text``: at once, or for text longer than ``CHUNK_CHARS``, chunk by chunk (cut at
    a space or newline), each chunk after the first led by the last ``WINDOW - STRIDE`` words of the
    one before, so that any ``STRIDE`` consecutive words share a window. Memory stays bounded by the
    chunk, not the text."""
    if len(text) <= CHUNK_CHARS:
        yield words(text)
        return
    carry: list[str] = []
    start = 0
    while start < len(text):
        end = start + CHUNK_CHARS
        if end < len(text):
            cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            end = cut if cut > start else end
        toks = words(text[start:end])
        yield carry + toks
        carry = (carry + toks)[-(WINDOW - STRIDE) :]
        start = end


def load_model(path: Path) -> LearnedModel:
    """A model written by the training script; ``ModelError`` names the file when it cannot be read."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return LearnedModel.from_dict(json.load(f))
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelError(f"the learned stage's model {path} cannot be read ({type(exc).__name__}); reinstall "
                         "beluga-guard-injection or set learned = false") from None


class ModelError(RuntimeError):
    """The learned stage's weights are missing or damaged."""


@cache
def default_model() -> LearnedModel:
    """The shipped model, read once per process on first use."""
    return load_model(MODEL_PATH)


__all__ = ["MODEL_PATH", "STRIDE", "WINDOW", "LearnedModel", "ModelError", "Weights", "default_model",
           "engine_features", "features", "load_model", "logistic", "window_starts", "windows", "word_chunks",
           "words"]
