"""GitHub's webhook signature (`X-Hub-Signature-256`)."""

from adw_tui.triggers.signature import sign, signature_matches

SECRET = b"It's a Secret to Everybody"
PAYLOAD = b"Hello, World!"
# GitHub's documented test vector ("Validating webhook deliveries").
EXPECTED = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_test_vector() -> None:
    assert sign(SECRET, PAYLOAD) == EXPECTED
    assert signature_matches(SECRET, PAYLOAD, EXPECTED)


def test_anything_else_does_not_match() -> None:
    assert not signature_matches(SECRET, PAYLOAD, None)
    assert not signature_matches(SECRET, PAYLOAD, "")
    assert not signature_matches(SECRET, PAYLOAD, EXPECTED.removeprefix("sha256="))
    assert not signature_matches(SECRET, PAYLOAD, EXPECTED.upper())
    assert not signature_matches(SECRET, PAYLOAD + b" ", EXPECTED)
    assert not signature_matches(b"another secret", PAYLOAD, EXPECTED)
    assert not signature_matches(SECRET, PAYLOAD, "sha256=\udcff\x00é")
