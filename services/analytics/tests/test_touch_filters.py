"""The channel / source / campaign filters on touches: the SQL conditions and their twin for
rows read into Python select the same touches (attribution uses both)."""

from analytics.application.reports.filters import touch_conditions, touch_selected
from analytics.application.reports.period import Period
from analytics.application.reports.query import ReportQuery
from analytics.application.reports.sql import Sql

PERIOD = Period.parse("2026-03-01", "2026-04-01", "UTC")
ROW = {"channel": "paid", "source": "yandex", "campaign": ""}


def test_a_filter_selects_touches_with_that_stored_value():
    q = ReportQuery(PERIOD, channel="paid", source="yandex")
    assert touch_conditions(q, "t") == Sql(
        "t.channel = {t_channel:String} AND t.source = {t_source:String}",
        {"t_channel": "paid", "t_source": "yandex"},
    )
    assert touch_selected(q, ROW)
    assert not touch_selected(ReportQuery(PERIOD, source="google"), ROW)


def test_an_empty_filter_like_a_missing_one_selects_every_touch():
    # `?campaign=` reaches the query as "": the report's header lists no filter, so none applies
    for q in (ReportQuery(PERIOD), ReportQuery(PERIOD, channel="", source="", campaign="")):
        assert touch_conditions(q) == Sql("1")
        assert touch_selected(q, ROW)
        assert q.filters() == {}
