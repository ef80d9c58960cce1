from django.db import models


class JobRun(models.Model):
    """The state of one scheduled job, shared by every worker process.

    A worker takes a due job with a conditional UPDATE on this row (see services.py),
    so two workers never run the same job at once and a crashed run is taken up again
    once its lease runs out.
    """

    name = models.CharField(max_length=60, unique=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    leased_by = models.CharField(max_length=100, blank=True)
    last_outcome = models.CharField(max_length=200, blank=True)
    failures = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.name
