package dev.wsgrpc.examples.nginx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.wsgrpc.examples.chat.ChatServer;
import dev.wsgrpc.examples.chat.ChatTerminal;
import dev.wsgrpc.examples.hello.HelloClient;
import dev.wsgrpc.examples.hello.HelloServer;
import dev.wsgrpc.testing.ExternalProgram;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The examples through a real nginx, configured by the example's own {@code nginx.conf} as committed: only its two
 * ports are replaced by free loopback ports.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class BehindNginxTest {

  private static final Path CONFIG = Path.of("src/main/java/dev/wsgrpc/examples/nginx/nginx.conf");
  private static final String UPSTREAM = "server 127.0.0.1:8080;";
  private static final String LISTEN = "listen 127.0.0.1:8081;";

  @Test
  void helloThroughNginx() throws Exception {
    Server server = HelloServer.start(0);
    int nginxPort = ExternalProgram.freePort();
    try (Nginx nginx = Nginx.start(config(port(server), nginxPort), nginxPort)) {
      assertEquals("Hello, nginx!", HelloClient.greet("ws://127.0.0.1:" + nginxPort + "/grpc", "nginx"),
          nginx::output);
    } finally {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void chatThroughNginxRejoinsAfterNginxRestarts() throws Exception {
    int nginxPort = ExternalProgram.freePort();
    try (ChatServer server = ChatServer.start(0);
        Nginx nginx = Nginx.start(config(server.port(), nginxPort), nginxPort)) {
      String url = "ws://127.0.0.1:" + nginxPort + "/grpc";
      try (ChatTerminal alice = ChatTerminal.open(url, "lobby", "alice");
          ChatTerminal bob = ChatTerminal.open(url, "lobby", "bob")) {
        alice.expect("* you joined #lobby as alice");
        bob.expect("* you joined #lobby as bob");
        alice.type("hello through nginx");
        bob.expect("<alice> hello through nginx");

        // Stopping nginx cuts both tunnels, as a proxy restart or an idle timeout would.
        nginx.restart();
        alice.expect("* connection lost (UNAVAILABLE");
        bob.expect("* connection lost (UNAVAILABLE");
        alice.expect("* you joined #lobby as alice");
        bob.expect("* you joined #lobby as bob");
        bob.type("back through nginx");
        alice.expect("<bob> back through nginx");
      }
    }
  }

  /** The most common mistake: proxying the upgrade like any request. The client's error says what came back. */
  @Test
  void withoutTheUpgradeLinesTheServerRefusesTheUpgrade() throws Exception {
    Server server = HelloServer.start(0);
    int nginxPort = ExternalProgram.freePort();
    String config = config(port(server), nginxPort);
    for (String line : new String[] {"proxy_http_version 1.1;", "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;"}) {
      config = replaceOnce(config, line, "");
    }
    try (Nginx nginx = Nginx.start(config, nginxPort)) {
      String url = "ws://127.0.0.1:" + nginxPort + "/grpc";
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> HelloClient.greet(url, "nginx"));
      assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
      assertEquals("expected HTTP 101 but was 400 Bad Request from " + url + " (Server: " + nginxVersion()
          + "); it said: \"expected HTTP/1.1 but was HTTP/1.0\"", e.getStatus().getDescription());
    } finally {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /** The committed configuration with its upstream and listen ports replaced. */
  private static String config(int upstreamPort, int nginxPort) throws Exception {
    String config = Files.readString(CONFIG);
    config = replaceOnce(config, UPSTREAM, "server 127.0.0.1:" + upstreamPort + ";");
    return replaceOnce(config, LISTEN, "listen 127.0.0.1:" + nginxPort + ";");
  }

  /** Replaces {@code text}, which must occur exactly once, so that an edit to the file cannot go untested. */
  private static String replaceOnce(String config, String text, String replacement) {
    int at = config.indexOf(text);
    assertEquals(true, at >= 0 && config.indexOf(text, at + 1) < 0, "expected '" + text + "' once in " + CONFIG);
    return config.substring(0, at) + replacement + config.substring(at + text.length());
  }

  private static int port(Server server) {
    return ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  /** "nginx/1.22.1", as nginx names itself in its Server header. */
  private static String nginxVersion() throws Exception {
    Process p = new ProcessBuilder(ExternalProgram.requireInstalled("nginx", "nginx-light"), "-v")
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes()).trim();   // "nginx version: nginx/1.22.1"
    p.waitFor(10, TimeUnit.SECONDS);
    return out.substring(out.indexOf("nginx/")).split("\\s")[0];
  }
}
