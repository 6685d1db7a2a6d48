package dev.wsgrpc.benchmarks;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Median and range of a few samples. */
record Stats(double median, double min, double max, int n) {

  static Stats of(List<Double> samples) {
    if (samples.isEmpty()) {
      return new Stats(Double.NaN, Double.NaN, Double.NaN, 0);
    }
    List<Double> sorted = new ArrayList<>(samples);
    Collections.sort(sorted);
    int n = sorted.size();
    double median = n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    return new Stats(median, sorted.get(0), sorted.get(n - 1), n);
  }

  /** Sample-by-sample ratios {@code a[i] / b[i]} of two series measured side by side. */
  static List<Double> ratios(List<Double> a, List<Double> b) {
    List<Double> out = new ArrayList<>();
    for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
      out.add(a.get(i) / b.get(i));
    }
    return out;
  }

  boolean isEmpty() {
    return n == 0;
  }
}
