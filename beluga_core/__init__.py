"""Beluga: production middleware for LLM and agent applications, composed from plugins."""

from __future__ import annotations

from beluga_core.errors import (
    BelugaError,
    BudgetExhausted,
    CircuitOpenError,
    ConfigError,
    ErrorCode,
    GuardBlocked,
    PluginError,
    ProviderError,
    RateLimited,
    ToolFailed,
)
from beluga_core.guard import Finding, GuardInput, GuardPipeline, GuardResult
from beluga_core.hookspecs import hookimpl
from beluga_core.kit import GuardDecision, Kit, ReloadResult, ToolInvocation
from beluga_core.llm import BaseProvider, ProviderConfig
from beluga_core.masking import get_logger
from beluga_core.masking import install as _install_masking
from beluga_core.schema import (
    AIMessage,
    HumanMessage,
    ImagePart,
    LLMRequest,
    LLMResponse,
    StreamChunk,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolMessage,
    ToolSpec,
    Usage,
)
from beluga_core.settings import Config
from beluga_core.stream import LLMStream

__version__ = "0.1.0"

_install_masking("beluga")

__all__ = [
    "AIMessage",
    "BaseProvider",
    "BelugaError",
    "BudgetExhausted",
    "CircuitOpenError",
    "Config",
    "ConfigError",
    "ErrorCode",
    "Finding",
    "GuardBlocked",
    "GuardDecision",
    "GuardInput",
    "GuardPipeline",
    "GuardResult",
    "HumanMessage",
    "ImagePart",
    "Kit",
    "LLMRequest",
    "LLMResponse",
    "LLMStream",
    "PluginError",
    "ProviderConfig",
    "ProviderError",
    "RateLimited",
    "ReloadResult",
    "StreamChunk",
    "SystemMessage",
    "TextPart",
    "ToolCall",
    "ToolFailed",
    "ToolInvocation",
    "ToolMessage",
    "ToolSpec",
    "Usage",
    "__version__",
    "get_logger",
    "hookimpl",
]
