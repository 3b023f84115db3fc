package io.meshup.core.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Finds the server binaries the tests run (Consul, etcd, Prometheus) as the brief has it: the
 * environment variable naming one, else one on PATH, else the copy the project's script extracted
 * into {@code .tools/}, else that script's {@code install} (a Debian package fetched and extracted
 * there), whose last printed line is the binary.
 */
public final class ServerBinaries {
  private static final Duration INSTALL_TIMEOUT = Duration.ofMinutes(10);

  private ServerBinaries() {}

  /**
   * The binary {@code name}: {@code $envVar}, PATH, {@code .tools/<tool>/usr/bin/<name>}, else
   * {@code scripts/<script> install}.
   *
   * @param tool the folder below {@code .tools/} the script extracts into
   * @param script the install script below {@code scripts/}
   */
  public static Path find(String name, String envVar, String tool, String script) {
    String fromEnv = System.getenv(envVar);
    if (fromEnv != null && !fromEnv.isBlank()) {
      Path path = Paths.get(fromEnv).toAbsolutePath();
      if (isExecutableFile(path)) {
        return path;
      }
    }
    for (String d : Optional.ofNullable(System.getenv("PATH")).orElse("").split(java.io.File.pathSeparator)) {
      if (!d.isEmpty()) {
        Path candidate = Paths.get(d, name).toAbsolutePath();
        if (isExecutableFile(candidate)) {
          return candidate;
        }
      }
    }
    Path root = repositoryRoot();
    Path extracted = root.resolve(".tools/" + tool + "/usr/bin/" + name);
    if (isExecutableFile(extracted)) {
      return extracted;
    }
    return install(name, envVar, extracted, root.resolve("scripts/" + script), root);
  }

  private static Path install(String name, String envVar, Path extracted, Path script, Path root) {
    if (!Files.isRegularFile(script)) {
      throw new IllegalStateException("no " + name + " binary found (" + envVar + ", PATH, " + extracted + ") and no "
          + script + " to install one");
    }
    Path log = Paths.get("target", name, "install.log").toAbsolutePath();
    try {
      Files.createDirectories(log.getParent());
      System.err.println("[ServerBinaries] no " + name + " binary found; running " + script + " install (log: " + log + ")");
      Process install = new ProcessBuilder("bash", script.toString(), "install")
          .directory(root.toFile())
          .redirectError(ProcessBuilder.Redirect.to(log.toFile()))
          .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
          .start();
      String stdout;
      try (InputStream out = install.getInputStream()) {
        stdout = new String(out.readAllBytes(), StandardCharsets.UTF_8);
      }
      if (!install.waitFor(INSTALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        install.destroyForcibly();
        throw new IllegalStateException(script + " install timed out" + System.lineSeparator() + Files.readString(log));
      }
      String printed = Arrays.stream(stdout.split("\\R")).map(String::trim).filter(s -> !s.isEmpty())
          .reduce((first, second) -> second).orElse("");
      if (install.exitValue() != 0 || printed.isEmpty() || !isExecutableFile(Paths.get(printed))) {
        throw new IllegalStateException(script + " install failed (exit " + install.exitValue() + ", printed '"
            + printed + "')" + System.lineSeparator() + Files.readString(log));
      }
      return Paths.get(printed);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + script, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while installing " + name, e);
    }
  }

  /** The nearest directory at or above the working directory that holds {@code .ci/} or {@code mvnw}. */
  public static Path repositoryRoot() {
    Path start = Paths.get("").toAbsolutePath();
    for (Path d = start; d != null; d = d.getParent()) {
      if (Files.isDirectory(d.resolve(".ci")) || Files.isRegularFile(d.resolve("mvnw"))) {
        return d;
      }
    }
    throw new IllegalStateException("no directory with .ci/ or mvnw at or above " + start);
  }

  private static boolean isExecutableFile(Path path) {
    return Files.isRegularFile(path) && Files.isExecutable(path);
  }
}
