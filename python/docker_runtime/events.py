"""`rt.events()`: the runtime's container and image events as an iterator."""

from __future__ import annotations

import json
import threading
from ctypes import byref, c_void_p
from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional, Union

from . import _lib
from ._callbacks import END, EventBridge, in_callback
from ._handle import Closing
from .errors import TimedOut

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["EventStream"]

Event = Union[bytes, Dict[str, Any]]


class EventStream(Closing, Iterator[Event]):
    """Events from the subscription's start on, in order: JSON bytes, or dicts with
    decode=True ({"Type", "Action", "Actor": {"ID", "Attributes"}, "time", "timeNano"}).
    Iterating blocks for the next event; `get(timeout)` waits at most `timeout` seconds.
    `close()` (or a `with` block, or garbage collection) ends the subscription; an iterator
    blocked in another thread then stops."""

    _handle_attr = "_sub"

    def __init__(self, rt: "Runtime", decode: bool) -> None:
        self._decode = decode
        self._bridge = EventBridge()
        self._sub: Optional[c_void_p] = None
        sub = c_void_p()
        _lib.check(_lib.load().docker_runtime_events(rt.handle, self._bridge.cfunc, None,
                                                     byref(sub)))
        self._sub = sub

    def get(self, timeout: Optional[float] = None) -> Event:
        """The next event (TimedOut after `timeout` seconds; StopIteration once closed)."""
        item = self._bridge.get(timeout)
        if item is None:
            raise TimedOut(f"no event within {timeout} s")
        if item is END:
            self._bridge.reraise()
            raise StopIteration
        assert isinstance(item, bytes)
        return json.loads(item) if self._decode else item

    def __next__(self) -> Event:
        return self.get()

    def __iter__(self) -> "EventStream":
        return self

    def close(self) -> None:
        """End the subscription: no callback after this returns, and the events not read yet
        are dropped (iteration stops)."""
        sub, self._sub = self._sub, None
        if sub:
            if in_callback():
                threading.Thread(target=self._free, args=(sub,), daemon=True).start()
            else:
                self._free(sub)

    def _free(self, sub: c_void_p) -> None:
        _lib.load().docker_subscription_free(sub)
        self._bridge.end(discard=True)

