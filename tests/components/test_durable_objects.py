"""Durable Object bindings and migrations: the EdgeWorker refuses changes that lose data."""

from __future__ import annotations

import pytest
from edgekit_iac.components.durable_objects import DurableObjectError, DurableObjectMigration, plan

SOURCE = """
from workers import DurableObject, WorkerEntrypoint
import workers

class Counter(DurableObject):
    pass

class Sessions(workers.DurableObject):
    pass

class Default(WorkerEntrypoint):
    pass
"""
V1 = DurableObjectMigration(tag="v1", new_sqlite_classes=("Counter",))
V2 = DurableObjectMigration(tag="v2", new_sqlite_classes=("Sessions",))


def make(bindings, migrations, applied=None, source=SOURCE):
    return plan("EdgeWorkerArgs", bindings, migrations, applied, source, "main.py")


def test_first_deploy_sends_the_whole_history():
    result = make({"COUNTERS": "Counter", "SESSIONS": "Sessions"}, [V1, V2])
    assert result.binding_inputs() == [
        {"name": "COUNTERS", "type": "durable_object_namespace", "class_name": "Counter"},
        {"name": "SESSIONS", "type": "durable_object_namespace", "class_name": "Sessions"},
    ]
    assert (result.old_tag, result.new_tag, result.steps) == (None, "v2", (V1, V2))


def test_later_deploys_send_only_what_is_pending_and_nothing_when_up_to_date():
    pending = make({"COUNTERS": "Counter"}, [V1, V2], applied="v1")
    current = make({"COUNTERS": "Counter"}, [V1, V2], applied="v2")
    assert (pending.old_tag, pending.new_tag, pending.steps) == ("v1", "v2", (V2,))
    assert (current.old_tag, current.new_tag, current.steps) == (None, None, ())


def test_a_binding_without_a_migration_names_the_one_to_add():
    with pytest.raises(DurableObjectError, match=r"new_sqlite_classes=\['Counter'\]"):
        make({"COUNTERS": "Counter"}, [])


def test_a_renamed_class_without_a_rename_migration_is_refused():
    renamed = SOURCE.replace("class Counter(", "class EdgeCounter(")
    with pytest.raises(DurableObjectError) as refused:
        make({"COUNTERS": "EdgeCounter"}, [V1], applied="v1", source=renamed)
    message = str(refused.value)
    assert "renamed_classes={'Counter': 'EdgeCounter'}" in message
    assert "tag='v2'" in message


def test_a_class_dropped_from_the_code_is_refused_naming_both_ways_out():
    without = SOURCE.replace("class Counter(DurableObject)", "class Other(object)")
    with pytest.raises(DurableObjectError) as refused:
        make({}, [V1], applied="v1", source=without)
    message = str(refused.value)
    assert "still holds the objects" in message
    assert "deleted_classes=['Counter']" in message and "renamed_classes" in message


def test_explicit_rename_and_delete_migrations_are_accepted():
    renamed = SOURCE.replace("class Counter(", "class EdgeCounter(")
    rename = DurableObjectMigration(tag="v2", renamed_classes={"Counter": "EdgeCounter"})
    result = make({"COUNTERS": "EdgeCounter"}, [V1, rename], applied="v1", source=renamed)
    assert result.live_classes == ("EdgeCounter",) and result.steps == (rename,)
    without = SOURCE.replace("class Counter(DurableObject)", "class Other(object)")
    delete = DurableObjectMigration(tag="v2", deleted_classes=("Counter",))
    assert make({}, [V1, delete], applied="v1", source=without).live_classes == ()


@pytest.mark.parametrize(
    ("migrations", "applied", "message"),
    [
        ([V1, V1], None, "used twice"),
        ([V1, DurableObjectMigration(tag="v2", new_sqlite_classes=("Counter",))], None,
         "already created"),
        ([V1, DurableObjectMigration(tag="v2", deleted_classes=("Nope",))], None,
         "does not exist"),
        ([V1], "v9", "not in the history"),
        ([DurableObjectMigration(tag="bad tag", new_sqlite_classes=("Counter",))], None,
         "tag"),
    ],
)
def test_histories_that_do_not_replay_are_refused(migrations, applied, message):
    with pytest.raises(DurableObjectError, match=message):
        make({"COUNTERS": "Counter"}, migrations, applied)


def test_binding_a_class_the_code_does_not_define_is_refused():
    with pytest.raises(DurableObjectError, match="does not define"):
        make({"X": "Missing"}, [DurableObjectMigration("v1", new_sqlite_classes=("Missing",))])
