"""Volumes, docker-py style: `rt.volumes.create/get/list/prune` and `Volume`."""

from __future__ import annotations

import json
from ctypes import byref, c_void_p
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional

from . import _lib
from ._structs import StringArray, Text, encode

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["Volume", "VolumeCollection"]


def _json(fn_name: str, *args: Any) -> Any:
    p = c_void_p()
    _lib.check(getattr(_lib.load(), fn_name)(*args, byref(p)))
    return json.loads(_lib.take_string(p))


class Volume:
    """One volume: `.id` and `.name` (the same, as docker-py's), `.attrs` (what `docker volume
    inspect` shows: Name, Driver, Mountpoint, Labels, CreatedAt, Options, Scope)."""

    def __init__(self, rt: "Runtime", attrs: Dict[str, Any]) -> None:
        self._rt = rt
        self.attrs = attrs

    @property
    def id(self) -> str:
        return str(self.attrs["Name"])

    @property
    def name(self) -> str:
        return self.id

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def __repr__(self) -> str:
        return f"<Volume: {self.short_id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Volume) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def reload(self) -> None:
        self.attrs = self._rt.volumes.get(self.id).attrs

    def remove(self, force: bool = False) -> None:
        """Remove it and its content; InUse while a container (running or not) uses it.
        force=True: one that is gone already is no error (as docker's force)."""
        _lib.check(_lib.load().docker_volume_remove(self._rt.handle, encode(self.id, "name"),
                                                    1 if force else 0))


class VolumeCollection:
    """`rt.volumes`."""

    def __init__(self, rt: "Runtime") -> None:
        self._rt = rt

    def create(self, name: Optional[Text] = None, driver: Optional[str] = None,
               driver_opts: Optional[Mapping[str, str]] = None,
               labels: Optional[Mapping[str, str]] = None) -> Volume:
        """Create the volume `name` (None: a generated name), or get it when it exists (it
        keeps its labels), as docker-py. Only the `local` driver, without options, is here:
        another driver or driver_opts raise InvalidArgument-like ValueError."""
        if driver not in (None, "local"):
            raise ValueError(f"volume driver {driver!r}: only 'local' is available")
        if driver_opts:
            raise ValueError("driver_opts: the local driver here takes no options")
        pairs = StringArray([f"{k}={v}" for k, v in (labels or {}).items()], "labels")
        attrs = _json("docker_volume_create", self._rt.handle, encode(name, "name"),
                      pairs.pointer)
        return Volume(self._rt, attrs)

    def get(self, volume_id: Text) -> Volume:
        """The volume with this name (NotFound otherwise)."""
        return Volume(self._rt, _json("docker_volume_inspect_json", self._rt.handle,
                                      encode(volume_id, "volume_id")))

    def list(self, filters: Optional[Mapping[str, Any]] = None) -> List[Volume]:
        """Every volume, by name. `filters` as docker's: name (a part of the name), label
        (KEY or KEY=VALUE, or a list of them: all must hold), driver; another filter raises
        ValueError."""
        rows = _json("docker_runtime_volumes_json", self._rt.handle)
        keep = _filter(filters or {})
        return [Volume(self._rt, r) for r in rows if keep(r)]

    def prune(self, filters: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """Remove every volume no container uses (named and anonymous, as docker 20.10):
        {"VolumesDeleted": [names], "SpaceReclaimed": bytes}, as docker-py. Filters are not
        taken here (ValueError)."""
        if filters:
            raise ValueError(f"prune filters {sorted(filters)}: not supported")
        answer: Dict[str, Any] = _json("docker_volumes_prune", self._rt.handle)
        return answer


def _filter(filters: Mapping[str, Any]) -> Any:
    unknown = sorted(set(filters) - {"name", "label", "driver"})
    if unknown:
        raise ValueError(f"volume filters {unknown}: use name, label or driver")

    def many(v: Any) -> List[str]:
        return [v] if isinstance(v, str) else list(v)

    def keep(row: Dict[str, Any]) -> bool:
        labels = row.get("Labels") or {}
        for n in many(filters.get("name", [])):
            if n not in row["Name"]:
                return False
        for d in many(filters.get("driver", [])):
            if d != row["Driver"]:
                return False
        for want in many(filters.get("label", [])):
            k, sep, v = want.partition("=")
            if k not in labels or (sep and labels[k] != v):
                return False
        return True
    return keep
