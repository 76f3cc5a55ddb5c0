#!/usr/bin/env python3
"""Keeps what describes the CLI equal to the CLI: for each command, the
options its --help lists are the ones bash completion offers, and every one
of them is in the man page and in docs/cli.md. The man page renders without
a groff warning.

Usage: check_cli_docs.py DYNHC_BINARY REPO_ROOT. Prints "N passed, N failed".
"""
import pathlib
import re
import shutil
import subprocess
import sys

COMMANDS = ["resolve", "validate", "probe", "watch"]


def help_options(dynhc, command):
    text = subprocess.run([dynhc, command, "--help"], check=True, capture_output=True,
                          text=True).stdout
    return set(re.findall(r"^ +(?:-\w, )?(--[a-z-]+)", text, re.M))


def completion_options(script, command):
    words = "dynhc %s --" % command
    out = subprocess.run(
        ["bash", "-c", 'source "$0"; COMP_WORDS=(%s); COMP_CWORD=2; _dynhc; '
         'printf "%%s\\n" "${COMPREPLY[@]}"' % words, str(script)],
        check=True, capture_output=True, text=True).stdout
    return set(out.split())


def main():
    dynhc, root = sys.argv[1], pathlib.Path(sys.argv[2])
    man = (root / "docs" / "dynhc.1").read_text(encoding="utf-8").replace("\\-", "-")
    cli_md = (root / "docs" / "cli.md").read_text(encoding="utf-8")
    script = root / "src" / "cli" / "dynhc.bash"
    results = []
    for command in COMMANDS:
        listed = help_options(dynhc, command)
        problems = []
        offered = completion_options(script, command)
        if offered != listed:
            problems.append("completion offers %s, --help lists %s"
                            % (sorted(offered - listed), sorted(listed - offered)))
        for option in sorted(listed):
            if option not in man:
                problems.append("%s is not in docs/dynhc.1" % option)
            if "`" + option not in cli_md and option != "--help":
                problems.append("%s is not in docs/cli.md" % option)
        results.append((command, problems))
    if shutil.which("groff"):
        warnings = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z",
                                   str(root / "docs" / "dynhc.1")],
                                  capture_output=True, text=True).stderr
        results.append(("man page", [warnings.strip()] if warnings.strip() else []))
    failed = 0
    for name, problems in results:
        for p in problems:
            print("%s: %s" % (name, p))
        failed += bool(problems)
    print("%d passed, %d failed" % (len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
