"""Durable Objects for an EdgeWorker: namespace bindings and the migrations that keep data safe.

A Durable Object class holds stored objects. Cloudflare only creates, renames, moves or
deletes a class's namespace through a migration, identified by a tag and applied once per
script (https://developers.cloudflare.com/durable-objects/reference/durable-objects-migrations/):
`new_sqlite_classes` creates SQLite-backed namespaces (the storage Cloudflare recommends for
new classes, and the only one on the Free plan), `renamed_classes` keeps a class's objects
under its new name, `deleted_classes` deletes a class and every object in it.

The EdgeWorker takes the script's whole migration history, oldest first (as wrangler's
`[[migrations]]`), and the tag already applied in this stack (None before the first
deploy). Before anything is declared, `plan` replays the history and refuses:

* a binding to a class that no migration created (it names the migration to add: a rename
  when a live class has disappeared from the code, else `new_sqlite_classes`);
* a class that still holds objects but is no longer defined by the Worker's main module:
  uploading it would orphan or, with a careless fix, silently drop its data, so it names
  both ways out (`renamed_classes` to keep the objects, `deleted_classes` to drop them);
* a history that does not replay (a class created twice, renamed or deleted while absent,
  duplicate tags, an applied tag that is not in the history).

What it declares on the WorkersScript (pulumi-cloudflare v6 schema): the bindings
`{"type": "durable_object_namespace", "name": ..., "class_name": ...}` and `migrations`
`{old_tag: <applied>, new_tag: <last>, steps: [<pending steps>]}`; with nothing pending,
no `migrations` at all, so an unchanged stack shows no diff.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgekit_iac.errors import UserError

_CLASS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BINDING = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class DurableObjectError(UserError, ValueError):
    """A Durable Object binding or migration is wrong or unsafe; the message says what to do."""


@dataclass(frozen=True)
class DurableObjectMigration:
    """One migration of a script's Durable Object classes, as wrangler's `[[migrations]]`."""

    tag: str
    """Unique name of this migration, e.g. "v1"; applied once per script, in order."""

    new_sqlite_classes: Sequence[str] = ()
    """Classes whose SQLite-backed namespaces this migration creates. Default: none."""

    renamed_classes: Mapping[str, str] = field(default_factory=dict)
    """Old class name -> new class name: the objects move to the new class. Default: none."""

    deleted_classes: Sequence[str] = ()
    """Classes deleted with every object they store. Default: none."""


@dataclass(frozen=True)
class DurablePlan:
    """What the script declares: its namespace bindings and the migrations still to apply."""

    bindings: tuple[tuple[str, str], ...] = ()  # (binding name, class name), sorted
    live_classes: tuple[str, ...] = ()
    old_tag: str | None = None
    new_tag: str | None = None
    steps: tuple[DurableObjectMigration, ...] = field(default=())

    def binding_inputs(self) -> list[dict[str, Any]]:
        return [{"name": name, "type": "durable_object_namespace", "class_name": class_name}
                for name, class_name in self.bindings]


def _fail(owner: str, arg: str, problem: str, do: str) -> DurableObjectError:
    return DurableObjectError(f"{owner}.{arg}: {problem}; {do}")


def defined_classes(main_source: str, main_module: str) -> set[str]:
    """Names of the classes the main module defines on a base named DurableObject."""
    tree = ast.parse(main_source, filename=main_module)
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                if name == "DurableObject":
                    found.add(node.name)
    return found


def _next_tag(migrations: Sequence[DurableObjectMigration]) -> str:
    numbers = [int(m.tag[1:]) for m in migrations if re.fullmatch(r"v\d+", m.tag)]
    return f"v{max(numbers, default=len(migrations)) + 1}"


def _replay(owner: str, migrations: Sequence[DurableObjectMigration]) -> dict[str, str]:
    """The live classes after the history: class -> tag of the migration that made it so."""
    live: dict[str, str] = {}
    tags: set[str] = set()
    for index, migration in enumerate(migrations):
        arg = f"migrations[{index}]"
        if not isinstance(migration, DurableObjectMigration):
            raise _fail(owner, arg, f"got {migration!r}", "give DurableObjectMigration(...)")
        if not isinstance(migration.tag, str) or not _TAG.match(migration.tag):
            raise _fail(owner, f"{arg}.tag", f"got {migration.tag!r}",
                        "use 1-64 letters, digits, '_', '.', '-', e.g. 'v1'")
        if migration.tag in tags:
            raise _fail(owner, f"{arg}.tag", f"tag {migration.tag!r} is used twice",
                        "give every migration its own tag")
        tags.add(migration.tag)
        renamed = dict(migration.renamed_classes)
        for name in [*migration.new_sqlite_classes, *migration.deleted_classes,
                     *renamed, *renamed.values()]:
            if not isinstance(name, str) or not _CLASS.match(name):
                raise _fail(owner, arg, f"bad class name {name!r}", "use Python class names")
        for name in migration.new_sqlite_classes:
            if name in live:
                raise _fail(owner, arg, f"{migration.tag} creates {name}, which migration "
                            f"{live[name]} already created", "create each class once")
            live[name] = migration.tag
        for old, new in renamed.items():
            if old not in live:
                raise _fail(owner, arg, f"{migration.tag} renames {old}, which does not exist "
                            "at that point", "rename a class an earlier migration created")
            if new in live:
                raise _fail(owner, arg, f"{migration.tag} renames {old} to {new}, which already "
                            "exists", "rename to a new class name")
            del live[old]
            live[new] = migration.tag
        for name in migration.deleted_classes:
            if name not in live:
                raise _fail(owner, arg, f"{migration.tag} deletes {name}, which does not exist "
                            "at that point", "delete a class an earlier migration created")
            del live[name]
    return live


def plan(owner: str, bindings: Mapping[str, str], migrations: Sequence[DurableObjectMigration],
         applied_tag: str | None, main_source: str, main_module: str) -> DurablePlan:
    """Check the bindings and history against the Worker's code; see the module docstring."""
    if not isinstance(bindings, Mapping):
        raise _fail(owner, "durable_objects", f"got {bindings!r}",
                    "give a mapping of binding name -> Durable Object class name")
    if not isinstance(migrations, Sequence) or isinstance(migrations, str):
        raise _fail(owner, "migrations", f"got {migrations!r}",
                    "give a list of DurableObjectMigration, oldest first")
    if not bindings and not migrations:
        if applied_tag is not None:
            raise _fail(owner, "applied_migration_tag", f"{applied_tag!r} given without "
                        "migrations", "give the migration history it belongs to")
        return DurablePlan()
    for name, class_name in bindings.items():
        if not isinstance(name, str) or not _BINDING.match(name):
            raise _fail(owner, "durable_objects", f"bad binding name {name!r}",
                        "use letters, digits and '_', not a digit first")
        if not isinstance(class_name, str) or not _CLASS.match(class_name):
            raise _fail(owner, "durable_objects", f"{name} has class {class_name!r}",
                        "give the Python class name of a Durable Object")
    live = _replay(owner, migrations)
    defined = defined_classes(main_source, main_module)
    next_tag = _next_tag(migrations)
    gone = sorted(set(live) - defined)
    for name, class_name in sorted(bindings.items()):
        if class_name not in defined:
            raise _fail(owner, "durable_objects", f"{name} binds class {class_name}, which "
                        f"{main_module} does not define as a DurableObject subclass",
                        f"define it there, or bind one of {sorted(defined) or 'none'}")
        if class_name not in live:
            if gone:
                raise _fail(owner, "migrations", f"{name} binds {class_name}, which no "
                            f"migration created, while {gone[0]} (created by migration "
                            f"{live[gone[0]]}) is no longer in {main_module}",
                            f"if {class_name} is {gone[0]} renamed, add DurableObjectMigration("
                            f"tag={next_tag!r}, renamed_classes={{{gone[0]!r}: "
                            f"{class_name!r}}}) to keep its stored objects; if it is a new "
                            f"class, add DurableObjectMigration(tag={next_tag!r}, "
                            f"new_sqlite_classes=[{class_name!r}])")
            raise _fail(owner, "migrations", f"{name} binds {class_name}, which no migration "
                        "created", f"add DurableObjectMigration(tag={next_tag!r}, "
                        f"new_sqlite_classes=[{class_name!r}])")
    if gone:
        name = gone[0]
        raise _fail(owner, "migrations", f"class {name} still holds the objects stored since "
                    f"migration {live[name]}, but {main_module} no longer defines it; "
                    "deploying would orphan them, and a new class in its place starts empty",
                    f"to keep them under a new class, add DurableObjectMigration(tag="
                    f"{next_tag!r}, renamed_classes={{{name!r}: '<NewClass>'}}); to delete "
                    f"{name} and all its data on purpose, add DurableObjectMigration(tag="
                    f"{next_tag!r}, deleted_classes=[{name!r}])")
    tags = [m.tag for m in migrations]
    if applied_tag is None:
        pending = tuple(migrations)
    elif applied_tag in tags:
        pending = tuple(migrations[tags.index(applied_tag) + 1:])
    else:
        raise _fail(owner, "applied_migration_tag", f"{applied_tag!r} is not in the history "
                    f"{tags}", "give the tag Cloudflare reports for this script, or None "
                    "before its first deploy")
    return DurablePlan(
        bindings=tuple(sorted(bindings.items())),
        live_classes=tuple(sorted(live)),
        old_tag=applied_tag if pending else None,
        new_tag=tags[-1] if pending else None,
        steps=pending,
    )
