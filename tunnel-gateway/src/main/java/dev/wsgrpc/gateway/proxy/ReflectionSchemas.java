package dev.wsgrpc.gateway.proxy;

import com.google.protobuf.ByteString;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.Descriptors;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.wsgrpc.core.TunnelSettings;
import dev.wsgrpc.core.internal.Preconditions;
import dev.wsgrpc.server.JsonSchemas;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import java.time.Duration;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Where proxy mode's JSON-over-WebSocket calls ({@code wsgrpc-json}) find their schemas: in a descriptor set
 * ({@code --descriptor-set}, protoc's {@code --descriptor_set_out --include_imports}) when it describes the service,
 * else from the upstream's gRPC server reflection, asked through the same upstream channel (and load balancing) as
 * the calls: {@code grpc.reflection.v1.ServerReflection/ServerReflectionInfo}, or {@code v1alpha} when the upstream
 * answers v1 with UNIMPLEMENTED. One reflection call per service: the file that defines it and every file it imports
 * (asked for by name when the first answer lacks one), built into protobuf descriptors.
 *
 * <p>Answers are cached per service, at most {@link #MAX_SERVICES} services (the least recently used goes first): a
 * schema for the refresh interval, "no such service" and "no reflection" for at most {@link #NEGATIVE_TTL}, a failure
 * to reach the upstream not at all. Calls for a service being fetched wait for the same fetch. Lookups never block:
 * a call waits for its schema asynchronously, and a fetch that has not ended within {@link #FETCH_TIMEOUT} fails.
 */
public final class ReflectionSchemas implements JsonSchemas {

  /** How many services' schemas are cached: {@value}. */
  public static final int MAX_SERVICES = 1000;
  /** The longest "no such service" and "no reflection" answers are cached: 30 s (shorter if the refresh is). */
  public static final Duration NEGATIVE_TTL = Duration.ofSeconds(30);
  /** How long one reflection fetch may take: 10 s. */
  public static final Duration FETCH_TIMEOUT = Duration.ofSeconds(10);

  static final MethodDescriptor<ServerReflectionRequest, ServerReflectionResponse> V1 =
      ServerReflectionGrpc.getServerReflectionInfoMethod();
  /** v1alpha's messages are v1's under another package: the same bytes on the wire, so the same marshallers. */
  static final MethodDescriptor<ServerReflectionRequest, ServerReflectionResponse> V1ALPHA = V1.toBuilder()
      .setFullMethodName("grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
      .setSchemaDescriptor(null)
      .build();

  private final Channel upstream;
  private final Map<String, Descriptors.ServiceDescriptor> described;
  private final long refreshNanos;
  private final LongSupplier nanoTime;
  private final Map<String, Cached> cache = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Cached> eldest) {
      return size() > MAX_SERVICES;
    }
  };

  /**
   * @param upstream the upstream channel calls go to
   * @param described services described ahead ({@link #readDescriptorSet}), asked for no reflection; may be empty
   * @param refresh how long a fetched schema is used before it is fetched again: 1 ms to
   *     {@value TunnelSettings#MAX_DURATION_MILLIS} ms (about 24.8 days)
   * @throws IllegalArgumentException {@code "reflectionRefresh: 0s (expected: > 0)"}
   */
  public ReflectionSchemas(Channel upstream, Map<String, Descriptors.ServiceDescriptor> described, Duration refresh) {
    this(upstream, described, refresh, System::nanoTime);
  }

  ReflectionSchemas(Channel upstream, Map<String, Descriptors.ServiceDescriptor> described, Duration refresh,
      LongSupplier nanoTime) {
    this.upstream = upstream;
    this.described = Map.copyOf(described);
    this.refreshNanos = Preconditions.checkDuration(refresh, "reflectionRefresh").toNanos();
    this.nanoTime = nanoTime;
  }

  @Override
  public Descriptors.MethodDescriptor method(String fullMethodName) {
    int slash = fullMethodName.indexOf('/');
    if (slash <= 0) {
      return null;
    }
    String service = fullMethodName.substring(0, slash);
    Descriptors.ServiceDescriptor schema = described.get(service);
    if (schema == null) {
      Cached entry;
      synchronized (cache) {
        entry = cache.get(service);
      }
      schema = entry == null ? null : entry.schema.getNow(null);
    }
    return schema == null ? null : schema.findMethodByName(fullMethodName.substring(slash + 1));
  }

  @Override
  public CompletionStage<Descriptors.MethodDescriptor> lookup(String fullMethodName) {
    int slash = fullMethodName.indexOf('/');
    if (slash <= 0) {
      return CompletableFuture.completedFuture(null);
    }
    String service = fullMethodName.substring(0, slash);
    String method = fullMethodName.substring(slash + 1);
    Descriptors.ServiceDescriptor schema = described.get(service);
    if (schema != null) {
      return CompletableFuture.completedFuture(schema.findMethodByName(method));
    }
    return service(service).thenApply(found -> found == null ? null : found.findMethodByName(method));
  }

  /** The cached schema of {@code service}, or a fetch of it (the one in progress, if any). */
  private CompletableFuture<Descriptors.ServiceDescriptor> service(String service) {
    Cached entry;
    boolean fetch = false;
    synchronized (cache) {
      entry = cache.get(service);
      if (entry == null || (entry.settled && nanoTime.getAsLong() - entry.expiresAt >= 0)) {
        entry = new Cached();
        cache.put(service, entry);
        fetch = true;
      }
    }
    if (fetch) {
      new Fetch(service, entry).start(V1);
    }
    return entry.schema;
  }

  /**
   * Ends {@code entry}'s fetch with {@code found} (null: no such service) or {@code failure}, setting how long the
   * answer is kept first; false if it had ended.
   */
  private boolean settle(Cached entry, Descriptors.ServiceDescriptor found, Status failure) {
    if (entry.schema.isDone()) {
      return false;
    }
    long ttl = failure == null && found != null ? refreshNanos
        : failure == null || failure.getCode() == Status.Code.FAILED_PRECONDITION
            ? Math.min(refreshNanos, NEGATIVE_TTL.toNanos())
            : 0;
    entry.expiresAt = nanoTime.getAsLong() + ttl;
    entry.settled = true;
    return failure == null ? entry.schema.complete(found) : entry.schema.completeExceptionally(failure.asException());
  }

  /**
   * The services a descriptor set file describes (protoc {@code --descriptor_set_out=FILE --include_imports}), by
   * full name.
   *
   * @throws IllegalArgumentException when it is not a descriptor set, lacks an imported file or does not validate
   */
  public static Map<String, Descriptors.ServiceDescriptor> readDescriptorSet(byte[] bytes) {
    FileDescriptorSet set;
    try {
      set = FileDescriptorSet.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("expected a FileDescriptorSet (protoc --descriptor_set_out) but it did not "
          + "parse: " + e.getMessage());
    }
    Map<String, FileDescriptorProto> files = new LinkedHashMap<>();
    for (FileDescriptorProto file : set.getFileList()) {
      files.put(file.getName(), file);
    }
    Map<String, Descriptors.FileDescriptor> built = new HashMap<>();
    Map<String, Descriptors.ServiceDescriptor> services = new HashMap<>();
    try {
      for (String name : files.keySet()) {
        for (Descriptors.ServiceDescriptor service : build(name, files, built, new HashSet<>()).getServices()) {
          services.put(service.getFullName(), service);
        }
      }
    } catch (Descriptors.DescriptorValidationException e) {
      throw new IllegalArgumentException("expected valid descriptors but " + e.getMessage());
    }
    return Collections.unmodifiableMap(services);
  }

  /** Builds file {@code name} of {@code files} after its imports (all of which must be there). */
  static Descriptors.FileDescriptor build(String name, Map<String, FileDescriptorProto> files,
      Map<String, Descriptors.FileDescriptor> built, Set<String> visiting)
      throws Descriptors.DescriptorValidationException {
    Descriptors.FileDescriptor done = built.get(name);
    if (done != null) {
      return done;
    }
    FileDescriptorProto proto = files.get(name);
    if (proto == null) {
      throw new IllegalArgumentException("expected every imported file (protoc --include_imports) but " + name
          + " is missing");
    }
    if (!visiting.add(name)) {
      throw new IllegalArgumentException("expected imports without a cycle but " + name + " imports itself");
    }
    Descriptors.FileDescriptor[] dependencies = new Descriptors.FileDescriptor[proto.getDependencyCount()];
    for (int i = 0; i < dependencies.length; i++) {
      dependencies[i] = build(proto.getDependency(i), files, built, visiting);
    }
    Descriptors.FileDescriptor file = Descriptors.FileDescriptor.buildFrom(proto, dependencies);
    built.put(name, file);
    return file;
  }

  @Override
  public String toString() {
    return "ReflectionSchemas(described=" + described.keySet() + ", refresh=" + Duration.ofNanos(refreshNanos) + ")";
  }

  private static final class Cached {
    final CompletableFuture<Descriptors.ServiceDescriptor> schema = new CompletableFuture<>();
    /** When the answer goes stale (System.nanoTime); set once the fetch ended. */
    volatile long expiresAt;
    /** Whether {@link #expiresAt} is set. */
    volatile boolean settled;
  }

  /** One reflection call for one service: its file, then whatever imports that answer lacked, by name. */
  private final class Fetch extends ClientCall.Listener<ServerReflectionResponse> {
    private final String service;
    private final Cached result;
    private final Map<String, FileDescriptorProto> files = new HashMap<>();
    private final Set<String> asked = new HashSet<>();
    private MethodDescriptor<ServerReflectionRequest, ServerReflectionResponse> method;
    private ClientCall<ServerReflectionRequest, ServerReflectionResponse> call;
    private int outstanding;

    Fetch(String service, Cached result) {
      this.service = service;
      this.result = result;
    }

    synchronized void start(MethodDescriptor<ServerReflectionRequest, ServerReflectionResponse> method) {
      this.method = method;
      call = upstream.newCall(method, CallOptions.DEFAULT.withDeadlineAfter(FETCH_TIMEOUT.toMillis(),
          TimeUnit.MILLISECONDS));
      call.start(this, new Metadata());
      call.request(1);
      outstanding = 1;
      call.sendMessage(ServerReflectionRequest.newBuilder().setFileContainingSymbol(service).build());
    }

    @Override
    public synchronized void onMessage(ServerReflectionResponse response) {
      if (result.schema.isDone()) {
        return;
      }
      outstanding--;
      switch (response.getMessageResponseCase()) {
        case FILE_DESCRIPTOR_RESPONSE:
          for (ByteString bytes : response.getFileDescriptorResponse().getFileDescriptorProtoList()) {
            try {
              FileDescriptorProto file = FileDescriptorProto.parseFrom(bytes);
              files.putIfAbsent(file.getName(), file);
            } catch (InvalidProtocolBufferException e) {
              fail(Status.INTERNAL.withDescription("expected file descriptors from the upstream's server "
                  + "reflection but one did not parse: " + e.getMessage()));
              return;
            }
          }
          break;
        case ERROR_RESPONSE:
          if (files.isEmpty()) {
            // The service is not one the upstream has: the call ends as UNIMPLEMENTED.
            finish(null);
            return;
          }
          fail(Status.FAILED_PRECONDITION.withDescription("expected the upstream's server reflection to have every "
              + "file " + service + " imports but it answered " + response.getErrorResponse().getErrorMessage()));
          return;
        default:
          fail(Status.INTERNAL.withDescription("expected file descriptors from the upstream's server reflection "
              + "but it answered " + response.getMessageResponseCase()));
          return;
      }
      for (FileDescriptorProto file : files.values().toArray(new FileDescriptorProto[0])) {
        for (String dependency : file.getDependencyList()) {
          if (!files.containsKey(dependency) && asked.add(dependency)) {
            outstanding++;
            call.sendMessage(ServerReflectionRequest.newBuilder().setFileByFilename(dependency).build());
          }
        }
      }
      if (outstanding == 0) {
        finish(find());
      } else {
        call.request(1);
      }
    }

    /** The service among the files; null when they do not define it. */
    private Descriptors.ServiceDescriptor find() {
      Map<String, Descriptors.FileDescriptor> built = new HashMap<>();
      try {
        for (String name : files.keySet()) {
          Descriptors.FileDescriptor file = build(name, files, built, new HashSet<>());
          for (Descriptors.ServiceDescriptor candidate : file.getServices()) {
            if (candidate.getFullName().equals(service)) {
              return candidate;
            }
          }
        }
      } catch (Descriptors.DescriptorValidationException | IllegalArgumentException e) {
        fail(Status.FAILED_PRECONDITION.withDescription("expected the upstream's server reflection to describe "
            + service + " in valid descriptors but " + e.getMessage()));
      }
      return null;
    }

    private void finish(Descriptors.ServiceDescriptor found) {
      if (settle(result, found, null)) {
        call.halfClose();
      }
    }

    private void fail(Status status) {
      if (settle(result, null, status)) {
        call.cancel("schema fetch failed", null);
      }
    }

    @Override
    public synchronized void onClose(Status status, Metadata trailers) {
      if (result.schema.isDone()) {
        return;
      }
      if (status.getCode() == Status.Code.UNIMPLEMENTED && method == V1 && files.isEmpty()) {
        new Fetch(service, result).start(V1ALPHA);
        return;
      }
      if (status.getCode() == Status.Code.UNIMPLEMENTED) {
        settle(result, null, Status.FAILED_PRECONDITION.withDescription("expected the upstream to serve "
            + "gRPC server reflection (grpc.reflection.v1 or v1alpha) for the schema of " + service + " but it "
            + "answered UNIMPLEMENTED" + (status.getDescription() == null ? "" : ": " + status.getDescription())
            + "; turn reflection on there, or describe the service with --descriptor-set"));
        return;
      }
      String ended = status.isOk() ? "the call ended before the answer" : status.getCode()
          + (status.getDescription() == null ? "" : ": " + status.getDescription());
      settle(result, null, Status.UNAVAILABLE.withDescription("could not fetch the schema of " + service
          + " from the upstream's server reflection: " + ended));
    }
  }
}
