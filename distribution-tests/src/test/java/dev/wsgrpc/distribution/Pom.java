package dev.wsgrpc.distribution;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;
import org.xml.sax.SAXException;

/** A POM file read as XML: the few elements these tests look at, by path from the root. */
final class Pom {

  private final Element project;

  private Pom(Element project) {
    this.project = project;
  }

  static Pom read(Path file) throws IOException {
    try {
      DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
      factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      Document document = factory.newDocumentBuilder().parse(file.toFile());
      return new Pom(document.getDocumentElement());
    } catch (ParserConfigurationException | SAXException e) {
      throw new IOException("cannot parse " + file + ": " + e.getMessage(), e);
    }
  }

  /** The text of the element at {@code path} (e.g. {@code "scm/url"}), or null when there is none. */
  String text(String path) {
    Element e = element(project, path.split("/"), 0);
    return e == null ? null : e.getTextContent().trim();
  }

  /** The texts of every element at {@code path} whose last step repeats (e.g. {@code "modules/module"}). */
  List<String> texts(String path) {
    List<String> out = new ArrayList<>();
    for (Element e : elements(path)) {
      out.add(e.getTextContent().trim());
    }
    return out;
  }

  /** The {@code artifactId}s under {@code dependencyManagement/dependencies}. */
  List<String> managedArtifactIds() {
    List<String> out = new ArrayList<>();
    for (Element dependency : elements("dependencyManagement/dependencies/dependency")) {
      out.add(child(dependency, "artifactId").getTextContent().trim());
    }
    return out;
  }

  private List<Element> elements(String path) {
    String[] steps = path.split("/");
    List<Element> out = new ArrayList<>();
    Element parent = steps.length == 1 ? project : element(project, steps, 0, steps.length - 1);
    if (parent != null) {
      NodeList children = parent.getChildNodes();
      for (int i = 0; i < children.getLength(); i++) {
        Node n = children.item(i);
        if (n instanceof Element && n.getNodeName().equals(steps[steps.length - 1])) {
          out.add((Element) n);
        }
      }
    }
    return out;
  }

  private static Element element(Element from, String[] steps, int i) {
    return element(from, steps, i, steps.length);
  }

  private static Element element(Element from, String[] steps, int i, int end) {
    Element e = from;
    for (int k = i; k < end && e != null; k++) {
      e = child(e, steps[k]);
    }
    return e;
  }

  private static Element child(Element parent, String name) {
    NodeList children = parent.getChildNodes();
    for (int i = 0; i < children.getLength(); i++) {
      Node n = children.item(i);
      if (n instanceof Element && n.getNodeName().equals(name)) {
        return (Element) n;
      }
    }
    return null;
  }
}
