/*
 * JNI glue between io.numashard (Java) and the numashard C ABI (include/numashard.h).
 *
 * Rules this file follows:
 * - Only the public header is used. The map handle travels as a jlong.
 * - Java byte[] arguments are copied into stack buffers (heap buffers above STACK_*), never
 *   pinned with GetPrimitiveArrayCritical: an engine call may wait for a shard's owner thread,
 *   and a critical region would hold off the garbage collector meanwhile. For 16-byte keys the
 *   copy costs a few nanoseconds; direct ByteBuffers are passed through with no copy at all.
 * - Error statuses (>= 100) become Java exceptions built by
 *   io.numashard.NumaShardException.forStatus(int); outcomes (< 100) are return values.
 * - Every native method that touches a map is a Java instance method, so the receiver (the
 *   NumaShardMap) is a JNI local reference for the whole call: the Cleaner that runs
 *   ns_map_free cannot run while any call is inside this file.
 */
#include <jni.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "numashard.h"

#define STACK_KEY 256
#define STACK_VALUE 1024

static jclass exception_class;        /* io.numashard.NumaShardException (global ref) */
static jmethodID exception_for_status; /* static NumaShardException forStatus(int) */

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
    (void)reserved;
    JNIEnv *env;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_8) != JNI_OK) {
        return JNI_ERR;
    }
    jclass local = (*env)->FindClass(env, "io/numashard/NumaShardException");
    if (local == NULL) {
        return JNI_ERR;
    }
    exception_class = (jclass)(*env)->NewGlobalRef(env, local);
    (*env)->DeleteLocalRef(env, local);
    if (exception_class == NULL) {
        return JNI_ERR;
    }
    exception_for_status =
        (*env)->GetStaticMethodID(env, exception_class, "forStatus", "(I)Lio/numashard/NumaShardException;");
    if (exception_for_status == NULL) {
        return JNI_ERR;
    }
    return JNI_VERSION_1_8;
}

JNIEXPORT void JNICALL JNI_OnUnload(JavaVM *vm, void *reserved) {
    (void)reserved;
    JNIEnv *env;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_8) == JNI_OK && exception_class != NULL) {
        (*env)->DeleteGlobalRef(env, exception_class);
    }
}

/* Throws the NumaShardException (subclass) for an error status. */
static void throw_status(JNIEnv *env, ns_status st) {
    if ((*env)->ExceptionCheck(env)) {
        return;
    }
    jobject ex = (*env)->CallStaticObjectMethod(env, exception_class, exception_for_status, (jint)st);
    if (ex != NULL && !(*env)->ExceptionCheck(env)) {
        (*env)->Throw(env, (jthrowable)ex);
        (*env)->DeleteLocalRef(env, ex);
    }
}

/* A call whose outcome is found (true) or NS_NOT_FOUND (false); errors throw. */
static jboolean found(JNIEnv *env, ns_status st) {
    if (st == NS_OK) return JNI_TRUE;
    if (st != NS_NOT_FOUND) throw_status(env, st);
    return JNI_FALSE;
}

static void throw_java(JNIEnv *env, const char *cls, const char *msg) {
    if ((*env)->ExceptionCheck(env)) {
        return;
    }
    jclass c = (*env)->FindClass(env, cls);
    if (c != NULL) {
        (*env)->ThrowNew(env, c, msg);
        (*env)->DeleteLocalRef(env, c);
    }
}

static inline ns_map *map_of(jlong h) { return (ns_map *)(intptr_t)h; }

/* A byte[] copied into native memory: a caller stack buffer when small enough, else malloc. */
typedef struct {
    uint8_t *ptr;
    size_t len;
    int heap;
} bytes_t;

/* Copies `arr` (may be NULL: the empty string) into `out`; 0 on success, -1 with an exception pending. */
static int bytes_load(JNIEnv *env, jbyteArray arr, uint8_t *stack, size_t stack_cap, bytes_t *out) {
    out->ptr = NULL;
    out->len = 0;
    out->heap = 0;
    if (arr == NULL) {
        return 0;
    }
    jsize n = (*env)->GetArrayLength(env, arr);
    if (n == 0) {
        return 0;
    }
    if ((size_t)n <= stack_cap) {
        out->ptr = stack;
    } else {
        out->ptr = (uint8_t *)malloc((size_t)n);
        if (out->ptr == NULL) {
            throw_java(env, "java/lang/OutOfMemoryError", "numashard: native buffer");
            return -1;
        }
        out->heap = 1;
    }
    (*env)->GetByteArrayRegion(env, arr, 0, n, (jbyte *)out->ptr);
    out->len = (size_t)n;
    return 0;
}

static void bytes_release(bytes_t *b) {
    if (b->heap) {
        free(b->ptr);
    }
}

/* The address of a direct buffer plus `pos`, checked against `len` bytes; NULL with an exception pending. */
static uint8_t *direct_at(JNIEnv *env, jobject buf, jint pos, jint len) {
    if (buf == NULL) {
        return NULL;
    }
    uint8_t *base = (uint8_t *)(*env)->GetDirectBufferAddress(env, buf);
    jlong cap = (*env)->GetDirectBufferCapacity(env, buf);
    if (base == NULL || cap < 0) {
        throw_java(env, "java/lang/IllegalArgumentException", "not a direct ByteBuffer");
        return NULL;
    }
    if (pos < 0 || len < 0 || (jlong)pos + (jlong)len > cap) {
        throw_java(env, "java/lang/IndexOutOfBoundsException", "buffer range");
        return NULL;
    }
    return base + pos;
}

/* Whether [a, a + alen) and [b, b + blen) share a byte (empty ranges share nothing): the one
 * overlap check of this file, made before a call whose output buffer may overlap no other
 * argument (include/numashard.h). byte[] arguments never need it: they are copied in. */
static int overlaps(const void *a, size_t alen, const void *b, size_t blen) {
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return alen != 0 && blen != 0 && pa < pb + blen && pb < pa + alen;
}

/* Replaces `b`'s bytes by a copy of them (`stack` when they fit `stack_cap`, else malloc) when
 * they overlap [out, out + out_cap): the rare case of a caller passing one buffer (or two views
 * of it) as input and output. 0 on success, -1 with an exception pending (`b` unchanged). */
static int keep_apart(JNIEnv *env, bytes_t *b, const uint8_t *out, size_t out_cap, uint8_t *stack,
                      size_t stack_cap) {
    if (!overlaps(b->ptr, b->len, out, out_cap)) {
        return 0;
    }
    uint8_t *copy = stack;
    if (b->len > stack_cap) {
        copy = (uint8_t *)malloc(b->len);
        if (copy == NULL) {
            throw_java(env, "java/lang/OutOfMemoryError", "numashard: native buffer");
            return -1;
        }
    }
    memcpy(copy, b->ptr, b->len);
    bytes_release(b);
    b->ptr = copy;
    b->heap = copy != stack;
    return 0;
}

static jbyteArray new_byte_array(JNIEnv *env, const uint8_t *p, size_t len) {
    if (len > 0x7fffffff) {
        throw_java(env, "java/lang/OutOfMemoryError", "numashard: value larger than a Java array");
        return NULL;
    }
    jbyteArray a = (*env)->NewByteArray(env, (jsize)len);
    if (a != NULL && len > 0) {
        (*env)->SetByteArrayRegion(env, a, 0, (jsize)len, (const jbyte *)p);
    }
    return a;
}

/*
 * Reads a value with ns_get or ns_take (`op`) into a stack buffer, retrying with a heap buffer of
 * the reported size when the value is larger (it may grow again meanwhile: loop). Returns a new
 * byte[] or NULL (not found, or an exception pending).
 */
typedef ns_status (*read_fn)(ns_map *, const uint8_t *, size_t, uint8_t *, size_t, size_t *);

/* What a read_call runs: `op` (ns_get or ns_take), a swap or a get-or-put storing `value`. */
enum { CALL_READ, CALL_SWAP, CALL_GET_OR_PUT };

/* A read into a caller buffer with its arguments bound. `ttl_ms` is the stored value's time to
 * live as ns_op.ttl_ms says (0 = the map's default). */
typedef struct {
    int what;
    read_fn op;
    const bytes_t *value;
    uint64_t ttl_ms;
} read_call;

/* One batch op of `kind` storing `v` with `ttl_ms`, its previous or present value copied into
 * `buf`: the C ABI offers swap and get-or-put with a time to live only as batch kinds. Returns
 * the op's status (or the call's, when the batch as a whole failed). */
static ns_status one_op(ns_map *m, ns_op_kind kind, const bytes_t *k, const bytes_t *v, uint64_t ttl_ms,
                        uint8_t *buf, size_t cap, size_t *len) {
    ns_op op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    op.key = k->ptr;
    op.key_len = k->len;
    op.value = v->ptr;
    op.value_len = v->len;
    op.out = buf;
    op.out_cap = cap;
    op.ttl_ms = ttl_ms;
    ns_status st = ns_batch(m, &op, 1);
    if (st != NS_OK) return st;
    *len = op.out_len;
    return op.status;
}

/* Runs `c` once: NS_OK (a value in `buf`, `*len` its length), NS_NOT_FOUND (no value: absent,
 * or inserted), NS_BUFFER_TOO_SMALL (nothing changed; `*len` = the size needed) or an error. */
static ns_status call_once(const read_call *c, ns_map *m, const bytes_t *k, uint8_t *buf, size_t cap, size_t *len) {
    const bytes_t *v = c->value;
    ns_status st;
    switch (c->what) {
    case CALL_SWAP:
        return c->ttl_ms == 0 ? ns_swap(m, k->ptr, k->len, v->ptr, v->len, buf, cap, len)
                              : one_op(m, NS_OP_SWAP, k, v, c->ttl_ms, buf, cap, len);
    case CALL_GET_OR_PUT:
        st = c->ttl_ms == 0 ? ns_get_or_put(m, k->ptr, k->len, v->ptr, v->len, buf, cap, len)
                            : one_op(m, NS_OP_PUT_IF_ABSENT, k, v, c->ttl_ms, buf, cap, len);
        if (st == NS_OK) return NS_NOT_FOUND; /* inserted: there is no present value */
        if (st == NS_EXISTS) return *len <= cap ? NS_OK : NS_BUFFER_TOO_SMALL;
        return st;
    default:
        return c->op(m, k->ptr, k->len, buf, cap, len);
    }
}

/* Runs `c` for key `k` into a stack buffer, growing it while the engine answers
 * NS_BUFFER_TOO_SMALL (it then changed nothing); returns the value as a new byte[], NULL when
 * absent or with an exception pending. */
static jbyteArray read_loop(JNIEnv *env, jlong h, const bytes_t *k, const read_call *c) {
    uint8_t vstack[STACK_VALUE];
    uint8_t *buf = vstack;
    size_t cap = sizeof vstack;
    jbyteArray result = NULL;
    for (;;) {
        size_t len = 0;
        ns_status st = call_once(c, map_of(h), k, buf, cap, &len);
        if (st == NS_OK) {
            result = new_byte_array(env, buf, len);
            break;
        }
        if (st == NS_NOT_FOUND) {
            break;
        }
        if (st == NS_BUFFER_TOO_SMALL) {
            if (buf != vstack) {
                free(buf);
            }
            cap = len + len / 8 + 16;
            buf = (uint8_t *)malloc(cap);
            if (buf == NULL) {
                throw_java(env, "java/lang/OutOfMemoryError", "numashard: native buffer");
                break;
            }
            continue;
        }
        throw_status(env, st);
        break;
    }
    if (buf != vstack) {
        free(buf);
    }
    return result;
}

static jbyteArray read_value(JNIEnv *env, jlong h, jbyteArray key, read_fn op) {
    uint8_t kstack[STACK_KEY];
    bytes_t k;
    if (bytes_load(env, key, kstack, sizeof kstack, &k) != 0) {
        return NULL;
    }
    read_call c = {CALL_READ, op, NULL, 0};
    jbyteArray result = read_loop(env, h, &k, &c);
    bytes_release(&k);
    return result;
}

/* ------------------------------------------------------------------ NumaShardMap (static) */

JNIEXPORT jstring JNICALL Java_io_numashard_NumaShardMap_nVersion(JNIEnv *env, jclass cls) {
    (void)cls;
    return (*env)->NewStringUTF(env, ns_version());
}

JNIEXPORT jstring JNICALL Java_io_numashard_NumaShardMap_nStatusStr(JNIEnv *env, jclass cls, jint st) {
    (void)cls;
    return (*env)->NewStringUTF(env, ns_status_str((ns_status)st));
}

/* A copy of a jintArray as uint32_t (NULL for a null array); 0 on success. */
static int u32_array(JNIEnv *env, jintArray arr, uint32_t **out, size_t *len) {
    *out = NULL;
    *len = 0;
    if (arr == NULL) {
        return 0;
    }
    jsize n = (*env)->GetArrayLength(env, arr);
    uint32_t *p = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(n > 0 ? n : 1));
    if (p == NULL) {
        throw_java(env, "java/lang/OutOfMemoryError", "numashard: config");
        return -1;
    }
    if (n > 0) {
        (*env)->GetIntArrayRegion(env, arr, 0, n, (jint *)p);
    }
    *out = p;
    *len = (size_t)n;
    return 0;
}

/* How a map is created: NULL = ns_map_new (errors throw); otherwise `create` with `arg`, whose
 * error status is stored in *failed (the caller throws, with the engine's message). */
typedef ns_status (*create_fn)(const ns_config *cfg, ns_map **out, void *arg);

static jlong open_map(JNIEnv *env, jlongArray numbers, jstring topology, jstring topology_xml, jintArray nodes,
                      jintArray shards_per_node, create_fn create, void *arg, ns_status *failed);

JNIEXPORT jlong JNICALL Java_io_numashard_NumaShardMap_nOpen(JNIEnv *env, jclass cls, jlongArray numbers,
                                                             jstring topology, jstring topology_xml,
                                                             jintArray nodes, jintArray shards_per_node) {
    (void)cls;
    return open_map(env, numbers, topology, topology_xml, nodes, shards_per_node, NULL, NULL, NULL);
}

static jlong open_map(JNIEnv *env, jlongArray numbers, jstring topology, jstring topology_xml, jintArray nodes,
                      jintArray shards_per_node, create_fn create, void *arg, ns_status *failed) {
    /* {value, isSet} pairs in Config.packed() order. */
    jlong v[28];
    if ((*env)->GetArrayLength(env, numbers) != 28) {
        throw_java(env, "java/lang/IllegalStateException", "numashard: config layout mismatch");
        return 0;
    }
    (*env)->GetLongArrayRegion(env, numbers, 0, 28, v);
    ns_config cfg;
    ns_config_init(&cfg);
    if (v[1]) cfg.shards = (uint32_t)v[0];
    if (v[3]) cfg.memory_limit = (uint64_t)v[2];
    if (v[5]) cfg.max_key_len = (size_t)v[4];
    if (v[7]) cfg.max_value_len = (size_t)v[6];
    if (v[9]) cfg.hash_seed = (uint64_t)v[8];
    if (v[11]) cfg.worker_spin_us = (int64_t)v[10];
    if (v[13]) cfg.exec_mode = (ns_exec_mode)v[12];
    if (v[15]) cfg.batch_delegate_min = (uint32_t)v[14];
    if (v[17]) cfg.misplace_memory = v[16] != 0;
    if (v[19]) cfg.eviction = (ns_eviction)v[18];
    if (v[21]) cfg.default_ttl_ms = (uint64_t)v[20];
    if (v[23]) cfg.record_stats = v[22] != 0;
    if (v[25]) cfg.initial_capacity = (uint64_t)v[24];
    if (v[27]) cfg.place_records_by_hash = v[26] != 0;

    const char *topo = NULL, *xml = NULL;
    uint32_t *nodes_p = NULL, *spn_p = NULL;
    jlong handle = 0;
    if (topology != NULL && (topo = (*env)->GetStringUTFChars(env, topology, NULL)) == NULL) goto out;
    if (topology_xml != NULL && (xml = (*env)->GetStringUTFChars(env, topology_xml, NULL)) == NULL) goto out;
    if (u32_array(env, nodes, &nodes_p, &cfg.nodes_len) != 0) goto out;
    if (u32_array(env, shards_per_node, &spn_p, &cfg.shards_per_node_len) != 0) goto out;
    cfg.topology = topo;
    cfg.topology_xml = xml;
    cfg.nodes = nodes_p;
    cfg.shards_per_node = spn_p;
    {
        ns_map *m = NULL;
        ns_status st = create == NULL ? ns_map_new(&cfg, &m) : create(&cfg, &m, arg);
        if (st == NS_OK) {
            handle = (jlong)(intptr_t)m;
        } else if (create == NULL) {
            throw_status(env, st);
        } else {
            *failed = st;
        }
    }
out:
    if (topo != NULL) (*env)->ReleaseStringUTFChars(env, topology, topo);
    if (xml != NULL) (*env)->ReleaseStringUTFChars(env, topology_xml, xml);
    free(nodes_p);
    free(spn_p);
    return handle;
}

JNIEXPORT void JNICALL Java_io_numashard_NumaShardMap_nFree(JNIEnv *env, jclass cls, jlong h) {
    (void)env;
    (void)cls;
    ns_map_free(map_of(h));
}

/* ------------------------------------------------------------------ NumaShardMap (instance) */

/* Returns the status widened to 64 bits: a 32-bit return's upper register half is undefined in
 * the C ABI, the engine does leave it dirty on some paths, HotSpot passes a jint result on as
 * it is, and `return (jint)ns_map_close(...)` compiles to a tail jump that would hand the
 * engine's register to Java unchanged. The sign extension here makes it clean; Java narrows. */
JNIEXPORT jlong JNICALL Java_io_numashard_NumaShardMap_nClose(JNIEnv *env, jobject self, jlong h) {
    (void)env;
    (void)self;
    return (jlong)ns_map_close(map_of(h));
}

JNIEXPORT jboolean JNICALL Java_io_numashard_NumaShardMap_nIsClosed(JNIEnv *env, jobject self, jlong h) {
    (void)env;
    (void)self;
    uint32_t n;
    return ns_map_shard_count(map_of(h), &n) == NS_ERR_CLOSED ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT jbyteArray JNICALL Java_io_numashard_NumaShardMap_nGet(JNIEnv *env, jobject self, jlong h, jbyteArray key) {
    (void)self;
    return read_value(env, h, key, ns_get);
}

JNIEXPORT jbyteArray JNICALL Java_io_numashard_NumaShardMap_nTake(JNIEnv *env, jobject self, jlong h,
                                                                  jbyteArray key) {
    (void)self;
    return read_value(env, h, key, ns_take);
}

/* Stores `value` by swap or get-or-put (`what`) and returns the previous / present value (NULL
 * when there was none). A buffer too small for it changes nothing: read_loop retries with room. */
static jbyteArray store_read(JNIEnv *env, jlong h, jbyteArray key, jbyteArray value, jlong ttl_ms, int what) {
    uint8_t kstack[STACK_KEY], vstack[STACK_VALUE];
    bytes_t k, v;
    if (bytes_load(env, key, kstack, sizeof kstack, &k) != 0) return NULL;
    if (bytes_load(env, value, vstack, sizeof vstack, &v) != 0) {
        bytes_release(&k);
        return NULL;
    }
    read_call c = {what, NULL, &v, (uint64_t)ttl_ms};
    jbyteArray result = read_loop(env, h, &k, &c);
    bytes_release(&k);
    bytes_release(&v);
    return result;
}

JNIEXPORT jbyteArray JNICALL Java_io_numashard_NumaShardMap_nSwap(JNIEnv *env, jobject self, jlong h,
                                                                  jbyteArray key, jbyteArray value, jlong ttl_ms) {
    (void)self;
    return store_read(env, h, key, value, ttl_ms, CALL_SWAP);
}

/* Inserts if absent (returns NULL) or returns the present value, atomically. */
JNIEXPORT jbyteArray JNICALL Java_io_numashard_NumaShardMap_nGetOrPut(JNIEnv *env, jobject self, jlong h,
                                                                      jbyteArray key, jbyteArray value, jlong ttl_ms) {
    (void)self;
    return store_read(env, h, key, value, ttl_ms, CALL_GET_OR_PUT);
}

/* get into a direct buffer (dst may be NULL: a size query); key from a byte[] or a direct buffer. */
JNIEXPORT jint JNICALL Java_io_numashard_NumaShardMap_nGetDirect(JNIEnv *env, jobject self, jlong h, jbyteArray key,
                                                                 jobject key_buf, jint key_pos, jint key_len,
                                                                 jobject dst, jint dst_pos, jint dst_cap) {
    (void)self;
    uint8_t kstack[STACK_KEY];
    bytes_t k = {NULL, 0, 0};
    if (key != NULL) {
        if (bytes_load(env, key, kstack, sizeof kstack, &k) != 0) return -1;
    } else {
        k.ptr = direct_at(env, key_buf, key_pos, key_len);
        if (k.ptr == NULL) return -1;
        k.len = (size_t)key_len;
    }
    uint8_t *out = NULL;
    if (dst != NULL) {
        out = direct_at(env, dst, dst_pos, dst_cap);
        /* A key buffer may be the destination itself, or a view of it (ns_get forbids it). */
        if (out == NULL || keep_apart(env, &k, out, (size_t)dst_cap, kstack, sizeof kstack) != 0) {
            bytes_release(&k);
            return -1;
        }
    }
    size_t len = 0;
    ns_status st = ns_get(map_of(h), k.ptr, k.len, out, out == NULL ? 0 : (size_t)dst_cap, &len);
    bytes_release(&k);
    switch (st) {
    case NS_OK:
    case NS_BUFFER_TOO_SMALL:
        return len > 0x7fffffff ? 0x7fffffff : (jint)len;
    case NS_NOT_FOUND:
        return -1;
    default:
        throw_status(env, st);
        return -1;
    }
}

/* get into a byte[] region (heap ByteBuffers). */
JNIEXPORT jint JNICALL Java_io_numashard_NumaShardMap_nGetArray(JNIEnv *env, jobject self, jlong h, jbyteArray key,
                                                                jbyteArray dst, jint dst_off, jint dst_cap) {
    (void)self;
    uint8_t kstack[STACK_KEY];
    uint8_t vstack[STACK_VALUE];
    bytes_t k;
    if (bytes_load(env, key, kstack, sizeof kstack, &k) != 0) return -1;
    uint8_t *buf = vstack;
    if ((size_t)dst_cap > sizeof vstack) {
        buf = (uint8_t *)malloc((size_t)dst_cap);
        if (buf == NULL) {
            bytes_release(&k);
            throw_java(env, "java/lang/OutOfMemoryError", "numashard: native buffer");
            return -1;
        }
    }
    size_t len = 0;
    ns_status st = ns_get(map_of(h), k.ptr, k.len, buf, (size_t)dst_cap, &len);
    jint result = -1;
    if (st == NS_OK) {
        if (len > 0) (*env)->SetByteArrayRegion(env, dst, dst_off, (jsize)len, (const jbyte *)buf);
        result = (jint)len;
    } else if (st == NS_BUFFER_TOO_SMALL) {
        result = len > 0x7fffffff ? 0x7fffffff : (jint)len;
    } else if (st != NS_NOT_FOUND) {
        throw_status(env, st);
    }
    if (buf != vstack) free(buf);
    bytes_release(&k);
    return result;
}

/* ns_put / ns_put_if_absent, or their _ttl forms when `ttl_ms` is not 0 (the map's default). */
static ns_status store(ns_map *m, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, jlong ttl_ms,
                       jboolean if_absent) {
    if (ttl_ms == 0) return if_absent ? ns_put_if_absent(m, k, kl, v, vl) : ns_put(m, k, kl, v, vl);
    return if_absent ? ns_put_if_absent_ttl(m, k, kl, v, vl, (uint64_t)ttl_ms)
                     : ns_put_ttl(m, k, kl, v, vl, (uint64_t)ttl_ms);
}

/* A store's outcome: true when stored, false when put-if-absent found the key; errors throw. */
static jboolean stored(JNIEnv *env, ns_status st) {
    if (st == NS_OK) return JNI_TRUE;
    if (st != NS_EXISTS) throw_status(env, st);
    return JNI_FALSE;
}

JNIEXPORT jboolean JNICALL Java_io_numashard_NumaShardMap_nPutBytes(JNIEnv *env, jobject self, jlong h,
                                                                    jbyteArray key, jbyteArray value, jlong ttl_ms,
                                                                    jboolean if_absent) {
    (void)self;
    uint8_t kstack[STACK_KEY], vstack[STACK_VALUE];
    bytes_t k, v;
    if (bytes_load(env, key, kstack, sizeof kstack, &k) != 0) return JNI_FALSE;
    if (bytes_load(env, value, vstack, sizeof vstack, &v) != 0) {
        bytes_release(&k);
        return JNI_FALSE;
    }
    ns_status st = store(map_of(h), k.ptr, k.len, v.ptr, v.len, ttl_ms, if_absent);
    bytes_release(&k);
    bytes_release(&v);
    return stored(env, st);
}

JNIEXPORT void JNICALL Java_io_numashard_NumaShardMap_nPutDirect(JNIEnv *env, jobject self, jlong h, jobject key,
                                                                 jint key_pos, jint key_len, jobject value,
                                                                 jint value_pos, jint value_len, jlong ttl_ms) {
    (void)self;
    uint8_t *k = direct_at(env, key, key_pos, key_len);
    if (k == NULL) return;
    uint8_t *v = direct_at(env, value, value_pos, value_len);
    if (v == NULL) return;
    stored(env, store(map_of(h), k, (size_t)key_len, v, (size_t)value_len, ttl_ms, JNI_FALSE));
}

JNIEXPORT jboolean JNICALL Java_io_numashard_NumaShardMap_nDelete(JNIEnv *env, jobject self, jlong h,
                                                                  jbyteArray key) {
    (void)self;
    uint8_t kstack[STACK_KEY];
    bytes_t k;
    if (bytes_load(env, key, kstack, sizeof kstack, &k) != 0) return JNI_FALSE;
    ns_status st = ns_delete(map_of(h), k.ptr, k.len);
    bytes_release(&k);
    return found(env, st);
}

JNIEXPORT jint JNICALL Java_io_numashard_NumaShardMap_nCas(JNIEnv *env, jobject self, jlong h, jbyteArray key,
                                                           jbyteArray expected, jbyteArray value) {
    (void)self;
    uint8_t kstack[STACK_KEY], estack[STACK_VALUE], vstack[STACK_VALUE];
    bytes_t k, e, v;
    if (bytes_load(env, key, kstack, sizeof kstack, &k) != 0) return -1;
    if (bytes_load(env, expected, estack, sizeof estack, &e) != 0) {
        bytes_release(&k);
        return -1;
    }
    if (bytes_load(env, value, vstack, sizeof vstack, &v) != 0) {
        bytes_release(&k);
        bytes_release(&e);
        return -1;
    }
    ns_status st = ns_compare_and_swap(map_of(h), k.ptr, k.len, e.ptr, e.len, v.ptr, v.len);
    bytes_release(&k);
    bytes_release(&e);
    bytes_release(&v);
    if (st == NS_OK || st == NS_MISMATCH || st == NS_NOT_FOUND) return (jint)st;
    throw_status(env, st);
    return -1;
}

JNIEXPORT jint JNICALL Java_io_numashard_NumaShardMap_nCompareAndDelete(JNIEnv *env, jobject self, jlong h,
                                                                        jbyteArray key, jbyteArray expected) {
    (void)self;
    uint8_t kstack[STACK_KEY], estack[STACK_VALUE];
    bytes_t k, e;
    if (bytes_load(env, key, kstack, sizeof kstack, &k) != 0) return -1;
    if (bytes_load(env, expected, estack, sizeof estack, &e) != 0) {
        bytes_release(&k);
        return -1;
    }
    ns_status st = ns_compare_and_delete(map_of(h), k.ptr, k.len, e.ptr, e.len);
    bytes_release(&k);
    bytes_release(&e);
    if (st == NS_OK || st == NS_MISMATCH || st == NS_NOT_FOUND) return (jint)st;
    throw_status(env, st);
    return -1;
}

JNIEXPORT jlong JNICALL Java_io_numashard_NumaShardMap_nAdd(JNIEnv *env, jobject self, jlong h, jbyteArray key,
                                                            jlong delta) {
    (void)self;
    uint8_t kstack[STACK_KEY];
    bytes_t k;
    if (bytes_load(env, key, kstack, sizeof kstack, &k) != 0) return 0;
    int64_t nv = 0;
    ns_status st = ns_add(map_of(h), k.ptr, k.len, (int64_t)delta, &nv);
    bytes_release(&k);
    if (st != NS_OK) throw_status(env, st);
    return (jlong)nv;
}

JNIEXPORT jlong JNICALL Java_io_numashard_NumaShardMap_nLen(JNIEnv *env, jobject self, jlong h) {
    (void)self;
    uint64_t n = 0;
    ns_status st = ns_len(map_of(h), &n);
    if (st != NS_OK) throw_status(env, st);
    return (jlong)n;
}

JNIEXPORT jint JNICALL Java_io_numashard_NumaShardMap_nShardCount(JNIEnv *env, jobject self, jlong h) {
    (void)self;
    uint32_t n = 0;
    ns_status st = ns_map_shard_count(map_of(h), &n);
    if (st != NS_OK) throw_status(env, st);
    return (jint)n;
}

JNIEXPORT jint JNICALL Java_io_numashard_NumaShardMap_nShardOf(JNIEnv *env, jobject self, jlong h, jbyteArray key) {
    (void)self;
    uint8_t kstack[STACK_KEY];
    bytes_t k;
    if (bytes_load(env, key, kstack, sizeof kstack, &k) != 0) return -1;
    uint32_t shard = 0;
    ns_status st = ns_shard_of_key(map_of(h), k.ptr, k.len, &shard);
    bytes_release(&k);
    if (st != NS_OK) throw_status(env, st);
    return (jint)shard;
}

JNIEXPORT void JNICALL Java_io_numashard_NumaShardMap_nClear(JNIEnv *env, jobject self, jlong h) {
    (void)self;
    ns_status st = ns_clear(map_of(h));
    if (st != NS_OK) throw_status(env, st);
}

/* Renders text from a (buf, cap, len) size-query style function, looping while it grows. */
typedef ns_status (*text_fn)(ns_map *, char *, size_t, size_t *);

static jstring read_text(JNIEnv *env, jlong h, text_fn fn) {
    size_t cap = 4096;
    for (;;) {
        char *buf = (char *)malloc(cap);
        if (buf == NULL) {
            throw_java(env, "java/lang/OutOfMemoryError", "numashard: text");
            return NULL;
        }
        size_t len = 0;
        ns_status st = fn(map_of(h), buf, cap, &len);
        if (st == NS_OK) {
            /* The text is ASCII; NewStringUTF needs a NUL-terminated modified-UTF-8 string. */
            jstring s = (*env)->NewStringUTF(env, buf);
            free(buf);
            return s;
        }
        free(buf);
        if (st == NS_BUFFER_TOO_SMALL) {
            cap = len + len / 4 + 256;
            continue;
        }
        throw_status(env, st);
        return NULL;
    }
}

JNIEXPORT jstring JNICALL Java_io_numashard_NumaShardMap_nPrometheus(JNIEnv *env, jobject self, jlong h) {
    (void)self;
    return read_text(env, h, ns_stats_prometheus);
}

JNIEXPORT jstring JNICALL Java_io_numashard_NumaShardMap_nDescribe(JNIEnv *env, jobject self, jlong h) {
    (void)self;
    return read_text(env, h, ns_topology_describe);
}

JNIEXPORT jlongArray JNICALL Java_io_numashard_NumaShardMap_nStats(JNIEnv *env, jobject self, jlong h) {
    (void)self;
    ns_stats s;
    ns_status st = ns_stats_get(map_of(h), &s);
    if (st != NS_OK) {
        throw_status(env, st);
        return NULL;
    }
    jlong v[13] = {(jlong)s.shards,       (jlong)s.entries, (jlong)s.bytes, (jlong)s.mapped_bytes,
                   (jlong)s.ops,          (jlong)s.memory_limit, s.binding_applied ? 1 : 0,
                   (jlong)s.replace_stall_max_ns, (jlong)s.replace_count, (jlong)s.hits, (jlong)s.misses,
                   (jlong)s.evictions, (jlong)s.expirations};
    jlongArray a = (*env)->NewLongArray(env, 13);
    if (a != NULL) (*env)->SetLongArrayRegion(env, a, 0, 13, v);
    return a;
}

JNIEXPORT jlongArray JNICALL Java_io_numashard_NumaShardMap_nShardStats(JNIEnv *env, jobject self, jlong h,
                                                                        jint shard) {
    (void)self;
    if (shard < 0) {
        throw_status(env, NS_ERR_INVALID_ARGUMENT);
        return NULL;
    }
    ns_shard_stats s;
    ns_status st = ns_shard_stats_get_sized(map_of(h), (uint32_t)shard, &s, sizeof s);
    if (st != NS_OK) {
        throw_status(env, st);
        return NULL;
    }
    jlong v[19] = {(jlong)s.shard,   (jlong)s.node,         (jlong)s.memory_node,      (jlong)s.cpu,
                   (jlong)s.entries, (jlong)s.bytes,        (jlong)s.mapped_bytes,     (jlong)s.ops,
                   (jlong)s.queue_high_water, s.binding_applied ? 1 : 0, (jlong)s.pages_on_node,
                   (jlong)s.pages_total, (jlong)s.hits, (jlong)s.misses, (jlong)s.evictions,
                   (jlong)s.expirations, (jlong)s.pages_moved, (jlong)s.index_slots,
                   (jlong)s.grow_hold_max_ns};
    jlongArray a = (*env)->NewLongArray(env, 19);
    if (a != NULL) (*env)->SetLongArrayRegion(env, a, 0, 19, v);
    return a;
}

/* ------------------------------------------------------------------ batches */

/* The ops buffer holds ns_op structs written by Batch.java at the offsets nOpLayout reports. */
JNIEXPORT void JNICALL Java_io_numashard_NumaShardMap_nBatch(JNIEnv *env, jobject self, jlong h, jobject ops,
                                                             jint n) {
    (void)self;
    if (n < 0) {
        throw_status(env, NS_ERR_INVALID_ARGUMENT);
        return;
    }
    ns_op *p = (ns_op *)direct_at(env, ops, 0, (jint)((size_t)n * sizeof(ns_op)));
    if (p == NULL) return;
    ns_status st = ns_batch(map_of(h), p, (size_t)n);
    if (st != NS_OK) throw_status(env, st);
}

/* An all-get batch as Batch.java laid it out for ns_get_many: every address points into the
 * batch's direct buffer (key and value lengths as size_t, statuses as ns_status, n slots of
 * `stride` bytes, the keys back to back), which Java keeps reachable for the call. No JNI
 * callback on success. Returns JNI_TRUE when some value did not fit its slot (Java re-reads it). */
JNIEXPORT jboolean JNICALL Java_io_numashard_NumaShardMap_nGetMany(JNIEnv *env, jobject self, jlong h, jint n,
                                                                   jlong keys, jlong key_lens, jlong out,
                                                                   jlong stride, jlong value_lens, jlong statuses) {
    (void)self;
    if (n < 0 || stride < 0) {
        throw_status(env, NS_ERR_INVALID_ARGUMENT);
        return JNI_FALSE;
    }
    ns_status st = ns_get_many(map_of(h), (size_t)n, (const uint8_t *)(intptr_t)keys,
                               (const size_t *)(intptr_t)key_lens, (uint8_t *)(intptr_t)out, (size_t)stride,
                               (size_t *)(intptr_t)value_lens, (ns_status *)(intptr_t)statuses);
    if (st == NS_BUFFER_TOO_SMALL) return JNI_TRUE;
    if (st != NS_OK) throw_status(env, st);
    return JNI_FALSE;
}

JNIEXPORT jintArray JNICALL Java_io_numashard_Batch_nOpLayout(JNIEnv *env, jclass cls) {
    (void)cls;
    /* Batch.java writes kind and status as 4-byte ints and the rest as 8-byte words. */
    _Static_assert(sizeof(ns_op_kind) == 4 && sizeof(ns_status) == 4, "4-byte enums");
    _Static_assert(sizeof(size_t) == 8 && sizeof(void *) == 8, "64-bit platform");
    jint v[] = {
        (jint)sizeof(ns_op),
        (jint)offsetof(ns_op, kind),
        (jint)offsetof(ns_op, key),
        (jint)offsetof(ns_op, key_len),
        (jint)offsetof(ns_op, value),
        (jint)offsetof(ns_op, value_len),
        (jint)offsetof(ns_op, expected),
        (jint)offsetof(ns_op, expected_len),
        (jint)offsetof(ns_op, delta),
        (jint)offsetof(ns_op, out),
        (jint)offsetof(ns_op, out_cap),
        (jint)offsetof(ns_op, out_len),
        (jint)offsetof(ns_op, out_counter),
        (jint)offsetof(ns_op, status),
        (jint)offsetof(ns_op, ttl_ms),
        NS_OP_GET, NS_OP_PUT, NS_OP_PUT_IF_ABSENT, NS_OP_DELETE, NS_OP_TAKE, NS_OP_CAS, NS_OP_ADD,
        NS_OP_COMPARE_AND_DELETE, NS_OP_SWAP, NS_OP_EXPIRE, NS_OP_TTL,
    };
    jsize n = (jsize)(sizeof v / sizeof v[0]);
    jintArray a = (*env)->NewIntArray(env, n);
    if (a != NULL) (*env)->SetIntArrayRegion(env, a, 0, n, v);
    return a;
}

JNIEXPORT jlong JNICALL Java_io_numashard_Batch_nAddress(JNIEnv *env, jclass cls, jobject buf) {
    (void)cls;
    void *p = (*env)->GetDirectBufferAddress(env, buf);
    if (p == NULL) throw_java(env, "java/lang/IllegalArgumentException", "not a direct ByteBuffer");
    return (jlong)(intptr_t)p;
}

/* ------------------------------------------------------------------ replace_all */

/* `packed` holds n records [u32 klen][u32 vlen][key][value] (native byte order). */
JNIEXPORT void JNICALL Java_io_numashard_NumaShardMap_nReplaceAll(JNIEnv *env, jobject self, jlong h,
                                                                  jobject packed, jint n) {
    (void)self;
    if (n < 0) {
        throw_status(env, NS_ERR_INVALID_ARGUMENT);
        return;
    }
    jlong cap = (*env)->GetDirectBufferCapacity(env, packed);
    const uint8_t *p = (const uint8_t *)(*env)->GetDirectBufferAddress(env, packed);
    if (p == NULL || cap < 0) {
        throw_java(env, "java/lang/IllegalArgumentException", "not a direct ByteBuffer");
        return;
    }
    ns_entry *entries = (ns_entry *)malloc(sizeof(ns_entry) * (size_t)(n > 0 ? n : 1));
    if (entries == NULL) {
        throw_java(env, "java/lang/OutOfMemoryError", "numashard: replaceAll entries");
        return;
    }
    size_t off = 0;
    for (jint i = 0; i < n; i++) {
        uint32_t kl, vl;
        if (off + 8 > (size_t)cap) goto bad;
        memcpy(&kl, p + off, 4);
        memcpy(&vl, p + off + 4, 4);
        off += 8;
        if (off + (size_t)kl + (size_t)vl > (size_t)cap) goto bad;
        entries[i].key = p + off;
        entries[i].key_len = kl;
        off += kl;
        entries[i].value = p + off;
        entries[i].value_len = vl;
        off += vl;
    }
    {
        ns_status st = ns_replace_all(map_of(h), entries, (size_t)n);
        free(entries);
        if (st != NS_OK) throw_status(env, st);
        return;
    }
bad:
    free(entries);
    throw_java(env, "java/lang/IllegalArgumentException", "numashard: malformed replaceAll buffer");
}

/* ------------------------------------------------------------------ iteration */

/*
 * The Java iterator handle: the ns_iter plus an entry fetched but not yet delivered because it did
 * not fit the caller's chunk (ns_iter_next has consumed it; its bytes stay valid until the next
 * call on the iterator, which we only make after delivering it).
 */
typedef struct {
    ns_iter *it;
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
    int pending;
    int at_end;
} jiter_t;

JNIEXPORT jlong JNICALL Java_io_numashard_NumaShardMap_nIterNew(JNIEnv *env, jobject self, jlong h) {
    (void)self;
    jiter_t *j = (jiter_t *)calloc(1, sizeof *j);
    if (j == NULL) {
        throw_java(env, "java/lang/OutOfMemoryError", "numashard: iterator");
        return 0;
    }
    ns_status st = ns_iter_new(map_of(h), &j->it);
    if (st != NS_OK) {
        free(j);
        throw_status(env, st);
        return 0;
    }
    return (jlong)(intptr_t)j;
}

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

JNIEXPORT jint JNICALL Java_io_numashard_EntryIterator_nIterFill(JNIEnv *env, jobject self, jlong handle,
                                                                 jobject buf, jint cap) {
    (void)self;
    jiter_t *j = (jiter_t *)(intptr_t)handle;
    uint8_t *out = direct_at(env, buf, 0, cap);
    if (out == NULL) return 0;
    size_t used = 0;
    jint count = 0;
    for (;;) {
        if (!j->pending) {
            if (j->at_end) break;
            ns_status st = ns_iter_next(j->it, &j->key, &j->key_len, &j->value, &j->value_len);
            if (st == NS_NOT_FOUND) {
                j->at_end = 1;
                break;
            }
            if (st != NS_OK) {
                if (count > 0) break; /* deliver what we have; the error repeats on the next call */
                throw_status(env, st);
                return 0;
            }
            j->pending = 1;
        }
        size_t need = 8 + j->key_len + j->value_len;
        if (used + need > (size_t)cap) {
            if (count == 0) {
                return need > 0x7fffffff ? (jint)-0x7fffffff : -(jint)need;
            }
            break;
        }
        put_u32(out + used, (uint32_t)j->key_len);
        put_u32(out + used + 4, (uint32_t)j->value_len);
        memcpy(out + used + 8, j->key, j->key_len);
        memcpy(out + used + 8 + j->key_len, j->value, j->value_len);
        used += need;
        count++;
        j->pending = 0;
    }
    return count;
}

JNIEXPORT void JNICALL Java_io_numashard_EntryIterator_nIterFree(JNIEnv *env, jclass cls, jlong handle) {
    (void)env;
    (void)cls;
    jiter_t *j = (jiter_t *)(intptr_t)handle;
    if (j != NULL) {
        ns_iter_free(j->it);
        free(j);
    }
}

/* ------------------------------------------------------------------ raw-address fast paths */
/*
 * The Java side copied the key (and value) into its per-thread direct scratch buffer and passes
 * addresses: on success these make no JNI callbacks at all. The key area and the output lie apart
 * in that buffer (JniBackend.Scratch), as ns_get and ns_take require. Results: length (OK or too small),
 * -1 not found; errors throw.
 */

static inline const uint8_t *raw(jlong a) { return (const uint8_t *)(intptr_t)a; }

static jlong raw_read(JNIEnv *env, ns_status st, size_t len) {
    switch (st) {
    case NS_OK:
    case NS_BUFFER_TOO_SMALL:
        return (jlong)len;
    case NS_NOT_FOUND:
        return -1;
    default:
        throw_status(env, st);
        return -1;
    }
}

JNIEXPORT jlong JNICALL Java_io_numashard_NumaShardMap_nGetRaw(JNIEnv *env, jobject self, jlong h, jlong key,
                                                               jint key_len, jlong out, jint out_cap) {
    (void)self;
    size_t len = 0;
    ns_status st = ns_get(map_of(h), raw(key), (size_t)key_len, (uint8_t *)(intptr_t)out, (size_t)out_cap, &len);
    return raw_read(env, st, len);
}

JNIEXPORT jlong JNICALL Java_io_numashard_NumaShardMap_nTakeRaw(JNIEnv *env, jobject self, jlong h, jlong key,
                                                                jint key_len, jlong out, jint out_cap) {
    (void)self;
    size_t len = 0;
    ns_status st = ns_take(map_of(h), raw(key), (size_t)key_len, (uint8_t *)(intptr_t)out, (size_t)out_cap, &len);
    return raw_read(env, st, len);
}

JNIEXPORT jboolean JNICALL Java_io_numashard_NumaShardMap_nPutRaw(JNIEnv *env, jobject self, jlong h, jlong key,
                                                                  jint key_len, jlong value, jint value_len,
                                                                  jlong ttl_ms, jboolean if_absent) {
    (void)self;
    return stored(env, store(map_of(h), raw(key), (size_t)key_len, raw(value), (size_t)value_len, ttl_ms, if_absent));
}

JNIEXPORT jboolean JNICALL Java_io_numashard_NumaShardMap_nDeleteRaw(JNIEnv *env, jobject self, jlong h, jlong key,
                                                                     jint key_len) {
    (void)self;
    return found(env, ns_delete(map_of(h), raw(key), (size_t)key_len));
}

JNIEXPORT jlong JNICALL Java_io_numashard_NumaShardMap_nAddRaw(JNIEnv *env, jobject self, jlong h, jlong key,
                                                               jint key_len, jlong delta) {
    (void)self;
    int64_t nv = 0;
    ns_status st = ns_add(map_of(h), raw(key), (size_t)key_len, (int64_t)delta, &nv);
    if (st != NS_OK) throw_status(env, st);
    return (jlong)nv;
}

JNIEXPORT jint JNICALL Java_io_numashard_NumaShardMap_nShardOfRaw(JNIEnv *env, jobject self, jlong h, jlong key,
                                                                  jint key_len) {
    (void)self;
    uint32_t shard = 0;
    ns_status st = ns_shard_of_key(map_of(h), raw(key), (size_t)key_len, &shard);
    if (st != NS_OK) throw_status(env, st);
    return (jint)shard;
}

/* ------------------------------------------------------------------ time to live */
/* Key-only calls take the key from `key` when it is not null (long keys), else from the raw
 * scratch address `key_addr`. */

static int key_load(JNIEnv *env, jbyteArray key, jlong key_addr, jint key_len, uint8_t *stack, size_t cap,
                    bytes_t *out) {
    if (key != NULL) return bytes_load(env, key, stack, cap, out);
    out->ptr = (uint8_t *)(intptr_t)key_addr;
    out->len = (size_t)key_len;
    out->heap = 0;
    return 0;
}

/* ns_expire: true when the key was present (0 = expire now, -1 = NS_NO_EXPIRY: persist). */
JNIEXPORT jboolean JNICALL Java_io_numashard_NumaShardMap_nExpire(JNIEnv *env, jobject self, jlong h, jbyteArray key,
                                                                  jlong key_addr, jint key_len, jlong ttl_ms) {
    (void)self;
    uint8_t kstack[STACK_KEY];
    bytes_t k;
    if (key_load(env, key, key_addr, key_len, kstack, sizeof kstack, &k) != 0) return JNI_FALSE;
    ns_status st = ns_expire(map_of(h), k.ptr, k.len, (uint64_t)ttl_ms);
    bytes_release(&k);
    return found(env, st);
}

/* ns_ttl: milliseconds left (rounded up), -1 = never expires, -2 = absent or expired. */
JNIEXPORT jlong JNICALL Java_io_numashard_NumaShardMap_nTtl(JNIEnv *env, jobject self, jlong h, jbyteArray key,
                                                            jlong key_addr, jint key_len) {
    (void)self;
    uint8_t kstack[STACK_KEY];
    bytes_t k;
    if (key_load(env, key, key_addr, key_len, kstack, sizeof kstack, &k) != 0) return -2;
    int64_t left = 0;
    ns_status st = ns_ttl(map_of(h), k.ptr, k.len, &left);
    bytes_release(&k);
    if (st == NS_OK) return (jlong)left;
    if (st != NS_NOT_FOUND) throw_status(env, st);
    return -2;
}
#include "numashard_jni_snapshot.c"
