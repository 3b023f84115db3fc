package io.meshup.spring.internal;

import io.meshup.core.MeshClient;
import java.lang.reflect.Constructor;
import java.util.function.Supplier;
import org.springframework.beans.factory.config.BeanDefinitionHolder;
import org.springframework.beans.factory.config.DependencyDescriptor;
import org.springframework.beans.factory.support.AutowireCandidateResolver;
import org.springframework.core.MethodParameter;

/**
 * Gives Spring a client for every dependency annotated {@link MeshClient}: constructor parameters
 * (a bean's only constructor, or its {@code @Autowired} one), {@code @Bean} method and
 * {@code @Autowired} method parameters, {@code @Autowired} fields. Everything else goes to the
 * resolver it wraps. Installed on the bean factory by the starter; thread-safe.
 */
public final class MeshClientResolver implements AutowireCandidateResolver {
  private final AutowireCandidateResolver delegate;
  private final Supplier<SpringClients> clients;

  public MeshClientResolver(AutowireCandidateResolver delegate, Supplier<SpringClients> clients) {
    this.delegate = delegate;
    this.clients = clients;
  }

  @Override
  public Object getSuggestedValue(DependencyDescriptor descriptor) {
    MeshClient a = descriptor.getAnnotation(MeshClient.class);
    if (a != null) {
      return clients.get().client(where(descriptor), a.value(), descriptor.getDependencyType());
    }
    return delegate.getSuggestedValue(descriptor);
  }

  /** The injection point as errors name it: {@code com.acme.Checkout constructor parameter 0 (payments)}. */
  private static String where(DependencyDescriptor d) {
    if (d.getField() != null) {
      return d.getField().getDeclaringClass().getName() + "." + d.getField().getName();
    }
    MethodParameter p = d.getMethodParameter();
    String name = p.getParameterName();
    String owner = p.getExecutable() instanceof Constructor<?> ? p.getDeclaringClass().getName() + " constructor"
        : p.getDeclaringClass().getName() + "." + p.getExecutable().getName();
    return owner + " parameter " + p.getParameterIndex() + (name == null ? "" : " (" + name + ")")
        + " of type " + p.getParameterType().getName();
  }

  @Override
  public boolean isAutowireCandidate(BeanDefinitionHolder bdHolder, DependencyDescriptor descriptor) {
    return delegate.isAutowireCandidate(bdHolder, descriptor);
  }

  @Override
  public boolean isRequired(DependencyDescriptor descriptor) {
    return delegate.isRequired(descriptor);
  }

  @Override
  public boolean hasQualifier(DependencyDescriptor descriptor) {
    return delegate.hasQualifier(descriptor);
  }

  @Override
  public Object getLazyResolutionProxyIfNecessary(DependencyDescriptor descriptor, String beanName) {
    return delegate.getLazyResolutionProxyIfNecessary(descriptor, beanName);
  }

  @Override
  public Class<?> getLazyResolutionProxyClass(DependencyDescriptor descriptor, String beanName) {
    return delegate.getLazyResolutionProxyClass(descriptor, beanName);
  }

  @Override
  public AutowireCandidateResolver cloneIfNecessary() {
    return new MeshClientResolver(delegate.cloneIfNecessary(), clients);
  }
}
