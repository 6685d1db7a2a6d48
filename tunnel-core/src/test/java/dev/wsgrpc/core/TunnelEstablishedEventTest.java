package dev.wsgrpc.core;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class TunnelEstablishedEventTest {

  @Test
  void toStringShowsNoQueryAndNoBearerToken() throws Exception {
    TunnelEstablishedEvent event = new TunnelEstablishedEvent("/grpc?access_token=SECRET", "bearer.SECRET",
        new InetSocketAddress(InetAddress.getByAddress(new byte[] {10, 0, 0, 7}), 5512), null);
    assertEquals("TunnelEstablishedEvent(path=/grpc?<redacted>, subprotocol=bearer.<redacted>, "
        + "client=/10.0.0.7:5512)", event.toString());
    assertEquals("/grpc?access_token=SECRET", event.path(), "the accessors keep what came");
  }

  @Test
  void toStringShowsAPlainPathAndSubprotocolAsTheyAre() {
    assertEquals("TunnelEstablishedEvent(path=/grpc, subprotocol=wsgrpc.v1, client=null)",
        new TunnelEstablishedEvent("/grpc", "wsgrpc.v1", null, null).toString());
  }
}
