"""The rules of `adw web`'s access check, for each kind of bound address."""

from adw_tui.cli.web_access import WebAccess


def test_loopback_answers_to_its_loopback_names_only():
    access = WebAccess.for_address("127.0.0.1", 8000, "t")
    assert access.allowed_hosts == frozenset({"127.0.0.1:8000", "localhost:8000", "[::1]:8000"})


def test_a_named_interface_answers_to_that_name_only():
    access = WebAccess.for_address("10.1.2.3", 8080, "t")
    assert access.allowed_hosts == frozenset({"10.1.2.3:8080"})
    assert access.url("10.1.2.3", 8080) == "http://10.1.2.3:8080/?token=t"


def test_every_interface_leaves_the_host_open_and_the_token_decides():
    access = WebAccess.for_address("0.0.0.0", 8000, "t")
    assert access.allowed_hosts is None
    assert access.url("0.0.0.0", 8000).startswith("http://127.0.0.1:8000/")


def test_an_ipv6_address_is_bracketed():
    access = WebAccess.for_address("::1", 9000, "t")
    assert access.allowed_hosts is not None
    assert "[::1]:9000" in access.allowed_hosts
    assert access.url("::1", 9000) == "http://[::1]:9000/?token=t"
