package dev.wsgrpc.server;

/**
 * Fired when a connection turns out to speak gRPC directly (the HTTP/2 preface in the clear, or ALPN {@code h2}
 * over TLS) rather than asking for a tunnel: whoever takes over serves it as plain HTTP/2.
 */
public final class NativeHttp2Event {

  /** The only instance: the event carries nothing. */
  public static final NativeHttp2Event INSTANCE = new NativeHttp2Event();

  private NativeHttp2Event() {}

  @Override
  public String toString() {
    return "NativeHttp2Event";
  }
}
