package io.numashard.bench;

import io.numashard.Batch;
import io.numashard.BenchAccess;
import io.numashard.NumaShardMap;
import java.util.Arrays;
import java.util.Locale;

/**
 * FFM and JNI on the SAME map in one JVM, interleaved (9 measured rounds after 2 warm-up ones):
 * single gets and batches of 64 of random all-hit 16-byte keys, 32-byte values; ns per key, best
 * and median. On JDK 22+ run from the jar, the default backend is FFM and the other is the JNI
 * backend called directly ({@link BenchAccess}).
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -Xmx3g -cp target/test-classes:target/numashard-*.jar \
 *     io.numashard.bench.BackendProbe 100000|10000000
 * </pre>
 */
public final class BackendProbe {
  public static void main(String[] a) {
    int n = Integer.parseInt(a[0]);
    NumaShardMap m = NumaShardMap.open();
    byte[][] keys = new byte[n][];
    Batch fill = new Batch(1024, 0);
    for (int i = 0; i < n; i++) { keys[i] = String.format(Locale.ROOT, "k%015d", i).getBytes(); fill.put(keys[i], new byte[32]); if (fill.size()==1024||i==n-1){m.execute(fill);fill.clear();} }
    Batch b = new Batch(64, 32);
    long x = 12345; long sink = 0; int ops = 640_000;
    double[][] t = new double[4][11];
    for (int r = 0; r < 11; r++) {
      for (int v = 0; v < 4; v++) {
        long t0 = System.nanoTime();
        if (v < 2) {
          for (int i = 0; i < ops; i++) { x ^= x>>>12; x^= x<<25; x^= x>>>27; byte[] k = keys[(int)((x*0x2545F4914F6CDD1DL>>>1)%n)];
            sink += (v==0 ? m.get(k) : BenchAccess.jniGet(m, k)).length; }
        } else {
          for (int i = 0; i < ops; i += 64) { b.clear(); for (int j = 0; j < 64; j++) { x ^= x>>>12; x^= x<<25; x^= x>>>27; b.get(keys[(int)((x*0x2545F4914F6CDD1DL>>>1)%n)]); }
            if (v==2) m.execute(b); else BenchAccess.jniExecute(m, b); sink += b.value(63).length; }
        }
        t[v][r] = (System.nanoTime()-t0)/(double)ops;
      }
    }
    String[] names = {"get ffm(default)", "get jni", "batch ffm(default)", "batch jni"};
    System.out.println("backend " + NumaShardMap.nativeBackend() + ", " + n + " entries");
    for (int v = 0; v < 4; v++) { double[] c = Arrays.copyOfRange(t[v], 2, 11); Arrays.sort(c); System.out.printf(Locale.ROOT, "%-20s best %7.1f median %7.1f ns/key%n", names[v], c[0], c[c.length/2]); }
    if (sink == 1) System.out.println();
    m.close();
  }
}
