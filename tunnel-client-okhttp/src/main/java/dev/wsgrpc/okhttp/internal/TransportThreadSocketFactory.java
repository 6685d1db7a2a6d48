package dev.wsgrpc.okhttp.internal;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;

/**
 * Plain sockets whose reads mark the reading thread as grpc-okhttp's transport thread
 * ({@link CallbacksAfterStartInterceptor#onTransportThread}), as the tunnel's own socket does: for grpc-okhttp channels
 * without a tunnel that use the interceptor (the benchmark's baseline, tests), so that it guards them alike.
 *
 * <p>Not API: it may change or go without notice.
 */
public final class TransportThreadSocketFactory extends UnconnectedSocketFactory {

  @Override
  public Socket createSocket() {
    return new Socket() {
      @Override
      public InputStream getInputStream() throws IOException {
        return new FilterInputStream(super.getInputStream()) {
          @Override
          public int read(byte[] b, int off, int len) throws IOException {
            CallbacksAfterStartInterceptor.onTransportThread();
            return super.read(b, off, len);
          }
        };
      }
    };
  }
}
