"""Typed, frozen configuration loaded from ``params.yaml``.

Every module that takes settings defines a frozen dataclass for them and validates values in
``__post_init__`` with :func:`check`. :func:`from_dict` builds such a dataclass from plain YAML data,
recursing into nested dataclasses, and turns every problem into one :class:`ConfigError` that names
the key path, the value and what is allowed::

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Blur:
    ...     prob: float = 0.5
    ...     def __post_init__(self):
    ...         check(0 <= self.prob <= 1, "prob", self.prob, "a probability in [0, 1]")
    >>> from_dict(Blur, {"prob": 2}, "augs.blur")
    Traceback (most recent call last):
    ...
    occlusion.config.ConfigError: augs.blur.prob = 2.0: expected a probability in [0, 1]
"""
from __future__ import annotations

import collections.abc
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, TypeVar, get_args, get_origin, get_type_hints

import yaml

__all__ = ["ConfigError", "FieldError", "check", "from_dict", "load_yaml", "to_dict"]

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value is missing, unknown or invalid; the message names its key path."""


class FieldError(ValueError):
    """Raised by a dataclass's ``__post_init__``; :func:`from_dict` adds the key path."""

    def __init__(self, field: str, value: Any, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{field} = {value!r}: expected {allowed}")


def check(condition: bool, field: str, value: Any, allowed: str) -> None:
    """Raise :class:`FieldError` unless ``condition`` holds."""
    if not condition:
        raise FieldError(field, value, allowed)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(tp: Any, value: Any, path: str) -> Any:
    """``value`` checked against (and converted to) the type hint ``tp``; ``path`` names it in errors."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, path)
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{path} = {value!r}: expected one of {', '.join(map(repr, get_args(tp)))}")
        return value
    if origin in (typing.Union, types.UnionType):
        return _convert_union(tp, value, path)
    if origin in (tuple, list, collections.abc.Sequence):
        return _convert_sequence(tp, value, path)
    if origin in (dict, collections.abc.Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path} = {value!r}: expected a mapping")
        args = get_args(tp)
        vt = args[1] if len(args) == 2 else Any
        return types.MappingProxyType({str(k): _convert(vt, v, _join(path, str(k))) for k, v in value.items()})
    if tp in _SCALARS:
        accepts, expected, make = _SCALARS[tp]
        if not accepts(value):
            raise ConfigError(f"{path} = {value!r}: expected {expected}")
        return make(value)
    return value


def _convert_union(tp: Any, value: Any, path: str) -> Any:
    """The first member of the union ``tp`` that accepts ``value`` (None for an optional's None)."""
    args = get_args(tp)
    if value is None and type(None) in args:
        return None
    errors = []
    for arg in args:
        if arg is type(None):
            continue
        try:
            return _convert(arg, value, path)
        except ConfigError as exc:
            errors.append(str(exc))
    raise ConfigError(errors[0] if len(errors) == 1 else f"{path} = {value!r}: expected {_type_name(tp)}")


def _convert_sequence(tp: Any, value: Any, path: str) -> list | tuple:
    """A YAML list as ``tuple[X, ...]``, a fixed-length ``tuple[X, Y]``, ``list[X]`` or ``Sequence[X]`` (a tuple)."""
    origin, args = get_origin(tp), get_args(tp)
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{path} = {value!r}: expected a list")
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        items = [_convert(args[0], v, _join(path, i)) for i, v in enumerate(value)]
    elif origin is tuple and args:
        if len(value) != len(args):
            raise ConfigError(f"{path} = {value!r}: expected a list of {len(args)} items")
        items = [_convert(a, v, _join(path, i)) for i, (a, v) in enumerate(zip(args, value))]
    else:
        items = [_convert(args[0] if args else Any, v, _join(path, i)) for i, v in enumerate(value)]
    return list(items) if origin is list else tuple(items)


def _identity(value: Any) -> Any:
    return value


_SCALARS: dict[type, tuple[Callable[[Any], bool], str, Callable[[Any], Any]]] = {
    bool: (lambda v: isinstance(v, bool), "true or false", _identity),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer", _identity),
    float: (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number", float),
    str: (lambda v: isinstance(v, str), "a string", _identity),
    Path: (lambda v: isinstance(v, (str, Path)), "a path", Path),
}
"""Scalar type hint -> (accepts the YAML value, what is expected, conversion)."""


def from_dict(cls: type[T], data: Mapping[str, Any] | None, path: str = "") -> T:
    """Build the frozen dataclass ``cls`` from ``data``; unknown keys and bad values raise :class:`ConfigError`."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or cls.__name__} = {data!r}: expected a mapping of {cls.__name__} fields")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = ", ".join(_join(path, k) for k in unknown)
        raise ConfigError(f"unknown key {where}; allowed keys at {path or 'top level'}: {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], _join(path, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing key {_join(path, name)} ({_type_name(hints[name])})")
    try:
        return cls(**kwargs)
    except FieldError as exc:
        raise ConfigError(f"{_join(path, exc.field)} = {exc.value!r}: expected {exc.allowed}") from None


def to_dict(obj: Any) -> Any:
    """Plain YAML/JSON-able data of a (nested) config dataclass."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing or malformed file raises :class:`ConfigError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at top level, got {type(data).__name__}")
    return data
