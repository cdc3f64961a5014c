"""Write docs/api.md, the Python API reference, from the public docstrings.

    python docs/make_api.py [--check]

The public API is what ``simulation`` and ``analysis`` export (their
``__all__``). Each function is given with its signature and docstring; each
class with its public methods and properties. NumPy-style sections
(``Parameters`` / ``----------``) become lists. Only the standard library is
used (:mod:`inspect`); ``--check`` exits 1 if docs/api.md is not what this
script writes (``tests/test_docs.py`` runs the same comparison).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "api.md"
MODULES = ("simulation", "analysis")
SECTIONS = {"Parameters", "Returns", "Yields", "Raises", "Attributes", "Other Parameters"}


def _inline(text: str) -> str:
    """reST inline markup as markdown: ``x`` and :role:`x` become `x`."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _docstring(obj) -> list[str]:
    """A docstring as markdown lines: prose, NumPy-style sections as lists,
    doctest examples fenced."""
    doc = inspect.getdoc(obj)
    if inspect.isclass(obj):  # its own docstring, not one inherited or generated
        doc = obj.__dict__.get("__doc__")
        if doc and dataclasses.is_dataclass(obj) and doc.startswith(f"{obj.__name__}("):
            doc = None
        doc = inspect.cleandoc(doc) if doc else None
        if hasattr(obj, "model_fields"):
            doc = (doc or "") + ("\n\nA pydantic model: its fields, the scenario keys, are"
                                 " listed in [Scenario files](scenarios.md).")
    lines = (doc or "(no docstring)").strip().splitlines()
    out, section, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"-{3,}", nxt.strip()):
            section = line.strip()
            out += ["", f"**{section}**", ""]
            i += 2
            continue
        if line.lstrip().startswith(">>>"):
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            out += ["", "```pycon", *block, "```", ""]
            continue
        if section in SECTIONS and line.strip() and not line.startswith(" "):
            name, _, kind = line.partition(" : ")
            desc = []
            while i + 1 < len(lines) and (lines[i + 1].startswith(" ") or not lines[i + 1]):
                if not lines[i + 1] and not (i + 2 < len(lines) and lines[i + 2].startswith(" ")):
                    break
                desc.append(lines[i + 1].strip())
                i += 1
            head = f"`{name.strip()}` ({kind.strip()})" if kind else f"`{name.strip()}`"
            out.append(_inline(f"- {head}: {' '.join(d for d in desc if d)}".rstrip(": ")))
        else:
            out.append(_inline(line.strip() if section in SECTIONS else line))
        i += 1
    return out


class _Annotation(str):
    """An annotation kept as text (``from __future__ import annotations``),
    shown without quotes."""

    def __repr__(self):
        return str(self)


def _signature(name: str, obj) -> str:
    """``name(parameters) -> return``, one parameter a line when long."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return name
    text = lambda a: _Annotation(a) if isinstance(a, str) else a  # noqa: E731
    sig = sig.replace(parameters=[p.replace(annotation=text(p.annotation))
                                  for p in sig.parameters.values()],
                      return_annotation=text(sig.return_annotation))
    if len(name) + len(str(sig)) <= 88:
        return f"{name}{sig}"
    params = ",\n".join(f"    {p}" for p in sig.parameters.values())
    ret = str(sig).rpartition(")")[2]
    return f"{name}(\n{params},\n){ret}"


def _function(name: str, obj, level: str) -> list[str]:
    return [f"{level} `{name}`", "", "```python", _signature(name, obj), "```", "",
            *_docstring(obj), ""]


def _class(qualname: str, cls) -> list[str]:
    public = [b if not b.__name__.startswith("_") else
              next(m for m in b.__mro__ if not m.__name__.startswith("_"))
              for b in cls.__bases__]
    bases = ", ".join(b.__name__ for b in public if b is not object)
    head = f"class {cls.__name__}({bases})" if bases else f"class {cls.__name__}"
    if dataclasses.is_dataclass(cls) or "__init__" in cls.__dict__:
        head = "class " + _signature(cls.__name__, cls)
    out = [f"### `{qualname}`", "", "```python", head, "```", "", *_docstring(cls), ""]
    for name, member in cls.__dict__.items():
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            doc = inspect.getdoc(member)
            out.append(f"- property `{name}`" + (f": {_inline(' '.join(doc.split()))}" if doc
                                                  else ""))
        elif inspect.isfunction(member) or isinstance(member, (classmethod, staticmethod)):
            func = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
            out += [""] + _function(f"{cls.__name__}.{name}", func, "####")
    return out + [""]


def render() -> str:
    out = ["# Python API", "",
           "Generated by `python docs/make_api.py` from the docstrings of what",
           "`simulation` and `analysis` export (their `__all__`); do not edit by hand",
           "(a test checks that this page is up to date). The command line is in",
           "[cli.md](cli.md), the scenario keys in [scenarios.md](scenarios.md).", ""]
    for modname in MODULES:
        module = importlib.import_module(modname)
        out += [f"## `{modname}`", "", *_docstring(module), ""]
        for name in sorted(n for n in module.__all__ if not n.startswith("_")):
            obj = getattr(module, name)
            if inspect.isclass(obj):
                out += _class(f"{modname}.{name}", obj)
            else:
                out += _function(f"{modname}.{name}", obj, "###")
    text = "\n".join(out)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.rstrip() + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/api.md is out of date; write nothing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUT.read_text() if OUT.exists() else ""
        if current != text:
            print(f"{OUT.relative_to(ROOT)} is out of date: run python docs/make_api.py",
                  file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
