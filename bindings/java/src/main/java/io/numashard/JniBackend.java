package io.numashard;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;

/**
 * The JNI backend (every JDK): the glue in {@code native/numashard_jni.c}. Small keys and values
 * are copied into a per-thread direct scratch buffer and passed as raw addresses, so a call
 * makes no JNI callbacks on success (GetArrayLength / GetByteArrayRegion / NewByteArray each cost
 * a VM state transition); larger arguments take the {@code byte[]} entry points, which copy them
 * in C. The natives are instance methods of {@link NumaShardMap}: the JVM keeps the receiver
 * reachable for the whole call.
 */
final class JniBackend implements Backend {
    static final JniBackend INSTANCE = new JniBackend();

    private JniBackend() {}

    /** Keys go at [0, KEY_AREA), values and results after it. */
    private static final class Scratch {
        static final int SIZE = 4096;
        static final int KEY_AREA = 1024;
        static final int OUT_CAP = SIZE - KEY_AREA;
        final ByteBuffer buf = ByteBuffer.allocateDirect(SIZE);
        final long addr = Batch.address(buf);
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    @Override
    public String name() {
        return "jni";
    }

    @Override
    public byte[] get(NumaShardMap m, byte[] key) {
        if (key.length <= Scratch.KEY_AREA) {
            Scratch s = SCRATCH.get();
            s.buf.put(0, key);
            long n = m.nGetRaw(m.handle, s.addr, key.length, s.addr + Scratch.KEY_AREA, Scratch.OUT_CAP);
            if (n < 0) {
                return null;
            }
            if (n <= Scratch.OUT_CAP) {
                byte[] v = new byte[(int) n];
                s.buf.get(Scratch.KEY_AREA, v);
                return v;
            }
        }
        return m.nGet(m.handle, key);
    }

    @Override
    public boolean containsKey(NumaShardMap m, byte[] key) {
        if (key.length <= Scratch.KEY_AREA) {
            Scratch s = SCRATCH.get();
            s.buf.put(0, key);
            return m.nGetRaw(m.handle, s.addr, key.length, 0, 0) >= 0;
        }
        return m.nGetDirect(m.handle, key, null, 0, 0, null, 0, 0) >= 0;
    }

    @Override
    public int shardOf(NumaShardMap m, byte[] key) {
        if (key.length <= Scratch.KEY_AREA) {
            Scratch s = SCRATCH.get();
            s.buf.put(0, key);
            return m.nShardOfRaw(m.handle, s.addr, key.length);
        }
        return m.nShardOf(m.handle, key);
    }

    @Override
    public boolean store(NumaShardMap m, byte[] key, byte[] value, long ttlMs, boolean ifAbsent) {
        if (key.length + value.length <= Scratch.SIZE) {
            Scratch s = SCRATCH.get();
            s.buf.put(0, key).put(key.length, value);
            return m.nPutRaw(m.handle, s.addr, key.length, s.addr + key.length, value.length, ttlMs, ifAbsent);
        }
        return m.nPutBytes(m.handle, key, value, ttlMs, ifAbsent);
    }

    @Override
    public boolean remove(NumaShardMap m, byte[] key) {
        if (key.length <= Scratch.KEY_AREA) {
            Scratch s = SCRATCH.get();
            s.buf.put(0, key);
            return m.nDeleteRaw(m.handle, s.addr, key.length);
        }
        return m.nDelete(m.handle, key);
    }

    @Override
    public byte[] take(NumaShardMap m, byte[] key) {
        if (key.length <= Scratch.KEY_AREA) {
            Scratch s = SCRATCH.get();
            s.buf.put(0, key);
            long n = m.nTakeRaw(m.handle, s.addr, key.length, s.addr + Scratch.KEY_AREA, Scratch.OUT_CAP);
            if (n < 0) {
                return null;
            }
            if (n <= Scratch.OUT_CAP) {
                byte[] v = new byte[(int) n];
                s.buf.get(Scratch.KEY_AREA, v);
                return v;
            }
            // Too large for the scratch: nothing was removed; take it through the byte[] path.
        }
        return m.nTake(m.handle, key);
    }

    @Override
    public long add(NumaShardMap m, byte[] key, long delta) {
        if (key.length <= Scratch.KEY_AREA) {
            Scratch s = SCRATCH.get();
            s.buf.put(0, key);
            return m.nAddRaw(m.handle, s.addr, key.length, delta);
        }
        return m.nAdd(m.handle, key, delta);
    }

    @Override
    public boolean expire(NumaShardMap m, byte[] key, long ttlMs) {
        if (key.length <= Scratch.SIZE) {
            Scratch s = SCRATCH.get();
            s.buf.put(0, key);
            return m.nExpire(m.handle, null, s.addr, key.length, ttlMs);
        }
        return m.nExpire(m.handle, key, 0, 0, ttlMs);
    }

    @Override
    public long ttl(NumaShardMap m, byte[] key) {
        if (key.length <= Scratch.SIZE) {
            Scratch s = SCRATCH.get();
            s.buf.put(0, key);
            return m.nTtl(m.handle, null, s.addr, key.length);
        }
        return m.nTtl(m.handle, key, 0, 0);
    }

    @Override
    public byte[] swap(NumaShardMap m, byte[] key, byte[] value, long ttlMs) {
        return m.nSwap(m.handle, key, value, ttlMs);
    }

    @Override
    public byte[] getOrPut(NumaShardMap m, byte[] key, byte[] value, long ttlMs) {
        return m.nGetOrPut(m.handle, key, value, ttlMs);
    }

    @Override
    public int compareAndSwap(NumaShardMap m, byte[] key, byte[] expected, byte[] value) {
        return m.nCas(m.handle, key, expected, value);
    }

    @Override
    public int compareAndDelete(NumaShardMap m, byte[] key, byte[] expected) {
        return m.nCompareAndDelete(m.handle, key, expected);
    }

    @Override
    public void batch(NumaShardMap m, Batch batch, int n) {
        m.nBatch(m.handle, batch.ops, n);
    }

    @Override
    public boolean getMany(NumaShardMap m, Batch batch, int n) {
        long base = batch.dataAddress;
        try {
            return m.nGetMany(m.handle, n, base + batch.gmKeys, base + batch.gmKeyLens, base + batch.gmOut,
                    batch.gmStride, base + batch.gmValueLens, base + batch.gmStatuses);
        } finally {
            // The addresses point into the batch's direct buffer: keep it until the call returned.
            Reference.reachabilityFence(batch);
        }
    }
}
