"""Find, read and validate the configuration file, reporting errors by key path and line.

YAML is composed into nodes first so that every key path keeps the line it came from;
pydantic then validates the plain data, and each of its errors is mapped back to a line.
A missing key is reported at the line of the mapping that should hold it.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from console.errors import McpOpsError

from .model import Config
from .secrets import read_secrets_file, remember_file_secrets
from .yaml_limits import YamlLimitError, check_nodes, check_size

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigProblem:
    path: str  # dotted key path, e.g. environments.production.kubernetes.namespace
    line: int | None  # 1-based
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path or '(top level)'}: {self.message}"


class ConfigError(McpOpsError):
    """The configuration could not be used. ``problems`` lists every reason found."""

    title = "Configuration error"

    def __init__(self, source: str, problems: list[ConfigProblem]):
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{self.source}: {len(self.problems)} problem(s)"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


def candidate_paths(explicit: str | os.PathLike | None = None) -> list[tuple[Path, str]]:
    """The places a config file is looked for, in order, each with why it is looked at."""
    found: list[tuple[Path, str]] = []
    if explicit:
        return [(Path(explicit).expanduser(), "--config")]
    if os.environ.get("MCP_OPS_CONFIG"):
        found.append((Path(os.environ["MCP_OPS_CONFIG"]).expanduser(), "$MCP_OPS_CONFIG"))
    found.append((Path.cwd() / "mcp-ops.yaml", "./mcp-ops.yaml"))
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    found.append((Path(xdg) / "mcp-ops" / "config.yaml", "$XDG_CONFIG_HOME/mcp-ops/config.yaml"))
    return found


def discover(explicit: str | os.PathLike | None = None) -> Path:
    """The config file to use. ``--config`` and ``$MCP_OPS_CONFIG`` must exist when given."""
    candidates = candidate_paths(explicit)
    for path, why in candidates:
        if path.is_file():
            return path
        if why in ("--config", "$MCP_OPS_CONFIG"):
            raise ConfigError(str(path), [ConfigProblem("", None, f"file not found (from {why})")])
    looked = ", ".join(str(p) for p, _ in candidates)
    raise ConfigError(
        "mcp-ops",
        [ConfigProblem("", None, f"no configuration file found (looked in {looked}); "
                       "copy config.example.yaml to one of them, pass --config, "
                       "or try `mcp-ops sandbox`")],
    )


def load(explicit: str | os.PathLike | None = None) -> tuple[Path, Config]:
    path = discover(explicit)
    return path, load_file(path)


def load_file(path: str | os.PathLike) -> Config:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), [ConfigProblem("", None, exc.strerror or str(exc))]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(str(path), [ConfigProblem("", line, (
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8"))]) from None
    config = parse(text, str(path))
    if config.secrets_file:
        _load_secrets(path, config.secrets_file, _key_line(text, "secrets_file"))
    return config


def _key_line(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(f"{key}:"):
            return number
    return None


def _load_secrets(config_path: Path, name: str, line: int | None) -> None:
    """Make the secrets file's variables known to :func:`~.secrets.secret`."""
    target = Path(name).expanduser()
    if not target.is_absolute():
        target = config_path.parent / target
    try:
        values = read_secrets_file(target)
    except (OSError, ValueError) as exc:
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(str(config_path), [ConfigProblem(
            "secrets_file", line, f"{target}: {message}")]) from None
    remember_file_secrets(values)


def parse(text: str, source: str = "<config>") -> Config:
    try:
        check_size(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None:
            check_nodes(node)
    except YamlLimitError as exc:
        raise ConfigError(source, [ConfigProblem("", exc.line, str(exc))]) from None
    except RecursionError:
        raise ConfigError(source, [ConfigProblem("", None, "nested too deeply")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
            line = text[:exc.position].count("\n") + 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, [ConfigProblem("", line, f"not valid YAML: {problem}")]) from exc
    if node is None:
        raise ConfigError(source, [ConfigProblem("", 1, "the file is empty")])
    lines: dict[Path_, int] = {}
    try:
        data = _construct(node, (), lines)
    except _NodeProblem as exc:
        raise ConfigError(source, [exc.problem]) from None
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigProblem("", 1, "the top level must be a mapping")])
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc, data, lines)) from None


def _construct(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    """Plain Python data from a YAML node, recording each key path's line."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _NodeProblem(path, line, "a key must be a plain name, not a list or mapping")
            key = str(key_node.value)
            if key in out:
                raise _NodeProblem((*path, key), line,
                                   f"duplicate key (first at line {lines[(*path, key)]})")
            out[key] = _construct(value_node, (*path, key), lines)
            lines[(*path, key)] = line
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, (*path, i), lines) for i, v in enumerate(node.value)]
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError) as exc:  # e.g. a 5,000-digit int
        message = getattr(exc, "problem", None) or str(exc)
        raise _NodeProblem(path, node.start_mark.line + 1, f"unreadable value: {message}") from None


class _NodeProblem(Exception):
    def __init__(self, path: Path_, line: int, message: str):
        super().__init__(message)
        self.problem = ConfigProblem(".".join(str(p) for p in path), line, message)


def _problems(exc: ValidationError, data: dict, lines: dict[Path_, int]) -> list[ConfigProblem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "missing":
            message = "required value is missing"
            line = _nearest_line(loc[:-1], lines)
        elif kind == "extra_forbidden":
            message = "unknown key" + _suggestion(loc, data)
            line = _nearest_line(loc, lines)
        else:
            message = err["msg"].removeprefix("Value error, ")
            given = err.get("input")
            if _is_scalar(given) and repr(given) not in message and kind != "model_type":
                message += f" (got {given!r})"
            line = _nearest_line(loc, lines)
        problems.append(ConfigProblem(".".join(str(p) for p in loc), line, message))
    return problems


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _nearest_line(loc: Path_, lines: dict[Path_, int]) -> int | None:
    while True:
        if loc in lines:
            return lines[loc]
        if not loc:
            return None
        loc = loc[:-1]


def _suggestion(loc: Path_, data: dict) -> str:
    """' (did you mean 'namespace'?)' for a misspelt key, from the model's field names."""
    model = _model_at(loc[:-1])
    if model is None:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _model_at(loc: Path_) -> type[BaseModel] | None:
    """The model that validates the mapping at ``loc``; dict keys (environment names) are
    stepped over into the dict's value model."""
    annotation: Any = Config
    parts = list(loc)
    while parts:
        model = _model_of(annotation)
        if model is None:
            return None
        field = model.model_fields.get(str(parts.pop(0)))
        if field is None:
            return None
        annotation = field.annotation
        if getattr(annotation, "__origin__", None) is dict:
            if not parts:
                return None
            parts.pop(0)
            annotation = annotation.__args__[1]
    return _model_of(annotation)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None
