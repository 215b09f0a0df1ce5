"""Safe YAML: bytes of one file → plain JSON-compatible documents with line numbers.

Only plain data is accepted. libyaml composes the node graph (linear time, aliases are
shared nodes, nothing is constructed), then one walk turns nodes into dicts, lists and
YAML 1.2 core-schema scalars while it

- refuses explicit tags other than the core ones (``!!python/object``, ``!!binary``,
  custom tags), merge keys, complex keys and duplicate keys;
- bounds depth and the number of nodes that aliases add (alias bombs), and refuses
  recursive aliases;
- records the line of every mapping key and sequence item, so schema errors found
  later can name ``file:line: field``.

YAML 1.2 core schema means ``yes``/``no``/``on``/``off`` stay strings and dates stay
strings; quoted scalars are always strings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from alignops.errors import ManifestError

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "Document",
    "Path",
    "format_path",
    "parse_documents",
]

MAX_FILE_BYTES = 1 << 20
"""Largest manifest file accepted (1 MiB)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences accepted."""
MAX_ALIAS_NODES = 100_000
"""Most nodes that alias references may add to a file once expanded."""

Path = tuple[str | int, ...]

_PLAIN = "alignops:plain"
_QUOTED = "alignops:quoted"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_SCALAR_TAGS = {_STR, _INT, _FLOAT, _BOOL, _NULL}

_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_INT_RE = re.compile(r"[-+]?[0-9]+\Z")
_OCT_RE = re.compile(r"0o[0-7]+\Z")
_HEX_RE = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT_RE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_SPECIAL_FLOAT_RE = re.compile(r"[-+]?\.(inf|Inf|INF)\Z|\.(nan|NaN|NAN)\Z")


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document of a file, as plain data, with where each field was written."""

    file: str
    index: int
    value: Any
    line: int
    locations: Mapping[Path, int] = field(repr=False)

    def line_of(self, path: Path) -> int:
        """Line of the deepest prefix of ``path`` that was written in the file."""
        for end in range(len(path), 0, -1):
            line = self.locations.get(path[:end])
            if line is not None:
                return line
        return self.line


def format_path(path: Path) -> str:
    """``("spec", "requirements", 0, "minScore")`` → ``spec.requirements[0].minScore``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


try:
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _Parser = yaml.SafeLoader  # type: ignore[assignment,misc]


class _Composer(_Parser):
    """libyaml's composer with resolution deferred to the walk below."""

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _QUOTED
        return _MAP if kind is MappingNode else _SEQ

    def descend_resolver(self, *args: Any) -> None:  # pure-Python fallback only
        return None

    def ascend_resolver(self, *args: Any) -> None:  # pure-Python fallback only
        return None


def parse_documents(file: str, data: bytes) -> list[Document]:
    """Parse every non-empty YAML document of ``file``; raise :class:`ManifestError`."""
    if len(data) > MAX_FILE_BYTES:
        raise ManifestError.single(
            file, f"file is {len(data):,} bytes; the limit is {MAX_FILE_BYTES:,} bytes"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ManifestError.single(file, "file is not valid UTF-8", line=line) from None
    composer = _Composer(text)
    documents: list[Document] = []
    try:
        index = 0
        while composer.check_node():
            node = composer.get_node()
            if node is None:
                continue
            walk = _Walk(file)
            value = walk.value(node, (), 0)
            if value is not None:
                documents.append(
                    Document(file, index, value, node.start_mark.line + 1, walk.locations)
                )
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            started = exc.context_mark
            where = f" started on line {started.line + 1}" if started else ""
            what = f"{exc.problem} ({exc.context}{where})"
        raise ManifestError.single(
            file,
            f"YAML syntax error: {what}",
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        position = getattr(exc, "position", None)
        at = text[:position].count("\n") + 1 if isinstance(position, int) else None
        reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
        raise ManifestError.single(file, f"YAML syntax error: {reason}", line=at) from None
    finally:
        dispose = getattr(composer, "dispose", None)
        if dispose is not None:
            dispose()
    return documents


class _Walk:
    """Turns one composed document into plain values, enforcing the limits."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.locations: dict[Path, int] = {}
        self._seen: set[int] = set()
        self._active: set[int] = set()
        self._alias_depth = 0
        self._alias_nodes = 0

    def _fail(self, node: Node, message: str, path: Path) -> ManifestError:
        return ManifestError.single(
            self.file,
            message,
            line=node.start_mark.line + 1,
            column=node.start_mark.column + 1,
            field=format_path(path) or None,
        )

    def value(self, node: Node, path: Path, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self._fail(node, f"nesting deeper than {MAX_DEPTH} levels", path)
        key = id(node)
        if key in self._active:
            raise self._fail(node, "recursive YAML alias", path)
        is_alias = key in self._seen
        self._seen.add(key)
        if is_alias or self._alias_depth:
            self._alias_nodes += 1
            if self._alias_nodes > MAX_ALIAS_NODES:
                raise self._fail(
                    node,
                    f"YAML aliases expand to more than {MAX_ALIAS_NODES:,} nodes (alias bomb?)",
                    path,
                )
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if is_alias:
            self._alias_depth += 1
        self._active.add(key)
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path, depth)
            assert isinstance(node, SequenceNode)
            return self._sequence(node, path, depth)
        finally:
            self._active.discard(key)
            if is_alias:
                self._alias_depth -= 1

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        if node.tag != _MAP:
            raise self._fail(node, f"unsupported YAML tag {node.tag!r}", path)
        out: dict[str, Any] = {}
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise self._fail(key_node, "mapping keys must be plain scalars", path)
            if key_node.tag not in (_PLAIN, _QUOTED, _STR):
                raise self._fail(key_node, f"unsupported YAML tag {key_node.tag!r}", path)
            name = str(key_node.value)
            if name == "<<" and key_node.tag == _PLAIN:
                raise self._fail(key_node, "YAML merge keys ('<<') are not supported", path)
            line = key_node.start_mark.line + 1
            if name in lines:
                raise self._fail(
                    key_node, f"duplicate key {name!r} (first defined on line {lines[name]})", path
                )
            lines[name] = line
            child = (*path, name)
            self.locations[child] = line
            out[name] = self.value(value_node, child, depth + 1)
        return out

    def _sequence(self, node: SequenceNode, path: Path, depth: int) -> list[Any]:
        if node.tag != _SEQ:
            raise self._fail(node, f"unsupported YAML tag {node.tag!r}", path)
        out: list[Any] = []
        for i, item in enumerate(node.value):
            child = (*path, i)
            self.locations[child] = item.start_mark.line + 1
            out.append(self.value(item, child, depth + 1))
        return out

    def _scalar(self, node: ScalarNode, path: Path) -> Any:
        tag, text = node.tag, str(node.value)
        if tag in (_QUOTED, _STR):
            return text
        if tag == _PLAIN:
            return self._resolve_plain(node, text, path)
        if tag not in _SCALAR_TAGS:
            raise self._fail(node, f"unsupported YAML tag {tag!r}", path)
        value: Any = self._resolve_plain(node, text, path)
        expected: dict[str, tuple[type, ...]] = {
            _INT: (int,),
            _FLOAT: (int, float),
            _BOOL: (bool,),
            _NULL: (type(None),),
        }
        kinds = expected[tag]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise self._fail(node, f"{text!r} is not a valid {tag.rsplit(':', 1)[1]}", path)
        return float(cast(float, value)) if tag == _FLOAT else value

    def _resolve_plain(self, node: ScalarNode, text: str, path: Path) -> Any:
        if text in _NULLS:
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        try:
            if _INT_RE.match(text):
                return int(text)
            if _OCT_RE.match(text):
                return int(text[2:], 8)
            if _HEX_RE.match(text):
                return int(text[2:], 16)
        except ValueError:
            raise self._fail(node, "integer has too many digits", path) from None
        if _FLOAT_RE.match(text):
            number = float(text)
            if math.isfinite(number):
                return number
            raise self._fail(node, f"number {text!r} is out of range", path)
        if _SPECIAL_FLOAT_RE.match(text):
            raise self._fail(node, f"non-finite number {text!r} is not allowed", path)
        return text
