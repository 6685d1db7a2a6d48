package dev.wsgrpc.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Relay mode's upstream names, looked up in a table the test changes (a name missing from it does not resolve), each
 * lookup made by the test ({@link Upstreams#refresh}) with a period that never comes.
 */
class UpstreamsTest {

  private static final Duration NEVER = Duration.ofDays(1);

  private final Logger log = (Logger) LoggerFactory.getLogger(Upstreams.class);
  private final ListAppender<ILoggingEvent> lines = new ListAppender<>();
  private final Map<String, InetAddress> dns = new ConcurrentHashMap<>();
  /** When each lookup began; a lookup waits while the gate is closed. */
  private final BlockingQueue<Long> lookups = new LinkedBlockingQueue<>();
  private volatile CountDownLatch gate = new CountDownLatch(0);

  @BeforeEach
  void capture() {
    lines.start();
    log.addAppender(lines);
  }

  @AfterEach
  void release() {
    log.detachAppender(lines);
  }

  private InetAddress[] lookup(String host) throws UnknownHostException {
    lookups.add(System.nanoTime());
    try {
      gate.await();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    InetAddress address = dns.get(host);
    if (address == null) {
      throw new UnknownHostException(host + ": Name or service not known");
    }
    return new InetAddress[] {address};
  }

  private Upstreams upstreams(String... hosts) throws UnknownHostException {
    List<Upstreams.Target> targets = java.util.Arrays.stream(hosts).map(h -> new Upstreams.Target(h, 50051))
        .collect(Collectors.toList());
    return new Upstreams(targets, NEVER, this::lookup);
  }

  /** The lines logged at {@code level}, oldest first. */
  private List<String> logged(Level level) {
    return lines.list.stream().filter(e -> e.getLevel() == level).map(ILoggingEvent::getFormattedMessage)
        .collect(Collectors.toList());
  }

  private static String addresses(Upstreams upstreams) {
    return upstreams.rotation().stream().map(Upstreams.Resolved::toString).sorted().collect(Collectors.joining(", "));
  }

  /**
   * A name that stops resolving is one WARN line, however many lookups fail after it, and one INFO line when it
   * resolves again; a second outage is a new WARN line. Relay mode logged the WARN at every lookup (every 30 s, per
   * name) for as long as the name did not resolve.
   */
  @Test
  void aNameThatStopsResolvingIsOneWarnThenQuietUntilOneInfoWhenItResolvesAgain() throws Exception {
    dns.put("a.test", InetAddress.getByName("127.0.0.1"));
    dns.put("b.test", InetAddress.getByName("127.0.0.2"));
    try (Upstreams upstreams = upstreams("a.test", "b.test")) {
      assertEquals("a.test/127.0.0.1:50051, b.test/127.0.0.2:50051", addresses(upstreams));

      dns.remove("b.test");
      for (int i = 0; i < 5; i++) {
        upstreams.refresh();
      }
      assertEquals(List.of("Cannot resolve upstream b.test:50051: b.test: Name or service not known; check "
          + "--upstream and DNS"), logged(Level.WARN));
      assertNull(lines.list.get(0).getThrowableProxy(), "no stack trace");
      assertEquals("a.test/127.0.0.1:50051", addresses(upstreams), "the name's addresses are no longer used");

      dns.put("b.test", InetAddress.getByName("127.0.0.3"));
      for (int i = 0; i < 3; i++) {
        upstreams.refresh();
      }
      assertEquals(List.of("Upstream b.test:50051 resolves again, to 127.0.0.3"), logged(Level.INFO));
      assertEquals("a.test/127.0.0.1:50051, b.test/127.0.0.3:50051", addresses(upstreams));

      dns.remove("b.test");
      upstreams.refresh();
      upstreams.refresh();
      assertEquals(2, logged(Level.WARN).size(), "a new outage is a new line: " + logged(Level.WARN));
    }
  }

  /**
   * A name that does not resolve at start is its WARN line then, and none at the lookups after; while no name
   * resolves, the last good addresses stay in use.
   */
  @Test
  void aNameThatFailsFromTheStartIsOneWarnAndTheLastGoodAddressesStayWhenNoneResolves() throws Exception {
    dns.put("a.test", InetAddress.getByName("127.0.0.1"));
    try (Upstreams upstreams = upstreams("a.test", "gone.test")) {
      dns.remove("a.test");
      for (int i = 0; i < 5; i++) {
        upstreams.refresh();
      }
      assertEquals(List.of(
          "Cannot resolve upstream gone.test:50051: gone.test: Name or service not known; check --upstream and DNS",
          "Cannot resolve upstream a.test:50051: a.test: Name or service not known; check --upstream and DNS"),
          logged(Level.WARN));
      assertEquals("a.test/127.0.0.1:50051", addresses(upstreams), "the last good addresses");
      assertEquals(List.of(), logged(Level.INFO));
    }
  }

  /**
   * A failed connection has the names looked up again at once, on the resolver thread: the next tunnels take the
   * address a name has now. Failures until that lookup has looked share it (a dead upstream under load is one lookup,
   * not one per tunnel), and the lookup a later failure asks for begins no sooner than a second after it. Lookups
   * came only every refresh period.
   */
  @Test
  void failedConnectionsShareOneLookupAndTheNextBeginsNoSoonerThanASecondAfterIt() throws Exception {
    dns.put("a.test", InetAddress.getByName("127.0.0.1"));
    try (Upstreams upstreams = upstreams("a.test")) {
      lookups.clear(); // the one at start
      dns.put("a.test", InetAddress.getByName("127.0.0.2"));
      gate = new CountDownLatch(1);
      long failed = System.nanoTime();
      CompletableFuture<List<Upstreams.Resolved>> first = upstreams.connectFailed();
      assertTrue(lookups.poll(30, TimeUnit.SECONDS) != null, "no lookup after a failed connection");
      for (int i = 0; i < 1000; i++) {
        assertSame(first, upstreams.connectFailed(), "a failure while the lookup looks shares it");
      }
      gate.countDown();
      assertEquals("a.test/127.0.0.2:50051", first.get(30, TimeUnit.SECONDS).get(0).toString());
      assertEquals("a.test/127.0.0.2:50051", addresses(upstreams), "the next tunnels take the new address");
      assertEquals(List.of(), List.copyOf(lookups), "one lookup for 1001 failures");

      CompletableFuture<List<Upstreams.Resolved>> second = upstreams.connectFailed();
      assertNotSame(first, second);
      second.get(30, TimeUnit.SECONDS);
      long after = lookups.poll(30, TimeUnit.SECONDS) - failed;
      assertTrue(after >= Upstreams.LOOKUP_AFTER_FAILURE_SPACING.toNanos(),
          "the second lookup began " + TimeUnit.NANOSECONDS.toMillis(after) + " ms after the first failure");
      assertEquals(List.of(), List.copyOf(lookups));
    }
  }
}
