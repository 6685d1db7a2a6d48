package dev.wsgrpc.okhttp;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import java.util.concurrent.TimeUnit;

/**
 * The channel {@link OkHttpWebSocketChannels#newChannel} returns: grpc-okhttp's, whose {@link #shutdownNow} also
 * gives up the upgrades under way ({@link TunnelSocketFactory#shutdownNow}), so that it terminates at once rather
 * than when the handshake timeout passes. {@link #shutdown} lets them go on: calls buffered before it still run.
 */
final class TunnelChannel extends ManagedChannel {

  private final ManagedChannel channel;
  private final TunnelSocketFactory tunnels;

  TunnelChannel(ManagedChannel channel, TunnelSocketFactory tunnels) {
    this.channel = channel;
    this.tunnels = tunnels;
  }

  @Override
  public ManagedChannel shutdownNow() {
    channel.shutdownNow();
    tunnels.shutdownNow();
    return this;
  }

  @Override
  public ManagedChannel shutdown() {
    channel.shutdown();
    return this;
  }

  @Override
  public boolean isShutdown() {
    return channel.isShutdown();
  }

  @Override
  public boolean isTerminated() {
    return channel.isTerminated();
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    return channel.awaitTermination(timeout, unit);
  }

  @Override
  public <Q, R> ClientCall<Q, R> newCall(MethodDescriptor<Q, R> method, CallOptions options) {
    return channel.newCall(method, options);
  }

  @Override
  public String authority() {
    return channel.authority();
  }

  @Override
  public ConnectivityState getState(boolean requestConnection) {
    return channel.getState(requestConnection);
  }

  @Override
  public void notifyWhenStateChanged(ConnectivityState source, Runnable callback) {
    channel.notifyWhenStateChanged(source, callback);
  }

  @Override
  public void resetConnectBackoff() {
    channel.resetConnectBackoff();
  }

  @Override
  public void enterIdle() {
    channel.enterIdle();
  }

  @Override
  public String toString() {
    return channel.toString();
  }
}
