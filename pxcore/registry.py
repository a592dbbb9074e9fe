"""The registry: one table of specs per kind of part, and the zoo rows, filled by plugins
through registrars."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from .errors import DuplicateNameError, SpecError, UnknownNameError
from .hookspecs import HOOK_FOR_KIND
from .names import closest, normalize
from .specs import KINDS, SPEC_TYPES, Spec
from .zoo import ZooEntry


class Registry:
    """Specs by kind and name, and zoo rows by id. Lookups ignore case and spaces; misses
    suggest names."""

    def __init__(self) -> None:
        self._specs: dict[str, dict[str, Spec]] = {kind: {} for kind in KINDS}
        self._zoo: dict[str, ZooEntry] = {}
        self.zoo_revision = 0  # counts changes to the zoo rows (pxcore.zoo caches its catalog)

    def _table(self, kind: str) -> dict[str, Spec]:
        try:
            return self._specs[kind]
        except KeyError:
            raise UnknownNameError(
                f"{kind!r} is not a kind of part; the kinds are {', '.join(KINDS)}", name=kind
            ) from None

    def add(self, spec: Spec) -> Spec:
        table = self._table(spec.kind)
        clash = self.find(spec.kind, spec.name)
        if clash is not None:
            raise DuplicateNameError(
                f"{spec.kind} {spec.name!r} is registered twice: by {clash.distribution!r} "
                f"(as {clash.name!r}) and by {spec.distribution!r}. Uninstall or disable one "
                "of them (PXCORE_DISABLE_PLUGINS=name), or rename the spec."
            )
        table[spec.name] = spec
        return spec

    def find(self, kind: str, name: str) -> Spec | None:
        """The spec, or None. Exact name first, then ignoring case and spaces."""
        table = self._table(kind)
        if name in table:
            return table[name]
        wanted = normalize(name)
        for spec_name, spec in table.items():
            if normalize(spec_name) == wanted:
                return spec
        return None

    def get(self, kind: str, name: str) -> Spec:
        """The spec, or an error naming this registry and the closest names."""
        spec = self.find(kind, name)
        if spec is None:
            raise unknown_name_error(kind, name, self.names(kind))
        return spec

    def names(self, kind: str) -> list[str]:
        return list(self._table(kind))

    def specs(self, kind: str, distribution: str | None = None) -> list[Spec]:
        return [
            s for s in self._table(kind).values()
            if distribution is None or s.distribution == distribution
        ]

    def all_specs(self) -> Iterator[Spec]:
        for kind in KINDS:
            yield from self._specs[kind].values()

    def remove_distribution(self, distribution: str) -> None:
        for table in self._specs.values():
            for name in [n for n, s in table.items() if s.distribution == distribution]:
                del table[name]
        for row_id in [i for i, row in self._zoo.items() if row.distribution == distribution]:
            del self._zoo[row_id]
            self.zoo_revision += 1

    # -- zoo rows ----------------------------------------------------------------------

    def add_zoo_row(self, row: ZooEntry) -> ZooEntry:
        clash = self.find_zoo_row(row.id)
        if clash is not None:
            raise DuplicateNameError(
                f"zoo row {row.id!r} is registered twice: by {clash.distribution!r} and by "
                f"{row.distribution!r}. Uninstall or disable one of them "
                "(PXCORE_DISABLE_PLUGINS=name), or give the row another name or data set."
            )
        self._zoo[row.id] = row
        self.zoo_revision += 1
        return row

    def find_zoo_row(self, row_id: str) -> ZooEntry | None:
        """The row with this id (``<name>.<dataset>``), or None; case and spaces ignored."""
        if row_id in self._zoo:
            return self._zoo[row_id]
        wanted = normalize(row_id)
        return next((row for i, row in self._zoo.items() if normalize(i) == wanted), None)

    def zoo_rows(self, distribution: str | None = None) -> list[ZooEntry]:
        """Registered rows in the order they were added (``pxcore.zoo.catalog()`` puts
        them in the zoo's order)."""
        return [row for row in self._zoo.values()
                if distribution is None or row.distribution == distribution]

    def __contains__(self, key: tuple[str, str]) -> bool:
        kind, name = key
        return self.find(kind, name) is not None


def unknown_name_error(kind: str, name: str, candidates, extra: str = "") -> UnknownNameError:
    candidates = list(candidates)
    suggestions = closest(name, candidates)
    message = f"no {kind} named {name!r} in the pxcore {kind} registry"
    if suggestions:
        message += f"; did you mean {', '.join(repr(s) for s in suggestions)}?"
    elif candidates:
        shown = ", ".join(sorted(candidates)[:12])
        more = f" and {len(candidates) - 12} more" if len(candidates) > 12 else ""
        message += f"; registered: {shown}{more}"
    else:
        message += "; none is registered (is a plugin installed? `px plugins` lists them)"
    if extra:
        message += f". {extra}"
    return UnknownNameError(message, name=name, kind=kind, suggestions=suggestions)


class Registrar:
    """What a plugin's hook receives: it adds specs of one kind, stamped with the plugin."""

    def __init__(self, kind: str, distribution: str) -> None:
        self.kind = kind
        self.distribution = distribution
        self.added: list[Spec] = []

    def add(self, spec: Spec | None = None, /, **fields: Any) -> Spec:
        """``add(BackboneSpec(...))`` or ``add(name=..., factory=..., **more_fields)``."""
        spec_type = SPEC_TYPES[self.kind]
        if spec is None:
            spec = spec_type(**fields)
        elif fields:
            raise SpecError("pass either a spec or its fields to registry.add, not both")
        if not isinstance(spec, spec_type):
            raise SpecError(
                f"{HOOK_FOR_KIND[self.kind]} may add {spec_type.__name__}s only; "
                f"{self.distribution!r} gave {type(spec).__name__} {getattr(spec, 'name', spec)!r}"
            )
        spec = attrs.evolve(spec, distribution=self.distribution)
        if any(normalize(s.name) == normalize(spec.name) for s in self.added):
            raise DuplicateNameError(
                f"{self.kind} {spec.name!r} is registered twice by {self.distribution!r}"
            )
        self.added.append(spec)
        return spec

    def __repr__(self) -> str:
        return f"<Registrar {self.kind}s for {self.distribution!r}>"


class ZooRegistrar:
    """What ``px_register_zoo`` receives: it adds zoo rows, stamped with the plugin."""

    kind = "zoo"

    def __init__(self, distribution: str) -> None:
        self.distribution = distribution
        self.added: list[ZooEntry] = []

    def add(self, row: ZooEntry | None = None, /, **fields: Any) -> ZooEntry:
        """``add(ZooEntry(...))`` or ``add(name=..., task=..., **more_fields)``. A row
        that names no distributions needs only the one adding it."""
        if row is None:
            row = ZooEntry(**fields)
        elif fields:
            raise SpecError("pass either a ZooEntry or its fields to registry.add, not both")
        if not isinstance(row, ZooEntry):
            raise SpecError(
                f"px_register_zoo may add ZooEntry rows only; {self.distribution!r} gave "
                f"{type(row).__name__} {getattr(row, 'name', row)!r}"
            )
        row = attrs.evolve(row, distribution=self.distribution, default=False,
                           plugins=row.plugins or (self.distribution,))
        if any(normalize(r.id) == normalize(row.id) for r in self.added):
            raise DuplicateNameError(f"zoo row {row.id!r} is registered twice by {self.distribution!r}")
        self.added.append(row)
        return row

    def __repr__(self) -> str:
        return f"<ZooRegistrar for {self.distribution!r}>"
