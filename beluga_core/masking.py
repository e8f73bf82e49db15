"""Keep secrets out of logs, reprs and error messages.

``mask_secrets(data)`` walks dicts, lists and JSON strings and masks the values of secret-looking
keys, revealing only the first and last two characters of long values (``sk**************ef``).
``SecretMaskingFilter`` does the same for log records and is installed on the ``beluga`` logger.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

SECRET_KEY = re.compile(
    r"(api[_-]?key|apikey|token|secret|passw(or)?d|passphrase|authorization|auth[_-]?header|"
    r"private[_-]?key|cookie|credential|access[_-]?key|session[_-]?key|x-api-key)",
    re.IGNORECASE,
)

# Secret-shaped values that may appear in free text: provider keys, bearer tokens, key=value pairs.
_TEXT_PATTERNS = [
    re.compile(r"\b(sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{8,})"),
    re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9_\-.=+/]{8,})"),
    # A secret-named key (alone or at the end of a longer name: OPENAI_API_KEY, client_secret), an
    # optional quote, ':' or '=', then its value of any length: quoted (to the closing quote, escapes
    # included) as in JSON and Python reprs, or bare up to a space, quote, ',', ';' or bracket (also
    # after an opening quote that is never closed, as in a cut-off message).
    re.compile(
        r"(?i)([\"']?(?:api[_-]?key|apikey|token|secret|passw(?:or)?d|passphrase|authorization|"
        r"auth[_-]?header|private[_-]?key|cookie|credential|access[_-]?key|session[_-]?key|x-api-key)"
        r"[\"']?[ \t]*[:=][ \t]*)"
        r"(?:\"((?:\\.|[^\"\\\n])*)\"|'((?:\\.|[^'\\\n])*)'|([\"']?)([^\s\"',;(){}\[\]]+))"
    ),
]


def _mask_pair(m: re.Match[str]) -> str:
    if m.group(2) is not None:
        return f'{m.group(1)}"{mask_value(m.group(2))}"'
    if m.group(3) is not None:
        return f"{m.group(1)}'{mask_value(m.group(3))}'"
    return m.group(1) + m.group(4) + mask_value(m.group(5))


def mask_value(value: str) -> str:
    """``sk-abcdef123456`` → ``sk**********56``: first and last two characters of 8 or more."""
    if len(value) >= 8:
        return value[:2] + "*" * (len(value) - 4) + value[-2:]
    return "*" * len(value)


def is_secret_key(key: str) -> bool:
    """Whether a key's name contains a secret word anywhere (``api_key``, ``x_token_count``): the
    broad test ``mask_secrets`` uses on data."""
    return bool(SECRET_KEY.search(key))


_SECRET_NAME = re.compile(SECRET_KEY.pattern + r"$", re.IGNORECASE)


def is_secret_name(key: str) -> bool:
    """Whether a key names a secret: a secret word alone or at the end of the name (``api_key``,
    ``OPENAI_API_KEY``, ``client_secret``), not merely inside it (``max_tokens_field``, ``tokenizer``)."""
    return bool(_SECRET_NAME.search(key))


def mask_secrets(data: Any) -> Any:
    """A copy of ``data`` with the values of secret-looking keys masked, recursively.

    Dicts, lists and tuples are walked; strings holding a JSON object or array are parsed, masked
    and written back; other strings have secret-shaped substrings (``sk-...``, ``Bearer ...``,
    ``password=...``) masked.
    """
    if isinstance(data, Mapping):
        out: dict[Any, Any] = {}
        for k, v in data.items():
            if isinstance(k, str) and is_secret_key(k) and v is not None and not isinstance(v, Mapping | list | tuple):
                out[k] = mask_value(v if isinstance(v, str) else str(v))
            else:
                out[k] = mask_secrets(v)
        return out
    if isinstance(data, list):
        return [mask_secrets(v) for v in data]
    if isinstance(data, tuple):
        return tuple(mask_secrets(v) for v in data)
    if isinstance(data, str):
        return mask_text(data)
    return data


def mask_text(text: str) -> str:
    """Mask secrets inside free text, including JSON documents held in a string."""
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            pass
        else:
            return json.dumps(mask_secrets(parsed))
    if not any(c in text for c in ("sk-", "earer", "=", ":")):
        return text
    text = _TEXT_PATTERNS[0].sub(lambda m: mask_value(m.group(1)), text)
    text = _TEXT_PATTERNS[1].sub(lambda m: m.group(1) + mask_value(m.group(2)), text)
    return _TEXT_PATTERNS[2].sub(_mask_pair, text)


class SecretMaskingFilter(logging.Filter):
    """A logging filter that masks secrets in a record's message, arguments and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is not ours to fix
            return True
        masked = mask_text(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, masked, so the handler does not print the raw one.
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = mask_text(formatted)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if masked != message or record.args:
            record.msg = masked
            record.args = None
        return True


_FILTER = SecretMaskingFilter()


def install(logger: logging.Logger | str = "beluga") -> None:
    """Install the masking filter on a logger and its handlers (idempotent)."""
    lg = logging.getLogger(logger) if isinstance(logger, str) else logger
    if _FILTER not in lg.filters:
        lg.addFilter(_FILTER)


__all__ = [
    "SecretMaskingFilter",
    "get_logger",
    "install",
    "is_secret_key",
    "is_secret_name",
    "mask_secrets",
    "mask_text",
    "mask_value",
]


def get_logger(name: str) -> logging.Logger:
    """A logger under ``beluga`` with the masking filter installed (use this in plugins too).

    Logger filters apply only to records created on that very logger, so every Beluga logger
    gets its own copy of the filter.
    """
    lg = logging.getLogger(name)
    install(lg)
    return lg
