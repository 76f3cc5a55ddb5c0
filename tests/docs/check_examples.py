#!/usr/bin/env python3
"""Runs the `dynhc resolve` and `dynhc validate` sessions shown in the README
and docs/*.md (lines "$ COMMAND" in a code block, the lines after it being
what it prints: stderr, then stdout) with the built dynhc first on PATH and
an environment without DYN_* variables, and checks that each prints exactly
what the page shows. Sessions of other commands (probe, watch) need a
server and are left to their own tests.

Usage: check_examples.py DYNHC_BINARY REPO_ROOT. Prints "N passed, N failed".
"""
import os
import pathlib
import re
import subprocess
import sys


def sessions(text):
    in_code, current = False, None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is not None:
                yield current
            in_code, current = not in_code, None
            continue
        if not in_code:
            continue
        if line.startswith("$ "):
            if current is not None:
                yield current
            current = (line[2:], [])
        elif current is not None:
            current[1].append(line)


def main():
    dynhc, root = os.path.abspath(sys.argv[1]), pathlib.Path(sys.argv[2])
    env = {k: v for k, v in os.environ.items() if not k.startswith("DYN_")}
    env["PATH"] = os.path.dirname(dynhc) + os.pathsep + env.get("PATH", "")
    passed = failed = 0
    for page in [root / "README.md"] + sorted((root / "docs").glob("*.md")):
        for command, shown in sessions(page.read_text(encoding="utf-8")):
            if not re.match(r"^(\w+=('[^']*'|\S*) )*dynhc (resolve|validate)\b", command):
                continue
            run = subprocess.run(["bash", "-c", command], env=env, cwd=root,
                                 capture_output=True, text=True)
            printed = (run.stderr + run.stdout).splitlines()
            if printed == shown:
                passed += 1
            else:
                failed += 1
                print("%s: $ %s\n  shown:   %r\n  printed: %r" % (page.name, command, shown,
                                                                 printed))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
