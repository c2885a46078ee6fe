/* Unit tests for core/clientip: trusted proxies, CIDR ranges, X-Forwarded-For from the right. */
#include "core/clientip.h"
#include "test.h"

#include <string.h>

static const char *ip(const char *peer, const char *xff, const char *trusted)
{
    static char out[64];
    cd_client_ip(peer, xff, xff ? strlen(xff) : 0, trusted, out, sizeof(out));
    return out;
}

static void test_untrusted_peer_is_the_client(void)
{
    /* a client cannot choose its own address by sending the header */
    CD_CHECK_STR(ip("203.0.113.7", "1.2.3.4", ""), "203.0.113.7");
    CD_CHECK_STR(ip("203.0.113.7", "1.2.3.4", "127.0.0.1"), "203.0.113.7");
    CD_CHECK_STR(ip("127.0.0.1", NULL, "127.0.0.1"), "127.0.0.1");
}

static void test_trusted_proxy(void)
{
    CD_CHECK_STR(ip("127.0.0.1", "198.51.100.9", "127.0.0.1"), "198.51.100.9");
    /* a forged entry the client put first is skipped: the rightmost untrusted one counts */
    CD_CHECK_STR(ip("127.0.0.1", "6.6.6.6, 198.51.100.9", "127.0.0.1"), "198.51.100.9");
    /* a chain of trusted proxies (10.0.0.0/8) is walked through */
    CD_CHECK_STR(ip("10.1.2.3", "198.51.100.9, 10.9.9.9", "10.0.0.0/8"), "198.51.100.9");
    /* garbage stops the walk at what is certain */
    CD_CHECK_STR(ip("127.0.0.1", "198.51.100.9, <script>", "127.0.0.1"), "127.0.0.1");
    CD_CHECK_STR(ip("127.0.0.1", "", "127.0.0.1"), "127.0.0.1");
    /* IPv6 and mapped IPv4 */
    CD_CHECK_STR(ip("::1", "2001:db8::5", "::1"), "2001:db8::5");
    CD_CHECK_STR(ip("::ffff:127.0.0.1", "192.0.2.1", "127.0.0.0/8"), "192.0.2.1");
}

static void test_ranges(void)
{
    CD_CHECK(cd_ip_trusted("10.200.0.1", "192.168.0.0/16,10.0.0.0/8"));
    CD_CHECK(!cd_ip_trusted("11.0.0.1", "10.0.0.0/8"));
    CD_CHECK(cd_ip_trusted("172.16.5.4", " 172.16.0.0/12 "));
    CD_CHECK(!cd_ip_trusted("172.32.0.1", "172.16.0.0/12"));
    CD_CHECK(cd_ip_trusted("2001:db8::1", "2001:db8::/32"));
    CD_CHECK(!cd_ip_trusted("2001:db9::1", "2001:db8::/32"));
    CD_CHECK(!cd_ip_trusted("10.0.0.1", "10.0.0.0/33"));
    CD_CHECK(!cd_ip_trusted("10.0.0.1", ""));
    CD_CHECK(!cd_ip_trusted("not an ip", "0.0.0.0/0"));
    CD_CHECK(cd_ip_trusted("1.2.3.4", "0.0.0.0/0"));
}

int main(void)
{
    CD_RUN(test_untrusted_peer_is_the_client);
    CD_RUN(test_trusted_proxy);
    CD_RUN(test_ranges);
    CD_TEST_END();
}
