"""The dashboard's sign-in pieces on their own: password hashes, the login limiter, the
CSRF form field, and where a sign-in may send the browser next."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from bridge.admin.auth import _next
from bridge.admin.context import CSRF, csrf_field
from bridge.admin.limiter import LoginLimiter
from bridge.admin.passwords import check_password, hash_password, password_problem


class TestPasswords:
    async def test_a_hash_is_argon2id_and_checks_only_the_right_password(self) -> None:
        """The stored form is argon2id; the right password passes, another fails."""
        stored = hash_password("correct horse battery")
        assert stored.startswith("$argon2id$") and "correct" not in stored
        assert await check_password(stored, "correct horse battery")
        assert not await check_password(stored, "correct horse batterY")

    async def test_no_account_never_matches(self) -> None:
        """A name without an account fails even for the dummy hash's own password."""
        assert not await check_password(None, "no account has this name")

    def test_short_or_padded_passwords_are_refused_with_the_reason(self) -> None:
        """A weak password gets a sentence saying what is wrong."""
        assert "at least 10" in password_problem("short")
        assert "spaces" in password_problem(" padded password ")
        with pytest.raises(ValueError, match="at least 10"):
            hash_password("short")


class TestLoginLimiter:
    def test_five_failures_lock_the_account_for_the_rest_of_the_window(self) -> None:
        """The sixth try waits until the first failure is 15 minutes old."""
        limiter = LoginLimiter(per_account=5, per_address=100, window=900)
        for at in range(5):
            assert limiter.wait("Dewi", f"10.0.0.{at}", at * 60) == 0
            limiter.failed("Dewi", f"10.0.0.{at}", at * 60)
        assert limiter.wait("dewi", "10.0.0.9", 300) == 600  # names match case-blind
        assert LoginLimiter.minutes(600) == 10
        assert limiter.wait("Dewi", "10.0.0.9", 900) == 0  # the first failure left

    def test_one_address_trying_many_names_is_locked(self) -> None:
        """An address guessing across accounts is stopped by the per-address limit."""
        limiter = LoginLimiter(per_account=5, per_address=3, window=900)
        for name in ("a", "b", "c"):
            limiter.failed(name, "203.0.113.7", 0)
        assert limiter.wait("d", "203.0.113.7", 10) > 0
        assert limiter.wait("d", "203.0.113.8", 10) == 0

    def test_a_right_password_clears_the_accounts_count(self) -> None:
        """Signing in resets the account's failures, not the address's."""
        limiter = LoginLimiter(per_account=2, per_address=3, window=900)
        limiter.failed("Dewi", "10.0.0.1", 0)
        limiter.succeeded("Dewi")
        limiter.failed("Dewi", "10.0.0.1", 1)
        assert limiter.wait("Dewi", "10.0.0.2", 2) == 0
        assert LoginLimiter.minutes(1) == 1


class TestForms:
    def test_the_csrf_field_carries_the_sessions_token_escaped(self) -> None:
        """The hidden input holds the token, escaped for an HTML attribute."""
        request = make_mocked_request("GET", "/admin/")
        request[CSRF] = 'a"b<c'
        assert str(csrf_field(request)) == (
            '<input type="hidden" name="csrf" value="a&#34;b&lt;c">')

    @pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/admin/",
                                        "/admin\\..\\x", "/widget.js", ""])
    def test_after_sign_in_the_browser_stays_in_the_dashboard(self, target: str) -> None:
        """A crafted ``next`` cannot send a signed-in browser to another site."""
        assert _next(target) == "/admin/"

    def test_a_dashboard_page_is_a_fine_next(self) -> None:
        assert _next("/admin/transcripts?q=renewal") == "/admin/transcripts?q=renewal"
