"""gunicorn settings for kluis (`make serve` and deploy/kluis-web.service).

Sync workers: every request is short, holds one database connection, and a worker
that hangs is killed after `timeout`. Values come from the environment so the
systemd unit and `make serve` share this one file.
"""

import os

bind = os.environ.get("KLUIS_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("KLUIS_WEB_WORKERS", "2"))
worker_class = "sync"
timeout = 30
graceful_timeout = 20
# Recycle workers now and then, so a slow leak cannot grow without bound.
max_requests = 2000
max_requests_jitter = 200
# The proxy in front (nginx) sets X-Forwarded-Proto; trust it only from localhost.
forwarded_allow_ips = os.environ.get("KLUIS_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Access log to stdout (journald); no query strings, which may carry tokens.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
