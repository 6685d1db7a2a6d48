package dev.wsgrpc.interop;

import com.google.protobuf.ByteString;
import io.grpc.Channel;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.integration.EmptyProtos.Empty;
import io.grpc.testing.integration.Messages.EchoStatus;
import io.grpc.testing.integration.Messages.Payload;
import io.grpc.testing.integration.Messages.ResponseParameters;
import io.grpc.testing.integration.Messages.SimpleRequest;
import io.grpc.testing.integration.Messages.SimpleResponse;
import io.grpc.testing.integration.Messages.StreamingInputCallRequest;
import io.grpc.testing.integration.Messages.StreamingInputCallResponse;
import io.grpc.testing.integration.Messages.StreamingOutputCallRequest;
import io.grpc.testing.integration.Messages.StreamingOutputCallResponse;
import io.grpc.testing.integration.TestServiceGrpc;
import io.grpc.testing.integration.UnimplementedServiceGrpc;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The standard gRPC interop test cases (grpc/grpc {@code doc/interop-test-descriptions.md}), run on any
 * {@link Channel} to a {@code grpc.testing.TestService}: whatever transport built the channel (a WebSocket tunnel,
 * plain HTTP/2, another client), the cases only make calls on it. Those who build the channel choose the transport:
 * {@code wsgrpc-cli interop}, the interop example's {@code InteropClient}, and the end-to-end suite.
 *
 * <p>{@link #run} prints {@code PASS name} or {@code FAIL name: reason} per case and a summary line; every call of a
 * case has a 20-second deadline, so a stuck peer fails the case instead of hanging the run.
 */
public final class InteropCases {

  /** Every call of a case gets this deadline, so a stuck peer fails the case instead of hanging the run. */
  private static final long CASE_DEADLINE_SECONDS = 20;

  /** How long the client waits for an event that the deadline guarantees; longer than the deadline itself. */
  private static final long WAIT_SECONDS = CASE_DEADLINE_SECONDS + 10;

  private static final Metadata.Key<String> ECHO_INITIAL =
      Metadata.Key.of("x-grpc-test-echo-initial", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<byte[]> ECHO_TRAILING =
      Metadata.Key.of("x-grpc-test-echo-trailing-bin", Metadata.BINARY_BYTE_MARSHALLER);
  private static final String ECHO_INITIAL_VALUE = "test_initial_metadata_value";
  private static final byte[] ECHO_TRAILING_VALUE = {(byte) 0xab, (byte) 0xab, (byte) 0xab};

  private static final String SPECIAL_STATUS_MESSAGE =
      "\t\ntest with whitespace\r\nand Unicode BMP \u263A and non-BMP \uD83D\uDE08\t\n";

  /** One interop case: returns normally when the peer did what the spec requires, throws otherwise. */
  @FunctionalInterface
  private interface Case {
    void run(Channel channel) throws Exception;
  }

  private static final Map<String, Case> CASES = new LinkedHashMap<>();

  static {
    CASES.put("empty_unary", InteropCases::emptyUnary);
    CASES.put("large_unary", InteropCases::largeUnary);
    CASES.put("client_streaming", InteropCases::clientStreaming);
    CASES.put("server_streaming", InteropCases::serverStreaming);
    CASES.put("ping_pong", InteropCases::pingPong);
    CASES.put("empty_stream", InteropCases::emptyStream);
    CASES.put("cancel_after_begin", InteropCases::cancelAfterBegin);
    CASES.put("cancel_after_first_response", InteropCases::cancelAfterFirstResponse);
    CASES.put("timeout_on_sleeping_server", InteropCases::timeoutOnSleepingServer);
    CASES.put("custom_metadata", InteropCases::customMetadata);
    CASES.put("status_code_and_message", InteropCases::statusCodeAndMessage);
    CASES.put("special_status_message", InteropCases::specialStatusMessage);
    CASES.put("unimplemented_method", InteropCases::unimplementedMethod);
    CASES.put("unimplemented_service", InteropCases::unimplementedService);
  }

  /** The names of every case this client implements, in the order it runs them. */
  public static final List<String> ALL_CASES = Collections.unmodifiableList(new ArrayList<>(CASES.keySet()));

  /**
   * Runs {@code cases} in order on {@code channel}, printing {@code PASS name} or {@code FAIL name: reason} for each
   * and then {@code N passed, M failed}. Returns M. A failed case does not stop the others.
   */
  public static int run(Channel channel, List<String> cases, PrintStream out) {
    int passed = 0;
    int failed = 0;
    for (String name : cases) {
      String failure = runOne(channel, name);
      if (failure == null) {
        out.println("PASS " + name);
        passed++;
      } else {
        out.println("FAIL " + name + ": " + printable(failure));
        failed++;
      }
      out.flush();
    }
    out.println(passed + " passed, " + failed + " failed");
    out.flush();
    return failed;
  }

  /** The most of a failure's text that a FAIL line shows. */
  static final int MAX_FAILURE_CHARS = 500;

  /**
   * A failure as its FAIL line shows it: printable ASCII, anything else as {@code ?}, at most
   * {@value #MAX_FAILURE_CHARS} characters (then {@code ...}). It quotes the server (a status description, metadata:
   * up to 8 KiB of any characters), which must not write escape sequences or lines of its own into the output.
   */
  static String printable(String failure) {
    StringBuilder b = new StringBuilder(Math.min(failure.length(), MAX_FAILURE_CHARS));
    for (int i = 0; i < failure.length() && i < MAX_FAILURE_CHARS; i++) {
      char c = failure.charAt(i);
      b.append(c >= 0x20 && c < 0x7f ? c : '?');
    }
    return failure.length() > MAX_FAILURE_CHARS ? b.append("...").toString() : b.toString();
  }

  /** Runs one case; returns null when it passed, else why it failed. */
  private static String runOne(Channel channel, String name) {
    Case c = CASES.get(name);
    if (c == null) {
      return "unknown case (expected one of " + ALL_CASES + ")";
    }
    // Calls a case starts inherit this context; cancelling it afterwards means a case that fails halfway leaves no
    // stream open on the peer to disturb the next case.
    Context.CancellableContext scope = Context.current().withCancellation();
    try {
      scope.call(() -> {
        c.run(channel);
        return null;
      });
      return null;
    } catch (AssertionError e) {
      return e.getMessage();
    } catch (StatusRuntimeException e) {
      return "expected the call to succeed but it failed with " + describe(e.getStatus());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    } catch (Exception e) {
      return e.toString();
    } finally {
      scope.cancel(null);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // The cases, in the spec's words: procedure, then what the client asserts.

  private static void emptyUnary(Channel channel) {
    Empty response = blocking(channel).emptyCall(Empty.getDefaultInstance());
    expectEquals("response", Empty.getDefaultInstance(), response);
  }

  private static void largeUnary(Channel channel) {
    SimpleResponse response = blocking(channel).unaryCall(largeUnaryRequest());
    expectZeros("response payload", 314159, response.getPayload());
  }

  private static void clientStreaming(Channel channel) throws Exception {
    Recorder<StreamingInputCallResponse> responses = new Recorder<>();
    StreamObserver<StreamingInputCallRequest> requests = async(channel).streamingInputCall(responses);
    for (int size : new int[] {27182, 8, 1828, 45904}) {
      requests.onNext(StreamingInputCallRequest.newBuilder().setPayload(zeros(size)).build());
    }
    requests.onCompleted();
    List<StreamingInputCallResponse> received = responses.awaitSuccess();
    expectEquals("number of responses", 1, received.size());
    expectEquals("aggregated_payload_size", 74922, received.get(0).getAggregatedPayloadSize());
  }

  private static void serverStreaming(Channel channel) throws Exception {
    int[] sizes = {31415, 9, 2653, 58979};
    StreamingOutputCallRequest.Builder request = StreamingOutputCallRequest.newBuilder();
    for (int size : sizes) {
      request.addResponseParameters(ResponseParameters.newBuilder().setSize(size));
    }
    Recorder<StreamingOutputCallResponse> responses = new Recorder<>();
    async(channel).streamingOutputCall(request.build(), responses);
    List<StreamingOutputCallResponse> received = responses.awaitSuccess();
    expectEquals("response sizes", toList(sizes), payloadSizes(received));
    for (int i = 0; i < sizes.length; i++) {
      expectZeros("response " + (i + 1) + " payload", sizes[i], received.get(i).getPayload());
    }
  }

  private static void pingPong(Channel channel) throws Exception {
    int[] requestSizes = {27182, 8, 1828, 45904};
    int[] responseSizes = {31415, 9, 2653, 58979};
    Recorder<StreamingOutputCallResponse> responses = new Recorder<>();
    StreamObserver<StreamingOutputCallRequest> requests = async(channel).fullDuplexCall(responses);
    for (int i = 0; i < requestSizes.length; i++) {
      // Each request goes out only after the previous reply arrived: that is what makes it ping-pong.
      requests.onNext(StreamingOutputCallRequest.newBuilder()
          .addResponseParameters(ResponseParameters.newBuilder().setSize(responseSizes[i]))
          .setPayload(zeros(requestSizes[i]))
          .build());
      expectZeros("response " + (i + 1) + " payload", responseSizes[i], responses.next().getPayload());
    }
    requests.onCompleted();
    expectEquals("responses after the fourth", 0, responses.awaitSuccess().size());
  }

  private static void emptyStream(Channel channel) throws Exception {
    Recorder<StreamingOutputCallResponse> responses = new Recorder<>();
    StreamObserver<StreamingOutputCallRequest> requests = async(channel).fullDuplexCall(responses);
    requests.onCompleted();
    expectEquals("number of responses", 0, responses.awaitSuccess().size());
  }

  private static void cancelAfterBegin(Channel channel) throws Exception {
    Recorder<StreamingInputCallResponse> responses = new Recorder<>();
    ClientCallStreamObserver<StreamingInputCallRequest> requests =
        (ClientCallStreamObserver<StreamingInputCallRequest>) async(channel).streamingInputCall(responses);
    requests.cancel("cancel_after_begin: cancelled by the client", null);
    expectCode("status", Status.Code.CANCELLED, responses.awaitClose());
  }

  private static void cancelAfterFirstResponse(Channel channel) throws Exception {
    Recorder<StreamingOutputCallResponse> responses = new Recorder<>();
    ClientCallStreamObserver<StreamingOutputCallRequest> requests =
        (ClientCallStreamObserver<StreamingOutputCallRequest>) async(channel).fullDuplexCall(responses);
    requests.onNext(StreamingOutputCallRequest.newBuilder()
        .addResponseParameters(ResponseParameters.newBuilder().setSize(31415))
        .setPayload(zeros(27182))
        .build());
    expectZeros("response payload", 31415, responses.next().getPayload());
    requests.cancel("cancel_after_first_response: cancelled by the client", null);
    expectCode("status", Status.Code.CANCELLED, responses.awaitClose());
  }

  private static void timeoutOnSleepingServer(Channel channel) throws Exception {
    Recorder<StreamingOutputCallResponse> responses = new Recorder<>();
    // The 1 ms deadline usually expires before the request is even written; sending on the already-closed call is
    // harmless, and the close is what the case checks.
    StreamObserver<StreamingOutputCallRequest> requests = TestServiceGrpc.newStub(channel)
        .withDeadlineAfter(1, TimeUnit.MILLISECONDS)
        .fullDuplexCall(responses);
    requests.onNext(StreamingOutputCallRequest.newBuilder().setPayload(zeros(27182)).build());
    expectCode("status", Status.Code.DEADLINE_EXCEEDED, responses.awaitClose());
  }

  private static void customMetadata(Channel channel) throws Exception {
    Metadata sent = new Metadata();
    sent.put(ECHO_INITIAL, ECHO_INITIAL_VALUE);
    sent.put(ECHO_TRAILING, ECHO_TRAILING_VALUE);

    // 1. UnaryCall.
    AtomicReference<Metadata> headers = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    SimpleResponse unary = blocking(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(sent),
            MetadataUtils.newCaptureMetadataInterceptor(headers, trailers))
        .unaryCall(largeUnaryRequest());
    expectZeros("UnaryCall response payload", 314159, unary.getPayload());
    expectEchoed("UnaryCall", headers.get(), trailers.get());

    // 2. FullDuplexCall, then half-close.
    headers.set(null);
    trailers.set(null);
    Recorder<StreamingOutputCallResponse> responses = new Recorder<>();
    StreamObserver<StreamingOutputCallRequest> requests = async(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(sent),
            MetadataUtils.newCaptureMetadataInterceptor(headers, trailers))
        .fullDuplexCall(responses);
    requests.onNext(StreamingOutputCallRequest.newBuilder()
        .addResponseParameters(ResponseParameters.newBuilder().setSize(314159))
        .setPayload(zeros(271828))
        .build());
    requests.onCompleted();
    List<StreamingOutputCallResponse> received = responses.awaitSuccess();
    expectEquals("FullDuplexCall number of responses", 1, received.size());
    expectZeros("FullDuplexCall response payload", 314159, received.get(0).getPayload());
    expectEchoed("FullDuplexCall", headers.get(), trailers.get());
  }

  private static void statusCodeAndMessage(Channel channel) throws Exception {
    expectEchoedStatus(channel, "test status message", true);
  }

  private static void specialStatusMessage(Channel channel) throws Exception {
    // Whitespace and non-ASCII must survive the percent-encoding of grpc-message, here and in every peer.
    expectEchoedStatus(channel, SPECIAL_STATUS_MESSAGE, false);
  }

  private static void unimplementedMethod(Channel channel) {
    Status status = statusOf(() -> blocking(channel).unimplementedCall(Empty.getDefaultInstance()));
    expectCode("status", Status.Code.UNIMPLEMENTED, status);
  }

  private static void unimplementedService(Channel channel) {
    Status status = statusOf(() -> UnimplementedServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(CASE_DEADLINE_SECONDS, TimeUnit.SECONDS)
        .unimplementedCall(Empty.getDefaultInstance()));
    expectCode("status", Status.Code.UNIMPLEMENTED, status);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Requests and checks shared by the cases.

  private static TestServiceGrpc.TestServiceBlockingStub blocking(Channel channel) {
    return TestServiceGrpc.newBlockingStub(channel).withDeadlineAfter(CASE_DEADLINE_SECONDS, TimeUnit.SECONDS);
  }

  private static TestServiceGrpc.TestServiceStub async(Channel channel) {
    return TestServiceGrpc.newStub(channel).withDeadlineAfter(CASE_DEADLINE_SECONDS, TimeUnit.SECONDS);
  }

  private static SimpleRequest largeUnaryRequest() {
    return SimpleRequest.newBuilder().setResponseSize(314159).setPayload(zeros(271828)).build();
  }

  private static Payload zeros(int size) {
    return Payload.newBuilder().setBody(ByteString.copyFrom(new byte[size])).build();
  }

  /** Status code 2 (UNKNOWN) with {@code message}, echoed by UnaryCall and, if asked, by FullDuplexCall. */
  private static void expectEchoedStatus(Channel channel, String message, boolean alsoFullDuplex)
      throws Exception {
    EchoStatus echo = EchoStatus.newBuilder().setCode(Status.Code.UNKNOWN.value()).setMessage(message).build();

    Status unary = statusOf(() -> blocking(channel).unaryCall(SimpleRequest.newBuilder().setResponseStatus(echo).build()));
    expectCode("UnaryCall status", Status.Code.UNKNOWN, unary);
    expectEquals("UnaryCall status message", message, unary.getDescription());

    if (alsoFullDuplex) {
      Recorder<StreamingOutputCallResponse> responses = new Recorder<>();
      StreamObserver<StreamingOutputCallRequest> requests = async(channel).fullDuplexCall(responses);
      requests.onNext(StreamingOutputCallRequest.newBuilder().setResponseStatus(echo).build());
      requests.onCompleted();
      Status duplex = responses.awaitClose();
      expectCode("FullDuplexCall status", Status.Code.UNKNOWN, duplex);
      expectEquals("FullDuplexCall status message", message, duplex.getDescription());
    }
  }

  private static void expectEchoed(String call, Metadata headers, Metadata trailers) {
    expectEquals(call + " initial metadata " + ECHO_INITIAL.name(), ECHO_INITIAL_VALUE,
        headers == null ? null : headers.get(ECHO_INITIAL));
    byte[] trailing = trailers == null ? null : trailers.get(ECHO_TRAILING);
    expectEquals(call + " trailing metadata " + ECHO_TRAILING.name(), hex(ECHO_TRAILING_VALUE),
        trailing == null ? null : hex(trailing));
  }

  private static void expectZeros(String what, int size, Payload payload) {
    ByteString body = payload.getBody();
    expectEquals(what + " size", size, body.size());
    for (int i = 0; i < body.size(); i++) {
      if (body.byteAt(i) != 0) {
        throw new AssertionError(what + ": expected all zeros but was " + body.byteAt(i) + " at byte " + i);
      }
    }
  }

  private static void expectCode(String what, Status.Code expected, Status actual) {
    if (actual.getCode() != expected) {
      throw new AssertionError(what + ": expected " + expected + " but was " + describe(actual));
    }
  }

  private static void expectEquals(String what, Object expected, Object actual) {
    if (expected == null ? actual != null : !expected.equals(actual)) {
      throw new AssertionError(what + ": expected " + show(expected) + " but was " + show(actual));
    }
  }

  /** Runs a unary call that the case expects to fail; returns its status (OK if it unexpectedly succeeded). */
  private static Status statusOf(Runnable call) {
    try {
      call.run();
      return Status.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus();
    }
  }

  private static String describe(Status status) {
    return status.getDescription() == null
        ? status.getCode().toString()
        : status.getCode() + " (" + show(status.getDescription()) + ")";
  }

  /** Strings quoted with control characters escaped, so that whitespace differences show in a failure line. */
  private static String show(Object value) {
    if (!(value instanceof String)) {
      return String.valueOf(value);
    }
    String s = (String) value;
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '\t': b.append("\\t"); break;
        case '\r': b.append("\\r"); break;
        case '\n': b.append("\\n"); break;
        case '"': b.append("\\\""); break;
        default:
          if (c < 0x20 || c == 0x7f) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
      }
    }
    return b.append('"').toString();
  }

  private static String hex(byte[] bytes) {
    StringBuilder b = new StringBuilder("0x");
    for (byte x : bytes) {
      b.append(String.format("%02x", x & 0xff));
    }
    return b.toString();
  }

  private static List<Integer> toList(int[] values) {
    List<Integer> list = new ArrayList<>();
    for (int v : values) {
      list.add(v);
    }
    return list;
  }

  private static List<Integer> payloadSizes(List<StreamingOutputCallResponse> responses) {
    List<Integer> sizes = new ArrayList<>();
    for (StreamingOutputCallResponse r : responses) {
      sizes.add(r.getPayload().getBody().size());
    }
    return sizes;
  }

  /** The most responses a streaming case keeps: its cases expect a few; past this many the case fails. */
  public static final int MAX_RESPONSES = 16;

  /**
   * The receiving side of a streaming call: responses queue up in arrival order, the close is kept as a status. Every
   * wait is bounded by {@link #WAIT_SECONDS}, which the calls' deadlines keep from ever running out. At most
   * {@link #MAX_RESPONSES} are kept: a server streaming responses for as long as the deadline lets it, each up to the
   * channel's message limit, would otherwise fill the heap.
   */
  private static final class Recorder<T> implements ClientResponseObserver<Object, T> {
    /** Queued after the last response, so that a reader waiting for one more learns at once that none will come. */
    private static final Object CLOSED = new Object();

    /** Queued in place of the response past {@link #MAX_RESPONSES}: the case fails there. */
    private static final Object TOO_MANY = new Object();

    private final BlockingQueue<Object> events = new LinkedBlockingQueue<>();
    private final CompletableFuture<Status> closed = new CompletableFuture<>();
    /** Responses that arrived; each case expects a few, and a server may stream as many as it likes. */
    private int received;
    private volatile ClientCallStreamObserver<Object> call;

    @Override
    public void beforeStart(ClientCallStreamObserver<Object> requestStream) {
      call = requestStream;
    }

    @Override
    public void onNext(T value) {
      // grpc-java delivers a call's responses one after the other, never at once.
      received++;
      if (received <= MAX_RESPONSES) {
        events.add(value);
      } else if (received == MAX_RESPONSES + 1) {
        events.add(TOO_MANY);
        // Nothing more is wanted: the call ends here, not at its deadline, on the channel the next cases use.
        call.cancel("expected at most " + MAX_RESPONSES + " responses but the server sent more", null);
      }
    }

    @Override
    public void onError(Throwable t) {
      closed.complete(Status.fromThrowable(t));
      events.add(CLOSED);
    }

    @Override
    public void onCompleted() {
      closed.complete(Status.OK);
      events.add(CLOSED);
    }

    /** The next response; fails if the call ends first. */
    @SuppressWarnings("unchecked")
    T next() throws InterruptedException {
      Object event = events.poll(WAIT_SECONDS, TimeUnit.SECONDS);
      if (event == null) {
        throw new AssertionError("expected a response within " + WAIT_SECONDS + " s but none came");
      }
      if (event == CLOSED) {
        throw new AssertionError("expected a response but the call ended with " + describe(closed.join()));
      }
      if (event == TOO_MANY) {
        throw new AssertionError("expected at most " + MAX_RESPONSES + " responses but the server sent more");
      }
      return (T) event;
    }

    /** The status the call closed with. */
    Status awaitClose() throws InterruptedException {
      try {
        return closed.get(WAIT_SECONDS, TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        throw new AssertionError("expected the call to end within " + WAIT_SECONDS + " s but it was still open");
      } catch (ExecutionException e) {
        throw new AssertionError("expected a status but was " + e.getCause());
      }
    }

    /** Waits for the call to end with OK; returns the responses not yet taken by {@link #next}. */
    @SuppressWarnings("unchecked")
    List<T> awaitSuccess() throws InterruptedException {
      Status status = awaitClose();
      List<T> rest = new ArrayList<>();
      for (Object event : events) {
        if (event == TOO_MANY) {
          throw new AssertionError("expected at most " + MAX_RESPONSES + " responses but the server sent more");
        }
        if (event != CLOSED) {
          rest.add((T) event);
        }
      }
      expectCode("status", Status.Code.OK, status);
      return rest;
    }
  }

  private InteropCases() {}
}
