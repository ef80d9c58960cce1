import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from kluis.audit.models import AuditEntry
from kluis.jobs.models import JobRun
from kluis.jobs.registry import JOBS, Job, job
from kluis.jobs.services import job_claim, jobs_run_due

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def only_test_jobs(monkeypatch):
    """Swap the registry for a test one, so real jobs don't run here."""
    registry: dict[str, Job] = {}
    monkeypatch.setattr("kluis.jobs.registry.JOBS", registry)
    monkeypatch.setattr("kluis.jobs.services.JOBS", registry)
    monkeypatch.setattr("kluis.jobs.services._unrecorded", {})
    return registry


def test_the_retention_sweep_and_the_vies_retry_are_scheduled():
    assert JOBS["retention_sweep"].every == dt.timedelta(days=1)
    assert JOBS["vies_retry"].every <= dt.timedelta(hours=1)


def test_a_due_job_runs_once_and_not_again_before_its_interval(only_test_jobs):
    calls = []

    def counting() -> str:
        calls.append(1)
        return "counted"

    job("counting", every=dt.timedelta(hours=1))(counting)
    assert jobs_run_due(worker="w1").ran == ["counting"]
    assert jobs_run_due(worker="w1").ran == []
    assert calls == [1]
    run = JobRun.objects.get(name="counting")
    assert run.last_outcome == "counted" and run.leased_until is None
    JobRun.objects.filter(name="counting").update(
        last_started_at=timezone.now() - dt.timedelta(hours=2)
    )
    assert jobs_run_due(worker="w1").ran == ["counting"]
    assert calls == [1, 1]


def test_a_failing_job_is_recorded_and_due_again(only_test_jobs):
    def broken() -> str:
        raise RuntimeError("boom")

    job("broken", every=dt.timedelta(days=1))(broken)
    report = jobs_run_due(worker="w1")
    assert report.failed == ["broken"]
    run = JobRun.objects.get(name="broken")
    assert run.failures == 1 and run.last_outcome == "RuntimeError"
    assert AuditEntry.objects.filter(action="job.failed").exists()
    assert jobs_run_due(worker="w1").failed == ["broken"]
    assert JobRun.objects.get(name="broken").failures == 2


def test_a_job_held_by_a_live_lease_is_not_taken_by_another_worker(only_test_jobs):
    slow = Job("slow", every=dt.timedelta(minutes=1), run=lambda: "", lease=dt.timedelta(hours=1))
    assert job_claim(job=slow, worker="w1")
    JobRun.objects.filter(name="slow").update(
        last_started_at=timezone.now() - dt.timedelta(hours=1)
    )
    assert not job_claim(job=slow, worker="w2")
    # The lease runs out (the first worker crashed): now another may take it.
    JobRun.objects.filter(name="slow").update(leased_until=timezone.now() - dt.timedelta(seconds=1))
    assert job_claim(job=slow, worker="w2")


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_two_workers_at_once_run_a_due_job_once(only_test_jobs):
    calls = []

    def once() -> str:
        calls.append(1)
        return "ok"

    job("once", every=dt.timedelta(hours=1))(once)
    JobRun.objects.create(name="once")
    start = threading.Barrier(2)

    def work(name: str) -> None:
        try:
            start.wait()
            jobs_run_due(worker=name)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1]


def test_the_worker_command_runs_due_jobs_in_one_pass(only_test_jobs, capsys):
    job("hello", every=dt.timedelta(days=1))(lambda: "said hello")
    call_command("worker", "--once")
    assert "job hello: done" in capsys.readouterr().out


def test_a_run_whose_lease_ran_out_unfinished_is_due_again_within_its_interval(only_test_jobs):
    daily = Job("daily", every=dt.timedelta(days=1), run=lambda: "", lease=dt.timedelta(hours=1))
    assert job_claim(job=daily, worker="w1")
    assert not job_claim(job=daily, worker="w2")  # held, and ran a moment ago
    # w1 died before it recorded anything: once its lease runs out the run is taken
    # up again, not a day later.
    JobRun.objects.filter(name="daily").update(
        leased_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert job_claim(job=daily, worker="w2")


def test_an_outcome_the_database_refused_is_recorded_on_the_next_pass(only_test_jobs, monkeypatch):
    from django.db import OperationalError

    from kluis.jobs import services

    calls = []

    def counting() -> str:
        calls.append(1)
        return "counted"

    job("counting", every=dt.timedelta(days=1))(counting)
    real_finish = services.job_finish
    refusals = [OperationalError("could not extend file: No space left on device")]

    def finish(**kwargs):
        if refusals:
            raise refusals.pop()
        real_finish(**kwargs)

    monkeypatch.setattr(services, "job_finish", finish)
    with pytest.raises(OperationalError):
        jobs_run_due(worker="w1")
    assert JobRun.objects.get(name="counting").leased_by == "w1"  # nothing recorded yet
    # The next pass records the run first: done, so not run again.
    assert jobs_run_due(worker="w1").ran == []
    run = JobRun.objects.get(name="counting")
    assert (run.last_outcome, run.leased_by, run.leased_until) == ("counted", "", None)
    assert calls == [1]
    assert not services._unrecorded  # the fixture's own empty one
