"""Plug-ins registered in one entry-point group (energy monitors, pass-through boards,
benchmarks): loaded once when first asked for, listed in a chosen order, and those that cannot
be loaded kept aside with the reason, so one broken distribution does not stop every command
and is named where it is asked for."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property
from importlib.metadata import entry_points
from typing import Callable

from .errors import UsageError


class PluginRegistry(Mapping):
    """name -> declaration. `noun` names a plug-in in messages ("energy monitor"); `name_of`
    reads a declaration's name, which must be its entry point's; `order` sorts the listing."""

    def __init__(self, group: str, noun: str, declaration: type, name_of: Callable, order: Callable):
        self.group, self.noun, self.declaration = group, noun, declaration
        self._name_of, self._order = name_of, order

    @cached_property
    def _loaded(self) -> tuple[dict, dict[str, str]]:
        found, broken = [], {}
        for point in entry_points(group=self.group):
            try:
                plugin = point.load()
            except Exception as exc:  # another distribution's bug
                broken[point.name] = (f"{self.noun} plug-in {point.name!r} ({point.value}) cannot be loaded: "
                                      f"{type(exc).__name__}: {exc}")
                continue
            if not isinstance(plugin, self.declaration) or self._name_of(plugin) != point.name:
                broken[point.name] = (f"{self.noun} plug-in {point.name!r} ({point.value}) is not a "
                                      f"{self.declaration.__name__} named {point.name!r}")
                continue
            found.append(plugin)
        known: dict = {}
        for plugin in sorted(found, key=self._order):
            known.setdefault(self._name_of(plugin), plugin)
        return known, broken

    @property
    def broken(self) -> dict[str, str]:
        """Registered names whose plug-in could not be loaded, with why."""
        return self._loaded[1]

    def require(self, name: str, unknown: str):
        """The plug-in of this name; UsageError with why it could not be loaded, or `unknown`."""
        if name in self.broken:
            raise UsageError(self.broken[name])
        if name not in self:
            raise UsageError(unknown)
        return self[name]

    def clear(self) -> None:
        """Look for plug-ins again (after sys.path changed)."""
        self.__dict__.pop("_loaded", None)

    def __getitem__(self, name: str):
        return self._loaded[0][name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded[0])

    def __len__(self) -> int:
        return len(self._loaded[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.group}: {', '.join(self)})"
