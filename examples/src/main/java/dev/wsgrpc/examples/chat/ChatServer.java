package dev.wsgrpc.examples.chat;

import dev.wsgrpc.server.BrowserOptions;
import dev.wsgrpc.server.JsonSchemas;
import dev.wsgrpc.server.WebSocketServerOptions;
import dev.wsgrpc.server.WebSocketServers;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.io.InputStream;
import java.util.List;
import io.grpc.Server;
import io.grpc.Status;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * A chat server that clients reach through WebSocket: {@code ws://localhost:PORT/grpc}.
 *
 * <p>Usage: {@code ChatServer [port] [max-queued]} (default 8080 and {@value #DEFAULT_MAX_QUEUED}; port 0 picks a
 * free one). It prints the URL to dial, then serves until interrupted.
 */
public final class ChatServer implements AutoCloseable {

  /** Events that may wait for one slow member before it is dropped. */
  public static final int DEFAULT_MAX_QUEUED = 128;

  private final Server server;
  private final ChatHub hub;

  private ChatServer(Server server, ChatHub hub) {
    this.server = server;
    this.hub = hub;
  }

  /** Starts a server on {@code port} (0 for a free one) with {@link #DEFAULT_MAX_QUEUED}. */
  public static ChatServer start(int port) throws IOException {
    return start(port, DEFAULT_MAX_QUEUED);
  }

  /** Starts a server on {@code port} that drops a member once {@code maxQueued} events wait for it. */
  public static ChatServer start(int port, int maxQueued) throws IOException {
    ChatHub hub = new ChatHub(maxQueued);
    // grpc's default executor (a cached thread pool) runs the handlers. They never block, since a slow member's
    // events wait in its outbox rather than in a thread, so the pool stays as small as the number of members
    // talking at the same moment.
    ChatService service = new ChatService(hub);
    // Browsers join through the page at / (chat.html), which speaks JSON over a plain WebSocket (wsgrpc-json) to
    // the same service: the schemas come from the registered service. Any origin may use it here; a real deployment
    // names its page's origin.
    WebSocketServerOptions options = WebSocketServerOptions.newBuilder()
        .browser(BrowserOptions.newBuilder(List.of("*")).json(JsonSchemas.of(List.of(service))).build())
        .plainHttpHandler(ChatServer::page)
        .build();
    Server server = WebSocketServers.newServerBuilder(port, options)
        .addService(service)
        .build()
        .start();
    return new ChatServer(server, hub);
  }

  /** Answers {@code GET /} with the chat page; null (404) for anything else. */
  private static FullHttpResponse page(HttpRequest request, java.net.SocketAddress client, ByteBufAllocator alloc) {
    if (!request.uri().equals("/") && !request.uri().equals("/chat.html")) {
      return null;
    }
    byte[] html;
    try (InputStream in = ChatServer.class.getResourceAsStream("chat.html")) {
      html = in.readAllBytes();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
        alloc.buffer(html.length).writeBytes(html));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/html; charset=utf-8");
    return response;
  }

  /** The port clients dial. */
  public int port() {
    return ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  /**
   * Stops the server: no new connections, then every member's call ends with UNAVAILABLE, which tells clients to
   * rejoin once a server is back.
   */
  @Override
  public void close() throws InterruptedException {
    // shutdown() first: it stops listening and sends each tunnel an HTTP/2 GOAWAY, so the rejoin that follows a
    // member's UNAVAILABLE goes to a new connection (to the next server) instead of back into this one.
    server.shutdown();
    hub.closeAll(Status.UNAVAILABLE.withDescription("server shutting down"));
    if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  public static void main(String[] args) throws Exception {
    int port = args.length > 0 ? Integer.parseInt(args[0]) : 8080;
    int maxQueued = args.length > 1 ? Integer.parseInt(args[1]) : DEFAULT_MAX_QUEUED;
    ChatServer server = start(port, maxQueued);
    System.out.println("ChatServer listening on ws://localhost:" + server.port() + "/grpc; in a browser: http://localhost:"
        + server.port() + "/");
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        server.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }));
    server.server.awaitTermination();
  }
}
