"""Events other parts of the app react to.

``mailing_changed`` is sent after every committed change of a mailing, by the mailing
services (created, updated, deleted), the lifecycle (paused, resumed, stopped, finished,
and "ran" after each run of the sending engine) and the accounts service ("owner-blocked",
"owner-unblocked", once for each of the owner's mailings), with ``mailing`` and ``change``.
The scheduler keeps cron in step by listening to it.
"""
from blinker import Namespace

_signals = Namespace()

mailing_changed = _signals.signal("mailing-changed")
