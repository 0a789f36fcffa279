"""The one reader of untrusted PyTorch files: a static scan, then torch.load in a worker process.

    value = load(data, Limits(max_bytes=20 << 20))  # dicts, lists, tuples, str, numbers, tensors; or an error
    describe(value)                                  # what any value is, in a few words of plain text

A file is read in three steps, each bounded (see SECURITY.md):

1. `scan` (`rnnviz.files.scan`) reads the bytes without unpickling anything: the zip archive's entries and sizes, then
   every pickle instruction (`pickletools.genops`), played on a symbolic stack that builds none
   of the file's objects. It refuses what torch's weights-only unpickler refuses (other globals,
   other instructions), and what that unpickler accepts but a server cannot survive: nesting
   deeper than `Limits.max_depth`, structures built from copies of themselves (hash and repr
   bombs), too many instructions, and tensors whose declared size, stride or dtype is out of
   bounds (views that reach past their storage, or repeat one stored number a billion times).
2. `torch.load(..., weights_only=True, map_location="cpu")` runs in a child forked from a reading
   server (a process that imported torch and these modules once, not the rest of rnnviz), with
   limits on its address space, data size and CPU time, and a wall-clock timeout kept by its
   parent. A crash, a hang or a blow-up there becomes `Unsafe`: "This file could not be read
   safely: <reason>." The app's own process never runs an unpickler on the file.
3. The child answers with plain data in its own encoding (`rnnviz.files.wire`: JSON for the structure, raw bytes for
   the tensors), never a pickle; the parent checks every size before it builds a tensor. Values
   that are not plain data (sets, bytes, dtypes, very long text) come back as `Opaque` words: the app's
   own templates with whole numbers and the file's text (`quote.DESCRIPTIONS`), said in the page's language.

Errors: `Refused` (a ValueError whose message is meant for the uploader), its subclass `Unsafe`
(the worker failed), `NotWeightsOnly` (a pickle.UnpicklingError naming what torch's weights-only
loader refuses, e.g. "GLOBAL posix.system") and `Damaged` (truncated or malformed), which callers
put in their own words.
"""
from __future__ import annotations

import atexit
import fcntl
import io
import json
import os
import pickle
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from ..i18n import Message
from .limits import (
    DEFAULT,
    PIPE_BYTES,
    READERS,
    Damaged,
    Limits,
    NotWeightsOnly,
    Refused,
    Unsafe,
)
from .quote import Opaque
from .scan import scan
from .wire import decode, encode, failure

__all__ = ["Damaged", "Limits", "NotWeightsOnly", "Opaque", "Refused", "Unsafe", "load", "scan", "warm_up"]

# =============================================================================== 2. the worker
# A reading server is a process of its own (see _SERVER): it imports torch once, then, for
# each file it is sent, forks a child that limits itself and reads the file, keeps the wall-clock
# timeout, and answers with the child's answer and exit status. Request: two 8-byte lengths, the
# limits (JSON), the file. Answer: timed out (1 byte), exit code (4 bytes), length (8), the child's
# answer (see wire.encode). A fork of a warm process starts in milliseconds; a fresh interpreter takes
# 1.5 s to import torch.
# The reading server imports torch and these modules, not the rest of rnnviz (its engine, numba):
# "rnnviz" is registered as a bare package whose __init__ does not run.
_SERVER = ("import sys, types; package = types.ModuleType('rnnviz'); package.__path__ = [sys.argv[1]]; "
           "sys.modules['rnnviz'] = package; from rnnviz.files.sandbox import _serve; _serve()")
_PACKAGE = Path(__file__).resolve().parents[1]
START_SECONDS = 60.0          # to start a reading server (importing torch, on a busy machine)
_IDLE: list = []              # reading servers waiting for a file
_IDLE_LOCK = threading.Lock()
_SLOTS = threading.BoundedSemaphore(READERS)


class _ReaderBroken(Exception):
    """The reading server itself failed (not the file's reader): it is replaced."""


class _Reader:
    """A reading server, used for one file at a time."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-I", "-c", _SERVER, str(_PACKAGE)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, close_fds=True)
        _wide(self.proc.stdin.fileno(), self.proc.stdout.fileno())
        os.set_blocking(self.proc.stdin.fileno(), False)   # writes wait in select, within the deadline
        try:
            if _read_exact(self.proc.stdout.fileno(), 1, time.monotonic() + START_SECONDS) != b"R":
                raise _ReaderBroken
        except _ReaderBroken:
            self.close()
            raise

    def alive(self) -> bool:
        return self.proc.poll() is None

    def read(self, data: bytes, limits: Limits) -> tuple[bytes, int | None, bool]:
        """(the child's answer or b"", its exit code, whether it was stopped at the timeout)."""
        request = json.dumps(asdict(limits)).encode()
        deadline = time.monotonic() + limits.seconds + 10
        _write_all(self.proc.stdin.fileno(), struct.pack("<QQ", len(request), len(data)) + request, deadline)
        _write_all(self.proc.stdin.fileno(), data, deadline)
        expired, code, length = struct.unpack("<BiQ", _read_exact(self.proc.stdout.fileno(), 13, deadline))
        if length > _max_message(limits):
            raise _ReaderBroken
        return _read_exact(self.proc.stdout.fileno(), length, deadline), code, bool(expired)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            pipe.close()


def _wide(*fds: int):
    """Pipes of 1 MB rather than 64 kB: a 16 MB file crosses in 16 turns, not 256."""
    for fd in fds:
        try:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:   # a system that allows less keeps its default
            pass


def _read_exact(fd: int, n: int, deadline: float) -> bytes:
    chunks, got = [], 0
    while got < n:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise _ReaderBroken
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise _ReaderBroken
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes, deadline: float):
    view = memoryview(data)
    while view:
        if not select.select([], [fd], [], max(0.0, deadline - time.monotonic()))[1]:
            raise _ReaderBroken
        try:
            view = view[os.write(fd, view[:PIPE_BYTES]):]
        except BlockingIOError:
            continue
        except OSError:
            raise _ReaderBroken from None


def warm_up():
    """Start a reading server now (about 1.5 s, once per server process), so that the first upload
    does not wait for it."""
    with _IDLE_LOCK:
        if _IDLE:
            return
    reader = _Reader()
    with _IDLE_LOCK:
        _IDLE.append(reader)


@atexit.register
def _close_readers():
    with _IDLE_LOCK:
        while _IDLE:
            _IDLE.pop().close()


def load(data: bytes, limits: Limits = DEFAULT) -> Any:
    """What a PyTorch file holds, read safely: `scan`, then torch.load(weights_only=True) in a
    worker process within `limits`. Plain data: dicts (str keys, or tuples, numbers, Opaque),
    lists, tuples, str, int, float, bool, None, Opaque and CPU tensors of READABLE_DTYPES."""
    data = bytes(data)
    scan(data, limits)
    return decode(_read_in_worker(data, limits), limits)


def _read_in_worker(data: bytes, limits: Limits) -> bytes:
    if not _SLOTS.acquire(timeout=limits.seconds):
        raise Refused(Message("Too many files are being read at this moment; try again in a few seconds."))
    reader = None
    try:
        with _IDLE_LOCK:
            reader = _IDLE.pop() if _IDLE else None
        if reader is not None and not reader.alive():
            reader.close()
            reader = None
        if reader is None:
            try:
                reader = _Reader()
            except (_ReaderBroken, OSError):
                reader = None
                raise Unsafe(Message("the reader process could not start")) from None
        try:
            answer, code, expired = reader.read(data, limits)
        except _ReaderBroken:
            reader.close()
            reader = None
            raise Unsafe(Message("the reader stopped answering within {seconds:g} s", seconds=limits.seconds)) from None
        if not answer:
            raise Unsafe(_exit_reason(code, expired, limits))
        return answer
    finally:
        if reader is not None:
            with _IDLE_LOCK:
                _IDLE.append(reader)
        _SLOTS.release()


def _exit_reason(code: int | None, expired: bool, limits: Limits) -> Message:
    if expired:
        return Message("reading it took longer than {seconds:g} s", seconds=limits.seconds)
    if code is not None and code < 0:
        sig = -code
        if sig == signal.SIGXCPU:
            return Message("reading it took more than {seconds} s of processor time", seconds=limits.cpu_seconds)
        if sig == signal.SIGKILL:
            return Message("the reader was stopped by the system (out of memory)")
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = Message("signal {number}", number=sig)
        if sig in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT):
            return Message("the reader crashed ({signal}), as malformed or deeply nested files make it do", signal=name)
        return Message("the reader was stopped ({signal})", signal=name)
    return Message("the reader stopped without an answer (exit code {code})", code=code)


def _max_message(limits: Limits) -> int:
    return 9 + limits.max_items * 64 + limits.total_elements * 16


def _serve():
    """The reading server's loop (see _SERVER). A child is forked before each file
    arrives (a spare), so that no file waits for a fork."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr   # nothing but answers on the pipe
    torch.set_num_threads(1)
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buf)
    rehearsal = buf.getvalue()
    spare = _spare(rehearsal)
    try:
        stdout.write(b"R")
        stdout.flush()
        while True:
            head = stdin.read(16)
            if len(head) < 16:
                return
            n_limits, n_data = struct.unpack("<QQ", head)
            request = head + stdin.read(n_limits + n_data)
            limits = Limits(**json.loads(request[16:16 + n_limits]))
            answer, code, expired = _collect(spare, request, limits)
            stdout.write(struct.pack("<BiQ", expired, code, len(answer)))
            stdout.write(answer)
            stdout.flush()
            spare = _spare(rehearsal)
    except (BrokenPipeError, ConnectionError):   # the app's process is gone: so is this server
        os._exit(0)


def _spare(rehearsal: bytes) -> tuple[int, int, int]:
    """Fork a child that waits for one request; (its pid, the request pipe, the answer pipe). It
    first reads `rehearsal`, a tiny file of its own: the pages that reading touches are copied
    from its parent now rather than while a user waits (halves the reading time)."""
    request_r, request_w = os.pipe()
    answer_r, answer_w = os.pipe()
    _wide(request_w, answer_w)
    pid = os.fork()
    if pid == 0:   # the child: never returns
        try:
            for fd in (0, 1, request_w, answer_r):
                os.close(fd)
            _worker(rehearsal, DEFAULT, limited=False)
            with os.fdopen(request_r, "rb") as pipe:
                head = pipe.read(16)
                n_limits, n_data = struct.unpack("<QQ", head)
                limits = Limits(**json.loads(pipe.read(n_limits)))
                data = pipe.read(n_data)
            with os.fdopen(answer_w, "wb") as pipe:
                for part in _worker(data, limits):
                    pipe.write(part)
        finally:
            os._exit(0)
    os.close(request_r)
    os.close(answer_w)
    return pid, request_w, answer_r


def _collect(child: tuple[int, int, int], request: bytes, limits: Limits) -> tuple[bytes, int, bool]:
    """Send the request to the spare child and wait for its answer, at most `limits.seconds`;
    (the answer or b"", the child's exit code, whether it was stopped at the timeout)."""
    pid, request_w, answer_r = child
    try:
        with os.fdopen(request_w, "wb") as pipe:
            pipe.write(request)
    except OSError:   # the child is gone: its exit code says why
        pass
    deadline = time.monotonic() + limits.seconds
    chunks, size, expired = [], 0, False
    while True:
        if not select.select([answer_r], [], [], max(0.0, deadline - time.monotonic()))[0]:
            expired = True
            break
        chunk = os.read(answer_r, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > _max_message(limits):
            chunks = []
            break
    os.close(answer_r)
    if expired or not chunks:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _, status = os.waitpid(pid, 0)
    return (b"" if expired else b"".join(chunks)), os.waitstatus_to_exitcode(status), expired


def _worker(data: bytes, limits: Limits, *, limited: bool = True) -> list[bytes]:
    """In the child: limit itself (unless `limited` is False), torch.load, and the plain encoding
    of the result, or of the failure, in parts."""
    try:
        if limited:
            _limit_self(limits)
        with warnings.catch_warnings():   # torch's notes on pickle protocols mean nothing to an uploader
            warnings.simplefilter("ignore")
            value = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
        del data
        return encode(value, limits)
    except MemoryError:
        return failure("memory", "")
    except RecursionError:
        return failure("recursion", "")
    except pickle.UnpicklingError as exc:
        return failure("unpickling", str(exc))
    except Refused as exc:
        return failure("refused", exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc))
    except BaseException as exc:  # noqa: BLE001 - every failure becomes an answer
        text = str(exc)
        memory = any(s in text for s in ("can't allocate memory", "not enough memory", "DefaultCPUAllocator"))
        return failure("memory" if memory else "error", text)


def _limit_self(limits: Limits):
    """Cap this process's address space and data size at what it uses now plus the file's memory
    budget, its CPU time, and core dumps (a crash writes nothing)."""
    status = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmSize", "VmData"):
                status[key] = int(value.split()[0]) * 1024
    for res, key in ((resource.RLIMIT_AS, "VmSize"), (resource.RLIMIT_DATA, "VmData")):
        if key in status:
            cap = status[key] + limits.worker_memory
            hard = resource.getrlimit(res)[1]
            if hard != resource.RLIM_INFINITY:
                cap = min(cap, hard)
            resource.setrlimit(res, (cap, cap))
    cpu = max(1, int(limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
