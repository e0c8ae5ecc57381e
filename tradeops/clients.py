"""Who sent a request: the client's address, as the bad-token throttle and the admin login lock
count it.

`X-Forwarded-For` is read only when the request came from a proxy named in `TRUSTED_PROXIES`:
anyone else could write any address there. The client is then the right-most address in it that
is not itself a trusted proxy, since each proxy appends the address it heard from and only the
part the trusted proxies wrote can be believed (the left part is what the client claimed).

django-ipware was considered: it reads the forwarding headers whoever connected, and its trusted
list names proxies inside the header, not the peer that connected, which is the check that
matters here.
"""

import functools
import ipaddress

from django.conf import settings


@functools.cache
def _trusted(networks):
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


def _is_trusted_proxy(address):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _trusted(tuple(settings.TRUSTED_PROXIES)))


def client_address(request):
    """The address the request came from: the peer, or behind trusted proxies, the client they
    forwarded for."""
    peer = request.META.get("REMOTE_ADDR", "")
    if not _is_trusted_proxy(peer):
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([part.strip() for part in forwarded.split(",")]):
        if not _is_trusted_proxy(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:  # a garbled hop: trust nothing left of it
                return peer
    return peer
