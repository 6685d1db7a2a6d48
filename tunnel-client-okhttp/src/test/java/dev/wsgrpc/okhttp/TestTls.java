package dev.wsgrpc.okhttp;

import dev.wsgrpc.testing.TestCertificates;
import javax.net.ssl.SSLContext;

/** One test CA and server certificate (for {@code localhost}) for the scripted TLS servers of this module's tests. */
final class TestTls {

  static final TestCertificates CERTIFICATES = TestCertificates.create();

  private TestTls() {}

  /** A server context for {@link ScriptedHttpServer}, or null (plain) when {@code tls} is false. */
  static SSLContext server(boolean tls) {
    return tls ? CERTIFICATES.jdkServerContext() : null;
  }

  /** {@code options} for a server's URL, trusting the test CA when it is wss. */
  static OkHttpWebSocketOptions.Builder options(String url) {
    OkHttpWebSocketOptions.Builder options = OkHttpWebSocketOptions.newBuilder(url);
    if (url.startsWith("wss:")) {
      options.tls(ClientTls.trusting(CERTIFICATES.caPem()));
    }
    return options;
  }
}
