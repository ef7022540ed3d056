"""Moving bytes between Python and the library's file descriptors without temp files: pipes
pumped by threads (the library call runs with the GIL released, so they run beside it)."""

from __future__ import annotations

import os
import threading
from typing import IO, Iterator, List, Optional, Union

CHUNK = 1 << 16

Source = Union[bytes, bytearray, memoryview, IO[bytes]]


class Feeder:
    """The read end of a pipe a thread fills from `source` (bytes or a binary file object),
    closing the write end at its end: the reader sees EOF. An exception reading the source is
    kept in `.error` (the reader sees EOF early); `join()` waits for the thread."""

    def __init__(self, source: Source) -> None:
        self.read_fd, self._write_fd = os.pipe()
        self.error: Optional[BaseException] = None
        self._source = source
        self._thread = threading.Thread(target=self._run, name="docker_runtime-feeder",
                                        daemon=True)
        self._thread.start()

    def _chunks(self) -> Iterator[bytes]:
        src = self._source
        if isinstance(src, (bytes, bytearray, memoryview)):
            view = memoryview(src)
            return (bytes(view[i:i + CHUNK]) for i in range(0, len(view), CHUNK))
        read = src.read
        return iter(lambda: read(CHUNK), b"")

    def _run(self) -> None:
        try:
            for chunk in self._chunks():
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self._write_fd, view):]
        except BrokenPipeError:
            pass  # the reader stopped reading (a container that ignores its stdin)
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            self.error = e
        finally:
            os.close(self._write_fd)

    def join(self) -> None:
        self._thread.join()

    def close(self) -> None:
        """Close the read end (after the library is done with it)."""
        if self.read_fd >= 0:
            os.close(self.read_fd)
            self.read_fd = -1


class Collector:
    """The write end of a pipe whose bytes a thread collects; `finish()` closes the write end
    and returns everything written."""

    def __init__(self) -> None:
        self._read_fd, self.write_fd = os.pipe()
        self._chunks: List[bytes] = []
        self._thread = threading.Thread(target=self._run, name="docker_runtime-collector",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                chunk = os.read(self._read_fd, CHUNK)
                if not chunk:
                    return
                self._chunks.append(chunk)
        finally:
            os.close(self._read_fd)

    def finish(self) -> bytes:
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1
        self._thread.join()
        return b"".join(self._chunks)
