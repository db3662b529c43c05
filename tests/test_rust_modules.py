"""The Rust crates' modules only point down: no module of processor-core or of the binding may
depend, directly or through others, on a module that depends on it.

A module's dependencies are read from its source: every `crate::name` path (in `use` items,
grouped `use crate::{a, b::c}` included, and in code), with names the crate root re-exports
(`crate::Contract`) resolved to the module they come from. Comments are ignored: a doc link is
not a dependency.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CRATES = [ROOT / "crates" / "processor-core" / "src", ROOT / "crates" / "data_processor_rs" / "src"]

COMMENT = re.compile(r"//[^\n]*")
STRING = re.compile(r'"(?:\\.|[^"\\])*"')
MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.MULTILINE)
REEXPORT = re.compile(r"^\s*pub\s+use\s+(\w+)::(\{[^}]*\}|\w+)", re.MULTILINE)
CRATE_PATH = re.compile(r"\bcrate::")


def strip(source: str) -> str:
    """The source without comments or string literals (neither is a dependency)."""
    return COMMENT.sub("", STRING.sub('""', source))


def crate_paths(source: str) -> list[str]:
    """The first segment after every `crate::` (each name of a `crate::{...}` group)."""
    heads: list[str] = []
    for match in CRATE_PATH.finditer(source):
        rest = source[match.end() :]
        if rest.startswith("{"):
            depth, item, items = 0, "", []
            for char in rest:
                if char == "{":
                    depth += 1
                    if depth == 1:
                        continue
                elif char == "}":
                    depth -= 1
                    if depth == 0:
                        break
                if depth == 1 and char == ",":
                    items.append(item)
                    item = ""
                else:
                    item += char
            items.append(item)
            heads.extend(m.group(0) for i in items if (m := re.match(r"\s*\w+", i)))
        elif m := re.match(r"\w+", rest):
            heads.append(m.group(0))
    return [h.strip() for h in heads]


def module_graph(src: Path) -> dict[str, set[str]]:
    """Module → the modules of the same crate it uses (the crate root is not a module here)."""
    root = strip((src / "lib.rs").read_text())
    modules = set(MOD_DECL.findall(root))
    # Names the root re-exports, resolved to their module: `pub use contract::{Contract, Field};`.
    owner: dict[str, str] = {}
    for module, names in REEXPORT.findall(root):
        for name in re.findall(r"\w+(?:\s+as\s+\w+)?", names.strip("{}")):
            owner[name.split()[-1]] = module
    graph: dict[str, set[str]] = {}
    for module in sorted(modules):
        # A module is its file, or its folder (`mod.rs` and every submodule under it).
        path = src / f"{module}.rs"
        files = [path] if path.exists() else sorted((src / module).rglob("*.rs"))
        uses = set()
        for head in (h for file in files for h in crate_paths(strip(file.read_text()))):
            target = head if head in modules else owner.get(head)
            if target and target != module:
                uses.add(target)
        graph[module] = uses
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path that ends where it starts (`[a, b, a]`), or None."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in done and (cycle := visit(nxt)):
                return cycle
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for node in sorted(graph):
        if node not in done and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_and_names_it() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert (
        find_cycle({"contract": {"validate"}, "validate": {"dedup"}, "dedup": {"transform"}})
        is None
    )
    cycle = {
        "contract": {"validate"},
        "validate": {"dedup", "error"},
        "dedup": {"transform"},
        "transform": {"validate"},
        "error": set(),
    }
    assert find_cycle(cycle) == ["validate", "dedup", "transform", "validate"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_crate_paths_are_read_in_every_form() -> None:
    source = strip(
        """
        use crate::error::{CoreError, Result};
        use crate::{batch::ValidatedBatch, dedup::{key_hash, KeyPart}, timestamp};
        fn f() { crate::validate::normalize_enum("crate::json"); } // crate::parse
        /// [`crate::Rejection`]
        """
    )
    assert crate_paths(source) == ["error", "batch", "dedup", "timestamp", "validate"]


@pytest.mark.parametrize("src", CRATES, ids=lambda p: p.parent.name)
def test_no_module_cycle(src: Path) -> None:
    graph = module_graph(src)
    assert len(graph) > 1, f"no modules found under {src}"
    cycle = find_cycle(graph)
    assert cycle is None, f"module cycle in {src.parent.name}: {' -> '.join(cycle or [])}"


def test_the_core_layers_point_down() -> None:
    """The batch types and the steps never depend on the fused path above them; only the
    deferred steps (the binding's batches, one layer higher still) compose it."""
    graph = module_graph(CRATES[0])
    assert not graph["batch"] & {"parse", "validate", "transform", "dedup", "process"}
    assert {module for module, uses in graph.items() if "process" in uses} == {"deferred"}
    assert all("deferred" not in uses for uses in graph.values())
    assert graph["contract"] <= {"error"}, (
        "the contract is read by the steps, and reads none of them"
    )
