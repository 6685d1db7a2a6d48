#!/usr/bin/env bash
# Builds the gateway's container image without a Docker daemon or an image registry, from this machine alone:
#
#   deploy/container/build-image.sh [JAR] [OUTPUT.tar] [NAME:TAG]
#
#   JAR         the gateway jar (default: tunnel-gateway/target/tunnel-server.jar, built by `mvn package`)
#   OUTPUT.tar  a docker-archive, for `podman load -i` or `docker load -i` (default: tunnel-gateway/target/tunnel-gateway-image.tar)
#   NAME:TAG    default: wsgrpc/tunnel-gateway:VERSION, VERSION read from the jar
#
# The image has two layers. The base: a Java runtime made by jlink from the JDK that runs this script (only the
# modules the gateway needs), the shared libraries it and Netty's epoll library load, copied from this system
# (Debian), the CA certificates, and a non-root user `wsgrpc` (uid/gid 10001). The app: tunnel-server.jar.
# The entry point is the jar: arguments after the image name are the gateway's options, and TUNNEL_* variables
# work as they do outside a container (JDK_JAVA_OPTIONS adds JVM options; the heap is 75 % of the memory limit).
# HEALTHCHECK runs dev.wsgrpc.gateway.HealthCheck (GET /healthz on loopback), which dials the URL the gateway writes
# to TUNNEL_HEALTH_FILE once it listens, so that options given after the image name count. The image format is
# Docker's, since the OCI image format has no health check.
#
# Needs: a JDK, chosen with JAVA_HOME (default: the one javac belongs to): 17+ with jmods (Debian:
# openjdk-17-jdk-headless), or 24+ whose jlink links from its own run-time image (Temurin 25 does); the image runs
# the gateway on that JDK's version. buildah (Debian: buildah), root or rootless buildah. buildah runs with a
# private storage directory and the vfs driver, so it touches no shared image store.
set -euo pipefail
export BUILDAH_FORMAT=docker   # HEALTHCHECK exists in Docker's image format only

root=$(cd "$(dirname "$0")/../.." && pwd)
jar=${1:-$root/tunnel-gateway/target/tunnel-server.jar}
out=${2:-$root/tunnel-gateway/target/tunnel-gateway-image.tar}
[ -f "$jar" ] || { echo "build-image: $jar is missing: run mvn package first" >&2; exit 2; }
command -v buildah >/dev/null || { echo "build-image: buildah is missing (apt-get install buildah)" >&2; exit 2; }

java_home=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}
java_major=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$java_home/release" 2>/dev/null || true)
[ -n "$java_major" ] || { echo "build-image: $java_home/release names no JAVA_VERSION: is it a JDK?" >&2; exit 2; }
# jlink links from jmods, or (JDK 24+ built for it, JEP 493: Temurin's are) from the JDK's own run-time image.
if [ ! -d "$java_home/jmods" ] && [ "$java_major" -lt 24 ]; then
  echo "build-image: $java_home has no jmods: jlink needs a full JDK" >&2; exit 2
fi
version=$(unzip -p "$jar" META-INF/wsgrpc/version.properties | sed -n 's/^version=//p')
image=${3:-wsgrpc/tunnel-gateway:$version}

work=$(mktemp -d)
storage=(--root "$work/storage" --runroot "$work/run" --storage-driver vfs)
cleanup() {
  buildah "${storage[@]}" rm --all >/dev/null 2>&1 || true
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

base=$work/base
mkdir -p "$base"

# 1. A Java runtime with the modules the gateway uses: what `jdeps --print-module-deps` finds in the jar
#    (java.base, java.naming, java.sql, jdk.jfr, jdk.unsupported), grpc's java.util.logging, logback's XML
#    configuration and JMX, and what is loaded by name: elliptic-curve TLS, DNS through JNDI.
modules=java.base,java.logging,java.management,java.naming,java.sql,java.xml
modules=$modules,jdk.crypto.ec,jdk.jfr,jdk.naming.dns,jdk.unsupported
compress=2                                    # JDK 17's name for zip compression
[ "$java_major" -lt 21 ] || compress=zip-6    # JDK 21 renamed it and deprecated the number
"$java_home/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages \
  --compress=$compress --output "$base/opt/java"
# Debian's JDK links its cacerts to the system store: carry the certificates themselves.
cacerts=$base/opt/java/lib/security/cacerts
if [ -L "$cacerts" ] || [ ! -s "$cacerts" ]; then
  rm -f "$cacerts"
  cp -L "$java_home/lib/security/cacerts" "$cacerts"
fi

# 2. The shared libraries that the runtime and Netty's epoll library (extracted from the jar) need, from this system
#    (ldd answers nothing for the other architecture's library).
mkdir -p "$work/native"
unzip -q -o "$jar" 'META-INF/native/*.so' -d "$work/native" 2>/dev/null || true
elves=$(find "$base/opt/java" "$work/native" -type f \( -name '*.so' -o -perm -u+x \))
for f in $elves; do
  { ldd "$f" 2>/dev/null || true; } | awk '/=> \//{print $3} /^\s*\/[^ ]+ \(/{print $1}'
done | sort -u | while read -r lib; do
  case "$lib" in "$base"/*) continue ;; esac   # the runtime's own libraries, found through $ORIGIN
  cp -L --parents "$lib" "$base/"
done
# The dynamic loader, at the path every executable names.
for loader in /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-aarch64.so.1; do
  if [ -e "$loader" ]; then cp -L --parents "$loader" "$base/"; fi
done

# 3. A non-root user, a writable /tmp (Netty extracts its native library there), name resolution files.
mkdir -p "$base/etc" "$base/tmp" "$base/app" "$base/proc" "$base/dev" "$base/sys"
chmod 1777 "$base/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nwsgrpc:x:10001:10001:wsgrpc gateway:/app:/sbin/nologin\n' \
  > "$base/etc/passwd"
printf 'root:x:0:\nwsgrpc:x:10001:\n' > "$base/etc/group"
printf 'hosts: files dns\n' > "$base/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' > "$base/etc/hosts"

# 4. The image: base layer, then the jar.
ctr=$(buildah "${storage[@]}" from scratch)
buildah "${storage[@]}" copy --quiet "$ctr" "$base" / >/dev/null
buildah "${storage[@]}" commit --quiet --format docker "$ctr" wsgrpc-gateway-base >/dev/null
ctr=$(buildah "${storage[@]}" from wsgrpc-gateway-base)
# JDK 24+ warns when sun.misc.Unsafe's memory access is first used, and so on every start: protobuf-java 3.25 (the
# version grpc-java asks for) uses it. Allowing it silences that warning and keeps protobuf working should a later
# JDK deny it by default; older JDKs do not know the option.
jvm_options=
[ "$java_major" -lt 24 ] || jvm_options=' "--sun-misc-unsafe-memory-access=allow",'
buildah "${storage[@]}" copy --quiet --chown 0:0 --chmod 0644 "$ctr" "$jar" /app/tunnel-server.jar >/dev/null
buildah "${storage[@]}" config \
  --user 10001:10001 \
  --workingdir /app \
  --port 8080/tcp \
  --env PATH=/opt/java/bin \
  --env TUNNEL_HEALTH_FILE=/tmp/wsgrpc-gateway.health \
  --entrypoint "[\"/opt/java/bin/java\", \"-XX:MaxRAMPercentage=75\", \"-XX:+ExitOnOutOfMemoryError\",$jvm_options \"-jar\", \"/app/tunnel-server.jar\"]" \
  --cmd '[]' \
  --healthcheck 'CMD /opt/java/bin/java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx32m -cp /app/tunnel-server.jar dev.wsgrpc.gateway.HealthCheck' \
  --healthcheck-interval 30s --healthcheck-timeout 10s --healthcheck-start-period 20s --healthcheck-retries 3 \
  --label org.opencontainers.image.title="wsgrpc gateway" \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  --label org.opencontainers.image.source=https://github.com/wsgrpc/wsgrpc \
  "$ctr"
buildah "${storage[@]}" commit --quiet --format docker "$ctr" "$image" >/dev/null
mkdir -p "$(dirname "$out")"
rm -f "$out"
buildah "${storage[@]}" push --quiet "$image" "docker-archive:$out:$image"
echo "build-image: $out ($image, $(du -h "$out" | cut -f1))"
