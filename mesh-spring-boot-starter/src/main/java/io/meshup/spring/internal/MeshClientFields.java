package io.meshup.spring.internal;

import io.meshup.core.MeshClients;
import org.springframework.beans.BeansException;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.BeanFactoryAware;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.beans.factory.config.ConfigurableBeanFactory;

/**
 * Fills the {@code @MeshClient} fields of every bean before its initialization (before
 * {@code @PostConstruct}), and makes the bean depend on the context's clients so it is destroyed
 * before its channels are shut down. Beans without such fields never ask for the mesh, so the
 * mesh's own dependencies do not wait for it. Thread-safe.
 */
public final class MeshClientFields implements BeanPostProcessor, BeanFactoryAware {
  /** The name of the {@link SpringClients} bean. */
  public static final String CLIENTS_BEAN = "meshupClients";

  private final ObjectProvider<SpringClients> clients;
  private ConfigurableBeanFactory beanFactory;

  public MeshClientFields(ObjectProvider<SpringClients> clients) {
    this.clients = clients;
  }

  @Override
  public void setBeanFactory(BeanFactory beanFactory) {
    this.beanFactory = beanFactory instanceof ConfigurableBeanFactory c ? c : null;
  }

  @Override
  public Object postProcessBeforeInitialization(Object bean, String beanName) throws BeansException {
    if (!MeshClients.declaresMeshClients(bean.getClass())) {
      return bean;
    }
    clients.getObject().inject(bean);
    if (beanFactory != null && beanFactory.containsBean(CLIENTS_BEAN)) {
      beanFactory.registerDependentBean(CLIENTS_BEAN, beanName);
    }
    return bean;
  }
}
