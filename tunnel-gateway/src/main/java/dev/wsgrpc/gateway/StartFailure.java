package dev.wsgrpc.gateway;

import dev.wsgrpc.gateway.proxy.UpstreamProblems;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.ParseResult;

/**
 * A gateway that cannot start (its port taken, no upstream name that resolves, a file gone since the options were
 * checked) says why in one line on stderr, {@code tunnel-server: cannot start: ...}, and exits with 1, without a
 * stack trace: an operator reads the line in a container's log or a unit's status.
 */
final class StartFailure implements IExecutionExceptionHandler {

  @Override
  public int handleExecutionException(Exception e, CommandLine commandLine, ParseResult parsed) {
    commandLine.getErr().println("tunnel-server: cannot start: " + describe(e));
    commandLine.getErr().flush();
    return 1;
  }

  /**
   * The messages of {@code failure} and its causes, joined by {@code ": "}, each once (a wrapper often repeats its
   * cause's), without Netty's native system call prefix ({@code "bind(..) failed with error(-98): "}), on one line.
   */
  static String describe(Throwable failure) {
    StringBuilder line = new StringBuilder();
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      String message = t.getMessage();
      if (message == null) {
        continue;
      }
      message = UpstreamProblems.withoutSystemCall(message).replaceAll("[\\r\\n\\t]+", " ");
      if (line.indexOf(message) < 0) {
        line.append(line.length() == 0 ? "" : ": ").append(message);
      }
    }
    return line.length() > 0 ? line.toString() : failure.getClass().getSimpleName();
  }
}
