"""Where TradeOps may send on its own: the outbound policy for the URLs a Team lead configures
(release webhooks, alert channels).

A configured URL must not turn TradeOps into a way into its own network (SSRF): loopback,
link-local, private, shared, unspecified, multicast and reserved addresses are refused, in
every spelling (IPv6, IPv4 mapped or embedded in IPv6, decimal or octal IPv4: all are checked
as the address they resolve to), unless OUTBOUND_ALLOWED_NETWORKS names them (an on-premise
chat server, a test's local receiver).

Checking a name before sending is not enough: the name may resolve elsewhere a moment later
(DNS rebinding), and a receiver may redirect. So a send runs inside `guard()`, which checks the
address of every socket the send opens at the moment it connects (a Python audit hook on
socket.connect and socket.sendto): what is checked is what is connected to, redirects included,
whichever library sends (urllib, requests under Apprise, smtplib). Inside the guard, local
side effects are refused too: Unix sockets, the local syslog, starting a process. The hook
does nothing outside a guard.

`refusal(url)` is the same rule at save time, for a form error naming the field.
"""

import contextlib
import contextvars
import ipaddress
import socket
import sys
from urllib.parse import urlsplit

import apprise
from django.conf import settings


class OutboundRefused(ConnectionRefusedError):
    """A connection the outbound policy refuses. An OSError, so every client library treats it
    as a connection that failed and moves on cleanly."""


# Audit events of local side effects no configured URL may cause (a syslog:// channel, a
# desktop notifier started as a process).
_LOCAL_EVENTS = ("syslog.", "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn")
# Apprise's plugins that deliver on this machine: refused when a channel is saved (the guard
# refuses what they do when sending, too).
LOCAL_SCHEMES = {
    "syslog",
    "dbus",
    "kde",
    "qt",
    "glib",
    "gio",
    "gnome",
    "macosx",
    "windows",
    "blink1",
}
_SOCKET_EVENTS = {"socket.connect", "socket.sendto", "socket.sendmsg"}
_IP_FAMILIES = (socket.AF_INET, socket.AF_INET6)

# The refusals of the current send (a list shared with the threads it starts: Apprise copies
# the context into its worker threads); None outside a guard.
_refusals = contextvars.ContextVar("outbound_refusals", default=None)


def allowed_networks():
    return [ipaddress.ip_network(net, strict=False) for net in settings.OUTBOUND_ALLOWED_NETWORKS]


def _embedded_ipv4(ip):
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64, compatible)."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped or ip.sixtofour:
        return ip.ipv4_mapped or ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in ipaddress.ip_network("64:ff9b::/96") or ip in ipaddress.ip_network("::/96"):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _kind(ip):
    """What makes `ip` an inside address ('' for a public one)."""
    for label, inside in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-public", not ip.is_global),
    ):
        if inside:
            return label
    embedded = _embedded_ipv4(ip)
    return _kind(embedded) if embedded is not None else ""


def address_refusal(address):
    """Why the policy refuses to connect to the IP address `address` ('' if it may)."""
    ip = ipaddress.ip_address(str(address).split("%", 1)[0])  # an IPv6 scope is no address
    if any(ip in net for net in allowed_networks() if net.version == ip.version):
        return ""
    kind = _kind(ip.ipv4_mapped or ip if ip.version == 6 else ip)
    if not kind:
        return ""
    return f"{ip} is {'an' if kind[0] in 'aeiou' else 'a'} {kind} address"


def resolve(host, port=None):
    """The addresses `host` resolves to (an IP literal in any spelling, or a name)."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return sorted({info[4][0] for info in infos})


def host_refusal(host, port=None):
    """Why connecting to `host` is refused: the first of its addresses the policy refuses ('' if
    none, or if the name does not resolve: then nothing can connect to it either)."""
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        return ""
    return next((reason for reason in map(address_refusal, addresses) if reason), "")


def refusal(url):
    """Why the policy refuses the host of `url` ('' if it does not), checked when it is saved."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "not a valid URL"
    return host_refusal(host, port) if host else ""


def apprise_refusal(url):
    """Why an alert channel's Apprise URL is refused at save time ('' if it is not): a scheme
    that delivers on this machine (nobody reads a local syslog or desktop), or a URL whose host
    (for the services that take one: json://host/..., not slack://token/...) is inside."""
    scheme = url.partition("://")[0].lower()
    if scheme in LOCAL_SCHEMES:
        return f"{scheme}:// delivers on the TradeOps machine itself, not to a person"
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        return refusal(url)  # Apprise cannot send to it; an inside host is still said first
    if not any("{host}" in template for template in plugin.templates):
        return ""  # the service's own host (the URL holds tokens): checked when sending
    return host_refusal(plugin.host.strip("[]"), getattr(plugin, "port", None))


@contextlib.contextmanager
def guard():
    """Run a send under the policy; yields the list of what it refused (empty: nothing)."""
    refused = []
    token = _refusals.set(refused)
    try:
        yield refused
    finally:
        _refusals.reset(token)


def _refuse(refused, reason):
    refused.append(reason)
    raise OutboundRefused(f"refused: {reason}")


def _audit(event, args):
    refused = _refusals.get()
    if refused is None:
        return
    if event in _SOCKET_EVENTS:
        sock, address = args[0], args[-1]
        if address is None:  # a message on a socket already connected (and checked)
            return
        if sock.family not in _IP_FAMILIES:
            _refuse(refused, "a local socket")
        host, port = address[0], address[1]
        try:
            reason = address_refusal(host)
        except ValueError:
            # Connecting by name (the library resolves it itself): every address the name has
            # now must be allowed.
            reason = host_refusal(host, port)
        if reason:
            _refuse(refused, reason)
    elif event.startswith(_LOCAL_EVENTS):
        _refuse(refused, f"a local {event.split('.')[0]} call")


sys.addaudithook(_audit)
