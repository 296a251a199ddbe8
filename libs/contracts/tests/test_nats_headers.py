"""The faster header parse gives what nats-py's own gives, for any header block."""

from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client

from crm_contracts.runtime.nats_headers import ORIGINAL, install, parse_header_lines

NAME = st.text(st.characters(codec="ascii"), max_size=12) | st.sampled_from(
    ["Nats-Msg-Id", "Crm-Event-Type", " Spaced ", "Tab\tIn", "Ctl\x1cX", "Non-ASCII-é"]
)
LINE = st.builds(
    lambda name, sep, value: name.encode("utf-8", "replace") + sep + value,
    NAME,
    st.sampled_from([b":", b": ", b":\t", b""]),
    st.binary(max_size=20).filter(lambda v: b"\r\n" not in v),
)


@given(st.lists(LINE, max_size=6), st.booleans())
def test_the_parse_equals_the_librarys(lines, trailing):
    raw = b"\r\n".join(lines) + (b"\r\n\r\n" if trailing else b"")
    assert parse_header_lines(raw) == ORIGINAL(raw)


def test_a_typical_event_block_and_the_installed_parse():
    raw = b"Nats-Msg-Id: 1b4e\r\nCrm-Event-Type: deal.won\r\nBad Name: x\r\n\r\n"
    install()
    assert Client._parse_header_lines(raw) == {"Nats-Msg-Id": "1b4e", "Crm-Event-Type": "deal.won"}
