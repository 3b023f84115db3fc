package io.meshup.core.internal.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Path templates as Envoy's uri_template matches them, and IP blocks. */
class PathAndAddressMatchTest {
  @ParameterizedTest(name = "{0} ~ {1}: {2}")
  @CsvSource({
      "/store/{*}/items, /store/a/items, true",
      "/store/{*}/items, /store//items, false",
      "/store/{*}/items, /store/a/b/items, false",
      "/store/{*}/items, /store/a/items/x, false",
      "/store/{**}, /store/a, true",
      "/store/{**}, /store/a/b/c, true",
      "/store/{**}, /store/, false",
      "/store/{**}, /store, false",
      "/a/{**}/b, /a/x/y/b, true",
      "/a/{**}/b, /a/b, false",
      "/a/{**}/b, /a/x/c, false",
      "/{*}, /x, true",
      "/{*}, /x/y, false",
      "/info*, /info/x, true",
      "*/info, /a/info, true",
      "/data, /data, true",
      "/data, /data/, false"})
  void pathTemplatesMatchAsEnvoysUriTemplate(String template, String path, boolean matches) {
    assertThat(PathTemplate.of(template).matches(path)).isEqualTo(matches);
  }

  @ParameterizedTest(name = "{0} ~ {1}: {2}")
  @CsvSource({
      "127.0.0.1, 127.0.0.1, true",
      "127.0.0.0/8, 127.1.2.3, true",
      "10.0.0.0/8, 127.0.0.1, false",
      "203.0.113.0/24, 203.0.113.255, true",
      "203.0.113.0/24, 203.0.114.0, false",
      "0.0.0.0/0, 8.8.8.8, true",
      "2001:db8::/32, 2001:db8::1, true",
      "2001:db8::/32, 2001:db9::1, false",
      "127.0.0.1, ::ffff:127.0.0.1, true",
      "10.1.2.3/31, 10.1.2.2, true",
      "10.1.2.3/31, 10.1.2.4, false"})
  void ipBlocksMatchAddressesAndCidrs(String block, String address, boolean matches) throws Exception {
    assertThat(IpBlock.of(block).matches(InetAddress.getByName(address))).isEqualTo(matches);
  }
}
