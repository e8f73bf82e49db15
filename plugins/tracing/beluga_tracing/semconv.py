"""Beluga's names for the OpenTelemetry GenAI semantic conventions, kept in this one module.

Names follow the GenAI conventions as released in open-telemetry/semantic-conventions-genai v0.1.0
(which continues semantic-conventions v1.41.0); the guardrail event follows that repository's draft.

The GenAI conventions are still "Development" status and keep being renamed (``gen_ai.system``
became ``gen_ai.provider.name``). Every span attribute Beluga writes is named here, so a rename is a
one-line change; ``DEPRECATED_ALIASES`` lists the old names that ``emit_deprecated = true`` also
writes for dashboards that still read them. Importing this module costs nothing (plain strings).
"""

from __future__ import annotations

from typing import Final

# -- gen_ai.* (https://opentelemetry.io/docs/specs/semconv/gen-ai/) --------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"  # metric attribute: input or output
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"  # opt-in content
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"  # opt-in content
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_AGENT_ID: Final = "gen_ai.agent.id"
GEN_AI_AGENT_DESCRIPTION: Final = "gen_ai.agent.description"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"  # opt-in content
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"  # opt-in content
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"  # opt-in content

# -- guardrails (a draft of the GenAI conventions repository: gen-ai-guardrails.md) --------------
EVENT_GUARDRAIL_RESULT: Final = "gen_ai.guardrail.result"
GEN_AI_GUARDRAIL_COMPONENT_NAME: Final = "gen_ai.guardrail.component.name"
GEN_AI_GUARDRAIL_SOURCE: Final = "gen_ai.guardrail.source"
GEN_AI_GUARDRAIL_RESULT_TYPE: Final = "gen_ai.guardrail.result.type"
GEN_AI_GUARDRAIL_RESULT_VALUE: Final = "gen_ai.guardrail.result.value"
GEN_AI_GUARDRAIL_RESULT_REASON: Final = "gen_ai.guardrail.result.reason"
GEN_AI_GUARDRAIL_RISK_CATEGORY: Final = "gen_ai.guardrail.risk.category"

# -- metrics (instrument names and units) --------------------------------------------------------
METRIC_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"  # histogram, s
METRIC_TOKEN_USAGE: Final = "gen_ai.client.token.usage"  # histogram, {token}
METRIC_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"  # histogram, s (streams)
#: The conventions' advisory bucket boundaries (seconds; tokens).
DURATION_BUCKETS: Final = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS: Final = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
FIRST_CHUNK_BUCKETS: Final = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0
)
#: The metric value of a model name outside the bounded set (see docs/tracing.md, Metrics).
OTHER_MODEL: Final = "_OTHER"

# -- general conventions -------------------------------------------------------------------------
ERROR_TYPE: Final = "error.type"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
HTTP_REQUEST_METHOD: Final = "http.request.method"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
URL_PATH: Final = "url.path"
SERVICE_NAME: Final = "service.name"

# -- gen_ai.operation.name values ----------------------------------------------------------------
OP_CHAT: Final = "chat"
OP_EMBEDDINGS: Final = "embeddings"
OP_EXECUTE_TOOL: Final = "execute_tool"
OP_INVOKE_AGENT: Final = "invoke_agent"

# -- Beluga's own (not part of the OpenTelemetry conventions) ------------------------------------
BELUGA_RETRY_ATTEMPTS: Final = "beluga.retry.attempts"
BELUGA_BUDGET_COST_USD: Final = "beluga.budget.cost_usd"  # the call's cost, priced by the budget plugin
BELUGA_RETRY_REASON: Final = "beluga.retry.reason"  # why retries gave up: attempts, deadline, retry_after
BELUGA_REQUEST_PREFIX: Final = "beluga.request."  # + a request metadata key listed in metadata_attributes
EVENT_GUARD_DECISION: Final = "beluga.guard.decision"
EVENT_RETRY_ATTEMPT: Final = "beluga.retry.attempt"
EVENT_STREAM_CLOSED: Final = "beluga.stream.closed_early"
GUARD_NAME: Final = "beluga.guard.name"
GUARD_STAGE: Final = "beluga.guard.stage"
GUARD_ALLOWED: Final = "beluga.guard.allowed"
GUARD_MODIFIED: Final = "beluga.guard.modified"
GUARD_REASON: Final = "beluga.guard.reason"
GUARD_FINDINGS_PREFIX: Final = "beluga.guard.findings."  # + finding type, value: count
ATTEMPT_NUMBER: Final = "beluga.retry.attempt"
ATTEMPT_DELAY: Final = "beluga.retry.delay"

#: Old attribute names and the current name each was replaced by (written too when
#: ``[plugins.tracing] emit_deprecated = true``).
DEPRECATED_ALIASES: Final[dict[str, str]] = {
    "gen_ai.system": GEN_AI_PROVIDER_NAME,
    "gen_ai.usage.prompt_tokens": GEN_AI_USAGE_INPUT_TOKENS,
    "gen_ai.usage.completion_tokens": GEN_AI_USAGE_OUTPUT_TOKENS,
}

#: Environment variable of the OpenTelemetry GenAI instrumentations that turns on message content capture.
CAPTURE_CONTENT_ENV: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
