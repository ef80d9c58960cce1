"""The public site's scheduled work: telling customers of a new policy version (R45).

A new version of the privacy policy comes with the code that enforces it; the worker
mails every active customer about it the first day it runs, without anyone having to
remember `manage.py policy_announce`. The run is the same as the command's: once per
customer per version (the outbox's dedupe key), so a daily run sends only to customers
not told yet.
"""

import datetime as dt

from kluis.jobs.registry import job


@job("policy_announce", every=dt.timedelta(days=1), lease=dt.timedelta(hours=2))
def policy_announce() -> str:
    from kluis.web.services import policy_announce as announce

    return str(announce())
