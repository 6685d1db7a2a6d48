package dev.wsgrpc.it;

import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import io.grpc.Server;
import java.net.InetSocketAddress;

/**
 * The Echo service on a tunnel server in a JVM of its own, {@code ws://127.0.0.1:PORT/grpc}, for tests that kill
 * the server process outright. Usage: {@code EchoServerMain PORT}.
 */
public final class EchoServerMain {

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    Server server = WebSocketServers.newServerBuilder(new InetSocketAddress("127.0.0.1", port),
        WebSocketServerOptions.DEFAULT).addService(new EchoService()).build().start();
    System.out.println("EchoServerMain listening on ws://127.0.0.1:" + port + "/grpc");
    server.awaitTermination();
  }

  /** The command that runs this class in a new JVM with the tests' classpath. */
  static java.util.List<String> command(int port) {
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    return java.util.Arrays.asList(System.getProperty("java.home") + "/bin/java", "-cp", classpath,
        EchoServerMain.class.getName(), String.valueOf(port));
  }

  private EchoServerMain() {}
}
