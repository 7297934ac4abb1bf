"""gunicorn settings for mailer behind nginx: `gunicorn -c deploy/gunicorn.conf.py mailer.wsgi:app`."""
import multiprocessing
import os

bind = os.environ.get("MAILER_BIND", "127.0.0.1:8000")  # nginx proxies to it; never public
workers = int(os.environ.get("MAILER_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = 2
timeout = 60  # "send me a test" waits for the mail server (MAIL_TIMEOUT)
graceful_timeout = 30
max_requests = 2000  # a worker is replaced now and then; memory never creeps
max_requests_jitter = 200
accesslog = "-"  # journald keeps both logs
errorlog = "-"
forwarded_allow_ips = "127.0.0.1"  # trust X-Forwarded-* from nginx on this host only
