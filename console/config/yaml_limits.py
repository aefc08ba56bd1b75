"""Bounds on what a YAML config may cost to read, checked on the composed nodes.

Composing YAML is linear in the file's size: an alias is one shared node, not a copy. It is
turning the nodes into plain data that copies every alias, so a "billion laughs" file of a
few hundred bytes (nine aliases of nine aliases of ...) would expand to hundreds of millions
of values, and an alias inside its own anchor (``a: &a [*a]``) would never end. This walk
visits each distinct node once, so it is itself linear, and refuses such a file before any
copy is made, with the line where it goes wrong.
"""

from __future__ import annotations

import yaml

MAX_BYTES = 1024 * 1024  # the commented example config is ~11 KiB
MAX_DEPTH = 64  # the model nests 5 levels deep
MAX_EXPANDED_NODES = 100_000  # values after every alias is copied


class YamlLimitError(ValueError):
    def __init__(self, line: int | None, message: str):
        self.line = line
        super().__init__(message)


def check_size(text: str) -> None:
    if len(text) > MAX_BYTES:
        raise YamlLimitError(None, f"the file is {len(text):,} characters long; a config "
                                   f"is at most {MAX_BYTES:,}")


def check_nodes(root: yaml.Node) -> None:
    """Refuse a node graph that nests too deeply, refers to itself, or would expand (with
    every alias copied) to more than :data:`MAX_EXPANDED_NODES` values."""
    sizes: dict[int, int] = {}  # id(node) -> its expanded size
    open_nodes: set[int] = set()  # the nodes on the current path, to find a cycle

    def children(node: yaml.Node) -> list[yaml.Node]:
        if isinstance(node, yaml.MappingNode):
            return [n for pair in node.value for n in pair]
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        return []

    # iterative post-order walk: the walk must not be the thing that overflows the stack
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 0, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            open_nodes.discard(key)
            size = 1 + sum(sizes[id(child)] for child in children(node))
            if size > MAX_EXPANDED_NODES:
                raise YamlLimitError(node.start_mark.line + 1, (
                    f"its aliases expand to more than {MAX_EXPANDED_NODES:,} values "
                    "(an alias bomb?)"))
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise YamlLimitError(node.start_mark.line + 1,
                                 "an alias refers to the anchor that contains it")
        if depth > MAX_DEPTH:
            raise YamlLimitError(node.start_mark.line + 1,
                                 f"nested more than {MAX_DEPTH} levels deep")
        open_nodes.add(key)
        stack.append((node, depth, True))
        for child in children(node):
            if id(child) in open_nodes:
                raise YamlLimitError(child.start_mark.line + 1,
                                     "an alias refers to the anchor that contains it")
            stack.append((child, depth + 1, False))
