package io.numashard;

import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;

/**
 * What a map is created with ({@code ns_config}). Fields left unset keep the native defaults of
 * {@code ns_config_init}: one shard per allowed CPU, no memory limit, keys up to 4 KiB, values
 * up to 4 MiB, the real machine's topology, {@link ExecMode#AUTO}, no eviction, no default time
 * to live, no hit/miss counting.
 *
 * <pre>{@code
 * Config cfg = Config.builder().shards(8).memoryLimit(1L << 30).build();
 * Config cache = Config.builder()
 *         .memoryLimit(1L << 30).eviction(Eviction.S3_FIFO)   // never Full: evicts instead
 *         .defaultTtl(Duration.ofMinutes(10))                  // entries written without a TTL
 *         .build();
 * }</pre>
 */
public final class Config {
    final int shards;
    final Long memoryLimit;
    final Long maxKeyLen;
    final Long maxValueLen;
    final String topology;
    final String topologyXml;
    final int[] nodes;
    final int[] shardsPerNode;
    final Long hashSeed;
    final Long workerSpinUs;
    final ExecMode execMode;
    final Integer batchDelegateMin;
    final boolean misplaceMemory;
    final Eviction eviction;
    /** The default time to live in milliseconds; 0 = entries never expire. */
    final long defaultTtlMillis;
    final boolean recordStats;
    final long initialCapacity;
    final boolean placeRecordsByHash;

    private Config(Builder b) {
        this.shards = b.shards;
        this.memoryLimit = b.memoryLimit;
        this.maxKeyLen = b.maxKeyLen;
        this.maxValueLen = b.maxValueLen;
        this.topology = b.topology;
        this.topologyXml = b.topologyXml;
        this.nodes = b.nodes == null ? null : b.nodes.clone();
        this.shardsPerNode = b.shardsPerNode == null ? null : b.shardsPerNode.clone();
        this.hashSeed = b.hashSeed;
        this.workerSpinUs = b.workerSpinUs;
        this.execMode = b.execMode;
        this.batchDelegateMin = b.batchDelegateMin;
        this.misplaceMemory = b.misplaceMemory;
        this.eviction = b.eviction;
        this.defaultTtlMillis = b.defaultTtlMillis;
        this.recordStats = b.recordStats;
        this.initialCapacity = b.initialCapacity;
        this.placeRecordsByHash = b.placeRecordsByHash;
    }

    /**
     * The native defaults.
     *
     * @return the native defaults
     */
    public static Config defaults() {
        return builder().build();
    }

    /**
     * A builder starting from the native defaults.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** Packs the numeric fields for the glue: {value, isSet} pairs in a fixed order. */
    long[] packed() {
        return new long[] {
            shards, 1,
            val(memoryLimit), set(memoryLimit),
            val(maxKeyLen), set(maxKeyLen),
            val(maxValueLen), set(maxValueLen),
            val(hashSeed), set(hashSeed),
            val(workerSpinUs), set(workerSpinUs),
            execMode == null ? 0 : execMode.code, execMode == null ? 0 : 1,
            batchDelegateMin == null ? 0 : batchDelegateMin, batchDelegateMin == null ? 0 : 1,
            misplaceMemory ? 1 : 0, 1,
            eviction.code, 1,
            defaultTtlMillis, 1,
            recordStats ? 1 : 0, 1,
            initialCapacity, 1,
            placeRecordsByHash ? 1 : 0, 1,
        };
    }

    private static long val(Long v) {
        return v == null ? 0 : v;
    }

    private static long set(Long v) {
        return v == null ? 0 : 1;
    }

    @Override
    public String toString() {
        return "Config{shards=" + shards + ", memoryLimit=" + memoryLimit + ", maxKeyLen=" + maxKeyLen
                + ", maxValueLen=" + maxValueLen + ", topology=" + topology + ", topologyXml=" + topologyXml
                + ", nodes=" + Arrays.toString(nodes) + ", shardsPerNode=" + Arrays.toString(shardsPerNode)
                + ", hashSeed=" + hashSeed + ", workerSpinUs=" + workerSpinUs + ", execMode=" + execMode
                + ", batchDelegateMin=" + batchDelegateMin + ", misplaceMemory=" + misplaceMemory
                + ", eviction=" + eviction + ", defaultTtlMillis=" + defaultTtlMillis + ", recordStats=" + recordStats
                + ", initialCapacity=" + initialCapacity + ", placeRecordsByHash=" + placeRecordsByHash + "}";
    }

    /**
     * Builds a {@link Config}; every setter returns the builder. Values are checked by the engine
     * when the map opens ({@link Status#INVALID_ARGUMENT}); {@link #build()} rejects eviction
     * without a memory limit.
     */
    public static final class Builder {
        private int shards;
        private Long memoryLimit;
        private Long maxKeyLen;
        private Long maxValueLen;
        private String topology;
        private String topologyXml;
        private int[] nodes;
        private int[] shardsPerNode;
        private Long hashSeed;
        private Long workerSpinUs;
        private ExecMode execMode;
        private Integer batchDelegateMin;
        private boolean misplaceMemory;
        private Eviction eviction = Eviction.NONE;
        private long defaultTtlMillis;
        private boolean recordStats;
        private long initialCapacity;
        private boolean placeRecordsByHash;

        private Builder() {}

        /**
         * Number of shards; 0 = one per allowed CPU. An explicit N yields exactly N shards.
         *
         * @param shards the shard count
         * @return this builder
         */
        public Builder shards(int shards) {
            if (shards < 0) {
                throw new IllegalArgumentException("shards must be >= 0: " + shards);
            }
            this.shards = shards;
            return this;
        }

        /**
         * Byte limit on what entries cost (key, value, per-entry overhead); 0 = none.
         *
         * @param bytes the limit in bytes
         * @return this builder
         */
        public Builder memoryLimit(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("memoryLimit must be >= 0: " + bytes);
            }
            this.memoryLimit = bytes;
            return this;
        }

        /**
         * Largest key accepted, in bytes (inclusive; 1 ..= 2^31-1).
         *
         * @param bytes the limit in bytes
         * @return this builder
         */
        public Builder maxKeyLen(long bytes) {
            this.maxKeyLen = bytes;
            return this;
        }

        /**
         * Largest value accepted, in bytes (inclusive; at most 2^31-1).
         *
         * @param bytes the limit in bytes
         * @return this builder
         */
        public Builder maxValueLen(long bytes) {
            this.maxValueLen = bytes;
            return this;
        }

        /**
         * A synthetic hwloc topology, e.g. {@code "pack:2 [numa] core:2 pu:1"}, to place shards
         * as if on that machine (binding is then reported as not applied). Null = the
         * {@code NUMASHARD_TOPOLOGY} environment variable, else the real machine.
         *
         * @param topology the synthetic topology
         * @return this builder
         */
        public Builder topology(String topology) {
            this.topology = topology;
            return this;
        }

        /**
         * Path of an hwloc XML topology; {@link #topology(String)} wins when both are set.
         *
         * @param path the XML file
         * @return this builder
         */
        public Builder topologyXml(String path) {
            this.topologyXml = path;
            return this;
        }

        /**
         * Use only these NUMA nodes (OS indexes); null = every node with allowed CPUs.
         *
         * @param nodes the node numbers
         * @return this builder
         */
        public Builder nodes(int... nodes) {
            this.nodes = nodes;
            return this;
        }

        /**
         * Explicit shard count per used node, in the order of the used nodes; overrides shards.
         *
         * @param counts shards per node
         * @return this builder
         */
        public Builder shardsPerNode(int... counts) {
            this.shardsPerNode = counts;
            return this;
        }

        /**
         * Seed of the hash that routes keys to shards.
         *
         * @param seed the seed
         * @return this builder
         */
        public Builder hashSeed(long seed) {
            this.hashSeed = seed;
            return this;
        }

        /**
         * Microseconds an idle owner thread spins before it parks (negative = automatic).
         *
         * @param micros microseconds
         * @return this builder
         */
        public Builder workerSpinUs(long micros) {
            this.workerSpinUs = micros;
            return this;
        }

        /**
         * How operations reach the shard tables.
         *
         * @param mode the execution mode
         * @return this builder
         */
        public Builder execMode(ExecMode mode) {
            this.execMode = mode;
            return this;
        }

        /**
         * In AUTO mode, batch parts with at least this many ops go to the owner (0 = never).
         *
         * @param ops the operation count
         * @return this builder
         */
        public Builder batchDelegateMin(int ops) {
            this.batchDelegateMin = ops;
            return this;
        }

        /**
         * Testing switch: bind every shard's memory to another node than its CPU's.
         *
         * @param misplace true to place memory on the wrong node
         * @return this builder
         */
        public Builder misplaceMemory(boolean misplace) {
            this.misplaceMemory = misplace;
            return this;
        }

        /**
         * What a write that would pass the memory limit does: {@link Eviction#NONE} (throw
         * {@link MapFullException}, the default) or {@link Eviction#S3_FIFO} (evict: a cache,
         * which needs {@link #memoryLimit(long)}). Eviction also turns on hit/miss counting.
         *
         * @param eviction the policy
         * @return this builder
         */
        public Builder eviction(Eviction eviction) {
            this.eviction = Objects.requireNonNull(eviction, "eviction");
            return this;
        }

        /**
         * Time to live of entries written without one (plain {@code put}, {@code putIfAbsent},
         * {@code swap}, {@code getOrPut}, counters {@code add} creates, batches and
         * {@code replaceAll}), rounded up to whole milliseconds. {@link Duration#ZERO} (the
         * default) or {@link NumaShardMap#NO_EXPIRY}: they never expire.
         *
         * @param ttl zero or more
         * @return this builder
         * @throws IllegalArgumentException when negative
         */
        public Builder defaultTtl(Duration ttl) {
            long ms = TtlMillis.of(ttl, "defaultTtl");
            this.defaultTtlMillis = ms == TtlMillis.NEVER ? 0 : ms;
            return this;
        }

        /**
         * Count hits and misses of reads in {@link NumaShardMap#stats()} (always on with eviction).
         *
         * @param record true to count
         * @return this builder
         */
        public Builder recordStats(boolean record) {
            this.recordStats = record;
            return this;
        }

        /**
         * Entries the map is expected to hold, like {@code new HashMap<>(initialCapacity)}'s hint;
         * 0 (the default) = none. Each shard's index starts with room for its share, so filling the
         * map that far never doubles an index, and {@link NumaShardMap#clear()} returns each index
         * to that size, never below. Only the index is sized up front (16 bytes per slot, 1.25-2.5
         * slots per entry, mapped at open and touched as entries arrive). Not a limit: the map grows
         * past it as it would without it. With a memory limit, it is capped at the most entries the
         * limit can hold.
         *
         * @param entries 0 to 2^40
         * @return this builder
         * @throws IllegalArgumentException when negative or over 2^40
         */
        public Builder initialCapacity(long entries) {
            if (entries < 0 || entries > 1L << 40) {
                throw new IllegalArgumentException("initialCapacity must be 0..2^40: " + entries);
            }
            this.initialCapacity = entries;
            return this;
        }

        /**
         * Place small records by their key's hash (off by default). A record of at most 64 bytes
         * (8 of header, the key, the value, and 8 for a deadline: a 16-byte key with a value of up
         * to 40 bytes, 32 with a time to live) goes to one of two cache lines named by its key's
         * hash when one is free, so that a single get or put fetches the index slot and the record
         * at once instead of one after the other: one memory latency fewer on a table larger than
         * the CPU caches. Batches gain nothing (they overlap those misses already), nor do tables
         * the caches mostly hold. The lines, about {@link #initialCapacity(long) initialCapacity}
         * of them per map (64 bytes each, the nearest power of two per shard), are mapped at open.
         * Records that find both their lines taken, and larger ones, are stored as without it;
         * past the initial capacity more and more find both taken. Needs
         * {@link #initialCapacity(long)} and no {@link #memoryLimit(long) memory limit}, else
         * opening the map throws {@link NumaShardException} with {@link Status#INVALID_ARGUMENT}.
         *
         * @param place true to place records by hash
         * @return this builder
         */
        public Builder placeRecordsByHash(boolean place) {
            this.placeRecordsByHash = place;
            return this;
        }

        /**
         * The configuration.
         *
         * @return the configuration
         * @throws IllegalStateException when an eviction policy is set without a memory limit
         */
        public Config build() {
            if (eviction != Eviction.NONE && (memoryLimit == null || memoryLimit == 0)) {
                throw new IllegalStateException("eviction " + eviction + " needs a memoryLimit (the budget to evict within)");
            }
            return new Config(this);
        }
    }
}
