#!/usr/bin/env python3
"""The guide's "Model-Specific Tuning": a prompt per model, each resolved as
the runtime payload of its model type (checked against that type's shape)."""
import json

from dynhc import Resolver

# ---- the guide's code ----
# For code models
health_payload = {
    "prompt": "def hello():",
    "max_tokens": 5,
    "temperature": 0.0
}
code_payload = health_payload

# For chat models
health_payload = {
    "messages": [{"role": "user", "content": "Say hi"}],
    "max_tokens": 2,
    "temperature": 0.0
}
# ---- end of the guide's code ----

for model_type, payload in (("generate", code_payload), ("chat", health_payload)):
    result = Resolver(payload=payload, model_type=model_type).resolve()
    assert not result.diagnostics, result.diagnostics
    print(model_type, json.dumps(result.payload, sort_keys=True), "token budget",
          result.token_budget)
