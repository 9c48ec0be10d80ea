/* overwrite_bound.c -- what an overwrite costs in three index layouts, with
 * nothing else: no locks, no sequence, no binding, one thread.
 *
 * The question (issue 17's Store goal, bench/results/engine.md "Overwrites:
 * the layouts' floor"): how much of a store's time is the layout's misses,
 * and would storing small entries inline in the index, or a log-structured
 * store like fastcache's, change it? Every layout holds N entries of 16-byte
 * keys and 32-byte values; every op overwrites the value of a uniformly
 * random present key, whose bytes are read from a key array of N * 16 bytes
 * (as a benchmark's keys are, so every layout pays the same first touch).
 *
 *   two-miss   numashard's layout: 16-byte slots {tag, record pointer}, load
 *              <= 0.8, linear probing; records [klen][vlen][key][value] on
 *              64-byte lines at scattered places. A store hashes the key,
 *              probes the slots for its tag, compares the record's key and
 *              writes the value in place.
 *   inline     the ceiling-inline layout: 4-byte tags (18 hash bits, lengths)
 *              and 48-byte payloads (key, value) at the same index; a store
 *              asks for the home tag line and the home payload together,
 *              compares the key in the payload and writes the value there.
 *   log        fastcache's design: an index of {hash, offset} pairs, and the
 *              entry appended to a log; a store reads no old entry and
 *              compares no key (a map cannot do that: two keys of one hash
 *              would lose one; a cache can).
 *
 *   cc -O2 bench/probes/overwrite_bound.c -o overwrite_bound
 *   ./overwrite_bound N [OPS]
 *
 * Prints ns per store for each layout, and a checksum of what it stored.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *big(size_t n) {
  void *p = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  madvise(p, n, MADV_HUGEPAGE);
  memset(p, 0, n);
  return p;
}

static inline uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

static inline uint64_t hash16(const uint8_t *k) {
  uint64_t a, b;
  memcpy(&a, k, 8);
  memcpy(&b, k + 8, 8);
  return mix(a ^ mix(b + 0x9e3779b97f4a7c15ULL));
}

static inline int same16(const uint8_t *a, const uint8_t *b) {
  uint64_t a0, a1, b0, b1;
  memcpy(&a0, a, 8);
  memcpy(&a1, a + 8, 8);
  memcpy(&b0, b, 8);
  memcpy(&b1, b + 8, 8);
  return a0 == b0 && a1 == b1;
}

static size_t n_entries, nslots;
static uint8_t *keys; /* n * 16 */

/* two-miss */
typedef struct {
  uint64_t tag;
  uint8_t *rec;
} slot;
static slot *slots;
static uint8_t *recs;

/* inline */
static uint32_t *tags;
static uint8_t *payload; /* nslots * 48 */

/* log */
typedef struct {
  uint64_t h;
  uint64_t off;
} ientry;
static ientry *index_;
static size_t index_slots;
static uint8_t *logbuf;
static size_t log_size, log_at;

static void build(void) {
  size_t mask = nslots - 1;
  for (size_t i = 0; i < n_entries; i++) {
    uint8_t *k = keys + 16 * i;
    uint64_t a = mix(2 * i + 1), b = mix(2 * i + 2);
    memcpy(k, &a, 8);
    memcpy(k + 8, &b, 8);
    uint64_t h = hash16(k);
    /* two-miss: a record at a scattered place */
    size_t j = h & mask;
    while (slots[j].tag) j = (j + 1) & mask;
    uint8_t *r = recs + (mix(i) % n_entries) * 64;
    while (*(uint32_t *)r) r = recs + ((r - recs) / 64 + 1) % n_entries * 64; /* taken: the next line */
    uint32_t kl = 16, vl = 32;
    memcpy(r, &kl, 4);
    memcpy(r + 4, &vl, 4);
    memcpy(r + 8, k, 16);
    slots[j].tag = h | 1;
    slots[j].rec = r;
    /* inline */
    j = h & mask;
    uint32_t t = (uint32_t)(h >> 46) | 0x80000000u;
    while (tags[j]) j = (j + 1) & mask;
    tags[j] = t;
    memcpy(payload + 48 * j, k, 16);
    /* log */
    size_t m = index_slots - 1;
    j = h & m;
    while (index_[j].h) j = (j + 1) & m;
    index_[j].h = h | 1;
    index_[j].off = log_at;
    memcpy(logbuf + log_at, k, 16);
    log_at += 64;
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: overwrite_bound N [OPS]\n");
    return 2;
  }
  n_entries = strtoull(argv[1], 0, 10);
  size_t ops = argc > 2 ? strtoull(argv[2], 0, 10) : 20000000;
  nslots = 1;
  while (nslots * 4 < n_entries * 5) nslots <<= 1; /* load <= 0.8 */
  index_slots = nslots;
  keys = big(n_entries * 16);
  slots = big(nslots * sizeof(slot));
  recs = big(n_entries * 64);
  tags = big(nslots * 4);
  payload = big(nslots * 48);
  index_ = big(index_slots * sizeof(ientry));
  log_size = n_entries * 64 * 2;
  logbuf = big(log_size);
  log_at = 0;
  build();
  uint8_t v[32];
  uint64_t sum = 0;
  const char *names[] = {"two-miss", "inline", "log"};
  for (int layout = 0; layout < 3; layout++) {
    uint64_t s = 88172645463325252ULL;
    double t0 = now();
    for (size_t op = 0; op < ops; op++) {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      const uint8_t *k = keys + 16 * (s % n_entries);
      memset(v, (int)op, sizeof v);
      uint64_t h = hash16(k);
      size_t mask = nslots - 1, j = h & mask;
      if (layout == 0) {
        while (!(slots[j].tag == (h | 1) && same16(slots[j].rec + 8, k))) j = (j + 1) & mask;
        memcpy(slots[j].rec + 24, v, 32);
      } else if (layout == 1) {
        uint32_t t = (uint32_t)(h >> 46) | 0x80000000u;
        __builtin_prefetch(payload + 48 * j, 1);
        while (!(tags[j] == t && same16(payload + 48 * j, k))) j = (j + 1) & mask;
        memcpy(payload + 48 * j + 16, v, 32);
      } else {
        size_t m = index_slots - 1;
        j = h & m;
        while (index_[j].h != (h | 1)) j = (j + 1) & m;
        if (log_at + 64 > log_size) log_at = 0;
        memcpy(logbuf + log_at, k, 16);
        memcpy(logbuf + log_at + 16, v, 32);
        index_[j].off = log_at;
        log_at += 64;
      }
    }
    double t1 = now();
    sum += v[0];
    printf("%-9s entries=%zu  %.1f ns/store\n", names[layout], n_entries, (t1 - t0) * 1e9 / (double)ops);
  }
  /* What was stored, so no store is optimised away. */
  for (size_t i = 0; i < nslots; i += 4099) sum += payload[48 * i + 16] + (slots[i].rec ? slots[i].rec[24] : 0);
  for (size_t i = 0; i < log_size; i += 4099) sum += logbuf[i];
  printf("checksum %llu\n", (unsigned long long)sum);
  return 0;
}
