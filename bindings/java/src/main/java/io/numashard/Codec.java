package io.numashard;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Function;

/**
 * Turns keys or values of type {@code T} into the byte strings a {@link NumaShardMap} stores,
 * and back. Used by {@link NumaShardTypedMap}.
 *
 * <p>A codec must be <b>deterministic and injective</b>: equal objects encode to equal bytes and
 * different objects to different bytes, because the map finds keys, and compares values in
 * {@code remove(key, value)} / {@code replace(key, old, new)}, by their encodings. {@link #equal}
 * and {@link #hash} give the Java-side equality used by the typed map's {@code equals},
 * {@code hashCode} and entries; by default they are the type's own {@code equals}/{@code hashCode}
 * (the built-in {@code byte[]} codec compares content instead).
 *
 * <p>Built in: {@link #utf8()}, {@link #int64()}, {@link #int32()}, {@link #bytes()},
 * {@link #byteBuffer()}. Your own, for example over Kryo or protobuf:
 *
 * <pre>{@code
 * Codec<Person> people = Codec.of(Person.class, Person::toByteArray, Person::parseFrom);
 * }</pre>
 *
 * <p>A codec is called from many threads at once and must be thread-safe.
 *
 * @param <T> the Java type
 */
public interface Codec<T> {
    /**
     * The bytes stored for {@code value} (not null). The map copies them off-heap, so the
     * returned array may be a reused or shared one only if nothing modifies it concurrently.
     *
     * @param value the object to encode, never null
     * @return its encoding
     */
    byte[] encode(T value);

    /**
     * The object stored as {@code bytes} (a fresh array the codec may keep).
     *
     * @param bytes an encoding produced by {@link #encode}
     * @return the decoded object, never null
     * @throws IllegalArgumentException when the bytes are not an encoding of this codec
     */
    T decode(byte[] bytes);

    /**
     * The Java type: {@code get}, {@code containsKey}, {@code remove} and the like return
     * null/false for objects that are not instances of it, without encoding them.
     *
     * @return the class of the objects this codec encodes
     */
    Class<T> type();

    /**
     * Java-side equality of two decoded objects ({@code Objects.equals} by default).
     *
     * @param a an object, not null
     * @param b another, not null
     * @return true when equal
     */
    default boolean equal(T a, T b) {
        return a.equals(b);
    }

    /**
     * Java-side hash code, consistent with {@link #equal} ({@code hashCode()} by default).
     *
     * @param value an object, not null
     * @return its hash code
     */
    default int hash(T value) {
        return value.hashCode();
    }

    /**
     * Text for {@code toString()} of maps and entries ({@code String.valueOf} by default).
     *
     * @param value an object, not null
     * @return its text form
     */
    default String text(T value) {
        return String.valueOf(value);
    }

    /**
     * A codec from two functions, for example {@code Codec.of(Msg.class, Msg::toByteArray,
     * Msg::parseFrom)}; equality and hash code are {@code type}'s own.
     *
     * @param <T> the Java type
     * @param type the class of the objects
     * @param encoder object to bytes (deterministic, injective)
     * @param decoder bytes to object
     * @return the codec
     */
    static <T> Codec<T> of(Class<T> type, Function<? super T, byte[]> encoder, Function<byte[], ? extends T> decoder) {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(encoder, "encoder");
        Objects.requireNonNull(decoder, "decoder");
        return new Codec<>() {
            @Override
            public byte[] encode(T value) {
                return Objects.requireNonNull(encoder.apply(value), "encoder returned null");
            }

            @Override
            public T decode(byte[] bytes) {
                return Objects.requireNonNull(decoder.apply(bytes), "decoder returned null");
            }

            @Override
            public Class<T> type() {
                return type;
            }
        };
    }

    /**
     * Strings as UTF-8. A string with an unpaired surrogate has no UTF-8 form and is rejected
     * with {@link IllegalArgumentException} (where {@code String.getBytes} would store a
     * {@code '?'} and make two strings one key).
     *
     * @return the codec
     */
    static Codec<String> utf8() {
        return Codecs.UTF8;
    }

    /**
     * {@code Long}s as 8 bytes, little-endian: the layout of {@link NumaShardMap#add} counters,
     * so a counter reads back as its {@code Long} value.
     *
     * @return the codec
     */
    static Codec<Long> int64() {
        return Codecs.INT64;
    }

    /**
     * {@code Integer}s as 4 bytes, little-endian.
     *
     * @return the codec
     */
    static Codec<Integer> int32() {
        return Codecs.INT32;
    }

    /**
     * Byte arrays as themselves, compared and hashed <b>by content</b> ({@code Arrays.equals},
     * {@code Arrays.hashCode}). Encoding does not copy (the map copies off-heap); decoding
     * returns the fresh array read from the map.
     *
     * @return the codec
     */
    static Codec<byte[]> bytes() {
        return Codecs.BYTES;
    }

    /**
     * {@code ByteBuffer}s: the remaining bytes are stored (the buffer's position is not
     * changed); decoding returns a heap buffer wrapping a fresh array. Equality and hash code
     * are {@code ByteBuffer}'s own, by remaining content.
     *
     * @return the codec
     */
    static Codec<ByteBuffer> byteBuffer() {
        return Codecs.BYTE_BUFFER;
    }
}

/** The built-in codecs (package-private holder: interfaces cannot have private nested classes). */
final class Codecs {
    private Codecs() {}

    static final Codec<String> UTF8 = new Codec<>() {
        @Override
        public byte[] encode(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            // getBytes replaces an unpaired surrogate by '?': only then can '?' appear without one in s.
            if (s.indexOf('?') < 0) {
                for (int i = 0; i < b.length; i++) {
                    if (b[i] == '?') {
                        throw new IllegalArgumentException("string with an unpaired surrogate has no UTF-8 form");
                    }
                }
            } else {
                checkSurrogates(s);
            }
            return b;
        }

        @Override
        public String decode(byte[] bytes) {
            return new String(bytes, StandardCharsets.UTF_8);
        }

        @Override
        public Class<String> type() {
            return String.class;
        }
    };

    static void checkSurrogates(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new IllegalArgumentException("string with an unpaired surrogate at " + i + " has no UTF-8 form");
            }
        }
    }

    static final Codec<Long> INT64 = new Codec<>() {
        @Override
        public byte[] encode(Long v) {
            return NumaShardMap.counterBytes(v);
        }

        @Override
        public Long decode(byte[] bytes) {
            if (bytes.length != 8) {
                throw new IllegalArgumentException("a Long is 8 bytes, got " + bytes.length);
            }
            return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        }

        @Override
        public Class<Long> type() {
            return Long.class;
        }
    };

    static final Codec<Integer> INT32 = new Codec<>() {
        @Override
        public byte[] encode(Integer v) {
            return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
        }

        @Override
        public Integer decode(byte[] bytes) {
            if (bytes.length != 4) {
                throw new IllegalArgumentException("an Integer is 4 bytes, got " + bytes.length);
            }
            return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getInt();
        }

        @Override
        public Class<Integer> type() {
            return Integer.class;
        }
    };

    static final Codec<byte[]> BYTES = new Codec<>() {
        @Override
        public byte[] encode(byte[] v) {
            return v;
        }

        @Override
        public byte[] decode(byte[] bytes) {
            return bytes;
        }

        @Override
        public Class<byte[]> type() {
            return byte[].class;
        }

        @Override
        public boolean equal(byte[] a, byte[] b) {
            return Arrays.equals(a, b);
        }

        @Override
        public int hash(byte[] v) {
            return Arrays.hashCode(v);
        }

        @Override
        public String text(byte[] v) {
            return Arrays.toString(v);
        }
    };

    static final Codec<ByteBuffer> BYTE_BUFFER = new Codec<>() {
        @Override
        public byte[] encode(ByteBuffer v) {
            byte[] b = new byte[v.remaining()];
            v.get(v.position(), b);
            return b;
        }

        @Override
        public ByteBuffer decode(byte[] bytes) {
            return ByteBuffer.wrap(bytes);
        }

        @Override
        public Class<ByteBuffer> type() {
            return ByteBuffer.class;
        }
    };
}
