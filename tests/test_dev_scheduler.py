"""The crontab-file scheduler used by `make run` fires lines as cron would."""
from datetime import datetime

from crontab import CronTab

from mailer.scheduling.dev_runner import due_jobs, start_job


def write_tab(path, lines):
    path.touch()
    tab = CronTab(tabfile=str(path))
    for schedule, command, comment in lines:
        job = tab.new(command=command, comment=comment)
        job.setall(schedule)
    tab.write()
    return path


def test_only_lines_with_a_time_in_the_window_are_due(tmp_path):
    tab = write_tab(tmp_path / "crontab", [
        ("30 10 * * *", "echo daily", "mailer:test:1"),
        ("31 10 * * *", "echo later", "mailer:test:2"),
        ("30 10 * * 1", "echo mondays", "mailer:test:3"),
    ])
    since = datetime(2026, 11, 23, 10, 29, 30)  # a Monday
    until = datetime(2026, 11, 23, 10, 30, 30)

    assert [job.comment for job in due_jobs(tab, since, until)] == ["mailer:test:1", "mailer:test:3"]
    assert due_jobs(tab, datetime(2026, 11, 24, 10, 29, 30), datetime(2026, 11, 24, 10, 30, 30))[0].comment == "mailer:test:1"
    assert due_jobs(tab, until, datetime(2026, 11, 23, 10, 30, 59)) == []


def test_disabled_lines_and_missing_file_fire_nothing(tmp_path):
    path = write_tab(tmp_path / "crontab", [("* * * * *", "echo x", "mailer:test:1")])
    tab = CronTab(tabfile=str(path))
    next(iter(tab)).enable(False)
    tab.write()

    assert due_jobs(path, datetime(2026, 1, 1, 0, 0), datetime(2026, 1, 1, 1, 0)) == []
    assert due_jobs(tmp_path / "absent", datetime(2026, 1, 1), datetime(2026, 1, 2)) == []


def test_a_due_line_runs_its_command_with_the_lines_environment(tmp_path):
    marker = tmp_path / "ran"
    path = write_tab(tmp_path / "crontab", [("* * * * *", f'echo "$GREETING" > {marker}', "mailer:test:1")])
    tab = CronTab(tabfile=str(path))
    tab.env["GREETING"] = "hello from cron"
    tab.write()
    (job,) = due_jobs(path, datetime(2026, 1, 1, 0, 0), datetime(2026, 1, 1, 0, 1))

    process = start_job(job)

    assert process.wait(timeout=10) == 0
    assert marker.read_text().strip() == "hello from cron"


def test_a_line_added_while_running_is_picked_up_on_the_next_tick(tmp_path):
    path = tmp_path / "crontab"
    first_tick = (datetime(2026, 1, 1, 9, 0, 30), datetime(2026, 1, 1, 9, 1, 30))
    assert due_jobs(path, *first_tick) == []

    write_tab(path, [("2 9 * * *", "true", "mailer:test:9")])

    assert [j.comment for j in due_jobs(path, datetime(2026, 1, 1, 9, 1, 30), datetime(2026, 1, 1, 9, 2, 30))] == ["mailer:test:9"]
