package dev.wsgrpc.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.util.ResourceLeakDetector;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class TunnelServerOptionsTest {

  private static TunnelServerMain parse(Map<String, String> env, String... args) {
    TunnelServerMain main = new TunnelServerMain();
    new CommandLine(main).setDefaultValueProvider(new EnvironmentDefaults(env)).parseArgs(args);
    return main;
  }

  @Test
  void builtInDefaults() {
    TunnelServerMain m = parse(Map.of());
    assertEquals(8080, m.port);
    assertEquals("0.0.0.0", m.bind);
    assertEquals("/grpc", m.path);
    assertEquals(Duration.ofSeconds(30), m.drainTimeout);
    assertTrue(m.nativeGrpc);
    assertTrue(m.upstream.isEmpty());
    assertEquals("X-Forwarded-For", m.forwardedHeader);
    assertEquals(64, m.ipv6ClientPrefix);
  }

  @Test
  void clientAddressOptionsComeFromTheEnvironmentToo() {
    TunnelServerMain m = parse(Map.of("TUNNEL_IPV6_CLIENT_PREFIX", "56", "TUNNEL_FORWARDED_HEADER", "Forwarded"));
    assertEquals(56, m.ipv6ClientPrefix);
    assertEquals("Forwarded", m.forwardedHeader);
  }

  @Test
  void environmentOverridesDefaultsAndTheCommandLineOverridesBoth() {
    Map<String, String> env = Map.of("TUNNEL_PORT", "9000", "TUNNEL_DRAIN_TIMEOUT", "5s",
        "TUNNEL_UPSTREAM", "a:1,b:2", "TUNNEL_NATIVE_GRPC", "false");
    TunnelServerMain fromEnv = parse(env);
    assertEquals(9000, fromEnv.port);
    assertEquals(Duration.ofSeconds(5), fromEnv.drainTimeout);
    assertEquals(java.util.List.of("a:1", "b:2"), fromEnv.upstream);
    assertEquals(false, fromEnv.nativeGrpc);
    assertEquals(9100, parse(env, "--port", "9100").port);
  }

  @Test
  void durationsReadUnitsAndIso() {
    TunnelServerMain.DurationConverter c = new TunnelServerMain.DurationConverter();
    assertEquals(Duration.ofMillis(500), c.convert("500ms"));
    assertEquals(Duration.ofSeconds(30), c.convert("30s"));
    assertEquals(Duration.ofMinutes(2), c.convert("2m"));
    assertEquals(Duration.ofHours(1), c.convert("1h"));
    assertEquals(Duration.ofSeconds(45), c.convert("PT45S"));
    assertEquals("'soon' is not a duration (expected: a duration such as 500ms, 10s, 2m or 1h; a number without a "
        + "unit is seconds)",
        assertThrows(CommandLine.TypeConversionException.class, () -> c.convert("soon")).getMessage());
  }

  @Test
  void upstreamsParseHostsPortsAndIpv6() {
    assertEquals("[a:1, [::1]:2]", Upstreams.parse(java.util.List.of("a:1,[::1]:2")).toString());
    assertEquals("--upstream: a (expected: HOST:PORT)",
        assertThrows(IllegalArgumentException.class, () -> Upstreams.parse(java.util.List.of("a"))).getMessage());
    assertEquals("--upstream: a:99999 (expected: HOST:PORT)",
        assertThrows(IllegalArgumentException.class, () -> Upstreams.parse(java.util.List.of("a:99999")))
            .getMessage());
  }

  @Test
  void jsonSchemaOptionsAreCheckedAtStart() throws Exception {
    assertEquals(Duration.ofMinutes(5), parse(Map.of()).reflectionRefresh);
    assertEquals("--reflection-refresh: PT0S (expected: > 0)", assertThrows(CommandLine.ParameterException.class,
        () -> parse(Map.of(), "--reflection-refresh", "0s").buildOptions()).getMessage());
    assertEquals("--descriptor-set needs --browser-origins and --upstream in --mode proxy",
        assertThrows(CommandLine.ParameterException.class,
            () -> parse(Map.of(), "--descriptor-set", "x.protoset", "--upstream", "a:1").buildOptions())
            .getMessage());
    java.nio.file.Path garbage = java.nio.file.Files.createTempFile("garbage", ".protoset");
    try {
      java.nio.file.Files.write(garbage, new byte[] {(byte) 0xff, 1, 2});
      String message = assertThrows(CommandLine.ParameterException.class,
          () -> parse(Map.of(), "--descriptor-set", garbage.toString(), "--upstream", "a:1",
              "--browser-origins", "https://app.example").buildOptions()).getMessage();
      assertTrue(message.startsWith("--descriptor-set: " + garbage + ": expected a FileDescriptorSet (protoc "
          + "--descriptor_set_out) but it did not parse"), message);
    } finally {
      java.nio.file.Files.delete(garbage);
    }
  }

  @Test
  void leakDetectionIsOffUnlessAPropertyChoosesItsLevel() {
    ResourceLeakDetector.Level before = ResourceLeakDetector.getLevel();
    try {
      Properties chosen = new Properties();
      ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
      chosen.setProperty("io.netty.leakDetection.level", "paranoid");
      TunnelServerMain.defaultLeakDetection(chosen);
      assertEquals(ResourceLeakDetector.Level.PARANOID, ResourceLeakDetector.getLevel());

      Properties older = new Properties();
      older.setProperty("io.netty.leakDetectionLevel", "advanced");
      TunnelServerMain.defaultLeakDetection(older);
      assertEquals(ResourceLeakDetector.Level.PARANOID, ResourceLeakDetector.getLevel());

      TunnelServerMain.defaultLeakDetection(new Properties());
      assertEquals(ResourceLeakDetector.Level.DISABLED, ResourceLeakDetector.getLevel());
    } finally {
      ResourceLeakDetector.setLevel(before);
    }
  }
}
