package io.numashard;

import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.BiConsumer;

/**
 * A NUMA-aware, sharded, off-heap key-value map: byte-string keys and values live in native
 * memory owned by the shard they hash to, bound to that shard's NUMA node, invisible to the
 * garbage collector. A thin layer over the numashard C ABI ({@code include/numashard.h}): JNI on
 * every JDK, and on JDK 22+ the Foreign Function &amp; Memory API for the per-key calls and
 * batches (see {@link #nativeBackend()}).
 *
 * <p><b>Threads.</b> Every method may be called from any number of threads at once, including
 * {@link #close()}. Single-key operations are linearizable. A call racing {@code close()} either
 * completes or throws {@link MapClosedException}; every call after {@code close()} throws it.
 *
 * <p><b>Lifetime.</b> {@link #close()} stops the shard threads and frees all entry memory at
 * once; it is idempotent and thread-safe. The small native handle itself ({@code ns_map_free})
 * is freed only when no Java thread can be inside a native call on it: when this object is
 * unreachable (a {@link Cleaner} action). Every JNI method is an instance method, so the JVM keeps the receiver
 * reachable for the whole native call, and every FFM downcall is followed by a
 * {@code Reference.reachabilityFence} of the map: the handle cannot be freed under a call. A map that is
 * never closed is closed and freed by the same {@code Cleaner} — but close it explicitly.
 *
 * <p><b>Errors.</b> Outcomes (not found, already exists, mismatch) are return values; errors
 * throw the unchecked {@link NumaShardException} (subclasses for closed, full, key or value too
 * large, not a counter). Null keys or values throw {@link NullPointerException}.
 *
 * <p><b>Cache mode.</b> With {@link Config.Builder#eviction(Eviction)} a map full to its memory
 * limit evicts entries (S3-FIFO, per shard) instead of throwing {@link MapFullException}. Any map
 * keeps entries with a time to live: {@link #put(byte[], byte[], Duration)},
 * {@link #putIfAbsent(byte[], byte[], Duration)}, {@link #swap(byte[], byte[], Duration)},
 * {@link #getOrPut(byte[], byte[], Duration)}, the batch kinds, or the map's
 * {@link Config.Builder#defaultTtl(Duration) default}; {@link #expire}, {@link #persist} and
 * {@link #ttl} change and read it. From the instant an entry's time runs out no read, batch,
 * iteration or {@link #size()} returns it (checked at read time on a monotonic clock; the memory
 * is reclaimed later). {@link #stats()} counts hits, misses, evictions and expirations. Times to
 * live are whole milliseconds: a {@code Duration} is rounded up to the next millisecond.
 *
 * <p>Writes and deadlines: {@code put} and {@code swap} replace an entry's deadline (with the
 * one given, else the map's default: none unless configured); {@code compareAndSet},
 * {@code add}, and {@code putIfAbsent} / {@code getOrPut} finding the key keep it; a write that
 * creates an entry without a TTL gives it the map's default.
 */
public final class NumaShardMap implements AutoCloseable {
    /** Returned by the {@code get}/{@code take} buffer variants when the key is absent. */
    public static final int NOT_FOUND = -1;

    /**
     * A time to live meaning "never expires": pass it to {@link #put(byte[], byte[], Duration)} and
     * the other writes taking a TTL to store an entry that outlives a map's default TTL, or to
     * {@link #expire} (= {@link #persist}); {@link #ttl} returns it for an entry without an expiry.
     * It is {@code ChronoUnit.FOREVER.getDuration()}; any {@code Duration} of 2<sup>63</sup>
     * milliseconds or more means the same.
     */
    public static final Duration NO_EXPIRY = TtlMillis.FOREVER;

    /** {@link #ttlMillis} of an entry that never expires (Redis {@code PTTL}'s -1). */
    public static final long TTL_NEVER = -1;

    /** {@link #ttlMillis} of a key that is absent or expired (Redis {@code PTTL}'s -2). */
    public static final long TTL_ABSENT = -2;

    static final int ST_OK = 0;
    static final int ST_NOT_FOUND = 1;
    static final int ST_EXISTS = 2;
    static final int ST_MISMATCH = 3;
    static final int ST_CLOSED = 104;

    private static final Cleaner CLEANER = Cleaner.create();

    static {
        NativeLibrary.load();
    }

    /**
     * How the hot calls cross into the engine (JNI, or FFM on JDK 22+), chosen once per process
     * after the library is loaded; see {@link #nativeBackend()}.
     */
    static final Backend BACKEND = Backend.select();

    /** The {@code ns_map*}; never 0 for an opened map. */
    final long handle;

    private NumaShardMap(long handle) {
        this.handle = handle;
        CLEANER.register(this, new FreeHandle(handle));
    }

    /**
     * Opens a map with the native defaults (one shard per allowed CPU, no memory limit).
     *
     * @return the open map
     */
    public static NumaShardMap open() {
        return open(Config.defaults());
    }

    /**
     * Opens a map and binds each shard's memory to its node (or reports in {@link #stats()} that
     * binding was not applied).
     *
     * <p><b>Cost.</b> Cheap with the defaults: the machine's topology is read once per process,
     * and in {@code ExecMode.AUTO} no thread starts at open; a shard's pinned owner thread starts
     * the first time the shard has background work (retired memory, a first expiry deadline,
     * {@code replaceAll}, a loaded snapshot) and parks when idle. {@code ExecMode.DELEGATE}
     * starts every owner at open. Owner threads are not shared across maps: prefer one
     * long-lived map (key prefixes, or several {@link #typed typed views} over it) to many, and
     * close maps you no longer need: {@link #close()} stops the threads at once.
     *
     * @param config the settings
     * @return the open map
     * @throws NumaShardException with {@link Status#INVALID_ARGUMENT}, {@link Status#TOPOLOGY} or
     *     {@link Status#RESOURCE} when the map cannot be created
     */
    public static NumaShardMap open(Config config) {
        Objects.requireNonNull(config, "config");
        long h = nOpen(config.packed(), config.topology, config.topologyXml, config.nodes, config.shardsPerNode);
        return new NumaShardMap(h);
    }

    /**
     * Opens a new map configured by {@code config} holding the snapshot saved in {@code dir} (a
     * warm restart): each shard is built in parallel by a thread on its CPU, in its node's memory;
     * the snapshot may come from a map with another shard count, topology or hash seed. Entries
     * whose expiry deadline has passed are not loaded. Every block is checked before use, and no
     * map is returned on any error.
     *
     * @param dir the snapshot's directory
     * @param config the new map's settings
     * @return the open map
     * @throws NumaShardException with {@link Status#NO_SNAPSHOT}, {@link Status#NOT_A_SNAPSHOT},
     *     {@link Status#SNAPSHOT_VERSION}, {@link Status#SNAPSHOT_CORRUPT}, {@link Status#IO} (the
     *     message names the file and the reason), {@link KeyTooLargeException} /
     *     {@link ValueTooLargeException} (entries above the config's limits), {@link MapFullException},
     *     or what {@link #open(Config)} throws
     */
    public static NumaShardMap openSnapshot(java.nio.file.Path dir, Config config) {
        return Snapshots.open(dir, config);
    }

    /**
     * Saves the whole map into {@code dir} (created if needed) as a snapshot of one moment: exactly
     * the writes that took effect before the call started, on every shard. Writers keep working
     * meanwhile (a writer waits at most for the start or one chunk copy). Files are written to
     * temporary names, fsynced and renamed, the manifest last, so a crash at any moment leaves the
     * previous snapshot or this one, complete.
     *
     * @param dir the directory
     * @return what the save did
     * @throws NumaShardException with {@link Status#IO} (the previous snapshot stays; the message
     *     says why), {@link Status#SNAPSHOT_BUSY}, or {@link MapClosedException}
     */
    public SaveReport save(java.nio.file.Path dir) {
        return Snapshots.save(this, dir);
    }

    /**
     * The native library's version, {@code ns_version()} (e.g. {@code "0.1.0"}).
     *
     * @return the version string
     */
    public static String nativeVersion() {
        return nVersion();
    }

    /**
     * Which way this process crosses into the engine for the per-key calls and batches:
     * {@code "ffm"} (the Foreign Function &amp; Memory API: JDK 22 and newer, from this jar's
     * multi-release classes) or {@code "jni"} (every JDK). Chosen once, when this class is
     * initialised: {@code -Dnumashard.backend=auto} (the default) takes FFM where available,
     * {@code =jni} forces JNI, {@code =ffm} forces FFM and fails to initialise (an
     * {@link UnsatisfiedLinkError} saying why) where it is not available. Both behave identically
     * (results, statuses, exceptions, close races); FFM makes a single get about 20% cheaper.
     * Opening, closing, statistics, iteration, snapshots and {@code replaceAll} use JNI on both.
     *
     * @return {@code "ffm"} or {@code "jni"}
     */
    public static String nativeBackend() {
        return BACKEND.name();
    }

    static String statusString(int code) {
        return nStatusStr(code);
    }

    // ---------------------------------------------------------------- reads

    /**
     * The value stored under {@code key}, copied into a new array, or null when absent.
     *
     * @param key the key
     * @return a copy of the value, or null when absent
     * @throws MapClosedException when the map is closed
     * @throws KeyTooLargeException when the key is longer than the map's limit
     */
    public byte[] get(byte[] key) {
        return BACKEND.get(this, Objects.requireNonNull(key, "key"));
    }

    /**
     * Copies the value stored under {@code key} into {@code dst} at its position, without going
     * through the Java heap when {@code dst} is direct.
     *
     * <p>Returns the value's length, or {@link #NOT_FOUND} (-1) when the key is absent. When the
     * value fits ({@code length <= dst.remaining()}) it is written at {@code dst.position()} and
     * the position is advanced by its length, like a channel read. When it does not fit, nothing
     * is written, the position is unchanged and the returned length ({@code > dst.remaining()})
     * is the size to retry with.
     *
     * @param key the key
     * @param dst where the value is written, at its position
     * @return the value's length, or {@link #NOT_FOUND}
     */
    public int get(byte[] key, ByteBuffer dst) {
        Objects.requireNonNull(key, "key");
        checkWritable(dst);
        int pos = dst.position();
        int cap = dst.remaining();
        int n = dst.isDirect()
                ? nGetDirect(handle, key, null, 0, 0, dst, pos, cap)
                : nGetArray(handle, key, dst.array(), dst.arrayOffset() + pos, cap);
        if (n >= 0 && n <= cap) {
            dst.position(pos + n);
        }
        return n;
    }

    /**
     * Like {@link #get(byte[], ByteBuffer)} with the key read from {@code key}'s remaining bytes
     * (a direct buffer: no copy through the heap). The key buffer's position is not changed.
     *
     * @param key the key
     * @param dst where the value is written, at its position
     * @return the value's length, or {@link #NOT_FOUND}
     */
    public int get(ByteBuffer key, ByteBuffer dst) {
        requireDirect(key, "key");
        requireDirect(dst, "dst");
        checkWritable(dst);
        int pos = dst.position();
        int cap = dst.remaining();
        int n = nGetDirect(handle, null, key, key.position(), key.remaining(), dst, pos, cap);
        if (n >= 0 && n <= cap) {
            dst.position(pos + n);
        }
        return n;
    }

    /**
     * True when the key is present (a size query: no value bytes are copied).
     *
     * @param key the key
     * @return true when present
     */
    public boolean containsKey(byte[] key) {
        return BACKEND.containsKey(this, Objects.requireNonNull(key, "key"));
    }

    /**
     * The exact number of entries (each shard's count read at one moment).
     *
     * @return the entry count
     */
    public long size() {
        return nLen(handle);
    }

    /**
     * The number of shards.
     *
     * @return the number of shards
     */
    public int shardCount() {
        return nShardCount(handle);
    }

    /**
     * The shard {@code key} is routed to; its placement is in {@link #stats()}.
     *
     * @param key the key
     * @return the shard index
     */
    public int shardOf(byte[] key) {
        return BACKEND.shardOf(this, Objects.requireNonNull(key, "key"));
    }

    /**
     * The topology the map was placed on and where every shard lives, as text.
     *
     * @return a human-readable description
     */
    public String describeTopology() {
        return nDescribe(handle);
    }

    // ---------------------------------------------------------------- writes

    /**
     * Inserts or overwrites.
     *
     * @param key the key
     * @param value the value
     * @throws MapFullException when the memory limit would be exceeded (nothing changes)
     * @throws KeyTooLargeException when the key is longer than the map's limit
     * @throws ValueTooLargeException when the value is longer than the map's limit
     */
    public void put(byte[] key, byte[] value) {
        store(key, value, 0, false);
    }

    /**
     * Inserts or overwrites with a time to live: from {@code ttl} on (rounded up to whole
     * milliseconds) no read, batch, iteration or {@link #size()} sees the entry.
     * {@link #NO_EXPIRY} stores it without an expiry, whatever the map's default.
     *
     * @param key the key
     * @param value the value
     * @param ttl positive, rounded up to whole milliseconds; {@link #NO_EXPIRY} = never
     * @throws IllegalArgumentException when {@code ttl} is zero or negative
     * @throws MapFullException when the memory limit would be exceeded (nothing changes)
     * @throws KeyTooLargeException when the key is longer than the map's limit
     * @throws ValueTooLargeException when the value is longer than the map's limit
     */
    public void put(byte[] key, byte[] value, Duration ttl) {
        store(key, value, TtlMillis.forStore(ttl), false);
    }

    /** A plain or put-if-absent store with {@code ttlMs} as {@code ns_op.ttl_ms} (0 = the map's default). */
    private boolean store(byte[] key, byte[] value, long ttlMs, boolean ifAbsent) {
        return BACKEND.store(this, Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"), ttlMs,
                ifAbsent);
    }

    /**
     * Inserts or overwrites, reading key and value from the remaining bytes of direct buffers (no
     * copy through the heap). Buffer positions are not changed.
     *
     * @param key the key
     * @param value the value
     */
    public void put(ByteBuffer key, ByteBuffer value) {
        putDirect(key, value, 0);
    }

    /**
     * {@link #put(ByteBuffer, ByteBuffer)} with a time to live (see
     * {@link #put(byte[], byte[], Duration)}).
     *
     * @param key the key: its remaining bytes
     * @param value the value: its remaining bytes
     * @param ttl positive, rounded up to whole milliseconds; {@link #NO_EXPIRY} = never
     * @throws IllegalArgumentException when {@code ttl} is zero or negative, or a buffer is not direct
     */
    public void put(ByteBuffer key, ByteBuffer value, Duration ttl) {
        putDirect(key, value, TtlMillis.forStore(ttl));
    }

    private void putDirect(ByteBuffer key, ByteBuffer value, long ttlMs) {
        requireDirect(key, "key");
        requireDirect(value, "value");
        nPutDirect(handle, key, key.position(), key.remaining(), value, value.position(), value.remaining(), ttlMs);
    }

    /**
     * Inserts only when the key is absent; true when inserted, false when the key existed.
     *
     * @param key the key
     * @param value the value
     * @return true when inserted
     */
    public boolean putIfAbsent(byte[] key, byte[] value) {
        return store(key, value, 0, true);
    }

    /**
     * Inserts with a time to live only when the key is absent (or expired).
     *
     * @param key the key
     * @param value the value
     * @param ttl positive, rounded up to whole milliseconds; {@link #NO_EXPIRY} = never
     * @return true when inserted, false when the key was present (nothing changed)
     * @throws IllegalArgumentException when {@code ttl} is zero or negative
     * @see #put(byte[], byte[], Duration)
     */
    public boolean putIfAbsent(byte[] key, byte[] value, Duration ttl) {
        return store(key, value, TtlMillis.forStore(ttl), true);
    }

    /**
     * Inserts when the key is absent and returns null, else returns the present value and changes
     * nothing, in one atomic step ({@link java.util.concurrent.ConcurrentMap#putIfAbsent}'s
     * contract; Go's {@code LoadOrStore}).
     *
     * @param key the key
     * @param value the value
     * @return null when inserted, else a copy of the present value
     */
    public byte[] getOrPut(byte[] key, byte[] value) {
        return BACKEND.getOrPut(this, Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"), 0);
    }

    /**
     * {@link #getOrPut(byte[], byte[])} inserting with a time to live; a present entry keeps its own.
     *
     * @param key the key
     * @param value the value
     * @param ttl positive, rounded up to whole milliseconds; {@link #NO_EXPIRY} = never
     * @return null when inserted, else a copy of the present value
     * @throws IllegalArgumentException when {@code ttl} is zero or negative
     */
    public byte[] getOrPut(byte[] key, byte[] value, Duration ttl) {
        long ms = TtlMillis.forStore(ttl);
        return BACKEND.getOrPut(this, Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"), ms);
    }

    /**
     * Removes the key; true when it was present.
     *
     * @param key the key
     * @return true when the key was present
     */
    public boolean remove(byte[] key) {
        return BACKEND.remove(this, Objects.requireNonNull(key, "key"));
    }

    /**
     * Removes the key and returns the value it had, or null when absent ({@code LoadAndDelete}).
     *
     * @param key the key
     * @return a copy of the removed value, or null
     */
    public byte[] take(byte[] key) {
        return BACKEND.take(this, Objects.requireNonNull(key, "key"));
    }

    /**
     * Replaces the value only when the current value equals {@code expected} byte for byte.
     * Returns true when replaced; false when the current value differs or the key is absent (use
     * {@link #compareAndSwap} to tell those apart).
     *
     * @param key the key
     * @param expected the value the stored one must equal, byte for byte
     * @param value the value
     * @return true when replaced
     */
    public boolean compareAndSet(byte[] key, byte[] expected, byte[] value) {
        return compareAndSwap(key, expected, value) == Status.OK;
    }

    /**
     * Replaces the value only when the current value equals {@code expected}; returns
     * {@link Status#OK}, {@link Status#MISMATCH} or {@link Status#NOT_FOUND}.
     *
     * @param key the key
     * @param expected the value the stored one must equal, byte for byte
     * @param value the value
     * @return the outcome
     */
    public Status compareAndSwap(byte[] key, byte[] expected, byte[] value) {
        return Status.of(BACKEND.compareAndSwap(this, Objects.requireNonNull(key, "key"),
                Objects.requireNonNull(expected, "expected"), Objects.requireNonNull(value, "value")));
    }

    /**
     * Stores {@code value} under {@code key} and returns the previous value (a copy), or null when
     * the key was absent, in one atomic step ({@code Map.put} semantics).
     *
     * @param key the key
     * @param value the value
     * @return a copy of the previous value, or null when absent
     * @throws KeyTooLargeException when the key is longer than the map's limit
     * @throws ValueTooLargeException when the value is longer than the map's limit
     * @throws MapFullException when the memory limit would be exceeded (nothing changes)
     * @throws MapClosedException when the map is closed
     */
    public byte[] swap(byte[] key, byte[] value) {
        return swapMillis(key, value, 0);
    }

    /**
     * {@link #swap(byte[], byte[])} storing the value with a time to live.
     *
     * @param key the key
     * @param value the value
     * @param ttl positive, rounded up to whole milliseconds; {@link #NO_EXPIRY} = never
     * @return a copy of the previous value, or null when the key was absent
     * @throws IllegalArgumentException when {@code ttl} is zero or negative
     */
    public byte[] swap(byte[] key, byte[] value, Duration ttl) {
        return swapMillis(key, value, TtlMillis.forStore(ttl));
    }

    /** A swap with {@code ttlMs} as {@code ns_op.ttl_ms} (0 = the map's default). */
    byte[] swapMillis(byte[] key, byte[] value, long ttlMs) {
        return BACKEND.swap(this, Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"), ttlMs);
    }

    // ---------------------------------------------------------------- time to live

    /**
     * Sets the key's time to live to {@code ttl} from now, rounded up to whole milliseconds:
     * {@link Duration#ZERO} expires it at once, {@link #NO_EXPIRY} makes it never expire (as
     * {@link #persist}).
     *
     * @param key the key
     * @param ttl zero or more, rounded up to whole milliseconds
     * @return true when the key was present (and not expired); false changes nothing
     * @throws IllegalArgumentException when {@code ttl} is negative
     * @throws MapFullException when giving a deadline to an entry that had none would pass the
     *     memory limit of a map without eviction (it costs 8 bytes)
     */
    public boolean expire(byte[] key, Duration ttl) {
        return expireMillis(key, TtlMillis.of(ttl, "ttl"));
    }

    /**
     * Makes the key never expire.
     *
     * @param key the key
     * @return true when it was present (and not expired); false changes nothing
     */
    public boolean persist(byte[] key) {
        return expireMillis(key, TtlMillis.NEVER);
    }

    private boolean expireMillis(byte[] key, long ttlMs) {
        return BACKEND.expire(this, Objects.requireNonNull(key, "key"), ttlMs);
    }

    /**
     * The key's remaining time to live, rounded up to whole milliseconds (so never zero for a
     * live entry): {@link #NO_EXPIRY} when it never expires, empty when the key is absent or
     * expired. {@link #ttlMillis} answers the same without allocating.
     *
     * @param key the key
     * @return the time left, {@link #NO_EXPIRY}, or empty
     */
    public Optional<Duration> ttl(byte[] key) {
        return TtlMillis.remaining(ttlMillis(key));
    }

    /**
     * The key's remaining time to live in milliseconds, rounded up (Redis {@code PTTL}'s
     * convention): {@code > 0} left, {@link #TTL_NEVER} (-1) never expires, {@link #TTL_ABSENT}
     * (-2) absent or expired.
     *
     * @param key the key
     * @return the milliseconds left, {@link #TTL_NEVER} or {@link #TTL_ABSENT}
     */
    public long ttlMillis(byte[] key) {
        return BACKEND.ttl(this, Objects.requireNonNull(key, "key"));
    }

    /** The TTL of a store: positive (0 would mean the map's default to the engine). */

    /**
     * Removes the entry only when its current value equals {@code expected} (atomically: no
     * write comes between the comparison and the removal); true when removed.
     *
     * @param key the key
     * @param expected the value the stored one must equal, byte for byte
     * @return true when removed
     */
    public boolean remove(byte[] key, byte[] expected) {
        return compareAndDelete(key, expected) == Status.OK;
    }

    /**
     * Removes the entry only when its current value equals {@code expected}; returns
     * {@link Status#OK} (removed), {@link Status#MISMATCH} or {@link Status#NOT_FOUND}.
     *
     * @param key the key
     * @param expected the value the stored one must equal, byte for byte
     * @return the outcome
     */
    public Status compareAndDelete(byte[] key, byte[] expected) {
        return Status.of(BACKEND.compareAndDelete(this, Objects.requireNonNull(key, "key"),
                Objects.requireNonNull(expected, "expected")));
    }

    /**
     * Atomically adds {@code delta} to the signed 64-bit counter stored under {@code key} (created
     * at 0 when absent) and returns the new value. Counters are 8-byte values in the platform's
     * little-endian (read them with {@link #counterValue(byte[])}).
     *
     * @param key the key
     * @param delta the amount to add (may be negative)
     * @return the counter's new value
     * @throws NotACounterException when the stored value is not 8 bytes long
     */
    public long add(byte[] key, long delta) {
        return BACKEND.add(this, Objects.requireNonNull(key, "key"), delta);
    }

    /**
     * Decodes a counter value as stored by {@link #add} (8 bytes, little-endian).
     *
     * @param value the value
     * @return the counter
     */
    public static long counterValue(byte[] value) {
        if (value == null || value.length != 8) {
            throw new IllegalArgumentException("a counter is 8 bytes");
        }
        return ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    /**
     * Encodes a counter value as {@link #add} stores it (8 bytes, little-endian).
     *
     * @param value the value
     * @return the 8 bytes
     */
    public static byte[] counterBytes(long value) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array();
    }

    /** Removes every entry. */
    public void clear() {
        nClear(handle);
    }

    // ---------------------------------------------------------------- batches

    /**
     * Runs every operation of {@code batch} in one native call (one JNI crossing; the engine
     * splits it by shard and runs the shards' parts in parallel). Per-operation outcomes and
     * results are read back from the batch. Each operation is linearizable on its own; the batch
     * as a whole is not atomic. A batch of only gets with one value capacity runs through the
     * engine's {@code ns_get_many} (no operation records; see {@link Batch}).
     *
     * @param batch the operations to run
     * @throws MapClosedException when the map is closed (per-op statuses are then undefined)
     */
    public void execute(Batch batch) {
        execute(Objects.requireNonNull(batch, "batch"), BACKEND, true);
    }

    /**
     * {@link #execute(Batch)} through {@code backend}; {@code getMany} false runs an all-get batch
     * as {@code ns_op}s too (tests and benchmarks compare the two).
     */
    void execute(Batch batch, Backend backend, boolean getMany) {
        int n = batch.size();
        if (n == 0) {
            return;
        }
        if (getMany && batch.beforeGetMany()) {
            boolean tooSmall = backend.getMany(this, batch, n);
            batch.afterGetMany(this, tooSmall);
            return;
        }
        batch.beforeExecute();
        backend.batch(this, batch, n);
        batch.afterExecute(this);
    }

    // ---------------------------------------------------------------- iteration

    /**
     * An iterator over the entries: every entry present for the whole iteration is returned
     * exactly once, whatever other threads do meanwhile; entries inserted or removed during the
     * iteration may or may not appear; no value is torn. It holds no lock between chunks.
     * Close it (try-with-resources) unless you iterate to the end.
     *
     * @return a new iterator
     */
    public EntryIterator iterator() {
        return new EntryIterator(nIterNew(handle));
    }

    /**
     * Calls {@code action} with a copy of every entry, with {@link #iterator()}'s guarantee.
     *
     * @param action called once per entry
     */
    public void forEach(BiConsumer<byte[], byte[]> action) {
        Objects.requireNonNull(action, "action");
        try (EntryIterator it = iterator()) {
            while (it.advance()) {
                action.accept(it.key(), it.value());
            }
        }
    }

    /**
     * Calls {@code action} with read-only views of every entry's key and value, valid only
     * during the call (no per-entry allocation beyond the two views), with
     * {@link #iterator()}'s guarantee.
     *
     * @param action called once per entry
     */
    public void forEachBuffer(BiConsumer<ByteBuffer, ByteBuffer> action) {
        Objects.requireNonNull(action, "action");
        try (EntryIterator it = iterator()) {
            while (it.advance()) {
                action.accept(it.keyBuffer(), it.valueBuffer());
            }
        }
    }

    /**
     * Atomically replaces the whole contents with {@code entries} (the "hot reload"): no reader
     * on any shard ever sees a mix of old and new contents.
     *
     * @param entries the new contents
     * @throws MapFullException when the new contents exceed the memory limit (nothing changes)
     * @throws IllegalArgumentException when the packed contents exceed 2 GiB
     */
    public void replaceAll(Map<byte[], byte[]> entries) {
        Objects.requireNonNull(entries, "entries");
        replaceAll(entries.entrySet());
    }

    /**
     * {@link #replaceAll(Map)} for any collection of entries; later duplicates of a key win.
     *
     * @param entries the new contents
     */
    public void replaceAll(Iterable<? extends Map.Entry<byte[], byte[]>> entries) {
        Objects.requireNonNull(entries, "entries");
        long total = 0;
        int n = 0;
        for (Map.Entry<byte[], byte[]> e : entries) {
            byte[] k = Objects.requireNonNull(e.getKey(), "key");
            byte[] v = Objects.requireNonNull(e.getValue(), "value");
            total += 8L + k.length + v.length;
            n++;
        }
        if (total > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("replaceAll: packed contents of " + total + " bytes exceed 2 GiB");
        }
        ByteBuffer packed = ByteBuffer.allocateDirect((int) Math.max(total, 1)).order(ByteOrder.nativeOrder());
        int count = 0;
        for (Map.Entry<byte[], byte[]> e : entries) {
            if (count == n) {
                throw new IllegalStateException("replaceAll: entries changed while being packed");
            }
            byte[] k = e.getKey();
            byte[] v = e.getValue();
            packed.putInt(k.length).putInt(v.length).put(k).put(v);
            count++;
        }
        if (count != n) {
            throw new IllegalStateException("replaceAll: entries changed while being packed");
        }
        nReplaceAll(handle, packed, n);
    }

    // ---------------------------------------------------------------- views

    /**
     * A {@code ConcurrentMap<K, V>} over this map, with keys and values encoded by the codecs
     * (see {@link NumaShardTypedMap} for atomicity and deviations from
     * {@code ConcurrentHashMap}). Views are cheap; any number may share one map.
     *
     * @param <K> the key type
     * @param <V> the value type
     * @param keyCodec encodes the keys, for example {@link Codec#utf8()}
     * @param valueCodec encodes the values, for example {@link Codec#bytes()}
     * @return the typed view
     */
    public <K, V> NumaShardTypedMap<K, V> typed(Codec<K> keyCodec, Codec<V> valueCodec) {
        return new NumaShardTypedMap<>(this, keyCodec, valueCodec);
    }

    /**
     * The {@code ConcurrentMap<byte[], byte[]>} view, comparing keys and values by content.
     *
     * @return a view of this map
     */
    public NumaShardConcurrentMap asConcurrentMap() {
        return new NumaShardConcurrentMap(this);
    }

    // ---------------------------------------------------------------- stats, lifecycle

    /**
     * Totals and per-shard placement and counters (node, cpu, binding applied, pages on node,
     * entries, bytes; hits, misses, evictions, expirations).
     *
     * @return the stats
     */
    public MapStats stats() {
        long[] t = nStats(handle);
        int shards = (int) t[0];
        List<ShardStats> per = new ArrayList<>(shards);
        for (int i = 0; i < shards; i++) {
            long[] s = nShardStats(handle, i);
            per.add(new ShardStats((int) s[0], (int) s[1], (int) s[2], (int) s[3], s[4], s[5], s[6], s[7], s[8],
                    s[9] != 0, s[10], s[11], s[12], s[13], s[14], s[15], s[16], s[17], s[18]));
        }
        return new MapStats(shards, t[1], t[2], t[3], t[4], t[5], t[6] != 0, t[7], t[8], t[9], t[10], t[11], t[12],
                List.copyOf(per));
    }

    /**
     * The stats in the Prometheus text exposition format ({@code ns_stats_prometheus}).
     *
     * @return the metrics text
     */
    public String prometheus() {
        return nPrometheus(handle);
    }

    /**
     * Drains queued work, stops the shard threads and frees every entry. Idempotent and
     * thread-safe: every caller returns once the map is closed; calls racing it complete or
     * throw {@link MapClosedException}, later calls throw it.
     */
    @Override
    public void close() {
        int st = (int) nClose(handle);
        if (st != ST_OK && st != ST_CLOSED) {
            throw NumaShardException.forStatus(st);
        }
    }

    /**
     * True once {@link #close()} has completed (or the engine reports the map closed).
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return nIsClosed(handle);
    }

    private static void requireDirect(ByteBuffer b, String what) {
        Objects.requireNonNull(b, what);
        if (!b.isDirect()) {
            throw new IllegalArgumentException(what + " must be a direct ByteBuffer");
        }
    }

    private static void checkWritable(ByteBuffer dst) {
        Objects.requireNonNull(dst, "dst");
        if (dst.isReadOnly()) {
            throw new java.nio.ReadOnlyBufferException();
        }
        if (!dst.isDirect() && !dst.hasArray()) {
            throw new IllegalArgumentException("dst must be a direct or array-backed ByteBuffer");
        }
    }

    /**
     * The Cleaner action: the map object became unreachable, so no Java thread can be inside a
     * native call on its handle (natives are instance methods) and none can start one. Only then
     * is {@code ns_map_free} (which also closes the map when it was not closed) safe. Iterators
     * need no ordering: the C ABI lets them outlive the map.
     */
    private static final class FreeHandle implements Runnable {
        private final long ptr;

        FreeHandle(long ptr) {
            this.ptr = ptr;
        }

        @Override
        public void run() {
            nFree(ptr);
        }
    }

    // ---------------------------------------------------------------- natives (numashard_jni.c)
    // Instance methods on purpose: the receiver stays reachable for the whole native call.

    private static native String nVersion();

    private static native String nStatusStr(int code);

    private static native long nOpen(long[] numbers, String topology, String topologyXml, int[] nodes,
            int[] shardsPerNode);

    private static native void nFree(long h);

    // Snapshots (Snapshots.java): status and message come back through the one-element arrays.
    static native long nOpenSnapshot(long[] numbers, String topology, String topologyXml, int[] nodes,
            int[] shardsPerNode, String dir, int[] status, String[] message);

    native long[] nSave(long h, String dir, int[] status, String[] message);

    /** Wraps a handle from {@link #nOpenSnapshot} (Snapshots.java). */
    static NumaShardMap fromSnapshotHandle(long h) {
        return new NumaShardMap(h);
    }


    /** The status as a long (see numashard_jni.c: a clean register, whatever the engine left). */
    private native long nClose(long h);

    private native boolean nIsClosed(long h);

    native byte[] nGet(long h, byte[] key);

    // Raw-address variants (scratch buffer): no JNI callbacks on success.

    native long nGetRaw(long h, long key, int keyLen, long out, int outCap);

    native long nTakeRaw(long h, long key, int keyLen, long out, int outCap);

    native boolean nPutRaw(long h, long key, int keyLen, long value, int valueLen, long ttlMs,
            boolean ifAbsent);

    native boolean nDeleteRaw(long h, long key, int keyLen);

    native long nAddRaw(long h, long key, int keyLen, long delta);

    native int nShardOfRaw(long h, long key, int keyLen);

    native int nGetDirect(long h, byte[] key, ByteBuffer keyBuf, int keyPos, int keyLen,
            ByteBuffer dst, int dstPos, int dstCap);

    private native int nGetArray(long h, byte[] key, byte[] dst, int dstOff, int dstCap);

    native boolean nPutBytes(long h, byte[] key, byte[] value, long ttlMs, boolean ifAbsent);

    private native void nPutDirect(long h, ByteBuffer key, int keyPos, int keyLen, ByteBuffer value, int valuePos,
            int valueLen, long ttlMs);

    native byte[] nGetOrPut(long h, byte[] key, byte[] value, long ttlMs);

    native boolean nDelete(long h, byte[] key);

    native byte[] nTake(long h, byte[] key);

    native int nCas(long h, byte[] key, byte[] expected, byte[] value);

    native int nCompareAndDelete(long h, byte[] key, byte[] expected);

    native byte[] nSwap(long h, byte[] key, byte[] value, long ttlMs);

    // Key from `key` when not null, else from the scratch address.
    native boolean nExpire(long h, byte[] key, long keyAddr, int keyLen, long ttlMs);

    native long nTtl(long h, byte[] key, long keyAddr, int keyLen);

    native long nAdd(long h, byte[] key, long delta);

    private native long nLen(long h);

    private native int nShardCount(long h);

    native int nShardOf(long h, byte[] key);

    private native String nDescribe(long h);

    private native void nClear(long h);

    native void nBatch(long h, ByteBuffer ops, int n);

    // Addresses inside a Batch's direct buffer; true when some value did not fit its slot.
    native boolean nGetMany(long h, int n, long keys, long keyLens, long out, long stride, long valueLens,
            long statuses);

    private native long nIterNew(long h);

    private native void nReplaceAll(long h, ByteBuffer packed, int n);

    private native long[] nStats(long h);

    private native long[] nShardStats(long h, int shard);

    private native String nPrometheus(long h);
}
