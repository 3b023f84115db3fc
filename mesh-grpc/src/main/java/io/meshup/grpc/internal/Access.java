package io.meshup.grpc.internal;

import io.grpc.ManagedChannelBuilder;
import io.grpc.ManagedChannelProvider;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/**
 * Calls the protected methods of another {@link ManagedChannelProvider}, which
 * {@link MeshChannelProvider} needs to hand non-mesh targets on (grpc-java's own registry does the
 * same from inside its package). Stateless.
 */
final class Access {
  private static final Method IS_AVAILABLE = method("isAvailable");
  private static final Method PRIORITY = method("priority");
  private static final Method FOR_TARGET = method("builderForTarget", String.class);
  private static final Method FOR_ADDRESS = method("builderForAddress", String.class, int.class);

  private Access() {}

  private static Method method(String name, Class<?>... params) {
    try {
      Method m = ManagedChannelProvider.class.getDeclaredMethod(name, params);
      m.setAccessible(true);
      return m;
    } catch (NoSuchMethodException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  static boolean available(ManagedChannelProvider p) {
    try {
      return (Boolean) IS_AVAILABLE.invoke(p);
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      return false;
    }
  }

  static int priority(ManagedChannelProvider p) {
    return (Integer) invoke(PRIORITY, p);
  }

  static ManagedChannelBuilder<?> builderForTarget(ManagedChannelProvider p, String target) {
    return (ManagedChannelBuilder<?>) invoke(FOR_TARGET, p, target);
  }

  static ManagedChannelBuilder<?> builderForAddress(ManagedChannelProvider p, String name, int port) {
    return (ManagedChannelBuilder<?>) invoke(FOR_ADDRESS, p, name, port);
  }

  private static Object invoke(Method m, Object target, Object... args) {
    try {
      return m.invoke(target, args);
    } catch (InvocationTargetException e) {
      Throwable c = e.getCause();
      if (c instanceof RuntimeException r) {
        throw r;
      }
      if (c instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException(c);
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
  }
}
