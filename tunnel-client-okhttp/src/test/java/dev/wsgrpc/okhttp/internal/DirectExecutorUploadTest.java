package dev.wsgrpc.okhttp.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.okhttp.OkHttpChannelBuilder;
import io.grpc.okhttp.internal.framed.ErrorCode;
import io.grpc.okhttp.internal.framed.FrameReader;
import io.grpc.okhttp.internal.framed.FrameWriter;
import io.grpc.okhttp.internal.framed.Header;
import io.grpc.okhttp.internal.framed.HeadersMode;
import io.grpc.okhttp.internal.framed.Http2;
import io.grpc.okhttp.internal.framed.Settings;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import okio.BufferedSink;
import okio.BufferedSource;
import okio.ByteString;
import okio.Okio;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An onReady-driven upload with {@code directExecutor()} against a server that opens the stream's window and then
 * the connection's: grpc-okhttp calls onReady from inside its flow controller as the connection's window opens, while
 * it sends the stream's pending bytes, and a message written there was appended after it had fixed how many it sends:
 * never sent (a third of the upload here, and the stream's end with it). With every onReady run on a thread of its
 * own the upload arrives whole. A real grpc-okhttp client over loopback against a raw HTTP/2 server written with
 * grpc-okhttp's own frame reader and writer, so that the windows open exactly in that order.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DirectExecutorUploadTest {

  private static final int MESSAGE = 64 * 1024;
  private static final int MESSAGES = 3;

  private final AtomicLong received = new AtomicLong();
  private final CountDownLatch ended = new CountDownLatch(1);

  @Test
  void anUploadWrittenFromOnReadyArrivesWholeWhenTheConnectionsWindowOpensWhileBytesWait() throws Exception {
    try (ServerSocket listener = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
      Thread server = new Thread(() -> serve(listener), "raw-http2-server");
      server.setDaemon(true);
      server.start();
      // Sockets whose reads mark grpc-okhttp's reader thread, as the tunnel's socket does.
      ManagedChannel channel = OkHttpChannelBuilder.forAddress("127.0.0.1", listener.getLocalPort()).usePlaintext()
          .socketFactory(new TransportThreadSocketFactory()).directExecutor().intercept(new CallbacksAfterStartInterceptor())
          .build();
      try {
        awaitReady(channel); // the stream then starts inside ClientCall.start, as on a channel in use
        ClientCall<byte[], byte[]> call = channel.newCall(UPLOAD, CallOptions.DEFAULT);
        byte[] payload = new byte[MESSAGE];
        call.start(new ClientCall.Listener<byte[]>() {
          private int sent;
          private boolean halfClosed;

          @Override
          public void onReady() {
            while (sent < MESSAGES && call.isReady()) {
              call.sendMessage(payload);
              sent++;
            }
            if (sent == MESSAGES && !halfClosed) {
              halfClosed = true;
              call.halfClose();
            }
          }
        }, new Metadata());
        call.request(1);
        assertTrue(ended.await(30, TimeUnit.SECONDS), "the upload ended; the server had " + received.get()
            + " of " + (long) MESSAGES * (MESSAGE + 5) + " bytes");
        assertEquals((long) MESSAGES * (MESSAGE + 5), received.get());
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  private static void awaitReady(ManagedChannel channel) throws InterruptedException {
    CountDownLatch ready = new CountDownLatch(1);
    watch(channel, ready);
    assertTrue(ready.await(30, TimeUnit.SECONDS), "the channel connected: " + channel.getState(false));
  }

  private static void watch(ManagedChannel channel, CountDownLatch ready) {
    ConnectivityState state = channel.getState(true);
    if (state == ConnectivityState.READY) {
      ready.countDown();
      return;
    }
    channel.notifyWhenStateChanged(state, () -> watch(channel, ready));
  }

  /**
   * Answers the preface with default SETTINGS (65,535-byte windows), acknowledges SETTINGS and PINGs, and once the
   * first window's worth of DATA has come, opens the stream's window and then the connection's, by 1 MiB each.
   */
  private void serve(ServerSocket listener) {
    try (Socket socket = listener.accept()) {
      BufferedSource in = Okio.buffer(Okio.source(socket));
      BufferedSink out = Okio.buffer(Okio.sink(socket));
      FrameReader reader = new Http2().newReader(in, false);
      FrameWriter writer = new Http2().newWriter(out, false);
      reader.readConnectionPreface();
      writer.settings(new Settings());
      writer.flush();
      FrameReader.Handler handler = new FrameReader.Handler() {
        private boolean opened;

        @Override
        public void data(boolean inFinished, int streamId, BufferedSource source, int length, int paddedLength)
            throws IOException {
          source.skip(length);
          long total = received.addAndGet(length);
          if (total >= 65_535 && !opened) {
            opened = true;
            writer.windowUpdate(streamId, 1 << 20); // the connection's window is still shut: nothing moves
            writer.flush();
            writer.windowUpdate(0, 1 << 20); // now grpc-okhttp sends the pending bytes, calling onReady midway
            writer.flush();
          }
          if (inFinished) {
            ended.countDown();
          }
        }

        @Override
        public void headers(boolean outFinished, boolean inFinished, int streamId, int associatedStreamId,
            List<Header> headerBlock, HeadersMode headersMode) {}

        @Override
        public void rstStream(int streamId, ErrorCode errorCode) {}

        @Override
        public void settings(boolean clearPrevious, Settings settings) {
          try {
            writer.ackSettings(settings);
            writer.flush();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }

        @Override
        public void ackSettings() {}

        @Override
        public void ping(boolean ack, int payload1, int payload2) {
          try {
            if (!ack) {
              writer.ping(true, payload1, payload2);
              writer.flush();
            }
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }

        @Override
        public void goAway(int lastGoodStreamId, ErrorCode errorCode, ByteString debugData) {}

        @Override
        public void windowUpdate(int streamId, long windowSizeIncrement) {}

        @Override
        public void priority(int streamId, int streamDependency, int weight, boolean exclusive) {}

        @Override
        public void pushPromise(int streamId, int promisedStreamId, List<Header> requestHeaders) {}

        @Override
        public void alternateService(int streamId, String origin, ByteString protocol, String host, int port,
            long maxAge) {}
      };
      while (reader.nextFrame(handler)) {
        // every frame to the handler, until the client closes
      }
    } catch (IOException | UncheckedIOException e) {
      // the client closed the connection
    }
  }

  private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<byte[]>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  private static final MethodDescriptor<byte[], byte[]> UPLOAD = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.CLIENT_STREAMING).setFullMethodName("test.Upload/Up")
      .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
}
