package io.numashard;

import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentMap;

/**
 * A {@code ConcurrentMap<byte[], byte[]>} view of a {@link NumaShardMap}, for code written
 * against the collection interfaces. It keeps the semantics honest rather than familiar:
 *
 * <ul>
 *   <li>Keys and values are compared <b>by content</b> ({@code Arrays.equals}), not by
 *       identity; every value returned is a fresh copy (mutating it changes nothing stored).
 *   <li>{@link #put} returns the previous value atomically in one native call (the engine's
 *       swap); {@link #replace(byte[], byte[])} loops over {@code get} + {@code compareAndSet}.
 *       Use {@link NumaShardMap#put} when you do not need the previous value.
 *   <li>{@link #remove(Object, Object)} (remove only if the value matches) is the engine's
 *       atomic compare-and-delete, so the default {@code compute*}/{@code merge} methods are
 *       atomic too, removals included.
 *   <li>{@link #size()} is exact at one moment per shard, saturated at
 *       {@code Integer.MAX_VALUE}; iteration has the engine's guarantee (every entry present
 *       throughout is seen exactly once).
 *   <li>{@code equals} and {@code hashCode} are identity-based: comparing two maps of millions
 *       of off-heap entries is not something to do by accident.
 * </ul>
 */
public final class NumaShardConcurrentMap extends AbstractMap<byte[], byte[]>
        implements ConcurrentMap<byte[], byte[]> {
    private final NumaShardMap map;

    /** A view of {@code map}; closing the map closes the view. */
    public NumaShardConcurrentMap(NumaShardMap map) {
        this.map = Objects.requireNonNull(map, "map");
    }

    /** The underlying map. */
    public NumaShardMap map() {
        return map;
    }

    @Override
    public byte[] get(Object key) {
        return key instanceof byte[] ? map.get((byte[]) key) : null;
    }

    @Override
    public boolean containsKey(Object key) {
        return key instanceof byte[] && map.containsKey((byte[]) key);
    }

    @Override
    public byte[] put(byte[] key, byte[] value) {
        return map.swap(key, value);
    }

    @Override
    public byte[] putIfAbsent(byte[] key, byte[] value) {
        return map.getOrPut(key, value);
    }

    @Override
    public byte[] remove(Object key) {
        return key instanceof byte[] ? map.take((byte[]) key) : null;
    }

    /** Removes the entry only if its value equals {@code value} by content (atomic). */
    @Override
    public boolean remove(Object key, Object value) {
        if (!(key instanceof byte[]) || !(value instanceof byte[])) {
            return false;
        }
        return map.remove((byte[]) key, (byte[]) value);
    }

    @Override
    public boolean replace(byte[] key, byte[] oldValue, byte[] newValue) {
        return map.compareAndSet(key, oldValue, newValue);
    }

    @Override
    public byte[] replace(byte[] key, byte[] value) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        for (;;) {
            byte[] prev = map.get(key);
            if (prev == null) {
                return null;
            }
            if (map.compareAndSet(key, prev, value)) {
                return prev;
            }
        }
    }

    @Override
    public int size() {
        return (int) Math.min(Integer.MAX_VALUE, map.size());
    }

    @Override
    public boolean isEmpty() {
        return map.size() == 0;
    }

    @Override
    public void clear() {
        map.clear();
    }

    @Override
    public Set<Map.Entry<byte[], byte[]>> entrySet() {
        return new AbstractSet<>() {
            @Override
            public Iterator<Map.Entry<byte[], byte[]>> iterator() {
                EntryIterator it = map.iterator();
                return new Iterator<>() {
                    private byte[] lastKey;

                    @Override
                    public boolean hasNext() {
                        return it.hasNext();
                    }

                    @Override
                    public Map.Entry<byte[], byte[]> next() {
                        if (!it.hasNext()) {
                            throw new NoSuchElementException();
                        }
                        Map.Entry<byte[], byte[]> e = it.next();
                        lastKey = e.getKey();
                        return e;
                    }

                    @Override
                    public void remove() {
                        if (lastKey == null) {
                            throw new IllegalStateException();
                        }
                        map.remove(lastKey);
                        lastKey = null;
                    }
                };
            }

            @Override
            public int size() {
                return NumaShardConcurrentMap.this.size();
            }

            @Override
            public boolean contains(Object o) {
                if (!(o instanceof Map.Entry)) {
                    return false;
                }
                Map.Entry<?, ?> e = (Map.Entry<?, ?>) o;
                Object v = e.getValue();
                return v instanceof byte[] && Arrays.equals(get(e.getKey()), (byte[]) v);
            }

            @Override
            public void clear() {
                map.clear();
            }
        };
    }

    @Override
    public boolean containsValue(Object value) {
        if (!(value instanceof byte[])) {
            return false;
        }
        byte[] v = (byte[]) value;
        try (EntryIterator it = map.iterator()) {
            while (it.advance()) {
                if (Arrays.equals(it.value(), v)) {
                    return true;
                }
            }
        }
        return false;
    }

    @Override
    public boolean equals(Object o) {
        return this == o;
    }

    @Override
    public int hashCode() {
        return System.identityHashCode(this);
    }

    @Override
    public String toString() {
        return "NumaShardConcurrentMap{size=" + map.size() + "}";
    }
}
