"""Reading user files safely and writing outputs without ever losing a user's file.

Reading: every input file goes through :func:`read_regular` — only regular files (never a FIFO,
a device or a directory, which could block or never end), at most a documented number of bytes
— and YAML through :func:`load_yaml`, which also bounds nesting depth and alias expansion
("billion laughs") before anything is built, and rejects duplicate keys. Errors are one
:class:`~workloads.errors.ConfigError` line naming the file, the key path, the value (shortened)
and what is allowed.

Writing: a command declares its outputs in an :class:`Outputs` before doing any work; each is
checked (a writable folder, not a directory, not the same file as another output or as any
file the command reads — by resolved path and by inode) and staged, and :meth:`Outputs.commit`
writes them only after all work succeeded: each to a temporary file in its own folder, then
renamed over the target. A failure leaves every existing file byte-identical.

A folder output (a report) is declared with :meth:`Outputs.declare_folder`: built in a new
folder beside it, then swapped in whole at commit. It may replace only an empty folder or a
folder an earlier run wrote (it holds :data:`FOLDER_MARK`), and never one holding a file the
command reads.

The files a command reads are noted in the active :func:`track_reads` log (a context variable,
set by the CLI around one command), so the final check also covers files found while working
(a technology table named inside a chip file, a dataset's files).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
import os
import shutil
import stat
import sys
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workloads.errors import ConfigError

__all__ = [
    "FOLDER_MARK",
    "MAX_TEXT_BYTES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "Outputs",
    "atomic_write",
    "check_keys",
    "check_output_path",
    "is_printable_name",
    "load_yaml",
    "loads_yaml",
    "note_read",
    "read_regular",
    "strict_json",
    "track_reads",
    "write_json",
]

#: Largest chip, network, quantisation or technology file read (bytes).
MAX_TEXT_BYTES = 16 * 2**20
#: Deepest nesting of mappings and sequences in a YAML file.
MAX_YAML_DEPTH = 64
#: Most nodes a YAML document may expand to, aliases counted as the nodes they repeat.
MAX_YAML_NODES = 1_000_000


# --------------------------------------------------------------------------- reads
_READS: contextvars.ContextVar[ReadLog | None] = contextvars.ContextVar("bnnsim_reads",
                                                                        default=None)


@dataclass
class ReadLog:
    """The files one command read: resolved paths and (device, inode) pairs."""

    paths: set[Path] = field(default_factory=set)
    inodes: set[tuple[int, int]] = field(default_factory=set)

    def add(self, path: str | Path) -> None:
        p = Path(path)
        with contextlib.suppress(OSError):
            st = p.stat()
            self.inodes.add((st.st_dev, st.st_ino))
        with contextlib.suppress(OSError, RuntimeError):
            self.paths.add(p.resolve())

    def holds(self, path: Path) -> bool:
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):
            return False
        if resolved in self.paths:
            return True
        try:
            st = path.stat()
        except OSError:
            return False
        return (st.st_dev, st.st_ino) in self.inodes


@contextlib.contextmanager
def track_reads() -> Iterator[ReadLog]:
    """Note every file read through this module (and :func:`note_read`) while inside."""
    log = ReadLog()
    token = _READS.set(log)
    try:
        yield log
    finally:
        _READS.reset(token)


def note_read(path: str | Path) -> None:
    """Record ``path`` as an input of the running command (a no-op outside
    :func:`track_reads`)."""
    log = _READS.get()
    if log is not None:
        log.add(path)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def check_regular(path: str | Path, *, limit: int, what: str = "file") -> Path:
    """``path`` if it is a regular file of at most ``limit`` bytes (noted as read); a
    :class:`ConfigError` otherwise. For files another library opens itself."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", file=p) from None
    except OSError as err:
        raise ConfigError(f"cannot read {what} ({err.strerror or err})", file=p) from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"is {_kind(st.st_mode)}, not a regular file", file=p)
    if st.st_size > limit:
        raise ConfigError(f"{what} of {st.st_size:,} bytes is larger than the {limit:,}-byte "
                          "limit", file=p)
    note_read(p)
    return p


def read_regular(path: str | Path, *, limit: int = MAX_TEXT_BYTES, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes. A FIFO or device is refused
    without blocking (opened non-blocking, checked with fstat before any read)."""
    p = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(p, flags)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", file=p) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a regular file", file=p) from None
    except OSError as err:
        raise ConfigError(f"cannot read {what} ({err.strerror or err})", file=p) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"is {_kind(st.st_mode)}, not a regular file", file=p)
        if st.st_size > limit:
            raise ConfigError(f"{what} of {st.st_size:,} bytes is larger than the "
                              f"{limit:,}-byte limit", file=p)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise ConfigError(f"{what} is larger than the {limit:,}-byte limit", file=p)
    except OSError as err:
        raise ConfigError(f"cannot read {what} ({err.strerror or err})", file=p) from None
    finally:
        os.close(fd)
    note_read(p)
    return b"".join(chunks)


# --------------------------------------------------------------------------- YAML
_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when available


class _StrictLoader(_SafeBase):  # type: ignore[valid-type,misc]
    """A safe loader that rejects duplicate mapping keys (PyYAML silently keeps the last)."""


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    # A key written twice is an error; a key written once overrides what a merge (``<<``)
    # brought in, as YAML's merge keys specify.
    explicit: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool) and key is not None:
            line = key_node.start_mark.line + 1
            raise ConfigError(f"keys must be plain names, not {type(key).__name__} (line {line})")
        if key in explicit:
            line = key_node.start_mark.line + 1
            raise ConfigError(f"duplicate key (line {line})", key=str(key))
        explicit.add(key)
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool) and key is not None:
            line = key_node.start_mark.line + 1
            raise ConfigError(f"keys must be plain names, not {type(key).__name__} (line {line})")
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _check_shape(text: str, *, source: str) -> None:
    """Bound nesting depth and the expanded node count (aliases count as what they repeat)
    from the parser's events, before any object is built."""
    anchors: dict[str, int] = {}
    stack: list[list[Any]] = []  # [anchor, expanded nodes so far]
    total = 0
    for event in yaml.parse(text, Loader=_SafeBase):
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            if len(stack) >= MAX_YAML_DEPTH:
                mark = event.start_mark
                line = f" (line {mark.line + 1})" if mark is not None else ""
                raise ConfigError(f"nested deeper than {MAX_YAML_DEPTH} levels{line}",
                                  file=source)
            stack.append([event.anchor, 1])
            continue
        if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            anchor, count = stack.pop()
            size = count
        elif isinstance(event, yaml.ScalarEvent):
            anchor, size = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            anchor, size = None, anchors.get(event.anchor or "", 1)
        else:
            continue
        if anchor:
            anchors[anchor] = size
        if stack:
            stack[-1][1] += size
        else:
            total += size
        if total + sum(s[1] for s in stack) > MAX_YAML_NODES:
            raise ConfigError(f"expands to more than {MAX_YAML_NODES:,} nodes (aliases "
                              "counted as what they repeat)", file=source)


def loads_yaml(text: str, *, source: str = "<string>") -> Any:
    """Parse YAML text strictly: safe types only, no duplicate keys, bounded depth and
    expansion."""
    try:
        _check_shape(text, source=source)
        return yaml.load(text, Loader=_StrictLoader)
    except ConfigError as err:
        raise err.with_context(file=source) from None
    except RecursionError:
        raise ConfigError("nested too deeply", file=source) from None
    except UnicodeError:
        raise ConfigError("not valid UTF-8 text", file=source) from None
    except ValueError as err:  # e.g. an integer longer than Python converts (4,300 digits)
        raise ConfigError(f"a value cannot be read ({str(err).split(';')[0][:80]})",
                          file=source) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"not valid YAML{where}: {problem}", file=source) from None


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file strictly (see :func:`read_regular` and :func:`loads_yaml`)."""
    raw = read_regular(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"not UTF-8 text (byte {err.start})", file=path) from None
    return loads_yaml(text, source=str(path))


def check_keys(
    data: Mapping[str, Any],
    *,
    allowed: Iterable[str],
    required: Iterable[str] = (),
    file: str | Path | None = None,
    prefix: str = "",
) -> None:
    """Reject unknown keys and report the first missing required key."""
    allowed_set = set(allowed)
    for key in data:
        if key not in allowed_set:
            raise ConfigError(
                f"unknown key; allowed keys here: {', '.join(sorted(allowed_set))}",
                file=file,
                key=f"{prefix}{key}",
            )
    for key in required:
        if key not in data:
            raise ConfigError("missing required key", file=file, key=f"{prefix}{key}")


def is_printable_name(text: str) -> bool:
    """Whether ``text`` holds no control, format or line/paragraph-separator characters (a
    name that cannot move a terminal's cursor or break a CSV line)."""
    return not any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)


# --------------------------------------------------------------------------- writes
def strict_json(payload: Any) -> str:
    """Indented JSON with no NaN or Infinity tokens: a non-finite float becomes ``null``
    (a training loss that diverged, say); everything else must be JSON-native."""
    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, Mapping):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(payload), indent=2, allow_nan=False) + "\n"


def check_output_path(path: str | Path | None, *, flag: str) -> None:
    """Fail before any work when ``path`` cannot be an output file (``flag`` names the option).

    A directory, or a path whose parent directory does not exist or is not writable, is a
    :class:`ConfigError`; ``None`` and ``-`` (stdout) pass.
    """
    if path is None or str(path) == "-":
        return
    text = str(path)
    if not text.strip():
        raise ConfigError("is empty; give a file name", key=flag, value=text, has_value=True)
    if text.endswith(("/", os.sep)) or Path(text).name in ("", ".", ".."):
        raise ConfigError("names a directory; give a file name", key=flag, value=text,
                          has_value=True)
    if any(ch in text for ch in "\n\r\0"):
        raise ConfigError("a file name may not hold a line break or NUL", key=flag,
                          value=text, has_value=True)
    p = _target(Path(text))
    try:
        if p.is_dir():
            raise ConfigError("is a directory; give a file name", key=flag, value=text,
                              has_value=True)
        if p.exists() and not p.is_file():
            raise ConfigError("exists and is not a regular file; give a file name", key=flag,
                              value=text, has_value=True)
        parent = p.parent
        if not parent.is_dir():
            raise ConfigError(f"directory {str(parent)!r} does not exist", key=flag,
                              value=text, has_value=True)
        if not os.access(parent, os.W_OK):
            raise ConfigError(f"directory {str(parent)!r} is not writable", key=flag,
                              value=text, has_value=True)
        limit = os.pathconf(parent, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    except OSError as err:
        raise ConfigError(f"cannot be written ({err.strerror or err})", key=flag, value=text,
                          has_value=True) from None
    if len(p.name.encode("utf-8", "surrogateescape")) > limit:
        raise ConfigError(f"a file name may be at most {limit} bytes long", key=flag,
                          value=text, has_value=True)


def _target(path: Path) -> Path:
    """Where writing ``path`` lands: through a symbolic link to the file it names, so the
    user's link survives."""
    try:
        return path.resolve() if path.is_symlink() else path
    except (OSError, RuntimeError):
        return path


def _temp_file(target: Path) -> Path:
    """A new, empty temporary file beside ``target`` (a short name: never over the limit)."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".bnnsim-", suffix=".tmp")
    os.close(fd)
    return Path(name)


def atomic_write(path: str | Path, write: Callable[[Path], None], *, flag: str) -> None:
    """Write ``path`` through ``write(temporary path)`` into a temporary file in the same
    folder, then rename it over ``path``: readers see the old file or the new one, never a
    torn one, and a failure leaves the old file as it was."""
    target = _target(Path(path))
    try:
        tmp = _temp_file(target)
    except OSError as err:
        raise ConfigError(f"cannot write ({err.strerror or err})", key=flag,
                          value=str(path), has_value=True) from None
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if target.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write ({err.strerror or err})", key=flag,
                          value=str(path), has_value=True) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


#: The file that marks a folder bnnsim wrote whole (a report): a later run may replace it.
FOLDER_MARK = ".bnnsim-output"


def check_output_folder(path: str | Path, *, flag: str) -> None:
    """Fail before any work when ``path`` cannot be an output folder: it must be new, empty,
    or a folder bnnsim wrote (holding :data:`FOLDER_MARK`), in a writable parent folder."""
    text = str(path)
    if not text.strip() or text == "-":
        raise ConfigError("give a folder name", key=flag, value=text, has_value=True)
    if any(ch in text for ch in "\n\r\0"):
        raise ConfigError("a folder name may not hold a line break or NUL", key=flag,
                          value=text, has_value=True)
    p = Path(text.rstrip("/" + os.sep) or text)
    try:
        here = Path.cwd().resolve()
        if p.resolve() == here or p.resolve() in here.parents:
            raise ConfigError("is the current folder or holds it; give a folder of its own "
                              "(it is replaced whole)", key=flag, value=text, has_value=True)
        if p.is_symlink():
            raise ConfigError("is a symbolic link; give the folder itself", key=flag,
                              value=text, has_value=True)
        if p.exists():
            if not p.is_dir():
                raise ConfigError("exists and is not a folder", key=flag, value=text,
                                  has_value=True)
            if any(p.iterdir()) and not (p / FOLDER_MARK).is_file():
                raise ConfigError("is a folder bnnsim did not write and is not empty; give a "
                                  "new or empty folder (its contents would be replaced)",
                                  key=flag, value=text, has_value=True)
        parent = p.resolve().parent
        if not parent.is_dir():
            raise ConfigError(f"directory {str(parent)!r} does not exist", key=flag,
                              value=text, has_value=True)
        if not os.access(parent, os.W_OK):
            raise ConfigError(f"directory {str(parent)!r} is not writable", key=flag,
                              value=text, has_value=True)
    except OSError as err:
        raise ConfigError(f"cannot be written ({err.strerror or err})", key=flag, value=text,
                          has_value=True) from None


def _swap_folder(built: Path, target: Path) -> None:
    """Put the folder ``built`` at ``target``, replacing what is there (renames only)."""
    if not target.exists():
        os.replace(built, target)
        return
    with contextlib.suppress(OSError):  # the folder keeps its permissions
        os.chmod(built, stat.S_IMODE(target.stat().st_mode))
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=".bnnsim-old-"))
    os.rmdir(old)
    os.replace(target, old)
    try:
        os.replace(built, target)
    except OSError:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


@dataclass
class _Staged:
    flag: str
    path: str
    write: Callable[[Path], None] | None = None  # None: declared, not yet staged
    text: str | None = None  # for stdout
    folder: bool = False  # a folder output: write(path) fills a new folder


class Outputs:
    """The output files of one command: declared and checked before the work, written after it.

    >>> out = Outputs()
    >>> out.declare("--json", None)  # an option not given: nothing to do
    """

    def __init__(self) -> None:
        self._items: dict[str, _Staged] = {}
        self._inputs = ReadLog()
        self._after: list[Callable[[], None]] = []
        #: a command whose failure is a finding (``verify``: exit 1) still writes its outputs
        self.results_on_failure = False

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once every output is written (a message naming them)."""
        self._after.append(callback)

    def inputs(self, *paths: str | Path | None) -> None:
        """Files the command will read, known before it starts (so a clash fails at once)."""
        for p in paths:
            if p is not None and str(p) != "-" and Path(p).exists():
                self._inputs.add(p)

    def declare(self, flag: str, path: str | Path | None) -> None:
        """Check the output ``path`` of option ``flag`` (``None``: not given; ``-``: stdout)."""
        if path is None:
            return
        text = str(path)
        for other in self._items.values():
            if text == "-" and other.path == "-":
                raise ConfigError(f"{other.flag} already writes to standard output", key=flag,
                                  value=text, has_value=True)
            if text != "-" and other.path != "-" and _same_file(Path(text), Path(other.path)):
                raise ConfigError(f"is also the {other.flag} output; give each output its "
                                  "own file", key=flag, value=text, has_value=True)
        if text == "-" and sys.stdout is None:
            raise ConfigError("standard output is closed", key=flag, value=text,
                              has_value=True)
        check_output_path(path, flag=flag)
        if text != "-":
            self._refuse_inputs(flag, Path(text), self._inputs)
        self._items[flag] = _Staged(flag, text)

    def declare_folder(self, flag: str, path: str | Path | None) -> None:
        """Check the output folder ``path`` of option ``flag`` (``None``: not given)."""
        if path is None:
            return
        text = str(path).rstrip("/" + os.sep) or str(path)
        if text.strip() and text != "-":
            self._refuse_inputs(flag, Path(text), self._inputs, folder=True)
            for other in self._items.values():
                if other.path != "-" and _inside(Path(other.path), Path(text)):
                    raise ConfigError(f"holds the {other.flag} output; give each output its "
                                      "own place", key=flag, value=text, has_value=True)
        check_output_folder(path, flag=flag)
        self._items[flag] = _Staged(flag, text, folder=True)

    def _refuse_inputs(self, flag: str, path: Path, log: ReadLog, *,
                       folder: bool = False) -> None:
        if folder:
            if log.holds(path):
                raise ConfigError("is a file this command reads; give a folder for the "
                                  "output", key=flag, value=str(path), has_value=True)
            if any(_inside(p, path) for p in log.paths):
                raise ConfigError("holds a file this command reads; replacing the folder "
                                  "would destroy an input — choose another folder", key=flag,
                                  value=str(path), has_value=True)
            return
        if log.holds(path):
            raise ConfigError("is a file this command reads; writing it would destroy an "
                              "input — choose another name", key=flag, value=str(path),
                              has_value=True)

    def check_reads(self, reads: ReadLog | None = None) -> None:
        """Check the declared outputs against the files read so far (``reads``, or the active
        :func:`track_reads` log): call it once the inputs are loaded, before long work."""
        log = reads if reads is not None else _READS.get()
        if log is None:
            return
        for item in self._items.values():
            if item.path != "-":
                self._refuse_inputs(item.flag, Path(item.path), log, folder=item.folder)

    def stage(self, flag: str, write: Callable[[Path], None]) -> None:
        """Stage the content of a declared file output: ``write(path)`` fills a temporary
        file at commit time."""
        self._items[flag].write = write

    def stage_text(self, flag: str, text: str) -> None:
        item = self._items[flag]
        if item.path == "-":
            item.text = text
        else:
            item.write = lambda p: _write_text(p, text)

    def stage_json(self, flag: str, payload: Any) -> None:
        self.stage_text(flag, strict_json(payload))

    def path(self, flag: str) -> str | None:
        item = self._items.get(flag)
        return item.path if item is not None else None

    def commit(self, *, reads: ReadLog | None = None) -> None:
        """Write every staged output: all temporary files first, then the renames, so a
        failure before the renames leaves every existing file as it was. ``reads`` (the
        command's :func:`track_reads` log) is checked once more against the outputs."""
        files = [x for x in self._items.values() if x.path != "-" and x.write is not None]
        if reads is not None:
            self.check_reads(reads)
        temps: list[tuple[Path, _Staged]] = []
        current = files[0] if files else None
        try:
            for item in files:
                current = item
                if item.folder:
                    target = Path(item.path)
                    name = Path(tempfile.mkdtemp(dir=target.resolve().parent,
                                                 prefix=".bnnsim-"))
                    temps.append((name, item))
                    assert item.write is not None
                    item.write(name)
                    (name / FOLDER_MARK).write_text("written by bnnsim; a later run may "
                                                    "replace this folder\n")
                    _sync_tree(name)
                    os.chmod(name, 0o777 & ~_umask())
                    continue
                target = _target(Path(item.path))
                name = _temp_file(target)
                temps.append((name, item))
                assert item.write is not None
                item.write(Path(name))
                with open(name, "rb+") as fh:
                    os.fsync(fh.fileno())
                umask = os.umask(0)
                os.umask(umask)
                mode = (stat.S_IMODE(target.stat().st_mode) if target.exists()
                        else 0o666 & ~umask)
                os.chmod(name, mode)
        except OSError as err:
            _discard(temps)
            assert current is not None
            raise ConfigError(f"cannot write ({err.strerror or err}); no output was changed",
                              key=current.flag, value=current.path, has_value=True) from None
        except BaseException:
            _discard(temps)
            raise
        done = 0
        try:
            for tmp, item in temps:
                if item.folder:
                    _swap_folder(tmp, Path(item.path))
                else:
                    os.replace(tmp, _target(Path(item.path)))
                done += 1
        except OSError as err:
            _discard(temps[done:])
            item = temps[done][1]
            raise ConfigError(f"cannot write ({err.strerror or err})", key=item.flag,
                              value=item.path, has_value=True) from None
        for item in self._items.values():
            if item.path == "-" and item.text is not None:
                sys.stdout.write(item.text)
        for callback in self._after:
            callback()


def _sync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` to disk (before it is swapped in)."""
    for root, _dirs, names in os.walk(folder):
        for name in names:
            with open(os.path.join(root, name), "rb") as fh:
                os.fsync(fh.fileno())
        fd = os.open(root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _discard(temps: list[tuple[Path, _Staged]]) -> None:
    for tmp, item in temps:
        if item.folder:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (resolved)."""
    try:
        p, f = path.resolve(), folder.resolve()
    except (OSError, RuntimeError):
        return False
    return p == f or f in p.parents


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):
        pass
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def write_json(target: str | Path | None, payload: Any, *, flag: str = "--json") -> None:
    """Write ``payload`` as strict JSON (:func:`strict_json`) to ``target`` atomically
    (``-``: standard output; None: nothing). A file that cannot be written is a one-line
    :class:`ConfigError` naming ``flag``."""
    if target is None:
        return
    text = strict_json(payload)
    if str(target) == "-":
        sys.stdout.write(text)
        return
    atomic_write(target, lambda p: _write_text(p, text), flag=flag)
