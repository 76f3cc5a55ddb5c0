#!/usr/bin/env python3
"""The guide's default payloads (Minimal, Standard, Comprehensive, Chat,
Embedding), each checked against what dynhc resolves for its level and model
type."""
from dynhc import Resolver

GUIDE = {
    ("generate", "minimal"): {
        "prompt": "1",        # Single character
        "max_tokens": 1,      # Generate only 1 token
        "temperature": 0.0,   # Deterministic
        "stream": False,
        "_health_check": True
    },
    ("generate", "standard"): {
        "prompt": "The sky is",
        "max_tokens": 5,
        "temperature": 0.7,
        "stream": False,
        "_health_check": True
    },
    ("generate", "comprehensive"): {
        "prompt": "Write a haiku about artificial intelligence:",
        "max_tokens": 50,
        "temperature": 0.8,
        "top_p": 0.95,
        "frequency_penalty": 0.5,
        "presence_penalty": 0.5,
        "stream": False,
        "_health_check": True
    },
    # Automatically selected for chat models
    ("chat", "minimal"): {
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 1,
        "temperature": 0.0,
        "stream": False,
        "_health_check": True
    },
    # For embedding endpoints
    ("embedding", "minimal"): {
        "input": "test",
        "_health_check": True
    },
}

for (model_type, level), expected in GUIDE.items():
    got = Resolver(model_type=model_type, level=level, env={}).resolve().payload
    assert got == expected, (model_type, level, got)
    print("%-9s %-13s as the guide shows" % (model_type, level))
