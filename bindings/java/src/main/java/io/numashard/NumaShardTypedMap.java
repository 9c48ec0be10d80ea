package io.numashard;

import java.time.Duration;
import java.util.AbstractCollection;
import java.util.AbstractSet;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentMap;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * A {@code ConcurrentMap<K, V>} over a {@link NumaShardMap}: keys and values are turned into
 * bytes by {@link Codec}s and stored off-heap. Obtain one with
 * {@link NumaShardMap#typed(Codec, Codec)}:
 *
 * <pre>{@code
 * ConcurrentMap<String, Long> hits = map.typed(Codec.utf8(), Codec.int64());
 * hits.merge("home", 1L, Long::sum);
 * }</pre>
 *
 * <p><b>Equality.</b> The map finds keys, and compares values in {@code remove(k, v)},
 * {@code replace(k, old, new)}, {@code containsValue} and the collection views, by their
 * <em>encodings</em>. The map's own {@code equals}/{@code hashCode}, its entries' and its views'
 * follow the {@link Map} contract using the codecs' {@link Codec#equal}/{@link Codec#hash}
 * (for {@link Codec#bytes()}: by content). Every key and value returned is decoded from a fresh
 * copy; modifying it changes nothing stored.
 *
 * <p><b>Atomicity.</b> Each single-key method is linearizable. {@code put}, {@code putIfAbsent},
 * {@code remove(k)}, {@code remove(k, v)}, {@code replace(k, old, new)} are one native call each.
 * The function-taking methods are optimistic loops, each attempt being one read of the key and
 * one atomic conditional write (compare-and-set, compare-and-delete or insert-if-absent, by the
 * bytes read); the write fails only when another thread changed the key in between, and the
 * attempt is then repeated with the new value:
 *
 * <ul>
 *   <li>{@link #computeIfAbsent}: the function runs <b>at most once</b> (only when the key is
 *       absent); if another thread inserts first, its value is returned and the computed one
 *       discarded. Unlike {@code ConcurrentHashMap}, other threads are never blocked meanwhile.
 *   <li>{@link #computeIfPresent}, {@link #compute}, {@link #merge}, {@link #replace(Object,
 *       Object)}, {@link #replaceAll}: the function runs <b>once per attempt</b>, so once
 *       without contention on that key and again each time a concurrent write to the same key
 *       lands between the attempt's read and its write (no upper bound under sustained
 *       contention, as with any compare-and-set loop). It must therefore be free of side
 *       effects; the result that is stored is the one computed from the value it replaced.
 * </ul>
 *
 * <p><b>Deviations from {@code ConcurrentHashMap}</b> (same null rules: no null keys or values,
 * {@link NullPointerException}):
 *
 * <ul>
 *   <li>The functions of {@code compute*}/{@code merge} may run more than once (above), and
 *       never under a lock.
 *   <li>{@code put} of a key whose value another thread writes at the same time never blocks;
 *       there is no {@code ConcurrentHashMap}-style bin lock anywhere.
 *   <li>{@link #size()} is exact at one moment per shard (not a global snapshot), saturated at
 *       {@code Integer.MAX_VALUE}; {@link #mappingCount()} gives the long.
 *   <li>Iterators (of every view) are weakly consistent with the engine's guarantee: an entry
 *       present for the whole iteration is returned exactly once; entries added or removed
 *       meanwhile may or may not be. They move entries in 64 KiB chunks; one abandoned
 *       half-way holds a native iterator until the garbage collector frees it.
 *       {@code Iterator.remove} removes the key (whatever its value is by then), as
 *       {@code ConcurrentHashMap}'s does; {@link Map.Entry#setValue} writes through with
 *       {@code put} and returns the value the entry held.
 *   <li>Key-set and value views do not support adding. {@code removeAll(c)} removes the
 *       elements of {@code c} by encoding (for {@code byte[]}: by content), whatever the sizes;
 *       {@code retainAll(c)} keeps the entries whose key (value) encodes like an element of
 *       {@code c}.
 *   <li>{@code toString()} renders every entry, like {@code ConcurrentHashMap}'s: do not log
 *       it for a map of millions of entries.
 *   <li>Not {@code Serializable}, not {@code Cloneable}. After {@link NumaShardMap#close()}
 *       every method throws {@link MapClosedException}.
 *   <li>{@code ConcurrentHashMap}'s own additions beyond {@code ConcurrentMap} are absent (the
 *       parallel {@code search}/{@code reduce}/{@code forEach(long, ...)}, {@code keySet(V)},
 *       {@code keys()}/{@code elements()}), except {@link #mappingCount()}. Keys or values of
 *       another type than the codec's are absent ({@code get} returns null, {@code remove}
 *       false) rather than a {@code ClassCastException}; a value the codec cannot decode (bytes
 *       stored by other code) throws the codec's {@code IllegalArgumentException}.
 * </ul>
 *
 * @param <K> the key type
 * @param <V> the value type
 */
public sealed class NumaShardTypedMap<K, V> implements ConcurrentMap<K, V> permits NumaShardConcurrentMap {
    private final NumaShardMap map;
    private final Codec<K> keys;
    private final Codec<V> values;

    /**
     * A typed view of {@code map} (no copy: every call goes to the map).
     *
     * @param map the map holding the entries
     * @param keyCodec encodes the keys
     * @param valueCodec encodes the values
     */
    public NumaShardTypedMap(NumaShardMap map, Codec<K> keyCodec, Codec<V> valueCodec) {
        this.map = Objects.requireNonNull(map, "map");
        this.keys = Objects.requireNonNull(keyCodec, "keyCodec");
        this.values = Objects.requireNonNull(valueCodec, "valueCodec");
    }

    /**
     * The underlying map.
     *
     * @return the map this view reads and writes
     */
    public NumaShardMap map() {
        return map;
    }

    /**
     * The key codec.
     *
     * @return the codec of the keys
     */
    public Codec<K> keyCodec() {
        return keys;
    }

    /**
     * The value codec.
     *
     * @return the codec of the values
     */
    public Codec<V> valueCodec() {
        return values;
    }

    // ------------------------------------------------------------ encoding helpers

    private byte[] encKey(K key) {
        return keys.encode(Objects.requireNonNull(key, "key"));
    }

    private byte[] encValue(V value) {
        return values.encode(Objects.requireNonNull(value, "value"));
    }

    /** The encoding of {@code key} when it has the key type, else null; NPE for null. */
    private byte[] encKeyOrNull(Object key) {
        return encodeIf(keys, Objects.requireNonNull(key, "key"));
    }

    private byte[] encValueOrNull(Object value) {
        return encodeIf(values, value);
    }

    /** {@code o}'s encoding when it is of the codec's type (not null), else null. */
    private static <T> byte[] encodeIf(Codec<T> codec, Object o) {
        Class<T> t = codec.type();
        return t.isInstance(o) ? codec.encode(t.cast(o)) : null;
    }

    private V dec(byte[] valueBytes) {
        return valueBytes == null ? null : values.decode(valueBytes);
    }

    // ------------------------------------------------------------ queries

    @Override
    public V get(Object key) {
        byte[] k = encKeyOrNull(key);
        return k == null ? null : dec(map.get(k));
    }

    @Override
    public boolean containsKey(Object key) {
        byte[] k = encKeyOrNull(key);
        return k != null && map.containsKey(k);
    }

    /** Scans every entry (the values are not indexed). */
    @Override
    public boolean containsValue(Object value) {
        byte[] v = encValueOrNull(Objects.requireNonNull(value, "value"));
        if (v == null) {
            return false;
        }
        try (EntryIterator it = map.iterator()) {
            while (it.advance()) {
                if (it.valueEquals(v)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The number of entries, saturated at {@code Integer.MAX_VALUE} (see {@link #mappingCount()}). */
    @Override
    public int size() {
        return (int) Math.min(Integer.MAX_VALUE, map.size());
    }

    /**
     * The number of entries as a long ({@code ConcurrentHashMap.mappingCount()}).
     *
     * @return the entry count, exact at one moment per shard
     */
    public long mappingCount() {
        return map.size();
    }

    @Override
    public boolean isEmpty() {
        return map.size() == 0;
    }

    // ------------------------------------------------------------ single-call writes

    /** Stores the value and returns the previous one, in one atomic native call. */
    @Override
    public V put(K key, V value) {
        byte[] k = encKey(key);
        return dec(map.swap(k, encValue(value)));
    }

    /** Inserts when absent, else returns the present value, in one atomic native call. */
    @Override
    public V putIfAbsent(K key, V value) {
        byte[] k = encKey(key);
        return dec(map.getOrPut(k, encValue(value)));
    }

    // ------------------------------------------------------------ time to live (cache mode)
    // put (a swap) replaces an entry's deadline, with the map's default when no TTL is given;
    // replace, compute* and merge keep it (they write by compare-and-set), as putIfAbsent does
    // when the key is present.

    /**
     * Stores the value with a time to live and returns the previous one, in one atomic native
     * call (see {@link NumaShardMap#put(byte[], byte[], Duration)}).
     *
     * @param key the key
     * @param value the value
     * @param ttl positive, rounded up to whole milliseconds; {@link NumaShardMap#NO_EXPIRY} = never
     * @return the previous value, or null
     * @throws IllegalArgumentException when {@code ttl} is zero or negative
     */
    public V put(K key, V value, Duration ttl) {
        byte[] k = encKey(key);
        return dec(map.swap(k, encValue(value), ttl));
    }

    /**
     * Inserts with a time to live when the key is absent, else returns the present value (which
     * keeps its own time to live), in one atomic native call.
     *
     * @param key the key
     * @param value the value
     * @param ttl positive, rounded up to whole milliseconds; {@link NumaShardMap#NO_EXPIRY} = never
     * @return null when inserted, else the present value
     * @throws IllegalArgumentException when {@code ttl} is zero or negative
     */
    public V putIfAbsent(K key, V value, Duration ttl) {
        byte[] k = encKey(key);
        return dec(map.getOrPut(k, encValue(value), ttl));
    }

    /**
     * Sets the key's time to live ({@link NumaShardMap#expire(byte[], Duration)}).
     *
     * @param key the key
     * @param ttl from now; {@link Duration#ZERO} expires the entry at once
     * @return true when the key was present
     */
    public boolean expire(K key, Duration ttl) {
        return map.expire(encKey(key), ttl);
    }

    /**
     * Makes the key never expire.
     *
     * @param key the key
     * @return true when the key was present
     */
    public boolean persist(K key) {
        return map.persist(encKey(key));
    }

    /**
     * The key's remaining time to live ({@link NumaShardMap#ttl(byte[])}).
     *
     * @param key the key
     * @return the time left, {@link NumaShardMap#NO_EXPIRY} when none, empty when absent
     */
    public Optional<Duration> ttl(K key) {
        return map.ttl(encKey(key));
    }

    /** Removes the key and returns its value, in one atomic native call. */
    @Override
    public V remove(Object key) {
        byte[] k = encKeyOrNull(key);
        return k == null ? null : dec(map.take(k));
    }

    /** Removes the entry when its value encodes like {@code value}, in one atomic native call. */
    @Override
    public boolean remove(Object key, Object value) {
        byte[] k = encKeyOrNull(key);
        if (k == null || value == null) {
            return false;
        }
        byte[] v = encValueOrNull(value);
        return v != null && map.remove(k, v);
    }

    /** Replaces the value when it encodes like {@code oldValue}, in one atomic native call. */
    @Override
    public boolean replace(K key, V oldValue, V newValue) {
        byte[] k = encKey(key);
        byte[] expected = values.encode(Objects.requireNonNull(oldValue, "oldValue"));
        return map.compareAndSet(k, expected, encValue(newValue));
    }

    /** Replaces the value of a present key: a read + compare-and-set loop (see the class comment). */
    @Override
    public V replace(K key, V value) {
        byte[] k = encKey(key);
        byte[] v = encValue(value);
        for (;;) {
            byte[] prev = map.get(k);
            if (prev == null) {
                return null;
            }
            if (map.compareAndSet(k, prev, v)) {
                return values.decode(prev);
            }
        }
    }

    /**
     * Copies every entry of {@code m} in, one {@code put} at a time (not atomic as a whole; for a
     * bulk load use a {@link Batch} or {@link NumaShardMap#replaceAll(Map)}).
     */
    @Override
    public void putAll(Map<? extends K, ? extends V> m) {
        for (Map.Entry<? extends K, ? extends V> e : m.entrySet()) {
            byte[] k = encKey(e.getKey());
            map.put(k, encValue(e.getValue()));
        }
    }

    /** Removes every entry (per shard; not atomic against concurrent inserts). */
    @Override
    public void clear() {
        map.clear();
    }

    // ------------------------------------------------------------ function-taking (optimistic)

    /** The function runs at most once, only when the key is absent (see the class comment). */
    @Override
    public V computeIfAbsent(K key, Function<? super K, ? extends V> mappingFunction) {
        Objects.requireNonNull(mappingFunction, "mappingFunction");
        byte[] k = encKey(key);
        byte[] cur = map.get(k);
        if (cur != null) {
            return values.decode(cur);
        }
        V computed = mappingFunction.apply(key);
        if (computed == null) {
            return null;
        }
        byte[] present = map.getOrPut(k, encValue(computed));
        return present == null ? computed : values.decode(present);
    }

    /** The function runs once per attempt (see the class comment). */
    @Override
    public V computeIfPresent(K key, BiFunction<? super K, ? super V, ? extends V> remappingFunction) {
        Objects.requireNonNull(remappingFunction, "remappingFunction");
        byte[] k = encKey(key);
        for (;;) {
            byte[] cur = map.get(k);
            if (cur == null) {
                return null;
            }
            V next = remappingFunction.apply(key, values.decode(cur));
            if (commit(k, cur, next)) {
                return next;
            }
        }
    }

    /** The function runs once per attempt (see the class comment). */
    @Override
    public V compute(K key, BiFunction<? super K, ? super V, ? extends V> remappingFunction) {
        Objects.requireNonNull(remappingFunction, "remappingFunction");
        byte[] k = encKey(key);
        byte[] cur = map.get(k);
        for (;;) {
            V next = remappingFunction.apply(key, dec(cur));
            if (cur == null) {
                if (next == null) {
                    return null;
                }
                byte[] present = map.getOrPut(k, encValue(next));
                if (present == null) {
                    return next;
                }
                cur = present; // lost the insert: recompute from the winner's value
                continue;
            }
            if (commit(k, cur, next)) {
                return next;
            }
            cur = map.get(k);
        }
    }

    /** The function runs once per attempt, only on a present value (see the class comment). */
    @Override
    public V merge(K key, V value, BiFunction<? super V, ? super V, ? extends V> remappingFunction) {
        Objects.requireNonNull(remappingFunction, "remappingFunction");
        byte[] k = encKey(key);
        byte[] given = encValue(value);
        byte[] cur = map.get(k);
        for (;;) {
            if (cur == null) {
                byte[] present = map.getOrPut(k, given);
                if (present == null) {
                    return value;
                }
                cur = present;
                continue;
            }
            V next = remappingFunction.apply(values.decode(cur), value);
            if (commit(k, cur, next)) {
                return next;
            }
            cur = map.get(k);
        }
    }

    /**
     * Replaces each entry's value with the function's result, entry by entry, each with a
     * compare-and-set by the value read (the function runs once per attempt, see the class
     * comment). Entries removed meanwhile are skipped. This is the {@code Map} method; the
     * whole-map hot reload is {@link NumaShardMap#replaceAll(Map)}.
     */
    @Override
    public void replaceAll(BiFunction<? super K, ? super V, ? extends V> function) {
        Objects.requireNonNull(function, "function");
        try (EntryIterator it = map.iterator()) {
            while (it.advance()) {
                byte[] k = it.key();
                byte[] cur = it.value();
                K key = keys.decode(k);
                while (cur != null) {
                    V next = Objects.requireNonNull(function.apply(key, values.decode(cur)), "function returned null");
                    if (map.compareAndSet(k, cur, encValue(next))) {
                        break;
                    }
                    cur = map.get(k);
                }
            }
        }
    }

    /** Runs the action on every entry, with the iteration guarantee of the class comment. */
    @Override
    public void forEach(BiConsumer<? super K, ? super V> action) {
        Objects.requireNonNull(action, "action");
        map.forEach((k, v) -> action.accept(keys.decode(k), values.decode(v)));
    }

    /**
     * Writes {@code next} over the value {@code cur} read before (null: removes it), atomically
     * and only if the value is still {@code cur}; false when another write came in between.
     */
    private boolean commit(byte[] k, byte[] cur, V next) {
        if (next == null) {
            return map.compareAndDelete(k, cur) == Status.OK;
        }
        return map.compareAndSet(k, cur, encValue(next));
    }

    // ------------------------------------------------------------ Object

    /**
     * True when {@code o} is a {@link Map} with the same mappings: same size, and for every entry
     * here {@code o.get(key)} equals the value by the value codec's {@link Codec#equal}.
     */
    @Override
    public boolean equals(Object o) {
        if (o == this) {
            return true;
        }
        if (!(o instanceof Map)) {
            return false;
        }
        Map<?, ?> other = (Map<?, ?>) o;
        if (other.size() != size()) {
            return false;
        }
        Class<V> vt = values.type();
        try (EntryIterator it = map.iterator()) {
            while (it.advance()) {
                Object ov = other.get(keys.decode(it.key()));
                if (!vt.isInstance(ov) || !values.equal(values.decode(it.value()), vt.cast(ov))) {
                    return false;
                }
            }
        } catch (ClassCastException | NullPointerException unused) {
            return false;
        }
        return true;
    }

    /** The sum of the entries' hash codes ({@code Map}'s contract, with the codecs' hash). */
    @Override
    public int hashCode() {
        int h = 0;
        try (EntryIterator it = map.iterator()) {
            while (it.advance()) {
                h += keys.hash(keys.decode(it.key())) ^ values.hash(values.decode(it.value()));
            }
        }
        return h;
    }

    /** {@code {k1=v1, k2=v2}} over every entry (with the codecs' {@link Codec#text}). */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("{");
        try (EntryIterator it = map.iterator()) {
            boolean first = true;
            while (it.advance()) {
                if (!first) {
                    sb.append(", ");
                }
                first = false;
                sb.append(keys.text(keys.decode(it.key()))).append('=').append(values.text(values.decode(it.value())));
            }
        }
        return sb.append('}').toString();
    }

    // ------------------------------------------------------------ views

    /**
     * The keys. Supports removal (by encoding), not adding; see the class comment.
     *
     * @return a live view of the keys
     */
    @Override
    public Set<K> keySet() {
        return new KeySet();
    }

    /**
     * The values. Supports removal (by encoding: {@code remove(v)} removes one entry holding
     * {@code v}, atomically by compare-and-delete), not adding.
     *
     * @return a live view of the values
     */
    @Override
    public Collection<V> values() {
        return new Values();
    }

    /**
     * The entries. {@code remove(e)} is {@code remove(e.getKey(), e.getValue())}; entries'
     * {@code setValue} writes through.
     *
     * @return a live view of the entries
     */
    @Override
    public Set<Map.Entry<K, V>> entrySet() {
        return new EntrySet();
    }

    /** An encoding as a hash-set element (content equality). */
    private static final class Bytes {
        final byte[] b;
        final int hash;

        Bytes(byte[] b) {
            this.b = b;
            this.hash = Arrays.hashCode(b);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Bytes && Arrays.equals(b, ((Bytes) o).b);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    /** The encodings of the elements of {@code c} that the codec accepts. */
    private static <T> Set<Bytes> encodings(Collection<?> c, Codec<T> codec) {
        Set<Bytes> set = new HashSet<>();
        for (Object o : c) {
            byte[] b = encodeIf(codec, o);
            if (b != null) {
                set.add(new Bytes(b));
            }
        }
        return set;
    }

    /**
     * Removes the entries whose key (or value, {@code byValue}) encoding is in {@code set}
     * ({@code removeIfIn}) or not in it: by key, or by compare-and-delete with the value read.
     */
    private boolean removeWhereBytes(boolean byValue, Set<Bytes> set, boolean removeIfIn) {
        boolean changed = false;
        try (EntryIterator it = map.iterator()) {
            while (it.advance()) {
                byte[] k = it.key();
                byte[] probe = byValue ? it.value() : k;
                if (set.contains(new Bytes(probe)) == removeIfIn) {
                    changed |= byValue ? map.remove(k, probe) : map.remove(k);
                }
            }
        }
        return changed;
    }

    /** An iterator over the engine's entries; remove() deletes the last key. */
    private abstract class BaseIterator<T> implements Iterator<T> {
        private final EntryIterator it = map.iterator();
        private byte[] lastKey;
        private boolean ready;

        abstract T make(byte[] k, byte[] v);

        @Override
        public boolean hasNext() {
            if (!ready) {
                ready = it.advance();
            }
            return ready;
        }

        @Override
        public T next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            ready = false;
            lastKey = it.key();
            return make(lastKey, it.value());
        }

        @Override
        public void remove() {
            if (lastKey == null) {
                throw new IllegalStateException("next() not called, or remove() already called");
            }
            map.remove(lastKey);
            lastKey = null;
        }
    }

    private final class KeySet extends AbstractSet<K> {
        @Override
        public Iterator<K> iterator() {
            return new BaseIterator<K>() {
                @Override
                K make(byte[] k, byte[] v) {
                    return keys.decode(k);
                }
            };
        }

        @Override
        public int size() {
            return NumaShardTypedMap.this.size();
        }

        @Override
        public boolean isEmpty() {
            return NumaShardTypedMap.this.isEmpty();
        }

        @Override
        public boolean contains(Object o) {
            return containsKey(o);
        }

        @Override
        public boolean remove(Object o) {
            byte[] k = encKeyOrNull(o);
            return k != null && map.remove(k);
        }

        @Override
        public boolean removeAll(Collection<?> c) {
            boolean changed = false;
            for (Object o : c) {
                changed |= remove(o);
            }
            return changed;
        }

        @Override
        public boolean retainAll(Collection<?> c) {
            return removeWhereBytes(false, encodings(c, keys), false);
        }

        @Override
        public void clear() {
            map.clear();
        }

        /** Same size and every element of {@code o} contained (by encoding). */
        @Override
        public boolean equals(Object o) {
            return o instanceof Set && sameElements((Set<?>) o, this);
        }

        /** The sum of the keys' {@link Codec#hash}. */
        @Override
        public int hashCode() {
            int h = 0;
            try (EntryIterator it = map.iterator()) {
                while (it.advance()) {
                    h += keys.hash(keys.decode(it.key()));
                }
            }
            return h;
        }
    }

    private final class Values extends AbstractCollection<V> {
        @Override
        public Iterator<V> iterator() {
            return new BaseIterator<V>() {
                @Override
                V make(byte[] k, byte[] v) {
                    return values.decode(v);
                }
            };
        }

        @Override
        public int size() {
            return NumaShardTypedMap.this.size();
        }

        @Override
        public boolean isEmpty() {
            return NumaShardTypedMap.this.isEmpty();
        }

        @Override
        public boolean contains(Object o) {
            return containsValue(o);
        }

        /** Removes one entry whose value encodes like {@code o} (compare-and-delete). */
        @Override
        public boolean remove(Object o) {
            byte[] v = encValueOrNull(Objects.requireNonNull(o, "value"));
            if (v == null) {
                return false;
            }
            try (EntryIterator it = map.iterator()) {
                while (it.advance()) {
                    if (it.valueEquals(v) && map.remove(it.key(), v)) {
                        return true;
                    }
                }
            }
            return false;
        }

        @Override
        public boolean removeAll(Collection<?> c) {
            return removeWhereBytes(true, encodings(c, values), true);
        }

        @Override
        public boolean retainAll(Collection<?> c) {
            return removeWhereBytes(true, encodings(c, values), false);
        }

        @Override
        public void clear() {
            map.clear();
        }
    }

    private final class EntrySet extends AbstractSet<Map.Entry<K, V>> {
        @Override
        public Iterator<Map.Entry<K, V>> iterator() {
            return new BaseIterator<Map.Entry<K, V>>() {
                @Override
                Map.Entry<K, V> make(byte[] k, byte[] v) {
                    return new Entry(keys.decode(k), k, values.decode(v));
                }
            };
        }

        @Override
        public int size() {
            return NumaShardTypedMap.this.size();
        }

        @Override
        public boolean isEmpty() {
            return NumaShardTypedMap.this.isEmpty();
        }

        @Override
        public boolean contains(Object o) {
            if (!(o instanceof Map.Entry)) {
                return false;
            }
            Map.Entry<?, ?> e = (Map.Entry<?, ?>) o;
            if (e.getKey() == null || e.getValue() == null) {
                return false;
            }
            byte[] k = encKeyOrNull(e.getKey());
            byte[] v = encValueOrNull(e.getValue());
            return k != null && v != null && Arrays.equals(map.get(k), v);
        }

        /** {@code remove(e.getKey(), e.getValue())}: atomic compare-and-delete. */
        @Override
        public boolean remove(Object o) {
            if (!(o instanceof Map.Entry)) {
                return false;
            }
            Map.Entry<?, ?> e = (Map.Entry<?, ?>) o;
            return e.getKey() != null && NumaShardTypedMap.this.remove(e.getKey(), e.getValue());
        }

        @Override
        public boolean removeAll(Collection<?> c) {
            boolean changed = false;
            for (Object o : c) {
                changed |= remove(o);
            }
            return changed;
        }

        /** Keeps the entries equal (key and value by encoding) to an element of {@code c}. */
        @Override
        public boolean retainAll(Collection<?> c) {
            Set<Bytes> keep = new HashSet<>();
            for (Object o : c) {
                if (o instanceof Map.Entry) {
                    Map.Entry<?, ?> e = (Map.Entry<?, ?>) o;
                    byte[] k = encodeIf(keys, e.getKey());
                    byte[] v = encodeIf(values, e.getValue());
                    if (k != null && v != null) {
                        keep.add(new Bytes(pair(k, v)));
                    }
                }
            }
            boolean changed = false;
            try (EntryIterator it = map.iterator()) {
                while (it.advance()) {
                    byte[] k = it.key();
                    byte[] v = it.value();
                    if (!keep.contains(new Bytes(pair(k, v)))) {
                        changed |= map.remove(k, v);
                    }
                }
            }
            return changed;
        }

        @Override
        public void clear() {
            map.clear();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Set && sameElements((Set<?>) o, this);
        }

        /** The map's hash code ({@code Set}'s contract: the sum of the entries'). */
        @Override
        public int hashCode() {
            return NumaShardTypedMap.this.hashCode();
        }
    }

    /** Key and value in one unambiguous byte string: 4-byte key length, key, value. */
    private static byte[] pair(byte[] k, byte[] v) {
        byte[] p = new byte[4 + k.length + v.length];
        p[0] = (byte) (k.length >>> 24);
        p[1] = (byte) (k.length >>> 16);
        p[2] = (byte) (k.length >>> 8);
        p[3] = (byte) k.length;
        System.arraycopy(k, 0, p, 4, k.length);
        System.arraycopy(v, 0, p, 4 + k.length, v.length);
        return p;
    }

    private static boolean sameElements(Set<?> other, Set<?> mine) {
        if (other == mine) {
            return true;
        }
        if (other.size() != mine.size()) {
            return false;
        }
        try {
            for (Object o : other) {
                if (!mine.contains(o)) {
                    return false;
                }
            }
        } catch (ClassCastException | NullPointerException unused) {
            return false;
        }
        return true;
    }

    /** An entry read from the map; {@link #setValue} writes through with {@code put}. */
    private final class Entry implements Map.Entry<K, V> {
        private final K key;
        private final byte[] keyBytes;
        private V value;

        Entry(K key, byte[] keyBytes, V value) {
            this.key = key;
            this.keyBytes = keyBytes;
            this.value = value;
        }

        @Override
        public K getKey() {
            return key;
        }

        /** The value when this entry was read, or as last set through it. */
        @Override
        public V getValue() {
            return value;
        }

        /**
         * Stores {@code v} under the key (the map's {@code put}: re-inserts the key if it was
         * removed meanwhile) and returns the value this entry held, as
         * {@code ConcurrentHashMap}'s entries do.
         */
        @Override
        public V setValue(V v) {
            byte[] enc = encValue(v);
            map.put(keyBytes, enc);
            V old = value;
            value = v;
            return old;
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof Map.Entry)) {
                return false;
            }
            Map.Entry<?, ?> e = (Map.Entry<?, ?>) o;
            Object ok = e.getKey();
            Object ov = e.getValue();
            return keys.type().isInstance(ok) && values.type().isInstance(ov)
                    && keys.equal(key, keys.type().cast(ok)) && values.equal(value, values.type().cast(ov));
        }

        @Override
        public int hashCode() {
            return keys.hash(key) ^ values.hash(value);
        }

        @Override
        public String toString() {
            return keys.text(key) + "=" + values.text(value);
        }
    }
}
