"""Sign-in for the dashboard: sessions kept in the store, the CSRF check on every POST,
and the login and logout pages.

The session cookie holds a random value (HttpOnly, SameSite=Strict, Secure when the
bridge's public address is https, path ``/admin``); the store keeps only its SHA-256, with
the session's CSRF token and its end. Disabling an account deletes its sessions, so the
next request of a browser signed in with it goes back to the sign-in page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from bridge.admin.context import (
    AUDIT_NAME,
    CSRF,
    CSRF_FIELD,
    PEER,
    STAFF,
    AdminContext,
    audit,
)
from bridge.admin.limiter import LoginLimiter
from bridge.admin.passwords import check_password
from bridge.web_guard import MetricsGuard

__all__ = ["COOKIE", "CTX", "LIMITER", "PREFIX", "SESSION_SECONDS", "auth_middleware",
           "redirect", "routes", "session_key"]

PREFIX = "/admin"
COOKIE = "pustaka_staff"
LOGIN_COOKIE = "pustaka_login"  # the sign-in form's own CSRF token, before any session
SESSION_SECONDS = 12 * 3600
CTX = web.AppKey("admin_ctx", AdminContext)
LIMITER = web.AppKey("admin_limiter", LoginLimiter)
_PUBLIC = ("/login", "/static/")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def redirect(location: str) -> web.Response:
    """303 to ``location``: after a form, the browser fetches the page with GET."""
    return web.Response(status=303, headers={"Location": location})


def session_key(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every page but sign-in needs a live session; every POST needs the session's token."""
    ctx = request.app[CTX]
    request[PEER] = MetricsGuard([], "", ctx.config.server.trusted_proxies).peer(request)
    inner = request.path[len(PREFIX):] or "/"
    if not inner.startswith(_PUBLIC):
        value = request.cookies.get(COOKIE, "")
        session = await ctx.store.session(session_key(value), ctx.now()) if value else None
        if session is None:
            raise web.HTTPSeeOther(f"{PREFIX}/login?next={quote(request.path_qs, safe='')}")
        request[STAFF], request[CSRF] = session.account, session.csrf
        if request.method == "POST":
            await _check_csrf(request, session.csrf)
    response = await handler(request)
    response.headers.setdefault("Cache-Control", "no-store")  # patrons' data: never cached
    return response


async def _check_csrf(request: web.Request, expected: str) -> None:
    sent = request.headers.get("X-CSRF-Token", "")
    if not sent and request.content_type in ("application/x-www-form-urlencoded",
                                              "multipart/form-data"):
        sent = str((await request.post()).get(CSRF_FIELD, ""))
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise web.HTTPForbidden(text="The form's security token is missing or out of date: "
                                     "reload the page and send it again.")


def _secure(ctx: AdminContext) -> bool:
    return str(ctx.config.public_url).startswith("https://")


def _next(target: str) -> str:
    """Only a page of the dashboard itself: never another site after signing in."""
    if target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


async def login_page(request: web.Request, *, error: str = "", status: int = 200,
                     name: str = "", target: str = "") -> web.Response:
    token = secrets.token_urlsafe(24)
    response = aiohttp_jinja2.render_template(
        "login.html", request, {"login_token": token, "error": error, "name": name,
                                "next": _next(target or request.query.get("next", ""))},
        status=status)
    response.set_cookie(LOGIN_COOKIE, token, path=PREFIX, httponly=True, samesite="Strict",
                        secure=_secure(request.app[CTX]))
    return response


async def login(request: web.Request) -> web.StreamResponse:
    ctx, limiter = request.app[CTX], request.app[LIMITER]
    form = await request.post()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    target = str(form.get("next", ""))
    token = request.cookies.get(LOGIN_COOKIE, "")
    if not token or not hmac.compare_digest(token.encode(),
                                            str(form.get(CSRF_FIELD, "")).encode()):
        raise web.HTTPForbidden(text="The sign-in form's security token is missing or out "
                                     "of date: reload the page and sign in again.")
    now, address = ctx.now(), request[PEER]
    request[AUDIT_NAME] = name[:80]
    if wait := limiter.wait(name, address, now):
        await audit(ctx, request, "login refused", "too many failed sign-ins")
        minutes = LoginLimiter.minutes(wait)
        return await login_page(request, status=429, name=name, target=target, error=(
            f"Too many failed sign-ins. Try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}."))
    found = await ctx.store.account_by_name(name) if name else None
    right = await check_password(found[1] if found else None, password)
    if found is None or not right or found[0].disabled:
        limiter.failed(name, address, now)
        await audit(ctx, request, "login failed", "disabled account" if right else "")
        return await login_page(request, status=401, name=name, target=target,
                                error="Wrong name or password.")
    limiter.succeeded(name)
    return await _signed_in(request, ctx, found[0].id, found[0].name, target)


async def _signed_in(request: web.Request, ctx: AdminContext, account_id: int, name: str,
                     target: str) -> web.StreamResponse:
    value, now = secrets.token_urlsafe(32), ctx.now()
    await ctx.store.open_session(session_key(value), account_id, secrets.token_urlsafe(32),
                                 now, now + SESSION_SECONDS)
    request[AUDIT_NAME] = name
    await audit(ctx, request, "login", "")
    response = redirect(_next(target))
    response.set_cookie(COOKIE, value, path=PREFIX, httponly=True, samesite="Strict",
                        secure=_secure(ctx), max_age=SESSION_SECONDS)
    response.del_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CTX]
    await audit(ctx, request, "logout", "")
    await ctx.store.end_session(session_key(request.cookies.get(COOKIE, "")), ctx.now())
    response = redirect(f"{PREFIX}/login")
    response.del_cookie(COOKIE, path=PREFIX)
    return response


async def _login_get(request: web.Request) -> web.Response:
    return await login_page(request)


def routes() -> list[web.RouteDef]:
    return [web.get("/login", _login_get), web.post("/login", login),
            web.post("/logout", logout)]
