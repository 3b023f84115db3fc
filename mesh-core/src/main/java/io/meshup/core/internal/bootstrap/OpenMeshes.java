package io.meshup.core.internal.bootstrap;

import io.meshup.core.Mesh;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The meshes open in this process, so that frameworks which build their own clients from a target
 * string (grpc-java's {@code ManagedChannelBuilder.forTarget("meshup:///payments")}) can find the
 * mesh to run them on. The one piece of process-wide state in MeshUp: a mesh adds itself when
 * built and removes itself when closed. Thread-safe.
 */
public final class OpenMeshes {
  private static final List<Mesh> OPEN = new CopyOnWriteArrayList<>();

  private OpenMeshes() {}

  /** Adds an open mesh. */
  public static void opened(Mesh mesh) {
    OPEN.add(mesh);
  }

  /** Removes a closed mesh. */
  public static void closed(Mesh mesh) {
    OPEN.remove(mesh);
  }

  /**
   * The open mesh of service {@code service}, or with {@code service} null or empty the only open
   * mesh.
   *
   * @throws IllegalStateException naming what is open when there is no such mesh or several
   */
  public static Mesh find(String service) {
    List<Mesh> open = new ArrayList<>(OPEN);
    List<Mesh> match = new ArrayList<>();
    for (Mesh m : open) {
      if (service == null || service.isEmpty() || m.serviceName().equals(service)) {
        match.add(m);
      }
    }
    if (match.size() == 1) {
      return match.get(0);
    }
    List<String> names = open.stream().map(Mesh::serviceName).toList();
    if (match.isEmpty()) {
      throw new IllegalStateException(service == null || service.isEmpty()
          ? "meshup: no mesh is open in this process; build one (Mesh.fromYaml(...)) before making clients"
          : "meshup: no open mesh is service '" + service + "'; open meshes: " + names);
    }
    throw new IllegalStateException("meshup: " + match.size() + " meshes are open (" + names
        + "); name the one to use in the target's authority, meshup://<this service>/<destination>");
  }
}
