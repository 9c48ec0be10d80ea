package io.numashard;

import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.AbstractMap;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * A chunked iterator over a {@link NumaShardMap} ({@link NumaShardMap#iterator()}): every entry
 * present for the whole iteration is returned exactly once, whatever runs concurrently; entries
 * inserted or removed meanwhile may or may not appear; values are never torn.
 *
 * <p>Entries cross JNI a chunk at a time (packed into one direct buffer), not one by one. Use
 * either {@link #advance()} with {@link #key()}/{@link #value()} (or the zero-copy
 * {@link #keyBuffer()}/{@link #valueBuffer()} views), or the {@link Iterator} methods. Not
 * thread-safe; close it (try-with-resources) unless iterated to the end — a dropped iterator is
 * freed by a Cleaner.
 *
 * <p>Every method that moves to the next chunk throws {@link MapClosedException} when the map
 * was closed during the iteration.
 */
public final class EntryIterator implements Iterator<Map.Entry<byte[], byte[]>>, AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();
    private static final int INITIAL_CHUNK = 64 * 1024;

    private final Cleaner.Cleanable cleanable;
    private final long iter;
    private ByteBuffer chunk;
    private int remainingInChunk;
    private boolean done;
    private boolean closed;
    private int keyOff;
    private int keyLen;
    private int valueOff;
    private int valueLen;
    private boolean positioned;
    private boolean peeked;

    EntryIterator(long iter) {
        this.iter = iter;
        this.chunk = ByteBuffer.allocateDirect(INITIAL_CHUNK).order(ByteOrder.nativeOrder());
        this.cleanable = CLEANER.register(this, new Free(iter));
    }

    /**
     * Moves to the next entry; false at the end (the iterator is then closed).
     *
     * @return true when positioned on an entry, false at the end
     */
    public boolean advance() {
        if (peeked) {
            peeked = false;
            return true;
        }
        positioned = false;
        while (remainingInChunk == 0) {
            if (done) {
                return false;
            }
            fill();
        }
        int p = chunk.position();
        keyLen = chunk.getInt(p);
        valueLen = chunk.getInt(p + 4);
        keyOff = p + 8;
        valueOff = keyOff + keyLen;
        chunk.position(valueOff + valueLen);
        remainingInChunk--;
        positioned = true;
        return true;
    }

    private synchronized void fill() {
        if (closed) {
            throw new IllegalStateException("iterator closed");
        }
        for (;;) {
            int n = nIterFill(iter, chunk, chunk.capacity());
            if (n > 0) {
                chunk.position(0);
                remainingInChunk = n;
                return;
            }
            if (n == 0) {
                done = true;
                close();
                return;
            }
            // The next entry does not fit even an empty chunk: grow and retry (it is kept pending).
            int need = -n;
            if (need >= Integer.MAX_VALUE - 8 || need <= chunk.capacity()) {
                throw new IllegalStateException("an entry of " + need + " bytes cannot be iterated (2 GiB chunk limit)");
            }
            long grown = Math.max(need, Math.min((long) chunk.capacity() * 2, Integer.MAX_VALUE - 8));
            chunk = ByteBuffer.allocateDirect((int) grown).order(ByteOrder.nativeOrder());
        }
    }

    private void requirePositioned() {
        if (!positioned || peeked) {
            throw new IllegalStateException("no current entry: call advance() first");
        }
    }

    /**
     * A copy of the current entry's key.
     *
     * @return a copy of the key
     */
    public byte[] key() {
        requirePositioned();
        byte[] k = new byte[keyLen];
        chunk.get(keyOff, k);
        return k;
    }

    /**
     * A copy of the current entry's value.
     *
     * @return a copy of the value
     */
    public byte[] value() {
        requirePositioned();
        byte[] v = new byte[valueLen];
        chunk.get(valueOff, v);
        return v;
    }

    /** True when the current value equals {@code bytes} (compared in place, no copy). */
    boolean valueEquals(byte[] bytes) {
        requirePositioned();
        return valueLen == bytes.length && chunk.slice(valueOff, valueLen).equals(ByteBuffer.wrap(bytes));
    }

    /**
     * A read-only view of the current key, valid until the next {@link #advance()}.
     *
     * @return a read-only view of the key
     */
    public ByteBuffer keyBuffer() {
        requirePositioned();
        return chunk.slice(keyOff, keyLen).asReadOnlyBuffer();
    }

    /**
     * A read-only view of the current value, valid until the next {@link #advance()}.
     *
     * @return a read-only view of the value
     */
    public ByteBuffer valueBuffer() {
        requirePositioned();
        return chunk.slice(valueOff, valueLen).asReadOnlyBuffer();
    }

    @Override
    public boolean hasNext() {
        if (peeked) {
            return true;
        }
        if (advance()) {
            peeked = true;
            return true;
        }
        return false;
    }

    @Override
    public Map.Entry<byte[], byte[]> next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        peeked = false;
        return new AbstractMap.SimpleImmutableEntry<>(key(), value());
    }

    /** Frees the native iterator; idempotent. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            cleanable.clean();
        }
    }

    /** Frees the native iterator (the C ABI allows this before or after the map is freed). */
    private static final class Free implements Runnable {
        private final long iter;

        Free(long iter) {
            this.iter = iter;
        }

        @Override
        public void run() {
            nIterFree(iter);
        }
    }

    /**
     * Packs entries into {@code buf} as [u32 klen][u32 vlen][key][value]...; returns the number
     * packed, 0 at the end, or -(bytes needed) when the next entry does not fit an empty buffer.
     */
    private native int nIterFill(long iter, ByteBuffer buf, int cap);

    private static native void nIterFree(long iter);
}
