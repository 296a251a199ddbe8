"""Report periods: `[from, to)` in the report's time zone (docs/reports.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_contracts.runtime.errors import Invalid

# What DateTime64(3) stores: a moment outside is refused by ClickHouse as a bad parameter.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2299, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
OUT_OF_RANGE = "outside the supported range 1900-01-01 … 2299-12-31"


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown time zone {name!r}", "tz") from None


def parse_moment(field: str, raw: str, zone: ZoneInfo) -> datetime:
    """`YYYY-MM-DD` is midnight in the report's zone; a date-time without offset is in the
    zone too; one with an offset is taken as given. Returned in UTC."""
    raw = raw.strip()
    try:
        if len(raw) == 10:
            moment = datetime.combine(date.fromisoformat(raw), time(), zone)
        else:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
    except ValueError:
        reason = f"expected YYYY-MM-DD or an ISO 8601 date-time, got {raw!r}"
        raise Invalid(reason, field) from None
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted past Python's own range by the zone
        raise Invalid(OUT_OF_RANGE, field) from None
    if not EARLIEST <= moment <= LATEST:
        raise Invalid(OUT_OF_RANGE, field)
    return moment


def _year_back(moment: datetime, end: bool = False) -> datetime:
    """The same local date-time a year earlier. 29 February becomes 28 February for a start and
    1 March for an (exclusive) end, so a period ending on the 29th keeps its last day."""
    try:
        return moment.replace(year=moment.year - 1)
    except ValueError:
        if end:
            return moment.replace(year=moment.year - 1, month=3, day=1)
        return moment.replace(year=moment.year - 1, day=28)


@dataclass(frozen=True)
class Period:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    tz: str

    @classmethod
    def parse(cls, start: str, end: str, tz: str, compare: str | None = None) -> Period:
        """The period; with `compare`, its comparison period must be storable too."""
        zone = parse_zone(tz)
        period = cls(parse_moment("from", start, zone), parse_moment("to", end, zone), tz)
        if period.end <= period.start:
            raise Invalid("must be later than from", "to")
        if compare is not None:
            period.compared(compare)
        return period

    def compared(self, compare: str) -> Period:
        """The comparison period, refused (`compare`) where the engine cannot store it."""
        try:
            earlier = self.previous_year() if compare == "previous_year" else self.previous_period()
        except (ValueError, OverflowError):
            raise Invalid(f"the comparison period is {OUT_OF_RANGE}", "compare") from None
        if earlier.start < EARLIEST or earlier.end > LATEST:
            raise Invalid(f"the comparison period is {OUT_OF_RANGE}", "compare")
        return earlier

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def previous_period(self) -> Period:
        """The same length just before."""
        length = self.end - self.start
        return Period(self.start - length, self.start, self.tz)

    def clamped(self) -> Period:
        """Cut to what the engine stores (nothing lies outside it): a win-back period may reach
        before 1900 for a report starting near it."""
        return Period(max(self.start, EARLIEST), min(self.end, LATEST), self.tz)

    def previous_year(self) -> Period:
        """The same local dates a year back (DST and 29 February handled in local time)."""
        start = _year_back(self.local(self.start)).astimezone(UTC)
        end = _year_back(self.local(self.end), end=True).astimezone(UTC)
        return Period(start, end, self.tz)

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    def params(self) -> dict[str, datetime]:
        # Naive UTC: DateTime64(3, 'UTC') parameters are read as UTC wall time.
        return {"start": self.start.replace(tzinfo=None), "end": self.end.replace(tzinfo=None)}

    def query(self) -> dict[str, str]:
        """How to ask for this period again (drill-down links)."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "tz": self.tz}
