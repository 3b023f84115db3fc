package io.meshup.grpc.internal;

import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.stub.AbstractStub;
import io.meshup.core.Mesh;
import io.meshup.core.spi.ClientProvider;
import io.meshup.grpc.MeshChannels;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;

/**
 * Makes gRPC clients for {@code @MeshClient} fields and parameters: {@link Channel} and
 * {@link ManagedChannel} (a {@link MeshChannels#forService} channel), and generated grpc-java stubs,
 * built by their outer class's static factory ({@code PaymentsGrpc.newBlockingStub(Channel)} and
 * its siblings) on that channel. One instance serves one {@code MeshClients} call, so every field of
 * a service in that call shares one channel. Not thread-safe; it need not be.
 */
public final class GrpcClientProvider implements ClientProvider {
  private record Key(Mesh mesh, String service) {}

  private final Map<Key, ManagedChannel> channels = new HashMap<>();

  @Override
  public boolean supports(Class<?> type) {
    return type == Channel.class || type == ManagedChannel.class || stubFactory(type) != null;
  }

  @Override
  public Object create(Mesh mesh, String service, Class<?> type) {
    ManagedChannel channel = channels.computeIfAbsent(new Key(mesh, service), k -> MeshChannels.forService(mesh, service));
    if (type == Channel.class || type == ManagedChannel.class) {
      return channel;
    }
    Method factory = stubFactory(type);
    if (factory == null) {
      throw new IllegalArgumentException(type.getName() + " is not a generated grpc-java stub");
    }
    try {
      factory.setAccessible(true);
      return factory.invoke(null, channel);
    } catch (InvocationTargetException e) {
      throw new IllegalStateException(factory + " threw " + e.getCause(), e.getCause());
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalStateException("cannot call " + factory + ": " + e, e);
    }
  }

  @Override
  public String supportedTypes() {
    return "io.grpc.Channel, io.grpc.ManagedChannel, grpc-java stubs (io.grpc.stub.AbstractStub subclasses "
        + "nested in a generated class with a static factory taking an io.grpc.Channel, such as "
        + "PaymentsGrpc.newBlockingStub)";
  }

  /**
   * The generated factory of a stub type: a public static method of the stub's outer class that
   * takes one {@link Channel} and returns exactly {@code type} ({@code newStub},
   * {@code newBlockingStub}, {@code newFutureStub}, {@code newBlockingV2Stub}); null when there is none.
   */
  static Method stubFactory(Class<?> type) {
    if (!AbstractStub.class.isAssignableFrom(type) || Modifier.isAbstract(type.getModifiers())) {
      return null;
    }
    Class<?> outer = type.getDeclaringClass();
    if (outer == null) {
      return null;
    }
    for (Method m : outer.getMethods()) {
      if (Modifier.isStatic(m.getModifiers()) && m.getReturnType() == type && m.getParameterCount() == 1
          && m.getParameterTypes()[0] == Channel.class) {
        return m;
      }
    }
    return null;
  }
}
