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

  @Test
  void thePerClientLimitsLineSaysWhatACdnInFrontNeeds() {
    assertEquals("to change it, --max-tunnels-per-client; behind a CDN or proxy, --trusted-proxies with its "
        + "addresses, else every client it carries counts as the proxy's address",
        TunnelTracker.remedy(RejectReason.TOO_MANY_TUNNELS_PER_CLIENT));
  }
}
