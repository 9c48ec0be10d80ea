/* Multi-threaded stress of the C ABI, three parts, each asserting what the
 * header promises:
 *
 * 1. Iteration under churn: passes of ns_iter_* over STABLE keys with known
 *    values (read with ns_iter_next, with ns_iter_next_many into small and
 *    large buffers, or both alternated: one way per pass, in turn) while 3
 *    threads put / delete / take keys of a disjoint churn
 *    range (values of 8-byte words that are all equal, of varying lengths,
 *    so records move and a torn value shows). Every stable key is seen
 *    exactly once per pass with its exact value; churn keys at most once
 *    per pass and never torn; no other key. Then an iterator is abandoned
 *    midway: ns_put, ns_clear and ns_map_close still complete, and the
 *    abandoned iterator ends with NS_ERR_CLOSED.
 * 2. Hot reload: 4 readers ns_get keys whose values carry a generation and
 *    the key while a writer ns_replace_all's generations 1..GENS: a reader
 *    never sees a generation lower than one already seen by anyone before
 *    its call started, every key is always found, and ns_stats_get counts
 *    GENS + 1 replaces and a stall > 0.
 * 3. Counters: 8 threads ns_add / ns_batch(NS_OP_ADD) random deltas to
 *    COUNTERS keys; the final values equal the threads' sums (no lost update).
 *
 * Parts 1 and 3 run once per exec mode. Worker threads never touch the
 * check.h counters (not thread-safe): they count failures in their own
 * struct, and the main thread CHECKs the totals. A watchdog (alarm) kills a
 * hung run. Usage: test_stress [scale_percent] (default 100; sizes and
 * iteration counts are scaled, never the assertions).
 * C11: <stdatomic.h> for the stop flags and the shared generation maximum. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static int scale = 100; /* percent */

static int scaled(int n, int min) {
  long v = (long)n * scale / 100;
  return v < min ? min : (int)v;
}

static uint64_t next_rand(uint64_t *s) { /* xorshift64* */
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1DULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A new map with 4 shards in `mode` (NULL, counted as a failed check, if it
 * cannot be created: every later call on it then fails its checks). */
static ns_map *new_map(ns_exec_mode mode) {
  ns_config cfg;
  ns_map *m = NULL;
  ns_config_init(&cfg);
  cfg.shards = 4;
  cfg.exec_mode = mode;
  EXPECT(ns_map_new(&cfg, &m), NS_OK);
  return m;
}

static void put_u32be(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t get_u32be(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put_u64le(uint8_t *p, uint64_t v) {
  int i;
  for (i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64le(const uint8_t *p) {
  uint64_t v = 0;
  int i;
  for (i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* A worker's failure count; prints its first few failures. */
struct fails {
  int n;
};

static void fail(struct fails *f, const char *fmt, ...) {
  va_list ap;
  if (f->n++ >= 5) return;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* ---------------------------------------------------------------- part 1 */

/* Up to 72 KiB: past the engine's 64 KiB limit for slab records, so some
 * churn values live in regions of their own. */
enum { CHURNERS = 3, CHURN_MAX_WORDS = 9216 };

static int n_stable, n_churn, n_passes;

/* Keys: 'S' or 'C', then a 4-byte big-endian index. */
static void make_key(uint8_t key[5], char kind, uint32_t i) {
  key[0] = (uint8_t)kind;
  put_u32be(key + 1, i);
}

/* Stable value i: 1..57 bytes (several size classes), a function of i. */
static size_t stable_value(uint32_t i, uint8_t *out) {
  size_t len = 1 + (size_t)(i * 7u) % 57u, j;
  for (j = 0; j < len; j++) out[j] = (uint8_t)(i * 31u + j * 7u + (i >> 8));
  return len;
}

/* Churn value: `words` copies of one 8-byte word; its top byte is the
 * writer (1..CHURNERS), never 0. */
static size_t churn_value(uint64_t word, size_t words, uint8_t *out) {
  size_t j;
  for (j = 0; j < words; j++) put_u64le(out + 8 * j, word);
  return words * 8;
}

/* NULL if v is a whole churn value, else what is wrong with it. */
static const char *churn_torn(const uint8_t *v, size_t len) {
  uint64_t w;
  size_t j;
  if (len == 0 || len % 8 != 0 || len > 8 * CHURN_MAX_WORDS) return "bad length";
  w = get_u64le(v);
  if ((w >> 56) == 0 || (w >> 56) > CHURNERS) return "bad writer byte";
  for (j = 8; j < len; j += 8)
    if (memcmp(v, v + j, 8) != 0) return "torn: words differ";
  return NULL;
}

struct churner {
  ns_map *m;
  int id;
  atomic_int *stop;
  struct fails f;
  atomic_long ops;
};

static long churn_ops_total(struct churner *ch) {
  long n = 0;
  int i;
  for (i = 0; i < CHURNERS; i++) n += atomic_load(&ch[i].ops);
  return n;
}

/* Whether every churner has done at least one op. */
static int churners_all_started(struct churner *ch) {
  int i;
  for (i = 0; i < CHURNERS; i++)
    if (atomic_load(&ch[i].ops) == 0) return 0;
  return 1;
}

static void *churn_main(void *arg) {
  struct churner *c = arg;
  uint64_t rnd = 0x9E3779B97F4A7C15ULL * (uint64_t)(c->id + 1), seq = 0;
  uint8_t *val = malloc(8 * CHURN_MAX_WORDS), *buf = malloc(8 * CHURN_MAX_WORDS);
  uint8_t key[5];
  if (!val || !buf) abort();
  while (!atomic_load(c->stop)) {
    uint64_t r = next_rand(&rnd);
    uint32_t k = (uint32_t)((r >> 8) % (uint64_t)n_churn);
    size_t words, len, got;
    ns_status s;
    const char *why;
    make_key(key, 'C', k);
    /* Mostly small values in several size classes; sometimes a few KiB;
     * rarely a large one (> 64 KiB). */
    if ((r >> 20) % 128 == 0)
      words = 8200 + (size_t)(r >> 44) % (CHURN_MAX_WORDS - 8200);
    else if ((r >> 40) % 16 == 0)
      words = 200 + (size_t)(r >> 44) % 400;
    else
      words = 1 + (size_t)(r >> 44) % 40;
    len = churn_value(((uint64_t)(c->id + 1) << 56) | ++seq, words, val);
    switch (r % 8) {
    case 0: case 1: case 2: case 3:
      if ((s = ns_put(c->m, key, 5, val, len)) != NS_OK) fail(&c->f, "churn put: %s", ns_status_str(s));
      break;
    case 4:
      s = ns_put_if_absent(c->m, key, 5, val, len);
      if (s != NS_OK && s != NS_EXISTS) fail(&c->f, "churn put_if_absent: %s", ns_status_str(s));
      break;
    case 5: case 6:
      s = ns_delete(c->m, key, 5);
      if (s != NS_OK && s != NS_NOT_FOUND) fail(&c->f, "churn delete: %s", ns_status_str(s));
      break;
    default:
      s = ns_take(c->m, key, 5, buf, 8 * CHURN_MAX_WORDS, &got);
      if (s == NS_OK) {
        if ((why = churn_torn(buf, got)) != NULL) fail(&c->f, "churn take: %s (len %zu)", why, got);
      } else if (s != NS_NOT_FOUND) {
        fail(&c->f, "churn take: %s", ns_status_str(s));
      }
      break;
    }
    atomic_fetch_add(&c->ops, 1);
  }
  free(val);
  free(buf);
  return NULL;
}

/* How a pass reads: one entry per call (ns_iter_next), whole buffers
 * (ns_iter_next_many) of 1 KiB or 64 KiB (churn values up to 72 KiB do not
 * always fit either), or the two calls alternated on one iterator. */
enum read_style { READ_ONE, READ_MANY_1K, READ_MANY_64K, READ_MIXED, READ_STYLES };

static const char *style_name[READ_STYLES] = {"next", "next_many 1 KiB", "next_many 64 KiB", "mixed"};

/* What one pass has seen so far. */
struct pass {
  uint8_t *stable_seen, *churn_seen;
  long entries;
  int bad;
};

static void pass_fail(struct pass *p, const char *fmt, ...) {
  va_list ap;
  if (p->bad++ >= 5) return;
  va_start(ap, fmt);
  fputs("iter: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* Checks one entry of a pass: a known key with its exact value (stable) or
 * an untorn value (churn), and counts it. */
static void check_entry(struct pass *p, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  uint8_t expect[64];
  size_t elen;
  uint32_t idx;
  const char *why;
  /* On few cores, let the churners run in the middle of a pass. */
  if (++p->entries % 512 == 0) sched_yield();
  if (kl != 5 || (k[0] != 'S' && k[0] != 'C')) {
    pass_fail(p, "unknown key of length %zu", kl);
    return;
  }
  idx = get_u32be(k + 1);
  if (k[0] == 'S') {
    if (idx >= (uint32_t)n_stable) {
      pass_fail(p, "stable index %u out of range", (unsigned)idx);
      return;
    }
    if (p->stable_seen[idx] < 255) p->stable_seen[idx]++;
    elen = stable_value(idx, expect);
    if (vl != elen || memcmp(v, expect, elen) != 0)
      pass_fail(p, "stable key %u has a wrong value (len %zu, want %zu)", (unsigned)idx, vl, elen);
  } else {
    if (idx >= (uint32_t)n_churn) {
      pass_fail(p, "churn index %u out of range", (unsigned)idx);
      return;
    }
    if (p->churn_seen[idx] < 255) p->churn_seen[idx]++;
    if ((why = churn_torn(v, vl)) != NULL) pass_fail(p, "churn key %u: %s (len %zu)", (unsigned)idx, why, vl);
  }
}

static uint32_t get_u32le(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Decodes and checks the n entries ns_iter_next_many put in buf[0..used):
 * they must tile it exactly. Returns the size of the first entry. */
static size_t check_many(struct pass *p, const uint8_t *buf, size_t n, size_t used) {
  size_t off = 0, i, first = 0;
  if (n == 0) pass_fail(p, "next_many: NS_OK with no entry");
  for (i = 0; i < n; i++) {
    size_t kl, vl;
    if (used - off < NS_ITER_ENTRY_HEADER_SIZE) {
      pass_fail(p, "next_many: entry %zu of %zu starts past the used bytes", i, n);
      return first;
    }
    kl = get_u32le(buf + off);
    vl = get_u32le(buf + off + 4);
    if (kl + vl > used - off - NS_ITER_ENTRY_HEADER_SIZE) {
      pass_fail(p, "next_many: entry %zu of %zu ends past the used bytes", i, n);
      return first;
    }
    check_entry(p, buf + off + NS_ITER_ENTRY_HEADER_SIZE, kl, buf + off + NS_ITER_ENTRY_HEADER_SIZE + kl, vl);
    if (i == 0) first = NS_ITER_ENTRY_HEADER_SIZE + kl + vl;
    off += NS_ITER_ENTRY_HEADER_SIZE + kl + vl;
  }
  if (off != used) pass_fail(p, "next_many: entries take %zu bytes, used says %zu", off, used);
  return first;
}

/* One full iteration read in `style`; returns the number of failures. */
static int iterate_pass(ns_map *m, enum read_style style, uint8_t *stable_seen, uint8_t *churn_seen, long *entries) {
  struct pass p = {stable_seen, churn_seen, 0, 0};
  size_t cap = style == READ_MANY_64K ? 65536 : 1024, n, used, kl, vl;
  uint8_t *buf = malloc(cap);
  const uint8_t *k, *v;
  ns_iter *it;
  ns_status s;
  long step;
  int i;
  if (!buf) abort();
  memset(stable_seen, 0, (size_t)n_stable);
  memset(churn_seen, 0, (size_t)n_churn);
  *entries = 0;
  if ((s = ns_iter_new(m, &it)) != NS_OK) {
    fprintf(stderr, "ns_iter_new: %s\n", ns_status_str(s));
    free(buf);
    return 1;
  }
  for (step = 0;; step++) {
    if (style == READ_ONE || (style == READ_MIXED && step % 2 == 0)) {
      if ((s = ns_iter_next(it, &k, &kl, &v, &vl)) != NS_OK) break;
      check_entry(&p, k, kl, v, vl);
      continue;
    }
    s = ns_iter_next_many(it, buf, cap, &n, &used);
    if (s == NS_BUFFER_TOO_SMALL) {
      /* The entry that did not fit is held, unchanged whatever the churners
       * do: a buffer of exactly the size reported returns it first. */
      size_t need = used;
      uint8_t *big = malloc(need);
      if (!big) abort();
      if (need <= cap) pass_fail(&p, "next_many: too small for %zu bytes with %zu", need, cap);
      s = ns_iter_next_many(it, big, need, &n, &used);
      if (s != NS_OK) {
        pass_fail(&p, "next_many: %s after too small", ns_status_str(s));
      } else if (check_many(&p, big, n, used) != need) {
        pass_fail(&p, "next_many: the held entry is not the %zu bytes reported", need);
      }
      free(big);
      if (s != NS_OK) break;
      continue;
    }
    if (s != NS_OK) break;
    if (used > cap) pass_fail(&p, "next_many: used %zu > cap %zu", used, cap);
    check_many(&p, buf, n, used);
  }
  if (s != NS_NOT_FOUND) pass_fail(&p, "ended with %s", ns_status_str(s));
  ns_iter_free(it);
  free(buf);
  for (i = 0; i < n_stable; i++)
    if (stable_seen[i] != 1 && p.bad++ < 10) fprintf(stderr, "iter: stable key %d seen %d times\n", i, stable_seen[i]);
  for (i = 0; i < n_churn; i++)
    if (churn_seen[i] > 1 && p.bad++ < 10) fprintf(stderr, "iter: churn key %d seen %d times\n", i, churn_seen[i]);
  if (p.bad) fprintf(stderr, "iter: the failures above were in a pass reading with %s\n", style_name[style]);
  *entries = p.entries;
  return p.bad;
}

static void part_iter_churn(ns_exec_mode mode) {
  ns_map *m;
  pthread_t th[CHURNERS];
  struct churner ch[CHURNERS];
  atomic_int stop;
  uint8_t key[5], val[64], *stable_seen, *churn_seen;
  int i, pass, bad_passes = 0, churn_fails = 0;
  long entries, churn_ops = 0, min_entries = -1, max_entries = 0, churn_start, churn_during;
  ns_iter *abandoned;
  const uint8_t *k, *v;
  size_t kl, vl, n, used;
  ns_status s = NS_OK;
  uint64_t len;
  double t0 = now_s();

  m = new_map(mode);
  for (i = 0; i < n_stable; i++) {
    make_key(key, 'S', (uint32_t)i);
    if (ns_put(m, key, 5, val, stable_value((uint32_t)i, val)) != NS_OK) break;
  }
  CHECK(i == n_stable);
  stable_seen = malloc((size_t)n_stable);
  churn_seen = malloc((size_t)n_churn);
  if (!stable_seen || !churn_seen) abort();

  atomic_init(&stop, 0);
  for (i = 0; i < CHURNERS; i++) {
    memset(&ch[i], 0, sizeof ch[i]);
    atomic_init(&ch[i].ops, 0);
    ch[i].m = m;
    ch[i].id = i;
    ch[i].stop = &stop;
    pthread_create(&th[i], NULL, churn_main, &ch[i]);
  }
  /* Passes start once the churners are going (the churn range still fills
   * up, so shards grow during the first passes) and go on (at least
   * n_passes of them) until the churners did n_churn ops meanwhile. */
  /* Every churner must be running before the passes (under valgrind's
   * one-thread-at-a-time scheduler one may otherwise not have run yet). */
  while ((churn_ops_total(ch) < n_churn / 8 || !churners_all_started(ch)) && now_s() - t0 < 20) sched_yield();
  CHECK(churners_all_started(ch));
  churn_start = churn_ops_total(ch);
  for (pass = 0; pass < n_passes || (churn_ops_total(ch) - churn_start < n_churn && now_s() - t0 < 20); pass++) {
    /* n_passes >= READ_STYLES: every way of reading runs under churn. */
    int bad = iterate_pass(m, (enum read_style)(pass % READ_STYLES), stable_seen, churn_seen, &entries);
    if (bad) bad_passes++;
    if (min_entries < 0 || entries < min_entries) min_entries = entries;
    if (entries > max_entries) max_entries = entries;
  }
  CHECK(bad_passes == 0);
  churn_during = churn_ops_total(ch) - churn_start;
  CHECK(churn_during > 0);

  /* An iterator abandoned midway (churn still running) holds nothing. */
  EXPECT(ns_iter_new(m, &abandoned), NS_OK);
  for (i = 0; i < n_stable / 2 && ns_iter_next(abandoned, &k, &kl, &v, &vl) == NS_OK; i++) {
  }
  CHECK(i == n_stable / 2);
  EXPECT(ns_put(m, S("after-abandon"), S("v")), NS_OK);
  EXPECT(ns_clear(m), NS_OK);
  atomic_store(&stop, 1);
  for (i = 0; i < CHURNERS; i++) {
    pthread_join(th[i], NULL);
    churn_fails += ch[i].f.n;
    churn_ops += atomic_load(&ch[i].ops);
  }
  CHECK(churn_fails == 0);
  EXPECT(ns_clear(m), NS_OK);
  EXPECT(ns_len(m, &len), NS_OK);
  CHECK(len == 0);
  EXPECT(ns_put(m, S("after-clear"), S("v")), NS_OK);
  EXPECT(ns_map_close(m), NS_OK);
  /* The abandoned iterator may finish the chunk it had fetched, then it
   * answers NS_ERR_CLOSED (and keeps answering it). */
  for (i = 0; i < 1000000 && (s = ns_iter_next(abandoned, &k, &kl, &v, &vl)) == NS_OK; i++) {
  }
  EXPECT(s, NS_ERR_CLOSED);
  EXPECT(ns_iter_next(abandoned, &k, &kl, &v, &vl), NS_ERR_CLOSED);
  ns_map_free(m);
  EXPECT(ns_iter_next(abandoned, &k, &kl, &v, &vl), NS_ERR_CLOSED);
  EXPECT(ns_iter_next_many(abandoned, val, sizeof val, &n, &used), NS_ERR_CLOSED);
  ns_iter_free(abandoned);
  free(stable_seen);
  free(churn_seen);
  printf("part 1 (%s): %d passes over %d stable keys, %ld..%ld entries per pass, %ld churn ops (%ld during "
         "the passes), %.1f s\n",
         mode == NS_EXEC_AUTO ? "auto" : "delegate", pass, n_stable, min_entries, max_entries, churn_ops,
         churn_during, now_s() - t0);
}

/* ---------------------------------------------------------------- part 2 */

enum { READERS = 4 };

static int n_gen_keys, n_gens;

/* Key 'R' + 4-byte index; value: generation (8 bytes LE), index (8 bytes
 * LE), then gen % 3 more words equal to the generation (so lengths change
 * between generations). */
static size_t gen_value(uint64_t gen, uint32_t idx, uint8_t *out) {
  size_t words = 2 + (size_t)(gen % 3), j;
  put_u64le(out, gen);
  put_u64le(out + 8, idx);
  for (j = 2; j < words; j++) put_u64le(out + 8 * j, gen);
  return 8 * words;
}

struct reader {
  ns_map *m;
  int id;
  atomic_int *done;
  atomic_uint_fast64_t *max_seen; /* highest generation any reader has seen */
  struct fails f;
  long gets;
  uint64_t lo, hi; /* first and last generation this reader saw */
};

static void raise_max(atomic_uint_fast64_t *max, uint64_t g) {
  uint_fast64_t cur = atomic_load(max);
  while (cur < g && !atomic_compare_exchange_weak(max, &cur, g)) {
  }
}

/* Checks one read of key idx; updates the reader's maximum. */
static void check_gen_read(struct reader *r, ns_status s, uint32_t idx, const uint8_t *buf, size_t len,
                           uint64_t floor, uint64_t *mine) {
  uint64_t gen;
  size_t j;
  if (s != NS_OK) {
    fail(&r->f, "reader %d: key %u: %s", r->id, (unsigned)idx, ns_status_str(s));
    return;
  }
  if (len < 16 || len > 32 || len % 8 != 0) {
    fail(&r->f, "reader %d: key %u: length %zu", r->id, (unsigned)idx, len);
    return;
  }
  gen = get_u64le(buf);
  if (len != 16 + 8 * (gen % 3) || get_u64le(buf + 8) != idx) {
    fail(&r->f, "reader %d: key %u: value of key %llu gen %llu len %zu", r->id, (unsigned)idx,
         (unsigned long long)get_u64le(buf + 8), (unsigned long long)gen, len);
    return;
  }
  for (j = 16; j < len; j += 8)
    if (get_u64le(buf + j) != gen) fail(&r->f, "reader %d: key %u: torn value", r->id, (unsigned)idx);
  if (gen > (uint64_t)n_gens) fail(&r->f, "reader %d: generation %llu never written", r->id, (unsigned long long)gen);
  if (gen < floor || gen < *mine)
    fail(&r->f, "reader %d: key %u: generation %llu after %llu was seen (own max %llu)", r->id, (unsigned)idx,
         (unsigned long long)gen, (unsigned long long)floor, (unsigned long long)*mine);
  if (gen > *mine) *mine = gen;
  raise_max(r->max_seen, gen);
  if (r->gets == 0) r->lo = gen;
  r->hi = gen;
  r->gets++;
}

static void *reader_main(void *arg) {
  struct reader *r = arg;
  uint64_t rnd = 0xD1B54A32D192ED03ULL * (uint64_t)(r->id + 1), mine = 0;
  uint8_t key[5], buf[64];
  size_t len;
  int last = 0;
  /* One more round after `done`, so the last generation is read too. */
  while (!last) {
    int i;
    last = atomic_load(r->done);
    for (i = 0; i < 64; i++) {
      uint32_t idx = (uint32_t)(next_rand(&rnd) % (uint64_t)n_gen_keys);
      uint64_t floor = atomic_load(r->max_seen);
      ns_status s;
      make_key(key, 'R', idx);
      len = 0;
      s = ns_get(r->m, key, 5, buf, sizeof buf, &len);
      check_gen_read(r, s, idx, buf, len, floor, &mine);
    }
    if (r->id == READERS - 1) {
      /* The last reader also reads through a batch: each op is a read that
       * starts after the call does. */
      ns_op ops[8];
      uint8_t keys[8][5], bufs[8][64];
      uint64_t floor = atomic_load(r->max_seen), batch_max;
      ns_status s;
      memset(ops, 0, sizeof ops);
      for (i = 0; i < 8; i++) {
        make_key(keys[i], 'R', (uint32_t)(next_rand(&rnd) % (uint64_t)n_gen_keys));
        ops[i].kind = NS_OP_GET;
        ops[i].key = keys[i];
        ops[i].key_len = 5;
        ops[i].out = bufs[i];
        ops[i].out_cap = sizeof bufs[i];
      }
      s = ns_batch(r->m, ops, 8);
      if (s != NS_OK) fail(&r->f, "reader batch: %s", ns_status_str(s));
      /* The ops of one batch run concurrently (shard by shard, in no set
       * order across shards): each must be at least what was seen before
       * the call, but not at least what an earlier op of the batch saw. */
      if (mine > floor) floor = mine;
      batch_max = mine;
      for (i = 0; i < 8; i++) {
        uint64_t g = floor;
        check_gen_read(r, ops[i].status, get_u32be(keys[i] + 1), bufs[i], ops[i].out_len, floor, &g);
        if (g > batch_max) batch_max = g;
      }
      mine = batch_max;
    }
    sched_yield(); /* let the writer run on few cores (and under valgrind) */
  }
  return NULL;
}

static void part_replace_all(void) {
  ns_map *m;
  pthread_t th[READERS];
  struct reader rd[READERS];
  atomic_int done;
  atomic_uint_fast64_t max_seen;
  ns_entry *entries = malloc(sizeof(ns_entry) * (size_t)n_gen_keys);
  uint8_t *keys = malloc(5 * (size_t)n_gen_keys), *vals = malloc(32 * (size_t)n_gen_keys), buf[64];
  int i, fails = 0;
  long gets = 0;
  uint64_t g;
  size_t len;
  ns_stats st;
  ns_status s;
  double t0 = now_s();
  if (!entries || !keys || !vals) abort();

  m = new_map(NS_EXEC_AUTO);
  for (i = 0; i < n_gen_keys; i++) {
    make_key(keys + 5 * i, 'R', (uint32_t)i);
    entries[i].key = keys + 5 * i;
    entries[i].key_len = 5;
    entries[i].value = vals + 32 * i;
  }
  /* Generation 0, loaded by replace_all too: GENS + 1 replaces in all. */
  for (i = 0; i < n_gen_keys; i++) entries[i].value_len = gen_value(0, (uint32_t)i, vals + 32 * i);
  EXPECT(ns_replace_all(m, entries, (size_t)n_gen_keys), NS_OK);

  atomic_init(&done, 0);
  atomic_init(&max_seen, 0);
  for (i = 0; i < READERS; i++) {
    memset(&rd[i], 0, sizeof rd[i]);
    rd[i].m = m;
    rd[i].id = i;
    rd[i].done = &done;
    rd[i].max_seen = &max_seen;
    pthread_create(&th[i], NULL, reader_main, &rd[i]);
  }
  for (g = 1; g <= (uint64_t)n_gens; g++) {
    for (i = 0; i < n_gen_keys; i++) entries[i].value_len = gen_value(g, (uint32_t)i, vals + 32 * i);
    s = ns_replace_all(m, entries, (size_t)n_gen_keys);
    if (s != NS_OK) {
      EXPECT(s, NS_OK);
      break;
    }
  }
  atomic_store(&done, 1);
  for (i = 0; i < READERS; i++) {
    pthread_join(th[i], NULL);
    fails += rd[i].f.n;
    gets += rd[i].gets;
    CHECK(rd[i].gets > 0);
    CHECK(rd[i].hi == (uint64_t)n_gens); /* its last round began after the last replace */
  }
  CHECK(fails == 0);
  /* Afterwards every key holds the last generation. */
  for (i = 0; i < n_gen_keys; i++) {
    s = ns_get(m, keys + 5 * i, 5, buf, sizeof buf, &len);
    if (s != NS_OK || len != gen_value((uint64_t)n_gens, (uint32_t)i, vals) || memcmp(buf, vals, len) != 0) {
      CHECK(!"key holds the last generation");
      break;
    }
  }
  EXPECT(ns_len(m, &g), NS_OK);
  CHECK(g == (uint64_t)n_gen_keys);
  EXPECT(ns_stats_get(m, &st), NS_OK);
  CHECK(st.replace_count == (uint64_t)n_gens + 1);
  CHECK(st.replace_stall_max_ns > 0);
  CHECK(st.entries == (uint64_t)n_gen_keys);
  printf("part 2: %d generations of %d keys, %ld checked reads (readers saw gens %llu..%llu, %llu..%llu, "
         "%llu..%llu, %llu..%llu), replace_count %llu, stall max %llu ns, %.1f s\n",
         n_gens, n_gen_keys, gets, (unsigned long long)rd[0].lo, (unsigned long long)rd[0].hi,
         (unsigned long long)rd[1].lo, (unsigned long long)rd[1].hi, (unsigned long long)rd[2].lo,
         (unsigned long long)rd[2].hi, (unsigned long long)rd[3].lo, (unsigned long long)rd[3].hi,
         (unsigned long long)st.replace_count, (unsigned long long)st.replace_stall_max_ns, now_s() - t0);
  ns_map_free(m);
  free(entries);
  free(keys);
  free(vals);
}

/* ---------------------------------------------------------------- part 3 */

enum { ADDERS = 8, BATCH_MAX = 32 };

static int n_counters, n_add_rounds;

struct adder {
  ns_map *m;
  int id;
  uint64_t *sums; /* per counter, wrapping like the library's counters */
  struct fails f;
  long adds;
};

static void *adder_main(void *arg) {
  struct adder *a = arg;
  uint64_t rnd = 0xA0761D6478BD642FULL * (uint64_t)(a->id + 1);
  uint8_t keys[BATCH_MAX][5];
  ns_op ops[BATCH_MAX];
  int round, i;
  for (round = 0; round < n_add_rounds; round++) {
    uint64_t r = next_rand(&rnd);
    if (r % 2 == 0) {
      uint32_t c = (uint32_t)((r >> 8) % (uint64_t)n_counters);
      /* Full-range deltas every 16th time (wrapping), else small ones. */
      int64_t delta = (r >> 4) % 16 == 0 ? (int64_t)next_rand(&rnd) : (int64_t)(next_rand(&rnd) % 2001) - 1000;
      int64_t nv;
      ns_status s;
      make_key(keys[0], 'A', c);
      if ((s = ns_add(a->m, keys[0], 5, delta, &nv)) != NS_OK) {
        fail(&a->f, "adder %d: ns_add: %s", a->id, ns_status_str(s));
        continue;
      }
      a->sums[c] += (uint64_t)delta;
      a->adds++;
    } else {
      int n = 1 + (int)((r >> 8) % BATCH_MAX);
      ns_status s;
      memset(ops, 0, sizeof ops);
      for (i = 0; i < n; i++) {
        uint64_t q = next_rand(&rnd);
        make_key(keys[i], 'A', (uint32_t)(q % (uint64_t)n_counters)); /* duplicates allowed */
        ops[i].kind = NS_OP_ADD;
        ops[i].key = keys[i];
        ops[i].key_len = 5;
        ops[i].delta = (int64_t)((q >> 32) % 2001) - 1000;
        ops[i].status = -1;
      }
      if ((s = ns_batch(a->m, ops, (size_t)n)) != NS_OK) fail(&a->f, "adder %d: ns_batch: %s", a->id, ns_status_str(s));
      for (i = 0; i < n; i++) {
        if (ops[i].status != NS_OK) {
          fail(&a->f, "adder %d: batch op %d: %s", a->id, i, ns_status_str(ops[i].status));
          continue;
        }
        a->sums[get_u32be(keys[i] + 1)] += (uint64_t)ops[i].delta;
        a->adds++;
      }
    }
  }
  return NULL;
}

static void part_counters(ns_exec_mode mode) {
  ns_map *m;
  pthread_t th[ADDERS];
  struct adder ad[ADDERS];
  int i, t, fails = 0, wrong = 0, touched = 0;
  long adds = 0;
  uint64_t len;
  double t0 = now_s();

  m = new_map(mode);
  for (i = 0; i < ADDERS; i++) {
    memset(&ad[i], 0, sizeof ad[i]);
    ad[i].m = m;
    ad[i].id = i;
    ad[i].sums = calloc((size_t)n_counters, sizeof(uint64_t));
    if (!ad[i].sums) abort();
    pthread_create(&th[i], NULL, adder_main, &ad[i]);
  }
  for (i = 0; i < ADDERS; i++) {
    pthread_join(th[i], NULL);
    fails += ad[i].f.n;
    adds += ad[i].adds;
  }
  CHECK(fails == 0);
  for (i = 0; i < n_counters; i++) {
    uint8_t key[5], buf[16];
    uint64_t want = 0;
    int any = 0;
    size_t vl;
    ns_status s;
    for (t = 0; t < ADDERS; t++) {
      want += ad[t].sums[i];
      any |= ad[t].sums[i] != 0;
    }
    make_key(key, 'A', (uint32_t)i);
    s = ns_get(m, key, 5, buf, sizeof buf, &vl);
    if (s == NS_OK) {
      touched++;
      if (vl != 8 || get_u64le(buf) != want) {
        if (wrong++ < 5)
          fprintf(stderr, "counter %d: %llu, the threads added %llu\n", i, (unsigned long long)get_u64le(buf),
                  (unsigned long long)want);
      }
    } else if (s != NS_NOT_FOUND || any) {
      if (wrong++ < 5) fprintf(stderr, "counter %d: %s, the threads added %llu\n", i, ns_status_str(s), (unsigned long long)want);
    }
  }
  CHECK(wrong == 0);
  EXPECT(ns_len(m, &len), NS_OK);
  CHECK(len == (uint64_t)touched);
  printf("part 3 (%s): %d threads, %ld adds to %d counters, %d wrong, %.1f s\n",
         mode == NS_EXEC_AUTO ? "auto" : "delegate", ADDERS, adds, n_counters, wrong, now_s() - t0);
  ns_map_free(m);
  for (i = 0; i < ADDERS; i++) free(ad[i].sums);
}

int main(int argc, char **argv) {
  if (argc > 1) scale = atoi(argv[1]);
  if (scale <= 0) scale = 100;
  n_stable = scaled(20000, 500);
  n_churn = scaled(24000, 600);
  n_passes = 5; /* at least READ_STYLES */
  n_gen_keys = scaled(10000, 250);
  n_gens = 100;
  n_counters = scaled(1000, 50);
  n_add_rounds = scaled(20000, 500);
  /* A hang (an abandoned iterator blocking a writer, a lost wake-up) kills
   * the run instead of stalling the suite. */
  alarm(600);
  setvbuf(stdout, NULL, _IOLBF, 0);

  part_iter_churn(NS_EXEC_AUTO);
  part_iter_churn(NS_EXEC_DELEGATE);
  part_replace_all();
  part_counters(NS_EXEC_AUTO);
  part_counters(NS_EXEC_DELEGATE);
  return report("test_stress");
}
