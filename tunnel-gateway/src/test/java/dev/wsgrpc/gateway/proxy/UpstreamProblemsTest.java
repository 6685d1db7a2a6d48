package dev.wsgrpc.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.TestCertificates;
import io.grpc.CallOptions;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * Proxy mode's upstream channels, one per event loop, tell the operator about upstream problems once for all loops:
 * real grpc-java channels on four loops, calls started on every loop, a dead port, an untrusted TLS server, a list
 * file that is not there and a name that does not resolve.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UpstreamProblemsTest {

  private static final int LOOPS = 4;
  private static final MethodDescriptor<byte[], byte[]> CALL = OpaqueBytes.method("test.Any/Call").toBuilder()
      .setType(MethodDescriptor.MethodType.UNARY).build();

  private final Closer closer = new Closer();
  private final Logger log = (Logger) LoggerFactory.getLogger("dev.wsgrpc.gateway.proxy.Upstreams");
  private final ListAppender<ILoggingEvent> lines = new ListAppender<>();
  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final UpstreamProblems problems = new UpstreamProblems(registry);
  private EventLoopGroup loops;

  @BeforeEach
  void start() {
    lines.start();
    log.addAppender(lines);
    loops = new MultiThreadIoEventLoopGroup(LOOPS, NioIoHandler.newFactory());
  }

  @AfterEach
  void stop() throws Exception {
    closer.close();
    loops.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
    log.detachAppender(lines);
  }

  @Test
  void aDeadUpstreamIsOneWarnNamingItWhileCallsFailOnEveryLoopAndEachLoopsFailureCounts() throws Exception {
    int dead = ExternalProgram.freePort();
    UpstreamChannels channels = channels(UpstreamOptions.newBuilder().upstreams(List.of("localhost:" + dead)));

    for (Status status : callOnEveryLoop(channels, 5)) {
      assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    }
    // A call fails only after its channel's balancer has seen the failed connection: every loop's is counted.
    assertTrue(problems.connectFailures() >= LOOPS, "failures counted: " + problems.connectFailures());
    assertTrue(scrape().contains("wsgrpc_upstream_connect_failures_total"), scrape());
    List<ILoggingEvent> warns = warns("cannot connect to upstream");
    assertEquals(1, warns.size(), "one line for all loops' channels (limit: one every 10 s): " + text(warns));
    String line = warns.get(0).getFormattedMessage();
    assertTrue(line.startsWith("proxy mode: cannot connect to upstream localhost:" + dead + " ("), line);
    assertTrue(line.endsWith(": Connection refused"), line);
    assertNull(warns.get(0).getThrowableProxy(), "no stack trace");
  }

  @Test
  void aRefusedConnectOverEpollReadsAsTheJdksReasonWithoutTheSystemCall() throws Exception {
    assumeTrue(Epoll.isAvailable(), "native epoll (the jar's transport on Linux) is not available here");
    EventLoopGroup epoll = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    try {
      int dead = ExternalProgram.freePort();
      ChannelFuture connect = new Bootstrap().group(epoll).channel(EpollSocketChannel.class)
          .handler(new ChannelInboundHandlerAdapter())
          .connect(new InetSocketAddress("127.0.0.1", dead)).awaitUninterruptibly();
      assertFalse(connect.isSuccess());
      // Netty's epoll says "finishConnect(..) failed with error(-111): Connection refused: /127.0.0.1:PORT".
      assertEquals("Connection refused", UpstreamProblems.reason(Status.UNAVAILABLE.withCause(connect.cause())),
          connect.cause().toString());
    } finally {
      epoll.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  @Test
  void anUpstreamWhoseCertificateIsNotTrustedIsNamedWithTheFailedTlsHandshake() throws Exception {
    TestCertificates certs = TestCertificates.create();
    // Every address of localhost: IPv4 and, where there is one, IPv6.
    Server upstream = closer.add(NettyServerBuilder.forPort(0)
        .sslContext(GrpcSslContexts.forServer(certs.serverCertPem(), certs.serverKeyPem()).build())
        .addService(ServerServiceDefinition.builder("test.Any").build())
        .build().start());
    int port = ((InetSocketAddress) upstream.getListenSockets().get(0)).getPort();
    // Trusting the JDK's CAs only, which never signed the test CA.
    UpstreamChannels channels = channels(UpstreamOptions.newBuilder().upstreams(List.of("localhost:" + port))
        .tls(true));

    for (Status status : callOnEveryLoop(channels, 2)) {
      assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    }
    assertTrue(problems.connectFailures() >= LOOPS, "failures counted: " + problems.connectFailures());
    List<ILoggingEvent> warns = warns("cannot connect to upstream");
    assertEquals(1, warns.size(), text(warns));
    String line = warns.get(0).getFormattedMessage();
    assertTrue(line.startsWith("proxy mode: cannot connect to upstream localhost:" + port + " ("), line);
    assertTrue(line.contains("): TLS handshake failed: "), line);
  }

  @Test
  void aListFileThatIsNotThereIsOneWarnThoughEveryLoopsResolverReadsIt() throws Exception {
    Path missing = Files.createTempDirectory("upstreams").resolve("upstreams.txt");
    UpstreamChannels channels = channels(UpstreamOptions.newBuilder().upstreamFile(missing));

    for (Status status : callOnEveryLoop(channels, 2)) {
      // The reason is the resolver's own: each loop's resolver has read the file and reported before this.
      assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
      assertTrue(status.getDescription().contains("cannot read --upstream-file " + missing), status.toString());
    }
    List<ILoggingEvent> warns = warns("cannot read --upstream-file");
    assertEquals(1, warns.size(), "one line for " + LOOPS + " resolvers: " + text(warns));
    assertEquals(0, problems.connectFailures(), "no address, so no connection was tried");
  }

  @Test
  void aDnsNameThatDoesNotResolveIsOneWarnNamingTheTarget() throws Exception {
    UpstreamChannels channels = channels(UpstreamOptions.newBuilder()
        .upstreams(List.of("dns:///nowhere.invalid:50051")));

    for (Status status : callOnEveryLoop(channels, 2)) {
      assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    }
    List<ILoggingEvent> warns = warns("cannot resolve");
    assertEquals(1, warns.size(), "one line for " + LOOPS + " resolvers: " + text(warns));
    assertTrue(warns.get(0).getFormattedMessage().startsWith(
        "proxy mode: cannot resolve dns:///nowhere.invalid:50051: "), text(warns));
  }

  @Test
  void aResolutionProblemIsLoggedOnceWhileAnyResolverHasItAndAgainWhenItComesBack() {
    UpstreamProblems.Resolution a = problems.resolution();
    UpstreamProblems.Resolution b = problems.resolution();
    a.report("cannot resolve x:1", "");
    b.report("cannot resolve x:1", "");
    a.report(null, "");
    b.report("cannot resolve x:1", ""); // b still has it: not new
    assertEquals(1, warns("cannot resolve x:1").size(), text(warns("")));
    b.report(null, "");
    a.report("cannot resolve x:1", ""); // gone everywhere, then back
    b.report("cannot resolve y:2", ""); // another problem
    b.close();
    a.report("cannot resolve y:2", ""); // b no longer has it
    assertEquals(2, warns("cannot resolve x:1").size(), text(warns("")));
    assertEquals(2, warns("cannot resolve y:2").size(), text(warns("")));
  }

  private UpstreamChannels channels(UpstreamOptions.Builder options) throws Exception {
    UpstreamChannels channels = UpstreamChannel.createPerLoop(options.refreshInterval(java.time.Duration.ofSeconds(1))
        .build(), loops, NioSocketChannel.class, problems);
    closer.add(() -> channels.shutdownNow(10_000));
    assertEquals(LOOPS, channels.size());
    return channels;
  }

  /** Starts {@code perLoop} calls on each event loop (so over each loop's channel); their statuses. */
  private List<Status> callOnEveryLoop(UpstreamChannels channels, int perLoop) throws Exception {
    List<Future<byte[]>> calls = new ArrayList<>();
    for (io.netty.util.concurrent.EventExecutor executor : loops) {
      EventLoop loop = (EventLoop) executor;
      for (int i = 0; i < perLoop; i++) {
        calls.add(loop.submit(() -> ClientCalls.futureUnaryCall(channels.current().newCall(CALL,
            CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS)), new byte[0])).get());
      }
    }
    List<Status> statuses = new ArrayList<>();
    for (Future<byte[]> call : calls) {
      try {
        call.get(40, TimeUnit.SECONDS);
        statuses.add(Status.OK);
      } catch (ExecutionException e) {
        statuses.add(Status.fromThrowable(e.getCause()));
      }
    }
    return statuses;
  }

  private List<ILoggingEvent> warns(String containing) {
    return lines.list.stream()
        .filter(e -> e.getLevel() == Level.WARN && e.getFormattedMessage().contains(containing))
        .collect(Collectors.toList());
  }

  private static String text(List<ILoggingEvent> events) {
    return events.stream().map(ILoggingEvent::getFormattedMessage).collect(Collectors.joining("\n"));
  }

  private String scrape() throws Exception {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter.create().write(out, registry.scrape());
    return out.toString(java.nio.charset.StandardCharsets.UTF_8);
  }
}
