package dev.wsgrpc.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.server.BrowserOptions;
import dev.wsgrpc.testing.TestCertificates;
import io.netty.util.ResourceLeakDetector;
import java.io.File;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class TunnelServerOptionsTest {

  private static TunnelServerMain parse(Map<String, String> env, String... args) {
    TunnelServerMain main = new TunnelServerMain();
    new CommandLine(main).setDefaultValueProvider(new EnvironmentDefaults(env)).parseArgs(args);
    return main;
  }

  /** What the gateway's command line printed on stderr and its exit code, run as main() runs it. */
  private static final class Outcome {
    final int exit;
    final String stderr;

    Outcome(int exit, String stderr) {
      this.exit = exit;
      this.stderr = stderr;
    }
  }

  /** Runs the command line as main() does, with {@code env} as the environment; only for options that are refused. */
  private static Outcome run(Map<String, String> env, String... args) {
    StringWriter err = new StringWriter();
    CommandLine commandLine = TunnelServerMain.commandLine(new TunnelServerMain(), env)
        .setErr(new PrintWriter(err, true))
        .setOut(new PrintWriter(new StringWriter(), true));
    int exit = commandLine.execute(args);
    return new Outcome(exit, err.toString().replace(System.lineSeparator(), "\n"));
  }

  /** Exit code 2 and exactly {@code message} on one line, then the pointer to --help: no usage, no stack trace. */
  private static void assertRefused(String message, Outcome outcome) {
    assertEquals(message + "\nRun 'java -jar tunnel-server.jar --help' for the options.\n", outcome.stderr);
    assertEquals(2, outcome.exit);
    assertFalse(outcome.stderr.contains("\tat "), outcome.stderr);
  }

  @Test
  void builtInDefaults() {
    TunnelServerMain m = parse(Map.of());
    assertEquals(8080, m.port);
    assertEquals("0.0.0.0", m.bind);
    assertEquals("/grpc", m.path);
    assertEquals(Duration.ofSeconds(30), m.drainTimeout);
    assertTrue(m.nativeGrpc);
    assertTrue(m.upstream.isEmpty());
    assertEquals("X-Forwarded-For", m.forwardedHeader);
    assertEquals(64, m.ipv6ClientPrefix);
  }

  @Test
  void clientAddressOptionsComeFromTheEnvironmentToo() {
    TunnelServerMain m = parse(Map.of("TUNNEL_IPV6_CLIENT_PREFIX", "56", "TUNNEL_FORWARDED_HEADER", "Forwarded"));
    assertEquals(56, m.ipv6ClientPrefix);
    assertEquals("Forwarded", m.forwardedHeader);
  }

  @Test
  void environmentOverridesDefaultsAndTheCommandLineOverridesBoth() {
    Map<String, String> env = Map.of("TUNNEL_PORT", "9000", "TUNNEL_DRAIN_TIMEOUT", "5s",
        "TUNNEL_UPSTREAM", "a:1,b:2", "TUNNEL_NATIVE_GRPC", "false");
    TunnelServerMain fromEnv = parse(env);
    assertEquals(9000, fromEnv.port);
    assertEquals(Duration.ofSeconds(5), fromEnv.drainTimeout);
    assertEquals(java.util.List.of("a:1", "b:2"), fromEnv.upstream);
    assertEquals(false, fromEnv.nativeGrpc);
    assertEquals(9100, parse(env, "--port", "9100").port);
  }

  @Test
  void durationsReadUnitsBareSecondsAndIso() {
    TunnelServerMain.DurationConverter c = new TunnelServerMain.DurationConverter();
    assertEquals(Duration.ofMillis(500), c.convert("500ms"));
    assertEquals(Duration.ofSeconds(30), c.convert("30s"));
    assertEquals(Duration.ofMinutes(2), c.convert("2m"));
    assertEquals(Duration.ofHours(1), c.convert("1h"));
    assertEquals(Duration.ofSeconds(45), c.convert("PT45S"));
    assertEquals(Duration.ofSeconds(30), parse(Map.of("TUNNEL_DRAIN_TIMEOUT", "30")).drainTimeout);
    assertEquals("'soon' is not a duration (expected: a duration such as 500ms, 10s, 2m or 1h; a number without a "
        + "unit is seconds)",
        assertThrows(CommandLine.TypeConversionException.class, () -> c.convert("soon")).getMessage());
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aBadOptionPrintsItsLineAndWhereTheOptionsAreNotTheWholeHelp() {
    assertRefused("Invalid value for option '--drain-timeout': 'soon' is not a duration (expected: a duration such "
        + "as 500ms, 10s, 2m or 1h; a number without a unit is seconds)", run(Map.of(), "--drain-timeout=soon"));
    assertRefused("--max-tunnels: 0 (expected: > 0)", run(Map.of(), "--max-tunnels", "0"));
    assertRefused("--reflection-refresh: 0s (expected: > 0)", run(Map.of(), "--reflection-refresh", "0"));
    assertRefused("--tls-cert and --tls-key go together: give both or neither", run(Map.of(), "--tls-cert", "x.pem"));
  }

  /**
   * The size limits are bad options in every mode that takes them: demo mode handed --max-inbound-metadata 0 to
   * grpc-java's builder, which refused it only once the gateway was starting ("cannot start: maxInboundMetadataSize
   * must be positive: 0", exit 1).
   */
  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aSizeLimitBelowOneIsABadOptionInDemoAndProxyModes() {
    for (String[] mode : new String[][] {{"--port=0"}, {"--port=0", "--upstream=127.0.0.1:1"}}) {
      for (String flag : new String[] {"--max-inbound-message", "--max-inbound-metadata"}) {
        String[] args = java.util.Arrays.copyOf(mode, mode.length + 1);
        args[mode.length] = flag + "=0";
        assertRefused(flag + ": 0 (expected: > 0)", run(Map.of(), args));
      }
    }
  }

  /** A range reads as the flags' own ranges do (--port: "0 to 65535"): it named the library's setting in the flag's. */
  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aValueOutOfItsRangeIsRefusedWithTheRangeAlone() {
    assertRefused("--ipv6-client-prefix: 129 (expected: 1 to 128)", run(Map.of(), "--ipv6-client-prefix=129"));
    assertRefused("--max-rst-frames: -1 (expected: 0 to 2147483646)", run(Map.of(), "--max-rst-frames=-1"));
    assertRefused("--max-request-headers: 100 (expected: 256 to 1048576)",
        run(Map.of(), "--max-request-headers=100"));
    assertRefused("--max-control-frames: -1 (expected: 0 to 2147483646)",
        run(Map.of(), "--mode=relay", "--upstream=127.0.0.1:1", "--max-control-frames=-1"));
  }

  /**
   * Every duration is refused at start outside 1 ms to about 24.8 days (0 too, where it turns the timer off), in every
   * mode: a longer one overflowed when its timer was set (--drain-timeout 999999999999h crashed with "long overflow"
   * at SIGTERM; --idle-timeout and --upstream-keepalive when a tunnel opened in relay mode; --reflection-refresh
   * at start with a stack trace), and 0.0004s was read as 0, an idle timeout or a keepalive silently off.
   */
  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void everyDurationIsOneMillisecondToAbout25Days() {
    String atMost = ": 999999999999h (expected: at most 2147483647 ms, about 24.8 days)";
    for (String[] mode : new String[][] {{"--mode=relay", "--upstream=127.0.0.1:1"},
        {"--mode=proxy", "--upstream=127.0.0.1:1"}, {}}) {
      for (String flag : new String[] {"--drain-timeout", "--idle-timeout", "--upstream-keepalive",
          "--upstream-keepalive-timeout", "--max-connection-age", "--upstream-refresh", "--reflection-refresh",
          "--handshake-timeout", "--browser-body-timeout", "--browser-keepalive-timeout", "--browser-send-timeout"}) {
        String[] args = java.util.Arrays.copyOf(mode, mode.length + 2);
        args[mode.length] = "--port=0";
        args[mode.length + 1] = flag + "=999999999999h";
        assertRefused(flag + atMost, run(Map.of(), args));
      }
    }
    assertRefused("TUNNEL_DRAIN_TIMEOUT=999999999999h: --drain-timeout" + atMost,
        run(Map.of("TUNNEL_DRAIN_TIMEOUT", "999999999999h")));
    assertRefused("--drain-timeout: 9223372036854775807ms (expected: at most 2147483647 ms, about 24.8 days)",
        run(Map.of(), "--drain-timeout=9223372036854775807ms"));
    assertRefused("--idle-timeout: 0.0004s (expected: 0, or at least 1 ms)",
        run(Map.of(), "--mode=relay", "--upstream=127.0.0.1:1", "--idle-timeout=0.0004s"));
    assertRefused("--upstream-keepalive: 0.0004s (expected: 0, or at least 1 ms)",
        run(Map.of(), "--upstream=127.0.0.1:1", "--upstream-keepalive=0.0004"));
    assertRefused("--max-connection-age: 0.0004s (expected: 0, or at least 1 ms)",
        run(Map.of(), "--max-connection-age=0.0004s"));
    assertRefused("--drain-timeout: -1s (expected: >= 0)", run(Map.of(), "--drain-timeout=-1s"));
    assertRefused("--max-connection-age: -1s (expected: >= 0)", run(Map.of(), "--max-connection-age=-1s"));
    // Relay mode sets both keepalive values at once: a refused timeout is named as such.
    assertRefused("--upstream-keepalive-timeout: 0s (expected: > 0)",
        run(Map.of(), "--mode=relay", "--upstream=127.0.0.1:1", "--upstream-keepalive-timeout=0"));
    // The bounds themselves are taken, each in a mode that uses it.
    String longest = "2147483647ms";
    TunnelServerMain m = parse(Map.of(), "--mode=relay", "--upstream=127.0.0.1:1", "--drain-timeout=" + longest,
        "--idle-timeout=" + longest, "--upstream-keepalive=" + longest, "--upstream-keepalive-timeout=" + longest);
    m.buildOptions();
    assertEquals(Duration.ofMillis(Integer.MAX_VALUE), m.drainTimeout);
    parse(Map.of(), "--upstream=127.0.0.1:1", "--browser-origins=*", "--max-connection-age=" + longest,
        "--upstream-refresh=1ms", "--reflection-refresh=1ms", "--browser-body-timeout=1ms",
        "--browser-keepalive-timeout=1ms", "--browser-send-timeout=1ms").buildOptions();
    parse(Map.of(), "--upstream=127.0.0.1:1", "--browser-origins=*", "--idle-timeout=0", "--upstream-keepalive=0",
        "--drain-timeout=0", "--upstream-refresh=" + longest, "--reflection-refresh=" + longest,
        "--browser-body-timeout=" + longest, "--browser-keepalive-timeout=" + longest,
        "--browser-send-timeout=" + longest).buildOptions();
  }

  /**
   * An option that the chosen mode, or the options it comes with, never reads is refused at start, saying what it
   * needs and why: relay mode parsed and checked --max-inbound-message and its kind, and then passed the bytes to the
   * upstream unread, the operator believing the limit applied. Whether from the command line or its variable.
   */
  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void anOptionTheModeWouldIgnoreIsRefusedSayingWhatItNeeds(@TempDir File dir) throws Exception {
    String relayPasses = " needs demo or proxy mode: relay mode passes each tunnel's HTTP/2 bytes to an upstream "
        + "unread, so the upstream's own ";
    String useProxy = " applies (set it there); use --mode proxy for the gateway to apply it";
    String[] relay = {"--mode=relay", "--upstream=127.0.0.1:1", "--port=0"};
    assertRefused("--max-concurrent-streams" + relayPasses + "SETTINGS_MAX_CONCURRENT_STREAMS" + useProxy,
        run(Map.of(), with(relay, "--max-concurrent-streams=10")));
    assertRefused("--max-inbound-message" + relayPasses + "message size limit" + useProxy,
        run(Map.of(), with(relay, "--max-inbound-message=8388608")));
    assertRefused("--max-inbound-metadata" + relayPasses + "metadata size limit" + useProxy,
        run(Map.of(), with(relay, "--max-inbound-metadata=16384")));
    assertRefused("--max-connection-age" + relayPasses + "connection age (grpc-java: maxConnectionAge)" + useProxy,
        run(Map.of(), with(relay, "--max-connection-age=1h")));
    assertRefused("TUNNEL_MAX_INBOUND_MESSAGE=8388608: --max-inbound-message" + relayPasses + "message size limit"
        + useProxy, run(Map.of("TUNNEL_MAX_INBOUND_MESSAGE", "8388608"), relay));
    assertRefused("--browser-body-timeout needs --browser-origins: it bounds gRPC-Web request bodies, and without "
        + "--browser-origins there are no browser calls", run(Map.of(), "--port=0", "--browser-body-timeout=5s"));
    assertRefused("TUNNEL_BROWSER_BODY_TIMEOUT=5s: --browser-body-timeout needs --browser-origins: it bounds "
        + "gRPC-Web request bodies, and without --browser-origins there are no browser calls",
        run(Map.of("TUNNEL_BROWSER_BODY_TIMEOUT", "5s"), "--port=0", "--upstream=127.0.0.1:1"));
    assertRefused("TUNNEL_BROWSER_KEEPALIVE_TIMEOUT=5s: --browser-keepalive-timeout needs --browser-origins: it "
        + "closes idle gRPC-Web connections, and without --browser-origins there are none",
        run(Map.of("TUNNEL_BROWSER_KEEPALIVE_TIMEOUT", "5s"), "--port=0"));
    String reflection = "--reflection-refresh needs --browser-origins and --upstream in --mode proxy: it times the "
        + "schemas fetched from the upstream's server reflection for JSON-over-WebSocket calls, which only proxy "
        + "mode fetches";
    assertRefused(reflection, run(Map.of(), "--port=0", "--browser-origins=*", "--reflection-refresh=1m"));
    assertRefused(reflection, run(Map.of(), "--port=0", "--upstream=127.0.0.1:1", "--reflection-refresh=1m"));
    assertRefused("--upstream-keepalive needs --upstream HOST:PORT: it watches upstream connections, and demo mode "
        + "has none", run(Map.of(), "--port=0", "--upstream-keepalive=10s"));
    assertRefused("--upstream-keepalive-timeout needs --upstream HOST:PORT: it watches upstream connections, and "
        + "demo mode has none", run(Map.of(), "--port=0", "--upstream-keepalive-timeout=2s"));
    assertRefused("--upstream-refresh needs --upstream HOST:PORT: it times how often upstream names are looked up "
        + "again, and demo mode has none", run(Map.of(), "--port=0", "--upstream-refresh=10s"));
    assertRefused("--upstream-health-service needs --upstream HOST:PORT in --mode proxy: it names the service "
        + "proxy mode's health checks ask about; relay mode does no health checks, and demo mode has no upstreams",
        run(Map.of(), with(relay, "--upstream-health-service=echo.Echo")));
    assertRefused("--upstream-health-service needs --upstream-health-check (on by default): it names the service "
        + "that health checks ask about", run(Map.of(), "--port=0", "--upstream=127.0.0.1:1",
            "--no-upstream-health-check", "--upstream-health-service=echo.Echo"));
    String proxyCalls = " needs --upstream HOST:PORT in --mode proxy: only proxy mode makes calls of its own to "
        + "upstreams (relay mode passes each client's bytes, demo mode has no upstreams)";
    assertRefused("--upstream-authority" + proxyCalls, run(Map.of(), "--port=0", "--upstream-authority=grpc"));
    assertRefused("--upstream-client-key" + proxyCalls, run(Map.of(), with(relay, "--upstream-tls",
        "--upstream-client-key=" + TestCertificates.create().serverKeyPem().getPath())));
    String threads = "--event-loop-threads needs --upstream HOST:PORT in --mode proxy: demo and relay modes serve on "
        + "event loops of their own number, twice the CPU count";
    assertRefused(threads, run(Map.of(), with(relay, "--event-loop-threads=4")));
    assertRefused(threads, run(Map.of(), "--port=0", "--event-loop-threads=4"));
    assertRefused("--mode needs --upstream HOST:PORT: without upstreams the gateway serves its demo services (demo "
        + "mode)", run(Map.of(), "--port=0", "--mode=relay"));
    String controlFrames = "--max-control-frames needs --upstream HOST:PORT in --mode relay: in demo and proxy modes "
        + "grpc-java's server ends HTTP/2 and limits SETTINGS and PING frames itself (PING floods get GOAWAY "
        + "too_many_pings)";
    assertRefused(controlFrames, run(Map.of(), "--port=0", "--max-control-frames=10"));
    assertRefused(controlFrames, run(Map.of(), "--port=0", "--upstream=127.0.0.1:1", "--max-control-frames=10"));
    assertRefused("--max-pending-bytes needs --upstream HOST:PORT in --mode relay: only relay mode holds a tunnel's "
        + "bytes while its upstream connection is made",
        run(Map.of(), "--port=0", "--upstream=127.0.0.1:1", "--max-pending-bytes=134217728"));
    assertRefused("--forwarded-header needs --trusted-proxies: the header is read only from those proxies, and "
        + "without them from no one", run(Map.of(), "--port=0", "--forwarded-header=Forwarded"));
    String crossSite = "--allow-cross-site-credentials needs --browser-origins '*' and --tls-client-ca when "
        + "--allowed-origins is given: the list alone then decides which pages may open tunnels, pages of listed "
        + "--browser-origins need no such permission, and browser calls for any origin need it only over "
        + "connections with a credential browsers send by themselves, which is a TLS client certificate here "
        + "(bearer tokens are not one: a page's script adds them)";
    assertRefused(crossSite, run(Map.of(), "--port=0", "--allowed-origins=https://app.example",
        "--allow-cross-site-credentials"));
    // Browser calls for any origin with nothing a browser sends by itself: the permission would let nothing in.
    assertRefused(crossSite, run(Map.of(), "--port=0", "--allowed-origins=https://app.example",
        "--browser-origins=*", "--allow-cross-site-credentials"));
    // Bearer tokens are no such credential.
    File tokens = new File(dir, "tokens.txt");
    Files.write(tokens.toPath(), "secret app\n".getBytes(StandardCharsets.UTF_8));
    assertRefused(crossSite, run(Map.of(), "--port=0", "--allowed-origins=https://app.example",
        "--browser-origins=*", "--allow-cross-site-credentials", "--auth-tokens=" + tokens.getPath()));
    assertRefused("--admin-address needs --admin-port: it is about the admin listener, which only --admin-port "
        + "opens", run(Map.of(), "--port=0", "--admin-address=0.0.0.0"));
    assertRefused("TUNNEL_ADMIN_HOSTS=prometheus: --admin-hosts needs --admin-port: it is about the admin listener, "
        + "which only --admin-port opens", run(Map.of("TUNNEL_ADMIN_HOSTS", "prometheus"), "--port=0"));
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void adminHostsAreHostNamesWithoutAPort() {
    for (String name : new String[] {"gateway:9090", "http://gateway", "[::1]", "-gateway", "gate way"}) {
      assertRefused("--admin-hosts: " + name + " (expected: host names as monitoring sends them in Host, without a "
          + "port, such as gateway or wsgrpc-gateway.monitoring.svc)",
          run(Map.of(), "--port=0", "--admin-port=0", "--admin-hosts=" + name));
    }
    parse(Map.of(), "--admin-port=0", "--admin-hosts=gateway,wsgrpc_gateway_1,Gateway.Monitoring.svc.cluster.local")
        .buildOptions();
  }

  /** The options refused where they would be ignored, taken where they are used, and at their defaults anywhere. */
  @Test
  void optionsAreTakenInTheModesThatUseThemAndAtTheirDefaultsInAnyMode() {
    TestCertificates certs = TestCertificates.create();
    String[] demoAndProxy = {"--max-concurrent-streams=10", "--max-inbound-message=8388608",
        "--max-inbound-metadata=16384", "--max-connection-age=1h", "--browser-origins=*",
        "--browser-body-timeout=5s", "--browser-keepalive-timeout=5s", "--browser-send-timeout=5s",
        "--forwarded-header=Forwarded",
        "--trusted-proxies=10.0.0.0/8",
        "--allowed-origins=https://app.example", "--allow-cross-site-credentials",
        "--tls-cert=" + certs.serverCertPem().getPath(), "--tls-key=" + certs.serverKeyPem().getPath(),
        "--tls-client-ca=" + certs.caPem().getPath(), "--admin-port=0", "--admin-address=0.0.0.0",
        "--admin-hosts=prometheus"};
    parse(Map.of(), demoAndProxy).buildOptions();
    // Without --allowed-origins it lets pages of other sites open tunnels, whatever else is given.
    parse(Map.of(), "--allow-cross-site-credentials").buildOptions();
    parse(Map.of(), "--browser-origins=*", "--allow-cross-site-credentials").buildOptions();
    parse(Map.of(), with(demoAndProxy, "--upstream=127.0.0.1:1", "--mode=proxy", "--upstream-keepalive=10s",
        "--upstream-keepalive-timeout=2s", "--upstream-refresh=10s", "--upstream-health-service=echo.Echo",
        "--upstream-authority=grpc", "--event-loop-threads=4", "--reflection-refresh=1m")).buildOptions();
    parse(Map.of(), "--upstream=127.0.0.1:1", "--mode=relay", "--upstream-keepalive=10s",
        "--upstream-keepalive-timeout=2s", "--upstream-refresh=10s", "--max-control-frames=10",
        "--max-pending-bytes=134217728").buildOptions();
    // Relay mode looks its names up again every --upstream-refresh too, from its variable as well.
    parse(Map.of("TUNNEL_UPSTREAM_REFRESH", "5s"), "--upstream=127.0.0.1:1", "--mode=relay").buildOptions();
    // Each default given explicitly, in the modes that do not use it: as if it were not given.
    String[] defaults = {"--max-concurrent-streams=1000", "--max-inbound-message=4194304",
        "--max-inbound-metadata=8192", "--max-connection-age=0s", "--browser-body-timeout=60",
        "--browser-keepalive-timeout=75s", "--browser-send-timeout=60s",
        "--upstream-refresh=30s", "--upstream-health-service=", "--event-loop-threads=0", "--max-control-frames=100",
        "--max-pending-bytes=67108864", "--reflection-refresh=5m", "--forwarded-header=X-Forwarded-For",
        "--admin-address=127.0.0.1", "--upstream-keepalive=5m", "--upstream-keepalive-timeout=20s"};
    parse(Map.of(), with(defaults, "--mode=proxy")).buildOptions();
    Map<String, String> env = Map.of("TUNNEL_MAX_INBOUND_MESSAGE", "4194304", "TUNNEL_MAX_CONNECTION_AGE", "0");
    parse(env, with(defaults, "--upstream=127.0.0.1:1", "--mode=relay")).buildOptions();
    // --no-upstream-health-check asks for what demo and relay modes do anyway.
    parse(Map.of(), "--upstream=127.0.0.1:1", "--mode=relay", "--no-upstream-health-check").buildOptions();
  }

  /** {@code args} followed by {@code more}. */
  private static String[] with(String[] args, String... more) {
    String[] all = java.util.Arrays.copyOf(args, args.length + more.length);
    System.arraycopy(more, 0, all, args.length, more.length);
    return all;
  }

  @Test
  void theBrowserBodyTimeoutDefaultsTo60SecondsAndReachesTheBrowserOptions() throws Exception {
    assertEquals(Duration.ofSeconds(60),
        parse(Map.of(), "--browser-origins=*").buildOptions().browser().requestBodyTimeout());
    assertEquals(Duration.ofSeconds(5), parse(Map.of("TUNNEL_BROWSER_BODY_TIMEOUT", "5s"), "--browser-origins=*")
        .buildOptions().browser().requestBodyTimeout());
    assertEquals("--browser-body-timeout: 0s (expected: > 0)", assertThrows(CommandLine.ParameterException.class,
        () -> parse(Map.of(), "--browser-body-timeout", "0s").buildOptions()).getMessage());
  }

  @Test
  void theBrowserSendTimeoutDefaultsToTheLibrarysAndReachesTheBrowserOptions() throws Exception {
    assertEquals(BrowserOptions.DEFAULT_SEND_TIMEOUT,
        parse(Map.of(), "--browser-origins=*").buildOptions().browser().sendTimeout());
    assertEquals(Duration.ofSeconds(5), parse(Map.of("TUNNEL_BROWSER_SEND_TIMEOUT", "5s"),
        "--browser-origins=*").buildOptions().browser().sendTimeout());
    assertEquals("--browser-send-timeout: 0s (expected: > 0)", assertThrows(CommandLine.ParameterException.class,
        () -> parse(Map.of(), "--browser-send-timeout", "0s").buildOptions()).getMessage());
    assertRefused("--browser-send-timeout needs --browser-origins: it closes gRPC-Web connections whose client "
        + "stopped reading, and without --browser-origins there are none",
        run(Map.of(), "--port=0", "--browser-send-timeout=5s"));
  }

  @Test
  void theBrowserKeepAliveTimeoutDefaultsToTheLibrarysAndReachesTheBrowserOptions() throws Exception {
    assertEquals(BrowserOptions.DEFAULT_KEEP_ALIVE_TIMEOUT,
        parse(Map.of(), "--browser-origins=*").buildOptions().browser().keepAliveTimeout());
    assertEquals(Duration.ofSeconds(5), parse(Map.of("TUNNEL_BROWSER_KEEPALIVE_TIMEOUT", "5s"),
        "--browser-origins=*").buildOptions().browser().keepAliveTimeout());
    assertEquals("--browser-keepalive-timeout: 0s (expected: > 0)", assertThrows(CommandLine.ParameterException.class,
        () -> parse(Map.of(), "--browser-keepalive-timeout", "0s").buildOptions()).getMessage());
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aBadValueFromTheEnvironmentIsReportedUnderItsVariable() {
    assertRefused("TUNNEL_UPSTREAM_TLS=yes: Invalid value for option '--upstream-tls': 'yes' is not a boolean",
        run(Map.of("TUNNEL_UPSTREAM_TLS", "yes")));
    // A flag given alone takes no value: picocli still reads the variable's.
    assertRefused("TUNNEL_UPSTREAM_TLS=yes: Invalid value for option '--upstream-tls': 'yes' is not a boolean",
        run(Map.of("TUNNEL_UPSTREAM_TLS", "yes"), "--upstream-tls", "--upstream", "a:1"));
    assertRefused("TUNNEL_MAX_TUNNELS=0: --max-tunnels: 0 (expected: > 0)", run(Map.of("TUNNEL_MAX_TUNNELS", "0")));
    assertRefused("TUNNEL_DRAIN_TIMEOUT=soon: Invalid value for option '--drain-timeout': 'soon' is not a duration "
        + "(expected: a duration such as 500ms, 10s, 2m or 1h; a number without a unit is seconds)",
        run(Map.of("TUNNEL_DRAIN_TIMEOUT", "soon")));
    assertRefused("TUNNEL_UPSTREAM=http://foo:50051: --upstream: http://foo:50051 (expected: HOST:PORT, or one "
        + "target URI such as dns:///HOST:PORT; http:// is a URL, not a gRPC target: write foo:50051)",
        run(Map.of("TUNNEL_UPSTREAM", "http://foo:50051")));
    // The command line wins: its value is the one reported, under the flag alone.
    assertRefused("--max-tunnels: 0 (expected: > 0)",
        run(Map.of("TUNNEL_MAX_TUNNELS", "5"), "--max-tunnels=0"));
    assertRefused("--max-tunnels: 0 (expected: > 0)", run(Map.of("TUNNEL_MAX_TUNNELS", "5"), "--max-tunnels", "0"));
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aPkcs1KeyIsRefusedWithTheCommandThatConvertsIt(@TempDir File dir) throws Exception {
    File cert = new File(dir, "cert.pem");
    File key = new File(dir, "key.pem");
    TestCertificates.writeRsaWithPkcs1Key(cert, key);
    assertRefused("--tls-key: " + key + " (expected: a PEM PKCS#8 private key, -----BEGIN PRIVATE KEY-----; found "
        + "a PKCS#1 RSA key, -----BEGIN RSA PRIVATE KEY-----, which Java cannot read: convert it with openssl pkcs8 "
        + "-topk8 -nocrypt -in " + key + " -out " + new File(dir, "key-pkcs8.pem") + ")",
        run(Map.of(), "--tls-cert", cert.getPath(), "--tls-key", key.getPath()));
    assertRefused("--upstream-client-key: " + key + " (expected: a PEM PKCS#8 private key, -----BEGIN PRIVATE "
        + "KEY-----; found a PKCS#1 RSA key, -----BEGIN RSA PRIVATE KEY-----, which Java cannot read: convert it with "
        + "openssl pkcs8 -topk8 -nocrypt -in " + key + " -out " + new File(dir, "key-pkcs8.pem") + ")",
        run(Map.of(), "--upstream", "a:1", "--upstream-tls", "--upstream-client-cert", cert.getPath(),
            "--upstream-client-key", key.getPath()));
  }

  @Test
  void keysJavaCannotReadAreNamedAndKeysItCanPass() throws Exception {
    TestCertificates certs = TestCertificates.create();
    assertEquals(null, OptionFiles.privateKeyProblem(certs.serverKeyPem()));
    assertEquals(null, OptionFiles.certificatesProblem(certs.serverCertPem()));
    assertEquals("found a certificate and no -----BEGIN PRIVATE KEY-----: are the certificate and the key swapped?",
        OptionFiles.privateKeyProblem(certs.serverCertPem()));
    assertEquals("found a private key and no -----BEGIN CERTIFICATE-----: are the certificate and the key swapped?",
        OptionFiles.certificatesProblem(certs.serverKeyPem()));
    File ec = File.createTempFile("sec1-key", ".pem");
    File encrypted = File.createTempFile("encrypted key", ".pem");
    try {
      Files.write(ec.toPath(), "-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n"
          .getBytes(StandardCharsets.US_ASCII));
      assertEquals("found a SEC1 EC key, -----BEGIN EC PRIVATE KEY-----, which Java cannot read: convert it with "
          + "openssl pkcs8 -topk8 -nocrypt -in " + ec + " -out " + ec.getPath().replaceFirst("\\.pem$", "-pkcs8.pem"),
          OptionFiles.privateKeyProblem(ec));
      Files.write(encrypted.toPath(), ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n"
          + "-----END ENCRYPTED PRIVATE KEY-----\n").getBytes(StandardCharsets.US_ASCII));
      assertEquals("found an encrypted key, -----BEGIN ENCRYPTED PRIVATE KEY-----, and the gateway takes no "
          + "password: convert it with openssl pkcs8 -topk8 -nocrypt -in '" + encrypted + "' -out '"
          + encrypted.getPath().replaceFirst("\\.pem$", "-pkcs8.pem") + "'",
          OptionFiles.privateKeyProblem(encrypted));
    } finally {
      Files.delete(ec.toPath());
      Files.delete(encrypted.toPath());
    }
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aFileThatIsNotThereOrIsADirectoryIsRefusedSayingSo(@TempDir File dir) throws Exception {
    TestCertificates certs = TestCertificates.create();
    File missing = new File(dir, "nothere.pem");
    assertRefused("--tls-cert: " + missing + " (expected: a PEM certificate chain; no such file)",
        run(Map.of(), "--tls-cert", missing.getPath(), "--tls-key", certs.serverKeyPem().getPath()));
    assertRefused("--tls-cert: nothere.pem (expected: a PEM certificate chain; no such file in "
        + new File("").getAbsolutePath() + ")",
        run(Map.of(), "--tls-cert", "nothere.pem", "--tls-key", certs.serverKeyPem().getPath()));
    assertRefused("--tls-key: " + dir + " (expected: a PEM PKCS#8 private key, -----BEGIN PRIVATE KEY-----; it is "
        + "a directory)", run(Map.of(), "--tls-cert", certs.serverCertPem().getPath(), "--tls-key", dir.getPath()));
    assertRefused("--auth-tokens: " + missing + " (expected: a file of 'TOKEN PRINCIPAL' lines; no such file)",
        run(Map.of(), "--auth-tokens", missing.getPath()));
    assertRefused("--auth-tokens: " + dir + " (expected: a file of 'TOKEN PRINCIPAL' lines; it is a directory)",
        run(Map.of(), "--auth-tokens", dir.getPath()));
    File tokens = new File(dir, "tokens.txt");
    Files.write(tokens.toPath(), "# TOKEN PRINCIPAL\nsecret\n".getBytes(StandardCharsets.UTF_8));
    assertRefused("--auth-tokens: " + tokens + " line 2: expected 'TOKEN PRINCIPAL' but found 1 field(s)",
        run(Map.of(), "--auth-tokens", tokens.getPath()));
  }

  /**
   * A secret put where its file's path belongs (a PEM key or a token line in an environment variable, a URL with
   * user information) is not printed back in the error, which ends up in a container's log.
   */
  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aSecretGivenInPlaceOfItsFileIsNotPrintedBack() throws Exception {
    TestCertificates certs = TestCertificates.create();
    String pem = new String(Files.readAllBytes(certs.serverKeyPem().toPath()), StandardCharsets.US_ASCII);
    String keyLine = pem.lines().filter(l -> !l.startsWith("-----")).findFirst().orElseThrow();
    Outcome key = run(Map.of("TUNNEL_TLS_KEY", pem), "--tls-cert", certs.serverCertPem().getPath());
    assertEquals(2, key.exit);
    assertFalse(key.stderr.contains(keyLine), key.stderr);
    assertTrue(key.stderr.contains("TUNNEL_TLS_KEY=<" + pem.length() + " characters, not shown: the contents of a "
        + "file rather than its path?>: --tls-key: <" + pem.length() + " characters, not shown"), key.stderr);
    Outcome tokens = run(Map.of("TUNNEL_AUTH_TOKENS", "s3cret alice"));
    assertEquals(2, tokens.exit);
    assertFalse(tokens.stderr.contains("s3cret"), tokens.stderr);
    Outcome url = run(Map.of(), "--upstream", "https://user:t0ken@backend.example:443");
    assertEquals(2, url.exit);
    assertFalse(url.stderr.contains("t0ken"), url.stderr);
    assertTrue(url.stderr.contains("https://***@backend.example:443"), url.stderr);
  }

  /** A name that does not resolve is the address's fault, not the port's. */
  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void anAdminAddressThatDoesNotResolveIsNamedAsSuch() {
    Outcome o = run(Map.of("TUNNEL_ADMIN_ADDRESS", "monitor-typo.invalid"), "--port", "0", "--admin-port", "0");
    assertEquals(2, o.exit, o.stderr);
    assertTrue(o.stderr.startsWith("TUNNEL_ADMIN_ADDRESS=monitor-typo.invalid: --admin-address: monitor-typo.invalid "
        + "(expected: an address of this machine; the name does not resolve)\n"), o.stderr);
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aCertificateThatDoesNotParseIsABadOptionNotAStackTrace(@TempDir File dir) throws Exception {
    TestCertificates certs = TestCertificates.create();
    File garbled = new File(dir, "garbled.pem");
    Files.write(garbled.toPath(), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        .getBytes(StandardCharsets.US_ASCII));
    Outcome outcome = run(Map.of(), "--tls-cert", garbled.getPath(), "--tls-key", certs.serverKeyPem().getPath());
    assertEquals(2, outcome.exit, outcome.stderr);
    String[] lines = outcome.stderr.split("\n");
    assertEquals(2, lines.length, outcome.stderr);
    assertTrue(lines[0].startsWith("--tls-cert, --tls-key: " + garbled + ", " + certs.serverKeyPem() + " (expected: a "
        + "PEM certificate chain and a PEM PKCS#8 private key; "), outcome.stderr);
    assertEquals("Run 'java -jar tunnel-server.jar --help' for the options.", lines[1]);
  }

  /** A key of another certificate would fail every handshake: refused at start, naming both files. */
  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aKeyThatIsNotTheCertificatesIsABadOption() {
    TestCertificates certs = TestCertificates.create();
    TestCertificates other = TestCertificates.create();
    Outcome outcome = run(Map.of(), "--tls-cert", certs.serverCertPem().getPath(), "--tls-key",
        other.serverKeyPem().getPath());
    assertEquals(2, outcome.exit, outcome.stderr);
    assertTrue(outcome.stderr.startsWith("--tls-cert, --tls-key: " + certs.serverCertPem() + ", "
        + other.serverKeyPem() + " (expected: the private key of the first certificate of the chain; the key does "
        + "not belong to the certificate CN=localhost, the first in the chain)\n"), outcome.stderr);
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void anUpstreamUrlIsRefusedWithTheFormsThatWork() {
    assertRefused("--upstream: http://foo:50051 (expected: HOST:PORT, or one target URI such as dns:///HOST:PORT; "
        + "http:// is a URL, not a gRPC target: write foo:50051)", run(Map.of(), "--upstream", "http://foo:50051"));
    assertRefused("--upstream: https://foo/ (expected: HOST:PORT, or one target URI such as dns:///HOST:PORT; "
        + "https:// is a URL, not a gRPC target: write foo:PORT with --upstream-tls)",
        run(Map.of(), "--upstream", "https://foo/"));
    assertRefused("--upstream: xds:///foo (expected: HOST:PORT, or one target URI such as dns:///HOST:PORT; no "
        + "name resolver reads xds:// targets)", run(Map.of(), "--upstream", "xds:///foo"));
    assertRefused("--upstream: http://foo:50051 (expected: HOST:PORT)",
        run(Map.of(), "--mode", "relay", "--upstream", "http://foo:50051"));
  }

  @Test
  void upstreamsParseHostsPortsAndIpv6() {
    assertEquals("[a:1, [::1]:2]", Upstreams.parse(java.util.List.of("a:1,[::1]:2")).toString());
    assertEquals("--upstream: a (expected: HOST:PORT)",
        assertThrows(IllegalArgumentException.class, () -> Upstreams.parse(java.util.List.of("a"))).getMessage());
    assertEquals("--upstream: a:99999 (expected: HOST:PORT)",
        assertThrows(IllegalArgumentException.class, () -> Upstreams.parse(java.util.List.of("a:99999")))
            .getMessage());
  }

  @Test
  void jsonSchemaOptionsAreCheckedAtStart() throws Exception {
    assertEquals(Duration.ofMinutes(5), parse(Map.of()).reflectionRefresh);
    assertEquals("--reflection-refresh: 0s (expected: > 0)", assertThrows(CommandLine.ParameterException.class,
        () -> parse(Map.of(), "--reflection-refresh", "0s").buildOptions()).getMessage());
    assertEquals("--descriptor-set needs --browser-origins and --upstream in --mode proxy",
        assertThrows(CommandLine.ParameterException.class,
            () -> parse(Map.of(), "--descriptor-set", "x.protoset", "--upstream", "a:1").buildOptions())
            .getMessage());
    java.nio.file.Path garbage = java.nio.file.Files.createTempFile("garbage", ".protoset");
    try {
      java.nio.file.Files.write(garbage, new byte[] {(byte) 0xff, 1, 2});
      String message = assertThrows(CommandLine.ParameterException.class,
          () -> parse(Map.of(), "--descriptor-set", garbage.toString(), "--upstream", "a:1",
              "--browser-origins", "https://app.example").buildOptions()).getMessage();
      assertTrue(message.startsWith("--descriptor-set: " + garbage + ": expected a FileDescriptorSet (protoc "
          + "--descriptor_set_out) but it did not parse"), message);
    } finally {
      java.nio.file.Files.delete(garbage);
    }
  }

  @Test
  void jsonCallsAreHeldToTheServersMessageLimit() {
    assertEquals(4 * 1024 * 1024,
        parse(Map.of(), "--browser-origins", "*").buildOptions().browser().maxJsonMessageBytes());
    assertEquals(8 * 1024 * 1024, parse(Map.of(), "--browser-origins", "*", "--max-inbound-message", "8388608")
        .buildOptions().browser().maxJsonMessageBytes());
  }

  @Test
  void leakDetectionIsOffUnlessAPropertyChoosesItsLevel() {
    ResourceLeakDetector.Level before = ResourceLeakDetector.getLevel();
    try {
      Properties chosen = new Properties();
      ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
      chosen.setProperty("io.netty.leakDetection.level", "paranoid");
      TunnelServerMain.defaultLeakDetection(chosen);
      assertEquals(ResourceLeakDetector.Level.PARANOID, ResourceLeakDetector.getLevel());

      Properties older = new Properties();
      older.setProperty("io.netty.leakDetectionLevel", "advanced");
      TunnelServerMain.defaultLeakDetection(older);
      assertEquals(ResourceLeakDetector.Level.PARANOID, ResourceLeakDetector.getLevel());

      TunnelServerMain.defaultLeakDetection(new Properties());
      assertEquals(ResourceLeakDetector.Level.DISABLED, ResourceLeakDetector.getLevel());
    } finally {
      ResourceLeakDetector.setLevel(before);
    }
  }
}
