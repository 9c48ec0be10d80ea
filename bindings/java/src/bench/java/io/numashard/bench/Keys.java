package io.numashard.bench;

import io.numashard.Batch;
import io.numashard.NumaShardMap;
import java.nio.charset.StandardCharsets;

/** The benchmark keys and values: 16-byte ASCII keys, 32-byte values. */
final class Keys {
    static final int KEY_LEN = 16;
    static final int VALUE_LEN = 32;
    static final int SMALL = 100_000;
    static final int LARGE = 10_000_000;

    private Keys() {}

    static int count(String size) {
        switch (size) {
            case "SMALL":
                return SMALL;
            case "LARGE":
                return LARGE;
            default:
                return Integer.parseInt(size);
        }
    }

    /** Key i: "k" and i in 15 zero-padded digits (16 bytes). */
    static String keyString(long i) {
        String d = Long.toString(i);
        StringBuilder sb = new StringBuilder(KEY_LEN).append('k');
        for (int p = d.length(); p < KEY_LEN - 1; p++) {
            sb.append('0');
        }
        return sb.append(d).toString();
    }

    static byte[] key(long i) {
        return keyString(i).getBytes(StandardCharsets.ISO_8859_1);
    }

    static byte[] value(long i) {
        byte[] v = new byte[VALUE_LEN];
        for (int j = 0; j < VALUE_LEN; j++) {
            v[j] = (byte) (i * 7 + j);
        }
        return v;
    }

    /** Puts keys 0..n-1 with their values into {@code m} in batches of 1024; returns the keys. */
    static byte[][] fill(NumaShardMap m, int n) {
        byte[][] keys = new byte[n][];
        Batch b = new Batch(1024, 0);
        for (int i = 0; i < n; i++) {
            keys[i] = key(i);
            b.put(keys[i], value(i));
            if (b.size() == 1024 || i == n - 1) {
                m.execute(b);
                b.clear();
            }
        }
        return keys;
    }

    /** xorshift64*: cheap per-thread random indexes. */
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
