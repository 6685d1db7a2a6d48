package dev.wsgrpc.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.interop.InteropCases;
import io.grpc.ManagedChannel;
import io.grpc.ServerInterceptors;
import io.grpc.testing.integration.TestServiceImpl;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The standard gRPC interop cases (grpc.testing.TestService, the same cases every gRPC language runs) through the
 * tunnel. Each subclass names one {@link TunnelSetup}.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
abstract class AbstractInteropSuite {

  protected abstract TunnelSetup newSetup();

  @Test
  void everyInteropCasePasses() throws Exception {
    ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(2);
    try (TunnelSetup setup = newSetup()) {
      setup.start(ServerInterceptors.intercept(new TestServiceImpl(scheduler), TestServiceImpl.interceptors()));
      ManagedChannel channel = setup.newChannel();
      try {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int failed;
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8.name())) {
          failed = InteropCases.run(channel, InteropCases.ALL_CASES, out);
        }
        String output = bytes.toString(StandardCharsets.UTF_8.name());
        assertEquals(0, failed, output);
        assertTrue(output.contains(InteropCases.ALL_CASES.size() + " passed, 0 failed"), output);
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    } finally {
      scheduler.shutdownNow();
    }
  }
}
