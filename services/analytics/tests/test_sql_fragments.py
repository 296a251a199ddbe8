"""SQL fragments (`reports.sql.Sql`): text and parameters travel together and compose."""

import pytest

from analytics.application.reports.sql import Sql


def test_fill_puts_fragments_into_slots_and_joins_their_parameters():
    template = Sql("SELECT * FROM {db}.deals FINAL WHERE {where} AND x < {end:DateTime64(3)}")
    where = Sql("manager_id = {f_manager:String}", {"f_manager": "anna"})
    filled = template.fill(where=where).bind(end="2026-03-01")
    assert filled.text == (
        "SELECT * FROM {db}.deals FINAL WHERE manager_id = {f_manager:String} "
        "AND x < {end:DateTime64(3)}"
    )
    assert filled.params == {"f_manager": "anna", "end": "2026-03-01"}


def test_a_fragments_own_braces_are_not_filled_again():
    inner = Sql("a = {where}")  # a slot name inside a fragment stays as written
    assert Sql("{where}").fill(where=inner).text == "a = {where}"


def test_conditions_and_together_and_no_condition_is_true():
    a = Sql("a = {a:String}", {"a": "1"})
    b = Sql("b = {b:String}", {"b": "2"})
    assert (a & b).text == "a = {a:String} AND b = {b:String}"
    assert (a & b).params == {"a": "1", "b": "2"}
    assert (Sql.all([]).text, (Sql.all([]) & a).text) == ("1", a.text)
    assert Sql.equals("t.channel", "t_channel", "paid") == Sql(
        "t.channel = {t_channel:String}", {"t_channel": "paid"}
    )


def test_one_name_bound_to_two_values_is_refused():
    first = Sql("x = {v:String}", {"v": "1"})
    assert (first & Sql("y = {v:String}", {"v": "1"})).params == {"v": "1"}  # same value: fine
    with pytest.raises(ValueError, match="'v'"):
        first & Sql("y = {v:String}", {"v": "2"})
