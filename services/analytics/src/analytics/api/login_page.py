"""The sign-in page and the "dashboard is off" page: self-contained HTML (inline CSS, no
scripts, no external assets), Russian by default, English with `?lang=en`."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse

LANGS = ("ru", "en")
TEXT = {
    "ru": {
        "title": "Вход — CRM аналитика",
        "heading": "Вход в аналитику",
        "username": "Имя пользователя",
        "password": "Пароль",
        "submit": "Войти",
        "other": "English",
        "wrong": "Неверное имя пользователя или пароль.",
        "throttled": "Слишком много неудачных попыток. Повторите через {seconds} с.",
        "off_title": "Дашборд выключен",
        "off": "Не заданы учётные записи: задайте ANALYTICS_DASHBOARD_USERS "
        "(хеш пароля печатает python -m analytics.passwords). API с ключом работает.",
    },
    "en": {
        "title": "Sign in — CRM analytics",
        "heading": "Sign in to analytics",
        "username": "Username",
        "password": "Password",
        "submit": "Sign in",
        "other": "Русский",
        "wrong": "Wrong username or password.",
        "throttled": "Too many failed attempts. Try again in {seconds} s.",
        "off_title": "Dashboard is off",
        "off": "No accounts are configured: set ANALYTICS_DASHBOARD_USERS "
        "(python -m analytics.passwords prints a password hash). The API with a key works.",
    },
}
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
STYLE = """
body{margin:0;min-height:100vh;display:grid;place-items:center;background:#f3f4f6;
font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827}
main{width:min(340px,92vw);background:#fff;border-radius:10px;padding:28px;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:20px;margin:0 0 18px}
label{display:block;margin:12px 0 4px;font-weight:600}
input{box-sizing:border-box;width:100%;padding:9px 10px;border:1px solid #d1d5db;
border-radius:6px;font:inherit}
button{margin-top:18px;width:100%;padding:10px;border:0;border-radius:6px;background:#2563eb;
color:#fff;font:inherit;font-weight:600;cursor:pointer}
.error{background:#fef2f2;color:#991b1b;border:1px solid #fecaca;border-radius:6px;
padding:8px 10px;margin-bottom:6px}
.lang{margin-top:16px;text-align:right;font-size:13px}
code{background:#f3f4f6;padding:1px 4px;border-radius:4px}
"""


def pick_lang(value: str | None) -> str:
    return value if value in LANGS else "ru"


def _page(lang: str, title: str, body: str, status: int, headers: dict[str, str]) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS | headers)


def login_page(
    lang: str,
    next_path: str,
    error: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    t = TEXT[lang]
    other = LANGS[1 - LANGS.index(lang)]
    switch = "/login?" + urlencode({"lang": other, "next": next_path})
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        f"<h1>{escape(t['heading'])}</h1>{alert}"
        '<form method="post" action="/login">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        f'<input type="hidden" name="lang" value="{lang}">'
        f'<label for="username">{escape(t["username"])}</label>'
        '<input id="username" name="username" autocomplete="username" required autofocus>'
        f'<label for="password">{escape(t["password"])}</label>'
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" required>'
        f'<button type="submit">{escape(t["submit"])}</button></form>'
        f'<p class="lang"><a href="{escape(switch)}" lang="{other}">{escape(t["other"])}</a></p>'
    )
    return _page(lang, t["title"], body, status, headers or {})


def disabled_page(lang: str) -> HTMLResponse:
    t = TEXT[lang]
    setting = "ANALYTICS_DASHBOARD_USERS"
    off = escape(t["off"]).replace(setting, f"<code>{setting}</code>")
    body = f"<h1>{escape(t['off_title'])}</h1><p>{off}</p>"
    return _page(lang, t["off_title"], body, 503, {})
