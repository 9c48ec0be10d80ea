package io.numashard;

/**
 * The {@code ConcurrentMap<byte[], byte[]>} view of a {@link NumaShardMap}: the
 * {@link NumaShardTypedMap} with {@link Codec#bytes()} for keys and values, so keys and values
 * are compared <b>by content</b> everywhere — lookups, {@code remove(k, v)},
 * {@code replace(k, old, new)}, and the {@code keySet()}, {@code values()} and
 * {@code entrySet()} views with their {@code contains}, {@code remove}, {@code removeAll},
 * {@code retainAll} and iterators' {@code remove}; entries' {@code setValue} writes through;
 * {@code equals}/{@code hashCode} follow the {@code Map} contract with content equality
 * ({@code Arrays.equals}/{@code Arrays.hashCode}). Arrays passed in are not kept (they are
 * copied off-heap) and every array returned is a fresh copy.
 *
 * <p>The atomicity of each method, how many times the functions of {@code compute*} and
 * {@code merge} may run, and every deviation from {@code ConcurrentHashMap} are listed on
 * {@link NumaShardTypedMap}.
 */
public final class NumaShardConcurrentMap extends NumaShardTypedMap<byte[], byte[]> {
    /**
     * A view of {@code map}; closing the map closes the view.
     *
     * @param map the map holding the entries
     */
    public NumaShardConcurrentMap(NumaShardMap map) {
        super(map, Codec.bytes(), Codec.bytes());
    }
}
