package dev.wsgrpc.okhttp.android;

import static org.robolectric.Shadows.shadowOf;

import android.content.Context;
import android.net.ConnectivityManager;
import android.os.Build;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.android.AndroidChannelBuilder;
import org.robolectric.RuntimeEnvironment;
import org.robolectric.shadows.ShadowConnectivityManager;
import org.robolectric.shadows.ShadowNetwork;

/** Everything the tests do with Android framework types and Robolectric's shadows of them. */
final class AndroidFramework {

  private AndroidFramework() {}

  static int sdkInt() {
    return Build.VERSION.SDK_INT;
  }

  /** {@code AndroidChannelBuilder.usingBuilder(builder).context(application context).build()}. */
  static ManagedChannel androidChannel(ManagedChannelBuilder<?> builder) {
    Context context = RuntimeEnvironment.getApplication().getApplicationContext();
    return AndroidChannelBuilder.usingBuilder(builder).context(context).build();
  }

  private static ShadowConnectivityManager connectivity() {
    return shadowOf((ConnectivityManager) RuntimeEnvironment.getApplication()
        .getSystemService(Context.CONNECTIVITY_SERVICE));
  }

  /** How many callbacks are registered with ConnectivityManager (default-network ones included). */
  static int networkCallbacks() {
    return connectivity().getNetworkCallbacks().size();
  }

  /**
   * What the system does when the phone moves to another network: a new default network becomes available, and
   * every registered callback hears {@code onAvailable}.
   */
  static void newDefaultNetwork(int netId) {
    android.net.Network network = ShadowNetwork.newInstance(netId);
    for (ConnectivityManager.NetworkCallback callback : connectivity().getNetworkCallbacks()) {
      callback.onAvailable(network);
    }
  }
}
