#!/usr/bin/env python3
"""Fails when the modules of any crate in the workspace depend on each other in a cycle.

A module depends on another when its code names a path into it: `crate::a::b::Item`,
`super::Item`, or a child module declared with `mod child;` used as `child::Item`. The target
is the longest module prefix of the path, so naming an item defined in a parent module is a
dependency on the parent. Test code (`#[cfg(test)] mod tests`, `tests.rs`) is left out: tests
may reach anywhere. Usage: module-cycles.py [WORKSPACE_ROOT]; prints each cycle, exits 1 if any.
"""

import re
import sys
import tomllib
from pathlib import Path

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
PATH_RE = re.compile(rf"\b(crate|super|self|{IDENT})((?:::{IDENT})+)")
MOD_RE = re.compile(rf"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+({IDENT})\s*;", re.M)
TEST_MOD_RE = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*(\{|;)")
LINE_COMMENT_RE = re.compile(r"//[^\n]*")
STRING_RE = re.compile(r'"(?:\\.|[^"\\])*"')


def strip_tests(text: str) -> str:
    """Removes `#[cfg(test)] mod x { ... }` blocks (brace matched) and such declarations."""
    out, pos = [], 0
    for m in TEST_MOD_RE.finditer(text):
        if m.start() < pos:
            continue
        out.append(text[pos:m.start()])
        if m.group(1) == ";":
            pos = m.end()
            continue
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        pos = i
    out.append(text[pos:])
    return "".join(out)


def modules_of(src: Path, root_file: Path):
    """Maps module path (tuple) -> source text of every module file reachable from root_file."""
    modules = {}

    def visit(path: tuple, file: Path):
        text = strip_tests(file.read_text(encoding="utf-8"))
        text = STRING_RE.sub('""', LINE_COMMENT_RE.sub("", text))
        modules[path] = text
        base = file.parent if file.name in ("mod.rs", "lib.rs", "main.rs") else file.with_suffix("")
        for child in MOD_RE.findall(text):
            if child == "tests":
                continue
            for candidate in (base / f"{child}.rs", base / child / "mod.rs"):
                if candidate.exists():
                    visit(path + (child,), candidate)
                    break

    visit((), root_file)
    return modules


def expand_groups(text: str) -> str:
    """Rewrites `a::{b, c::{d, e}}` as `a::b a::c::d a::c::e`, so every path stands alone."""
    group = re.compile(rf"((?:{IDENT}::)+)\{{")
    while True:
        m = group.search(text)
        if not m:
            return text
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        inner, items, level, start = text[m.end():i - 1], [], 0, 0
        for j, ch in enumerate(inner):
            level += {"{": 1, "}": -1}.get(ch, 0)
            if ch == "," and level == 0:
                items.append(inner[start:j])
                start = j + 1
        items.append(inner[start:])
        prefix = m.group(1)
        expanded = " ".join(
            prefix[:-2] if item.strip() == "self" else prefix + item.strip()
            for item in items
            if item.strip()
        )
        text = text[:m.start()] + " " + expanded + " " + text[i:]


def edges_of(modules: dict):
    edges = {m: set() for m in modules}
    for module, text in modules.items():
        text = expand_groups(text)
        children = {name for name in MOD_RE.findall(text)}
        for head, rest in PATH_RE.findall(text):
            parts = [p for p in rest.split("::") if p]
            if head == "crate":
                target = parts
            elif head == "super":
                base = list(module[:-1])
                while parts and parts[0] == "super":
                    base, parts = base[:-1], parts[1:]
                target = base + parts
            elif head == "self":
                target = list(module) + parts
            elif head in children:
                target = list(module) + [head] + parts
            else:
                continue
            best = None
            for n in range(len(target), -1, -1):
                if tuple(target[:n]) in modules:
                    best = tuple(target[:n])
                    break
            if best is not None and best != module:
                # A module naming its own descendant's items depends on that descendant; one
                # naming an ancestor's items depends on the ancestor.
                edges[module].add(best)
    return edges


def cycles(edges: dict):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in edges:
        if v not in index:
            strong(v)
    return out


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    members = tomllib.loads((root / "Cargo.toml").read_text())["workspace"]["members"]
    found, checked = 0, 0
    for member in members:
        src = root / member / "src"
        for entry in ("lib.rs", "main.rs"):
            if (src / entry).exists():
                modules = modules_of(src, src / entry)
                checked += len(modules)
                for cycle in cycles(edges_of(modules)):
                    found += 1
                    names = ["crate" + "".join("::" + p for p in m) for m in cycle]
                    print(f"{member}/src/{entry}: module cycle: {' <-> '.join(names)}")
    print(f"module-cycles: {checked} modules in {len(members)} crates, {found} cycles")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
