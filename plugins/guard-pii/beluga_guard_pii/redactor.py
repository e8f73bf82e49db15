"""``PIIRedactor``: a guard that finds PII and redacts, masks, hashes or pseudonymizes it.

Pseudonyms (``[EMAIL_1]``) and per-request hash keys live in ``GuardInput.state``, the dict one
request shares between its input and output stages, so the mapping dies with the request.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Literal, get_args

import attrs

from beluga_core import Finding, GuardInput, GuardResult
from beluga_guard_pii.detect import DEFAULT_PII_PATTERNS, Detector, Hit, PIIPattern

Action = Literal["redact", "mask", "hash", "pseudonymize", "block", "report"]
ACTIONS: tuple[str, ...] = get_args(Action)
#: Environment variable read for the HMAC key when none is configured.
HASH_KEY_ENV = "BELUGA_PII_HASH_KEY"
#: Key of this guard's per-request memory in ``GuardInput.state``.
STATE_KEY = "guard-pii"

_TOKEN = re.compile(r"\[[A-Za-z][A-Za-z0-9_]{0,80}\]")
_ALLOW = GuardResult()


@attrs.define
class PseudonymMap:
    """One request's pseudonyms: ``[EMAIL_1]`` ↔ value, numbered per entity in order of appearance.

    ``restorable`` holds only values the caller may see again (from the user's own messages).
    """

    forward: dict[tuple[str, str], str] = attrs.field(factory=dict)
    restorable: dict[str, str] = attrs.field(factory=dict)
    counters: dict[str, int] = attrs.field(factory=dict)
    hash_key: bytes = attrs.field(factory=lambda: secrets.token_bytes(32), repr=False)

    def token(self, entity: str, value: str, restorable: bool, text: str) -> str:
        key = (entity, value)
        tok = self.forward.get(key)
        if tok is None:
            n = self.counters.get(entity, 0)
            while True:
                n += 1
                tok = f"[{entity}_{n}]"
                if tok not in text:  # never collide with a token-like string already there
                    break
            self.counters[entity] = n
            self.forward[key] = tok
        if restorable and tok not in self.restorable:
            self.restorable[tok] = value
        return tok

    def knows(self, entity: str, value: str) -> bool:
        tok = self.forward.get((entity, value))
        return tok is not None and tok in self.restorable

    def restore(self, text: str) -> str:
        """Put the original values back for the pseudonyms this request may see again."""
        if not self.restorable or "[" not in text:
            return text
        table = self.restorable
        return _TOKEN.sub(lambda m: table.get(m.group(0), m.group(0)), text)


def session(state: dict[str, object]) -> PseudonymMap:
    """This request's pseudonym map (created on first use)."""
    found = state.get(STATE_KEY)
    if not isinstance(found, PseudonymMap):
        found = state[STATE_KEY] = PseudonymMap()
    return found


def canonical(entity: str, value: str) -> str:
    """The form two spellings of one value share ('(555) 123-4567' and '555.123.4567')."""
    if entity == "EMAIL":
        return value.lower()
    if entity in ("PHONE", "SSN", "CREDIT_CARD"):  # digits of any script by their value ('４' is '4')
        d = "".join(str(unicodedata.decimal(c)) for c in value if c.isdecimal())
        return d[1:] if entity == "PHONE" and len(d) == 11 and d[0] == "1" else d
    if entity == "IP_ADDRESS":
        try:
            return ipaddress.ip_address(value).compressed
        except ValueError:
            return value
    return value


def mask(value: str, keep: int = 4) -> str:
    """Replace every letter and digit but the last ``keep`` with '*', keeping the punctuation."""
    total = sum(1 for c in value if c.isalnum())
    hide = total - keep
    out = []
    for c in value:
        if c.isalnum():
            out.append("*" if hide > 0 else c)
            hide -= 1
        else:
            out.append(c)
    return "".join(out)


def _key_bytes(key: str | bytes | None) -> bytes | None:
    if key is None:
        env = os.environ.get(HASH_KEY_ENV)
        return env.encode() if env else None
    return key.encode() if isinstance(key, str) else key


class PIIRedactor:
    """A guard that finds PII and applies an action per entity (the PII-redaction recipe).

    ``PIIRedactor()`` uses ``DEFAULT_PII_PATTERNS``; ``PIIRedactor(*patterns)`` uses exactly those.
    ``actions`` maps entity names to ``redact`` (placeholder, the default), ``mask`` (keep the
    last 4), ``hash`` (keyed HMAC-SHA256), ``pseudonymize`` (``[EMAIL_1]``, restored in output),
    ``block`` (refuse the text) or ``report`` (findings only). Findings always index the text seen.

    >>> PIIRedactor().redact("Contact john@example.com or call 555-123-4567. SSN: 123-45-6789")
    'Contact [EMAIL] or call [PHONE]. SSN: [SSN]'
    """

    name = "pii_redactor"

    def __init__(
        self,
        *patterns: PIIPattern,
        action: Action = "redact",
        actions: Mapping[str, Action] | None = None,
        hash_key: str | bytes | None = None,
        restore: bool = True,
        restore_roles: Collection[str] = ("user",),
        key: str = "patterns",
    ) -> None:
        self.patterns: tuple[PIIPattern, ...] = tuple(patterns) or DEFAULT_PII_PATTERNS
        names = {p.name for p in self.patterns}
        actions = dict(actions or {})
        for entity, act in {"*": action, **actions}.items():
            if act not in ACTIONS:
                raise ValueError(f"PII action for {entity!r} must be one of {', '.join(ACTIONS)}, got {act!r}")
        unknown = sorted(set(actions) - names)
        if unknown:
            raise ValueError(f"actions name unknown entities {unknown}; known: {', '.join(sorted(names))}")
        self._detector = Detector(self.patterns, key=key)
        self._actions: tuple[str, ...] = tuple(actions.get(p.name, action) for p in self.patterns)
        self._blocks = "block" in self._actions
        self._only_redact = all(a == "redact" for a in self._actions)
        self._names = tuple(p.name for p in self.patterns)
        self._placeholders = tuple(p.placeholder for p in self.patterns)
        self._summaries = tuple(f"PII: {name}×1" for name in self._names)  # the reason for one finding
        self._hash_key = _key_bytes(hash_key)
        self.restore_output = restore
        self._restore_roles = frozenset(restore_roles)

    # -- the recipe API ----------------------------------------------------------------------
    def find(self, text: str) -> tuple[Finding, ...]:
        """Every entity in ``text``: type and character offsets (end exclusive), no values."""
        pats = self.patterns
        return tuple(_finding(pats[i].name, s, e) for s, e, i in self._detector.scan(text))

    def redact(self, text: str) -> str:
        """``text`` with every entity replaced as configured (convenience over ``validate``)."""
        result = self.validate(GuardInput(text))
        return text if result.modified is None else result.modified

    def restore(self, text: str, state: dict[str, object]) -> str:
        """Restore this request's pseudonyms in ``text`` (what the output stage does)."""
        found = state.get(STATE_KEY)
        return found.restore(text) if isinstance(found, PseudonymMap) else text

    # -- the guard ---------------------------------------------------------------------------
    def validate(self, guard_input: GuardInput) -> GuardResult:
        """Find PII in one segment and apply the actions; never blocks unless an action says so."""
        text = guard_input.text
        hits = self._detector.scan(text)
        output = guard_input.stage == "output"
        if not hits:
            if output and self.restore_output:
                restored = self.restore(text, guard_input.state)
                if restored != text:
                    return GuardResult.modify(restored, reason="pseudonyms restored")
            return _ALLOW
        names = self._names
        if self._only_redact and not (output and self.restore_output and STATE_KEY in guard_input.state):
            # Hot path: placeholders only, nothing to restore.
            holders = self._placeholders
            if len(hits) == 1:
                ((s, e, i),) = hits
                out = text[:s] + holders[i] + text[e:]
                return GuardResult(True, None if out == text else out, self._summaries[i], (_finding(names[i], s, e),))
            pieces: list[str] = []
            found: list[Finding] = []
            last = 0
            for s, e, i in hits:
                pieces.append(text[last:s])
                pieces.append(holders[i])
                found.append(_finding(names[i], s, e))
                last = e
            pieces.append(text[last:])
            findings = tuple(found)
            out = "".join(pieces)
            return GuardResult(True, None if out == text else out, _summary(findings), findings)
        pats, acts = self.patterns, self._actions
        findings = tuple(_finding(names[i], s, e) for s, e, i in hits)
        if self._blocks:
            blocked = sorted({pats[i].name for _, _, i in hits if acts[i] == "block"})
            if blocked:
                return GuardResult.block(f"PII not allowed: {', '.join(blocked)}", findings=findings)
        modified = self._apply(guard_input, hits, output)
        if modified == text:  # only 'report' actions: findings, no change
            return GuardResult(True, None, _summary(findings), findings)
        return GuardResult(True, modified, _summary(findings), findings)

    def _apply(self, gi: GuardInput, hits: Sequence[Hit], output: bool) -> str:
        text = gi.text
        pats, acts = self.patterns, self._actions
        role = gi.metadata.get("role")
        restorable = role is None or role in self._restore_roles
        restore = output and self.restore_output
        state = gi.state
        found = state.get(STATE_KEY)
        pmap = found if isinstance(found, PseudonymMap) else None
        pieces: list[str] = []
        last = 0
        for s, e, i in hits:
            gap = text[last:s]
            pieces.append(pmap.restore(gap) if restore and pmap is not None else gap)
            p, act, value = pats[i], acts[i], text[s:e]
            if act == "redact":
                pieces.append(p.placeholder)
            elif act == "mask":
                pieces.append(mask(value))
            elif act == "report":
                pieces.append(value)
            elif act == "hash":
                key = self._hash_key
                if key is None:
                    pmap = pmap or session(state)
                    key = pmap.hash_key
                digest = hmac.new(key, f"{p.name}:{canonical(p.name, value)}".encode(), hashlib.sha256).hexdigest()
                pieces.append(f"[{p.name}:{digest[:12]}]")
            else:  # pseudonymize: one token per distinct spelling, so restoring is exact
                if output:
                    # A value the caller gave this request may pass; anything else is redacted.
                    pieces.append(value if pmap is not None and pmap.knows(p.name, value) else p.placeholder)
                else:
                    pmap = pmap or session(state)
                    pieces.append(pmap.token(p.name, value, restorable, text))
            last = e
        tail = text[last:]
        pieces.append(pmap.restore(tail) if restore and pmap is not None else tail)
        return "".join(pieces)


def _fast_finding() -> Callable[[str, int, int], Finding]:
    """``Finding(type, start, end)`` without the frozen class's ``__init__`` (a third of a finding's cost
    in the redactor); the plain constructor if ``Finding`` ever gains fields this does not know."""
    names = [f.name for f in attrs.fields(Finding)]
    if names != ["type", "start", "end", "score"] or not hasattr(Finding, "__slots__"):
        return Finding
    new = object.__new__
    slots: Mapping[str, Any] = vars(Finding)  # the slot descriptors set a field without the frozen check
    set_type, set_start, set_end, set_score = (slots[n].__set__ for n in names)

    def make(type: str, start: int, end: int) -> Finding:
        f = new(Finding)
        set_type(f, type)
        set_start(f, start)
        set_end(f, end)
        set_score(f, 1.0)
        return f

    return make


_finding = _fast_finding()


def _summary(findings: Sequence[Finding]) -> str:
    if len(findings) == 1:
        return f"PII: {findings[0].type}×1"
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.type] = counts.get(f.type, 0) + 1
    return "PII: " + ", ".join(f"{k}×{v}" for k, v in counts.items())


__all__ = [
    "ACTIONS",
    "HASH_KEY_ENV",
    "STATE_KEY",
    "Action",
    "PIIRedactor",
    "PseudonymMap",
    "canonical",
    "mask",
    "session",
]
