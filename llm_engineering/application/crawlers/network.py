"""Which addresses a crawl may reach: never the user's own network unless they allow it (SSRF).

A link, every redirect hop, every feed item and every git or browser host is resolved and its
addresses checked BEFORE connecting; the HTTP fetcher also checks the peer it actually connected
to (a DNS answer that changes between the check and the connection). Private, loopback,
link-local, CGNAT, multicast, unspecified and cloud-metadata addresses are refused, IPv4 and IPv6
alike (IPv4-mapped, 6to4 and NAT64 forms included), unless `CRAWL_ALLOW_PRIVATE_NETWORKS=true`
or the host / its network is in `CRAWL_ALLOWED_NETWORKS`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llm_engineering.domain.exceptions import ConfigError, CrawlError, ErrorKind

if TYPE_CHECKING:
    from llm_engineering.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple[Any, ...]]]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HOW_TO_ALLOW = (
    "if you mean to crawl your own network, set CRAWL_ALLOW_PRIVATE_NETWORKS=true or add the host "
    "to CRAWL_ALLOWED_NETWORKS"
)


def blocked_reason(address: IPAddress) -> str | None:
    """Why `address` is off limits ("loopback", "private", ...), or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return blocked_reason(embedded)
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local (cloud metadata lives there)"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "not publicly routable"
    return None


@dataclass(frozen=True)
class NetworkPolicy:
    """The crawl's address rules; `check_host` raises BLOCKED_ADDRESS naming the host and address."""

    allow_private: bool = False
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    resolve: Resolver = field(default=socket.getaddrinfo, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, resolve: Resolver | None = None) -> NetworkPolicy:
        return cls.build(settings.CRAWL_ALLOW_PRIVATE_NETWORKS, settings.CRAWL_ALLOWED_NETWORKS, resolve)

    @classmethod
    def build(
        cls, allow_private: bool, allowed: Iterable[str], resolve: Resolver | None = None
    ) -> NetworkPolicy:
        hosts: set[str] = set()
        networks = []
        for entry in allowed:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if any(c in entry for c in "/:@ "):
                    raise ConfigError(
                        f"CRAWL_ALLOWED_NETWORKS entry {entry!r} is neither a host name nor a CIDR: fix it"
                    ) from None
                hosts.add(entry)
        return cls(allow_private, frozenset(hosts), tuple(networks), resolve or socket.getaddrinfo)

    @property
    def active(self) -> bool:
        return not self.allow_private

    def check_host(self, host: str | None, port: int | None = None, *, what: str) -> None:
        """Resolve `host` and refuse it when any of its addresses is blocked. A host that does not
        resolve passes: the connection reports the DNS failure (or a proxy resolves it)."""
        if not self.active or not host:
            return
        name = host.strip("[]").lower().rstrip(".")
        if self._host_allowed(name):
            return
        for address in self._addresses(name, port):
            self.check_address(address, what=what, host=name)

    def check_address(self, address: str | IPAddress, *, what: str, host: str | None = None) -> None:
        if not self.active:
            return
        try:
            ip = ipaddress.ip_address(str(address).split("%", 1)[0]) if isinstance(address, str) else address
        except ValueError:
            return
        if host and self._host_allowed(host):
            return
        if any(ip in network for network in self.allowed_networks if network.version == ip.version):
            return
        reason = blocked_reason(ip)
        if reason is not None:
            shown = f"{host} ({ip})" if host and host != str(ip) else str(ip)
            raise CrawlError(
                ErrorKind.BLOCKED_ADDRESS,
                f"{what}: {shown} is a {reason} address, which crawls may not reach: {_HOW_TO_ALLOW}",
            )

    def _host_allowed(self, host: str) -> bool:
        return host in self.allowed_hosts or any(
            h.startswith(".") and host.endswith(h) for h in self.allowed_hosts
        )

    def _addresses(self, host: str, port: int | None) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        try:
            infos = self.resolve(host, port or 0, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return []
        addresses: list[IPAddress] = []
        for info in infos:
            try:
                addresses.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
            except ValueError:
                continue
        return addresses
