"""What may go on an admin allowlist, and whose address the portal believes."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from kluis.sites.addresses import canonical, parse_network, visitor_address


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("0.0.0.0/0", "too_wide"),
        ("::/0", "too_wide"),
        ("10.0.0.0/8", "too_wide"),
        ("145.100.0.0/16", "too_wide"),
        ("2a00:1450::/32", "too_wide"),
        ("256.1.1.1", "invalid"),
        ("1.2.3.4/33", "invalid"),
        ("fe80::1%eth0", "zone"),
        ("2a00:1450::1%25eth0", "zone"),
        ("'; DROP TABLE sites; --", "invalid"),
        ("145.100.10.7/24", "host_bits"),
        ("10.1.2.3", "not_global"),
        ("192.168.1.0/24", "not_global"),
        ("127.0.0.1", "not_global"),
        ("::1", "not_global"),
        ("fe80::1", "not_global"),
        ("224.0.0.1", "not_global"),
        ("::ffff:145.100.10.7", "mapped"),
        ("   ", "empty"),
        ("1" * 200, "invalid"),
    ],
)
def test_bad_input_is_refused_with_its_reason(text, code):
    with pytest.raises(ValidationError) as caught:
        parse_network(text)
    assert caught.value.code == code
    assert str(caught.value.messages[0]).strip()


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("145.100.10.7", "145.100.10.7"),
        (" 145.100.10.7/32 ", "145.100.10.7"),
        ("145.100.10.0/24", "145.100.10.0/24"),
        ("2a00:1450:4000::/48", "2a00:1450:4000::/48"),
        ("2A00:1450:4000:0::1", "2a00:1450:4000::1"),
    ],
)
def test_good_addresses_are_kept_in_one_written_form(text, kept):
    assert canonical(parse_network(text)) == kept


def test_the_messages_exist_in_english_too():
    from django.utils import translation

    with translation.override("en"):
        with pytest.raises(ValidationError) as caught:
            parse_network("10.0.0.0/8")
        assert caught.value.messages[0] == (
            "This range is too wide: a range may be at most /24 for IPv4."
        )


# --- the visitor's own address ----------------------------------------------------------


def _request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_a_trusted_proxy_the_address_is_remote_addr_and_a_header_is_ignored():
    request = _request("145.100.10.7", forwarded="8.8.8.8")
    assert str(visitor_address(request)) == "145.100.10.7"


def test_behind_a_trusted_proxy_the_nearest_untrusted_hop_counts(settings):
    settings.KLUIS_TRUSTED_PROXIES = ["10.0.0.0/24"]
    # The client wrote "8.8.8.8" itself; the proxy appended the address it saw.
    request = _request("10.0.0.2", forwarded="8.8.8.8, 145.100.10.7")
    assert str(visitor_address(request)) == "145.100.10.7"


def test_a_chain_of_trusted_proxies_is_walked_back(settings):
    settings.KLUIS_TRUSTED_PROXIES = ["10.0.0.0/24"]
    request = _request("10.0.0.2", forwarded="145.100.10.7, 10.0.0.5")
    assert str(visitor_address(request)) == "145.100.10.7"


def test_a_header_from_an_untrusted_peer_is_ignored_even_when_a_proxy_is_configured(settings):
    settings.KLUIS_TRUSTED_PROXIES = ["10.0.0.0/24"]
    request = _request("145.100.10.7", forwarded="8.8.8.8")
    assert str(visitor_address(request)) == "145.100.10.7"


def test_garbage_behind_a_trusted_proxy_gives_no_address(settings):
    settings.KLUIS_TRUSTED_PROXIES = ["10.0.0.0/24"]
    assert visitor_address(_request("10.0.0.2", forwarded="unknown")) is None


def test_an_ipv4_mapped_remote_addr_reads_as_ipv4():
    assert str(visitor_address(_request("::ffff:145.100.10.7"))) == "145.100.10.7"
