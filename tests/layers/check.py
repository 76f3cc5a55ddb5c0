#!/usr/bin/env python3
"""Reads the library's object files and checks the layers of
docs/design.md: a module (one .c file) calls only modules of its own layer
or of the layers below, and no modules call each other in a cycle. The
calls are read from the objects' symbols (nm), so a call hidden behind a
shared header counts too.

Usage: check.py OBJECTS_DIR (the dynhc_objects target's folder, holding
src/<layer>/<module>.c.o). Prints "N passed, N failed".
"""
import pathlib
import subprocess
import sys

LAYERS = ["base", "readers", "resolver", "scheduler", "server"]


def symbols(obj):
    out = subprocess.run(["nm", str(obj)], check=True, capture_output=True, text=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBRC":
            defined.add(parts[2])
    return defined, used


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def main():
    root = pathlib.Path(sys.argv[1])
    modules = {}
    for obj in sorted(root.glob("src/*/*.c.o")):
        layer = obj.parent.name
        if layer not in LAYERS:
            continue
        modules[obj.name[:-len(".c.o")]] = (LAYERS.index(layer), *symbols(obj))
    owner = {sym: name for name, (_, defined, _) in modules.items() for sym in defined}
    graph = {name: set() for name in modules}
    problems = []
    for name, (layer, _, used) in modules.items():
        for sym in sorted(used):
            callee = owner.get(sym)
            if callee is None or callee == name:
                continue
            graph[name].add(callee)
            if modules[callee][0] > layer:
                problems.append("%s (%s) calls up into %s (%s): %s"
                                % (name, LAYERS[layer], callee, LAYERS[modules[callee][0]], sym))
    for component in cycles(graph):
        problems.append("modules calling each other in a cycle: " + " -> ".join(component))
    for p in problems:
        print(p)
    if len(modules) < len(LAYERS):
        print("only %d modules found under %s" % (len(modules), root))
        problems.append("no objects")
    print("%d passed, %d failed" % (len(modules) if not problems else 0, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
