"""Bridges from the library's callback threads to Python callers.

The library calls these trampolines on its own threads. A ctypes callback that raises only
prints the exception; here every trampoline catches everything, keeps the first exception,
returns nonzero (the library then stops that stream, subscription or pull) and the caller's
thread re-raises it. Each bridge owns its CFUNCTYPE object: whoever holds the bridge keeps it
referenced until the library has promised no further call (the handle's or subscription's
`_free` returned, or the call that took it returned).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import threading
from collections import deque
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Tuple

from ._structs import EVENT_CALLBACK, OUTPUT_CALLBACK, PROGRESS_CALLBACK

_local = threading.local()


def in_callback() -> bool:
    """True on a library thread while one of these trampolines runs: freeing the handle that
    called it from there would wait for itself."""
    return getattr(_local, "depth", 0) > 0


@contextlib.contextmanager
def running_callback() -> Iterator[None]:
    """Marks the current thread as inside a library callback (see in_callback)."""
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1


class _Bridge:
    def __init__(self) -> None:
        self.error: Optional[BaseException] = None

    def _fail(self, e: BaseException) -> int:
        if self.error is None:
            self.error = e
        return 1

    def reraise(self) -> None:
        """Raise the exception a trampoline caught, if any, in the caller's thread."""
        if self.error is not None:
            e, self.error = self.error, None
            raise e


Chunk = Tuple[int, bytes]


class OutputChannel(_Bridge):
    """A container's output stream (docker_output_callback) as a queue of (stream, bytes).

    `cap`: while no consumer is attached, at most this many bytes are kept; past it the queue
    is dropped and the stream stopped (`dropped`), so a detached container nobody reads costs
    bounded memory. None: keep everything (`containers.run` collecting the output)."""

    def __init__(self, cap: Optional[int]) -> None:
        super().__init__()
        self._cond = threading.Condition()
        self._chunks: Deque[Chunk] = deque()
        self._buffered = 0
        self._cap = cap
        self.attached = False
        self.stopped = False
        self.dropped = False
        self.calls = 0  # how often the library called it (a stopped stream's last call too)
        self.cfunc = OUTPUT_CALLBACK(self._callback)

    def _callback(self, _userdata: Optional[int], stream: int, ptr: Optional[int],
                  n: int) -> int:
        with running_callback():
            return self._deliver(stream, ptr, n)

    def _deliver(self, stream: int, ptr: Optional[int], n: int) -> int:
        try:
            self.calls += 1
            if self.stopped:
                return 1
            data = ctypes.string_at(ptr, n) if ptr and n else b""
            with self._cond:
                if self.stopped:
                    return 1
                self._chunks.append((stream, data))
                self._buffered += n
                if self._cap is not None and not self.attached and self._buffered > self._cap:
                    self._chunks.clear()
                    self._buffered = 0
                    self.dropped = self.stopped = True
                    return 1
                self._cond.notify_all()
            return 0
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            self.stopped = True
            return self._fail(e)

    def attach(self) -> None:
        with self._cond:
            self.attached = True

    def stop(self) -> None:
        """The consumer is done: the next callback returns nonzero (the library stops the
        stream; the container keeps running) and nothing more is kept."""
        with self._cond:
            self.stopped = True
            self._chunks.clear()
            self._buffered = 0

    def take(self, timeout: float) -> List[Chunk]:
        """Everything queued, waiting up to `timeout` seconds for something."""
        with self._cond:
            if not self._chunks:
                self._cond.wait(timeout)
            chunks = list(self._chunks)
            self._chunks.clear()
            self._buffered = 0
            return chunks


ProgressFunction = Callable[[Dict[str, Any]], Any]


class ProgressBridge(_Bridge):
    """docker_progress_callback calling `fn(dict)` on the library's thread; an exception `fn`
    raises cancels the pull and is re-raised by the caller."""

    def __init__(self, fn: Optional[ProgressFunction]) -> None:
        super().__init__()
        self._fn = fn
        # Address 0: NULL (no progress wanted).
        self.cfunc = PROGRESS_CALLBACK(self._callback) if fn is not None else \
            PROGRESS_CALLBACK(0)

    def _callback(self, _userdata: Optional[int], text: bytes) -> int:
        with running_callback():
            try:
                assert self._fn is not None
                self._fn(json.loads(text))
                return 0
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller
                return self._fail(e)


END = object()


class EventBridge(_Bridge):
    """docker_event_callback feeding a queue the consumer reads (END after an error)."""

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition()
        self._items: Deque[object] = deque()
        self.closed = False
        self.cfunc = EVENT_CALLBACK(self._callback)

    def _callback(self, _userdata: Optional[int], text: bytes) -> int:
        with running_callback():
            try:
                with self._cond:
                    if self.closed:
                        return 1
                    self._items.append(text)
                    self._cond.notify_all()
                return 0
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller
                self.end()
                return self._fail(e)

    def end(self, discard: bool = False) -> None:
        """No more items: END follows what is queued (discard: replaces it)."""
        with self._cond:
            self.closed = True
            if discard:
                self._items.clear()
            self._items.append(END)
            self._cond.notify_all()

    def get(self, timeout: Optional[float]) -> Optional[object]:
        """The next item (END once ended), None when `timeout` passed first."""
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._items), timeout):
                return None
            item = self._items[0]
            if item is not END:
                self._items.popleft()
            return item
