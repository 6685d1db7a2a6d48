package dev.wsgrpc.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.wsgrpc.core.WebSocketTunnel;
import dev.wsgrpc.gateway.TunnelServerMain;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPBackendRef;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteRule;
import io.fabric8.kubernetes.api.model.networking.v1.HTTPIngressPath;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * deploy/kubernetes/*.yaml read into fabric8's typed Kubernetes model (a misspelt field is an error), and checked against the
 * gateway's own defaults: the gateway's command line is parsed, exactly as the container would run it (its
 * {@code TUNNEL_*} variables and arguments from the manifest), to get the port, path and drain timeout it would use.
 */
class KubernetesManifestsTest {

  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  private static Deployment deployment;
  private static Container gateway;
  private static Service service;
  private static Ingress ingress;
  private static HTTPRoute route;
  private static NetworkPolicy policy;
  private static CommandLine.Model.CommandSpec effective;

  @BeforeAll
  static void readManifests() throws IOException {
    Path dir = Maven.root().resolve("deploy/kubernetes");
    deployment = YAML.readValue(dir.resolve("deployment.yaml").toFile(), Deployment.class);
    service = YAML.readValue(dir.resolve("service.yaml").toFile(), Service.class);
    ingress = YAML.readValue(dir.resolve("ingress.yaml").toFile(), Ingress.class);
    route = YAML.readValue(dir.resolve("httproute.yaml").toFile(), HTTPRoute.class);
    policy = YAML.readValue(dir.resolve("networkpolicy.yaml").toFile(), NetworkPolicy.class);
    List<Container> containers = deployment.getSpec().getTemplate().getSpec().getContainers();
    assertEquals(1, containers.size());
    gateway = containers.get(0);
    // The gateway's options as this container sets them: TUNNEL_X=v becomes --x v, then the container's args.
    List<String> args = new ArrayList<>();
    if (gateway.getEnv() != null) {
      for (EnvVar e : gateway.getEnv()) {
        if (e.getName().startsWith("TUNNEL_")) {
          args.add("--" + e.getName().substring("TUNNEL_".length()).toLowerCase(Locale.ROOT).replace('_', '-'));
          args.add(e.getValue());
        }
      }
    }
    if (gateway.getArgs() != null) {
      args.addAll(gateway.getArgs());
    }
    CommandLine commandLine = new CommandLine(new TunnelServerMain());
    commandLine.parseArgs(args.toArray(new String[0]));
    effective = commandLine.getCommandSpec();
  }

  @Test
  void everyFieldIsOneTheModelKnows() {
    PodSpec pod = deployment.getSpec().getTemplate().getSpec();
    for (Object o : List.of(deployment, deployment.getSpec(), pod, gateway, gateway.getReadinessProbe(),
        gateway.getLivenessProbe(), gateway.getLifecycle().getPreStop(), service.getSpec(), ingress.getSpec(),
        route.getSpec(), route.getSpec().getRules().get(0), policy.getSpec(), policy.getSpec().getIngress().get(0),
        policy.getSpec().getIngress().get(1))) {
      Map<String, Object> unknown = additional(o);
      assertTrue(unknown.isEmpty(), o.getClass().getSimpleName() + " has fields Kubernetes does not know: " + unknown);
    }
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> additional(Object o) {
    try {
      return (Map<String, Object>) o.getClass().getMethod("getAdditionalProperties").invoke(o);
    } catch (ReflectiveOperationException e) {
      throw new AssertionError(o.getClass() + " has no additionalProperties", e);
    }
  }

  private static <T> T option(String name) {
    return effective.findOption(name).getValue();
  }

  @Test
  void containerPortIsTheGatewaysPortAndNamedForTheProbes() {
    int port = option("--port");
    ContainerPort http = gateway.getPorts().stream().filter(p -> "http".equals(p.getName())).findFirst().orElse(null);
    assertNotNull(http, "a container port named http");
    assertEquals(port, http.getContainerPort());
    assertEquals("TCP", http.getProtocol());
  }

  @Test
  void readinessAndLivenessAskHealthzOnTheGatewayPort() {
    for (Probe probe : List.of(gateway.getReadinessProbe(), gateway.getLivenessProbe())) {
      assertNotNull(probe);
      assertEquals("/healthz", probe.getHttpGet().getPath());
      assertEquals("http", probe.getHttpGet().getPort().getStrVal());
    }
  }

  @Test
  void metricsAreOnTheAdminPortWhichTheServiceDoesNotExpose() {
    Integer admin = option("--admin-port");
    assertNotNull(admin, "the manifest keeps /metrics off the port the ingress reaches");
    ContainerPort port = gateway.getPorts().stream().filter(p -> "admin".equals(p.getName())).findFirst()
        .orElse(null);
    assertNotNull(port, "a container port named admin");
    assertEquals(admin, port.getContainerPort());
    assertEquals("0.0.0.0", option("--admin-address"), "Prometheus scrapes the pod's address, not its loopback");
    for (ServicePort exposed : service.getSpec().getPorts()) {
      assertTrue(!"admin".equals(exposed.getTargetPort().getStrVal())
          && !admin.equals(exposed.getTargetPort().getIntVal()), "the Service exposes the admin port: " + exposed);
    }
  }

  @Test
  void livenessToleratesTheWholeDrainInWhichHealthzAnswers503() {
    Duration drain = option("--drain-timeout");
    Probe liveness = gateway.getLivenessProbe();
    long toleratedSeconds = (long) liveness.getPeriodSeconds() * liveness.getFailureThreshold();
    assertTrue(toleratedSeconds > drain.toSeconds(), "liveness would restart a draining gateway after "
        + toleratedSeconds + " s, within its drain timeout of " + drain);
  }

  @Test
  void gracePeriodExceedsPreStopPlusTheDrainTimeout() {
    Duration drain = option("--drain-timeout");
    PodSpec pod = deployment.getSpec().getTemplate().getSpec();
    int preStop = gateway.getLifecycle().getPreStop().getSleep().getSeconds().intValue();
    assertTrue(preStop > 0, "a preStop delay lets load balancers stop sending before the drain starts");
    assertTrue(pod.getTerminationGracePeriodSeconds() > preStop + drain.toSeconds(),
        "terminationGracePeriodSeconds " + pod.getTerminationGracePeriodSeconds() + " must exceed preStop " + preStop
            + " s + drain timeout " + drain);
  }

  @Test
  void runsAsTheImagesNonRootUserWithAReadOnlyRootAndAWritableTmp() {
    PodSpec pod = deployment.getSpec().getTemplate().getSpec();
    assertTrue(pod.getSecurityContext().getRunAsNonRoot());
    assertEquals(10001L, pod.getSecurityContext().getRunAsUser());
    assertTrue(gateway.getSecurityContext().getReadOnlyRootFilesystem());
    assertEquals(List.of("ALL"), gateway.getSecurityContext().getCapabilities().getDrop());
    assertTrue(gateway.getVolumeMounts().stream().anyMatch(m -> m.getMountPath().equals("/tmp")),
        "Netty extracts its native library to /tmp");
  }

  @Test
  void serviceSelectsThePodsAndTargetsTheNamedPort() {
    Map<String, String> podLabels = deployment.getSpec().getTemplate().getMetadata().getLabels();
    assertTrue(podLabels.entrySet().containsAll(service.getSpec().getSelector().entrySet()));
    assertEquals(deployment.getSpec().getSelector().getMatchLabels(), service.getSpec().getSelector());
    ServicePort port = service.getSpec().getPorts().get(0);
    assertEquals("http", port.getTargetPort().getStrVal());
  }

  @Test
  void ingressRoutesTheTunnelPathToTheServiceWithAnIdleTimeoutAboveThePingInterval() {
    HTTPIngressPath path = ingress.getSpec().getRules().get(0).getHttp().getPaths().get(0);
    assertEquals((String) option("--path"), path.getPath());
    assertEquals(service.getMetadata().getName(), path.getBackend().getService().getName());
    assertEquals(service.getSpec().getPorts().get(0).getName(), path.getBackend().getService().getPort().getName());
    long idleSeconds = Long.parseLong(
        ingress.getMetadata().getAnnotations().get("nginx.ingress.kubernetes.io/proxy-read-timeout"));
    long pingSeconds = (WebSocketTunnel.DEFAULT_PING_INTERVAL_MILLIS + WebSocketTunnel.DEFAULT_PING_TIMEOUT_MILLIS)
        / 1000;
    assertTrue(idleSeconds > pingSeconds, "nginx would close quiet tunnels after " + idleSeconds + " s");
    assertEquals(idleSeconds, Long.parseLong(
        ingress.getMetadata().getAnnotations().get("nginx.ingress.kubernetes.io/proxy-send-timeout")));
  }

  /**
   * The pods trust their ingress's X-Forwarded-For (else every client behind one ingress pod is one client), and the
   * network policy lets only the ingress reach port http (so no other pod sets that header) and only Prometheus port
   * admin.
   */
  @Test
  void onlyTheIngressReachesTheTunnelPortWhoseForwardedForIsTrusted() {
    List<String> trusted = option("--trusted-proxies");
    assertTrue(!trusted.isEmpty(), "the ingress controller's pods are trusted proxies");
    assertEquals(deployment.getSpec().getTemplate().getMetadata().getLabels(),
        policy.getSpec().getPodSelector().getMatchLabels());
    assertEquals(List.of("Ingress"), policy.getSpec().getPolicyTypes());
    List<String> ports = new ArrayList<>();
    for (NetworkPolicyIngressRule rule : policy.getSpec().getIngress()) {
      assertEquals(1, rule.getFrom().size());
      assertNotNull(rule.getFrom().get(0).getNamespaceSelector(), "a rule for one namespace, not every pod");
      for (NetworkPolicyPort port : rule.getPorts()) {
        ports.add(port.getPort().getStrVal());
      }
    }
    assertEquals(List.of("http", "admin"), ports);
    for (String name : ports) {
      assertTrue(gateway.getPorts().stream().anyMatch(p -> name.equals(p.getName())), "a container port " + name);
    }
  }

  @Test
  void httpRouteSendsTheTunnelPathToTheServiceWithoutARequestTimeout() {
    HTTPRouteRule rule = route.getSpec().getRules().get(0);
    assertEquals((String) option("--path"), rule.getMatches().get(0).getPath().getValue());
    HTTPBackendRef backend = rule.getBackendRefs().get(0);
    assertEquals(service.getMetadata().getName(), backend.getName());
    assertEquals(service.getSpec().getPorts().get(0).getPort(), backend.getPort());
    assertEquals("0s", rule.getTimeouts().getRequest(), "a tunnel lasts as long as the client keeps it");
  }
}
