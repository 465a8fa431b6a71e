import hashlib
import hmac

import pytest
from tandem_gateway.domain.identity import IdentityRejected, check_identity, identity_hmac

pytestmark = pytest.mark.unit

SECRET = "site-identity-secret-0123456789"


def test_identity_hmac_is_hex_hmac_sha256_of_the_visitor_id() -> None:
    expected = hmac.new(SECRET.encode(), b"visitor-42", hashlib.sha256).hexdigest()
    assert identity_hmac(SECRET, "visitor-42") == expected


def test_a_matching_hmac_verifies_the_visitor() -> None:
    verdict = check_identity(
        visitor_id="visitor-42",
        claimed_hmac=identity_hmac(SECRET, "visitor-42"),
        identity_secret=SECRET,
        require_identity=True,
    )
    assert verdict.verified


def test_hex_case_does_not_matter() -> None:
    verdict = check_identity(
        visitor_id="v",
        claimed_hmac=identity_hmac(SECRET, "v").upper(),
        identity_secret=SECRET,
        require_identity=False,
    )
    assert verdict.verified


@pytest.mark.parametrize("required", [True, False])
def test_a_mismatching_hmac_is_refused_whether_or_not_identity_is_required(required: bool) -> None:
    with pytest.raises(IdentityRejected) as refused:
        check_identity(
            visitor_id="visitor-42",
            claimed_hmac=identity_hmac(SECRET, "visitor-43"),
            identity_secret=SECRET,
            require_identity=required,
        )
    assert refused.value.code == "invalid_identity"


def test_a_missing_hmac_is_refused_when_identity_is_required() -> None:
    with pytest.raises(IdentityRejected) as refused:
        check_identity(
            visitor_id="visitor-42",
            claimed_hmac=None,
            identity_secret=SECRET,
            require_identity=True,
        )
    assert refused.value.code == "identity_required"


def test_an_anonymous_visitor_is_fine_when_identity_is_optional() -> None:
    verdict = check_identity(
        visitor_id=None, claimed_hmac=None, identity_secret=SECRET, require_identity=False
    )
    assert not verdict.verified


def test_an_hmac_without_an_id_is_refused() -> None:
    with pytest.raises(IdentityRejected):
        check_identity(
            visitor_id=None, claimed_hmac="ab" * 32, identity_secret=SECRET, require_identity=False
        )


def test_a_site_without_a_secret_cannot_verify() -> None:
    verdict = check_identity(
        visitor_id="v", claimed_hmac="ab" * 32, identity_secret=None, require_identity=False
    )
    assert not verdict.verified
    with pytest.raises(IdentityRejected):
        check_identity(
            visitor_id="v", claimed_hmac="ab" * 32, identity_secret=None, require_identity=True
        )
