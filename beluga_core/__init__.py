"""Beluga: production middleware for LLM and agent applications, composed from plugins.

This module is the public surface: applications and plugins import from ``beluga_core`` (and
``beluga_core.testing`` in tests; provider plugins also use the ``beluga_http`` toolkit). Its
submodules are the kernel's own and may change between releases.
"""

from __future__ import annotations

from beluga_core._sync import iterate_sync, run_sync
from beluga_core.budget import TimeoutBudget
from beluga_core.chain import (
    FALLBACK_RANK,
    STREAM_HOLDBACK,
    ChainEvent,
    call_notes,
    guard_answer,
    note,
    parse_target,
    recording,
)
from beluga_core.commands import CommandRegistry
from beluga_core.config import (
    BelugaSettings,
    Config,
    ConfigWatcher,
    Duration,
    FileWatcher,
    ProviderConfig,
    default_config_path,
    read_file,
    setting,
)
from beluga_core.config import describe as describe_settings
from beluga_core.config import diff as settings_diff
from beluga_core.config import from_dict as settings_from_dict
from beluga_core.config import load as load_settings
from beluga_core.config import to_dict as settings_to_dict
from beluga_core.config import validate as validate_settings
from beluga_core.errors import (
    RETRYABLE_BY_DEFAULT,
    BelugaError,
    BudgetExhausted,
    CircuitOpenError,
    ConfigError,
    ConfigIssue,
    ErrorCode,
    GuardBlocked,
    PluginError,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    StorageUnavailable,
    ToolFailed,
)
from beluga_core.guard import STAGES, Finding, Guard, GuardDecision, GuardInput, GuardPipeline, GuardResult, Stage
from beluga_core.hookspecs import CallNext, ToolCallNext, hookimpl
from beluga_core.kit import Kit, ReloadResult
from beluga_core.masking import SecretMaskingFilter, get_logger, mask_secrets, mask_text, mask_value
from beluga_core.masking import install as _install_masking
from beluga_core.patterns import compile_pattern, raw_match, re2_anchor
from beluga_core.propagation import HeaderInjector, add_header_injector, outgoing_headers, remove_header_injector
from beluga_core.providers import (
    BaseProvider,
    LazyProvider,
    Provider,
    ProviderFactory,
    ProviderRegistry,
    estimate_request_tokens,
    estimate_tokens,
)
from beluga_core.registry import DEFAULT_RANK, new_provider
from beluga_core.stream import LLMStream
from beluga_core.types import (
    AIMessage,
    HumanMessage,
    ImagePart,
    LLMRequest,
    LLMResponse,
    Message,
    Part,
    StreamChunk,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolInvocation,
    ToolMessage,
    ToolSpec,
    Usage,
)

__version__ = "0.1.0"

_install_masking("beluga")

__all__ = [
    "DEFAULT_RANK",
    "FALLBACK_RANK",
    "RETRYABLE_BY_DEFAULT",
    "STAGES",
    "STREAM_HOLDBACK",
    "AIMessage",
    "BaseProvider",
    "BelugaError",
    "BelugaSettings",
    "BudgetExhausted",
    "CallNext",
    "ChainEvent",
    "CircuitOpenError",
    "CommandRegistry",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "ConfigWatcher",
    "Duration",
    "ErrorCode",
    "FileWatcher",
    "Finding",
    "Guard",
    "GuardBlocked",
    "GuardDecision",
    "GuardInput",
    "GuardPipeline",
    "GuardResult",
    "HeaderInjector",
    "HumanMessage",
    "ImagePart",
    "Kit",
    "LLMRequest",
    "LLMResponse",
    "LLMStream",
    "LazyProvider",
    "Message",
    "Part",
    "PluginError",
    "Provider",
    "ProviderConfig",
    "ProviderError",
    "ProviderFactory",
    "ProviderRegistry",
    "QuotaExceeded",
    "RateLimited",
    "ReloadResult",
    "SecretMaskingFilter",
    "Stage",
    "StorageUnavailable",
    "StreamChunk",
    "SystemMessage",
    "TextPart",
    "TimeoutBudget",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallNext",
    "ToolFailed",
    "ToolInvocation",
    "ToolMessage",
    "ToolSpec",
    "Usage",
    "__version__",
    "add_header_injector",
    "call_notes",
    "compile_pattern",
    "default_config_path",
    "describe_settings",
    "estimate_request_tokens",
    "estimate_tokens",
    "get_logger",
    "guard_answer",
    "hookimpl",
    "iterate_sync",
    "load_settings",
    "mask_secrets",
    "mask_text",
    "mask_value",
    "new_provider",
    "note",
    "outgoing_headers",
    "parse_target",
    "raw_match",
    "re2_anchor",
    "read_file",
    "recording",
    "remove_header_injector",
    "run_sync",
    "setting",
    "settings_diff",
    "settings_from_dict",
    "settings_to_dict",
    "validate_settings",
]
