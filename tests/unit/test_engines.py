"""Tests of query loading and the DuckDB to Trino translation."""

import pytest
import sqlglot
from sqlglot import exp

from shared.engines import load_query, to_trino


@pytest.fixture(scope="module")
def summary_query():
    return load_query("services.summarizer.sql", "aws_daily_summary.sql")


def test_load_query_reads_sql_file(summary_query):
    assert "FROM aws_line_items" in summary_query


def test_to_trino_output_parses_as_trino(summary_query):
    parsed = sqlglot.parse_one(to_trino(summary_query), read="trino")
    assert isinstance(parsed, exp.Select)


def test_to_trino_keeps_both_placeholders(summary_query):
    parsed = sqlglot.parse_one(to_trino(summary_query), read="trino")
    assert len(list(parsed.find_all(exp.Placeholder))) == 2


def test_to_trino_keeps_placeholders_in_between(summary_query):
    parsed = sqlglot.parse_one(to_trino(summary_query), read="trino")
    between = parsed.find(exp.Between)
    assert isinstance(between.args["low"], exp.Placeholder)
    assert isinstance(between.args["high"], exp.Placeholder)


def test_to_trino_keeps_question_marks(summary_query):
    assert to_trino(summary_query).count("?") == 2


def test_to_trino_keeps_group_by(summary_query):
    parsed = sqlglot.parse_one(to_trino(summary_query), read="trino")
    assert len(parsed.args["group"].expressions) == 14


def test_to_trino_rejects_two_statements():
    with pytest.raises(ValueError, match="expected one statement, found 2"):
        to_trino("SELECT 1; SELECT 2")


def test_to_trino_rejects_syntax_error():
    with pytest.raises(sqlglot.errors.ParseError):
        to_trino("SELECT (")


@pytest.mark.parametrize("sql", ["", "-- only a comment\n"])
def test_to_trino_rejects_no_statement(sql):
    with pytest.raises(ValueError, match="expected one statement"):
        to_trino(sql)
