"""client_ip believes only the hops our proxies added; network_key counts IPv6 by /64."""

from __future__ import annotations

from adapters.widget.address import TrustedProxies, client_ip, network_key

PROXIES = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])


class TestClientIp:
    def test_a_peer_that_is_not_our_proxy_is_the_client(self) -> None:
        """Whatever X-Forwarded-For says, an untrusted peer is the client."""
        assert client_ip("198.51.100.1", "6.6.6.6", PROXIES) == "198.51.100.1"

    def test_the_rightmost_hop_that_is_not_ours_is_the_client(self) -> None:
        """Client-written entries on the left never win over the hop our proxy saw."""
        assert client_ip("127.0.0.1", "6.6.6.6, 203.0.113.9, 10.9.9.9", PROXIES) == "203.0.113.9"

    def test_every_hop_trusted_leaves_the_leftmost(self) -> None:
        """A request from inside (every hop ours) is the first hop's."""
        assert client_ip("127.0.0.1", "10.0.0.5, 10.0.0.6", PROXIES) == "10.0.0.5"

    def test_addresses_come_back_normalized_and_garbage_cut(self) -> None:
        """A mapped IPv4 address is the IPv4 address; junk the proxy passed is cut short."""
        assert client_ip("::ffff:127.0.0.1", " ::FFFF:192.0.2.4 ", PROXIES) == "192.0.2.4"
        assert client_ip("127.0.0.1", "x" * 500, PROXIES) == "x" * 64
        assert client_ip(None, None, PROXIES) == ""

    def test_no_proxies_means_no_header_is_believed(self) -> None:
        """With server.trusted_proxies empty, loopback is no exception."""
        assert client_ip("127.0.0.1", "6.6.6.6", TrustedProxies()) == "127.0.0.1"


class TestNetworkKey:
    def test_ipv4_counts_by_address_and_ipv6_by_64(self) -> None:
        """Two addresses of one IPv6 /64 share a key; IPv4 addresses do not."""
        assert network_key("192.0.2.4") == "192.0.2.4" != network_key("192.0.2.5")
        assert network_key("2001:db8:1:2::1") == network_key("2001:db8:1:2:ffff::9")
        assert network_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
        assert network_key("2001:db8:1:3::1") != network_key("2001:db8:1:2::1")
