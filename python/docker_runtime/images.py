"""Images, docker-py style: `rt.images.pull/list/get/remove/import_/save/load` and `Image`."""

from __future__ import annotations

import json
import os
from ctypes import create_string_buffer
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Union

from . import _lib
from ._callbacks import ProgressBridge, ProgressFunction
from ._pipes import Collector, Feeder, Source
from ._structs import StringArray, Text, encode
from .errors import DockerError, ImageNotFound

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["Image", "ImageCollection"]

_ID_LEN = 65


class Image:
    """One image: `.id`, `.short_id`, `.tags` (["repo:tag"]), `.attrs` (its row of
    `docker_runtime_images_json`: Id, RepoTags, Created, Size, ParentId)."""

    def __init__(self, rt: "Runtime", attrs: Dict[str, Any]) -> None:
        self._rt = rt
        self.attrs = attrs

    @property
    def id(self) -> str:
        return str(self.attrs["Id"])

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def tags(self) -> List[str]:
        return list(self.attrs.get("RepoTags") or [])

    def __repr__(self) -> str:
        return f"<Image: {', '.join(repr(t) for t in self.tags) or self.short_id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Image) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def reload(self) -> None:
        self.attrs = self._rt.images.get(self.id).attrs

    def tag(self, repository: Text, tag: Optional[Text] = None, force: bool = False) -> bool:
        """Tag it as repository:tag (tag None: latest); True, as docker-py."""
        self._rt.images.tag(self.id, repository, tag, force)
        self.reload()
        return True


class ImageCollection:
    """`rt.images`."""

    def __init__(self, rt: "Runtime") -> None:
        self._rt = rt

    def _rows(self) -> List[Dict[str, Any]]:
        from .runtime import json_out
        rows: List[Dict[str, Any]] = json.loads(
            json_out(_lib.load().docker_runtime_images_json, self._rt.handle))
        return rows

    def list(self, name: Optional[str] = None) -> List[Image]:
        """Every image (name: only those with a tag of that repository or name:tag)."""
        images = [Image(self._rt, r) for r in self._rows()]
        if name is None:
            return images
        return [i for i in images
                if any(t == name or t.rsplit(":", 1)[0] == name for t in i.tags)]

    def get(self, name: str) -> Image:
        """The image named repo[:tag] (tag default latest) or with this id or id prefix
        (ImageNotFound otherwise, also for a prefix that fits several)."""
        rows = self._rows()
        ref = name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"
        for r in rows:
            if ref in (r.get("RepoTags") or []):
                return Image(self._rt, r)
        prefix = name[len("sha256:"):] if name.startswith("sha256:") else name
        hits = [r for r in rows if prefix and str(r["Id"]).startswith(prefix)]
        if len(hits) == 1:
            return Image(self._rt, hits[0])
        why = "several images have that id prefix" if hits else "no such image"
        raise ImageNotFound(f"{name}: {why}", code="DOCKER_ERR_NOT_FOUND", result=4)

    def pull(self, repository: str, tag: Optional[str] = None,
             progress: Optional[ProgressFunction] = None) -> Image:
        """Pull repository[:tag] from its registry. `progress(dict)` receives the Engine API's
        progress objects, on a library thread; an exception it raises cancels the pull and is
        raised here."""
        ref = f"{repository}:{tag}" if tag else repository
        bridge = ProgressBridge(progress)
        buf = create_string_buffer(_ID_LEN)
        r = _lib.load().docker_image_pull(self._rt.handle, encode(ref, "repository"),
                                          bridge.cfunc, None, buf, len(buf))
        bridge.reraise()
        _lib.check(r)
        return self.get(buf.value.decode())

    def import_(self, source: Union[str, "os.PathLike[str]", Source],
                repository: Optional[str] = None, tag: Optional[str] = None) -> Image:
        """Import a root filesystem tar (optionally gzip) as an image: `source` is a path, a
        binary file object or bytes (streamed through a pipe, never a temp file)."""
        if isinstance(source, (str, os.PathLike)):
            fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
            try:
                return self._import_fd(fd, repository, tag)
            finally:
                os.close(fd)
        feeder = Feeder(source)
        try:
            image = self._import_fd(feeder.read_fd, repository, tag)
        except DockerError:
            if feeder.error is not None:  # the source failed: that is the cause
                raise feeder.error from None
            raise
        finally:
            feeder.close()
            feeder.join()
        if feeder.error is not None:
            raise feeder.error
        return image

    def _import_fd(self, fd: int, repository: Optional[str], tag: Optional[str]) -> Image:
        buf = create_string_buffer(_ID_LEN)
        _lib.check(_lib.load().docker_image_import(
            self._rt.handle, fd, encode(repository, "repository"), encode(tag, "tag"), buf,
            len(buf)))
        return self.get(buf.value.decode())

    def tag(self, image: Text, repository: Text, tag: Optional[Text] = None,
            force: bool = False) -> None:
        """Tag `image` (a name or id) as repository:tag (tag None: latest)."""
        _lib.check(_lib.load().docker_image_tag(
            self._rt.handle, encode(image, "image"), encode(repository, "repository"),
            encode(tag, "tag"), 1 if force else 0))

    def remove(self, image: Text) -> None:
        """Untag a tag, or delete an image by id (Conflict when a container uses it)."""
        _lib.check(_lib.load().docker_image_remove(self._rt.handle, encode(image, "image")))

    def save(self, names: Union[Text, Sequence[Text]],
             path: Union[str, "os.PathLike[str]", None] = None) -> Optional[bytes]:
        """`docker save`: the images `names` names (a repository alone: all its tags) as one
        tar archive (docker's format with the OCI layout inside), written to `path` (through
        a temporary file beside it, renamed once whole), else returned as bytes."""
        array = StringArray([names] if isinstance(names, (str, bytes)) else names, "names")
        lib = _lib.load()
        if path is None:
            collector = Collector()
            try:
                _lib.check(lib.docker_image_save(self._rt.handle, array.pointer,
                                                 collector.write_fd))
            finally:
                data = collector.finish()
            return data
        tmp = os.path.join(os.path.dirname(os.fspath(path)) or ".",
                           f".{os.path.basename(os.fspath(path))}.partial-{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            try:
                _lib.check(lib.docker_image_save(self._rt.handle, array.pointer, fd))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return None

    def load(self, source: Union[str, "os.PathLike[str]", Source]) -> List[Image]:
        """`docker load`: the images of an archive (ours, docker's, skopeo's, containerd's
        export; a path, a binary file object or bytes), all or none of them; returns them."""
        from .runtime import json_out
        lib = _lib.load()
        if isinstance(source, (str, os.PathLike)):
            fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
            try:
                text = json_out(lib.docker_image_load, self._rt.handle, fd)
            finally:
                os.close(fd)
        else:
            feeder = Feeder(source)
            try:
                text = json_out(lib.docker_image_load, self._rt.handle, feeder.read_fd)
            except DockerError:
                if feeder.error is not None:
                    raise feeder.error from None
                raise
            finally:
                feeder.close()
                feeder.join()
            if feeder.error is not None:
                raise feeder.error
        return [self.get(str(row["Id"])) for row in json.loads(text)]
