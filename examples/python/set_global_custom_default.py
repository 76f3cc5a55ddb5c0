#!/usr/bin/env python3
"""The guide's "Set Global Custom Default": every endpoint without a
payload of its own (runtime, environment, config file) gets this one."""
import json

# ---- the guide's code ----
from dynhc import set_custom_health_check_payload

# Set a custom default for all endpoints
set_custom_health_check_payload({
    "prompt": "ping",
    "max_tokens": 1,
    "temperature": 0.0
})
# ---- end of the guide's code ----

from dynhc import get_health_check_payload  # noqa: E402 (what the default gives now)

print(json.dumps(get_health_check_payload(model_type="generate"), sort_keys=True))
