"""Everything that knows cron."""
