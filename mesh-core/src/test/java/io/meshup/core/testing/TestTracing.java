package io.meshup.core.testing;

import static org.assertj.core.api.Assertions.assertThat;


import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.util.Comparator;
import java.util.List;

/**
 * OpenTelemetry's SDK with an in-memory exporter, for tests of traces across services: every
 * {@link #otel} shares one exporter (as processes exporting to one collector would), and the
 * helpers walk the finished spans by parent.
 */
public final class TestTracing implements AutoCloseable {
  private final InMemorySpanExporter exporter = InMemorySpanExporter.create();
  private final SdkTracerProvider provider = SdkTracerProvider.builder()
      .addSpanProcessor(SimpleSpanProcessor.create(exporter)).build();

  /** An OpenTelemetry exporting here, carrying trace context with {@code propagator}. */
  public OpenTelemetry otel(TextMapPropagator propagator) {
    return OpenTelemetrySdk.builder().setTracerProvider(provider).setPropagators(ContextPropagators.create(propagator))
        .build();
  }

  /** The spans finished so far. */
  public List<SpanData> spans() {
    return exporter.getFinishedSpanItems();
  }

  /** Waits until {@code n} spans have finished (servers may end theirs just after the caller returns); exactly those. */
  public List<SpanData> await(int n) {
    org.awaitility.Awaitility.await().until(() -> exporter.getFinishedSpanItems().size() >= n);
    List<SpanData> spans = exporter.getFinishedSpanItems();
    assertThat(spans).hasSize(n);
    return spans;
  }

  /** The spans whose parent is {@code parentSpanId}, in the order they started. */
  public static List<SpanData> children(List<SpanData> spans, String parentSpanId) {
    return spans.stream().filter(s -> s.getParentSpanId().equals(parentSpanId))
        .sorted(Comparator.comparingLong(SpanData::getStartEpochNanos)).toList();
  }

  /** The one span of {@code spans}. */
  public static SpanData only(List<SpanData> spans) {
    assertThat(spans).hasSize(1);
    return spans.get(0);
  }

  @Override
  public void close() {
    provider.close();
  }
}
