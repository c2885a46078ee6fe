# bootstrap.py: the Python half of a collabd worker, compiled into collabd-py.
# The zygote imports this module once (with the common modules below), then every worker
# forked from it calls serve(). serve() reads framed requests from fd 3 (the control socket
# to collabd) and answers there; the program's own output goes to fds 1 and 2, which are
# sockets to collabd too, so os.write(1, ...) is captured and streamed like print().
# Frame: 4-byte little-endian payload length, 1 type byte, UTF-8 JSON payload.
#   collabd -> worker: E execute {id, code, context}, X reset {id}, L list packages {id},
#                      I input answer {line} | {eof: true}
#   worker -> collabd: H hello {pid, python, sandbox}, R result {id, ...}, Q input request
#                      {prompt}
# Nothing here is a security boundary: the sandbox (seccomp, Landlock, rlimits) is, and it is
# in force before serve() runs.
import ast
import builtins
import collections
import csv
import datetime
import decimal
import fractions
import functools
import io
import itertools
import json
import math
import os
import random
import re
import statistics
import string
import struct
import sys
import time
import traceback

import _collabd  # built into collabd-py: ties collabd's interrupts to the run they are for

_CTL = 3
_MAX_ITEMS = 10000
_MAX_DEPTH = 32


def _read_exact(n):
    chunks = []
    while n:
        b = os.read(_CTL, n)
        if not b:
            raise EOFError
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def _recv():
    n, t = struct.unpack("<IB", _read_exact(5))
    return chr(t), json.loads(_read_exact(n).decode("utf-8")) if n else {}


def _send(t, obj):
    data = json.dumps(obj, ensure_ascii=True, allow_nan=False).encode("ascii")
    buf = struct.pack("<IB", len(data), ord(t)) + data
    while buf:
        buf = buf[os.write(_CTL, buf):]


def _text(s):
    # lone surrogates cannot travel as JSON text collabd accepts: replace them
    return s.encode("utf-8", "replace").decode("utf-8")


def _safe(o, depth=0):
    """A value JSON can carry: numbers, strings, lists, dicts, None; other objects by str."""
    if o is None or isinstance(o, bool):
        return o
    if isinstance(o, int):
        return o if -(2**53) <= o <= 2**53 else str(o)
    if isinstance(o, float):
        return o if math.isfinite(o) else str(o)
    if isinstance(o, str):
        return _text(o)
    if depth < _MAX_DEPTH:
        if isinstance(o, (list, tuple, set, frozenset, collections.deque)):
            return [_safe(x, depth + 1) for x in itertools.islice(o, _MAX_ITEMS)]
        if isinstance(o, dict):
            return {_text(str(k)): _safe(v, depth + 1)
                    for k, v in itertools.islice(o.items(), _MAX_ITEMS)}
        for attr in ("tolist", "to_dict"):  # numpy arrays, pandas frames when present
            f = getattr(o, attr, None)
            if callable(f):
                try:
                    return _safe(f(), depth + 1)
                except Exception:
                    break
    try:
        return _text(str(o))
    except Exception:
        return "<%s object>" % type(o).__name__


def _category(e):
    if isinstance(e, SyntaxError):
        return "syntax"
    if isinstance(e, MemoryError):
        return "memory"
    if isinstance(e, RecursionError):
        return "recursion"
    if isinstance(e, KeyboardInterrupt):
        return "interrupted"
    if isinstance(e, PermissionError):
        return "sandbox"
    return "runtime"


def _format_error(e):
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != "<run>":
        tb = tb.tb_next  # hide this module's frames: the user sees their program only
    lines = traceback.format_exception(type(e), e, tb)
    return "".join(traceback.format_exception_only(type(e), e)).strip(), "".join(lines)


_globals = {}


def _reset():
    _globals.clear()
    _globals.update({"__name__": "__main__", "__builtins__": builtins})


def _input(prompt=""):
    prompt = str(prompt)
    if prompt:
        sys.stdout.write(prompt)
        sys.stdout.flush()
    _send("Q", {"prompt": _text(prompt)})
    t, msg = _recv()
    if t != "I" or msg.get("eof"):
        raise EOFError("no input was given")
    return str(msg.get("line", ""))


def _execute(req):
    context = req.get("context") or {}
    for k in context:
        if not k.isidentifier() or k in ("__builtins__", "__name__"):
            return {"success": False, "error": "context key %r is not a Python name" % k,
                    "errorType": "invalid_context"}
    _globals.update(context)
    t0 = time.perf_counter()
    _collabd.begin(req.get("id", 0) & 0x7FFFFFFF)
    try:
        tree = ast.parse(req.get("code", ""), "<run>", "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, "<run>", "exec"), _globals)
        value = eval(compile(last, "<run>", "eval"), _globals) if last else None
        result = {"success": True, "result": _safe(value)}
    except SystemExit as e:
        ok = e.code in (None, 0)
        result = {"success": ok, "result": None}
        if not ok:
            result.update(error="SystemExit: %s" % (e.code,), errorType="exit")
    except BaseException as e:  # KeyboardInterrupt too: the worker lives on
        msg, tb = _format_error(e)
        result = {"success": False, "result": None, "error": _text(msg),
                  "traceback": _text(tb), "errorType": _category(e)}
    finally:
        _collabd.end()  # from here no interrupt can reach this worker's own code
        for f in (sys.stdout, sys.stderr):
            try:
                f.flush()
            except Exception:
                pass
    result["cpuMs"] = round((time.perf_counter() - t0) * 1000, 3)
    return result


def _packages():
    import pkgutil
    names = set(sys.builtin_module_names)
    names.update(m.name for m in pkgutil.iter_modules() if not m.name.startswith("_"))
    return sorted(n for n in names if not n.startswith("_"))


def _stream(fd):
    # line-buffered text on the socket collabd reads: a line (or a flush, or the end of the
    # run) is one write, so output streams in whole lines instead of one write per print item
    raw = io.BufferedWriter(io.FileIO(fd, "w", closefd=False), buffer_size=65536)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace",
                            line_buffering=True)


def serve(sandbox):
    random.seed()  # the zygote's seed is shared by every fork: draw a fresh one
    os.environ.clear()  # an empty environment (the C side cleared environ too)
    sys.path.insert(0, os.getcwd())  # uploaded .py files import by name
    sys.stdout = sys.__stdout__ = _stream(1)
    sys.stderr = sys.__stderr__ = _stream(2)
    builtins.input = _input
    _reset()
    _send("H", {"pid": os.getpid(), "python": sys.version.split()[0], "sandbox": sandbox})
    while True:
        try:
            t, req = _recv()
        except EOFError:
            return
        rid = req.get("id", 0)
        if t == "E":
            out = _execute(req)
        elif t == "X":
            _reset()
            out = {"success": True}
        elif t == "L":
            out = {"success": True, "packages": _packages()}
        else:
            out = {"success": False, "error": "unexpected frame %r" % t}
        out["id"] = rid
        try:
            _send("R", out)
        except (TypeError, ValueError) as e:
            _send("R", {"id": rid, "success": False, "error": "result not representable: %s" % e,
                        "errorType": "runtime"})
