"""When a send happens: the rule's timing against the event, then quiet hours in the
recipient's time zone; and the clock of digests. Pure date arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from notification.domain.rules import QuietHours, Timing, zone


class TooLate(Exception):
    """A `before` reminder for something already due: nothing useful to say any more."""


def send_time(
    timing: Timing, occurred_at: datetime, due_at: datetime | None, now: datetime
) -> datetime:
    """The planned moment; a moment already past means "now". Raises TooLate when the task
    is already due."""
    if timing.mode == "after":
        assert timing.offset is not None
        return occurred_at + timing.offset
    if timing.mode == "before":
        assert timing.offset is not None and due_at is not None
        if due_at <= now:
            raise TooLate(f"due at {due_at.isoformat()}, already past")
        return due_at - timing.offset
    return occurred_at


def in_quiet_hours(moment: datetime, quiet: QuietHours, tz: str) -> bool:
    local = moment.astimezone(zone(tz)).time().replace(second=0, microsecond=0)
    if quiet.start <= quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end  # spans midnight


def after_quiet_hours(moment: datetime, quiet: QuietHours | None, tz: str) -> datetime:
    """`moment` itself if sending is allowed then; else the first allowed minute after it
    (the end of the quiet period, on the right day, in the recipient's zone)."""
    if quiet is None or not in_quiet_hours(moment, quiet, tz):
        return moment
    local = moment.astimezone(zone(tz))
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end = _wall_clock(local.date() + timedelta(days=1), quiet.end, tz)
    return end.astimezone(UTC)


def _wall_clock(day: date, at: time, tz: str) -> datetime:
    return datetime.combine(day, at, tzinfo=zone(tz))


def digest_cron(timing: Timing) -> str:
    """Six-field cron (seconds first) for the JetStream schedule of a digest rule."""
    assert timing.at is not None
    if timing.mode == "daily":
        day = "*"
    else:
        assert timing.weekday is not None  # a valid weekly rule has one
        day = str(timing.weekday % 7)  # cron: 0 = Sunday
    return f"0 {timing.at.minute} {timing.at.hour} * * {day}"


def digest_period(timing: Timing, fired_at: datetime, tz: str) -> tuple[datetime, datetime]:
    """The whole day (daily) or ISO week (weekly) before the one the digest fires in, as
    `[from, to)` in the rule's zone: at 09:00 on Monday, last Monday to this Monday."""
    local = fired_at.astimezone(zone(tz))
    end_day = local.date()
    if timing.mode == "weekly":
        end_day -= timedelta(days=local.weekday())
    length = timedelta(days=7 if timing.mode == "weekly" else 1)
    return _wall_clock(end_day - length, time(), tz), _wall_clock(end_day, time(), tz)
