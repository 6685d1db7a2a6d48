package dev.wsgrpc.okhttp;

/**
 * The version this library was built as, written in by the build (templating-maven-plugin fills in the project
 * version), never typed in the code: a class rather than a resource, so that it survives Android packaging.
 */
final class BuildVersion {

  static final String VERSION = "${project.version}";

  private BuildVersion() {}
}
