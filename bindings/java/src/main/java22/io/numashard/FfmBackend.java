package io.numashard;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.ref.Reference;
import java.util.Arrays;

/**
 * The FFM backend (JDK 22 and newer; this class lives in the jar's {@code META-INF/versions/22}):
 * the per-key calls and batches go straight to the engine's {@code ns_*} functions, exported by
 * the already loaded {@code libnumashard_jni.so}, through downcall handles linked with
 * {@link Linker.Option#critical(boolean) critical(true)}. A critical call skips the thread-state
 * transition a JNI call makes, and may be handed Java arrays directly (heap segments): keys and
 * values are not copied on the way in, and results land in a per-thread {@code byte[]}.
 *
 * <p>Why critical calls are sound here: none of these functions calls back into Java (the
 * engine knows nothing of the JVM), and each is short: a lock-free read, or a write under a
 * shard's lock that other callers hold only for one operation, one batch or one iteration chunk
 * (in {@link ExecMode#DELEGATE} mode, also the hand-off to the shard's owner thread). While one
 * runs, the calling thread holds off safepoints (as a JNI {@code GetPrimitiveArrayCritical}
 * region would), so arguments are kept small: a call whose key and value exceed
 * {@link #CRITICAL_MAX} bytes, a result that does not fit in it and the TTL forms of swap and
 * get-or-put go through {@link JniBackend}, unchanged; a batch above {@link #CRITICAL_BATCH}
 * operations takes a plain (non-critical) downcall of the same function. Results, statuses and
 * exceptions are those of the JNI glue ({@code native/numashard_jni.c}), case by case.
 *
 * <p>Lifetime: {@link Reference#reachabilityFence} keeps the map object (whose {@code Cleaner}
 * frees the handle) reachable until each call has returned, as the JNI instance methods do.
 */
@SuppressWarnings("restricted") // Linker.downcallHandle: native access is the point of this class
final class FfmBackend implements Backend {
    /** Largest key + value (or result) handed to a critical call; larger ones take JNI. */
    static final int CRITICAL_MAX = 64 * 1024;
    /** Largest batch run by a critical call; larger ones use a plain (non-critical) downcall. */
    static final int CRITICAL_BATCH = 4096;
    /** The per-thread result buffer. */
    private static final int OUT = 4096;

    private static final int ST_OK = 0;
    private static final int ST_NOT_FOUND = 1;
    private static final int ST_EXISTS = 2;
    private static final int ST_MISMATCH = 3;
    private static final int ST_BUFFER_TOO_SMALL = 4;

    /**
     * How an {@code ns_status} (a 32-bit int) is read back: as the whole 64-bit return register,
     * then narrowed in Java. The C ABI leaves a 32-bit return's upper register half undefined
     * and the engine does return dirty upper bits on some paths (ns_take's error path returns a
     * status loaded as a 64-bit word), while the JIT may use a Java int's register as a 64-bit
     * array index without re-extending it: declared as JAVA_INT, such a status crashed the JVM
     * (SIGSEGV in compiled Status.of; BackendParityTest.errorStatusesInAHotLoopStayWellFormed).
     * Reading it as JAVA_LONG and casting with {@code (int)} makes the JIT emit a real
     * narrowing. Sound on the 64-bit ABIs this library ships for (x86-64 SysV; AArch64 alike):
     * a 32-bit return lives in the low half of RAX / X0.
     */
    private static final ValueLayout STATUS = JAVA_LONG;

    private static final MethodHandle GET;
    private static final MethodHandle TAKE;
    private static final MethodHandle PUT;
    private static final MethodHandle PUT_IF_ABSENT;
    private static final MethodHandle PUT_TTL;
    private static final MethodHandle PUT_IF_ABSENT_TTL;
    private static final MethodHandle DELETE;
    private static final MethodHandle ADD;
    private static final MethodHandle SHARD_OF_KEY;
    private static final MethodHandle EXPIRE;
    private static final MethodHandle TTL;
    private static final MethodHandle SWAP;
    private static final MethodHandle GET_OR_PUT;
    private static final MethodHandle CAS;
    private static final MethodHandle COMPARE_AND_DELETE;
    private static final MethodHandle BATCH_CRITICAL;
    private static final MethodHandle BATCH;
    private static final MethodHandle GET_MANY_CRITICAL;
    private static final MethodHandle GET_MANY;

    static {
        Linker linker = Linker.nativeLinker();
        // The library NativeLibrary loaded (System.load / loadLibrary) with this class loader.
        SymbolLookup lib = SymbolLookup.loaderLookup();
        Linker.Option critical = Linker.Option.critical(true);
        // (map, key, key_len, buf, cap, *len)
        FunctionDescriptor keyOut = FunctionDescriptor.of(STATUS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG,
                ADDRESS);
        // (map, key, key_len, value, value_len)
        FunctionDescriptor keyValue = FunctionDescriptor.of(STATUS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG);
        // (map, key, key_len, value, value_len, ttl_ms)
        FunctionDescriptor keyValueTtl = FunctionDescriptor.of(STATUS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS,
                JAVA_LONG, JAVA_LONG);
        // (map, key, key_len) and ns_batch (map, ops, n)
        FunctionDescriptor key = FunctionDescriptor.of(STATUS, ADDRESS, ADDRESS, JAVA_LONG);
        // (map, key, key_len, *out)
        FunctionDescriptor keyPtr = FunctionDescriptor.of(STATUS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS);
        // (map, key, key_len, value, value_len, buf, cap, *len)
        FunctionDescriptor keyValueOut = FunctionDescriptor.of(STATUS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS,
                JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS);
        GET = linker.downcallHandle(sym(lib, "ns_get"), keyOut, critical);
        TAKE = linker.downcallHandle(sym(lib, "ns_take"), keyOut, critical);
        PUT = linker.downcallHandle(sym(lib, "ns_put"), keyValue, critical);
        PUT_IF_ABSENT = linker.downcallHandle(sym(lib, "ns_put_if_absent"), keyValue, critical);
        PUT_TTL = linker.downcallHandle(sym(lib, "ns_put_ttl"), keyValueTtl, critical);
        PUT_IF_ABSENT_TTL = linker.downcallHandle(sym(lib, "ns_put_if_absent_ttl"), keyValueTtl, critical);
        DELETE = linker.downcallHandle(sym(lib, "ns_delete"), key, critical);
        ADD = linker.downcallHandle(sym(lib, "ns_add"),
                FunctionDescriptor.of(STATUS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS), critical);
        SHARD_OF_KEY = linker.downcallHandle(sym(lib, "ns_shard_of_key"), keyPtr, critical);
        EXPIRE = linker.downcallHandle(sym(lib, "ns_expire"),
                FunctionDescriptor.of(STATUS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG), critical);
        TTL = linker.downcallHandle(sym(lib, "ns_ttl"), keyPtr, critical);
        SWAP = linker.downcallHandle(sym(lib, "ns_swap"), keyValueOut, critical);
        GET_OR_PUT = linker.downcallHandle(sym(lib, "ns_get_or_put"), keyValueOut, critical);
        CAS = linker.downcallHandle(sym(lib, "ns_compare_and_swap"),
                FunctionDescriptor.of(STATUS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG),
                critical);
        COMPARE_AND_DELETE = linker.downcallHandle(sym(lib, "ns_compare_and_delete"), keyValue, critical);
        // The ops live in a direct buffer: no heap access needed.
        BATCH_CRITICAL = linker.downcallHandle(sym(lib, "ns_batch"), key, Linker.Option.critical(false));
        BATCH = linker.downcallHandle(sym(lib, "ns_batch"), key);
        // (map, n, keys, key_lens, out, out_stride, value_lens, statuses): all in the batch's direct buffer.
        FunctionDescriptor getMany = FunctionDescriptor.of(STATUS, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS,
                JAVA_LONG, ADDRESS, ADDRESS);
        GET_MANY_CRITICAL = linker.downcallHandle(sym(lib, "ns_get_many"), getMany, Linker.Option.critical(false));
        GET_MANY = linker.downcallHandle(sym(lib, "ns_get_many"), getMany);
    }

    /** The engine's exported function {@code name} (findOrThrow is JDK 23+). */
    private static MemorySegment sym(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new UnsatisfiedLinkError("numashard: " + name
                + " is not exported by the loaded native library (an older libnumashard_jni.so?)"));
    }

    /** Per-thread result buffer and out-parameters, as heap segments made once. */
    private static final class Scratch {
        final byte[] out = new byte[OUT];
        final long[] word = new long[1];
        final int[] u32 = new int[1];
        final MemorySegment outSeg = MemorySegment.ofArray(out);
        final MemorySegment wordSeg = MemorySegment.ofArray(word);
        final MemorySegment u32Seg = MemorySegment.ofArray(u32);
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private static final JniBackend JNI = JniBackend.INSTANCE;

    /** Public for {@link Backend#select()}'s reflective construction. */
    public FfmBackend() {}

    @Override
    public String name() {
        return "ffm";
    }

    private static MemorySegment map(NumaShardMap m) {
        return MemorySegment.ofAddress(m.handle);
    }

    private static MemorySegment seg(byte[] a) {
        return MemorySegment.ofArray(a);
    }

    private static NumaShardException error(int st) {
        return NumaShardException.forStatus(st);
    }

    // ------------------------------------------------------------------ reads

    @Override
    public byte[] get(NumaShardMap m, byte[] key) {
        return read(m, key, GET);
    }

    @Override
    public byte[] take(NumaShardMap m, byte[] key) {
        return read(m, key, TAKE);
    }

    /**
     * ns_get / ns_take into the scratch, then into an exact array while the value grows. The
     * output is never a caller's array (the thread's scratch, or one made here), so it overlaps
     * no key or value, as the C functions require; storeRead likewise.
     */
    private byte[] read(NumaShardMap m, byte[] key, MethodHandle op) {
        if (key.length > CRITICAL_MAX) {
            return op == GET ? JNI.get(m, key) : JNI.take(m, key);
        }
        Scratch s = SCRATCH.get();
        int st;
        try {
            st = (int) (long) op.invokeExact(map(m), seg(key), (long) key.length, s.outSeg, (long) OUT, s.wordSeg);
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(m);
        }
        if (st == ST_OK) {
            return Arrays.copyOf(s.out, (int) s.word[0]);
        }
        while (st == ST_BUFFER_TOO_SMALL) {
            // Nothing was read or removed; `word` holds the size needed (it may grow again).
            long need = s.word[0];
            if (need > CRITICAL_MAX) {
                return op == GET ? JNI.get(m, key) : JNI.take(m, key);
            }
            byte[] v = new byte[(int) need];
            try {
                st = (int) (long) op.invokeExact(map(m), seg(key), (long) key.length, seg(v), (long) v.length, s.wordSeg);
            } catch (Throwable t) {
                throw rethrow(t);
            } finally {
                Reference.reachabilityFence(m);
            }
            if (st == ST_OK) {
                return s.word[0] == v.length ? v : Arrays.copyOf(v, (int) s.word[0]);
            }
        }
        if (st == ST_NOT_FOUND) {
            return null;
        }
        throw error(st);
    }

    @Override
    public boolean containsKey(NumaShardMap m, byte[] key) {
        if (key.length > CRITICAL_MAX) {
            return JNI.containsKey(m, key);
        }
        Scratch s = SCRATCH.get();
        int st;
        try {
            // A size query: no buffer, so a present value answers OK (empty) or BUFFER_TOO_SMALL.
            st = (int) (long) GET.invokeExact(map(m), seg(key), (long) key.length, MemorySegment.NULL, 0L, s.wordSeg);
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(m);
        }
        if (st == ST_OK || st == ST_BUFFER_TOO_SMALL) {
            return true;
        }
        if (st == ST_NOT_FOUND) {
            return false;
        }
        throw error(st);
    }

    @Override
    public int shardOf(NumaShardMap m, byte[] key) {
        if (key.length > CRITICAL_MAX) {
            return JNI.shardOf(m, key);
        }
        Scratch s = SCRATCH.get();
        int st;
        try {
            st = (int) (long) SHARD_OF_KEY.invokeExact(map(m), seg(key), (long) key.length, s.u32Seg);
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(m);
        }
        if (st != ST_OK) {
            throw error(st);
        }
        return s.u32[0];
    }

    @Override
    public long ttl(NumaShardMap m, byte[] key) {
        if (key.length > CRITICAL_MAX) {
            return JNI.ttl(m, key);
        }
        Scratch s = SCRATCH.get();
        int st;
        try {
            st = (int) (long) TTL.invokeExact(map(m), seg(key), (long) key.length, s.wordSeg);
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(m);
        }
        if (st == ST_OK) {
            return s.word[0];
        }
        if (st == ST_NOT_FOUND) {
            return NumaShardMap.TTL_ABSENT;
        }
        throw error(st);
    }

    // ------------------------------------------------------------------ writes

    @Override
    public boolean store(NumaShardMap m, byte[] key, byte[] value, long ttlMs, boolean ifAbsent) {
        if ((long) key.length + value.length > CRITICAL_MAX) {
            return JNI.store(m, key, value, ttlMs, ifAbsent);
        }
        int st;
        try {
            if (ttlMs == 0) {
                st = ifAbsent
                        ? (int) (long) PUT_IF_ABSENT.invokeExact(map(m), seg(key), (long) key.length, seg(value),
                                (long) value.length)
                        : (int) (long) PUT.invokeExact(map(m), seg(key), (long) key.length, seg(value), (long) value.length);
            } else {
                st = ifAbsent
                        ? (int) (long) PUT_IF_ABSENT_TTL.invokeExact(map(m), seg(key), (long) key.length, seg(value),
                                (long) value.length, ttlMs)
                        : (int) (long) PUT_TTL.invokeExact(map(m), seg(key), (long) key.length, seg(value),
                                (long) value.length, ttlMs);
            }
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(m);
        }
        if (st == ST_OK) {
            return true;
        }
        if (st == ST_EXISTS) {
            return false;
        }
        throw error(st);
    }

    @Override
    public boolean remove(NumaShardMap m, byte[] key) {
        if (key.length > CRITICAL_MAX) {
            return JNI.remove(m, key);
        }
        int st;
        try {
            st = (int) (long) DELETE.invokeExact(map(m), seg(key), (long) key.length);
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(m);
        }
        return found(st);
    }

    @Override
    public boolean expire(NumaShardMap m, byte[] key, long ttlMs) {
        if (key.length > CRITICAL_MAX) {
            return JNI.expire(m, key, ttlMs);
        }
        int st;
        try {
            st = (int) (long) EXPIRE.invokeExact(map(m), seg(key), (long) key.length, ttlMs);
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(m);
        }
        return found(st);
    }

    /** OK: true, NOT_FOUND: false, errors throw (the glue's {@code found}). */
    private static boolean found(int st) {
        if (st == ST_OK) {
            return true;
        }
        if (st == ST_NOT_FOUND) {
            return false;
        }
        throw error(st);
    }

    @Override
    public long add(NumaShardMap m, byte[] key, long delta) {
        if (key.length > CRITICAL_MAX) {
            return JNI.add(m, key, delta);
        }
        Scratch s = SCRATCH.get();
        int st;
        try {
            st = (int) (long) ADD.invokeExact(map(m), seg(key), (long) key.length, delta, s.wordSeg);
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(m);
        }
        if (st != ST_OK) {
            throw error(st);
        }
        return s.word[0];
    }

    @Override
    public byte[] swap(NumaShardMap m, byte[] key, byte[] value, long ttlMs) {
        return storeRead(m, key, value, ttlMs, SWAP);
    }

    @Override
    public byte[] getOrPut(NumaShardMap m, byte[] key, byte[] value, long ttlMs) {
        return storeRead(m, key, value, ttlMs, GET_OR_PUT);
    }

    /**
     * ns_swap (previous value) or ns_get_or_put (present value): the glue's {@code read_loop}.
     * A buffer too small changes nothing; the call is repeated with room.
     */
    private byte[] storeRead(NumaShardMap m, byte[] key, byte[] value, long ttlMs, MethodHandle op) {
        boolean swap = op == SWAP;
        if (ttlMs != 0 || (long) key.length + value.length > CRITICAL_MAX) {
            // The C ABI has these with a TTL only as batch kinds: the glue does that.
            return swap ? JNI.swap(m, key, value, ttlMs) : JNI.getOrPut(m, key, value, ttlMs);
        }
        Scratch s = SCRATCH.get();
        byte[] buf = s.out;
        MemorySegment bufSeg = s.outSeg;
        for (;;) {
            int st;
            try {
                st = (int) (long) op.invokeExact(map(m), seg(key), (long) key.length, seg(value), (long) value.length,
                        bufSeg, (long) buf.length, s.wordSeg);
            } catch (Throwable t) {
                throw rethrow(t);
            } finally {
                Reference.reachabilityFence(m);
            }
            long len = s.word[0];
            if (!swap) {
                // get-or-put: OK = inserted (no present value); EXISTS = present, copied if it fit.
                if (st == ST_OK) {
                    return null;
                }
                if (st == ST_EXISTS) {
                    st = len <= buf.length ? ST_OK : ST_BUFFER_TOO_SMALL;
                }
            }
            if (st == ST_OK) {
                return buf == s.out || len != buf.length ? Arrays.copyOf(buf, (int) len) : buf;
            }
            if (st == ST_NOT_FOUND) {
                return null;
            }
            if (st != ST_BUFFER_TOO_SMALL) {
                throw error(st);
            }
            if (len > CRITICAL_MAX) {
                return swap ? JNI.swap(m, key, value, ttlMs) : JNI.getOrPut(m, key, value, ttlMs);
            }
            buf = new byte[(int) len];
            bufSeg = seg(buf);
        }
    }

    @Override
    public int compareAndSwap(NumaShardMap m, byte[] key, byte[] expected, byte[] value) {
        if ((long) key.length + expected.length + value.length > CRITICAL_MAX) {
            return JNI.compareAndSwap(m, key, expected, value);
        }
        int st;
        try {
            st = (int) (long) CAS.invokeExact(map(m), seg(key), (long) key.length, seg(expected), (long) expected.length,
                    seg(value), (long) value.length);
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(m);
        }
        return outcome(st);
    }

    @Override
    public int compareAndDelete(NumaShardMap m, byte[] key, byte[] expected) {
        if ((long) key.length + expected.length > CRITICAL_MAX) {
            return JNI.compareAndDelete(m, key, expected);
        }
        int st;
        try {
            st = (int) (long) COMPARE_AND_DELETE.invokeExact(map(m), seg(key), (long) key.length, seg(expected),
                    (long) expected.length);
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(m);
        }
        return outcome(st);
    }

    /** OK, MISMATCH, NOT_FOUND are outcomes; anything else throws. */
    private static int outcome(int st) {
        if (st == ST_OK || st == ST_MISMATCH || st == ST_NOT_FOUND) {
            return st;
        }
        throw error(st);
    }

    // ------------------------------------------------------------------ batches

    @Override
    public void batch(NumaShardMap m, Batch batch, int n) {
        MemorySegment ops = MemorySegment.ofAddress(batch.opsAddress);
        int st;
        try {
            st = n <= CRITICAL_BATCH
                    ? (int) (long) BATCH_CRITICAL.invokeExact(map(m), ops, (long) n)
                    : (int) (long) BATCH.invokeExact(map(m), ops, (long) n);
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(m);
            Reference.reachabilityFence(batch);
        }
        if (st != ST_OK) {
            throw error(st);
        }
    }

    @Override
    public boolean getMany(NumaShardMap m, Batch batch, int n) {
        long base = batch.dataAddress;
        MemorySegment keys = MemorySegment.ofAddress(base + batch.gmKeys);
        MemorySegment keyLens = MemorySegment.ofAddress(base + batch.gmKeyLens);
        MemorySegment out = MemorySegment.ofAddress(base + batch.gmOut);
        MemorySegment valueLens = MemorySegment.ofAddress(base + batch.gmValueLens);
        MemorySegment statuses = MemorySegment.ofAddress(base + batch.gmStatuses);
        long stride = batch.gmStride;
        int st;
        try {
            st = n <= CRITICAL_BATCH
                    ? (int) (long) GET_MANY_CRITICAL.invokeExact(map(m), (long) n, keys, keyLens, out, stride, valueLens,
                            statuses)
                    : (int) (long) GET_MANY.invokeExact(map(m), (long) n, keys, keyLens, out, stride, valueLens,
                            statuses);
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(m);
            // The addresses point into the batch's direct buffer: keep it until the call returned.
            Reference.reachabilityFence(batch);
        }
        if (st == ST_BUFFER_TOO_SMALL) {
            return true;
        }
        if (st != ST_OK) {
            throw error(st);
        }
        return false;
    }

    /**
     * invokeExact declares Throwable; these handles throw nothing of their own (the engine
     * catches its panics and returns a status), so only an Error or RuntimeException can arrive.
     */
    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException("numashard: unexpected " + t, t);
    }
}
