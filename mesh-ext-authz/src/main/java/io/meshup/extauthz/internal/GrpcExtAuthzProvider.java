package io.meshup.extauthz.internal;

import io.meshup.core.spi.ExternalAuthorizer;
import io.meshup.core.spi.ExternalAuthorizerProvider;
import io.meshup.core.spi.Settings;

/**
 * Serves {@code mesh.security.extensionProviders[].envoyExtAuthzGrpc}: {@code service} (host name
 * or address of the authorizer) and {@code port}, plus the mesh's own {@code timeout},
 * {@code failOpen} and {@code statusOnError}. Stateless; thread-safe.
 */
public final class GrpcExtAuthzProvider implements ExternalAuthorizerProvider {
  @Override
  public String type() {
    return "envoyExtAuthzGrpc";
  }

  @Override
  public ExternalAuthorizer create(Context context) {
    Settings s = context.settings().allowOnly("service", "port", "timeout", "failOpen", "statusOnError");
    String service = s.requiredString("service").trim();
    int port = (int) s.integer("port", 1, 65535, -1);
    if (port < 0) {
      throw s.error("port", "is required: the port the ext_authz server listens on");
    }
    return new GrpcExtAuthz(context.name(), service, port,
        s.duration("timeout", io.meshup.core.internal.config.SecuritySettings.DEFAULT_EXT_AUTHZ_TIMEOUT));
  }
}
