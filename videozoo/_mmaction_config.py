"""Read MMAction2 config files (0.x and 1.x) without running them.

MMAction2 configs are Python files that mmcv/mmengine execute. Executing a file from a lab's
checkpoint or an unknown repository runs arbitrary code, so this module parses the file with
:mod:`ast` and evaluates only the small language the configs are written in:

* literals, ``dict()`` / ``list()`` / ``tuple()`` / ``range()`` calls, ``**`` unpacking,
  f-strings, subscripts and simple arithmetic on numbers, strings and lists;
* names assigned earlier in the same file;
* ``_base_`` inheritance (a path or a list of paths, relative to the file), merged the way
  mmengine's ``Config`` merges (child keys override, nested dicts merge, ``_delete_=True``
  replaces, duplicate keys among bases are an error);
* references to the bases' values: mmengine's ``_base_.model.backbone`` attribute chains and the
  ``{{_base_.xxx}}`` text form, and the predefined ``{{fileDirname}}``-style variables.

Anything else (imports, other calls, attribute access on anything but ``_base_``, lambdas,
comprehensions, ``with read_base()`` lazy configs, environment variables) is refused with a
:class:`ConfigError` that names the line. Nothing in the file is ever executed.
"""
from __future__ import annotations

import ast
import copy
import os
import posixpath
import re
from typing import Any, Callable, Mapping, Optional, Union

__all__ = ["ConfigError", "load_config", "parse_config_text", "config_from_checkpoint_meta"]

BASE_KEY = "_base_"
DELETE_KEY = "_delete_"

# A reader maps a path (as the config names it, joined to the including file's folder) to text.
Reader = Callable[[str], str]

_MAX_SEQUENCE = 100_000  # guards '[0] * 10**9'-style values
_MAX_POWER = 256
_MAX_BASE_DEPTH = 32
_BASE_REF = re.compile(r"\{\{\s*_base_\.([\w.]+)\s*\}\}")
_PREDEFINED = re.compile(r"\{\{\s*(fileDirname|fileBasename|fileBasenameNoExtension|fileExtname)\s*\}\}")
_ENV_REF = re.compile(r"\{\{\s*\$")
_PLACEHOLDER = "__videozoo_base_ref_{}__"


class ConfigError(ValueError):
    """A config file this reader cannot express (or that mmengine itself would reject)."""


def _read_local(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_config(path: Union[str, os.PathLike], *, reader: Optional[Reader] = None) -> dict[str, Any]:
    """The merged config dict of an MMAction2 config file, with its ``_base_`` files applied.

    ``reader`` reads the files (default: the local file system); the audit tool passes one that
    reads a git revision. Relative ``_base_`` paths are joined to the including file's folder.
    """
    path = os.fspath(path)
    read = reader or _read_local
    try:
        text = read(path)
    except (OSError, KeyError) as e:
        raise ConfigError(f"cannot read config {path}: {e}") from e
    return _file_to_dict(text, path, read, stack=())


def parse_config_text(text: str, *, filename: str = "<config>",
                      reader: Optional[Reader] = None) -> dict[str, Any]:
    """Like :func:`load_config` for config text already in memory (``_base_`` paths are
    resolved against ``filename``'s folder with ``reader``; without a reader they are refused)."""
    def no_reader(p: str) -> str:
        raise ConfigError(f"{filename}: _base_ file {p!r} cannot be read (config text has no folder)")
    return _file_to_dict(text, filename, reader or no_reader, stack=())


def config_from_checkpoint_meta(meta: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    """The config a training run saved in its checkpoint's ``meta``, parsed; None when absent.

    mmengine runners (MMAction2 1.x) store ``meta['cfg']``, the config's ``pretty_text``; MMAction2
    0.x's ``tools/train.py`` stores ``meta['config']``, also ``pretty_text``. Either may already be
    a dict in files written by other tools.
    """
    for key in ("cfg", "config"):
        value = meta.get(key)
        if isinstance(value, Mapping):
            return _plain(value)
        if isinstance(value, str) and value.strip():
            return parse_config_text(value, filename=f"checkpoint meta[{key!r}]")
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


# -- files and inheritance ------------------------------------------------------------------------
def _file_to_dict(text: str, path: str, read: Reader, stack: tuple[str, ...]) -> dict[str, Any]:
    norm = posixpath.normpath(path.replace(os.sep, "/"))
    if norm in stack:
        raise ConfigError(f"{path}: _base_ inheritance loops: {' -> '.join((*stack, norm))}")
    if len(stack) > _MAX_BASE_DEPTH:
        raise ConfigError(f"{path}: _base_ inheritance deeper than {_MAX_BASE_DEPTH} files")
    if _ENV_REF.search(text):
        raise ConfigError(f"{path}: environment-variable references ({{{{$VAR}}}}) are not supported")
    text = _substitute_predefined(text, path)
    text, base_refs = _pre_substitute_base_refs(text)
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as e:
        raise ConfigError(f"{path}: not valid Python: {e.msg} (line {e.lineno})") from e

    base_files = _base_files(tree, path)
    base: dict[str, Any] = {}
    folder = posixpath.dirname(norm)
    for rel in base_files:
        if "::" in rel:
            raise ConfigError(f"{path}: external package configs ({rel!r}) are not supported")
        base_path = posixpath.normpath(posixpath.join(folder, rel))
        try:
            base_text = read(base_path)
        except (OSError, KeyError) as e:
            raise ConfigError(f"{path}: cannot read _base_ file {rel!r} ({base_path}): {e}") from e
        sub = _file_to_dict(base_text, base_path, read, (*stack, norm))
        dup = base.keys() & sub.keys()
        if dup:
            raise ConfigError(f"{path}: duplicate keys among _base_ files: {sorted(dup)}")
        base.update(sub)

    own = _Evaluator(path, base).run(tree)
    own = _resolve_base_refs(own, base_refs, base, path)
    own.pop(BASE_KEY, None)
    merged = merge_into(own, base)
    return {k: v for k, v in merged.items() if not k.startswith("__")}


def _substitute_predefined(text: str, path: str) -> str:
    name = posixpath.basename(path)
    values = {
        "fileDirname": posixpath.dirname(path),
        "fileBasename": name,
        "fileBasenameNoExtension": posixpath.splitext(name)[0],
        "fileExtname": posixpath.splitext(name)[1],
    }
    return _PREDEFINED.sub(lambda m: values[m.group(1)].replace("\\", "/"), text)


def _pre_substitute_base_refs(text: str) -> tuple[str, dict[str, str]]:
    refs: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        token = _PLACEHOLDER.format(len(refs))
        refs[token] = m.group(1)
        return repr(token)
    return _BASE_REF.sub(sub, text), refs


def _lookup_dotted(base: Mapping[str, Any], dotted: str, path: str) -> Any:
    value: Any = base
    for part in dotted.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise ConfigError(f"{path}: _base_.{dotted} is not defined in the _base_ files")
    return copy.deepcopy(value)


def _resolve_base_refs(value: Any, refs: dict[str, str], base: Mapping[str, Any], path: str) -> Any:
    if not refs:
        return value
    if isinstance(value, str) and value in refs:
        return _lookup_dotted(base, refs[value], path)
    if isinstance(value, dict):
        return {k: _resolve_base_refs(v, refs, base, path) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_base_refs(v, refs, base, path) for v in value]
    if isinstance(value, tuple):
        return tuple(_resolve_base_refs(v, refs, base, path) for v in value)
    return value


def _base_files(tree: ast.Module, path: str) -> list[str]:
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == BASE_KEY):
            value = _Evaluator(path, {}).eval(node.value)
            files = value if isinstance(value, (list, tuple)) else [value]
            if not all(isinstance(f, str) for f in files):
                raise ConfigError(f"{path}:{node.lineno}: _base_ must be a string or a list of strings")
            return list(files)
    return []


def merge_into(child: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """mmengine's merge of a child config into its base (neither argument is modified).

    A dict in the child merges key by key into a dict of the same key in the base, unless it says
    ``_delete_=True``, in which case it replaces it. Any other value replaces the base's. Like
    mmengine, ``_delete_`` is consumed only where there was a base value to delete.
    """
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict):
            value = dict(value)
            if key in out and not value.pop(DELETE_KEY, False):
                if not isinstance(out[key], dict):
                    raise ConfigError(
                        f"{key}: a dict in the child config cannot merge into a "
                        f"{type(out[key]).__name__} of the base (set _delete_=True to replace it)")
                out[key] = merge_into(value, out[key])
            else:
                out[key] = value
        else:
            out[key] = value
    return out


# -- the expression evaluator ---------------------------------------------------------------------
_CALLS = ("dict", "list", "tuple", "range")
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a ** b,
}
_SAFE_SCALARS = (bool, int, float, complex, str, bytes, type(None))


class _Evaluator:
    """Evaluates the statements of one config file into its own (unmerged) variables."""

    def __init__(self, path: str, base: Mapping[str, Any]):
        self.path = path
        self.base = base
        self.names: dict[str, Any] = {}

    def fail(self, node: ast.AST, what: str) -> ConfigError:
        line = getattr(node, "lineno", "?")
        return ConfigError(f"{self.path}:{line}: {what} is not supported in a config read "
                           "without executing it")

    def run(self, tree: ast.Module) -> dict[str, Any]:
        for node in tree.body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # docstring or a bare literal
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == BASE_KEY for t in node.targets):
                continue  # the inheritance list, read before; `_base_` names the bases' values
            if isinstance(node, ast.Assign):
                value = self.eval(node.value)
                for target in node.targets:
                    self.assign(target, value)
                continue
            if isinstance(node, ast.AnnAssign) and node.value is not None:
                self.assign(node.target, self.eval(node.value))
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                raise self.fail(node, "import")
            if isinstance(node, ast.With):
                raise self.fail(node, "'with' (lazy-import configs)")
            raise self.fail(node, f"a {type(node).__name__} statement")
        return self.names

    def assign(self, target: ast.AST, value: Any) -> None:
        if isinstance(target, ast.Name):
            if target.id in _CALLS:
                raise self.fail(target, f"rebinding the name {target.id!r}")
            self.names[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            if not isinstance(value, (list, tuple)) or len(value) != len(target.elts):
                raise ConfigError(f"{self.path}:{target.lineno}: cannot unpack {value!r}")
            for t, v in zip(target.elts, value):
                self.assign(t, v)
        elif isinstance(target, ast.Subscript) and not isinstance(target.slice, ast.Slice):
            container = self.container(target.value)
            key = self.eval(target.slice)
            if isinstance(container, list) and not isinstance(key, int):
                raise self.fail(target, "a list index that is not an integer")
            try:
                container[key] = value
            except (IndexError, TypeError) as e:
                raise ConfigError(f"{self.path}:{target.lineno}: {ast.unparse(target)}: {e}") from e
        else:
            raise self.fail(target, f"assigning to {type(target).__name__}")

    def container(self, node: ast.AST) -> Any:
        """The dict or list a subscript assignment changes in place (``x['k'] = v``)."""
        if isinstance(node, ast.Name) and node.id in self.names:
            value = self.names[node.id]
        elif isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
            outer = self.container(node.value)
            try:
                value = outer[self.eval(node.slice)]
            except (KeyError, IndexError, TypeError) as e:
                raise ConfigError(f"{self.path}:{node.lineno}: {ast.unparse(node)}: {e!r}") from e
        else:
            raise self.fail(node, f"assigning into {ast.unparse(node)}")
        if not isinstance(value, (dict, list)):
            raise self.fail(node, f"assigning into a {type(value).__name__}")
        return value

    def eval(self, node: ast.AST) -> Any:  # noqa: C901 - one branch per node type
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, _SAFE_SCALARS):
                raise self.fail(node, f"the constant {node.value!r}")
            return node.value
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.List):
            return self.sized([x for e in node.elts for x in self.element(e)], node)
        if isinstance(node, ast.Tuple):
            return tuple(self.sized([x for e in node.elts for x in self.element(e)], node))
        if isinstance(node, ast.Set):
            raise self.fail(node, "a set literal")
        if isinstance(node, ast.Dict):
            out: dict[Any, Any] = {}
            for k, v in zip(node.keys, node.values):
                if k is None:  # {**other}
                    out.update(self.mapping(v))
                else:
                    key = self.eval(k)
                    if not isinstance(key, (str, int, float, bool, tuple, type(None))):
                        raise self.fail(k, "a dict key of this type")
                    out[key] = self.eval(v)
            return out
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.UnaryOp):
            operand = self.eval(node.operand)
            if isinstance(node.op, ast.USub) and isinstance(operand, (int, float, complex)):
                return -operand
            if isinstance(node.op, ast.UAdd) and isinstance(operand, (int, float, complex)):
                return +operand
            if isinstance(node.op, ast.Not):
                return not operand
            raise self.fail(node, f"the unary operator {type(node.op).__name__}")
        if isinstance(node, ast.JoinedStr):
            return "".join(self.fstring_part(v) for v in node.values)
        raise self.fail(node, f"the expression {type(node).__name__}")

    def sized(self, items: list, node: ast.AST) -> list:
        if len(items) > _MAX_SEQUENCE:
            raise self.fail(node, f"a sequence longer than {_MAX_SEQUENCE}")
        return items

    def element(self, node: ast.AST) -> list:
        if isinstance(node, ast.Starred):
            value = self.eval(node.value)
            if not isinstance(value, (list, tuple, str)):
                raise self.fail(node, f"unpacking a {type(value).__name__}")
            return list(value)
        return [self.eval(node)]

    def mapping(self, node: ast.AST) -> dict:
        value = self.eval(node)
        if not isinstance(value, dict):
            raise self.fail(node, f"'**' on a {type(value).__name__}")
        return copy.deepcopy(value)

    def name(self, node: ast.Name) -> Any:
        if node.id in self.names:
            return copy.deepcopy(self.names[node.id])
        if node.id == BASE_KEY:
            return copy.deepcopy(dict(self.base))
        if node.id in _CALLS:
            raise self.fail(node, f"using {node.id!r} other than as a call")
        raise ConfigError(f"{self.path}:{node.lineno}: name {node.id!r} is not defined earlier in "
                          "the file")

    def call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Attribute) and node.func.attr == "copy":
            return self.method_call(node)
        if not isinstance(node.func, ast.Name) or node.func.id not in _CALLS or \
                node.func.id in self.names:
            raise self.fail(node, f"calling {ast.unparse(node.func)}()")
        fn = node.func.id
        args = [x for a in node.args for x in self.element(a)]
        if fn == "dict":
            out: dict[Any, Any] = {}
            if len(args) > 1:
                raise self.fail(node, "dict() with several positional arguments")
            if args:
                first = args[0]
                if isinstance(first, dict):
                    out.update(first)
                elif isinstance(first, (list, tuple)) and all(
                        isinstance(p, (list, tuple)) and len(p) == 2 for p in first):
                    out.update((p[0], p[1]) for p in first)
                else:
                    raise self.fail(node, f"dict() of a {type(first).__name__}")
            for kw in node.keywords:
                if kw.arg is None:
                    out.update(self.mapping(kw.value))
                else:
                    out[kw.arg] = self.eval(kw.value)
            return out
        if node.keywords:
            raise self.fail(node, f"{fn}() with keyword arguments")
        if fn == "range":
            if not 1 <= len(args) <= 3 or not all(isinstance(a, int) for a in args):
                raise self.fail(node, "range() of non-integers")
            r = range(*args)
            if len(r) > _MAX_SEQUENCE:
                raise self.fail(node, f"a range longer than {_MAX_SEQUENCE}")
            return r  # kept as a range, as mmengine keeps it
        if len(args) > 1:
            raise self.fail(node, f"{fn}() with several arguments")
        seq = args[0] if args else []
        if not isinstance(seq, (list, tuple, str, dict)):
            raise self.fail(node, f"{fn}() of a {type(seq).__name__}")
        return list(seq) if fn == "list" else tuple(seq)

    def method_call(self, node: ast.Call) -> Any:
        """``x.copy()``: the one method configs call (a shallow copy of a dict or list)."""
        func = node.func
        assert isinstance(func, ast.Attribute)
        value = self.eval(func.value)
        if node.args or node.keywords or not isinstance(value, (dict, list)):
            raise self.fail(node, f"calling {ast.unparse(func)}()")
        return copy.copy(value)

    def attribute(self, node: ast.Attribute) -> Any:
        chain = []
        cur: ast.AST = node
        while isinstance(cur, ast.Attribute):
            chain.append(cur.attr)
            cur = cur.value
        if not (isinstance(cur, ast.Name) and cur.id == BASE_KEY and cur.id not in self.names):
            raise self.fail(node, f"attribute access on anything but _base_ ({ast.unparse(node)})")
        return _lookup_dotted(self.base, ".".join(reversed(chain)), self.path)

    def subscript(self, node: ast.Subscript) -> Any:
        value = self.eval(node.value)
        if not isinstance(value, (list, tuple, dict, str)):
            raise self.fail(node, f"indexing a {type(value).__name__}")
        if isinstance(node.slice, ast.Slice):
            parts = [None if p is None else self.eval(p)
                     for p in (node.slice.lower, node.slice.upper, node.slice.step)]
            if not all(p is None or isinstance(p, int) for p in parts):
                raise self.fail(node, "a slice of non-integers")
            return value[slice(*parts)]
        index = self.eval(node.slice)
        try:
            return copy.deepcopy(value[index])
        except (KeyError, IndexError, TypeError) as e:
            raise ConfigError(f"{self.path}:{node.lineno}: {ast.unparse(node)}: {e!r}") from e

    def binop(self, node: ast.BinOp) -> Any:
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise self.fail(node, f"the operator {type(node.op).__name__}")
        a, b = self.eval(node.left), self.eval(node.right)
        numbers = (int, float)
        if isinstance(node.op, ast.Pow):
            if not (isinstance(a, numbers) and isinstance(b, numbers)) or abs(b) > _MAX_POWER:
                raise self.fail(node, "this power")
        elif isinstance(node.op, ast.Mult) and (isinstance(a, (str, list, tuple))
                                                or isinstance(b, (str, list, tuple))):
            seq, n = (a, b) if isinstance(a, (str, list, tuple)) else (b, a)
            if not isinstance(n, int) or len(seq) * max(n, 0) > _MAX_SEQUENCE:
                raise self.fail(node, "a repetition this long")
        elif isinstance(node.op, ast.Mod) and isinstance(a, str):
            if not isinstance(b, (*_SAFE_SCALARS, tuple, dict)):
                raise self.fail(node, "'%' formatting of this value")
        elif not (isinstance(a, (*numbers, str, list, tuple)) and type(a) is type(b)
                  or isinstance(a, numbers) and isinstance(b, numbers)):
            raise self.fail(node, f"{type(node.op).__name__} of {type(a).__name__} and "
                                  f"{type(b).__name__}")
        try:
            return op(a, b)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as e:
            raise ConfigError(f"{self.path}:{node.lineno}: {ast.unparse(node)}: {e}") from e

    def fstring_part(self, node: ast.AST) -> str:
        if isinstance(node, ast.Constant):
            return str(node.value)
        if isinstance(node, ast.FormattedValue):
            value = self.eval(node.value)
            if not isinstance(value, (*_SAFE_SCALARS, list, tuple, dict)):
                raise self.fail(node, "formatting this value")
            if node.conversion == ord("r"):
                value = repr(value)
            elif node.conversion in (ord("s"), ord("a")):
                value = str(value) if node.conversion == ord("s") else ascii(value)
            spec = "" if node.format_spec is None else self.eval(node.format_spec)
            try:
                return format(value, spec)
            except (TypeError, ValueError) as e:
                raise ConfigError(f"{self.path}:{node.lineno}: bad format spec {spec!r}: {e}") from e
        raise self.fail(node, "this f-string part")
