#!/usr/bin/env python3
"""The guide's "Python config": a class whose attributes are the config-file
keys, given to get_health_check_payload() as the class or an instance."""
import json

from dynhc import get_health_check_payload


# ---- the guide's code ----
class Config:
    model = "gpt2"
    health_check_level = "standard"
    health_check_payload = {
        "prompt": "The weather is",
        "max_tokens": 3,
        "temperature": 0.5
    }
# ---- end of the guide's code ----


print(json.dumps(get_health_check_payload(config=Config, model_type="generate"), sort_keys=True))
print(json.dumps(get_health_check_payload(config=Config()), sort_keys=True))
