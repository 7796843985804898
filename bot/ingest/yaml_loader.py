"""The YAML loader front matter is read with: PyYAML's safe loader, with cheaper constructors for the shapes
front matter is made of.

A story file's front matter is ~70 YAML nodes, most of them strings in mappings. PyYAML's safe constructors
build every mapping and list through a generator (so that a structure may contain itself) and every string
through three method calls; at ~70 nodes per file that is about half the cost of loading it (libyaml parses
the text itself in C). The constructors registered here build mappings and lists directly, take a string
scalar's text as it is, and hand every other node (numbers, dates, booleans, null, explicit tags, merge keys,
anything unusual) back to the loader's own `construct_*` methods: the result is exactly what `yaml.safe_load`
gives (tests/bot/ingest/test_yaml_loader.py compares them), ~15% cheaper per file.

Only PyYAML's documented extension points are used: a `Loader` subclass, `add_constructor`, and the
constructor's public `construct_object` / `construct_mapping` / `construct_sequence`.

One difference: a structure that contains itself (`a: &x [*x]`) is refused with PyYAML's own "found
unconstructable recursive node" error instead of being built (no story field can hold one anyway).
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# libyaml's parser when PyYAML was built with it (python-frontmatter makes the same choice).
try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - the PyYAML wheels of every supported platform include libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_VALUE = "tag:yaml.org,2002:value"
_SPECIAL_KEYS = (_MERGE, _VALUE)


class FrontMatterLoader(_SafeLoader):
    """`yaml.safe_load` semantics, built faster: pass as `Loader=` to python-frontmatter's YAML handler."""


def _value(loader: FrontMatterLoader, node: Node) -> Any:
    # An untagged or !!str scalar is its text (SafeConstructor.construct_yaml_str returns exactly that); aliases
    # of such a node give the same immutable str. Everything else is the loader's business.
    if type(node) is ScalarNode and node.tag == _STR:
        return node.value
    return loader.construct_object(node, deep=True)


def _construct_map(loader: FrontMatterLoader, node: Node) -> Any:
    if type(node) is not MappingNode:
        # A !!map tag on a scalar or list: PyYAML checks the node and raises its own error.
        return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    data: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        if key_node.tag in _SPECIAL_KEYS:
            # `<<: *defaults` merges and `=` value keys: the safe constructor rewrites the mapping first.
            return loader.construct_mapping(node, deep=True)
        key = _value(loader, key_node)
        value = _value(loader, value_node)
        try:
            data[key] = value
        except TypeError:
            # An unhashable key (a list or mapping as a key): the safe constructor reports it with its position.
            return loader.construct_mapping(node, deep=True)
    return data


def _construct_seq(loader: FrontMatterLoader, node: Node) -> Any:
    if type(node) is not SequenceNode:
        # A !!seq tag on a scalar or mapping: PyYAML checks the node and raises its own error.
        return loader.construct_sequence(node, deep=True)  # type: ignore[arg-type]
    return [_value(loader, item) for item in node.value]


FrontMatterLoader.add_constructor(_MAP, _construct_map)
FrontMatterLoader.add_constructor(_SEQ, _construct_seq)

__all__ = ["FrontMatterLoader"]
