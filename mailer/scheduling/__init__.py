"""Everything that knows cron: the TaskManager (task_manager.py) gives each mailing its script
and crontab line; cron.py writes the crontab as text; detached.py starts a run outside cron;
dev_runner.py is `flask scheduler`, cron for a machine without one."""
