/* The C suite of libnumashard_redis (include/numashard_redis.h): every
 * function, the statuses a C caller can provoke, the bad inputs, calls
 * racing close, and coherence between two caches (a writer and a reader).
 * scripts/test-redis.sh starts the servers and passes their ports:
 *   test_near PORT NO_RESP3_PORT CLOSED_PORT
 * PORT is a plain redis-server holding the list "nsr:list" (for WRONGTYPE);
 * NO_RESP3_PORT a server with HELLO renamed away; nothing listens on
 * CLOSED_PORT. Plain C99 plus pthreads; run under ASan+UBSan. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "numashard_redis.h"

static int passed, failed;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      passed++;                                                                \
    } else {                                                                   \
      failed++;                                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

#define EXPECT(call, want)                                                         \
  do {                                                                             \
    nsr_status got_ = (call);                                                      \
    if (got_ == (nsr_status)(want)) {                                              \
      passed++;                                                                    \
    } else {                                                                       \
      failed++;                                                                    \
      fprintf(stderr, "%s:%d: %s\n  returned %d (%s), expected %s\n", __FILE__,    \
              __LINE__, #call, (int)got_, nsr_status_str(got_), #want);            \
    }                                                                              \
  } while (0)

#define S(str) (const uint8_t *)(str), (sizeof(str) - 1)

static char addr[64], no_resp3_addr[64], closed_addr[64];

static nsr_cache *open_cache(const char *servers) {
  nsr_config cfg;
  nsr_cache *c = NULL;
  char msg[256] = "";
  nsr_config_init(&cfg);
  cfg.servers = servers;
  cfg.shards = 2;
  cfg.memory_limit = 16u << 20;
  cfg.max_key_len = 1024;
  cfg.max_value_len = 1u << 20;
  cfg.local_max_value_len = 64u << 10;
  cfg.heartbeat_ms = 100;
  nsr_status s = nsr_cache_open(&cfg, &c, msg, sizeof msg);
  if (s != NSR_OK) fprintf(stderr, "nsr_cache_open(%s): %s: %s\n", servers, nsr_status_str(s), msg);
  CHECK(s == NSR_OK && c != NULL);
  return c;
}

static void test_status_str_and_version(void) {
  static const nsr_status all[] = {
      NSR_OK, NSR_NOT_FOUND, NSR_BUFFER_TOO_SMALL, NSR_ERR_INVALID_ARGUMENT,
      NSR_ERR_KEY_TOO_LARGE, NSR_ERR_VALUE_TOO_LARGE, NSR_ERR_CLOSED, NSR_ERR_TOPOLOGY,
      NSR_ERR_PANIC, NSR_ERR_RESOURCE, NSR_ERR_CONNECTION, NSR_ERR_SERVER,
      NSR_ERR_RESP3_UNSUPPORTED, NSR_ERR_TRACKING_UNCONFIRMED, NSR_ERR_CONFIG, NSR_ERR_LOCAL};
  size_t i, j;
  for (i = 0; i < sizeof all / sizeof all[0]; i++) {
    const char *s = nsr_status_str(all[i]);
    CHECK(s != NULL && s[0] != '\0' && strcmp(s, "unknown status") != 0);
    for (j = 0; j < i; j++) CHECK(strcmp(s, nsr_status_str(all[j])) != 0);
  }
  CHECK(strcmp(nsr_status_str(-1), "unknown status") == 0);
  CHECK(strcmp(nsr_status_str(INT32_MAX), "unknown status") == 0);
  CHECK(nsr_version() != NULL && strchr(nsr_version(), '.') != NULL);
}

static void test_open_failures(void) {
  nsr_config cfg;
  nsr_cache *c = (nsr_cache *)0x1;
  char msg[128];
  nsr_config_init(NULL); /* ignored */
  nsr_config_init(&cfg);
  /* No server, uninitialised struct, NULL pointers: nothing is written to *out. */
  EXPECT(nsr_cache_open(&cfg, &c, msg, sizeof msg), NSR_ERR_INVALID_ARGUMENT);
  CHECK(strstr(msg, "server") != NULL && c == (nsr_cache *)0x1);
  EXPECT(nsr_cache_open(NULL, &c, msg, sizeof msg), NSR_ERR_INVALID_ARGUMENT);
  cfg.servers = addr;
  EXPECT(nsr_cache_open(&cfg, NULL, NULL, 0), NSR_ERR_INVALID_ARGUMENT);
  cfg.struct_size = 3;
  EXPECT(nsr_cache_open(&cfg, &c, msg, sizeof msg), NSR_ERR_INVALID_ARGUMENT);
  CHECK(strstr(msg, "nsr_config_init") != NULL);
  nsr_config_init(&cfg);
  cfg.servers = "not an address";
  EXPECT(nsr_cache_open(&cfg, &c, msg, sizeof msg), NSR_ERR_CONFIG);
  cfg.servers = addr;
  cfg.eviction = 7;
  EXPECT(nsr_cache_open(&cfg, &c, msg, sizeof msg), NSR_ERR_INVALID_ARGUMENT);
  cfg.eviction = NSR_EVICTION_S3FIFO;
  cfg.memory_limit = 0;
  EXPECT(nsr_cache_open(&cfg, &c, msg, sizeof msg), NSR_ERR_INVALID_ARGUMENT);
  /* A server without RESP3, a port nothing listens on. */
  nsr_config_init(&cfg);
  cfg.servers = no_resp3_addr;
  EXPECT(nsr_cache_open(&cfg, &c, msg, sizeof msg), NSR_ERR_RESP3_UNSUPPORTED);
  CHECK(strstr(msg, "RESP3") != NULL);
  cfg.servers = closed_addr;
  cfg.connect_timeout_ms = 300;
  EXPECT(nsr_cache_open(&cfg, &c, msg, 8), NSR_ERR_CONNECTION);
  CHECK(strlen(msg) == 7); /* truncated to the buffer, NUL-terminated */
  CHECK(c == (nsr_cache *)0x1);
}

static void test_read_write_delete(void) {
  nsr_cache *c = open_cache(addr);
  uint8_t buf[64], big[2048];
  size_t len = 99;
  nsr_stats st;
  EXPECT(nsr_delete(c, S("nsr:k"), NULL, 0), NSR_NOT_FOUND);
  EXPECT(nsr_get(c, S("nsr:k"), buf, sizeof buf, &len, NULL, 0), NSR_NOT_FOUND);
  CHECK(len == 99);
  EXPECT(nsr_set(c, S("nsr:k"), S("hello"), 0, NULL, 0), NSR_OK);
  EXPECT(nsr_get(c, S("nsr:k"), buf, sizeof buf, &len, NULL, 0), NSR_OK);
  CHECK(len == 5 && memcmp(buf, "hello", 5) == 0);
  /* Too small: size reported, buffer untouched; a size query with (NULL, 0). */
  memset(buf, 'x', sizeof buf);
  EXPECT(nsr_get(c, S("nsr:k"), buf, 3, &len, NULL, 0), NSR_BUFFER_TOO_SMALL);
  CHECK(len == 5 && buf[0] == 'x');
  EXPECT(nsr_get(c, S("nsr:k"), NULL, 0, &len, NULL, 0), NSR_BUFFER_TOO_SMALL);
  CHECK(len == 5);
  /* An empty value is a value. */
  EXPECT(nsr_set(c, S("nsr:empty"), NULL, 0, 0, NULL, 0), NSR_OK);
  EXPECT(nsr_get(c, S("nsr:empty"), NULL, 0, &len, NULL, 0), NSR_OK);
  CHECK(len == 0);
  /* TTL: the local copy expires with the server's key. */
  EXPECT(nsr_set(c, S("nsr:ttl"), S("short"), 150, NULL, 0), NSR_OK);
  EXPECT(nsr_get(c, S("nsr:ttl"), buf, sizeof buf, &len, NULL, 0), NSR_OK);
  {
    int i, gone = 0;
    for (i = 0; i < 200 && !gone; i++) {
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
      gone = nsr_get(c, S("nsr:ttl"), buf, sizeof buf, &len, NULL, 0) == NSR_NOT_FOUND;
    }
    CHECK(gone);
  }
  /* A value larger than the local map takes is served, not cached. */
  memset(big, 'b', sizeof big);
  EXPECT(nsr_set(c, S("nsr:big"), big, sizeof big, 0, NULL, 0), NSR_OK);
  EXPECT(nsr_get(c, S("nsr:big"), big, sizeof big, &len, NULL, 0), NSR_OK);
  CHECK(len == sizeof big);
  /* Hits and server reads are counted. */
  EXPECT(nsr_stats_get(c, &st), NSR_OK);
  CHECK(st.local_hits >= 3 && st.server_reads >= 1 && st.server_writes >= 4 && st.flushes >= 1);
  CHECK(st.serving && st.entries >= 1 && st.memory_limit == 16u << 20);
  EXPECT(nsr_delete(c, S("nsr:k"), NULL, 0), NSR_OK);
  EXPECT(nsr_get(c, S("nsr:k"), buf, sizeof buf, &len, NULL, 0), NSR_NOT_FOUND);
  nsr_cache_free(c);
}

static void test_get_many(void) {
  nsr_cache *c = open_cache(addr);
  /* Keys nsr:m0 .. nsr:m9, even ones present with values "v<i>". */
  uint8_t keys[128], out[64];
  size_t key_lens[10], value_lens[10], at = 0, i, off;
  nsr_status st[10];
  for (i = 0; i < 10; i++) {
    int n = snprintf((char *)keys + at, sizeof keys - at, "nsr:m%zu", i);
    key_lens[i] = (size_t)n;
    if (i % 2 == 0) {
      char v[8];
      int vn = snprintf(v, sizeof v, "v%zu", i);
      EXPECT(nsr_set(c, keys + at, key_lens[i], (const uint8_t *)v, (size_t)vn, 0, NULL, 0), NSR_OK);
    } else {
      nsr_delete(c, keys + at, key_lens[i], NULL, 0);
    }
    at += (size_t)n;
  }
  EXPECT(nsr_get_many(c, 10, keys, key_lens, out, sizeof out, value_lens, st, NULL, 0), NSR_OK);
  for (i = 0, off = 0; i < 10; i++) {
    if (i % 2 == 0) {
      char v[8];
      snprintf(v, sizeof v, "v%zu", i);
      CHECK(st[i] == NSR_OK && value_lens[i] == 2 && memcmp(out + off, v, 2) == 0);
      off += value_lens[i];
    } else {
      CHECK(st[i] == NSR_NOT_FOUND);
    }
  }
  /* Room for two values only: the rest are too small, with their sizes. */
  EXPECT(nsr_get_many(c, 10, keys, key_lens, out, 4, value_lens, st, NULL, 0), NSR_BUFFER_TOO_SMALL);
  CHECK(st[0] == NSR_OK && st[2] == NSR_OK && st[4] == NSR_BUFFER_TOO_SMALL && value_lens[4] == 2);
  CHECK(st[1] == NSR_NOT_FOUND && memcmp(out, "v0v2", 4) == 0);
  /* Bad input: every status gets the call's error; nothing is sent. */
  key_lens[3] = 0;
  EXPECT(nsr_get_many(c, 10, keys, key_lens, out, sizeof out, value_lens, st, NULL, 0), NSR_ERR_KEY_TOO_LARGE);
  CHECK(st[0] == NSR_ERR_KEY_TOO_LARGE && st[9] == NSR_ERR_KEY_TOO_LARGE);
  key_lens[3] = 6;
  EXPECT(nsr_get_many(c, 10, NULL, key_lens, out, sizeof out, value_lens, st, NULL, 0), NSR_ERR_INVALID_ARGUMENT);
  EXPECT(nsr_get_many(c, 10, keys, NULL, out, sizeof out, value_lens, st, NULL, 0), NSR_ERR_INVALID_ARGUMENT);
  EXPECT(nsr_get_many(c, 10, keys, key_lens, out, sizeof out, NULL, st, NULL, 0), NSR_ERR_INVALID_ARGUMENT);
  EXPECT(nsr_get_many(c, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL, 0), NSR_OK);
  /* A server error (WRONGTYPE) fails the batch; the cache stays usable. */
  {
    uint8_t k2[32];
    size_t l2[2] = {6, 8};
    memcpy(k2, "nsr:m0nsr:list", 14);
    char why[128];
    EXPECT(nsr_get_many(c, 2, k2, l2, out, sizeof out, value_lens, st, why, sizeof why), NSR_ERR_SERVER);
    CHECK(st[0] == NSR_ERR_SERVER && st[1] == NSR_ERR_SERVER);
    CHECK(strstr(why, "WRONGTYPE") != NULL);
    /* A message buffer without memory is refused, statuses filled too. */
    EXPECT(nsr_get_many(c, 2, k2, l2, out, sizeof out, value_lens, st, NULL, 8), NSR_ERR_INVALID_ARGUMENT);
    CHECK(st[0] == NSR_ERR_INVALID_ARGUMENT);
  }
  nsr_cache_free(c);
}

static void test_bad_input(void) {
  nsr_cache *c = open_cache(addr);
  uint8_t buf[16], key[1025];
  size_t len;
  nsr_stats st;
  memset(key, 'k', sizeof key);
  EXPECT(nsr_get(NULL, S("k"), buf, sizeof buf, &len, NULL, 0), NSR_ERR_INVALID_ARGUMENT);
  EXPECT(nsr_get((nsr_cache *)buf, S("k"), buf, sizeof buf, &len, NULL, 0), NSR_ERR_INVALID_ARGUMENT);
  EXPECT(nsr_get(c, NULL, 3, buf, sizeof buf, &len, NULL, 0), NSR_ERR_INVALID_ARGUMENT);
  EXPECT(nsr_get(c, S("k"), NULL, 4, &len, NULL, 0), NSR_ERR_INVALID_ARGUMENT);
  EXPECT(nsr_get(c, S("k"), buf, sizeof buf, NULL, NULL, 0), NSR_ERR_INVALID_ARGUMENT);
  EXPECT(nsr_get(c, NULL, 0, buf, sizeof buf, &len, NULL, 0), NSR_ERR_KEY_TOO_LARGE);
  EXPECT(nsr_get(c, key, sizeof key, buf, sizeof buf, &len, NULL, 0), NSR_ERR_KEY_TOO_LARGE);
  /* An absurd length is refused before a byte is read. */
  EXPECT(nsr_get(c, key, SIZE_MAX, buf, sizeof buf, &len, NULL, 0), NSR_ERR_KEY_TOO_LARGE);
  EXPECT(nsr_set(c, key, 1024, S("ok"), 0, NULL, 0), NSR_OK);
  EXPECT(nsr_set(c, key, sizeof key, S("v"), 0, NULL, 0), NSR_ERR_KEY_TOO_LARGE);
  EXPECT(nsr_set(c, S("nsr:v"), NULL, 1, 0, NULL, 0), NSR_ERR_INVALID_ARGUMENT);
  EXPECT(nsr_set(c, S("nsr:v"), buf, (1u << 20) + 1, 0, NULL, 0), NSR_ERR_VALUE_TOO_LARGE);
  EXPECT(nsr_get(c, S("nsr:v"), buf, sizeof buf, &len, NULL, 0), NSR_NOT_FOUND);
  EXPECT(nsr_delete(c, NULL, 2, NULL, 0), NSR_ERR_INVALID_ARGUMENT);
  EXPECT(nsr_stats_get(c, NULL), NSR_ERR_INVALID_ARGUMENT);
  EXPECT(nsr_stats_get(NULL, &st), NSR_ERR_INVALID_ARGUMENT);
  /* Server errors: a list read as a string; the reason is the server's text. */
  EXPECT(nsr_get(c, S("nsr:list"), buf, sizeof buf, &len, NULL, 0), NSR_ERR_SERVER);
  {
    char why[128], tiny[8];
    memset(why, 'x', sizeof why);
    EXPECT(nsr_get(c, S("nsr:list"), buf, sizeof buf, &len, why, sizeof why), NSR_ERR_SERVER);
    CHECK(strstr(why, "WRONGTYPE") != NULL && strlen(why) < sizeof why);
    EXPECT(nsr_set(c, S("nsr:why"), S("v"), 0, why, sizeof why), NSR_OK);
    CHECK(why[0] == '\0');
    memset(why, 'x', sizeof why);
    EXPECT(nsr_get(c, S("nsr:why"), buf, sizeof buf, &len, why, sizeof why), NSR_OK);
    CHECK(why[0] == '\0');
    /* Truncated to fit, NUL-terminated; a bad argument gets the status's text. */
    EXPECT(nsr_get(c, key, sizeof key, buf, sizeof buf, &len, tiny, sizeof tiny), NSR_ERR_KEY_TOO_LARGE);
    CHECK(strlen(tiny) == sizeof tiny - 1 && strncmp(tiny, "key of ", 7) == 0);
    EXPECT(nsr_delete(c, key, sizeof key, why, sizeof why), NSR_ERR_KEY_TOO_LARGE);
    CHECK(strstr(why, "1025 bytes") != NULL);
    EXPECT(nsr_delete(c, NULL, 2, why, sizeof why), NSR_ERR_INVALID_ARGUMENT);
    CHECK(strcmp(why, nsr_status_str(NSR_ERR_INVALID_ARGUMENT)) == 0);
    EXPECT(nsr_get(c, S("k"), buf, sizeof buf, &len, NULL, 1), NSR_ERR_INVALID_ARGUMENT);
    EXPECT(nsr_sync(c, why, sizeof why), NSR_OK);
  }
  EXPECT(nsr_set(c, S("nsr:after"), S("fine"), 0, NULL, 0), NSR_OK);
  /* Close: later calls are closed; a second close says so; free, then dangling. */
  EXPECT(nsr_cache_close(c), NSR_OK);
  EXPECT(nsr_cache_close(c), NSR_ERR_CLOSED);
  EXPECT(nsr_get(c, S("nsr:after"), buf, sizeof buf, &len, NULL, 0), NSR_ERR_CLOSED);
  EXPECT(nsr_set(c, S("nsr:after"), S("x"), 0, NULL, 0), NSR_ERR_CLOSED);
  EXPECT(nsr_sync(c, NULL, 0), NSR_ERR_CLOSED);
  nsr_cache_free(c);
  EXPECT(nsr_get(c, S("nsr:after"), buf, sizeof buf, &len, NULL, 0), NSR_ERR_CLOSED);
  EXPECT(nsr_delete(c, S("nsr:after"), NULL, 0), NSR_ERR_CLOSED);
  EXPECT(nsr_stats_get(c, &st), NSR_ERR_CLOSED);
  EXPECT(nsr_cache_close(c), NSR_ERR_CLOSED);
  nsr_cache_free(c); /* no-op */
  nsr_cache_free(NULL);
}

/* A writer cache and a reader cache: after the writer's set returned and the
 * reader's sync, the reader never returns an older value. */
static void test_coherence(void) {
  nsr_cache *w = open_cache(addr), *r = open_cache(addr);
  uint8_t buf[32];
  size_t len;
  int round, stale = 0;
  nsr_stats st;
  for (round = 0; round < 500; round++) {
    char v[32];
    int n = snprintf(v, sizeof v, "round-%d", round);
    EXPECT(nsr_get(r, S("nsr:shared"), buf, sizeof buf, &len, NULL, 0), round == 0 ? NSR_NOT_FOUND : NSR_OK);
    if (nsr_set(w, S("nsr:shared"), (const uint8_t *)v, (size_t)n, 0, NULL, 0) != NSR_OK) stale++;
    if (nsr_sync(r, NULL, 0) != NSR_OK) stale++;
    if (nsr_get(r, S("nsr:shared"), buf, sizeof buf, &len, NULL, 0) != NSR_OK || len != (size_t)n ||
        memcmp(buf, v, (size_t)n) != 0)
      stale++;
  }
  CHECK(stale == 0);
  EXPECT(nsr_stats_get(r, &st), NSR_OK);
  CHECK(st.invalidations >= 499 && st.local_hits >= 400);
  EXPECT(nsr_delete(w, S("nsr:shared"), NULL, 0), NSR_OK);
  EXPECT(nsr_sync(r, NULL, 0), NSR_OK);
  EXPECT(nsr_get(r, S("nsr:shared"), buf, sizeof buf, &len, NULL, 0), NSR_NOT_FOUND);
  nsr_cache_free(w);
  nsr_cache_free(r);
}

struct racer {
  nsr_cache *c;
  int bad;
  long calls;
};

static void *race(void *arg) {
  struct racer *r = arg;
  uint8_t buf[32];
  size_t len;
  for (;;) {
    nsr_status s = nsr_get(r->c, S("nsr:race"), buf, sizeof buf, &len, NULL, 0);
    nsr_status t = nsr_set(r->c, S("nsr:race2"), S("x"), 0, NULL, 0);
    r->calls++;
    if ((s != NSR_OK && s != NSR_ERR_CLOSED) || (t != NSR_OK && t != NSR_ERR_CLOSED)) r->bad++;
    if (s == NSR_ERR_CLOSED && t == NSR_ERR_CLOSED) return NULL;
  }
}

/* Threads calling while two threads close: exactly one close wins; racing
 * calls finish or say closed. */
static void *closer(void *arg) { return (void *)(intptr_t)nsr_cache_close(arg); }

static void test_close_race(void) {
  int round;
  for (round = 0; round < 3; round++) {
    nsr_cache *c = open_cache(addr);
    struct racer rs[3];
    pthread_t t[3], k[2];
    void *ka, *kb;
    int i;
    EXPECT(nsr_set(c, S("nsr:race"), S("v"), 0, NULL, 0), NSR_OK);
    for (i = 0; i < 3; i++) {
      rs[i].c = c, rs[i].bad = 0, rs[i].calls = 0;
      pthread_create(&t[i], NULL, race, &rs[i]);
    }
    {
      struct timespec ts = {0, 20 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    pthread_create(&k[0], NULL, closer, c);
    pthread_create(&k[1], NULL, closer, c);
    pthread_join(k[0], &ka);
    pthread_join(k[1], &kb);
    CHECK(((intptr_t)ka == NSR_OK) != ((intptr_t)kb == NSR_OK));
    CHECK((intptr_t)ka == NSR_ERR_CLOSED || (intptr_t)kb == NSR_ERR_CLOSED);
    for (i = 0; i < 3; i++) {
      pthread_join(t[i], NULL);
      CHECK(rs[i].bad == 0 && rs[i].calls > 0);
    }
    nsr_cache_free(c);
  }
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s PORT NO_RESP3_PORT CLOSED_PORT\n", argv[0]);
    return 2;
  }
  snprintf(addr, sizeof addr, "127.0.0.1:%s", argv[1]);
  snprintf(no_resp3_addr, sizeof no_resp3_addr, "redis://127.0.0.1:%s", argv[2]);
  snprintf(closed_addr, sizeof closed_addr, "127.0.0.1:%s", argv[3]);
  test_status_str_and_version();
  test_open_failures();
  test_read_write_delete();
  test_get_many();
  test_bad_input();
  test_coherence();
  test_close_race();
  printf("test_near: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
