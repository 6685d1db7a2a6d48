package dev.wsgrpc.gateway.proxy;

import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Per-call Prometheus metrics under the names and labels users of gRPC's Prometheus interceptors know
 * ({@code grpc_service}, {@code grpc_method}, {@code grpc_type}, {@code grpc_code}), latencies in seconds:
 * {@code grpc_server_handled_total}, {@code grpc_server_handling_seconds}, {@code grpc_server_msg_received_total},
 * {@code grpc_server_msg_sent_total}, and {@code grpc_server_calls_in_flight}.
 *
 * <p>A proxy decodes no message, so it does not know a method's type from a descriptor: {@code grpc_type} is what the
 * call was seen to be: {@code UNARY} (at most one message each way), {@code CLIENT_STREAMING},
 * {@code SERVER_STREAMING} or {@code BIDI_STREAMING} (more than one message from the client, the server, or both).
 * Where the descriptor knows (a service served in-process), its type is used.
 *
 * <p>Method names come from callers, so at most {@value #MAX_METHODS} distinct methods get series of their own; later
 * ones are counted under {@code grpc_service="other", grpc_method="other"}. So are calls that ended
 * {@code UNIMPLEMENTED} (the upstream does not serve the name), {@code UNAUTHENTICATED} or {@code PERMISSION_DENIED}
 * (the gateway's token check or the upstream refused the caller; they still count, with their code): a scan of
 * made-up names cannot grow the metrics, and a caller without a token cannot use up the series that real methods
 * would get.
 */
public final class CallMetrics implements ServerInterceptor {

  static final int MAX_METHODS = 1000;
  private static final MethodDescriptor.MethodType[] TYPES = MethodDescriptor.MethodType.values();
  private static final Status.Code[] CODES = Status.Code.values();

  private final Counter handled;
  private final Histogram seconds;
  private final Counter received;
  private final Counter sent;
  private final Gauge inFlight;
  private final ConcurrentHashMap<String, MethodSeries> byMethod = new ConcurrentHashMap<>();
  private final MethodSeries other = new MethodSeries("other", "other");

  public CallMetrics(PrometheusRegistry registry) {
    handled = Counter.builder()
        .name("grpc_server_handled_total")
        .help("Calls completed, by service, method, type and status code")
        .labelNames("grpc_service", "grpc_method", "grpc_type", "grpc_code")
        .register(registry);
    seconds = Histogram.builder()
        .name("grpc_server_handling_seconds")
        .help("Time from a call's headers to its status, in seconds")
        .labelNames("grpc_service", "grpc_method", "grpc_type")
        .classicOnly()
        .register(registry);
    received = Counter.builder()
        .name("grpc_server_msg_received_total")
        .help("Messages received from callers")
        .labelNames("grpc_service", "grpc_method", "grpc_type")
        .register(registry);
    sent = Counter.builder()
        .name("grpc_server_msg_sent_total")
        .help("Messages sent to callers")
        .labelNames("grpc_service", "grpc_method", "grpc_type")
        .register(registry);
    inFlight = Gauge.builder()
        .name("grpc_server_calls_in_flight")
        .help("Calls started and not yet completed")
        .register(registry);
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
      ServerCallHandler<ReqT, RespT> next) {
    Recorder recorder = new Recorder(call.getMethodDescriptor());
    inFlight.inc();
    ServerCall<ReqT, RespT> recorded = new SimpleForwardingServerCall<ReqT, RespT>(call) {
      @Override
      public void sendHeaders(Metadata responseHeaders) {
        recorder.answered = true;
        super.sendHeaders(responseHeaders);
      }

      @Override
      public void sendMessage(RespT message) {
        recorder.sent.incrementAndGet();
        super.sendMessage(message);
      }

      @Override
      public void close(Status status, Metadata trailers) {
        recorder.status(status);
        super.close(status, trailers);
      }
    };
    ServerCall.Listener<ReqT> listener;
    try {
      listener = next.startCall(recorded, headers);
    } catch (RuntimeException | Error e) {
      // grpc-java ends a call whose start threw (UNKNOWN), and no listener of it will hear of its end: end it here,
      // or it would stay in flight for good.
      recorder.status(Status.UNKNOWN);
      recorder.end();
      throw e;
    }
    return new SimpleForwardingServerCallListener<ReqT>(listener) {
      @Override
      public void onMessage(ReqT message) {
        recorder.received.incrementAndGet();
        super.onMessage(message);
      }

      @Override
      public void onComplete() {
        try {
          super.onComplete();
        } finally {
          recorder.end();
        }
      }

      @Override
      public void onCancel() {
        recorder.status(Status.CANCELLED);
        try {
          super.onCancel();
        } finally {
          recorder.end();
        }
      }
    };
  }

  /** One call's counts, reported once when it ends. */
  private final class Recorder {
    final MethodDescriptor<?, ?> method;
    final long startNanos = System.nanoTime();
    final AtomicLong received = new AtomicLong();
    final AtomicLong sent = new AtomicLong();
    final AtomicBoolean ended = new AtomicBoolean();
    volatile Status.Code code;
    /** Response headers went to the caller: a handler (the upstream's, in proxy mode) answered. */
    volatile boolean answered;

    Recorder(MethodDescriptor<?, ?> method) {
      this.method = method;
    }

    void status(Status status) {
      if (code == null) {
        code = status.getCode();
      }
    }

    void end() {
      if (!ended.compareAndSet(false, true)) {
        return;
      }
      inFlight.dec();
      Status.Code c = code != null ? code : Status.Code.CANCELLED;
      MethodSeries methodSeries = !namedByAnAdmittedCall(c) ? other
          : answered || sent.get() > 0 || !generatedByGrpc(c) ? series(method)
          : byMethod.getOrDefault(method.getFullMethodName(), other);
      TypeSeries series = methodSeries.of(type(method.getType(), received.get(), sent.get()));
      series.handled(c).inc();
      series.seconds.observe((System.nanoTime() - startNanos) / 1e9);
      series.received.inc(received.get());
      series.sent.inc(sent.get());
    }
  }

  /** Whether a call that ended with {@code code} was served by a method that exists, for a caller it admitted. */
  private static boolean namedByAnAdmittedCall(Status.Code code) {
    return code != Status.Code.UNIMPLEMENTED && code != Status.Code.UNAUTHENTICATED
        && code != Status.Code.PERMISSION_DENIED;
  }

  /**
   * Whether gRPC itself gives {@code code} (gRPC's status code documentation lists these), so that a call ending
   * with it says nothing about whether its method exists: a caller cancelling, a deadline, an upstream out of
   * reach, a message too large. Such a call of a method not yet seen answered counts under "other", so that a scan
   * of made-up names reset at once, or sent with a tiny deadline, cannot use up the series. The other codes come
   * only from a handler of the method.
   */
  private static boolean generatedByGrpc(Status.Code code) {
    switch (code) {
      case CANCELLED:
      case UNKNOWN:
      case DEADLINE_EXCEEDED:
      case RESOURCE_EXHAUSTED:
      case UNIMPLEMENTED:
      case INTERNAL:
      case UNAVAILABLE:
      case UNAUTHENTICATED:
        return true;
      default:
        return false;
    }
  }

  /** The series of {@code method}: its own while fewer than {@value #MAX_METHODS} methods have one, else "other". */
  private MethodSeries series(MethodDescriptor<?, ?> method) {
    String fullName = method.getFullMethodName();
    MethodSeries known = byMethod.get(fullName);
    if (known != null) {
      return known;
    }
    String service = method.getServiceName();
    String name = method.getBareMethodName();
    if (service == null || name == null || byMethod.size() >= MAX_METHODS) {
      return other;
    }
    return byMethod.computeIfAbsent(fullName, n -> new MethodSeries(service, name));
  }

  /**
   * One method's data points, found once (Prometheus otherwise looks each one up by its label values on every
   * call): per {@code grpc_type}, created when first seen.
   */
  private final class MethodSeries {
    final String service;
    final String method;
    final AtomicReferenceArray<TypeSeries> byType = new AtomicReferenceArray<>(TYPES.length);

    MethodSeries(String service, String method) {
      this.service = service;
      this.method = method;
    }

    TypeSeries of(MethodDescriptor.MethodType type) {
      TypeSeries series = byType.get(type.ordinal());
      if (series == null) {
        byType.compareAndSet(type.ordinal(), null, new TypeSeries(service, method, type.name()));
        series = byType.get(type.ordinal());
      }
      return series;
    }
  }

  /** One method's data points of one {@code grpc_type}; {@code grpc_server_handled_total}'s per code when seen. */
  private final class TypeSeries {
    final String[] labels;
    final DistributionDataPoint seconds;
    final CounterDataPoint received;
    final CounterDataPoint sent;
    final AtomicReferenceArray<CounterDataPoint> handledByCode = new AtomicReferenceArray<>(CODES.length);

    TypeSeries(String service, String method, String type) {
      labels = new String[] {service, method, type};
      seconds = CallMetrics.this.seconds.labelValues(labels);
      received = CallMetrics.this.received.labelValues(labels);
      sent = CallMetrics.this.sent.labelValues(labels);
    }

    CounterDataPoint handled(Status.Code code) {
      CounterDataPoint point = handledByCode.get(code.ordinal());
      if (point == null) {
        // The same labels give the same data point, so a race here only looks it up twice.
        point = CallMetrics.this.handled.labelValues(labels[0], labels[1], labels[2], code.name());
        handledByCode.set(code.ordinal(), point);
      }
      return point;
    }
  }

  static MethodDescriptor.MethodType type(MethodDescriptor.MethodType known, long received, long sent) {
    if (known != MethodDescriptor.MethodType.UNKNOWN) {
      return known;
    }
    if (received > 1) {
      return sent > 1 ? MethodDescriptor.MethodType.BIDI_STREAMING : MethodDescriptor.MethodType.CLIENT_STREAMING;
    }
    return sent > 1 ? MethodDescriptor.MethodType.SERVER_STREAMING : MethodDescriptor.MethodType.UNARY;
  }
}
