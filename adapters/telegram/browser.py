"""What the info card says about a patron's browser: 'Chrome 126 on iOS 17 (phone)'.

ua-parser (the Browserscope / uap-core rules, kept up to date by its project) reads the
User-Agent; here it is only worded for a librarian: the browser's family without the
'Mobile' its rules add, its major version, the system, and phone or tablet. Versions of
Windows and macOS are left out: browsers freeze them (Windows 11 says 10, every macOS
says 10.15), so they would mislead.
"""

from __future__ import annotations

from functools import lru_cache

from ua_parser import Device, parse

__all__ = ["browser_summary", "load_rules"]

_BROWSERS = {"Chrome Mobile": "Chrome", "Chrome Mobile iOS": "Chrome", "Mobile Safari": "Safari",
             "Firefox Mobile": "Firefox", "Firefox iOS": "Firefox", "Edge Mobile": "Edge",
             "Chrome Mobile WebView": "Android WebView", "Mobile Safari UI/WKWebView": "Safari"}
_SYSTEMS = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS"}
_VERSIONED = {"Android", "iOS", "iPadOS"}  # systems whose reported version is the real one


def load_rules() -> None:
    """Compile ua-parser's rules now. It compiles each rule the first time a User-Agent
    is tried against it, about 0.2 s for all of them: without this the first patron's
    info card paid it, on the event loop, in the middle of serving. A text no rule
    matches is tried against every rule."""
    parse("pustaka: load every rule")


@lru_cache(maxsize=1024)
def browser_summary(user_agent: str) -> str:
    """'Firefox 127 on Android 14 (phone)' from a User-Agent; 'a browser' when unknown."""
    found = parse(user_agent[:512])  # the widget keeps 300; a longer one says nothing more
    agent, system, device = found.user_agent, found.os, found.device
    if device is not None and device.family == "Spider":
        return f"{agent.family if agent else 'unknown'} (a robot, not a person)"
    browser = "a browser"
    if agent is not None and agent.family != "Other":
        browser = _BROWSERS.get(agent.family, agent.family)
        browser += f" {agent.major}" if agent.major else ""
    if system is None or system.family == "Other":
        return browser
    name = _SYSTEMS.get(system.family, system.family)
    if system.family in _VERSIONED and system.major:
        name += f" {system.major}"
    return f"{browser} on {name}{_kind(device)}"


def _kind(device: Device | None) -> str:
    if device is None or device.family in {"Mac", "Other"}:
        return ""
    if device.family == "iPad" or "Tablet" in (device.brand or ""):
        return " (tablet)"
    return " (phone)"
