"""Events other parts of the app react to.

``mailing_changed`` is sent by the mailing service after every committed
create, update, delete and status change, with ``mailing`` and ``change``
(one of CHANGES; "ran" follows each run of the sending engine, "owner-blocked"
and "owner-unblocked" a manager's decision about the owner). The
scheduler keeps cron in step by listening to it.
"""
from blinker import Namespace

_signals = Namespace()

mailing_changed = _signals.signal("mailing-changed")
CHANGES = ("created", "updated", "deleted", "paused", "resumed", "stopped", "finished", "ran",
           "owner-blocked", "owner-unblocked")
