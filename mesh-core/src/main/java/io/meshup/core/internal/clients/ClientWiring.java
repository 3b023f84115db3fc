package io.meshup.core.internal.clients;

import io.meshup.core.Mesh;
import io.meshup.core.MeshClient;
import io.meshup.core.spi.ClientProvider;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Modifier;
import java.lang.reflect.Parameter;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * One {@code MeshClients.inject} or {@code create} call: checks every annotated field or parameter
 * first, then makes the clients with the providers it loaded for this call, so a misuse is reported
 * before anything is made. Not thread-safe; used once, on the calling thread.
 */
public final class ClientWiring {
  private final Mesh mesh;
  private final Supplier<? extends Iterable<ClientProvider>> loader;
  private List<ClientProvider> providers;

  /**
   * @param loader yields the providers for this call; called at most once, and only when there is
   *     something to fill
   */
  public ClientWiring(Mesh mesh, Supplier<? extends Iterable<ClientProvider>> loader) {
    this.mesh = Objects.requireNonNull(mesh, "mesh");
    this.loader = loader;
  }

  /** A field or parameter to fill, checked, with the provider that will make its client. */
  private record Slot(String where, String service, Class<?> type, ClientProvider provider) {}

  /** Fills the {@link MeshClient} fields of {@code target}'s class and superclasses. */
  public <T> T inject(T target) {
    Objects.requireNonNull(target, "target");
    List<Class<?>> hierarchy = new ArrayList<>();
    for (Class<?> c = target.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
      hierarchy.add(0, c);
    }
    List<Field> fields = new ArrayList<>();
    List<Slot> slots = new ArrayList<>();
    for (Class<?> c : hierarchy) {
      for (Field f : c.getDeclaredFields()) {
        MeshClient a = f.getAnnotation(MeshClient.class);
        if (a == null) {
          continue;
        }
        String where = c.getName() + "." + f.getName();
        if (Modifier.isStatic(f.getModifiers())) {
          throw misuse(where, a.value(), "the field is static; MeshClients fills instance fields only");
        }
        if (Modifier.isFinal(f.getModifiers())) {
          throw misuse(where, a.value(), "the field is final; make it non-final, or take the client as a "
              + "constructor parameter and build the object with MeshClients.create");
        }
        fields.add(f);
        slots.add(check(where, a.value(), f.getType()));
      }
    }
    for (int i = 0; i < fields.size(); i++) {
      Field f = fields.get(i);
      Slot s = slots.get(i);
      Object client = make(s);
      try {
        f.setAccessible(true);
        f.set(target, client);
      } catch (RuntimeException | IllegalAccessException e) {
        throw misuse(s.where(), s.service(), "cannot be set (" + e.getMessage()
            + "); open the class's package to MeshUp or make the field public", e);
      }
    }
    return target;
  }

  /** Constructs {@code type} through its one public constructor, every parameter a client. */
  public <T> T create(Class<T> type) {
    Objects.requireNonNull(type, "type");
    String name = type.getName();
    if (type.isInterface() || Modifier.isAbstract(type.getModifiers())) {
      throw new IllegalArgumentException(name + ": is abstract or an interface; MeshClients.create needs a concrete class");
    }
    if (type.isMemberClass() && !Modifier.isStatic(type.getModifiers())) {
      throw new IllegalArgumentException(name + ": is an inner class; make it static for MeshClients.create");
    }
    Constructor<?>[] publics = type.getConstructors();
    if (publics.length != 1) {
      throw new IllegalArgumentException(name + ": has " + publics.length + " public constructors; "
          + "MeshClients.create needs exactly one, with every parameter annotated @MeshClient");
    }
    Constructor<?> ctor = publics[0];
    Parameter[] params = ctor.getParameters();
    List<Slot> slots = new ArrayList<>();
    for (int i = 0; i < params.length; i++) {
      Parameter p = params[i];
      String where = name + " constructor parameter " + i + (p.isNamePresent() ? " (" + p.getName() + ")" : "")
          + " of type " + p.getType().getName();
      MeshClient a = p.getAnnotation(MeshClient.class);
      if (a == null) {
        throw new IllegalArgumentException(where + ": is not annotated @MeshClient; MeshClients.create fills "
            + "every parameter of the public constructor, so each needs @MeshClient(\"<service>\")");
      }
      slots.add(check(where, a.value(), p.getType()));
    }
    Object[] args = new Object[slots.size()];
    for (int i = 0; i < args.length; i++) {
      args[i] = make(slots.get(i));
    }
    try {
      ctor.setAccessible(true);
      return type.cast(ctor.newInstance(args));
    } catch (InvocationTargetException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException r) {
        throw r;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException(name + ": the constructor threw " + cause, cause);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalArgumentException(name + ": cannot be constructed (" + e + ")", e);
    }
  }

  /**
   * A client for one injection point a framework found itself (a constructor or factory method
   * parameter), checked and made as a field's is; {@code where} names it in errors.
   */
  public Object client(String where, String service, Class<?> type) {
    return make(check(where, service, type));
  }

  private Slot check(String where, String service, Class<?> type) {
    if (service == null || service.isBlank()) {
      throw misuse(where, service, "the service name is empty; name the destination service, as in @MeshClient(\"payments\")");
    }
    ClientProvider provider = null;
    for (ClientProvider p : providers()) {
      if (p.supports(type)) {
        provider = p;
        break;
      }
    }
    if (provider == null) {
      throw misuse(where, service, "type " + type.getName() + " cannot be injected; " + supported());
    }
    try {
      mesh.router(service);
    } catch (IllegalArgumentException e) {
      throw misuse(where, service, e.getMessage(), e);
    }
    return new Slot(where, service, type, provider);
  }

  private Object make(Slot s) {
    Object client;
    try {
      client = s.provider().create(mesh, s.service(), s.type());
    } catch (RuntimeException e) {
      throw new IllegalStateException(prefix(s.where(), s.service()) + s.provider().getClass().getName()
          + " could not make a " + s.type().getName() + ": " + e.getMessage(), e);
    }
    if (!s.type().isInstance(client)) {
      throw new IllegalStateException(prefix(s.where(), s.service()) + s.provider().getClass().getName()
          + " returned " + (client == null ? "null" : "a " + client.getClass().getName()) + " for type "
          + s.type().getName());
    }
    return client;
  }

  private String supported() {
    List<ClientProvider> ps = providers();
    if (ps.isEmpty()) {
      return "no client provider is on the classpath; add io.meshup:mesh-grpc (gRPC channels and stubs) "
          + "or io.meshup:mesh-http (MeshHttpClient)";
    }
    return "supported: " + ps.stream().map(ClientProvider::supportedTypes).collect(Collectors.joining(", "))
        + " (providers on the classpath: " + ps.stream().map(p -> p.getClass().getName()).collect(Collectors.joining(", "))
        + ")";
  }

  private List<ClientProvider> providers() {
    if (providers == null) {
      providers = new ArrayList<>();
      loader.get().forEach(providers::add);
    }
    return providers;
  }

  private static String prefix(String where, String service) {
    return where + ": @MeshClient(\"" + service + "\"): ";
  }

  private static IllegalArgumentException misuse(String where, String service, String problem) {
    return new IllegalArgumentException(prefix(where, service) + problem);
  }

  private static IllegalArgumentException misuse(String where, String service, String problem, Throwable cause) {
    return new IllegalArgumentException(prefix(where, service) + problem, cause);
  }
}
