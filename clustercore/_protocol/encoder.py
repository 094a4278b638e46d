"""Sans-IO RESP command encoder: commands in, wire chunks out.

:func:`pack_command` / :func:`pack_commands` turn commands into wire chunks. Small commands come
out as one ``bytes`` object; a value longer than :data:`BIG_VALUE_CUTOFF` bytes becomes a chunk
of its own, passed through without being copied. Only bytes, bytearray, memoryview, str, int and
float are accepted (``bool`` and ``None`` are refused): anything else raises
:class:`~clustercore.errors.DataError` naming the argument, and nothing is returned.

Nothing here touches a socket: the connection sends the chunks. :func:`pack_command` is on the
hot path of every command (the 2- and 3-argument shapes are special-cased).
"""

from __future__ import annotations

from typing import Any, Dict, Final, Iterable, List, Optional, Sequence, Union

from ..errors import DataError

__all__ = ["BIG_VALUE_CUTOFF", "Buffer", "EncodableT", "pack_command", "pack_commands"]

Buffer = Union[bytes, bytearray, memoryview]
EncodableT = Union[bytes, bytearray, memoryview, str, int, float]

#: Values longer than this many bytes are sent as a chunk of their own, without being copied.
BIG_VALUE_CUTOFF: Final = 6000

_ARRAY_HEADERS: Final = [b"*%d" % i for i in range(64)]
_BULK_HEADERS: Final = [b"$%d" % i for i in range(1024)]
_ARRAY_HEADERS_CRLF: Final = [b"*%d\r\n" % i for i in range(64)]
_BULK_HEADERS_CRLF: Final = [b"$%d\r\n" % i for i in range(1024)]


#: Command names already encoded as bulk strings (``GET`` -> ``$3\r\nGET\r\n``), UTF-8: the
#: name of almost every command is one of a few dozen strings, encoded once instead of per call.
_HEAD_BULKS: Dict[Any, bytes] = {}
_HEAD_BULKS_MAX: Final = 512  # bounded: a name is user input


def _head_bulk(head: Any) -> Optional[bytes]:
    """``head`` (a str or bytes command name) as a UTF-8 bulk string, cached; None otherwise."""
    kind = type(head)
    if kind is str:
        try:
            data = head.encode()
        except UnicodeEncodeError:
            return None
    elif kind is bytes:
        data = head
    else:
        return None
    bulk = b"$%d\r\n%b\r\n" % (len(data), data)
    if len(_HEAD_BULKS) < _HEAD_BULKS_MAX:
        _HEAD_BULKS[head] = bulk
    return bulk


def _pack_short(args: Sequence[Any]) -> Optional[bytes]:
    """The wire bytes of a 2- or 3-argument command (GET k, SET k v, MGET k ...) whose name is
    a str/bytes and whose other arguments are bytes under 1 KiB, else None (use the loop).
    UTF-8/strict callers only (the head cache is UTF-8)."""
    n = len(args)
    head = args[0]
    if type(head) is not str and type(head) is not bytes:  # hashable and cacheable names only
        return None
    if n == 2:
        key = args[1]
        if type(key) is bytes and len(key) < 1024:
            bulk = _HEAD_BULKS.get(head) or _head_bulk(head)
            if bulk is not None:
                return b"".join((b"*2\r\n", bulk, _BULK_HEADERS_CRLF[len(key)], key, b"\r\n"))
    elif n == 3:
        key, value = args[1], args[2]
        if type(key) is bytes and type(value) is bytes and len(key) < 1024 and len(
                value) < 1024:
            bulk = _HEAD_BULKS.get(head) or _head_bulk(head)
            if bulk is not None:
                return b"".join((b"*3\r\n", bulk, _BULK_HEADERS_CRLF[len(key)], key,
                                 b"\r\n", _BULK_HEADERS_CRLF[len(value)], value, b"\r\n"))
    return None


def pack_command(args: Sequence[EncodableT], encoding: str = "utf-8",
                 errors: str = "strict") -> List[Union[bytes, memoryview]]:
    """Encode one command as wire chunks: one ``bytes`` unless a value is over the cutoff."""
    container = type(args)
    if container is not tuple and container is not list:
        _check_command(args)
    n = len(args)
    if n == 0 or encoding != "utf-8" or errors != "strict":
        return _pack((args,), encoding, errors)
    if n < 4:
        # GET k / SET k v / HGET k f ...: _pack_short inlined (one frame less per command). The name
        # must be a str/bytes (hashable; its bulk string cached) and the rest bytes < 1 KiB.
        head = args[0]
        if type(head) is str or type(head) is bytes:
            bulk = _HEAD_BULKS.get(head) or _head_bulk(head)
            if bulk is not None:
                if n == 2:
                    key = args[1]
                    if type(key) is bytes and len(key) < 1024:
                        return [b"".join((b"*2\r\n", bulk, _BULK_HEADERS_CRLF[len(key)], key,
                                          b"\r\n"))]
                elif n == 3:
                    key, value = args[1], args[2]
                    if (type(key) is bytes and type(value) is bytes and len(key) < 1024
                            and len(value) < 1024):
                        return [b"".join((b"*3\r\n", bulk, _BULK_HEADERS_CRLF[len(key)], key,
                                          b"\r\n", _BULK_HEADERS_CRLF[len(value)], value,
                                          b"\r\n"))]
    parts = [_ARRAY_HEADERS[n] if n < 64 else b"*%d" % n]
    items: Sequence[Any] = args
    try:
        for arg in items:
            kind = type(arg)
            if kind is str:
                arg = arg.encode()
            elif kind is not bytes:
                if kind is int:
                    arg = b"%d" % arg
                else:
                    return _pack((args,), encoding, errors)
            size = len(arg)
            if size < 1024:
                parts += (_BULK_HEADERS[size], arg)
            elif size <= BIG_VALUE_CUTOFF:
                parts += (b"$%d" % size, arg)
            else:
                return _pack((args,), encoding, errors)
    except UnicodeEncodeError:
        return _pack((args,), encoding, errors)
    parts.append(b"")
    return [b"\r\n".join(parts)]


def pack_commands(commands: Iterable[Sequence[EncodableT]], encoding: str = "utf-8",
                  errors: str = "strict") -> List[Union[bytes, memoryview]]:
    """Encode many commands (a pipeline) into as few chunks as the big-value rule allows."""
    return _pack(commands, encoding, errors)


def _pack(commands: Iterable[Sequence[EncodableT]], encoding: str,
          errors: str) -> List[Union[bytes, memoryview]]:
    """The general encoder: every argument type, big values as their own chunks."""
    chunks: List[Union[bytes, memoryview]] = []
    parts: List[Buffer] = []
    utf8 = encoding == "utf-8" and errors == "strict"
    for args in commands:
        container = type(args)
        if container is not tuple and container is not list:
            _check_command(args)
        n = len(args)
        if n == 0:
            raise DataError("cannot send an empty command")
        if n == 2 and utf8:  # GET k, MGET k, DEL k ...: _pack_short's first case, inlined
            head, key = args
            if type(key) is bytes and len(key) < 1024 and type(head) is str:
                bulk = _HEAD_BULKS.get(head)
                if bulk is not None:
                    parts += (b"*2\r\n", bulk, _BULK_HEADERS_CRLF[len(key)], key, b"\r\n")
                    continue
        if n < 4 and utf8:
            short = _pack_short(args)  # also caches the name for the inlined case above
            if short is not None:
                parts.append(short)
                continue
        parts.append(_ARRAY_HEADERS_CRLF[n] if n < 64 else b"*%d\r\n" % n)
        for index, arg in enumerate(args):
            value: Buffer
            kind = type(arg)
            if kind is bytes:
                value = arg  # type: ignore[assignment]
                size = len(value)
            elif kind is str:  # the common kinds inline; _coerce explains any failure
                try:
                    value = arg.encode(encoding, errors)  # type: ignore[union-attr]
                except (UnicodeEncodeError, LookupError):
                    value = _coerce(arg, index, args, encoding, errors)
                size = len(value)
            elif kind is int:
                value = b"%d" % arg  # type: ignore[str-format]
                size = len(value)
            else:
                value = _coerce(arg, index, args, encoding, errors)
                size = value.nbytes if type(value) is memoryview else len(value)
            if size > BIG_VALUE_CUTOFF:
                parts.append(b"$%d\r\n" % size)
                chunks.append(b"".join(parts))
                chunks.append(memoryview(value) if isinstance(value, bytearray) else value)
                parts = [b"\r\n"]
            else:
                parts += (_BULK_HEADERS_CRLF[size] if size < 1024 else b"$%d\r\n" % size,
                          value, b"\r\n")
    if parts:
        chunks.append(b"".join(parts))
    return chunks


def _check_command(args: Any) -> None:
    """A command is a sequence of arguments; a lone str or bytes would be sent letter by letter."""
    if isinstance(args, (str, bytes, bytearray, memoryview)) or not isinstance(args, Sequence):
        raise DataError(f"a command must be a sequence of arguments, not {_short_repr(args)} "
                        f"of type {type(args).__name__}")


def _coerce(arg: Any, index: int, args: Sequence[Any], encoding: str, errors: str) -> Buffer:
    """Turn one non-``bytes`` argument into a contiguous byte buffer, or raise DataError."""
    if isinstance(arg, str):
        try:
            return arg.encode(encoding, errors)
        except (UnicodeEncodeError, LookupError) as exc:
            raise DataError(f"argument {index} of {_command_name(args)}: cannot encode "
                            f"{_short_repr(arg)} with {encoding!r}/{errors!r}: {exc}") from exc
    if isinstance(arg, (bytes, bytearray)):
        return arg
    if isinstance(arg, memoryview):
        if not arg.c_contiguous:
            return arg.tobytes()
        if arg.ndim != 1 or arg.format != "B":
            return arg.cast("B")
        return arg
    if isinstance(arg, bool):
        pass
    elif isinstance(arg, int):
        return b"%d" % arg
    elif isinstance(arg, float):
        return float.__repr__(arg).encode()
    raise DataError(f"argument {index} of {_command_name(args)}: {_short_repr(arg)} of type "
                    f"{type(arg).__name__} cannot be sent; use bytes, str, int or float")


def _command_name(args: Sequence[Any]) -> str:
    """The command's name for messages (``SET``), or ``command`` when it has none."""
    name = args[0] if args else None
    if isinstance(name, (bytes, bytearray)):
        return bytes(name[:40]).decode("utf-8", "replace")
    if isinstance(name, str):
        return name[:40]
    return "command"


def _short_repr(value: Any, limit: int = 60) -> str:
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."

