"""A chapter's settings as the command line sees them: the fields of its config dataclass.

- :func:`settings` lists every field (the fields of a nested config dataclass as
  ``outer.inner``) with its type;
- :func:`read` checks the names of settings and reads their values with :func:`parse_value`;
- :func:`parse_value` reads a setting's value as the field's type (int, float, bool, str,
  ``X | None``, tuples such as ``0,5,10`` or ``(2,64),(4,128)``), from the text of
  ``--set NAME=VALUE`` or from JSON values (``COLLAPSE_OVERRIDES``): the one parser that
  :func:`collapse_lib.protocol.load` applies to every setting;
- :func:`field_comments` reads the ``# ...`` comments beside the fields from the source.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import io
import textwrap
import tokenize
import types
import typing
from typing import Any

NONE_WORDS = ("none", "null")
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")


def settings(cls: type, prefix: str = "") -> dict[str, Any]:
    """``{name: type}`` of every field of the dataclass ``cls``, in source order; the
    fields of a nested config dataclass appear as ``outer.inner``."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            out.update(settings(kind, f"{prefix}{f.name}."))
        else:
            out[prefix + f.name] = kind
    return out


def type_name(kind) -> str:
    """How ``show`` prints a field's type: ``int``, ``tuple[int, ...]``, ``int | None``."""
    return kind.__name__ if isinstance(kind, type) and not typing.get_args(kind) else str(kind).replace("typing.", "")


def _bad(name: str, text: str, allowed: str):
    raise ValueError(f"{name}={text!r} is not allowed: {allowed}")


def _scalar(name: str, text: str, kind):
    s = text.strip()
    if kind is bool:
        if s.lower() in TRUE_WORDS:
            return True
        if s.lower() in FALSE_WORDS:
            return False
        _bad(name, text, "it must be true or false")
    if kind is int:
        try:
            return int(s)
        except ValueError:
            try:
                x = float(s)
            except ValueError:
                x = None
            if x is not None and x.is_integer():
                return int(x)  # 1e6
        _bad(name, text, "it must be an integer")
    if kind is float:
        try:
            return float(s)
        except ValueError:
            _bad(name, text, "it must be a number")
    if kind is str:
        return s[1:-1] if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"" else s
    _bad(name, text, f"a setting of type {type_name(kind)} cannot be given on the command line")


def _coerce(name: str, text: str, value, kind):
    """``value`` (a literal or a string) as ``kind``; ``text`` is what the user wrote."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if type(None) in args and (value is None or (isinstance(value, str) and value.strip().lower() in NONE_WORDS)):
            return None
        if len(rest) == 1:
            return _coerce(name, text, value, rest[0])
        _bad(name, text, f"a setting of type {type_name(kind)} cannot be given on the command line")
    if origin is tuple:
        if isinstance(value, str):
            value = _literal(value)
        if isinstance(value, str):
            value = [v for v in value.split(",")] if value.strip() else []
        if not isinstance(value, (tuple, list)):
            value = (value,)
        if len(args) == 2 and args[1] is Ellipsis:
            inner = args[0]
            if typing.get_origin(inner) is tuple and value and not any(isinstance(v, (tuple, list)) for v in value):
                value = (value,)  # one pair given: (2,64) for a tuple of pairs
            return tuple(_coerce(name, text, v, inner) for v in value)
        if len(value) != len(args):
            _bad(name, text, f"it must have {len(args)} entries ({type_name(kind)})")
        return tuple(_coerce(name, text, v, a) for v, a in zip(value, args))
    if isinstance(value, str):
        return _scalar(name, value, kind)
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is bool and isinstance(value, bool):
        return value
    return _scalar(name, str(value), kind)


def _literal(text: str):
    """A Python literal (numbers, strings, tuples, lists), or ``text`` when it is not one."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def unknown(name: str, known, what: str) -> ValueError:
    """The error for a setting that ``what`` does not have, listing the known ones."""
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ValueError(f"{name!r} is not a setting of {what}{hint}: the settings are {', '.join(known)}")


def split_assignment(assignment: str) -> tuple[str, str]:
    """``(name, text)`` of ``NAME=VALUE`` as written after ``--set``."""
    name, sep, text = assignment.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ValueError(f"--set {assignment!r} is not allowed: write NAME=VALUE, for example --set seed=1")
    return name, text


def read(cls: type, changes: dict[str, Any], what: str = "", where: str = "") -> dict[str, Any]:
    """``changes`` (``{name: text or value}``, nested fields as ``outer.inner``) read as the
    types of the fields of the dataclass ``cls``. An unknown name is refused with the
    known ones and the closest match; ``where`` says where it was given."""
    known = settings(cls)
    what = what or cls.__name__
    out = {}
    for name, value in changes.items():
        if name not in known:
            groups = {n.split(".")[0] for n in known if "." in n}
            if name in groups:
                example = next(n for n in known if n.startswith(name + "."))
                raise ValueError(f"{name!r} is a group of settings of {what}: set its fields one by one, "
                                 f"for example {example}=...")
            err = unknown(name, known, what)
            raise ValueError(f"{where}: {err}" if where else str(err))
        out[name] = parse_value(name, value, known[name])
    return out


def parse_value(name: str, value, kind) -> Any:
    """``value`` read as a value of type ``kind``: text as written after ``--set NAME=``,
    or a value of the type already (JSON lists for tuples). A ValueError names the setting.
    This is the one parser of every setting (:func:`collapse_lib.protocol.load`)."""
    return _coerce(name, value if isinstance(value, str) else repr(value), value, kind)


def jsonable(value):
    """Tuples as lists and nested configs as dicts, for JSON."""
    if dataclasses.is_dataclass(value):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def config_dict(cfg) -> dict:
    """A config as JSON-ready values."""
    return jsonable(cfg)


def value_text(value) -> str:
    """A value as ``--set`` reads it back: ``0,5,10``, ``none``, ``true``, ``(2,64),(4,128)``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        if not value:
            return "()"
        return ",".join(f"({value_text(v)})" if isinstance(v, tuple) else value_text(v) for v in value)
    return str(value)


def field_comments(cls: type) -> dict[str, tuple[str, str]]:
    """``{field: (comment, section)}`` of the dataclass ``cls``, read from its source: the
    ``# ...`` comment on the lines of the field's definition, and the latest comment line
    of its own above it (a section heading, '' when none)."""
    source = textwrap.dedent(inspect.getsource(cls))
    comments = {tok.start[0]: tok.string.lstrip("#").strip(" -")
                for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    lines = source.splitlines()
    out, section, last = {}, "", 0
    for node in ast.parse(source).body[0].body:
        for line in range(last + 1, node.lineno):
            if line in comments and lines[line - 1].lstrip().startswith("#"):
                section = comments[line]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            text = " ".join(comments[i] for i in range(node.lineno, node.end_lineno + 1) if i in comments)
            out[node.target.id] = (text, section)
        last = node.end_lineno
    return out
