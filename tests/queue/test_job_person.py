"""A job names a person who exists, and goes when that person does
(20261201100400_queue_person_check_per_statement.sql: checked per statement, not per row).

The rules the foreign key kept, shown for every way a job is written: one row, many rows
in one statement, the worker's batch enqueue, the weekly enqueue, an update of user_id,
and by each role that may write jobs.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from psycopg import errors

from worker.queue import manager
from worker.queue.jobs import JobSpec

_FOR_EACH = "insert into public.jobs (kind, user_id) select 'weekly_analysis', p from unnest(%s::uuid[]) p"


def _person(conn: psycopg.Connection[Any]) -> uuid.UUID:
    person = uuid.uuid4()
    conn.execute("insert into auth.users (id) values (%s)", (person,))
    return person


def _jobs(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("select count(*) from public.jobs").fetchone()
    assert row is not None
    return int(row[0])


def test_a_job_for_nobody_is_refused_with_the_foreign_key_error(conn: psycopg.Connection[Any]) -> None:
    ghost = uuid.uuid4()
    with pytest.raises(errors.ForeignKeyViolation) as caught:
        conn.execute("insert into public.jobs (kind, user_id) values ('weekly_analysis', %s)", (ghost,))
    assert caught.value.sqlstate == "23503"
    assert caught.value.diag.constraint_name == "jobs_user_id_fkey"
    assert str(ghost) in (caught.value.diag.message_detail or "")
    assert _jobs(conn) == 0


def test_one_missing_person_undoes_the_whole_statement(conn: psycopg.Connection[Any]) -> None:
    people = [_person(conn) for _ in range(50)]
    with pytest.raises(errors.ForeignKeyViolation):
        conn.execute(
            _FOR_EACH,
            ([*people[:25], uuid.uuid4(), *people[25:]],),
        )
    assert _jobs(conn) == 0
    conn.execute(
        _FOR_EACH,
        (people,),
    )
    assert _jobs(conn) == 50


def test_jobs_without_a_person_are_allowed(conn: psycopg.Connection[Any]) -> None:
    conn.execute("insert into public.jobs (kind, user_id) values ('housekeeping', null)")
    assert _jobs(conn) == 1


def test_the_workers_batch_enqueue_is_checked(conn: psycopg.Connection[Any]) -> None:
    person = _person(conn)
    specs = [
        JobSpec(kind="export_pdf", user_id=person, payload={}),
        JobSpec(kind="export_pdf", user_id=uuid.uuid4(), payload={}),
    ]
    with pytest.raises(errors.ForeignKeyViolation):
        manager.enqueue_sync(conn, specs)
    assert _jobs(conn) == 0
    manager.enqueue_sync(conn, specs[:1])
    assert _jobs(conn) == 1


def test_moving_a_job_to_nobody_is_refused(conn: psycopg.Connection[Any]) -> None:
    person, other = _person(conn), _person(conn)
    conn.execute("insert into public.jobs (kind, user_id) values ('weekly_analysis', %s)", (person,))
    with pytest.raises(errors.ForeignKeyViolation):
        conn.execute("update public.jobs set user_id = %s", (uuid.uuid4(),))
    conn.execute("update public.jobs set user_id = %s", (other,))
    conn.execute("update public.jobs set user_id = null")
    conn.execute("update public.jobs set status = 'cancelled', finished_at = now()")  # no user change
    assert conn.execute("select user_id, status from public.jobs").fetchall() == [(None, "cancelled")]


def test_a_deleted_persons_jobs_go_with_them_in_any_status(conn: psycopg.Connection[Any]) -> None:
    person, other = _person(conn), _person(conn)
    for owner in (person, other):
        for status, finished in (("queued", None), ("failed", "now()")):
            conn.execute(
                "insert into public.jobs (kind, user_id, status, finished_at)"
                f" values ('weekly_analysis', %s, %s, {finished or 'null'})",
                (owner, status),
            )
    conn.execute("delete from auth.users where id = %s", (person,))
    owners = conn.execute(
        "select distinct user_id from public.jobs where kind = 'weekly_analysis'"
    ).fetchall()
    assert owners == [(other,)]


def test_the_weekly_enqueue_still_inserts_for_people_who_exist(conn: psycopg.Connection[Any]) -> None:
    people = [_person(conn) for _ in range(3)]
    for person in people:
        conn.execute(
            "insert into public.quick_scans (user_id, body_part, created_at)"
            " values (%s, 'head', now() - interval '2 days')",
            (str(person),),
        )
    row = conn.execute("select public.enqueue_weekly_analysis(null, now())").fetchone()
    assert row is not None and row[0] == 3
    assert sorted(r[0] for r in conn.execute("select user_id from public.jobs").fetchall()) == sorted(people)


def test_the_service_role_gets_the_same_check(conn: psycopg.Connection[Any]) -> None:
    person = _person(conn)
    with conn.transaction():
        conn.execute("set local role service_role")
        conn.execute("insert into public.jobs (kind, user_id) values ('export_pdf', %s)", (person,))
        with pytest.raises(errors.ForeignKeyViolation), conn.transaction():
            conn.execute("insert into public.jobs (kind, user_id) values ('export_pdf', %s)", (uuid.uuid4(),))
    assert _jobs(conn) == 1


def _check_plans(conn: psycopg.Connection[Any], statement: str, params: tuple[Any, ...]) -> list[str]:
    """The plans (auto_explain, as text) of the trigger's person check that one statement
    runs; the statement is rolled back."""
    notices: list[str] = []
    conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    with pytest.raises(errors.QueryCanceled), conn.transaction():
        conn.execute("load 'auto_explain'")
        for setting, value in {
            "auto_explain.log_min_duration": "0",
            "auto_explain.log_nested_statements": "on",
            "auto_explain.log_level": "notice",
        }.items():
            conn.execute("select set_config(%s, %s, true)", (setting, value))
        conn.execute(statement, params)
        raise errors.QueryCanceled("roll back")
    return [n for n in notices if "from inserted_jobs j" in n and "auth.users" in n]


def test_a_full_runs_batch_checks_its_people_in_one_join_and_a_zones_hour_by_probes(
    conn: psycopg.Connection[Any],
) -> None:
    # 20261201130000: a batch of more than 10,000 jobs is planned for its size, on each call;
    # up to 10,000 are probes (with the old LIMIT 1 alone, every batch probed: 101,052 probes
    # in a full weekly run; with the planner alone, 4,008 jobs hashed all of auth.users).
    people = [uuid.uuid4() for _ in range(12_000)]
    with conn.cursor().copy("copy auth.users (id) from stdin") as copy:
        for person in people:
            copy.write_row((person,))
    conn.execute("vacuum analyze auth.users")
    # In one session, one after the other: each batch gets the plan of its own size, not
    # the plan of the session's first batch.
    sizes = (
        (11_000, "Hash Anti Join", "users_pkey"),
        (3, "users_pkey", "Seq Scan"),
        (4_000, "users_pkey", "Hash"),
    )
    for size, wanted, unwanted in sizes * 2:
        [plan] = _check_plans(conn, _FOR_EACH, (people[:size],))
        assert wanted in plan and unwanted not in plan, (size, plan)
    # A batch with one missing person is still refused as a whole, either way.
    for size in (11_000, 4_000):
        with pytest.raises(errors.ForeignKeyViolation) as caught:
            conn.execute(
                _FOR_EACH,
                ([*people[: size // 2], uuid.uuid4(), *people[size // 2 : size]],),
            )
        assert caught.value.diag.constraint_name == "jobs_user_id_fkey"
    assert _jobs(conn) == 0


def test_the_weekly_enqueue_does_not_look_up_the_people_it_has_just_read(
    conn: psycopg.Connection[Any],
) -> None:
    # 20261201140000: the enqueue's jobs are for people its statement read from profiles
    # (which reference auth.users) or auth.users itself; its run sets
    # proxima.job_people_read, which the trigger honours. Every other insert is checked,
    # in the same session too.
    people = [_person(conn) for _ in range(3)]
    for person in people:
        conn.execute(
            "insert into public.quick_scans (user_id, body_part, created_at)"
            " values (%s, 'head', now() - interval '2 days')",
            (str(person),),
        )
    enqueue = "select public.enqueue_weekly_analysis(null, now())"
    assert _check_plans(conn, enqueue, ()) == []
    assert len(_check_plans(conn, _FOR_EACH, (people,))) == 1
    row = conn.execute(enqueue).fetchone()
    assert row == (3,)
    assert conn.execute("select current_setting('proxima.job_people_read', true)").fetchone() in {
        (None,),
        ("",),
    }, "the setting ends with the enqueue's run"
    with pytest.raises(errors.ForeignKeyViolation):
        conn.execute(_FOR_EACH, ([people[0], uuid.uuid4()],))
    assert _jobs(conn) == 3


def _wake_ups(db_url: str, conn: psycopg.Connection[Any], insert: str, params: tuple[Any, ...]) -> list[str]:
    """The payloads the workers' channel carries for one inserting statement."""
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("listen proxima_jobs")
        conn.execute(insert, params)
        return [n.payload for n in listener.notifies(timeout=5, stop_after=1)]


def test_the_wake_up_names_each_kind_once_in_order(conn: psycopg.Connection[Any], db_url: str) -> None:
    person = _person(conn)
    assert _wake_ups(
        db_url,
        conn,
        "insert into public.jobs (kind, user_id) values ('weekly_analysis', %s), ('export_pdf', %s)",
        (person, person),
    ) == ["export_pdf,weekly_analysis"]
    assert _wake_ups(
        db_url,
        conn,
        "insert into public.jobs (kind, user_id)"
        " select k, %s from unnest(array['weekly_analysis', 'export_pdf', 'weekly_analysis', 'housekeeping']) k",
        (person,),
    ) == ["export_pdf,housekeeping,weekly_analysis"]


def test_a_job_enqueued_while_its_person_is_deleted_is_purged_by_the_housekeeping(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    """The one gap the per-statement check leaves (no row lock on the person): a job whose
    inserting transaction commits after the person's deletion outlives them. The nightly
    housekeeping deletes it, in any status but running; other people's jobs and jobs
    without a person stay."""
    person, other = _person(conn), _person(conn)
    conn.execute("set statement_timeout = '10s'")  # the deletion must not wait for the insert
    conn.execute("insert into public.jobs (kind, user_id) values ('weekly_analysis', %s)", (other,))
    conn.execute("insert into public.jobs (kind, payload) values ('delete_user_files', '{}')")
    with psycopg.connect(db_url) as enqueuing:  # a transaction open across the deletion
        enqueuing.execute(
            "insert into public.jobs (kind, user_id, status, attempts, lease_owner, lease_expires_at,"
            " finished_at, last_error) values"
            " ('weekly_analysis', %(p)s, 'queued', 0, null, null, null, null),"
            " ('export_pdf', %(p)s, 'failed', 1, null, null, now(), 'insert or update violates a key'),"
            " ('weekly_analysis', %(p)s, 'running', 1, 'w', now() + interval '1 hour', null, null)",
            {"p": person},
        )
        conn.execute("delete from auth.users where id = %s", (person,))
        enqueuing.commit()
    orphans = "select status from public.jobs where user_id = %s order by status"
    assert conn.execute(orphans, (person,)).fetchall() == [("failed",), ("queued",), ("running",)]

    result = conn.execute("select public.run_housekeeping()").fetchone()

    assert result is not None and result[0]["orphaned_jobs_deleted"] == 2
    assert result[0]["jobs_deleted"] == 0
    assert conn.execute(orphans, (person,)).fetchall() == [("running",)]  # taken once it has ended
    assert sorted(
        conn.execute(
            "select kind, user_id from public.jobs where user_id is distinct from %s", (person,)
        ).fetchall()
    ) == [
        ("delete_user_files", None),
        ("delete_user_files", None),
        ("weekly_analysis", other),
    ]
    conn.execute(
        "update public.jobs set status = 'failed', finished_at = now(), lease_owner = null,"
        " lease_expires_at = null where user_id = %s",
        (person,),
    )
    second = conn.execute("select public.run_housekeeping()").fetchone()
    assert second is not None and second[0]["orphaned_jobs_deleted"] == 1
    assert conn.execute(orphans, (person,)).fetchall() == []
