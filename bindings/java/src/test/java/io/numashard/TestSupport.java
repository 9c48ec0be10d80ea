package io.numashard;

import java.nio.charset.StandardCharsets;

/** Helpers shared by the tests. */
final class TestSupport {
    private TestSupport() {}

    /** Work multiplier: 1 normally, smaller for the -Xcheck:jni run (-Dnumashard.test.scale). */
    static final double SCALE = Double.parseDouble(System.getProperty("numashard.test.scale", "1"));

    static int scaled(int n) {
        return Math.max(1, (int) (n * SCALE));
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    static byte[] randomBytes(java.util.Random r, int len) {
        byte[] a = new byte[len];
        r.nextBytes(a);
        return a;
    }

    static NumaShardMap open(int shards) {
        return NumaShardMap.open(Config.builder().shards(shards).build());
    }

    /**
     * A self-checking value: {@code len} bytes, each byte derived from (tag, version), so a value
     * mixing two writes (torn) or belonging to another key is detected by {@link #checkValue}.
     */
    static byte[] value(int tag, long version, int len) {
        byte[] v = new byte[len];
        for (int i = 0; i < 8 && i < len; i++) {
            v[i] = (byte) (version >>> (8 * i));
        }
        for (int i = 8; i < len; i++) {
            v[i] = (byte) (tag * 31 + version * 17 + i);
        }
        return v;
    }

    static long versionOf(byte[] v) {
        long x = 0;
        for (int i = 0; i < 8; i++) {
            x |= (v[i] & 0xffL) << (8 * i);
        }
        return x;
    }

    /** Throws when {@code v} is not a whole value written for {@code tag}; returns its version. */
    static long checkValue(int tag, byte[] v, int len) {
        if (v.length != len) {
            throw new AssertionError("tag " + tag + ": value length " + v.length + " != " + len);
        }
        long version = versionOf(v);
        for (int i = 8; i < len; i++) {
            if (v[i] != (byte) (tag * 31 + version * 17 + i)) {
                throw new AssertionError("tag " + tag + ": torn or foreign value at byte " + i);
            }
        }
        return version;
    }
}
