"""Staff access at the HTTP edge (docs/operations.md):
`viewer` for reports and drill-down, `operator`
for imports, SQL and rebuild, the browser sign-in (`/login`, `/logout`), `GET /v1/me`, and
`browser_viewer` for the dashboard's HTML routes.

A machine sends `X-API-Key`: the viewer key (`ANALYTICS_VIEWER_API_KEY`) reads, the operator
key (`ANALYTICS_API_KEY`) does everything. A person signs in with an account of
`ANALYTICS_DASHBOARD_USERS` and gets the signed cookie `crm_session`; the account's role
(`viewer` or `operator`) is read from the settings on every request, so removing or demoting
an account takes effect at once. When a request carries a key, the key decides.

`Auth` holds what the checks need (settings, the session secret, the sign-in throttle); its
`viewer`, `operator` and `browser_viewer` are the dependencies the routers are given."""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import RedirectResponse, Response

from analytics.api.login_page import TEXT, disabled_page, login_page, pick_lang
from analytics.domain.auth import sessions
from analytics.domain.auth.passwords import hash_password, verify_password
from analytics.domain.auth.sessions import Role, SessionRefused
from analytics.domain.auth.throttle import LoginThrottle
from analytics.settings import AnalyticsSettings
from crm_contracts.runtime.errors import Refused, Unavailable
from crm_contracts.runtime.http_errors import response

log = logging.getLogger(__name__)
COOKIE = "crm_session"
USERS_ENV = "ANALYTICS_DASHBOARD_USERS"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_LOGIN_BODY = 8192
KeyHeader = Annotated[str | None, Header()]


@dataclass(frozen=True)
class Principal:
    user: str | None  # the account; None for an API key
    role: Role
    via: Literal["session", "key"]


class SignInRequired(Exception):
    """Raised by `browser_viewer`; the app answers 303 to `/login?next=<path+query>`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class DashboardDisabled(Unavailable):
    """No dashboard accounts are configured: 503 naming the setting (an HTML page for a
    browser)."""

    error = "dashboard_disabled"

    def __init__(self) -> None:
        super().__init__(
            "no dashboard accounts configured; the API with X-API-Key works", USERS_ENV
        )


def dashboard_enabled(settings: AnalyticsSettings) -> bool:
    return bool(settings.dashboard_users)


def _refused(field: str, reason: str, status: int = 401) -> Refused:
    error = "unauthorized" if status == 401 else "forbidden"
    return Refused(reason, field, status=status, error=error)


def _key_is(given: str, expected: str) -> bool:
    """Constant-time; an empty configured key matches nothing (not even an empty header)."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def _refuse_cross_site(request: Request) -> None:
    """A cookie rides along on requests other sites make the browser send; SameSite=Lax stops
    cross-site POSTs, this also stops sibling sites (another port of the same host)."""
    if request.method in SAFE_METHODS:
        return
    site, origin = request.headers.get("sec-fetch-site"), request.headers.get("origin")
    if site is not None:
        same = site in ("same-origin", "none")
    elif origin is not None:
        same = urlsplit(origin).netloc == request.headers.get("host")
    else:
        same = True  # not a browser: no ambient cookie to abuse
    if not same:
        raise _refused("Origin", "a signed-in change must come from this site", 403)


class Auth:
    """Staff access of one app: who a request is, from its key or its session cookie."""

    def __init__(self, settings: AnalyticsSettings) -> None:
        self.settings = settings
        # Empty: a random one per process, so sessions end on restart (logged at start).
        self.secret = settings.session_secret.encode() or secrets.token_bytes(32)
        self.throttle = LoginThrottle()

    def session(self, request: Request) -> Principal | None:
        """The signed-in account of the request's cookie; None without a cookie,
        SessionRefused for a bad or expired one, or one whose account is gone."""
        token = request.cookies.get(COOKIE)
        if token is None:
            return None
        session = sessions.read(self.secret, token)
        account = self.settings.dashboard_users.get(session.user)
        if account is None:
            raise SessionRefused(sessions.INVALID)
        return Principal(session.user, account.role, "session")

    def _signed_in(self, request: Request) -> Principal:
        try:
            principal = self.session(request)
        except SessionRefused as exc:
            raise _refused(COOKIE, exc.reason) from None
        if principal is None:
            raise _refused("X-API-Key", "header missing: send an API key or sign in at /login")
        return principal

    def viewer(self, request: Request, x_api_key: KeyHeader = None) -> Principal:
        """Reads reports: the viewer or operator key, or a session of any role. Missing, wrong
        or expired credentials are all a 401."""
        if x_api_key is None:
            return self._signed_in(request)
        if _key_is(x_api_key, self.settings.api_key):
            return Principal(None, "operator", "key")
        if _key_is(x_api_key, self.settings.viewer_api_key):
            return Principal(None, "viewer", "key")
        raise _refused("X-API-Key", "wrong key")

    def operator(self, request: Request, x_api_key: KeyHeader = None) -> Principal:
        """Changes things: the operator key (missing 401, wrong 403, as every service's command
        API answers), or a session of an `operator` account from the same site."""
        if x_api_key is None and COOKIE in request.cookies:
            principal = self._signed_in(request)
            if principal.role != "operator":
                raise _refused(COOKIE, "the operator role is needed", 403)
            _refuse_cross_site(request)
            return principal
        if x_api_key is None:
            raise _refused("X-API-Key", "header missing")
        if not _key_is(x_api_key, self.settings.api_key):
            raise _refused("X-API-Key", "wrong key", 403)
        return Principal(None, "operator", "key")

    def browser_viewer(self, request: Request) -> Principal:
        """For the dashboard's HTML routes, as `Depends(auth.browser_viewer)`: the signed-in
        account, else `SignInRequired`, which the app turns into `303 /login?next=<this path
        and query>` (a bad or expired cookie too), or `DashboardDisabled` → 503 when no
        accounts are configured. API keys are not accepted here: a browser never sends one."""
        if not dashboard_enabled(self.settings):
            raise DashboardDisabled
        try:
            principal = self.session(request)
        except SessionRefused:
            principal = None
        if principal is None:
            query = request.url.query
            raise SignInRequired(request.url.path + (f"?{query}" if query else ""))
        return principal


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site, else `/`. Refuses `//host`,
    `/\\host` and control characters, which browsers turn into another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return "/"
    return value


def log_dashboard_config(settings: AnalyticsSettings) -> None:
    """At start: a production config without accounts has no dashboard, and says so."""
    if not dashboard_enabled(settings):
        log.error(
            "dashboard disabled: %s is empty, /login and the dashboard answer 503 "
            "(the API with X-API-Key works); add accounts with `python -m analytics.passwords`",
            USERS_ENV,
        )
    elif not settings.session_secret:
        log.warning(
            "ANALYTICS_SESSION_SECRET is empty: a random one is used, so sessions end on "
            "restart and replicas do not share them"
        )


@functools.cache
def _decoy_hash() -> str:
    """Checked for unknown usernames so that they take as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _disabled(request: Request, lang: str) -> Response:
    if _wants_html(request):
        return disabled_page(lang)
    return response(DashboardDisabled())


async def _form(request: Request) -> dict[str, str]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_LOGIN_BODY:
        return {}
    body = (await request.body())[:MAX_LOGIN_BODY].decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def build_auth_router(auth: Auth) -> APIRouter:
    """`/login`, `/logout` and `/v1/me`."""
    router = APIRouter()
    settings = auth.settings

    @router.get("/login", include_in_schema=False, response_model=None)
    async def get_login(
        request: Request, next: str | None = None, lang: str | None = None
    ) -> Response:
        language, target = pick_lang(lang), safe_next(next)
        if not dashboard_enabled(settings):
            return _disabled(request, language)
        try:
            if auth.session(request) is not None:
                return RedirectResponse(target, 303)
        except SessionRefused:
            pass
        return login_page(language, target)

    @router.post("/login", include_in_schema=False)
    async def post_login(request: Request) -> Response:
        """Form fields `username`, `password`, `next` (and `lang`)."""
        form = await _form(request)
        lang = pick_lang(form.get("lang") or request.query_params.get("lang"))
        target = safe_next(form.get("next"))
        if not dashboard_enabled(settings):
            return _disabled(request, lang)
        username, password = form.get("username", ""), form.get("password", "")
        address = request.client.host if request.client else ""
        wait = auth.throttle.retry_after(username, address, time.monotonic())
        if wait:
            error = TEXT[lang]["throttled"].format(seconds=wait)
            return login_page(lang, target, error, 429, {"Retry-After": str(wait)})
        account = settings.dashboard_users.get(username)
        stored = account.password if account else _decoy_hash()
        if not (await asyncio.to_thread(verify_password, password, stored) and account):
            auth.throttle.failed(username, address, time.monotonic())
            log.info("sign-in refused", extra={"user": username[:100], "address": address})
            return login_page(lang, target, TEXT[lang]["wrong"], 401)
        auth.throttle.succeeded(username, address)
        ttl = settings.session_ttl_seconds
        token = sessions.issue(auth.secret, username, account.role, ttl)
        redirect = RedirectResponse(target, 303)
        redirect.set_cookie(
            COOKIE,
            token,
            max_age=ttl,
            path="/",
            secure=settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )
        return redirect

    @router.post("/logout", include_in_schema=False)
    async def post_logout() -> Response:
        redirect = RedirectResponse("/login", 303)
        redirect.delete_cookie(
            COOKIE, path="/", secure=settings.cookie_secure, httponly=True, samesite="lax"
        )
        return redirect

    @router.get("/v1/me", tags=["auth"])
    async def get_me(principal: Principal = Depends(auth.viewer)) -> dict[str, Any]:
        """Who the request is: `{"user", "role", "via": "session"|"key"}` (user is null for a
        key)."""
        return asdict(principal)

    return router


def install_sign_in(app: FastAPI) -> None:
    """The answers to `SignInRequired` (303 to the sign-in page) and `DashboardDisabled` (an
    HTML page for a browser; otherwise the shared handler's JSON)."""

    async def on_sign_in_required(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        return RedirectResponse("/login?next=" + quote(exc.next_path, safe=""), 303)

    async def on_dashboard_disabled(request: Request, exc: Exception) -> Response:
        return _disabled(request, pick_lang(request.query_params.get("lang")))

    app.add_exception_handler(SignInRequired, on_sign_in_required)
    app.add_exception_handler(DashboardDisabled, on_dashboard_disabled)
