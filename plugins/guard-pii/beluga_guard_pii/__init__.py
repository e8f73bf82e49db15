"""Beluga PII guard: find emails, phone numbers, SSNs, card numbers and IP addresses, validated,
and redact, mask, hash or reversibly pseudonymize them (the PII-redaction recipe).

>>> from beluga_guard_pii import PIIRedactor
>>> PIIRedactor().redact("Contact john@example.com or call 555-123-4567. SSN: 123-45-6789")
'Contact [EMAIL] or call [PHONE]. SSN: [SSN]'
"""

from beluga_guard_pii.detect import (
    BUILTIN_PRIORITY,
    CREDIT_CARD,
    DEFAULT_PII_PATTERNS,
    EMAIL,
    ENTITIES,
    IP_ADDRESS,
    PHONE,
    SSN,
    PIIPattern,
    luhn_valid,
)
from beluga_guard_pii.plugin import PIIPlugin, PIISettings
from beluga_guard_pii.redactor import ACTIONS, Action, PIIRedactor, PseudonymMap, mask

__all__ = [
    "ACTIONS",
    "BUILTIN_PRIORITY",
    "CREDIT_CARD",
    "DEFAULT_PII_PATTERNS",
    "EMAIL",
    "ENTITIES",
    "IP_ADDRESS",
    "PHONE",
    "SSN",
    "Action",
    "PIIPattern",
    "PIIPlugin",
    "PIIRedactor",
    "PIISettings",
    "PseudonymMap",
    "luhn_valid",
    "mask",
]
