package io.meshup.spring.autoconfigure;

import io.grpc.BindableService;
import io.grpc.ServerInterceptor;
import io.meshup.core.Mesh;
import io.meshup.spring.MeshAuthorizationFilter;
import io.meshup.spring.MeshGrpcServer;
import java.net.InetSocketAddress;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;

/** The inbound side: the servlet filter and the gRPC server. Imported by {@link MeshAutoConfiguration}. */
final class MeshServerConfigurations {
  private MeshServerConfigurations() {}

  /** Spring MVC (any servlet application): every request authorized before other filters. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
  @ConditionalOnClass(name = "jakarta.servlet.Filter")
  @ConditionalOnProperty(prefix = "meshup.servlet.authorization", name = "enabled", matchIfMissing = true)
  static class Servlet {
    @Bean
    FilterRegistrationBean<MeshAuthorizationFilter> meshupAuthorizationFilter(Mesh mesh) {
      FilterRegistrationBean<MeshAuthorizationFilter> r = new FilterRegistrationBean<>(new MeshAuthorizationFilter(mesh));
      r.setName("meshupAuthorizationFilter");
      r.setOrder(Ordered.HIGHEST_PRECEDENCE + 10);
      r.setDispatcherTypes(jakarta.servlet.DispatcherType.REQUEST);
      r.addUrlPatterns("/*");
      return r;
    }
  }

  /** The gRPC server of the context's BindableService beans. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "io.grpc.BindableService")
  @ConditionalOnBean(BindableService.class)
  @ConditionalOnProperty(prefix = "meshup.grpc.server", name = "enabled", matchIfMissing = true)
  static class Grpc {
    @Bean
    MeshGrpcServer meshupGrpcServer(Mesh mesh, MeshStarterProperties properties,
        ObjectProvider<BindableService> services, ObjectProvider<ServerInterceptor> interceptors) {
      MeshStarterProperties.Server s = properties.getGrpc().getServer();
      InetSocketAddress address = s.getAddress() == null || s.getAddress().isBlank()
          ? new InetSocketAddress(s.getPort()) : new InetSocketAddress(s.getAddress(), s.getPort());
      return new MeshGrpcServer(mesh, address, services.orderedStream().toList(), interceptors.orderedStream().toList(),
          s.getShutdownTimeout());
    }
  }
}
