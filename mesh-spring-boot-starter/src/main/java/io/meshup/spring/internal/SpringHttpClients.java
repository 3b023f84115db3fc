package io.meshup.spring.internal;

import io.meshup.core.Mesh;
import io.meshup.core.spi.ClientProvider;
import io.meshup.http.MeshHttpClient;
import io.meshup.spring.MeshClientHttpConnector;
import io.meshup.spring.MeshClientHttpRequestFactory;
import java.util.function.Supplier;
import org.springframework.util.ClassUtils;

/**
 * Makes the Spring HTTP clients {@code @MeshClient} fields and parameters may ask for, all sending
 * through the context's one {@link MeshHttpClient}: {@code MeshHttpClient} itself, a
 * {@code RestClient} (from the context's {@code RestClient.Builder}, so its converters and
 * observations apply) and a {@code WebClient} (likewise), each with base URL
 * {@code http://<service>}. The Spring types are asked for only when their jars are present.
 */
public final class SpringHttpClients implements ClientProvider {
  private static final boolean REST_CLIENT = ClassUtils.isPresent("org.springframework.web.client.RestClient", null);
  private static final boolean WEB_CLIENT =
      ClassUtils.isPresent("org.springframework.web.reactive.function.client.WebClient", null);

  private final MeshHttpClient http;
  private final Supplier<Object> restClientBuilder;
  private final Supplier<Object> webClientBuilder;

  /**
   * @param restClientBuilder a fresh {@code RestClient.Builder} (the context's prototype), or null
   * @param webClientBuilder a fresh {@code WebClient.Builder}, or null
   */
  public SpringHttpClients(MeshHttpClient http, Supplier<Object> restClientBuilder, Supplier<Object> webClientBuilder) {
    this.http = http;
    this.restClientBuilder = restClientBuilder;
    this.webClientBuilder = webClientBuilder;
  }

  @Override
  public boolean supports(Class<?> type) {
    return type == MeshHttpClient.class
        || REST_CLIENT && type == org.springframework.web.client.RestClient.class
        || WEB_CLIENT && type == org.springframework.web.reactive.function.client.WebClient.class;
  }

  @Override
  public Object create(Mesh mesh, String service, Class<?> type) {
    if (type == MeshHttpClient.class) {
      return http;
    }
    if (REST_CLIENT && type == org.springframework.web.client.RestClient.class) {
      Object b = restClientBuilder == null ? null : restClientBuilder.get();
      org.springframework.web.client.RestClient.Builder builder = b instanceof org.springframework.web.client.RestClient.Builder r
          ? r : org.springframework.web.client.RestClient.builder();
      return builder.baseUrl("http://" + service).requestFactory(new MeshClientHttpRequestFactory(http)).build();
    }
    Object b = webClientBuilder == null ? null : webClientBuilder.get();
    org.springframework.web.reactive.function.client.WebClient.Builder builder =
        b instanceof org.springframework.web.reactive.function.client.WebClient.Builder w
            ? w : org.springframework.web.reactive.function.client.WebClient.builder();
    return builder.baseUrl("http://" + service).clientConnector(new MeshClientHttpConnector(http)).build();
  }

  @Override
  public String supportedTypes() {
    return "io.meshup.http.MeshHttpClient" + (REST_CLIENT ? ", org.springframework.web.client.RestClient" : "")
        + (WEB_CLIENT ? ", org.springframework.web.reactive.function.client.WebClient" : "");
  }
}
