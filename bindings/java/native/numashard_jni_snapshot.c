/* JNI glue of the snapshot calls (NumaShardMap.nSave, nOpenSnapshot): status and the engine's
 * message go back through one-element Java arrays, so Java throws with the message. Compiled
 * together with numashard_jni.c (included by it). */

#define SNAPSHOT_MESSAGE_SIZE 512

typedef struct {
    const char *dir;
    char *msg;
} open_snapshot_arg;

static ns_status open_snapshot(const ns_config *cfg, ns_map **out, void *arg) {
    open_snapshot_arg *a = (open_snapshot_arg *)arg;
    return ns_map_open_snapshot(cfg, a->dir, out, a->msg, SNAPSHOT_MESSAGE_SIZE);
}

/* Stores a failure's status and message into the Java out arrays. */
static void report_failure(JNIEnv *env, jintArray status, jobjectArray message, ns_status st, const char *msg) {
    jint code = (jint)st;
    (*env)->SetIntArrayRegion(env, status, 0, 1, &code);
    jstring text = (*env)->NewStringUTF(env, msg);
    if (text != NULL) {
        (*env)->SetObjectArrayElement(env, message, 0, text);
        (*env)->DeleteLocalRef(env, text);
    }
}

JNIEXPORT jlong JNICALL Java_io_numashard_NumaShardMap_nOpenSnapshot(JNIEnv *env, jclass cls, jlongArray numbers,
                                                                     jstring topology, jstring topology_xml,
                                                                     jintArray nodes, jintArray shards_per_node,
                                                                     jstring dir, jintArray status,
                                                                     jobjectArray message) {
    (void)cls;
    char msg[SNAPSHOT_MESSAGE_SIZE] = {0};
    const char *d = (*env)->GetStringUTFChars(env, dir, NULL);
    if (d == NULL) return 0;
    open_snapshot_arg arg = {d, msg};
    ns_status failed = NS_OK;
    jlong h = open_map(env, numbers, topology, topology_xml, nodes, shards_per_node, open_snapshot, &arg, &failed);
    (*env)->ReleaseStringUTFChars(env, dir, d);
    if (h == 0 && failed != NS_OK && !(*env)->ExceptionCheck(env)) {
        report_failure(env, status, message, failed, msg);
    }
    return h;
}

JNIEXPORT jlongArray JNICALL Java_io_numashard_NumaShardMap_nSave(JNIEnv *env, jobject self, jlong h, jstring dir,
                                                                  jintArray status, jobjectArray message) {
    (void)self;
    char msg[SNAPSHOT_MESSAGE_SIZE] = {0};
    ns_save_report r;
    const char *d = (*env)->GetStringUTFChars(env, dir, NULL);
    if (d == NULL) return NULL;
    ns_status st = ns_map_save(map_of(h), d, &r, msg, sizeof msg);
    (*env)->ReleaseStringUTFChars(env, dir, d);
    if (st != NS_OK) {
        report_failure(env, status, message, st, msg);
        return NULL;
    }
    jlong v[8] = {(jlong)r.generation, (jlong)r.entries,        (jlong)r.bytes,
                  (jlong)r.shards,     (jlong)r.elapsed_ns,     (jlong)r.start_stall_ns,
                  (jlong)r.chunk_hold_max_ns, (jlong)r.before_images};
    jlongArray out = (*env)->NewLongArray(env, 8);
    if (out != NULL) (*env)->SetLongArrayRegion(env, out, 0, 8, v);
    return out;
}
