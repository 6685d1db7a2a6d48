package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.TestCertificates;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Many idle connections held by one server: {@link IdleServer} and {@link IdleClients} each in a JVM of their own,
 * the server's heap (after full collections) and RSS read before the clients connect and once they all have.
 *
 * <p>Every child starts through {@code sh -c 'ulimit -n N'}, N the connections it holds plus a margin, or the hard
 * limit when N is above it (raising the hard limit needs {@code CAP_SYS_RESOURCE}); a count the server's limit cannot
 * hold is cut to what it can, and the result says so. The clients are spread over as many processes as their own
 * limit needs, at most {@link #PER_SOURCE} each, each process from a loopback source address of its own
 * (127.0.0.2, 127.0.0.3, ...) when there is more than one: a source address has about 28,000 ephemeral ports.
 */
final class IdleTunnels {

  /** What one kind of connection costs the server when idle. */
  record Result(String kind, int requested, int connected, int held, long heapBefore, long heapAfter,
      long rssBefore, long rssAfter, double seconds, String note) {

    Result(String kind, int requested, int connected, int held, long heapBefore, long heapAfter, long rssBefore,
        long rssAfter, double seconds) {
      this(kind, requested, connected, held, heapBefore, heapAfter, rssBefore, rssAfter, seconds, null);
    }

    double heapPerConnection() {
      return held == 0 ? Double.NaN : (double) (heapAfter - heapBefore) / held;
    }

    double rssPerConnection() {
      return held == 0 || rssBefore < 0 ? Double.NaN : (double) (rssAfter - rssBefore) / held;
    }
  }

  private final TestCertificates certs;

  IdleTunnels(TestCertificates certs) {
    this.certs = certs;
  }

  /** Connections per client process at most: below the 28,232 ephemeral ports of one source address. */
  static final int PER_SOURCE = 25_000;
  /** Files a child needs besides its connections (jars, epoll, pipes). */
  private static final int MARGIN = 512;

  Result measure(String kind, int count) throws Exception {
    boolean tls = kind.equals("h2") || kind.equals("wss");
    List<String> serverArgs = new ArrayList<>(List.of(kind));
    if (tls) {
      serverArgs.add(certs.serverCertPem().getPath());
      serverArgs.add(certs.serverKeyPem().getPath());
    }
    int limit = fileLimit(count + MARGIN);
    String note = null;
    int requested = count;
    if (count > limit - MARGIN) {
      count = limit - MARGIN;
      note = "cut to " + count + ": one process may open " + limit + " files here (ulimit -Hn; raising it needs "
          + "CAP_SYS_RESOURCE)";
    }
    // A lower share per process (system property, for checking the spreading where the file limit is low).
    int perProcess = Math.max(1, Math.min(Integer.getInteger("wsgrpc.bench.idlePerProcess", PER_SOURCE), count));
    int processes = (count + perProcess - 1) / perProcess;
    // About 10 KiB of heap per tunnel on the server, more on the client side (a channel each); at least as before.
    String serverHeap = "-Xmx" + Math.max(1024, 256 + count / 40) + "m";
    String clientHeap = "-Xmx" + Math.max(4096 / processes, 512 + perProcess / 8) + "m";
    long started = System.nanoTime();
    try (ChildJvm server = ChildJvm.start(IdleServer.class, serverHeap, count + MARGIN, serverArgs)) {
      int port = Integer.parseInt(server.expect("PORT").split(" ")[1]);
      long[] before = parseMeasure(server.ask("MEASURE", "HEAP"));
      List<ChildJvm> clients = new ArrayList<>();
      try {
        for (int i = 0; i < processes; i++) {
          int n = Math.min(perProcess, count - i * perProcess);
          List<String> clientArgs = new ArrayList<>(List.of(kind, Integer.toString(port), Integer.toString(n)));
          clientArgs.add(tls ? certs.caPem().getPath() : "-");
          if (processes > 1) {
            clientArgs.add("127.0.0." + (2 + i));
          }
          clients.add(ChildJvm.start(IdleClients.class, clientHeap, n + MARGIN, clientArgs));
        }
        int connected = 0;
        for (ChildJvm client : clients) {
          connected += Integer.parseInt(client.expect("READY").split(" ")[1]);
        }
        // Let the last handshakes settle (SETTINGS acknowledgements, first window updates).
        Thread.sleep(1000);
        long[] after = parseMeasure(server.ask("MEASURE", "HEAP"));
        return new Result(kind, requested, connected, (int) after[2], before[0], after[0], before[1], after[1],
            (System.nanoTime() - started) / 1e9, note);
      } finally {
        for (ChildJvm client : clients) {
          client.close();
        }
      }
    }
  }

  /**
   * Idle ws tunnels held by the gateway ({@code tunnel-server.jar}, its own JVM) in {@code mode} ({@code proxy}: one
   * socket per tunnel, the calls forwarded over a shared upstream connection; {@code relay}: two, each tunnel with an
   * upstream connection of its own) in front of an h2c {@link IdleServer}. The gateway's heap is read after full
   * collections ({@code jcmd GC.run}) from its {@code /metrics} ({@code wsgrpc_jvm_heap_used_bytes}), the tunnels it
   * holds from {@code wsgrpc_tunnels_open}, its RSS from {@code /proc}.
   */
  Result measureGateway(File jar, String template, String mode, int count) throws Exception {
    int perTunnel = mode.equals("relay") ? 2 : 1;
    int limit = fileLimit(perTunnel * count + MARGIN);
    String note = null;
    int requested = count;
    if (perTunnel * count > limit - MARGIN) {
      count = (limit - MARGIN) / perTunnel;
      note = "cut to " + count + ": one process may open " + limit + " files here (ulimit -Hn; raising it needs "
          + "CAP_SYS_RESOURCE)" + (perTunnel == 2 ? ", and relay mode takes two per tunnel" : "");
    }
    int perProcess = Math.max(1, Math.min(Integer.getInteger("wsgrpc.bench.idlePerProcess", PER_SOURCE), count));
    int processes = (count + perProcess - 1) / perProcess;
    String clientHeap = "-Xmx" + Math.max(4096 / processes, 512 + perProcess / 8) + "m";
    long started = System.nanoTime();
    try (ChildJvm upstream = ChildJvm.start(IdleServer.class, "-Xmx" + Math.max(1024, 256 + count / 40) + "m",
        (mode.equals("relay") ? count : 0) + MARGIN, List.of("h2c"))) {
      int upstreamPort = Integer.parseInt(upstream.expect("PORT").split(" ")[1]);
      int port = dev.wsgrpc.testing.ExternalProgram.freePort();
      List<String> command = new ArrayList<>(List.of("sh", "-c",
          ChildJvm.raiseFileLimit(perTunnel * count + MARGIN) + "; exec \"$@\"", "sh"));
      command.addAll(GatewaySetup.command(jar, template, port, "127.0.0.1:" + upstreamPort, mode));
      String all = Integer.toString(count + 1000);
      command.addAll(List.of("--max-tunnels", all, "--max-tunnels-per-client", all,
          "--max-handshakes-per-client", all));
      try (dev.wsgrpc.testing.ExternalProgram gateway = dev.wsgrpc.testing.ExternalProgram.start("gateway-idle",
          command)) {
        gateway.awaitListening(port, java.time.Duration.ofSeconds(60));
        long pid = gateway.process().pid();
        long heapBefore = gatewayHeapAfterGc(pid, port);
        long rssBefore = rss(pid);
        List<ChildJvm> clients = new ArrayList<>();
        try {
          for (int i = 0; i < processes; i++) {
            int n = Math.min(perProcess, count - i * perProcess);
            List<String> clientArgs = new ArrayList<>(List.of("ws", Integer.toString(port), Integer.toString(n), "-"));
            if (processes > 1) {
              clientArgs.add("127.0.0." + (2 + i));
            }
            clients.add(ChildJvm.start(IdleClients.class, clientHeap, n + MARGIN, clientArgs));
          }
          int connected = 0;
          for (ChildJvm client : clients) {
            connected += Integer.parseInt(client.expect("READY").split(" ")[1]);
          }
          Thread.sleep(1000);
          long heapAfter = gatewayHeapAfterGc(pid, port);
          long rssAfter = rss(pid);
          int held = (int) metric(port, "wsgrpc_tunnels_open");
          return new Result("gateway_" + mode, requested, connected, held, heapBefore, heapAfter, rssBefore, rssAfter,
              (System.nanoTime() - started) / 1e9, note);
        } finally {
          for (ChildJvm client : clients) {
            client.close();
          }
        }
      }
    }
  }

  /**
   * The gateway's used heap after two full collections: from its metrics, or where a gateway has no such metric
   * from {@code jcmd GC.heap_info} (the first {@code used} figure: the whole heap with G1, the default here).
   */
  private static long gatewayHeapAfterGc(long pid, int port) throws IOException, InterruptedException {
    String jcmd = new File(System.getProperty("java.home"), "bin/jcmd").getPath();
    for (int i = 0; i < 2; i++) {
      Process p = new ProcessBuilder(jcmd, Long.toString(pid), "GC.run").redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IOException("jcmd " + pid + " GC.run failed");
      }
    }
    try {
      return (long) metric(port, "wsgrpc_jvm_heap_used_bytes");
    } catch (IOException noSuchMetric) {
      Process p = new ProcessBuilder(jcmd, Long.toString(pid), "GC.heap_info").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor(60, TimeUnit.SECONDS);
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("used (\\d+)K").matcher(out);
      if (!m.find()) {
        throw new IOException("expected 'used NK' from jcmd " + pid + " GC.heap_info but got: " + out);
      }
      return Long.parseLong(m.group(1)) * 1024;
    }
  }

  /** One unlabelled metric of the gateway's {@code /metrics} on {@code port}. */
  private static double metric(int port, String name) throws IOException {
    java.net.HttpURLConnection c = (java.net.HttpURLConnection) new java.net.URL("http://127.0.0.1:" + port
        + "/metrics").openConnection();
    try (BufferedReader in = new BufferedReader(new InputStreamReader(c.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null) {
        if (line.startsWith(name + " ")) {
          return Double.parseDouble(line.substring(name.length() + 1).trim());
        }
      }
    } finally {
      c.disconnect();
    }
    throw new IOException("expected " + name + " in the gateway's /metrics but it was not there");
  }

  /** Resident set size of process {@code pid} in bytes (Linux), or -1. */
  private static long rss(long pid) {
    try {
      for (String line : java.nio.file.Files.readAllLines(java.nio.file.Paths.get("/proc/" + pid + "/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (Exception e) {
      // Not Linux: no RSS.
    }
    return -1;
  }

  /** The file limit a child started with {@code ulimit -n wanted} gets: {@code wanted}, or the hard limit if lower. */
  static int fileLimit(int wanted) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("sh", "-c", ChildJvm.raiseFileLimit(wanted) + "; ulimit -n")
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
    p.waitFor();
    try {
      return out.equals("unlimited") ? Integer.MAX_VALUE : Integer.parseInt(out);
    } catch (NumberFormatException e) {
      throw new IOException("expected the file limit from 'sh -c ulimit -n' but got '" + out + "'");
    }
  }

  private static long[] parseMeasure(String line) {
    String[] p = line.split(" ");
    return new long[] {Long.parseLong(p[1]), Long.parseLong(p[3]), Long.parseLong(p[5])};
  }
}
