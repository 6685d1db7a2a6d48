package dev.wsgrpc.benchmarks;

import dev.wsgrpc.testing.TestCertificates;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Many idle connections held by one server: {@link IdleServer} and {@link IdleClients} each in a JVM of their own,
 * the server's heap (after full collections) and RSS read before the clients connect and once they all have.
 */
final class IdleTunnels {

  /** What one kind of connection costs the server when idle. */
  record Result(String kind, int requested, int connected, int held, long heapBefore, long heapAfter,
      long rssBefore, long rssAfter, double seconds) {

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

  Result measure(String kind, int count) throws Exception {
    boolean tls = kind.equals("h2") || kind.equals("wss");
    List<String> serverArgs = new ArrayList<>(List.of(kind));
    if (tls) {
      serverArgs.add(certs.serverCertPem().getPath());
      serverArgs.add(certs.serverKeyPem().getPath());
    }
    long started = System.nanoTime();
    try (Child server = Child.start(IdleServer.class, "-Xmx1g", serverArgs)) {
      int port = Integer.parseInt(server.expect("PORT").split(" ")[1]);
      long[] before = parseMeasure(server.ask("MEASURE", "HEAP"));
      List<String> clientArgs = new ArrayList<>(List.of(kind, Integer.toString(port), Integer.toString(count)));
      if (tls) {
        clientArgs.add(certs.caPem().getPath());
      }
      try (Child clients = Child.start(IdleClients.class, "-Xmx4g", clientArgs)) {
        String[] ready = clients.expect("READY").split(" ");
        // Let the last handshakes settle (SETTINGS acknowledgements, first window updates).
        Thread.sleep(1000);
        long[] after = parseMeasure(server.ask("MEASURE", "HEAP"));
        clients.send("EXIT");
        return new Result(kind, count, Integer.parseInt(ready[1]), (int) after[2], before[0], after[0], before[1],
            after[1], (System.nanoTime() - started) / 1e9);
      }
    }
  }

  private static long[] parseMeasure(String line) {
    String[] p = line.split(" ");
    return new long[] {Long.parseLong(p[1]), Long.parseLong(p[3]), Long.parseLong(p[5])};
  }

  /** A child JVM on this JVM's class path, talked to by lines on stdin and stdout. */
  static final class Child implements AutoCloseable {
    private final Process process;
    private final BufferedReader out;
    private final Writer in;

    private Child(Process process) {
      this.process = process;
      this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
      this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    }

    static Child start(Class<?> main, String heap, List<String> args) throws IOException {
      List<String> command = new ArrayList<>();
      command.add(new File(System.getProperty("java.home"), "bin/java").getPath());
      command.add(heap);
      command.add("-Dio.netty.leakDetection.level=disabled");
      command.add("-cp");
      command.add(System.getProperty("java.class.path"));
      command.add(main.getName());
      command.addAll(args);
      ProcessBuilder builder = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
      return new Child(builder.start());
    }

    /** Waits for a line starting with {@code prefix}, failing if the child ends first. */
    String expect(String prefix) throws IOException {
      String line;
      while ((line = out.readLine()) != null) {
        if (line.startsWith(prefix)) {
          return line;
        }
      }
      throw new IOException("expected a line '" + prefix + " ...' from the child but it ended with "
          + (process.isAlive() ? "output closed" : "exit code " + process.exitValue()));
    }

    String ask(String command, String answerPrefix) throws IOException {
      send(command);
      return expect(answerPrefix);
    }

    void send(String line) throws IOException {
      in.write(line + "\n");
      in.flush();
    }

    @Override
    public void close() throws InterruptedException {
      try {
        send("EXIT");
      } catch (IOException gone) {
        // Already ended.
      }
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }
}
