"""The OpenAPI 3.1 description the gateway serves at ``GET /openapi.json``: what it accepts (the
checks of ``wire.parse_chat``, written as JSON Schema) and what it answers, errors included."""

from __future__ import annotations

import functools
from typing import Any

from beluga_gateway.embeddings import MAX_DIMENSIONS, MAX_INPUT_CHARS, MAX_INPUTS
from beluga_wire.openai_chat import MAX_DEPTH, MAX_INT_DIGITS, MAX_MESSAGES, MAX_NAME_CHARS, MAX_TOOLS, dumps

INT64 = {"minimum": -(2**63), "maximum": 2**63 - 1}


def _null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null (the gateway reads a null field as unset)."""
    return {"anyOf": [schema, {"type": "null"}]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_TEXT_PART = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
}
_REFUSAL_PART = {
    "type": "object",
    "required": ["type", "refusal"],
    "properties": {"type": {"const": "refusal"}, "refusal": {"type": "string"}},
}
_IMAGE_PART = {
    "type": "object",
    "required": ["type", "image_url"],
    "properties": {
        "type": {"const": "image_url"},
        "image_url": {
            "anyOf": [
                {
                    "type": "object",
                    "required": ["url"],
                    "properties": {
                        "url": {"type": "string", "minLength": 1},
                        "detail": {"enum": ["auto", "low", "high"]},
                    },
                },
                {"type": "string", "minLength": 1, "description": "The URL alone (detail: auto)."},
            ]
        },
    },
}


_OPAQUE_NOTE = ("Passed on unread by the guards to OpenAI-compatible providers ([plugins.gateway] unreadable_content "
                "decides); refused for other providers.")
_AUDIO_PART = {
    "type": "object",
    "required": ["type", "input_audio"],
    "description": _OPAQUE_NOTE,
    "properties": {"type": {"const": "input_audio"}, "input_audio": {"type": "object"}},
}
_FILE_PART = {
    "type": "object",
    "required": ["type", "file"],
    "description": _OPAQUE_NOTE,
    "properties": {"type": {"const": "file"}, "file": {"type": "object"}},
}
_OPENAI_ONLY = "Sent on to OpenAI-compatible providers as it is; refused for other providers."


def _content(*parts: dict[str, Any], required: bool = True) -> dict[str, Any]:
    array: dict[str, Any] = {"type": "array", "items": parts[0] if len(parts) == 1 else {"oneOf": list(parts)}}
    if required:
        array["minItems"] = 1
        return {"anyOf": [{"type": "string"}, array]}
    return {"anyOf": [{"type": "string"}, array, {"type": "null"}]}


#: A name that is data for the upstream (a participant's, a tool's, a tool call's): any characters, capped.
_NAME_TEXT = {"type": "string", "maxLength": MAX_NAME_CHARS}
#: The model's name: it becomes metric labels and log fields, so no control characters, line or
#: paragraph separators.
_NAMED = {**_NAME_TEXT, "minLength": 1, "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]*$"}
#: OpenAI's description allows an empty name wherever a name is not a model's.
_NAME_ANY = _NAME_TEXT
#: A function's name in ``tools``: OpenAI's own servers take ``^[a-zA-Z0-9_-]{1,64}$``; other
#: compatible servers differ, so the gateway passes any name on and the upstream decides.
_FUNCTION_NAME = _NAME_TEXT

_NAME = _null(_NAME_TEXT)

MESSAGES = {
    "SystemMessage": {
        "type": "object",
        "required": ["role", "content"],
        "properties": {"role": {"enum": ["system", "developer"]}, "content": _content(_TEXT_PART), "name": _NAME},
    },
    "UserMessage": {
        "type": "object",
        "required": ["role", "content"],
        "properties": {"role": {"const": "user"}, "content": _content(_TEXT_PART, _IMAGE_PART, _AUDIO_PART, _FILE_PART),
                       "name": _NAME},
    },
    "AssistantMessage": {
        "type": "object",
        "required": ["role"],
        "properties": {
            "role": {"const": "assistant"},
            "content": _content(_TEXT_PART, _REFUSAL_PART, required=False),
            "refusal": _null({"type": "string"}),
            "name": _NAME,
            "tool_calls": _null({"type": "array", "items": _ref("ToolCall")}),
            "function_call": _null({
                "type": "object", "required": ["name"], "description": _OPENAI_ONLY,
                "properties": {"name": _NAME_ANY, "arguments": {"type": "string"}},
            }),
            "audio": _null({"type": "object", "description": _OPENAI_ONLY}),
        },
    },
    "ToolMessage": {
        "type": "object",
        "required": ["role", "content", "tool_call_id"],
        "properties": {
            "role": {"const": "tool"},
            "content": _content(_TEXT_PART),
            "tool_call_id": {"type": "string"},
            "name": _NAME,
        },
    },
    "FunctionMessage": {
        "type": "object",
        "required": ["role", "content", "name"],
        "description": "The deprecated function result. " + _OPENAI_ONLY,
        "properties": {
            "role": {"const": "function"},
            "content": {"type": ["string", "null"]},
            "name": _NAME_TEXT,
        },
    },
}

REQUEST_SCHEMAS: dict[str, Any] = {
    **MESSAGES,
    "Message": {"oneOf": [_ref(name) for name in MESSAGES]},
    "ToolCall": {"anyOf": [_ref("FunctionToolCall"), _ref("CustomToolCall")]},
    "CustomToolCall": {
        "type": "object",
        "required": ["type", "custom"],
        "description": _OPENAI_ONLY,
        "properties": {
            "id": _null({"type": "string"}),
            "type": {"const": "custom"},
            "custom": {"type": "object", "required": ["name"],
                       "properties": {"name": _NAME_ANY, "input": {"type": "string"}}},
        },
    },
    "FunctionToolCall": {
        "type": "object",
        "required": ["function"],
        "properties": {
            "id": _null({"type": "string"}),
            "type": {"const": "function"},
            "function": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": _NAME_ANY,
                    "arguments": {
                        "description": "A JSON object as text (as OpenAI sends it) or as an object.",
                        "anyOf": [{"type": "string"}, {"type": "object"}, {"type": "null"}],
                    },
                },
            },
        },
    },
    "Function": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": _FUNCTION_NAME,
            "description": _null({"type": "string"}),
            "parameters": _null({"type": "object", "description": "A JSON schema of the arguments."}),
            "strict": _null({"type": "boolean"}),
        },
    },
    "Tool": {
        "anyOf": [
            {"type": "object", "required": ["function"],
             "properties": {"type": {"const": "function"}, "function": _ref("Function")}},
            {
                "type": "object",
                "required": ["type", "custom"],
                "description": _OPENAI_ONLY,
                "properties": {
                    "type": {"const": "custom"},
                    "custom": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": _NAME_ANY, "description": _null({"type": "string"}),
                                       "format": _null({"type": "object"})},
                    },
                },
            },
        ]
    },
    "ToolChoice": {
        "anyOf": [
            {"enum": ["none", "auto", "required"]},
            {
                "type": "object",
                "required": ["type", "function"],
                "properties": {
                    "type": {"const": "function"},
                    "function": {"type": "object", "required": ["name"], "properties": {"name": _NAME_ANY}},
                },
            },
            {
                "type": "object",
                "required": ["type", "custom"],
                "properties": {
                    "type": {"const": "custom"},
                    "custom": {"type": "object", "required": ["name"], "properties": {"name": _NAME_ANY}},
                },
            },
            {
                "type": "object",
                "required": ["type", "allowed_tools"],
                "properties": {
                    "type": {"const": "allowed_tools"},
                    "allowed_tools": {
                        "type": "object",
                        "required": ["mode", "tools"],
                        "properties": {
                            "mode": {"enum": ["auto", "required"]},
                            "tools": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                },
            },
            {"type": "null"},
        ]
    },
    "ResponseFormat": {
        "anyOf": [
            {"type": "object", "required": ["type"], "properties": {"type": {"enum": ["text", "json_object"]}}},
            {
                "type": "object",
                "required": ["type", "json_schema"],
                "properties": {
                    "type": {"const": "json_schema"},
                    "json_schema": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "description": _null({"type": "string"}),
                            "schema": _null({"type": "object"}),
                            "strict": _null({"type": "boolean"}),
                        },
                    },
                },
            },
            {"type": "null"},
        ]
    },
    "ChatCompletionRequest": {
        "type": "object",
        "description": (
            "OpenAI's Chat Completions request. Fields not listed here are accepted and held only to the "
            f"body-wide rules: strings are valid Unicode (no lone surrogates), numbers are finite and "
            f"integers have at most {MAX_INT_DIGITS} digits, arrays and objects nest at most {MAX_DEPTH} levels deep. "
            "What only OpenAI-compatible providers take (n above 1, custom tools, input_audio and file parts, the "
            "deprecated function role, functions and function_call) is refused with a 400 for other providers."
        ),
        "required": ["model", "messages"],
        "properties": {
            "model": _NAMED,
            "messages": {"type": "array", "minItems": 1, "maxItems": MAX_MESSAGES, "items": _ref("Message"),
                         "description": "At most [plugins.gateway] max_messages (2048 by default)."},
            "stream": _null({"type": "boolean"}),
            "stream_options": _null({
                "type": "object",
                "properties": {"include_usage": _null({"type": "boolean"}),
                               "include_obfuscation": _null({"type": "boolean"})},
            }),
            "n": _null({"type": "integer", "minimum": 1, "maximum": 128,
                        "description": "Above 1: " + _OPENAI_ONLY}),
            # Below 1: no limit for the chain; an OpenAI-compatible upstream gets the value to judge.
            "max_tokens": _null({"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}),
            "max_completion_tokens": _null({"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}),
            "temperature": _null({"type": "number", "minimum": 0, "maximum": 2}),
            "top_p": _null({"type": "number", "minimum": 0, "maximum": 1}),
            "frequency_penalty": _null({"type": "number", "minimum": -2, "maximum": 2}),
            "presence_penalty": _null({"type": "number", "minimum": -2, "maximum": 2}),
            "top_logprobs": _null({"type": "integer", "minimum": 0, "maximum": 20}),
            "seed": _null({"type": "integer", **INT64}),
            "logprobs": _null({"type": "boolean"}),
            "store": _null({"type": "boolean"}),
            "parallel_tool_calls": _null({"type": "boolean"}),
            "user": _null({"type": "string"}),
            "prompt_cache_key": _null({"type": "string"}),
            "prompt_cache_retention": _null({"type": "string"}),
            "service_tier": _null({"type": "string"}),
            "reasoning_effort": _null({"type": "string"}),
            "verbosity": _null({"type": "string"}),
            "safety_identifier": _null({"type": "string", "maxLength": 64}),
            "modalities": _null({"type": "array", "items": {"type": "string"}}),
            "stop": _null({"anyOf": [
                {"type": "string"},
                {"type": "array", "minItems": 1, "maxItems": 4, "items": {"type": "string"}},
            ]}),
            "logit_bias": _null({
                "type": "object",
                "additionalProperties": {"type": "integer"},
            }),
            "metadata": _null({
                "type": "object",
                "maxProperties": 16,
                "propertyNames": {"maxLength": 64},
                "additionalProperties": {"type": "string", "maxLength": 512},
            }),
            "tools": _null({"type": "array", "maxItems": MAX_TOOLS, "items": _ref("Tool"),
                            "description": "At most [plugins.gateway] max_tools (128 by default)."}),
            "tool_choice": _ref("ToolChoice"),
            "response_format": _ref("ResponseFormat"),
            "functions": _null({"type": "array", "minItems": 1, "maxItems": MAX_TOOLS, "items": _ref("Function"),
                                "description": "Deprecated. " + _OPENAI_ONLY}),
            "function_call": _null({
                "description": "Deprecated. " + _OPENAI_ONLY,
                "anyOf": [{"enum": ["none", "auto"]},
                          {"type": "object", "required": ["name"], "properties": {"name": _NAME_ANY}}],
            }),
        },
        "additionalProperties": True,
    },
}

RESPONSE_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "additionalProperties": False,
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {
                        "type": ["string", "null"],
                        "description": "The request field at fault, as a path (messages[0].content); "
                                       "null when the fault is the body as a whole.",
                    },
                    "code": {"type": ["string", "null"]},
                },
            }
        },
    },
    "Usage": {
        "type": "object",
        "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
        "properties": {
            "prompt_tokens": {"type": "integer", "minimum": 0},
            "completion_tokens": {"type": "integer", "minimum": 0},
            "total_tokens": {"type": "integer", "minimum": 0},
            "prompt_tokens_details": {"type": "object", "properties": {"cached_tokens": {"type": "integer"}}},
        },
    },
    "ChatCompletion": {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "chat.completion"},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "system_fingerprint": {"type": ["string", "null"]},
            "usage": _ref("Usage"),
            "choices": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "message", "finish_reason"],
                    "properties": {
                        "index": {"type": "integer"},
                        "finish_reason": {"type": "string"},
                        "logprobs": {"type": "null"},
                        "message": {
                            "type": "object",
                            "required": ["role", "content"],
                            "properties": {
                                "role": {"const": "assistant"},
                                "content": {"type": ["string", "null"]},
                                "refusal": {"type": ["string", "null"]},
                                "tool_calls": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["id", "type", "function"],
                                        "properties": {
                                            "id": {"type": "string"},
                                            "type": {"const": "function"},
                                            "function": {
                                                "type": "object",
                                                "required": ["name", "arguments"],
                                                "properties": {"name": {"type": "string"},
                                                               "arguments": {"type": "string"}},
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "ModelList": {
        "type": "object",
        "required": ["object", "data"],
        "properties": {
            "object": {"const": "list"},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "object", "created", "owned_by"],
                    "properties": {
                        "id": {"type": "string"},
                        "object": {"const": "model"},
                        "created": {"type": "integer"},
                        "owned_by": {"type": "string"},
                    },
                },
            },
        },
    },
    "Readiness": {
        "type": "object",
        "required": ["status", "in_flight", "checks"],
        "properties": {
            "status": {"enum": ["ready", "unavailable"]},
            "in_flight": {"type": "integer", "minimum": 0},
            "checks": {"type": "object"},
        },
    },
}

# -- the other APIs the gateway speaks ------------------------------------------------------------
# The main shapes each endpoint takes; every field is checked as the endpoint's own module says
# (beluga_wire.anthropic, beluga_wire.openai_responses, beluga_gateway.embeddings), and fields not
# described here are ignored.

_INT64 = 2**63 - 1
_MODEL = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS,
          "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]*$"}
_CACHE_CONTROL = {"type": "object", "required": ["type"], "properties": {"type": {"const": "ephemeral"}}}
_A_TEXT = {"type": "object", "required": ["type", "text"],
           "properties": {"type": {"const": "text"}, "text": {"type": "string"}, "cache_control": _CACHE_CONTROL}}
_A_IMAGE = {"type": "object", "required": ["type", "source"], "properties": {
    "type": {"const": "image"},
    "source": {"oneOf": [
        {"type": "object", "required": ["type", "media_type", "data"], "properties": {
            "type": {"const": "base64"}, "media_type": {"enum": ["image/jpeg", "image/png", "image/gif", "image/webp"]},
            "data": {"type": "string"}}},
        {"type": "object", "required": ["type", "url"], "properties": {
            "type": {"const": "url"}, "url": {"type": "string", "pattern": "^https?://"}}},
    ]},
}}
_A_TOOL_USE = {"type": "object", "required": ["type", "id", "name"], "properties": {
    "type": {"const": "tool_use"}, "id": {"type": "string"}, "name": {"type": "string"}, "input": {"type": "object"}}}
_A_TOOL_RESULT = {"type": "object", "required": ["type", "tool_use_id"], "properties": {
    "type": {"const": "tool_result"}, "tool_use_id": {"type": "string"}, "is_error": {"type": "boolean"},
    "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"anyOf": [_A_TEXT, _A_IMAGE]}}]},
}}
_A_TOOL_NAME = {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,128}$"}

MESSAGES_SCHEMAS: dict[str, Any] = {
    "MessagesRequest": {
        "type": "object",
        "description": "Anthropic's Messages API (anthropic-version 2023-06-01). Extended thinking, "
                       "`mcp_servers`, `container`, documents and server tools are refused (400 naming the field).",
        "required": ["model", "messages", "max_tokens"],
        "properties": {
            "model": _MODEL,
            "max_tokens": {"type": "integer", "minimum": 1, "maximum": _INT64},
            "system": {"anyOf": [{"type": "string"}, {"type": "array", "items": _A_TEXT}]},
            "messages": {"type": "array", "minItems": 1, "maxItems": MAX_MESSAGES, "items": {"oneOf": [
                {"type": "object", "required": ["role", "content"], "properties": {
                    "role": {"const": "user"},
                    "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": {
                        "anyOf": [_A_TEXT, _A_IMAGE, _A_TOOL_RESULT]}}]}}},
                {"type": "object", "required": ["role", "content"], "properties": {
                    "role": {"const": "assistant"},
                    "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": {
                        "anyOf": [_A_TEXT, _A_TOOL_USE]}}]}}},
            ]}},
            "tools": {"type": "array", "maxItems": MAX_TOOLS, "items": {
                "type": "object", "required": ["name", "input_schema"], "properties": {
                    "name": _A_TOOL_NAME, "description": {"type": "string"},
                    "input_schema": {"type": "object", "required": ["type"],
                                     "properties": {"type": {"const": "object"}}},
                    "cache_control": _CACHE_CONTROL}}},
            "tool_choice": {"anyOf": [
                {"type": "object", "required": ["type"], "properties": {
                    "type": {"enum": ["auto", "any", "none"]}, "disable_parallel_tool_use": {"type": "boolean"}}},
                {"type": "object", "required": ["type", "name"], "properties": {
                    "type": {"const": "tool"}, "name": {"type": "string"},
                    "disable_parallel_tool_use": {"type": "boolean"}}},
            ]},
            "temperature": {"type": "number", "minimum": 0, "maximum": 1},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "top_k": {"type": "integer", "minimum": 0, "maximum": _INT64},
            "stop_sequences": {"type": "array", "items": {"type": "string"}},
            "stream": {"type": "boolean"},
            "metadata": {"type": "object", "properties": {"user_id": _null({"type": "string"})}},
        },
    },
    "MessagesResponse": {
        "type": "object",
        "required": ["id", "type", "role", "content", "model", "stop_reason", "usage"],
        "properties": {
            "id": {"type": "string"}, "type": {"const": "message"}, "role": {"const": "assistant"},
            "content": {"type": "array", "items": {"type": "object", "required": ["type"]}},
            "model": {"type": "string"}, "stop_reason": _null({"type": "string"}),
            "usage": {"type": "object", "required": ["input_tokens", "output_tokens"]},
        },
    },
    "MessagesError": {
        "type": "object",
        "required": ["type", "error"],
        "properties": {
            "type": {"const": "error"},
            "error": {"type": "object", "required": ["type", "message"],
                      "properties": {"type": {"type": "string"}, "message": {"type": "string"}}},
        },
    },
}

MESSAGES_SCHEMAS["CountTokensRequest"] = {
    **MESSAGES_SCHEMAS["MessagesRequest"],
    "description": "A Messages request without `max_tokens` (the count is of the input).",
    "required": ["model", "messages"],
    "properties": {k: v for k, v in MESSAGES_SCHEMAS["MessagesRequest"]["properties"].items() if k != "max_tokens"},
}

_R_PART = {"anyOf": [
    {"type": "object", "required": ["type", "text"], "properties": {
        "type": {"const": "input_text"}, "text": {"type": "string"}}},
    {"type": "object", "required": ["type", "image_url"], "properties": {
        "type": {"const": "input_image"}, "image_url": {"type": "string", "pattern": "^(https?://|data:image/)"},
        "detail": {"enum": ["auto", "low", "high"]}}},
]}
_R_OUT_PART = {"type": "object", "required": ["type", "text"], "properties": {
    "type": {"const": "output_text"}, "text": {"type": "string"}}}
_NO_STATE = {"type": "null", "description": "Refused when set: the gateway keeps no state."}

RESPONSES_SCHEMAS: dict[str, Any] = {
    "ResponsesRequest": {
        "type": "object",
        "description": "OpenAI's Responses API, stateless: text and function tools. Stored responses and "
                       "conversations, hosted tools, files and reasoning items are refused (400 naming the field).",
        "required": ["model", "input"],
        "properties": {
            "model": _MODEL,
            "instructions": _null({"type": "string"}),
            "input": {"anyOf": [
                {"type": "string"},
                {"type": "array", "minItems": 1, "maxItems": MAX_MESSAGES, "items": {"anyOf": [
                    {"type": "object", "required": ["role", "content"], "properties": {
                        "type": {"const": "message"}, "role": {"enum": ["user", "system", "developer"]},
                        "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": _R_PART}]}}},
                    {"type": "object", "required": ["role", "content"], "properties": {
                        "type": {"const": "message"}, "role": {"const": "assistant"},
                        "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": _R_OUT_PART}]}}},
                    {"type": "object", "required": ["type", "call_id", "name"], "properties": {
                        "type": {"const": "function_call"}, "call_id": {"type": "string"}, "name": {"type": "string"},
                        "arguments": {"type": "string"}}},
                    {"type": "object", "required": ["type", "call_id", "output"], "properties": {
                        "type": {"const": "function_call_output"}, "call_id": {"type": "string"},
                        "output": {"type": "string"}}},
                ]}},
            ]},
            "tools": {"type": "array", "maxItems": MAX_TOOLS, "items": {
                "type": "object", "required": ["type", "name"], "properties": {
                    "type": {"const": "function"}, "name": {**_MODEL, "maxLength": 128},
                    "description": {"type": "string"}, "parameters": {"type": "object"},
                    "strict": {"type": "boolean"}}}},
            "tool_choice": {"anyOf": [
                {"enum": ["auto", "none", "required"]},
                {"type": "object", "required": ["type", "name"], "properties": {
                    "type": {"const": "function"}, "name": {"type": "string"}}},
            ]},
            "max_output_tokens": {"type": "integer", "minimum": 1, "maximum": _INT64},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "parallel_tool_calls": {"type": "boolean"},
            "stream": {"type": "boolean"},
            "store": {"const": False},
            "user": {"type": "string"},
            "metadata": {"type": "object", "maxProperties": 16, "propertyNames": {"maxLength": 64},
                         "additionalProperties": {"type": "string", "maxLength": 512}},
            "previous_response_id": _NO_STATE, "conversation": _NO_STATE, "prompt": _NO_STATE,
            "background": _NO_STATE,
        },
    },
    "ResponsesResponse": {
        "type": "object",
        "required": ["id", "object", "status", "model", "output"],
        "properties": {
            "id": {"type": "string"}, "object": {"const": "response"}, "status": {"type": "string"},
            "model": {"type": "string"}, "output": {"type": "array", "items": {"type": "object"}},
            "usage": _null({"type": "object"}),
        },
    },
}

EMBEDDINGS_SCHEMAS: dict[str, Any] = {
    "EmbeddingsRequest": {
        "type": "object",
        "description": "OpenAI's embeddings API. Inputs are text (the guards read them); token arrays are refused.",
        "required": ["model", "input"],
        "properties": {
            "model": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS},
            "input": {"anyOf": [
                {"type": "string", "minLength": 1, "maxLength": MAX_INPUT_CHARS},
                {"type": "array", "minItems": 1, "maxItems": MAX_INPUTS,
                 "items": {"type": "string", "minLength": 1, "maxLength": MAX_INPUT_CHARS}},
            ]},
            "encoding_format": {"enum": ["float", "base64"]},
            "dimensions": {"type": "integer", "minimum": 1, "maximum": MAX_DIMENSIONS},
            "user": {"type": "string"},
        },
    },
    "EmbeddingList": {
        "type": "object",
        "required": ["object", "data", "model", "usage"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": {"type": "object", "required": ["object", "index", "embedding"],
                                                "properties": {"object": {"const": "embedding"},
                                                               "index": {"type": "integer"},
                                                               "embedding": {"anyOf": [
                                                                   {"type": "array", "items": {"type": "number"}},
                                                                   {"type": "string"}]}}}},
            "model": {"type": "string"},
            "usage": {"type": "object", "required": ["prompt_tokens", "total_tokens"]},
        },
    },
}


# As for chat completions, null means "not set" for every optional field of these requests.
for _schema in (MESSAGES_SCHEMAS["MessagesRequest"], MESSAGES_SCHEMAS["CountTokensRequest"],
                RESPONSES_SCHEMAS["ResponsesRequest"], EMBEDDINGS_SCHEMAS["EmbeddingsRequest"]):
    for _field, _value in _schema["properties"].items():
        if _field not in _schema["required"] and _value.get("type") != "null" and _value is not _NO_STATE:
            _schema["properties"][_field] = _null(_value)

_ERROR = _ref("Error")
_CHAT_ERRORS = {
    "400": "The body is malformed (not JSON, not UTF-8, a field of the wrong type or out of range, nested too "
           "deep, a non-finite number) or a guard blocked it; `param` names the field.",
    "401": "No API key, or an unknown one.",
    "404": "The model does not exist or the key may not use it.",
    "413": "The body is larger than `max_body_bytes`.",
    "429": "A rate limit (the gateway's or the upstream's); see Retry-After.",
    "500": "The gateway is misconfigured for this request.",
    "502": "The upstream provider failed or answered something unusable.",
    "503": "The gateway is shutting down, or a circuit breaker is open; see Retry-After.",
    "504": "The request did not finish within its deadline.",
}


def _get(summary: str, responses: dict[str, Any], *, auth: bool = False, op_id: str | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if op_id:
        op["operationId"] = op_id
    if not auth:
        op["security"] = []
    return {"get": op}


def _post(op_id: str, summary: str, request: str, answer: str, schema: dict[str, Any], error: dict[str, Any],
          *, stream: bool = True) -> dict[str, Any]:
    """A POST endpoint taking ``request`` (a schema's name) and answering ``schema`` (or events)."""
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if stream:
        content["text/event-stream"] = {"schema": {
            "type": "object",
            "description": "One server-sent event: its name (`event`) and a JSON object as text (`data`).",
            "required": ["data"],
            "properties": {"event": {"type": "string"}, "data": {"type": "string", "minLength": 1}},
        }}
    return {"post": {
        "operationId": op_id,
        "summary": summary,
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(request)}}},
        "responses": {"200": {"description": answer, "content": content},
                      **{status: _json(error, text) for status, text in _CHAT_ERRORS.items()}},
    }}


@functools.cache
def document() -> dict[str, Any]:
    """The description, as a JSON-ready dict (built once)."""
    chat_responses: dict[str, Any] = {
        "200": {
            "description": "The answer: a chat.completion object, or with `stream: true` server-sent events of "
                           "chat.completion.chunk objects ending with `data: [DONE]`.",
            "content": {
                "application/json": {"schema": _ref("ChatCompletion")},
                "text/event-stream": {"schema": {
                    "type": "object",
                    "description": "One server-sent event: a chat.completion.chunk object (or an error object) "
                                   "as JSON text, then `[DONE]`.",
                    "required": ["data"],
                    "properties": {"data": {"type": "string", "minLength": 1}},
                }},
            },
        },
        **{status: _json(_ERROR, text) for status, text in _CHAT_ERRORS.items()},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Beluga gateway",
            "version": "1",
            "description": "An OpenAI-compatible gateway in front of a Beluga middleware chain.",
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/chat/completions": {
                "post": {
                    "operationId": "createChatCompletion",
                    "summary": "Create a chat completion (also served at /chat/completions)",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("ChatCompletionRequest")}},
                    },
                    "responses": chat_responses,
                }
            },
            "/v1/messages": _post(
                "createMessage", "Create a message: Anthropic's Messages API (also at /messages). Keys as "
                "`x-api-key` (or a bearer token); `anthropic-version` if sent must be 2023-06-01.",
                "MessagesRequest",
                "The answer: a message object, or with `stream: true` Anthropic's server-sent events "
                "(message_start, content_block_start/delta/stop, message_delta, message_stop).",
                _ref("MessagesResponse"), _ref("MessagesError"),
            ),
            "/v1/messages/count_tokens": _post(
                "countMessageTokens", "Estimate a Messages request's input tokens (the gateway's estimate, as "
                "its rate limits count them)", "CountTokensRequest", "`{\"input_tokens\": N}`.",
                {"type": "object", "required": ["input_tokens"],
                 "properties": {"input_tokens": {"type": "integer", "minimum": 0}}},
                _ref("MessagesError"), stream=False,
            ),
            "/v1/responses": _post(
                "createResponse", "Create a response: OpenAI's Responses API, stateless (also at /responses)",
                "ResponsesRequest",
                "The answer: a response object, or with `stream: true` the Responses API's server-sent events "
                "(response.created ... response.completed).",
                _ref("ResponsesResponse"), _ERROR,
            ),
            "/v1/embeddings": _post(
                "createEmbedding", "Create embeddings (also at /embeddings)", "EmbeddingsRequest",
                "One embedding per input, as floats or base64 float32.", _ref("EmbeddingList"), _ERROR, stream=False,
            ),
            "/v1/models": _get(
                "The models the caller's key may use",
                {"200": _json(_ref("ModelList"), "The models."), "401": _json(_ERROR, _CHAT_ERRORS["401"])},
                auth=True,
                op_id="listModels",
            ),
            "/healthz": _get("Liveness", {"200": _json(
                {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}, "Alive."
            )}),
            "/readyz": _get("Readiness: not draining, rate-limit storage reachable, some provider's breaker closed", {
                "200": _json(_ref("Readiness"), "Ready."),
                "503": _json(_ref("Readiness"), "Not ready; `checks` says why."),
            }),
            "/metrics": _get("Prometheus metrics", {"200": {
                "description": "The exposition text.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }}),
            "/openapi.json": _get("This description", {"200": _json({"type": "object"}, "OpenAPI 3.1.")}),
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A gateway key, as `Authorization: Bearer KEY` (or as `x-api-key: KEY`). "
                                   "A gateway configured without keys accepts every caller.",
                },
            },
            "schemas": {**REQUEST_SCHEMAS, **RESPONSE_SCHEMAS, **MESSAGES_SCHEMAS, **RESPONSES_SCHEMAS,
                        **EMBEDDINGS_SCHEMAS},
        },
    }


@functools.cache
def document_bytes() -> bytes:
    return dumps(document())


__all__ = ["document", "document_bytes"]
