"""The quick read of a landing URL's query gives what `parse_qs(urlsplit(url).query)` gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lead_intake.domain.url_query import first_values
from services.lead_intake.tests.reference import first_values as reference

URLS = [
    "https://shop.example/?utm_source=google&utm_medium=cpc&gclid=g1",
    "https://shop.example/?utm_campaign=spring&utm_campaign=autumn",
    "https://shop.example/?a&b=&=c&d=e=f&&",
    "https://shop.example/p#frag?utm_source=x",
    "https://shop.example/p?utm_source=x#frag&utm_medium=y",
    "https://shop.example/?utm_source=a+b&utm_term=%D0%BA",
    "https://[::1/?utm_source=x",  # urlsplit refuses: nothing read
    "https://[::1]/?utm_source=x",
    "https://sh op.example/?utm_source=x",
    " https://shop.example/?utm_source=x",
    "https://shop.example/?utm_source=x\ty",
    "https://пример.рф/?utm_source=x",
    "//shop.example?utm_source=x",
    "shop.example/?utm_source=x",
    "?utm_source=x",
    "",
]


@pytest.mark.parametrize("url", URLS)
def test_known_urls(url):
    assert first_values(url) == reference(url)


pieces = st.sampled_from(
    ["https://", "http:", "//", "shop.example", "/", "?", "#", "&", "=", ";", "[", "]", "::1"]
    + ["utm_source", "gclid", "x", "%20", "%D0", "+", " ", "\t", "\n", "\x00", "к", "\\", ":"]
)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.lists(pieces, max_size=14).map("".join), st.text(max_size=40)))
def test_any_url_agrees_with_the_library(url):
    assert first_values(url) == reference(url)
