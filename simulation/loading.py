"""Reading scenario text safely: a bounded YAML loader, file reading and
``--set`` overrides (the input side of issue 12, "reliability under hostile
input").

Every limit below is checked while the text is read, so that a hostile file
(an alias bomb, a list nested thousands of levels deep, ``/dev/zero``, a
duplicated section) gives one :class:`ScenarioError` line within a fraction of
a second and bounded memory, never a hang, a traceback or a silent run.
Messages never quote more than :data:`EXCERPT` characters of a value.

Limits
------
MAX_FILE_BYTES
    A scenario file (or one ``--set`` value) holds at most this many bytes;
    a scenario is a few kilobytes.
MAX_DEPTH
    Collections nest at most this deep (a scenario needs four levels).
MAX_ALIASES, MAX_NODES
    At most this many alias uses, and at most this many values in all, every
    alias counted at its expanded size (a "billion laughs" document, or a list
    of a hundred thousand values, is refused while it is read, before
    anything is built from it).
MAX_KEY_PARTS
    A ``--set`` key path has at most this many dotted parts.
"""

from __future__ import annotations

import copy as _copy
import os
import re
import reprlib
import stat
import sys
from pathlib import Path
from typing import Any

import yaml
import yaml.reader
from yaml.events import AliasEvent

from .errors import ScenarioError

MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_ALIASES = 100
MAX_NODES = 10_000
MAX_KEY_PARTS = 8
EXCERPT = 60

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxlist, _repr.maxtuple, _repr.maxset = 2, 4, 4, 4
_repr.maxdict, _repr.maxstring, _repr.maxlong, _repr.maxother = 4, EXCERPT, 40, 40


def excerpt(value: Any, limit: int = EXCERPT) -> str:
    """``repr(value)`` cut to at most ``limit`` characters, on one line.

    Built with :mod:`reprlib`, so it takes the same short time for a value
    of any size or depth (never the full repr of a huge or shared structure).

    Parameters
    ----------
    value : object
        Any value read from a scenario or an override.
    limit : int
        Longest text returned (an ellipsis marks a cut).
    """
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    text = _repr.repr(value) if not isinstance(value, str) else repr(value[: limit + 1])
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


class LimitError(yaml.YAMLError):
    """A document that breaks a reading limit (or repeats a key)."""

    def __init__(self, message: str, mark=None):
        super().__init__(message)
        self.message = message
        self.mark = mark


def _where(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with the scalars of YAML 1.2's core schema and
    reading limits.

    Scalars (see :data:`YAML_1_1_ONLY`): only true/false are booleans (so
    that the key ``stop.on`` and values like ``no`` stay text); numbers are
    decimal, ``0x`` hexadecimal or ``0o`` octal, without ``_`` (``1e-4`` and
    ``1e6`` are numbers; ``1_000``, ``1:30`` and dates stay text). A leading
    zero (``012``: 12 in YAML 1.2, 10 in YAML 1.1) stays text too, so that
    no reader of either version reads the file otherwise. While composing,
    the loader counts nesting depth, alias uses and the size of every node
    with its aliases expanded, and refuses a repeated mapping key.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._nodes = 0  # values so far, every alias counted at its expanded size
        self._size: dict[int, int] = {}

    def _count(self, n: int, mark) -> None:
        self._nodes += n
        if self._nodes > MAX_NODES:
            raise LimitError(f"more than {MAX_NODES} values (aliases counted expanded); "
                             "a scenario holds a few hundred", mark)

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise LimitError(f"more than {MAX_ALIASES} alias uses (*name); "
                                 "write the values out", event.start_mark)
            node = super().compose_node(parent, index)
            self._count(self._size.get(id(node), 1), event.start_mark)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise LimitError(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        # Counted when it starts, so that a long list is refused as soon as it
        # passes the limit, not after it has been read whole.
        self._count(1, event.start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        children = ()
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        self._size[id(node)] = 1 + sum(self._size.get(id(child), 1) for child in children)
        return node

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # unhashable: the base class reports it
                if first is not None:
                    raise LimitError(
                        f"duplicate key {excerpt(key)} (first at line {first.line + 1}); "
                        "each key may appear once", key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


# YAML 1.2's core schema: null, bool, int and float (and the merge key <<,
# which YAML 1.2 readers keep); YAML 1.1's timestamps and '=' are text.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag in ("tag:yaml.org,2002:null", "tag:yaml.org,2002:merge")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+|0o[0-7]+)$"),
    list("-+0123456789"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?[0-9]*\.[0-9]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?[0-9]+\.(?:[eE][-+]?[0-9]+)?
                  |[-+]?[0-9]+[eE][-+]?[0-9]+
                  |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))

def yaml_1_1_hint(text: str, want: type) -> str | None:
    """For ``text`` that YAML 1.1 (PyYAML's default reader, and many other
    tools) reads as a ``want`` (``bool``, or ``int``/``float`` for a number)
    but this loader, as YAML 1.2, keeps as text (``yes``, ``1_000``,
    ``012``, ``1:30``, ``0b101``): what to write instead, as a sentence;
    None for other text."""
    if len(text) > 40:
        return None
    try:
        old = yaml.safe_load(text)
        if not isinstance(yaml.load(text, Loader=_Loader), str):
            return None  # quoted text, which YAML 1.2 would read as a value unquoted
    except yaml.YAMLError:
        return None
    if isinstance(old, bool) != (want is bool) or not isinstance(old, (bool, int, float)):
        return None
    digits = text.lstrip("+-")
    if digits[:1] == "0" and digits.isdigit():  # read otherwise by YAML 1.2: refused
        return (f"{text!r} is {old} in YAML 1.1 (octal) and {int(text, 10)} in YAML 1.2: "
                f"write {int(text, 10)}, or {text[:len(text) - len(digits)]}0o"
                f"{digits.lstrip('0') or '0'} for octal {old}")
    said = f"{text!r} is {excerpt(old)} in YAML 1.1 only; scenario files are YAML 1.2"
    return f"{said}: write {excerpt(old) if want is bool else repr(old)}"


class _Dumper(yaml.SafeDumper):
    """Safe dumper that quotes every string which either :class:`_Loader` or
    PyYAML's own YAML 1.1 loader would read as something else (``1e6``,
    ``no``), so that a resolved scenario reads back the same with both."""

    def resolve(self, kind, value, implicit):
        tag = super().resolve(kind, value, implicit)
        if kind is yaml.ScalarNode and implicit[0] and tag == "tag:yaml.org,2002:str":
            for candidate, regexp in _Loader.yaml_implicit_resolvers.get(value[:1], []):
                if regexp.match(value):
                    return candidate
        return tag


def cut(text: str, limit: int) -> str:
    """``text`` on one line, at most about ``limit`` characters, cut at a
    word (never mid-word) and marked ``...`` where cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit + 1].rsplit(" ", 1)[0] if " " in text[:limit + 1] else text[:limit]
    return head.rstrip(",;:") + " ..."


def dump_yaml(data) -> str:
    """``data`` as YAML text that :func:`safe_load` and ``yaml.safe_load``
    both read back as ``data`` (keys in their order)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False)


def safe_load(text: str, source: str = "<text>"):
    """Parse YAML text within the reading limits.

    Parameters
    ----------
    text : str
        The YAML document.
    source : str
        Names the text in messages (a file path, or ``--set KEY``).

    Returns
    -------
    object
        The parsed document (None for an empty one).

    Raises
    ------
    ScenarioError
        One line naming ``source``, the line and column and the problem.
    """
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioError(f"{source}: longer than {MAX_FILE_BYTES // 1024} KiB "
                            "(a scenario is a few KiB)")
    loader = None
    try:
        loader = _Loader(text)  # checks for non-printable characters at once
        return loader.get_single_data()
    except yaml.reader.ReaderError as exc:
        raise ScenarioError(f"{source}: not valid YAML at character {exc.position + 1}: "
                            f"{exc.reason}"
                            + (f" (#x{exc.character:04x})" if isinstance(exc.character, int)
                               else "")) from None
    except LimitError as exc:
        where = f" at {_where(exc.mark)}" if exc.mark is not None else ""
        raise ScenarioError(f"{source}: refused{where}: {exc.message}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at {_where(mark)}" if mark is not None else ""
        problem = str(getattr(exc, "problem", None) or "invalid YAML")
        raise ScenarioError(f"{source}: not valid YAML{where}: {cut(problem, 120)}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # A scalar that the constructor cannot build (a date like 2001-13-45,
        # an integer of thousands of digits, !!float 'x').
        reason = (f"an integer of more than {sys.get_int_max_str_digits()} digits"
                  if "integer string conversion" in str(exc) else cut(str(exc), EXCERPT))
        raise ScenarioError(f"{source}: not valid YAML: a value cannot be read "
                            f"({reason})") from None
    finally:
        if loader is not None:
            loader.dispose()


def read_text(path: Path) -> str:
    """The text of a scenario file: a regular file of at most
    :data:`MAX_FILE_BYTES`, read without ever reading more than that.

    Raises
    ------
    ScenarioError
        For a missing file, a folder, a device or fifo, an oversize file, or
        text that is not UTF-8.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a folder, not a scenario file") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the file "
                            f"({exc.strerror or exc.__class__.__name__})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ScenarioError(f"{path}: is a folder, not a scenario file")
        if not stat.S_ISREG(mode):
            raise ScenarioError(f"{path}: not a regular file (a device, fifo or "
                                "socket); give a scenario file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the file "
                            f"({exc.strerror or exc.__class__.__name__})") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB "
                            "(a scenario is a few KiB); is it the right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: cannot read the file: not UTF-8 text (byte {exc.start}); "
                            "is it a scenario file?") from None


def read_yaml(path: Path):
    """Read and parse a scenario file within the limits (None when it holds
    no document)."""
    return safe_load(read_text(Path(path)), str(path))


_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse one ``key.path=value`` override; the value is read as YAML with
    the same limits as a file.

    Returns
    -------
    (list of str, object)
        The key path's parts and the parsed value.
    """
    shown = excerpt(text)
    if "=" not in text:
        raise ScenarioError(f"override {shown}: expected key.path=value, "
                            "for example copy.error_rate=1e-3")
    key, raw = text.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ScenarioError(f"override {shown}: empty key path")
    if len(parts) > MAX_KEY_PARTS or not all(_KEY.match(p) for p in parts):
        raise ScenarioError(f"override {shown}: a key path is up to {MAX_KEY_PARTS} "
                            "dotted names of letters, digits and _ (e.g. copy.kernel.sd)")
    value = safe_load(raw, f"override {excerpt(key)}") if raw.strip() else None
    return parts, value


def apply_overrides(data: dict, overrides: list[str], source: str) -> dict:
    """A copy of ``data`` with each ``key.path=value`` override set."""
    data = _copy.deepcopy(data)
    for text in overrides:
        parts, value = parse_override(text)
        node = data
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ScenarioError(
                    f"{source}: override {'.'.join(parts)}: {'.'.join(parts[:depth + 1])} "
                    f"is {excerpt(child)}, not a section")
            node = child
        node[parts[-1]] = value
    return data
