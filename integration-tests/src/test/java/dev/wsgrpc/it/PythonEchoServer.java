package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.wsgrpc.testing.Closer;
import dev.wsgrpc.testing.ExternalProgram;
import dev.wsgrpc.testing.Observers;
import dev.wsgrpc.testing.TestCertificates;
import dev.wsgrpc.testing.proto.EchoGrpc;
import dev.wsgrpc.testing.proto.EchoRequest;
import dev.wsgrpc.testing.proto.EchoResponse;
import io.grpc.Channel;
import io.grpc.stub.StreamObserver;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A gRPC server whose transport no one here wrote: Python's grpcio (Debian python3-grpcio) serving the Echo service
 * from {@code python/echo_server.py} on a loopback port, h2c. Skips the test when grpcio is missing.
 */
final class PythonEchoServer implements AutoCloseable {

  private final Process process;
  private final int port;

  private PythonEchoServer(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  static PythonEchoServer start() throws Exception {
    String interpreter = ExternalProgram.requirePythonWithGrpc();
    URL script = PythonEchoServer.class.getResource("/python/echo_server.py");
    Path copy = Files.createTempFile("echo_server", ".py");
    copy.toFile().deleteOnExit();
    Files.copy(Paths.get(script.toURI()), copy, StandardCopyOption.REPLACE_EXISTING);
    Process python = new ProcessBuilder(interpreter, copy.toString()).redirectErrorStream(true).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(python.getInputStream(), StandardCharsets.UTF_8));
    String line = out.readLine();
    if (line == null || !line.trim().matches("\\d+")) {
      python.destroy();
      throw new AssertionError("python grpcio server did not start: " + line);
    }
    return new PythonEchoServer(python, Integer.parseInt(line.trim()));
  }

  /**
   * This server behind the gateway jar in relay mode, over ws, or over wss with {@code certs}' server certificate
   * if not null: both started, and closed by {@code closer}. Returns the jar; its URL is {@code awaitUrl()}.
   */
  static TunnelServerJar behindTheGateway(Closer closer, TestCertificates certs) throws Exception {
    PythonEchoServer python = closer.add(start());
    List<String> args = new ArrayList<>(List.of("--port", "0", "--mode", "relay", "--upstream",
        "127.0.0.1:" + python.port()));
    if (certs != null) {
      args.addAll(List.of("--tls-cert", certs.serverCertPem().getPath(), "--tls-key", certs.serverKeyPem().getPath()));
    }
    return closer.add(TunnelServerJar.start(args.toArray(new String[0])));
  }

  /**
   * Checks the three call kinds against {@code echo_server.py} through {@code channel}: a 200 kB unary echo, its five
   * server-streamed copies, and 200 bidi messages echoed in order.
   */
  static void assertEchoes(Channel channel) throws Exception {
    EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    EchoRequest request = EchoService.payload(200_000);
    assertEquals(request.getPayload(), stub.unary(request).getPayload());
    Iterator<EchoResponse> five = stub.serverStream(EchoService.payload(100));
    int n = 0;
    while (five.hasNext()) {
      assertEquals(100, five.next().getPayload().size());
      n++;
    }
    assertEquals(5, n);
    List<EchoResponse> echoed = new ArrayList<>();
    CompletableFuture<Void> done = new CompletableFuture<>();
    StreamObserver<EchoRequest> requests = EchoGrpc.newStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
        .bidi(Observers.collecting(echoed, done));
    for (int i = 0; i < 200; i++) {
      requests.onNext(EchoService.payload(i + 1));
    }
    requests.onCompleted();
    done.get(60, TimeUnit.SECONDS);
    assertEquals(200, echoed.size());
    for (int i = 0; i < 200; i++) {
      assertEquals(i + 1, echoed.get(i).getPayload().size());
    }
  }

  int port() {
    return port;
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    process.waitFor(10, TimeUnit.SECONDS);
  }
}
