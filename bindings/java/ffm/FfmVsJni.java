import io.numashard.Batch;
import io.numashard.NumaShardMap;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;

/**
 * JNI (this binding) vs FFM (java.lang.foreign, JDK 22+) on the same map, same process, same
 * keys: a 16-byte-key / 32-byte-value get returning a new byte[], and ns_shard_of_key (a call
 * that only hashes: the crossing cost plus the key copy). The FFM side calls the ns_* symbols
 * exported by the loaded libnumashard_jni.so with Linker.Option.critical(true), passing heap
 * arrays directly (no copy into native memory). Best of several interleaved rounds.
 *
 * Build/run (JDK >= 22): see bindings/java/run-benchmarks.sh ffm (FFM_SIZE sets the entry count)
 */
public final class FfmVsJni {
    public static void main(String[] args) throws Throwable {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        NumaShardMap map = NumaShardMap.open();
        byte[][] keys = new byte[n][];
        Batch b = new Batch(1024, 0);
        byte[] value = new byte[32];
        for (int i = 0; i < n; i++) {
            keys[i] = String.format(Locale.ROOT, "k%015d", i).getBytes(StandardCharsets.ISO_8859_1);
            b.put(keys[i], value);
            if (b.size() == 1024 || i == n - 1) {
                map.execute(b);
                b.clear();
            }
        }
        Field hf = NumaShardMap.class.getDeclaredField("handle");
        hf.setAccessible(true);
        MemorySegment handle = MemorySegment.ofAddress(hf.getLong(map));

        Linker linker = Linker.nativeLinker();
        SymbolLookup lib = SymbolLookup.loaderLookup(); // libnumashard_jni.so, loaded by NumaShardMap
        Linker.Option critical = Linker.Option.critical(true);
        MethodHandle nsGet = linker.downcallHandle(lib.findOrThrow("ns_get"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                        ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS),
                critical);
        MethodHandle nsShardOf = linker.downcallHandle(lib.findOrThrow("ns_shard_of_key"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                        ValueLayout.JAVA_LONG, ValueLayout.ADDRESS),
                critical);
        MethodHandle nsVersionNumber = linker.downcallHandle(lib.findOrThrow("ns_version_number"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT), critical);

        byte[] scratch = new byte[64];
        long[] len = new long[1];
        int[] shard = new int[1];
        MemorySegment scratchSeg = MemorySegment.ofArray(scratch);
        MemorySegment lenSeg = MemorySegment.ofArray(len);
        MemorySegment shardSeg = MemorySegment.ofArray(shard);

        int ops = 1_000_000;
        double[] best = {Double.MAX_VALUE, Double.MAX_VALUE, Double.MAX_VALUE, Double.MAX_VALUE, Double.MAX_VALUE};
        long sink = 0;
        long x = 12345;
        for (int round = 0; round < 7; round++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < ops; i++) {
                x = next(x);
                sink += map.get(keys[index(x, n)]).length;
            }
            best[0] = Math.min(best[0], (System.nanoTime() - t0) / (double) ops);

            t0 = System.nanoTime();
            for (int i = 0; i < ops; i++) {
                x = next(x);
                byte[] k = keys[index(x, n)];
                int st = (int) nsGet.invokeExact(handle, MemorySegment.ofArray(k), (long) k.length, scratchSeg,
                        (long) scratch.length, lenSeg);
                if (st != 0) {
                    throw new IllegalStateException("ns_get " + st);
                }
                sink += Arrays.copyOf(scratch, (int) len[0]).length;
            }
            best[1] = Math.min(best[1], (System.nanoTime() - t0) / (double) ops);

            t0 = System.nanoTime();
            for (int i = 0; i < ops; i++) {
                x = next(x);
                sink += map.shardOf(keys[index(x, n)]);
            }
            best[2] = Math.min(best[2], (System.nanoTime() - t0) / (double) ops);

            t0 = System.nanoTime();
            for (int i = 0; i < ops; i++) {
                x = next(x);
                byte[] k = keys[index(x, n)];
                int st = (int) nsShardOf.invokeExact(handle, MemorySegment.ofArray(k), (long) k.length, shardSeg);
                sink += st + shard[0];
            }
            best[3] = Math.min(best[3], (System.nanoTime() - t0) / (double) ops);

            t0 = System.nanoTime();
            for (int i = 0; i < ops; i++) {
                sink += (int) nsVersionNumber.invokeExact();
            }
            best[4] = Math.min(best[4], (System.nanoTime() - t0) / (double) ops);
        }
        System.out.println(Runtime.version() + ", " + n + " entries, 16-byte keys, 32-byte values, best of 7 x "
                + ops + " calls, 1 thread");
        System.out.printf(Locale.ROOT, "get -> new byte[]:   JNI %6.1f ns   FFM %6.1f ns   (FFM/JNI %.2f)%n",
                best[0], best[1], best[1] / best[0]);
        System.out.printf(Locale.ROOT, "shard_of_key:        JNI %6.1f ns   FFM %6.1f ns   (FFM/JNI %.2f)%n",
                best[2], best[3], best[3] / best[2]);
        System.out.printf(Locale.ROOT, "ns_version_number:                  FFM %6.1f ns   (an empty crossing)%n", best[4]);
        map.close();
        if (sink == 42) {
            System.out.println();
        }
    }

    static long next(long x) {
        x ^= x >>> 12;
        x ^= x << 25;
        x ^= x >>> 27;
        return x;
    }

    static int index(long x, int n) {
        return (int) (((x * 0x2545F4914F6CDD1DL) >>> 1) % n);
    }
}
