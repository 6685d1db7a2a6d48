package dev.wsgrpc.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wsgrpc.server.RejectReason;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class TunnelTrackerTest {

  @Test
  void eachLimitsLineNamesTheOptionThatChangesIt() {
    CommandLine.Model.CommandSpec gateway = new CommandLine(new TunnelServerMain()).getCommandSpec();
    for (RejectReason reason : RejectReason.values()) {
      if (!reason.isLimit()) {
        continue;
      }
      String remedy = TunnelTracker.remedy(reason);
      Matcher option = Pattern.compile("--[a-z-]+").matcher(remedy);
      assertTrue(option.find(), reason + ": " + remedy);
      do {
        assertTrue(gateway.findOption(option.group()) != null, reason + " names an option the gateway lacks: "
            + option.group());
      } while (option.find());
    }
  }

  /** A scrape that missed a tunnel closing meanwhile reads less than the one before: reported as that one. */
  @Test
  void aByteCounterNeverStepsBack() {
    TunnelTracker.Monotonic counter = new TunnelTracker.Monotonic();
    assertEquals(0, counter.next(0));
    assertEquals(1000, counter.next(1000));
    assertEquals(1000, counter.next(400), "the closing tunnel's 600 bytes were in neither sum");
    assertEquals(1600, counter.next(1600));
    assertEquals(1700, counter.next(1700));
  }

  @Test
  void theAccessLogShowsAPathAsPrintableTextOfBoundedLength() {
    String method = "/com.example.inventory.v1alpha1.InventoryManagementService/ListWarehouseLocations";
    assertEquals(method, TunnelTracker.loggedPath(method), "a long method path is shown whole");
    assertEquals("/grpc.health.v1.Health/Check?[2J?[31mFAKE LINE?", // a browser call's path is any the client sends
        TunnelTracker.loggedPath("/grpc.health.v1.Health/Check\u001b[2J\u001b[31mFAKE LINE\u0007"));
    String flood = "/" + "a".repeat(3000);
    assertEquals(flood.substring(0, TunnelTracker.LOGGED_PATH_CHARS) + "...", TunnelTracker.loggedPath(flood));
  }

  @Test
  void thePerClientLimitsLineSaysWhatACdnInFrontNeeds() {
    assertEquals("to change it, --max-tunnels-per-client; behind a CDN or proxy, --trusted-proxies with its "
        + "addresses, else every client it carries counts as the proxy's address",
        TunnelTracker.remedy(RejectReason.TOO_MANY_TUNNELS_PER_CLIENT));
  }
}
