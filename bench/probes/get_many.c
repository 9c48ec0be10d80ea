/* get_many.c -- the C ABI's batch get, timed and counted without a binding.
 *
 * Loads ENTRIES keys of 16 bytes with 32-byte values into a one-shard map,
 * then runs OPS gets of uniformly random loaded keys through ns_get_many in
 * batches of 64 (keys back to back, rooms of 32 bytes), and checks every one
 * was found. With SHOW set it prints the gets' wall time per key; under
 * callgrind, two op counts give the instructions per key (the load cancels
 * out): (Ir(2N) - Ir(N)) / N.
 *
 *   cargo build --release -p numashard-ffi
 *   cc -O2 -I include bench/probes/get_many.c target/release/libnumashard.a \
 *      -lhwloc -lpthread -ldl -lm -o get_many
 *   SHOW=1 ./get_many 20000000 100000            # ns per key, 100k entries
 *   valgrind --tool=callgrind ./get_many 64000 1000   # and 128000
 *
 * bench/results/engine.md ("Batch gets without an op per key") has the
 * numbers before and after Map::get_many_into, and the probe
 * ../shared/probes/mlp_limit.c's ceiling beside them.
 */
#include "numashard.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void key_of(uint64_t i, uint8_t *k) {
  uint64_t a = i * 0x9e3779b97f4a7c15ULL;
  memcpy(k, &a, 8);
  memset(k + 8, 0, 8);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: get_many OPS ENTRIES\n");
    return 2;
  }
  uint64_t ops = strtoull(argv[1], 0, 10), n = strtoull(argv[2], 0, 10);
  struct ns_config cfg;
  ns_config_init(&cfg);
  cfg.shards = 1;
  struct ns_map *m;
  if (ns_map_new(&cfg, &m) != NS_OK) return 1;
  uint8_t k[16], v[32];
  memset(v, 1, sizeof v);
  for (uint64_t i = 0; i < n; i++) {
    key_of(i, k);
    if (ns_put(m, k, 16, v, 32) != NS_OK) return 1;
  }
  uint8_t keys[64 * 16], out[64 * 32];
  size_t key_lens[64], value_lens[64];
  int32_t statuses[64];
  uint64_t found = 0, s = 12345;
  double t0 = now();
  for (uint64_t i = 0; i < ops; i += 64) {
    for (int j = 0; j < 64; j++) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      key_of((s >> 33) % n, keys + 16 * j);
      key_lens[j] = 16;
    }
    if (ns_get_many(m, 64, keys, key_lens, out, 32, value_lens, statuses) != NS_OK) return 1;
    for (int j = 0; j < 64; j++) found += statuses[j] == NS_OK && value_lens[j] == 32;
  }
  double t1 = now();
  if (getenv("SHOW")) printf("%.2f ns/key\n", (t1 - t0) * 1e9 / (double)ops);
  if (found != (ops + 63) / 64 * 64) {
    fprintf(stderr, "found %llu of %llu\n", (unsigned long long)found, (unsigned long long)ops);
    return 1;
  }
  ns_map_free(m);
  return 0;
}
