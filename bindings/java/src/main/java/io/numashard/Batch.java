package io.numashard;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Many operations executed by one native call ({@link NumaShardMap#execute(Batch)}): one JNI
 * crossing, split by shard inside the engine, the shards' parts run in parallel with software
 * prefetching. This is how a JVM caller amortises the crossing cost.
 *
 * <p>Adders only record the operation (the arrays passed in are referenced, not copied);
 * {@code execute} lays the batch out for the C ABI: keys, values and result buffers packed into
 * one direct {@link ByteBuffer}, the operations as {@code ns_op} structs in a second one, and
 * the native call gets two pointers. So the arrays are read when the batch executes: do not
 * modify them between adding and executing. Recording first and packing in one pass lets the
 * CPU fetch the 64 keys of a batch in parallel (a copy per add would wait for each key's cache
 * miss before the next add could place its bytes). Each adder returns the operation's index;
 * after {@code execute}, read results by index. A batch is reusable ({@link #clear()}) and not
 * thread-safe: use one per thread.
 *
 * <pre>{@code
 * Batch b = new Batch();
 * for (byte[] k : keys) b.get(k);
 * map.execute(b);
 * for (int i = 0; i < b.size(); i++) use(b.value(i)); // null when absent
 * }</pre>
 *
 * <p>Adding an operation to an executed batch clears it first (a new batch).
 *
 * <p>A {@code get}, {@code take} or {@code swap} reserves {@code valueCapacity} bytes for its
 * result (the batch's default unless given). When a value is larger, {@code execute} re-reads
 * that key by itself afterwards (for {@code take} and {@code swap}: takes or swaps afterwards —
 * the engine changed nothing — so they act after the batch's later operations), so results are
 * always complete; size the capacity to your values to keep that path cold.
 *
 * <p>A batch of only gets, all with the same value capacity (the common {@code b.get(key)} loop),
 * runs through the engine's {@code ns_get_many} instead: the keys packed back to back with their
 * lengths, each value read into a fixed-size slot, per-key statuses in a plain array, no
 * {@code ns_op} written or read on either side. Results, statuses and exceptions are the same.
 */
public final class Batch {
    private static final int[] LAYOUT;
    private static final int OP_SIZE;
    private static final int OFF_KIND;
    private static final int OFF_KEY;
    private static final int OFF_KEY_LEN;
    private static final int OFF_VALUE;
    private static final int OFF_VALUE_LEN;
    private static final int OFF_EXPECTED;
    private static final int OFF_EXPECTED_LEN;
    private static final int OFF_DELTA;
    private static final int OFF_OUT;
    private static final int OFF_OUT_CAP;
    private static final int OFF_OUT_LEN;
    private static final int OFF_OUT_COUNTER;
    private static final int OFF_STATUS;
    private static final int OFF_TTL;
    static final int KIND_GET;
    static final int KIND_PUT;
    static final int KIND_PUT_IF_ABSENT;
    static final int KIND_DELETE;
    static final int KIND_TAKE;
    static final int KIND_CAS;
    static final int KIND_ADD;
    static final int KIND_COMPARE_AND_DELETE;
    static final int KIND_SWAP;
    static final int KIND_EXPIRE;
    static final int KIND_TTL;

    static {
        NativeLibrary.load();
        LAYOUT = nOpLayout();
        int i = 0;
        OP_SIZE = LAYOUT[i++];
        OFF_KIND = LAYOUT[i++];
        OFF_KEY = LAYOUT[i++];
        OFF_KEY_LEN = LAYOUT[i++];
        OFF_VALUE = LAYOUT[i++];
        OFF_VALUE_LEN = LAYOUT[i++];
        OFF_EXPECTED = LAYOUT[i++];
        OFF_EXPECTED_LEN = LAYOUT[i++];
        OFF_DELTA = LAYOUT[i++];
        OFF_OUT = LAYOUT[i++];
        OFF_OUT_CAP = LAYOUT[i++];
        OFF_OUT_LEN = LAYOUT[i++];
        OFF_OUT_COUNTER = LAYOUT[i++];
        OFF_STATUS = LAYOUT[i++];
        OFF_TTL = LAYOUT[i++];
        KIND_GET = LAYOUT[i++];
        KIND_PUT = LAYOUT[i++];
        KIND_PUT_IF_ABSENT = LAYOUT[i++];
        KIND_DELETE = LAYOUT[i++];
        KIND_TAKE = LAYOUT[i++];
        KIND_CAS = LAYOUT[i++];
        KIND_ADD = LAYOUT[i++];
        KIND_COMPARE_AND_DELETE = LAYOUT[i++];
        KIND_SWAP = LAYOUT[i++];
        KIND_EXPIRE = LAYOUT[i++];
        KIND_TTL = LAYOUT[i++];
    }

    private final int defaultValueCapacity;
    /** The recorded operations, packed into {@link #ops} and {@link #data} by {@link #beforeExecute}. */
    private int[] kinds;
    private byte[][] keys;
    private byte[][] values;
    private byte[][] expecteds;
    private long[] deltas;
    /** {@code ns_op.ttl_ms} of each operation (0 = the map's default for stores). */
    private long[] ttls;
    /** Result capacity of a get/take; -1 for operations that return no bytes. */
    private int[] outCaps;
    ByteBuffer ops;
    /** The address of {@link #ops} (the FFM backend passes it to {@code ns_batch}). */
    long opsAddress;
    private ByteBuffer data;
    /** The address of {@link #data} (the backends pass addresses into it to {@code ns_get_many}). */
    long dataAddress;
    private int count;
    private byte[][] overflow;
    private boolean executed;
    /** Every recorded operation is a get, all with the capacity of the first. */
    private boolean uniformGets;
    /**
     * The last layout was for {@code ns_get_many}: results are read from {@link #data} at the
     * offsets below, not from {@link #ops}.
     */
    private boolean manyGets;
    /** {@code ns_get_many} layout in {@link #data}: offsets of its arrays and the room per value. */
    int gmKeyLens;
    int gmValueLens;
    int gmStatuses;
    int gmOut;
    int gmKeys;
    int gmStride;

    /** A batch with room for 64 operations to start with and 128-byte result buffers. */
    public Batch() {
        this(64, 128);
    }

    /**
     * A batch sized for {@code expectedOps} operations (it grows as needed) whose {@code get} and
     * {@code take} results get {@code defaultValueCapacity} bytes each.
     *
     * @param expectedOps operations to size the buffers for (the batch grows past it)
     * @param defaultValueCapacity bytes reserved for each get/take result
     */
    public Batch(int expectedOps, int defaultValueCapacity) {
        if (expectedOps <= 0 || defaultValueCapacity < 0) {
            throw new IllegalArgumentException("expectedOps must be > 0 and defaultValueCapacity >= 0");
        }
        this.defaultValueCapacity = defaultValueCapacity;
        this.kinds = new int[expectedOps];
        this.keys = new byte[expectedOps][];
        this.values = new byte[expectedOps][];
        this.expecteds = new byte[expectedOps][];
        this.deltas = new long[expectedOps];
        this.ttls = new long[expectedOps];
        this.outCaps = new int[expectedOps];
        this.ops = ByteBuffer.allocateDirect(expectedOps * OP_SIZE).order(ByteOrder.nativeOrder());
        this.opsAddress = nAddress(ops);
        this.data = ByteBuffer.allocateDirect(Math.max(256, expectedOps * (48 + defaultValueCapacity)))
                .order(ByteOrder.nativeOrder());
        this.dataAddress = nAddress(data);
    }

    /**
     * Number of operations added.
     *
     * @return the number of operations added
     */
    public int size() {
        return count;
    }

    /**
     * Removes every operation (buffers are kept for reuse).
     *
     * @return this batch
     */
    public Batch clear() {
        // Drop the references so the batch does not keep the caller's arrays alive.
        java.util.Arrays.fill(keys, 0, count, null);
        java.util.Arrays.fill(values, 0, count, null);
        java.util.Arrays.fill(expecteds, 0, count, null);
        count = 0;
        executed = false;
        uniformGets = false;
        if (overflow != null) {
            java.util.Arrays.fill(overflow, null);
        }
        return this;
    }

    // ---------------------------------------------------------------- adders (return the op index)

    /**
     * Adds a get; its value is read back with {@link #value(int)}.
     *
     * @param key the key
     * @return the operation's index
     */
    public int get(byte[] key) {
        return get(key, defaultValueCapacity);
    }

    /**
     * Adds a get reserving {@code valueCapacity} bytes for the value.
     *
     * @param key the key
     * @param valueCapacity bytes reserved for the value in the result buffer (larger values are fetched again after the batch)
     * @return the operation's index
     */
    public int get(byte[] key, int valueCapacity) {
        return add(KIND_GET, key, null, null, 0, valueCapacity);
    }

    /**
     * Adds a put (insert or overwrite).
     *
     * @param key the key
     * @param value the value
     * @return the operation's index
     */
    public int put(byte[] key, byte[] value) {
        return add(KIND_PUT, key, Objects.requireNonNull(value, "value"), null, 0, -1);
    }

    /**
     * Adds a put with a time to live (see {@link NumaShardMap#put(byte[], byte[], Duration)}).
     *
     * @param key the key
     * @param value the value
     * @param ttl positive, rounded up to whole milliseconds; {@link NumaShardMap#NO_EXPIRY} = never
     * @return the operation's index
     * @throws IllegalArgumentException when {@code ttl} is zero or negative
     */
    public int put(byte[] key, byte[] value, Duration ttl) {
        long ms = TtlMillis.forStore(ttl); // checked before the op is added
        return withTtl(put(key, value), ms);
    }

    /**
     * Adds a put-if-absent; status {@link Status#OK} when inserted, {@link Status#EXISTS} when not.
     *
     * @param key the key
     * @param value the value
     * @return the operation's index
     */
    public int putIfAbsent(byte[] key, byte[] value) {
        return add(KIND_PUT_IF_ABSENT, key, Objects.requireNonNull(value, "value"), null, 0, -1);
    }

    /**
     * Adds a put-if-absent inserting with a time to live.
     *
     * @param key the key
     * @param value the value
     * @param ttl positive, rounded up to whole milliseconds; {@link NumaShardMap#NO_EXPIRY} = never
     * @return the operation's index
     * @throws IllegalArgumentException when {@code ttl} is zero or negative
     */
    public int putIfAbsent(byte[] key, byte[] value, Duration ttl) {
        long ms = TtlMillis.forStore(ttl); // checked before the op is added
        return withTtl(putIfAbsent(key, value), ms);
    }

    /**
     * Adds an expire: the key's time to live becomes {@code ttl} from when the batch runs
     * ({@link Duration#ZERO} expires it, {@link NumaShardMap#NO_EXPIRY} persists it); status
     * {@link Status#OK}, or {@link Status#NOT_FOUND} when absent.
     *
     * @param key the key
     * @param ttl zero or more, rounded up to whole milliseconds
     * @return the operation's index
     * @throws IllegalArgumentException when {@code ttl} is negative
     */
    public int expire(byte[] key, Duration ttl) {
        long ms = TtlMillis.of(ttl, "ttl");
        return withTtl(add(KIND_EXPIRE, key, null, null, 0, -1), ms);
    }

    /**
     * Adds a persist (an expire with {@link NumaShardMap#NO_EXPIRY}).
     *
     * @param key the key
     * @return the operation's index
     */
    public int persist(byte[] key) {
        return withTtl(add(KIND_EXPIRE, key, null, null, 0, -1), TtlMillis.NEVER);
    }

    /**
     * Adds a time-to-live read; its result is {@link #ttl(int)} / {@link #ttlMillis(int)}.
     *
     * @param key the key
     * @return the operation's index
     */
    public int ttl(byte[] key) {
        return add(KIND_TTL, key, null, null, 0, -1);
    }

    private int withTtl(int i, long ttlMs) {
        ttls[i] = ttlMs;
        return i;
    }

    /**
     * Adds a delete; status {@link Status#OK} when removed, {@link Status#NOT_FOUND} when absent.
     *
     * @param key the key
     * @return the operation's index
     */
    public int remove(byte[] key) {
        return add(KIND_DELETE, key, null, null, 0, -1);
    }

    /**
     * Adds a take (remove, returning the old value via {@link #value(int)}).
     *
     * @param key the key
     * @return the operation's index
     */
    public int take(byte[] key) {
        return take(key, defaultValueCapacity);
    }

    /**
     * Adds a take reserving {@code valueCapacity} bytes for the old value.
     *
     * @param key the key
     * @param valueCapacity bytes reserved for the value in the result buffer (larger values are fetched again after the batch)
     * @return the operation's index
     */
    public int take(byte[] key, int valueCapacity) {
        return add(KIND_TAKE, key, null, null, 0, valueCapacity);
    }

    /**
     * Adds a compare-and-swap; status OK, {@link Status#MISMATCH} or {@link Status#NOT_FOUND}.
     *
     * @param key the key
     * @param expected the value the stored one must equal, byte for byte
     * @param value the value
     * @return the operation's index
     */
    public int compareAndSet(byte[] key, byte[] expected, byte[] value) {
        return add(KIND_CAS, key, Objects.requireNonNull(value, "value"),
                Objects.requireNonNull(expected, "expected"), 0, -1);
    }

    /** Adds a counter add; the new value is read back with {@link #counter(int)}. */
    /**
     * Adds a swap: stores {@code value} and reads the previous value ({@link #value(int)}; status
     * {@link Status#NOT_FOUND} when there was none and the value was inserted).
     *
     * @param key the key
     * @param value the value
     * @return the operation's index
     */
    public int swap(byte[] key, byte[] value) {
        return add(KIND_SWAP, key, Objects.requireNonNull(value, "value"), null, 0, defaultValueCapacity);
    }

    /**
     * Adds a swap storing {@code value} with a time to live.
     *
     * @param key the key
     * @param value the value
     * @param ttl positive, rounded up to whole milliseconds; {@link NumaShardMap#NO_EXPIRY} = never
     * @return the operation's index
     * @throws IllegalArgumentException when {@code ttl} is zero or negative
     */
    public int swap(byte[] key, byte[] value, Duration ttl) {
        long ms = TtlMillis.forStore(ttl); // checked before the op is added
        return withTtl(swap(key, value), ms);
    }

    /**
     * Adds a compare-and-delete; status OK (removed), {@link Status#MISMATCH} or {@link Status#NOT_FOUND}.
     *
     * @param key the key
     * @param expected the value the stored one must equal, byte for byte
     * @return the operation's index
     */
    public int compareAndDelete(byte[] key, byte[] expected) {
        return add(KIND_COMPARE_AND_DELETE, key, null, Objects.requireNonNull(expected, "expected"), 0, -1);
    }

    /**
     * Adds an atomic add to the 64-bit counter under {@code key} (created at 0 when absent); read
     * the new value with {@link #counter(int)}.
     *
     * @param key the key
     * @param delta the amount to add (may be negative)
     * @return the operation's index
     */
    public int add(byte[] key, long delta) {
        return add(KIND_ADD, key, null, null, delta, -1);
    }

    private int add(int kind, byte[] key, byte[] value, byte[] expected, long delta, int outCap) {
        Objects.requireNonNull(key, "key");
        if (outCap < -1) {
            throw new IllegalArgumentException("valueCapacity must be >= 0");
        }
        if (executed) {
            clear();
        }
        if (count == kinds.length) {
            grow();
        }
        int i = count;
        uniformGets = kind == KIND_GET && (i == 0 || (uniformGets && outCap == outCaps[0]));
        kinds[i] = kind;
        keys[i] = key;
        values[i] = value;
        expecteds[i] = expected;
        deltas[i] = delta;
        ttls[i] = 0;
        outCaps[i] = outCap;
        return count++;
    }

    private void grow() {
        int cap = kinds.length * 2;
        if (cap < 0) {
            throw new IllegalArgumentException("batch larger than 2^30 operations");
        }
        kinds = java.util.Arrays.copyOf(kinds, cap);
        keys = java.util.Arrays.copyOf(keys, cap);
        values = java.util.Arrays.copyOf(values, cap);
        expecteds = java.util.Arrays.copyOf(expecteds, cap);
        deltas = java.util.Arrays.copyOf(deltas, cap);
        ttls = java.util.Arrays.copyOf(ttls, cap);
        outCaps = java.util.Arrays.copyOf(outCaps, cap);
    }

    /**
     * Lays the recorded operations out as {@code ns_op} structs in {@link #ops} and their bytes in
     * {@link #data}. The first pass only reads array lengths, so the keys' cache misses overlap.
     */
    private void pack() {
        long need = 0;
        for (int i = 0; i < count; i++) {
            byte[] v = values[i];
            byte[] e = expecteds[i];
            need += keys[i].length + (v == null ? 0 : v.length) + (e == null ? 0 : e.length)
                    + Math.max(outCaps[i], 0);
        }
        if (need > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("batch larger than 2 GiB");
        }
        if (need > data.capacity()) {
            int cap = (int) Math.min(Integer.MAX_VALUE - 8, Math.max((long) data.capacity() * 2, need));
            data = ByteBuffer.allocateDirect(cap).order(ByteOrder.nativeOrder());
            dataAddress = nAddress(data);
        }
        if ((long) count * OP_SIZE > ops.capacity()) {
            long cap = Math.max((long) ops.capacity() * 2, (long) count * OP_SIZE);
            if (cap > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("batch larger than 2 GiB");
            }
            ops = ByteBuffer.allocateDirect((int) cap).order(ByteOrder.nativeOrder());
            opsAddress = nAddress(ops);
        }
        ByteBuffer ops = this.ops;
        ByteBuffer data = this.data;
        long base = dataAddress;
        int used = 0;
        for (int i = 0; i < count; i++) {
            int o = i * OP_SIZE;
            ops.putInt(o + OFF_KIND, kinds[i]);
            used = place(ops, data, base, o + OFF_KEY, o + OFF_KEY_LEN, keys[i], used);
            used = place(ops, data, base, o + OFF_VALUE, o + OFF_VALUE_LEN, values[i], used);
            used = place(ops, data, base, o + OFF_EXPECTED, o + OFF_EXPECTED_LEN, expecteds[i], used);
            ops.putLong(o + OFF_DELTA, deltas[i]);
            ops.putLong(o + OFF_TTL, ttls[i]);
            int outCap = outCaps[i];
            if (outCap > 0) {
                ops.putLong(o + OFF_OUT, base + used);
                ops.putLong(o + OFF_OUT_CAP, outCap);
                used += outCap;
            } else {
                ops.putLong(o + OFF_OUT, 0);
                ops.putLong(o + OFF_OUT_CAP, 0);
            }
            ops.putLong(o + OFF_OUT_LEN, 0);
            ops.putLong(o + OFF_OUT_COUNTER, 0);
            ops.putInt(o + OFF_STATUS, -1);
        }
    }

    /**
     * Writes {@code bytes} into {@code data} at {@code used} and its address and length into the
     * op's pointer and length fields (0 and 0 when null); returns the new fill of {@code data}.
     */
    private static int place(ByteBuffer ops, ByteBuffer data, long base, int ptrField, int lenField, byte[] bytes,
            int used) {
        if (bytes == null) {
            ops.putLong(ptrField, 0);
            ops.putLong(lenField, 0);
            return used;
        }
        ops.putLong(ptrField, base + used);
        ops.putLong(lenField, bytes.length);
        data.put(used, bytes);
        return used + bytes.length;
    }

    // ---------------------------------------------------------------- execution hooks

    void beforeExecute() {
        // (Re-)lays out every operation, with fresh outputs.
        if (overflow != null) {
            java.util.Arrays.fill(overflow, null);
        }
        manyGets = false;
        pack();
    }

    /**
     * Lays the batch out for {@code ns_get_many} when it holds only gets of one value capacity
     * (and fits in 2 GiB); false, with nothing changed, when it must run as {@code ns_op}s. In
     * {@link #data}: the key lengths and value lengths ({@code size_t}), the statuses
     * ({@code ns_status}), a slot of {@link #gmStride} bytes per value, then the keys back to
     * back. The first pass only reads array lengths, so the keys' cache misses overlap.
     */
    boolean beforeGetMany() {
        if (!uniformGets) {
            return false;
        }
        int n = count;
        int stride = outCaps[0];
        long keyBytes = 0;
        for (int i = 0; i < n; i++) {
            keyBytes += keys[i].length;
        }
        long out = ((20L * n) + 7) & ~7L;
        long need = out + (long) n * stride + keyBytes;
        if (need > Integer.MAX_VALUE - 8) {
            return false; // ns_batch's layout reports it
        }
        if (need > data.capacity()) {
            int cap = (int) Math.min(Integer.MAX_VALUE - 8, Math.max((long) data.capacity() * 2, need));
            data = ByteBuffer.allocateDirect(cap).order(ByteOrder.nativeOrder());
            dataAddress = nAddress(data);
        }
        if (overflow != null) {
            java.util.Arrays.fill(overflow, null);
        }
        manyGets = true;
        gmKeyLens = 0;
        gmValueLens = 8 * n;
        gmStatuses = 16 * n;
        gmOut = (int) out;
        gmStride = stride;
        gmKeys = (int) (out + (long) n * stride);
        ByteBuffer data = this.data;
        int at = gmKeys;
        for (int i = 0; i < n; i++) {
            byte[] k = keys[i];
            data.putLong(8 * i, k.length);
            data.put(at, k);
            at += k.length;
        }
        return true;
    }

    /**
     * Called by the map after {@code ns_get_many}: re-reads, each by itself and with room, the
     * values that did not fit their slot ({@code tooSmall}: the call said some did not).
     */
    void afterGetMany(NumaShardMap map, boolean tooSmall) {
        java.lang.ref.Reference.reachabilityFence(data);
        executed = true;
        if (tooSmall) {
            completeLarge(map);
        }
    }

    /** Called by the map after the native call: completes values too large for their buffer. */
    void afterExecute(NumaShardMap map) {
        java.lang.ref.Reference.reachabilityFence(data);
        executed = true;
        completeLarge(map);
    }

    private void completeLarge(NumaShardMap map) {
        for (int i = 0; i < count; i++) {
            if (rawStatus(i) != Status.BUFFER_TOO_SMALL.code()) {
                continue;
            }
            int kind = kinds[i];
            byte[] key = keys[i];
            // The engine changed nothing for this op: do it again by itself, with room.
            byte[] v = kind == KIND_TAKE ? map.take(key)
                    : kind == KIND_SWAP ? map.swapMillis(key, values[i], ttls[i]) : map.get(key);
            if (overflow == null || overflow.length < count) {
                byte[][] grown = new byte[Math.max(count, 16)][];
                if (overflow != null) {
                    System.arraycopy(overflow, 0, grown, 0, overflow.length);
                }
                overflow = grown;
            }
            overflow[i] = v;
            setResult(i, v == null ? Status.NOT_FOUND.code() : Status.OK.code(), v == null ? 0 : v.length);
        }
    }

    // ---------------------------------------------------------------- raw results of either layout

    private int rawStatus(int i) {
        return manyGets ? data.getInt(gmStatuses + 4 * i) : ops.getInt(i * OP_SIZE + OFF_STATUS);
    }

    /** The value length the engine wrote for read {@code i}. */
    private long rawLength(int i) {
        return manyGets ? data.getLong(gmValueLens + 8 * i) : ops.getLong(i * OP_SIZE + OFF_OUT_LEN);
    }

    private void setResult(int i, int status, long length) {
        if (manyGets) {
            data.putInt(gmStatuses + 4 * i, status);
            data.putLong(gmValueLens + 8 * i, length);
        } else {
            ops.putInt(i * OP_SIZE + OFF_STATUS, status);
            ops.putLong(i * OP_SIZE + OFF_OUT_LEN, length);
        }
    }

    // ---------------------------------------------------------------- results

    private int checkIndex(int i) {
        if (!executed) {
            throw new IllegalStateException("batch not executed");
        }
        return Objects.checkIndex(i, count);
    }

    /**
     * The outcome of operation {@code i} (errors such as KEY_TOO_LARGE are reported here, not thrown).
     *
     * @param i the operation's index (the number {@code add} returned)
     * @return its status
     */
    public Status status(int i) {
        return Status.of(rawStatus(checkIndex(i)));
    }

    /**
     * The raw {@code ns_status} of operation {@code i}.
     *
     * @param i the operation's index (the number {@code add} returned)
     * @return its {@code ns_status} code
     */
    public int statusCode(int i) {
        return rawStatus(checkIndex(i));
    }

    /**
     * The value length read by get/take/swap {@code i}, or {@link NumaShardMap#NOT_FOUND} when absent.
     *
     * @param i the operation's index (the number {@code add} returned)
     * @return the length, or {@link NumaShardMap#NOT_FOUND}
     */
    public int valueLength(int i) {
        checkIndex(i);
        return rawStatus(i) == Status.OK.code() ? (int) rawLength(i) : NumaShardMap.NOT_FOUND;
    }

    /**
     * A copy of the value read by get/take/swap {@code i}; null when the key was absent.
     *
     * @param i the operation's index (the number {@code add} returned)
     * @return a copy of the value, or null when absent
     * @throws NumaShardException when the operation failed with an error status
     * @throws IllegalStateException when operation {@code i} is not a get, take or swap
     */
    public byte[] value(int i) {
        if (!readFound(i)) {
            return null;
        }
        if (overflow != null && overflow[i] != null) {
            return overflow[i].clone();
        }
        byte[] v = new byte[(int) rawLength(i)];
        if (v.length > 0) {
            data.get(outOffset(i), v);
        }
        return v;
    }

    /**
     * A read-only view of the value read by get/take/swap {@code i}, valid until the batch is cleared
     * or re-executed; null when absent. No copy.
     *
     * @param i the operation's index (the number {@code add} returned)
     * @return a read-only view of the value, or null when absent
     */
    public ByteBuffer valueBuffer(int i) {
        if (!readFound(i)) {
            return null;
        }
        if (overflow != null && overflow[i] != null) {
            return ByteBuffer.wrap(overflow[i]).asReadOnlyBuffer();
        }
        int len = (int) rawLength(i);
        if (len == 0) {
            return ByteBuffer.allocate(0).asReadOnlyBuffer();
        }
        return data.slice(outOffset(i), len).asReadOnlyBuffer();
    }

    /**
     * True when read {@code i} found its key, false when absent; throws for an error status or
     * an operation that reads no value.
     */
    private boolean readFound(int i) {
        checkIndex(i);
        int kind = kinds[i];
        if (kind != KIND_GET && kind != KIND_TAKE && kind != KIND_SWAP) {
            throw new IllegalStateException("operation " + i + " is not a get, take or swap");
        }
        int st = rawStatus(i);
        if (st == Status.NOT_FOUND.code()) {
            return false;
        }
        if (st != Status.OK.code()) {
            throw NumaShardException.forStatus(st);
        }
        return true;
    }

    /** Where in {@link #data} the engine wrote read {@code i}'s value. */
    private int outOffset(int i) {
        return manyGets ? gmOut + i * gmStride : (int) (ops.getLong(i * OP_SIZE + OFF_OUT) - dataAddress);
    }

    /**
     * The new counter value of add {@code i}.
     *
     * @param i the operation's index (the number {@code add} returned)
     * @return the counter's new value
     * @throws NumaShardException when the add failed (e.g. {@link NotACounterException})
     */
    public long counter(int i) {
        int st = rawStatus(checkIndex(i));
        if (st != Status.OK.code()) {
            throw NumaShardException.forStatus(st);
        }
        return manyGets ? 0 : ops.getLong(i * OP_SIZE + OFF_OUT_COUNTER);
    }

    /**
     * The remaining time to live read by ttl {@code i}, in milliseconds rounded up:
     * {@link NumaShardMap#TTL_NEVER} (-1) when it never expires, {@link NumaShardMap#TTL_ABSENT}
     * (-2) when the key was absent or expired.
     *
     * @param i the operation's index
     * @return the milliseconds left, {@link NumaShardMap#TTL_NEVER} or {@link NumaShardMap#TTL_ABSENT}
     * @throws NumaShardException when the operation failed with an error status
     * @throws IllegalStateException when operation {@code i} is not a ttl
     */
    public long ttlMillis(int i) {
        checkIndex(i);
        if (kinds[i] != KIND_TTL) {
            throw new IllegalStateException("operation " + i + " is not a ttl");
        }
        int st = rawStatus(i);
        if (st == Status.NOT_FOUND.code()) {
            return NumaShardMap.TTL_ABSENT;
        }
        if (st != Status.OK.code()) {
            throw NumaShardException.forStatus(st);
        }
        return ops.getLong(i * OP_SIZE + OFF_OUT_COUNTER);
    }

    /**
     * The remaining time to live read by ttl {@code i} ({@link NumaShardMap#ttl(byte[])}'s
     * answer): {@link NumaShardMap#NO_EXPIRY} when it never expires, empty when absent.
     *
     * @param i the operation's index
     * @return the time left, {@link NumaShardMap#NO_EXPIRY}, or empty
     */
    public Optional<Duration> ttl(int i) {
        return TtlMillis.remaining(ttlMillis(i));
    }

    /** True when the last execution ran through {@code ns_get_many} (tests and benchmarks). */
    boolean ranAsGetMany() {
        return executed && manyGets;
    }

    /** Layout of {@code ns_op} and the op kinds, from the glue (compiled against the header). */
    private static native int[] nOpLayout();

    static long address(ByteBuffer direct) {
        return nAddress(direct);
    }

    /** The address of a direct buffer. */
    private static native long nAddress(ByteBuffer direct);
}
