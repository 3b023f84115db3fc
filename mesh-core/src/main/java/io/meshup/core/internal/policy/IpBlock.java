package io.meshup.core.internal.policy;

import io.meshup.core.internal.config.ConfigNode;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IP address or CIDR block of Istio's {@code ipBlocks}, {@code remoteIpBlocks} and
 * {@code source.ip} / {@code remote.ip} / {@code destination.ip} conditions: {@code 203.0.113.4},
 * {@code 203.0.113.0/24}, {@code 2001:db8::/32}. Immutable and thread-safe; matching allocates
 * nothing.
 */
public final class IpBlock {
  private final byte[] network;
  private final int prefix;
  private final String text;
  /** For an IPv4 block: the network and mask as ints (an IPv4 address's hashCode is its address, so matching it copies nothing). */
  private final int v4Network;
  private final int v4Mask;

  private IpBlock(byte[] network, int prefix, String text) {
    this.network = network;
    this.prefix = prefix;
    this.text = text;
    if (network.length == 4) {
      this.v4Mask = prefix == 0 ? 0 : -1 << (32 - prefix);
      this.v4Network = (((network[0] & 0xff) << 24) | ((network[1] & 0xff) << 16) | ((network[2] & 0xff) << 8)
          | (network[3] & 0xff)) & v4Mask;
    } else {
      this.v4Mask = 0;
      this.v4Network = 0;
    }
  }

  /** Why {@code text} is not an IP address or CIDR block, or null. */
  public static String problem(String text) {
    try {
      of(text);
      return null;
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
  }

  /**
   * Compiles {@code text}.
   *
   * @throws IllegalArgumentException saying what is wrong
   */
  public static IpBlock of(String text) {
    int slash = text.indexOf('/');
    String addr = slash < 0 ? text : text.substring(0, slash);
    byte[] bytes = literal(addr);
    if (bytes == null) {
      throw new IllegalArgumentException("bad IP address " + ConfigNode.quote(addr)
          + " in " + ConfigNode.quote(text) + "; expected an IPv4 or IPv6 address or CIDR block such as 203.0.113.0/24");
    }
    int prefix = bytes.length * 8;
    if (slash >= 0) {
      try {
        prefix = Integer.parseInt(text.substring(slash + 1));
      } catch (NumberFormatException e) {
        prefix = -1;
      }
      if (prefix < 0 || prefix > bytes.length * 8) {
        throw new IllegalArgumentException("bad CIDR range " + ConfigNode.quote(text) + ": the prefix length must be 0.."
            + bytes.length * 8);
      }
    }
    byte[] net = bytes.clone();
    for (int bit = prefix; bit < net.length * 8; bit++) {
      net[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
    }
    return new IpBlock(net, prefix, text);
  }

  /** The address bytes of an IP literal (never a host name: nothing is looked up), or null. */
  private static byte[] literal(String s) {
    if (s.isEmpty()) {
      return null;
    }
    boolean v6 = s.indexOf(':') >= 0;
    if (!v6) {
      String[] parts = s.split("\\.", -1);
      if (parts.length != 4) {
        return null;
      }
      byte[] b = new byte[4];
      for (int i = 0; i < 4; i++) {
        if (parts[i].isEmpty() || parts[i].length() > 3 || !parts[i].chars().allMatch(Character::isDigit)) {
          return null;
        }
        int v = Integer.parseInt(parts[i]);
        if (v > 255) {
          return null;
        }
        b[i] = (byte) v;
      }
      return b;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!(Character.digit(c, 16) >= 0 || c == ':' || c == '.')) {
        return null;
      }
    }
    try {
      // a literal of hex digits, ':' and '.' only: InetAddress parses it without a lookup
      byte[] b = InetAddress.getByName(s).getAddress();
      return b.length == 16 ? b : null;
    } catch (UnknownHostException e) {
      return null;
    }
  }

  /** Whether {@code address} is in this block; null (unknown) is in none. IPv4-mapped IPv6 addresses match IPv4 blocks. */
  public boolean matches(InetAddress address) {
    if (address == null) {
      return false;
    }
    if (address instanceof java.net.Inet4Address) {
      // Inet4Address.hashCode() is the address itself; getAddress() would copy it
      return network.length == 4 && (address.hashCode() & v4Mask) == v4Network;
    }
    byte[] a = address.getAddress();
    int offset = 0;
    if (a.length == 16 && network.length == 4 && isV4Mapped(a)) {
      offset = 12;
    } else if (a.length != network.length) {
      return false;
    }
    int full = prefix / 8;
    for (int i = 0; i < full; i++) {
      if (a[offset + i] != network[i]) {
        return false;
      }
    }
    int rest = prefix % 8;
    if (rest == 0) {
      return true;
    }
    int mask = (0xff << (8 - rest)) & 0xff;
    return (a[offset + full] & mask) == (network[full] & mask);
  }

  private static boolean isV4Mapped(byte[] a) {
    for (int i = 0; i < 10; i++) {
      if (a[i] != 0) {
        return false;
      }
    }
    return a[10] == (byte) 0xff && a[11] == (byte) 0xff;
  }

  @Override
  public String toString() {
    return text;
  }
}
