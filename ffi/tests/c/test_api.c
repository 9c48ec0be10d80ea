/* The C suite of numashard's C ABI: every function, every status, and the
 * bad inputs the header documents. Plain C99; run under ASan+UBSan and
 * under valgrind by scripts/test-c.sh. */
#define _POSIX_C_SOURCE 200809L /* nanosleep under -std=c99 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

/* Every map of the suite: 2 shards, small limits so that boundaries are cheap. */
static ns_map *open_map(size_t max_key, size_t max_value, uint64_t limit) {
  ns_config cfg;
  ns_map *m = NULL;
  ns_config_init(&cfg);
  cfg.shards = 2;
  cfg.max_key_len = max_key;
  cfg.max_value_len = max_value;
  cfg.memory_limit = limit;
  EXPECT(ns_map_new(&cfg, &m), NS_OK);
  CHECK(m != NULL);
  return m;
}

static void test_version(void) {
  char want[64];
  snprintf(want, sizeof want, "%d.%d.%d", NS_VERSION_MAJOR, NS_VERSION_MINOR, NS_VERSION_PATCH);
  CHECK(strcmp(ns_version(), want) == 0);
  CHECK(NS_VERSION_NUMBER == NS_VERSION_MAJOR * 1000000 + NS_VERSION_MINOR * 1000 + NS_VERSION_PATCH);
  CHECK(ns_version_number() == NS_VERSION_NUMBER);
#if NS_VERSION_NUMBER < 1000
#error "NS_VERSION_NUMBER must be usable in #if"
#endif
}

static void test_status_str(void) {
  static const ns_status all[] = {
      NS_OK, NS_NOT_FOUND, NS_EXISTS, NS_MISMATCH, NS_BUFFER_TOO_SMALL,
      NS_ERR_INVALID_ARGUMENT, NS_ERR_KEY_TOO_LARGE, NS_ERR_VALUE_TOO_LARGE,
      NS_ERR_FULL, NS_ERR_CLOSED, NS_ERR_NOT_A_COUNTER, NS_ERR_TOPOLOGY,
      NS_ERR_PANIC, NS_ERR_RESOURCE};
  size_t i, j;
  CHECK(NS_OK == 0 && NS_NOT_FOUND == 1 && NS_EXISTS == 2 && NS_MISMATCH == 3);
  CHECK(NS_BUFFER_TOO_SMALL == 4 && NS_ERR_INVALID_ARGUMENT == 100);
  CHECK(NS_ERR_CLOSED == 104 && NS_ERR_PANIC == 107 && NS_ERR_RESOURCE == 108);
  for (i = 0; i < sizeof all / sizeof all[0]; i++) {
    const char *s = ns_status_str(all[i]);
    CHECK(s != NULL && s[0] != '\0' && strcmp(s, "unknown status") != 0);
    for (j = 0; j < i; j++) CHECK(strcmp(s, ns_status_str(all[j])) != 0);
  }
  CHECK(strcmp(ns_status_str(NS_OK), "ok") == 0);
  CHECK(strcmp(ns_status_str((ns_status)5), "unknown status") == 0);
  CHECK(strcmp(ns_status_str((ns_status)-1), "unknown status") == 0);
  CHECK(strcmp(ns_status_str((ns_status)99), "unknown status") == 0);
  CHECK(strcmp(ns_status_str((ns_status)INT32_MAX), "unknown status") == 0);
  CHECK(strcmp(ns_status_str((ns_status)INT32_MIN), "unknown status") == 0);
}

/* The symbol programs built against versions 1-3 of the header call for
 * ns_config_init (now an inline function of the header), called from
 * another translation unit (legacy_config_init.c). */
void legacy_config_init(void *cfg);

/* ns_config_init writes no byte past the caller's struct: the header's
 * inline passes sizeof(ns_config) to ns_config_init_sized; an older
 * program's struct (version 1: up to record_stats) gets its own bytes only,
 * through either symbol; unknown sizes are refused, nothing written. */
static void test_config_init_sizes(void) {
  const size_t v1 = offsetof(ns_config, initial_capacity), v2 = offsetof(ns_config, place_records_by_hash);
  union {
    ns_config c;
    unsigned char b[sizeof(ns_config) + 32];
  } u;
  size_t sizes[3], i, j;
  sizes[0] = v1;
  sizes[1] = v2;
  sizes[2] = sizeof(ns_config);
  for (i = 0; i < 3; i++) {
    memset(u.b, 0xCD, sizeof u.b);
    EXPECT(ns_config_init_sized(&u.c, sizes[i]), NS_OK);
    CHECK(u.c.struct_size == sizes[i] && u.c.max_key_len >= 1024);
    for (j = sizes[i]; j < sizeof u.b; j++) {
      if (u.b[j] != 0xCD) {
        CHECK(!"ns_config_init_sized wrote past the size given");
        break;
      }
    }
    EXPECT(ns_config_check(&u.c), NS_OK);
  }
  memset(u.b, 0xCD, sizeof u.b);
  EXPECT(ns_config_init_sized(&u.c, v1 + 4), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_config_init_sized(&u.c, sizeof(ns_config) + 8), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_config_init_sized(NULL, sizeof(ns_config)), NS_ERR_INVALID_ARGUMENT);
  CHECK(u.b[0] == 0xCD && u.b[sizeof(ns_config) - 1] == 0xCD);
  /* The legacy symbol fills version 1 only. */
  memset(u.b, 0xCD, sizeof u.b);
  legacy_config_init(&u.c);
  CHECK(u.c.struct_size == v1 && u.b[v1] == 0xCD && u.b[sizeof(ns_config) - 1] == 0xCD);
  EXPECT(ns_config_check(&u.c), NS_OK);
  legacy_config_init(NULL);
}

static void test_config(void) {
  ns_config cfg;
  ns_map *m = NULL, *sentinel = (ns_map *)&cfg;
  uint32_t n = 0, nodes[1] = {0}, per_node[1] = {3};
  memset(&cfg, 0xAB, sizeof cfg);
  ns_config_init(&cfg);
  ns_config_init(NULL);
  CHECK(cfg.struct_size == sizeof(ns_config));
  CHECK(cfg.shards == 0 && cfg.memory_limit == 0);
  CHECK(cfg.max_key_len >= 1024 && cfg.max_value_len >= 1024 * 1024);
  CHECK(cfg.topology == NULL && cfg.topology_xml == NULL && cfg.nodes == NULL);
  CHECK(cfg.exec_mode == NS_EXEC_AUTO && cfg.worker_spin_us < 0 && !cfg.misplace_memory);
  EXPECT(ns_config_check(&cfg), NS_OK);
  EXPECT(ns_config_check(NULL), NS_OK);

  /* Defaults: NULL config. One shard per allowed CPU. */
  EXPECT(ns_map_new(NULL, &m), NS_OK);
  EXPECT(ns_map_shard_count(m, &n), NS_OK);
  CHECK(n >= 1);
  ns_map_free(m);

  /* Explicit N yields exactly N, even more than the CPUs. */
  {
    uint32_t want[] = {1, 2, 3, 5};
    size_t i;
    for (i = 0; i < sizeof want / sizeof want[0]; i++) {
      cfg.shards = want[i];
      m = NULL;
      EXPECT(ns_map_new(&cfg, &m), NS_OK);
      EXPECT(ns_map_shard_count(m, &n), NS_OK);
      CHECK(n == want[i]);
      ns_map_free(m);
    }
  }
  /* Delegate mode, a spin time, nodes and per-node counts. */
  ns_config_init(&cfg);
  cfg.exec_mode = NS_EXEC_DELEGATE;
  cfg.worker_spin_us = 5;
  cfg.nodes = nodes;
  cfg.nodes_len = 1;
  cfg.shards_per_node = per_node;
  cfg.shards_per_node_len = 1;
  cfg.batch_delegate_min = 1;
  EXPECT(ns_map_new(&cfg, &m), NS_OK);
  EXPECT(ns_map_shard_count(m, &n), NS_OK);
  CHECK(n == 3);
  {
    uint8_t buf[8];
    size_t len = 0;
    EXPECT(ns_put(m, S("k"), S("v")), NS_OK);
    EXPECT(ns_get(m, S("k"), buf, sizeof buf, &len), NS_OK);
    CHECK(len == 1 && buf[0] == 'v');
  }
  ns_map_free(m);

  /* A synthetic topology: 2 nodes of 2 cores; binding is never claimed. */
  ns_config_init(&cfg);
  cfg.topology = "pack:2 [numa] core:2 pu:1";
  cfg.shards = 4;
  EXPECT(ns_map_new(&cfg, &m), NS_OK);
  {
    ns_stats st;
    ns_shard_stats ss;
    EXPECT(ns_stats_get(m, &st), NS_OK);
    CHECK(st.shards == 4 && !st.binding_applied);
    EXPECT(ns_shard_stats_get(m, 0, &ss), NS_OK);
    CHECK(ss.node == 0 && !ss.binding_applied);
    EXPECT(ns_shard_stats_get(m, 3, &ss), NS_OK);
    CHECK(ss.node == 1 && ss.memory_node == 1 && ss.shard == 3);
  }
  ns_map_free(m);

  /* Bad configs: each is rejected and *out stays untouched. */
  m = sentinel;
  ns_config_init(&cfg);
  cfg.struct_size = 0; /* not initialised */
  EXPECT(ns_map_new(&cfg, &m), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_config_check(&cfg), NS_ERR_INVALID_ARGUMENT);
  ns_config_init(&cfg);
  cfg.exec_mode = (ns_exec_mode)42;
  EXPECT(ns_map_new(&cfg, &m), NS_ERR_INVALID_ARGUMENT);
  ns_config_init(&cfg);
  cfg.max_key_len = 0;
  EXPECT(ns_map_new(&cfg, &m), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_config_check(&cfg), NS_ERR_INVALID_ARGUMENT);
  ns_config_init(&cfg);
  cfg.max_value_len = (size_t)1 << 40;
  EXPECT(ns_map_new(&cfg, &m), NS_ERR_INVALID_ARGUMENT);
  ns_config_init(&cfg);
  cfg.nodes_len = 2; /* NULL with a length */
  EXPECT(ns_map_new(&cfg, &m), NS_ERR_INVALID_ARGUMENT);
  ns_config_init(&cfg);
  cfg.topology = "\xff\xfe not utf-8";
  EXPECT(ns_map_new(&cfg, &m), NS_ERR_INVALID_ARGUMENT);
  ns_config_init(&cfg);
  cfg.topology = "this is not a topology";
  EXPECT(ns_map_new(&cfg, &m), NS_ERR_TOPOLOGY);
  ns_config_init(&cfg);
  nodes[0] = 7; /* no such node */
  cfg.nodes = nodes;
  cfg.nodes_len = 1;
  {
    ns_status s = ns_map_new(&cfg, &m);
    CHECK(s == NS_ERR_TOPOLOGY || s == NS_ERR_INVALID_ARGUMENT);
  }
  CHECK(m == sentinel);
  EXPECT(ns_map_new(NULL, NULL), NS_ERR_INVALID_ARGUMENT);

  /* initial_capacity: each shard's index is mapped for its share at once
   * (16-byte slots, at most 4/5 full: 2^20 slots for 500k entries), and
   * ns_clear keeps that size. Over 2^40 is refused. */
  ns_config_init(&cfg);
  cfg.shards = 2;
  cfg.initial_capacity = 1000000;
  EXPECT(ns_map_new(&cfg, &m), NS_OK);
  {
    ns_stats st;
    EXPECT(ns_stats_get(m, &st), NS_OK);
    CHECK(st.mapped_bytes >= 2u * 16u * (1u << 20));
    EXPECT(ns_put(m, S("k"), S("v")), NS_OK);
    EXPECT(ns_clear(m), NS_OK);
    EXPECT(ns_stats_get(m, &st), NS_OK);
    CHECK(st.mapped_bytes >= 2u * 16u * (1u << 20));
  }
  ns_map_free(m);
  cfg.initial_capacity = 0;
  EXPECT(ns_map_new(&cfg, &m), NS_OK);
  {
    ns_stats st;
    EXPECT(ns_stats_get(m, &st), NS_OK);
    CHECK(st.mapped_bytes < 16u * (1u << 20));
  }
  ns_map_free(m);
  m = sentinel;
  cfg.initial_capacity = ((uint64_t)1 << 40) + 1;
  EXPECT(ns_config_check(&cfg), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_map_new(&cfg, &m), NS_ERR_INVALID_ARGUMENT);
  CHECK(m == sentinel);
  /* A program compiled against version 1 of the struct, which ends before
   * initial_capacity: accepted, and what lies past its size is not read. */
  ns_config_init(&cfg);
  cfg.struct_size = (uint32_t)offsetof(ns_config, initial_capacity);
  cfg.initial_capacity = ((uint64_t)1 << 41);
  EXPECT(ns_config_check(&cfg), NS_OK);
  EXPECT(ns_map_new(&cfg, &m), NS_OK);
  ns_map_free(m);
  /* Version 2 ends at initial_capacity: place_records_by_hash is not read. */
  ns_config_init(&cfg);
  cfg.struct_size = (uint32_t)offsetof(ns_config, place_records_by_hash);
  cfg.place_records_by_hash = true; /* without a capacity: refused if read */
  EXPECT(ns_config_check(&cfg), NS_OK);

  /* place_records_by_hash: one-line records placed by hash in 2^k lines
   * of 64 bytes per shard (the power of two nearest its share), mapped at
   * once; needs initial_capacity and no memory_limit. */
  ns_config_init(&cfg);
  cfg.place_records_by_hash = true;
  EXPECT(ns_config_check(&cfg), NS_ERR_INVALID_ARGUMENT);
  m = sentinel;
  EXPECT(ns_map_new(&cfg, &m), NS_ERR_INVALID_ARGUMENT);
  CHECK(m == sentinel);
  cfg.initial_capacity = 4096;
  cfg.memory_limit = 1u << 30;
  EXPECT(ns_config_check(&cfg), NS_ERR_INVALID_ARGUMENT);
  cfg.memory_limit = 0;
  cfg.shards = 2;
  EXPECT(ns_config_check(&cfg), NS_OK);
  EXPECT(ns_map_new(&cfg, &m), NS_OK);
  {
    ns_stats st;
    uint8_t key[16], buf[64];
    size_t len = 0;
    EXPECT(ns_stats_get(m, &st), NS_OK);
    CHECK(st.mapped_bytes >= 2u * 64u * (1u << 11));
    for (uint32_t i = 0; i < 8192; i++) {
      memset(key, (int)(i & 0xff), sizeof key);
      memcpy(key, &i, sizeof i);
      memset(buf, (int)(i * 7), sizeof buf);
      EXPECT(ns_put(m, key, sizeof key, buf, i % 48), NS_OK);
    }
    for (uint32_t i = 0; i < 8192; i++) {
      uint8_t want[64];
      memset(key, (int)(i & 0xff), sizeof key);
      memcpy(key, &i, sizeof i);
      memset(want, (int)(i * 7), sizeof want);
      EXPECT(ns_get(m, key, sizeof key, buf, sizeof buf, &len), NS_OK);
      CHECK(len == i % 48 && memcmp(buf, want, len) == 0);
    }
  }
  ns_map_free(m);
}

static void test_get_put(void) {
  ns_map *m = open_map(64, 256, 0);
  uint8_t buf[16], big[300];
  size_t len = 12345;

  EXPECT(ns_get(m, S("missing"), buf, sizeof buf, &len), NS_NOT_FOUND);
  CHECK(len == 12345); /* outputs are written only on OK / BUFFER_TOO_SMALL */
  EXPECT(ns_put(m, S("alpha"), S("one")), NS_OK);
  EXPECT(ns_get(m, S("alpha"), buf, sizeof buf, &len), NS_OK);
  CHECK(len == 3 && memcmp(buf, "one", 3) == 0);
  EXPECT(ns_put(m, S("alpha"), S("a longer value")), NS_OK); /* overwrite */

  /* Size query with (NULL, 0), then a too-small buffer left untouched. */
  EXPECT(ns_get(m, S("alpha"), NULL, 0, &len), NS_BUFFER_TOO_SMALL);
  CHECK(len == 14);
  memset(buf, 0x5A, sizeof buf);
  len = 0;
  EXPECT(ns_get(m, S("alpha"), buf, 13, &len), NS_BUFFER_TOO_SMALL);
  CHECK(len == 14 && buf[0] == 0x5A && buf[12] == 0x5A);
  EXPECT(ns_get(m, S("alpha"), buf, 14, &len), NS_OK); /* exact fit */
  CHECK(len == 14 && memcmp(buf, "a longer value", 14) == 0);

  /* Empty key and empty value, passed as (NULL, 0). */
  EXPECT(ns_put(m, NULL, 0, NULL, 0), NS_OK);
  EXPECT(ns_get(m, NULL, 0, NULL, 0, &len), NS_OK);
  CHECK(len == 0);
  EXPECT(ns_get(m, (const uint8_t *)"", 0, buf, sizeof buf, &len), NS_OK);
  CHECK(len == 0);
  EXPECT(ns_delete(m, NULL, 0), NS_OK);

  /* Binary keys with zero bytes are distinct keys. */
  EXPECT(ns_put(m, (const uint8_t *)"a\0b", 3, S("x")), NS_OK);
  EXPECT(ns_get(m, (const uint8_t *)"a\0c", 3, buf, sizeof buf, &len), NS_NOT_FOUND);
  EXPECT(ns_get(m, (const uint8_t *)"a\0b", 3, buf, sizeof buf, &len), NS_OK);

  /* Limits are inclusive; one byte more is rejected and changes nothing. */
  memset(big, 'k', sizeof big);
  EXPECT(ns_put(m, big, 64, big, 256), NS_OK);
  EXPECT(ns_put(m, big, 65, S("v")), NS_ERR_KEY_TOO_LARGE);
  EXPECT(ns_put(m, S("kk"), big, 257), NS_ERR_VALUE_TOO_LARGE);
  EXPECT(ns_get(m, S("kk"), buf, sizeof buf, &len), NS_NOT_FOUND);
  EXPECT(ns_get(m, big, 65, buf, sizeof buf, &len), NS_ERR_KEY_TOO_LARGE);
  /* An absurd length is rejected before any byte is read. */
  EXPECT(ns_get(m, big, SIZE_MAX, buf, sizeof buf, &len), NS_ERR_KEY_TOO_LARGE);
  EXPECT(ns_put(m, S("kk"), big, SIZE_MAX / 2), NS_ERR_VALUE_TOO_LARGE);

  /* NULL with a length, NULL handle, NULL output. */
  EXPECT(ns_put(m, NULL, 3, S("v")), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_put(m, S("k"), NULL, 3), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_get(m, NULL, 3, buf, sizeof buf, &len), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_get(m, S("alpha"), NULL, 4, &len), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_get(m, S("alpha"), buf, sizeof buf, NULL), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_get(NULL, S("alpha"), buf, sizeof buf, &len), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_put(NULL, S("k"), S("v")), NS_ERR_INVALID_ARGUMENT);
  /* Something that is not a map handle. */
  EXPECT(ns_put((ns_map *)big, S("k"), S("v")), NS_ERR_INVALID_ARGUMENT);

  /* A buffer written that overlaps a key or value read: refused, nothing
   * read or written, the map unchanged. Buffers that only touch are fine. */
  {
    uint8_t mem[32];
    memcpy(mem, "ovl", 3);
    memset(mem + 3, 0x5A, sizeof mem - 3);
    EXPECT(ns_put(m, mem, 3, S("value")), NS_OK);
    len = 777;
    EXPECT(ns_get(m, mem, 3, mem + 2, 8, &len), NS_ERR_INVALID_ARGUMENT);
    EXPECT(ns_get(m, mem + 1, 2, mem, 8, &len), NS_ERR_INVALID_ARGUMENT);
    CHECK(len == 777 && memcmp(mem, "ovl", 3) == 0 && mem[3] == 0x5A);
    EXPECT(ns_take(m, mem, 3, mem, 8, &len), NS_ERR_INVALID_ARGUMENT);
    EXPECT(ns_swap(m, mem, 3, S("other"), mem + 1, 8, &len), NS_ERR_INVALID_ARGUMENT);
    EXPECT(ns_swap(m, S("ovl2"), mem + 8, 4, mem + 10, 8, &len), NS_ERR_INVALID_ARGUMENT);
    EXPECT(ns_get_or_put(m, mem, 3, mem + 8, 4, mem + 11, 8, &len), NS_ERR_INVALID_ARGUMENT);
    {
      size_t lens[4] = {777, 777, 777, 777}; /* the length written inside the buffer */
      EXPECT(ns_get(m, mem, 3, (uint8_t *)lens, sizeof lens, &lens[1]), NS_ERR_INVALID_ARGUMENT);
      EXPECT(ns_take(m, mem, 3, (uint8_t *)lens, sizeof lens, &lens[3]), NS_ERR_INVALID_ARGUMENT);
      EXPECT(ns_swap(m, mem, 3, S("v"), (uint8_t *)lens, sizeof lens, &lens[0]), NS_ERR_INVALID_ARGUMENT);
      EXPECT(ns_get_or_put(m, mem, 3, S("v"), (uint8_t *)lens, sizeof lens, &lens[2]), NS_ERR_INVALID_ARGUMENT);
      CHECK(lens[0] == 777 && lens[1] == 777 && lens[2] == 777 && lens[3] == 777);
    }
    CHECK(len == 777 && memcmp(mem, "ovl", 3) == 0 && mem[3] == 0x5A);
    EXPECT(ns_get(m, S("ovl2"), buf, sizeof buf, &len), NS_NOT_FOUND);
    EXPECT(ns_get(m, mem, 3, buf, sizeof buf, &len), NS_OK); /* still there */
    CHECK(len == 5 && memcmp(buf, "value", 5) == 0);
    EXPECT(ns_get(m, mem, 3, mem + 3, 8, &len), NS_OK); /* adjacent, apart */
    CHECK(len == 5 && memcmp(mem, "ovlvalue", 8) == 0);
    EXPECT(ns_get(m, mem, 3, mem, 0, &len), NS_BUFFER_TOO_SMALL); /* empty buffer */
  }
  ns_map_free(m);
}

static void test_owned(void) {
  ns_map *m = open_map(64, 4096, 0);
  uint8_t *v = (uint8_t *)1, val[3000];
  size_t len = 7;
  memset(val, 'q', sizeof val);
  EXPECT(ns_get_owned(m, S("nope"), &v, &len), NS_NOT_FOUND);
  CHECK(v == (uint8_t *)1 && len == 7);
  EXPECT(ns_put(m, S("big"), val, sizeof val), NS_OK);
  EXPECT(ns_get_owned(m, S("big"), &v, &len), NS_OK);
  CHECK(len == sizeof val && memcmp(v, val, len) == 0);
  ns_bytes_free(v, len);
  EXPECT(ns_put(m, S("empty"), NULL, 0), NS_OK);
  EXPECT(ns_get_owned(m, S("empty"), &v, &len), NS_OK);
  CHECK(len == 0 && v != NULL);
  ns_bytes_free(v, len);
  ns_bytes_free(NULL, 0);
  ns_bytes_free(NULL, 10);
  EXPECT(ns_get_owned(m, S("big"), NULL, &len), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_get_owned(m, S("big"), &v, NULL), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_get_owned(m, NULL, 1, &v, &len), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_get_owned(NULL, S("big"), &v, &len), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_take_owned(m, S("big"), &v, &len), NS_OK);
  CHECK(len == sizeof val && v[2999] == 'q');
  ns_bytes_free(v, len);
  EXPECT(ns_take_owned(m, S("big"), &v, &len), NS_NOT_FOUND);
  EXPECT(ns_take_owned(m, S("big"), NULL, &len), NS_ERR_INVALID_ARGUMENT);
  ns_map_free(m);
}

static void test_conditional(void) {
  ns_map *m = open_map(64, 256, 0);
  uint8_t buf[16];
  size_t len = 99;
  int64_t n = 0;

  /* put_if_absent */
  EXPECT(ns_put_if_absent(m, S("p"), S("first")), NS_OK);
  EXPECT(ns_put_if_absent(m, S("p"), S("second")), NS_EXISTS);
  EXPECT(ns_get(m, S("p"), buf, sizeof buf, &len), NS_OK);
  CHECK(len == 5 && memcmp(buf, "first", 5) == 0);
  EXPECT(ns_put_if_absent(m, S("p"), NULL, 1), NS_ERR_INVALID_ARGUMENT);

  /* get_or_put (LoadOrStore) */
  len = 99;
  EXPECT(ns_get_or_put(m, S("g"), S("stored"), buf, sizeof buf, &len), NS_OK);
  CHECK(len == 99);
  memset(buf, 0, sizeof buf);
  EXPECT(ns_get_or_put(m, S("g"), S("other"), buf, sizeof buf, &len), NS_EXISTS);
  CHECK(len == 6 && memcmp(buf, "stored", 6) == 0);
  memset(buf, 0x11, sizeof buf);
  EXPECT(ns_get_or_put(m, S("g"), S("other"), buf, 5, &len), NS_BUFFER_TOO_SMALL);
  CHECK(len == 6 && buf[0] == 0x11);
  EXPECT(ns_get_or_put(m, S("g"), S("other"), NULL, 0, &len), NS_BUFFER_TOO_SMALL);
  CHECK(len == 6);
  EXPECT(ns_get(m, S("g"), buf, sizeof buf, &len), NS_OK);
  CHECK(len == 6 && memcmp(buf, "stored", 6) == 0);
  EXPECT(ns_get_or_put(m, S("g"), S("x"), buf, sizeof buf, NULL), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_get_or_put(m, S("g"), S("x"), NULL, 3, &len), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_put(m, S("ge"), NULL, 0), NS_OK);
  EXPECT(ns_get_or_put(m, S("ge"), S("x"), NULL, 0, &len), NS_EXISTS);
  CHECK(len == 0);

  /* delete / take */
  EXPECT(ns_delete(m, S("p")), NS_OK);
  EXPECT(ns_delete(m, S("p")), NS_NOT_FOUND);
  EXPECT(ns_delete(m, NULL, 2), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_put(m, S("t"), S("taken")), NS_OK);
  memset(buf, 0x22, sizeof buf);
  EXPECT(ns_take(m, S("t"), buf, 4, &len), NS_BUFFER_TOO_SMALL);
  CHECK(len == 5 && buf[0] == 0x22);
  EXPECT(ns_take(m, S("t"), NULL, 0, &len), NS_BUFFER_TOO_SMALL);
  EXPECT(ns_get(m, S("t"), buf, sizeof buf, &len), NS_OK); /* not removed */
  EXPECT(ns_take(m, S("t"), buf, sizeof buf, NULL), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_get(m, S("t"), buf, sizeof buf, &len), NS_OK); /* still not removed */
  memset(buf, 0, sizeof buf);
  EXPECT(ns_take(m, S("t"), buf, 5, &len), NS_OK);
  CHECK(len == 5 && memcmp(buf, "taken", 5) == 0);
  EXPECT(ns_take(m, S("t"), buf, sizeof buf, &len), NS_NOT_FOUND);

  /* compare_and_swap */
  EXPECT(ns_compare_and_swap(m, S("c"), S("a"), S("b")), NS_NOT_FOUND);
  EXPECT(ns_put(m, S("c"), S("a")), NS_OK);
  EXPECT(ns_compare_and_swap(m, S("c"), S("z"), S("b")), NS_MISMATCH);
  EXPECT(ns_compare_and_swap(m, S("c"), NULL, 0, S("b")), NS_MISMATCH);
  EXPECT(ns_compare_and_swap(m, S("c"), S("a"), S("b")), NS_OK);
  EXPECT(ns_get(m, S("c"), buf, sizeof buf, &len), NS_OK);
  CHECK(len == 1 && buf[0] == 'b');
  EXPECT(ns_compare_and_swap(m, S("c"), S("b"), NULL, 0), NS_OK); /* to empty */
  EXPECT(ns_compare_and_swap(m, S("c"), NULL, 0, S("d")), NS_OK);   /* from empty */
  EXPECT(ns_compare_and_swap(m, S("c"), NULL, 1, S("d")), NS_ERR_INVALID_ARGUMENT);
  {
    uint8_t big[300];
    memset(big, 1, sizeof big);
    EXPECT(ns_compare_and_swap(m, S("c"), S("d"), big, 257), NS_ERR_VALUE_TOO_LARGE);
  }

  /* swap: stores and returns the previous value; too small a buffer stores nothing */
  len = 99;
  EXPECT(ns_swap(m, S("sw"), S("one"), buf, sizeof buf, &len), NS_NOT_FOUND);
  CHECK(len == 99); /* not written */
  EXPECT(ns_swap(m, S("sw"), S("two"), buf, sizeof buf, &len), NS_OK);
  CHECK(len == 3 && memcmp(buf, "one", 3) == 0);
  EXPECT(ns_swap(m, S("sw"), S("three"), buf, 2, &len), NS_BUFFER_TOO_SMALL);
  CHECK(len == 3);
  EXPECT(ns_get(m, S("sw"), buf, sizeof buf, &len), NS_OK);
  CHECK(len == 3 && memcmp(buf, "two", 3) == 0);
  EXPECT(ns_swap(m, S("sw"), NULL, 0, buf, sizeof buf, &len), NS_OK); /* to empty */
  CHECK(len == 3 && memcmp(buf, "two", 3) == 0);
  EXPECT(ns_swap(m, S("sw"), S("x"), NULL, 0, &len), NS_OK); /* previous was empty */
  CHECK(len == 0);
  EXPECT(ns_swap(m, S("sw"), S("y"), buf, sizeof buf, NULL), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_swap(m, S("sw"), S("y"), NULL, 4, &len), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_swap(NULL, S("sw"), S("y"), buf, sizeof buf, &len), NS_ERR_INVALID_ARGUMENT);
  {
    uint8_t big[300];
    memset(big, 1, sizeof big);
    EXPECT(ns_swap(m, S("sw"), big, 257, buf, sizeof buf, &len), NS_ERR_VALUE_TOO_LARGE);
    EXPECT(ns_swap(m, big, 65, S("y"), buf, sizeof buf, &len), NS_ERR_KEY_TOO_LARGE);
  }
  EXPECT(ns_get(m, S("sw"), buf, sizeof buf, &len), NS_OK);
  CHECK(len == 1 && buf[0] == 'x');

  /* compare_and_delete: removes only the expected value */
  EXPECT(ns_compare_and_delete(m, S("cd"), S("a")), NS_NOT_FOUND);
  EXPECT(ns_put(m, S("cd"), S("a")), NS_OK);
  EXPECT(ns_compare_and_delete(m, S("cd"), S("b")), NS_MISMATCH);
  EXPECT(ns_compare_and_delete(m, S("cd"), NULL, 0), NS_MISMATCH);
  EXPECT(ns_get(m, S("cd"), buf, sizeof buf, &len), NS_OK);
  CHECK(len == 1 && buf[0] == 'a');
  EXPECT(ns_compare_and_delete(m, S("cd"), S("a")), NS_OK);
  EXPECT(ns_get(m, S("cd"), buf, sizeof buf, &len), NS_NOT_FOUND);
  EXPECT(ns_put(m, S("cd"), NULL, 0), NS_OK);
  EXPECT(ns_compare_and_delete(m, S("cd"), NULL, 0), NS_OK); /* empty value */
  EXPECT(ns_compare_and_delete(m, S("cd"), NULL, 1), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_compare_and_delete(NULL, S("cd"), S("a")), NS_ERR_INVALID_ARGUMENT);
  {
    uint8_t bigkey[300];
    memset(bigkey, 1, sizeof bigkey);
    EXPECT(ns_compare_and_delete(m, bigkey, sizeof bigkey, S("a")), NS_ERR_KEY_TOO_LARGE);
  }

  /* add: missing = 0, 8 little-endian bytes, wrapping, not a counter */
  EXPECT(ns_add(m, S("n"), 5, &n), NS_OK);
  CHECK(n == 5);
  EXPECT(ns_add(m, S("n"), -7, &n), NS_OK);
  CHECK(n == -2);
  EXPECT(ns_get(m, S("n"), buf, sizeof buf, &len), NS_OK);
  CHECK(len == 8 && buf[0] == 0xFE && buf[7] == 0xFF);
  EXPECT(ns_put(m, S("n"), (const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\x7f", 8), NS_OK);
  EXPECT(ns_add(m, S("n"), 1, &n), NS_OK);
  CHECK(n == INT64_MIN);
  n = 42;
  EXPECT(ns_add(m, S("c"), 1, &n), NS_ERR_NOT_A_COUNTER);
  CHECK(n == 42);
  EXPECT(ns_add(m, S("n"), 1, NULL), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_add(NULL, S("n"), 1, &n), NS_ERR_INVALID_ARGUMENT);
  ns_map_free(m);
}

static void test_len_clear_full(void) {
  ns_map *m = open_map(64, 1024, 4096);
  uint64_t n = 99;
  uint8_t val[1024], buf[8];
  size_t len;
  int i, stored = 0;
  ns_status s = NS_OK;
  memset(val, 'v', sizeof val);
  EXPECT(ns_len(m, &n), NS_OK);
  CHECK(n == 0);
  /* Fill to the memory limit: the write that would exceed it is FULL and
   * changes nothing. */
  for (i = 0; i < 16 && s == NS_OK; i++) {
    uint8_t k = (uint8_t)i;
    s = ns_put(m, &k, 1, val, sizeof val);
    if (s == NS_OK) stored++;
  }
  CHECK(s == NS_ERR_FULL);
  CHECK(stored >= 1 && stored < 4);
  EXPECT(ns_len(m, &n), NS_OK);
  CHECK(n == (uint64_t)stored);
  {
    uint8_t k = (uint8_t)stored;
    EXPECT(ns_get(m, &k, 1, buf, sizeof buf, &len), NS_NOT_FOUND);
    k = 0;
    EXPECT(ns_put(m, &k, 1, val, sizeof val), NS_OK); /* overwrite, same size: fits */
  }
  EXPECT(ns_clear(m), NS_OK);
  EXPECT(ns_len(m, &n), NS_OK);
  CHECK(n == 0);
  EXPECT(ns_put(m, S("after"), val, sizeof val), NS_OK); /* memory is back */
  EXPECT(ns_len(m, NULL), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_len(NULL, &n), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_clear(NULL), NS_ERR_INVALID_ARGUMENT);
  ns_map_free(m);
}

static void test_batch(void) {
  ns_map *m = open_map(64, 256, 0);
  uint8_t out[8][16];
  ns_op ops[12];
  int64_t n;
  size_t i, len;
  uint8_t buf[16];
  memset(ops, 0, sizeof ops);
  memset(out, 0, sizeof out);
  for (i = 0; i < 12; i++) ops[i].status = (ns_status)-77;

  EXPECT(ns_put(m, S("old"), S("value")), NS_OK);
  EXPECT(ns_put(m, S("cnt"), (const uint8_t *)"\x02\0\0\0\0\0\0\0", 8), NS_OK);
  /* Same key, in array order: put, get, cas, get, take, get. */
  ops[0].kind = NS_OP_PUT; ops[0].key = (const uint8_t *)"k"; ops[0].key_len = 1;
  ops[0].value = (const uint8_t *)"v1"; ops[0].value_len = 2;
  ops[1].kind = NS_OP_GET; ops[1].key = (const uint8_t *)"k"; ops[1].key_len = 1;
  ops[1].out = out[1]; ops[1].out_cap = 16;
  ops[2].kind = NS_OP_CAS; ops[2].key = (const uint8_t *)"k"; ops[2].key_len = 1;
  ops[2].expected = (const uint8_t *)"v1"; ops[2].expected_len = 2;
  ops[2].value = (const uint8_t *)"v22"; ops[2].value_len = 3;
  ops[3].kind = NS_OP_GET; ops[3].key = (const uint8_t *)"k"; ops[3].key_len = 1;
  ops[3].out = NULL; ops[3].out_cap = 0; /* size query */
  ops[4].kind = NS_OP_TAKE; ops[4].key = (const uint8_t *)"k"; ops[4].key_len = 1;
  ops[4].out = out[4]; ops[4].out_cap = 16;
  ops[5].kind = NS_OP_GET; ops[5].key = (const uint8_t *)"k"; ops[5].key_len = 1;
  ops[5].out = out[5]; ops[5].out_cap = 16;
  /* put_if_absent on a present key copies the present value out. */
  ops[6].kind = NS_OP_PUT_IF_ABSENT; ops[6].key = (const uint8_t *)"old"; ops[6].key_len = 3;
  ops[6].value = (const uint8_t *)"new"; ops[6].value_len = 3;
  ops[6].out = out[6]; ops[6].out_cap = 16;
  ops[7].kind = NS_OP_ADD; ops[7].key = (const uint8_t *)"cnt"; ops[7].key_len = 3;
  ops[7].delta = 40;
  ops[8].kind = NS_OP_DELETE; ops[8].key = (const uint8_t *)"old"; ops[8].key_len = 3;
  /* Bad ops: unknown kind, NULL with a length, oversized key and value, not a counter. */
  ops[9].kind = (ns_op_kind)77; ops[9].key = (const uint8_t *)"x"; ops[9].key_len = 1;
  ops[10].kind = NS_OP_PUT; ops[10].key = NULL; ops[10].key_len = 4;
  ops[11].kind = NS_OP_ADD; ops[11].key = NULL; ops[11].key_len = 0; /* empty key: fine */
  ops[11].delta = -1;

  EXPECT(ns_batch(m, ops, 12), NS_OK);
  CHECK(ops[0].status == NS_OK);
  CHECK(ops[1].status == NS_OK && ops[1].out_len == 2 && memcmp(out[1], "v1", 2) == 0);
  CHECK(ops[2].status == NS_OK);
  CHECK(ops[3].status == NS_BUFFER_TOO_SMALL && ops[3].out_len == 3);
  CHECK(ops[4].status == NS_OK && ops[4].out_len == 3 && memcmp(out[4], "v22", 3) == 0);
  CHECK(ops[5].status == NS_NOT_FOUND && ops[5].out_len == 0);
  CHECK(ops[6].status == NS_EXISTS && ops[6].out_len == 5 && memcmp(out[6], "value", 5) == 0);
  CHECK(ops[7].status == NS_OK && ops[7].out_counter == 42 && ops[7].out_len == 0);
  CHECK(ops[8].status == NS_OK);
  CHECK(ops[9].status == NS_ERR_INVALID_ARGUMENT && ops[9].out_len == 0 && ops[9].out_counter == 0);
  CHECK(ops[10].status == NS_ERR_INVALID_ARGUMENT);
  CHECK(ops[11].status == NS_OK && ops[11].out_counter == -1);
  EXPECT(ns_get(m, S("old"), buf, sizeof buf, &len), NS_NOT_FOUND);

  /* More per-op errors, and take with a short buffer removes nothing. */
  memset(ops, 0, sizeof ops);
  {
    uint8_t big[300];
    memset(big, 'b', sizeof big);
    EXPECT(ns_put(m, S("tk"), S("twelve bytes")), NS_OK);
    ops[0].kind = NS_OP_GET; ops[0].key = big; ops[0].key_len = 65;
    ops[1].kind = NS_OP_PUT; ops[1].key = big; ops[1].key_len = 64;
    ops[1].value = big; ops[1].value_len = 257;
    ops[2].kind = NS_OP_ADD; ops[2].key = (const uint8_t *)"tk"; ops[2].key_len = 2;
    ops[3].kind = NS_OP_TAKE; ops[3].key = (const uint8_t *)"tk"; ops[3].key_len = 2;
    ops[3].out = out[3]; ops[3].out_cap = 4;
    ops[4].kind = NS_OP_GET; ops[4].key = (const uint8_t *)"tk"; ops[4].key_len = 2;
    ops[4].out = NULL; ops[4].out_cap = 4; /* NULL buffer with a capacity */
    ops[5].kind = NS_OP_CAS; ops[5].key = (const uint8_t *)"tk"; ops[5].key_len = 2;
    ops[5].expected = NULL; ops[5].expected_len = 3;
    ops[6].kind = NS_OP_PUT_IF_ABSENT; ops[6].key = (const uint8_t *)"tk"; ops[6].key_len = 2;
    ops[6].value = (const uint8_t *)"z"; ops[6].value_len = 1; /* no out buffer */
    ops[7].kind = (ns_op_kind)-1;
    /* compare_and_delete: mismatch, NULL expected with a length, a match. */
    EXPECT(ns_put(m, S("cd2"), S("x")), NS_OK);
    ops[8].kind = NS_OP_COMPARE_AND_DELETE; ops[8].key = (const uint8_t *)"tk"; ops[8].key_len = 2;
    ops[8].expected = (const uint8_t *)"nope"; ops[8].expected_len = 4;
    ops[9].kind = NS_OP_COMPARE_AND_DELETE; ops[9].key = (const uint8_t *)"tk"; ops[9].key_len = 2;
    ops[9].expected = NULL; ops[9].expected_len = 3;
    ops[10].kind = NS_OP_COMPARE_AND_DELETE; ops[10].key = (const uint8_t *)"cd2"; ops[10].key_len = 3;
    ops[10].expected = (const uint8_t *)"x"; ops[10].expected_len = 1;
    /* swap: a short buffer stores nothing. */
    ops[11].kind = NS_OP_SWAP; ops[11].key = (const uint8_t *)"tk"; ops[11].key_len = 2;
    ops[11].value = (const uint8_t *)"no"; ops[11].value_len = 2;
    ops[11].out = out[5]; ops[11].out_cap = 4;
    EXPECT(ns_batch(m, ops, 12), NS_OK);
    CHECK(ops[0].status == NS_ERR_KEY_TOO_LARGE);
    CHECK(ops[1].status == NS_ERR_VALUE_TOO_LARGE);
    CHECK(ops[2].status == NS_ERR_NOT_A_COUNTER);
    CHECK(ops[3].status == NS_BUFFER_TOO_SMALL && ops[3].out_len == 12);
    CHECK(ops[4].status == NS_ERR_INVALID_ARGUMENT);
    CHECK(ops[5].status == NS_ERR_INVALID_ARGUMENT);
    CHECK(ops[6].status == NS_EXISTS && ops[6].out_len == 12);
    CHECK(ops[7].status == NS_ERR_INVALID_ARGUMENT);
    CHECK(ops[8].status == NS_MISMATCH);
    CHECK(ops[9].status == NS_ERR_INVALID_ARGUMENT);
    CHECK(ops[10].status == NS_OK);
    CHECK(ops[11].status == NS_BUFFER_TOO_SMALL && ops[11].out_len == 12);
    EXPECT(ns_get(m, S("cd2"), buf, sizeof buf, &len), NS_NOT_FOUND);
    EXPECT(ns_get(m, S("tk"), buf, sizeof buf, &len), NS_OK);
    CHECK(len == 12);
  }

  /* A large batch (more than the engine's on-stack split) over both shards. */
  {
    enum { N = 600 };
    static ns_op many[N];
    static uint8_t keys[N][4];
    memset(many, 0, sizeof many);
    for (i = 0; i < N; i++) {
      memcpy(keys[i], &i, 4);
      many[i].kind = NS_OP_ADD;
      many[i].key = keys[i % 50];
      many[i].key_len = 4;
      many[i].delta = 1;
    }
    EXPECT(ns_batch(m, many, N), NS_OK);
    for (i = 0; i < N; i++) CHECK(many[i].status == NS_OK && many[i].out_counter == (int64_t)(i / 50 + 1));
    EXPECT(ns_add(m, keys[0], 4, 0, &n), NS_OK);
    CHECK(n == N / 50);
  }

  /* Whole-call errors. */
  EXPECT(ns_batch(m, NULL, 0), NS_OK);
  EXPECT(ns_batch(m, NULL, 3), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_batch(NULL, NULL, 0), NS_ERR_INVALID_ARGUMENT);
  ops[0].status = NS_OK;
  EXPECT(ns_batch(NULL, ops, 1), NS_ERR_INVALID_ARGUMENT);
  CHECK(ops[0].status == NS_ERR_INVALID_ARGUMENT);
  ns_map_free(m);
}

/* ns_map_direct_read: the layout as C sees it (sizes, version, shard
 * count), the owned stripes handed to one caller, the too-small and
 * bad-argument answers, a closed map. The
 * protocol itself is checked against the engine's reads by a reference
 * reader in ffi/src/direct.rs and by the Go binding's tests. */
static void test_direct_read(void) {
  ns_map *m = open_map(8, 256, 0);
  ns_direct_read l;
  ns_direct_shard sh[3];
  CHECK(sizeof(ns_direct_read) == 64 && sizeof(ns_direct_shard) == 24);
  memset(&l, 0, sizeof l);
  EXPECT(ns_map_direct_read(m, &l, sh, 1), NS_BUFFER_TOO_SMALL);
  CHECK(l.version == NS_DIRECT_READ_VERSION && l.shards == 2);
  EXPECT(ns_map_direct_read(m, &l, sh, 3), NS_OK);
  CHECK(l.epoch != NULL && l.closed != NULL && *l.closed == 0 && l.stripes != NULL);
  CHECK(l.stripe_count >= 1 && l.stripe_stride >= 16);
  CHECK(l.owned_count >= 1 && l.owned_stripes != NULL && l.plain_entry <= 1);
  {
    /* The stripes a reader may own went to that first NS_OK answer. */
    ns_direct_read l2;
    EXPECT(ns_map_direct_read(m, &l2, sh, 3), NS_OK);
    CHECK(l2.owned_count == 0 && l2.owned_stripes == NULL && l2.stripes == l.stripes);
  }
  CHECK((uint8_t *)l.owned_stripes >= (uint8_t *)l.stripes + (size_t)l.stripe_count * l.stripe_stride);
  /* Flags: read directly, deadlines on CLOCK_MONOTONIC; nothing to mark or count. */
  CHECK(sh[0].direct == (NS_DIRECT_READ | NS_DIRECT_CLOCK) && sh[1].direct == sh[0].direct && sh[0].seq != sh[1].seq);
  CHECK(*sh[0].seq % 2 == 0 && *sh[0].table != 0);
  /* The home word follows the table word; 0: no records placed by hash. */
  CHECK(sh[0].home_offset == 8 && *(const uint64_t *)((const uint8_t *)sh[0].table + sh[0].home_offset) == 0);
  /* The counters word follows it: 0, this map counts no reads. */
  CHECK(*(const uint64_t *)((const uint8_t *)sh[0].table + sh[0].home_offset + 8) == 0);
  EXPECT(ns_map_direct_read(NULL, &l, sh, 3), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_map_direct_read(m, NULL, sh, 3), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_map_direct_read(m, &l, NULL, 3), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_map_close(m), NS_OK);
  CHECK(*l.closed == 1); /* valid until ns_map_free */
  EXPECT(ns_map_direct_read(m, &l, sh, 3), NS_ERR_CLOSED);
  ns_map_free(m);
}

/* ns_get_many: hits, misses, the empty key, values beyond the stride (and
 * the call's NS_BUFFER_TOO_SMALL), lengths only, too large keys, every
 * whole-call error, and a closed map. */
static void test_get_many(void) {
  ns_map *m = open_map(8, 256, 0);
  /* keys: "a" "bb" "" "zz" "c" "123456789" (9 > max_key_len 8) */
  const uint8_t keys[] = "abbzzc123456789";
  const size_t klens[6] = {1, 2, 0, 2, 1, 9};
  uint8_t out[6][4];
  size_t vlens[6];
  ns_status st[6];
  size_t i;
  EXPECT(ns_put(m, S("a"), S("one")), NS_OK);
  EXPECT(ns_put(m, S("bb"), S("")), NS_OK);
  EXPECT(ns_put(m, NULL, 0, S("ek")), NS_OK);
  EXPECT(ns_put(m, S("c"), S("toolong")), NS_OK);
  memset(out, 0x5A, sizeof out);
  for (i = 0; i < 6; i++) vlens[i] = 99, st[i] = (ns_status)-1;
  EXPECT(ns_get_many(m, 6, keys, klens, &out[0][0], 4, vlens, st), NS_BUFFER_TOO_SMALL);
  CHECK(st[0] == NS_OK && vlens[0] == 3 && memcmp(out[0], "one", 3) == 0 && out[0][3] == 0x5A);
  CHECK(st[1] == NS_OK && vlens[1] == 0 && out[1][0] == 0x5A);
  CHECK(st[2] == NS_OK && vlens[2] == 2 && memcmp(out[2], "ek", 2) == 0);
  CHECK(st[3] == NS_NOT_FOUND && vlens[3] == 0 && memcmp(out[3], "\x5A\x5A\x5A\x5A", 4) == 0); /* untouched */
  CHECK(st[4] == NS_BUFFER_TOO_SMALL && vlens[4] == 7 && out[4][0] == 0x5A); /* untouched */
  CHECK(st[5] == NS_ERR_KEY_TOO_LARGE && vlens[5] == 0 && memcmp(out[5], "\x5A\x5A\x5A\x5A", 4) == 0); /* untouched */
  /* Without the too small value and the bad key: NS_OK. */
  EXPECT(ns_get_many(m, 4, keys, klens, &out[0][0], 4, vlens, st), NS_OK);
  CHECK(st[0] == NS_OK && st[3] == NS_NOT_FOUND);
  /* Lengths only: NULL out with stride 0. */
  EXPECT(ns_get_many(m, 5, keys, klens, NULL, 0, vlens, st), NS_BUFFER_TOO_SMALL);
  CHECK(st[0] == NS_BUFFER_TOO_SMALL && vlens[0] == 3 && st[1] == NS_OK && vlens[1] == 0);
  CHECK(st[3] == NS_NOT_FOUND && st[4] == NS_BUFFER_TOO_SMALL && vlens[4] == 7);
  /* A stride with room for everything. */
  {
    uint8_t wide[5][8];
    EXPECT(ns_get_many(m, 5, keys, klens, &wide[0][0], 8, vlens, st), NS_OK);
    CHECK(st[4] == NS_OK && vlens[4] == 7 && memcmp(wide[4], "toolong", 7) == 0);
  }
  /* All keys empty: keys may be NULL. */
  {
    const size_t zero[2] = {0, 0};
    EXPECT(ns_get_many(m, 2, NULL, zero, &out[0][0], 4, vlens, st), NS_OK);
    CHECK(st[0] == NS_OK && st[1] == NS_OK && vlens[1] == 2 && memcmp(out[1], "ek", 2) == 0);
  }
  /* Whole-call errors: every status written when statuses is there. */
  EXPECT(ns_get_many(m, 0, NULL, NULL, NULL, 0, NULL, NULL), NS_OK);
  EXPECT(ns_get_many(NULL, 0, NULL, NULL, NULL, 0, NULL, NULL), NS_ERR_INVALID_ARGUMENT);
  for (i = 0; i < 6; i++) st[i] = NS_OK, vlens[i] = 7;
  EXPECT(ns_get_many(NULL, 2, keys, klens, &out[0][0], 4, vlens, st), NS_ERR_INVALID_ARGUMENT);
  CHECK(st[0] == NS_ERR_INVALID_ARGUMENT && st[1] == NS_ERR_INVALID_ARGUMENT && vlens[1] == 0 && st[2] == NS_OK);
  EXPECT(ns_get_many(m, 2, NULL, klens, &out[0][0], 4, vlens, st), NS_ERR_INVALID_ARGUMENT);
  CHECK(st[0] == NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_get_many(m, 2, keys, NULL, &out[0][0], 4, vlens, st), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_get_many(m, 2, keys, klens, NULL, 4, vlens, st), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_get_many(m, 2, keys, klens, &out[0][0], 4, NULL, st), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_get_many(m, 2, keys, klens, &out[0][0], 4, vlens, NULL), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_get_many(m, 2, keys, klens, &out[0][0], SIZE_MAX / 2, vlens, st), NS_ERR_INVALID_ARGUMENT);
  {
    const size_t huge[2] = {1, SIZE_MAX};
    EXPECT(ns_get_many(m, 2, keys, huge, &out[0][0], 4, vlens, st), NS_ERR_INVALID_ARGUMENT);
    CHECK(st[0] == NS_ERR_INVALID_ARGUMENT && st[1] == NS_ERR_INVALID_ARGUMENT);
  }
  EXPECT(ns_get_many(m, SIZE_MAX, keys, klens, &out[0][0], 0, NULL, NULL), NS_ERR_INVALID_ARGUMENT);
  /* Arrays written that overlap another argument: refused, nothing written. */
  {
    uint8_t mem[64];
    size_t lens2[2] = {1, 2};
    memcpy(mem, "abb", 3);
    for (i = 0; i < 6; i++) st[i] = (ns_status)-1, vlens[i] = 99;
    EXPECT(ns_get_many(m, 2, mem, lens2, mem + 2, 4, vlens, st), NS_ERR_INVALID_ARGUMENT); /* out on a key */
    CHECK(memcmp(mem, "abb", 3) == 0 && st[0] == (ns_status)-1 && vlens[0] == 99);
    EXPECT(ns_get_many(m, 2, keys, klens, &out[0][0], 4, vlens, (ns_status *)&vlens[1]), NS_ERR_INVALID_ARGUMENT);
    EXPECT(ns_get_many(m, 2, keys, klens, &out[0][0], 4, (size_t *)&out[1][0], st), NS_ERR_INVALID_ARGUMENT);
    EXPECT(ns_get_many(m, 2, keys, klens, &out[0][0], 4, (size_t *)klens, st), NS_ERR_INVALID_ARGUMENT);
    EXPECT(ns_get_many(m, 2, keys, klens, (uint8_t *)keys, 4, vlens, st), NS_ERR_INVALID_ARGUMENT);
    CHECK(st[0] == (ns_status)-1 && vlens[0] == 99 && klens[0] == 1 && klens[1] == 2);
    EXPECT(ns_get_many(m, 2, mem, lens2, mem + 3, 4, vlens, st), NS_OK); /* adjacent, apart */
    CHECK(st[0] == NS_OK && vlens[0] == 3 && memcmp(mem + 3, "one", 3) == 0);
  }
  /* A closed map. */
  EXPECT(ns_map_close(m), NS_OK);
  for (i = 0; i < 6; i++) st[i] = NS_OK;
  EXPECT(ns_get_many(m, 2, keys, klens, &out[0][0], 4, vlens, st), NS_ERR_CLOSED);
  CHECK(st[0] == NS_ERR_CLOSED && st[1] == NS_ERR_CLOSED && vlens[0] == 0);
  EXPECT(ns_get_many(m, 0, NULL, NULL, NULL, 0, NULL, NULL), NS_ERR_CLOSED);
  ns_map_free(m);
}

/* A read answered NS_BUFFER_TOO_SMALL read nothing: it is not a hit, so a
 * caller's retry with room counts once (single and batched gets). */
static void test_hits_count_once(void) {
  ns_config cfg;
  ns_map *m = NULL;
  ns_stats st;
  uint8_t buf[32];
  size_t len, vlen;
  ns_status s;
  const size_t klen = 1;
  ns_config_init(&cfg);
  cfg.shards = 2;
  cfg.record_stats = true;
  EXPECT(ns_map_new(&cfg, &m), NS_OK);
  EXPECT(ns_put(m, S("k"), S("a longer value")), NS_OK);
  EXPECT(ns_get(m, S("k"), buf, 4, &len), NS_BUFFER_TOO_SMALL);
  EXPECT(ns_get_many(m, 1, (const uint8_t *)"k", &klen, buf, 4, &vlen, &s), NS_BUFFER_TOO_SMALL);
  EXPECT(ns_stats_get(m, &st), NS_OK);
  CHECK(st.hits == 0 && st.misses == 0);
  EXPECT(ns_get(m, S("k"), buf, sizeof buf, &len), NS_OK);
  EXPECT(ns_get_many(m, 1, (const uint8_t *)"k", &klen, buf, sizeof buf, &vlen, &s), NS_OK);
  EXPECT(ns_get(m, S("absent"), buf, sizeof buf, &len), NS_NOT_FOUND);
  EXPECT(ns_stats_get(m, &st), NS_OK);
  CHECK(st.hits == 2 && st.misses == 1);
  ns_map_free(m);
}

static void test_stats(void) {
  ns_map *m = open_map(64, 256, 1 << 20);
  ns_stats st;
  ns_shard_stats ss;
  char small[8], *text;
  size_t len = 0, need;
  uint64_t entries = 0;
  uint32_t shard = 99, i;
  EXPECT(ns_put(m, S("a"), S("1")), NS_OK);
  EXPECT(ns_put(m, S("b"), S("22")), NS_OK);
  EXPECT(ns_stats_get(m, &st), NS_OK);
  CHECK(st.shards == 2 && st.entries == 2 && st.bytes > 3 && st.memory_limit == 1 << 20);
  CHECK(st.ops >= 2 && st.replace_count == 0 && st.mapped_bytes > 0);
  for (i = 0; i < st.shards; i++) {
    EXPECT(ns_shard_stats_get(m, i, &ss), NS_OK);
    CHECK(ss.shard == i && ss.memory_node == ss.node && ss.pages_on_node <= ss.pages_total);
    entries += ss.entries;
  }
  CHECK(entries == 2);
  EXPECT(ns_shard_stats_get(m, 2, &ss), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_shard_stats_get(m, UINT32_MAX, &ss), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_shard_stats_get(m, 0, NULL), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_stats_get(m, NULL), NS_ERR_INVALID_ARGUMENT);
  /* ns_shard_stats_get fills version 1 of the struct (up to expirations)
   * and leaves the later fields; ns_shard_stats_get_sized fills what the
   * caller's size covers, never more. */
  {
    const size_t v1 = offsetof(ns_shard_stats, pages_moved);
    union {
      ns_shard_stats s;
      unsigned char b[sizeof(ns_shard_stats) + 16];
    } u;
    unsigned char *big = u.b;
    ns_shard_stats *p = &u.s;
    memset(big, 0xAB, sizeof u.b);
    EXPECT(ns_shard_stats_get(m, 0, p), NS_OK);
    CHECK(p->shard == 0 && big[v1] == 0xAB && big[sizeof(ns_shard_stats) - 1] == 0xAB);
    memset(big, 0xAB, sizeof u.b);
    EXPECT(ns_shard_stats_get_sized(m, 0, p, v1), NS_OK);
    CHECK(p->shard == 0 && big[v1] == 0xAB);
    memset(big, 0xAB, sizeof u.b);
    EXPECT(ns_shard_stats_get_sized(m, 0, p, sizeof u.b), NS_OK);
    CHECK(p->index_slots >= 64 && p->pages_moved == 0 && p->grow_hold_max_ns < 1000000000u);
    CHECK(big[sizeof(ns_shard_stats)] == 0xAB && big[sizeof u.b - 1] == 0xAB);
    EXPECT(ns_shard_stats_get_sized(m, 0, p, v1 - 1), NS_ERR_INVALID_ARGUMENT);
    EXPECT(ns_shard_stats_get_sized(m, 0, NULL, sizeof *p), NS_ERR_INVALID_ARGUMENT);
    EXPECT(ns_shard_stats_get_sized(m, 2, p, sizeof *p), NS_ERR_INVALID_ARGUMENT);
  }
  EXPECT(ns_shard_of_key(m, S("a"), &shard), NS_OK);
  CHECK(shard < 2);
  EXPECT(ns_shard_of_key(m, S("a"), NULL), NS_ERR_INVALID_ARGUMENT);

  /* Prometheus text: size query, too small (untouched), then the text. */
  EXPECT(ns_stats_prometheus(m, NULL, 0, &len), NS_BUFFER_TOO_SMALL);
  CHECK(len > 100);
  memset(small, 'x', sizeof small);
  EXPECT(ns_stats_prometheus(m, small, sizeof small, &need), NS_BUFFER_TOO_SMALL);
  CHECK(need >= len && small[0] == 'x');
  need += 4096; /* counters may grow between calls */
  text = malloc(need);
  EXPECT(ns_stats_prometheus(m, text, need, &len), NS_OK);
  CHECK(len == strlen(text) + 1); /* *len counts the NUL */
  CHECK(strstr(text, "numashard_shards 2\n") != NULL);
  CHECK(strstr(text, "numashard_shard_entries{shard=\"0\"") != NULL);
  free(text);
  EXPECT(ns_stats_prometheus(m, NULL, 10, &len), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_stats_prometheus(m, small, sizeof small, NULL), NS_ERR_INVALID_ARGUMENT);

  /* Topology description. */
  EXPECT(ns_topology_describe(m, NULL, 0, &len), NS_BUFFER_TOO_SMALL);
  text = malloc(len);
  EXPECT(ns_topology_describe(m, text, len, &need), NS_OK);
  CHECK(need == len && strlen(text) + 1 == len);
  CHECK(strncmp(text, "system", 6) == 0 && strstr(text, "\nshard 1: node ") != NULL);
  EXPECT(ns_topology_describe(m, text, len - 1, &need), NS_BUFFER_TOO_SMALL);
  free(text);
  EXPECT(ns_topology_describe(m, small, sizeof small, NULL), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_map_shard_count(m, NULL), NS_ERR_INVALID_ARGUMENT);
  /* Closed: an argument error is still reported before NS_ERR_CLOSED. */
  EXPECT(ns_map_close(m), NS_OK);
  EXPECT(ns_shard_stats_get(m, 2, &ss), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_shard_stats_get_sized(m, 2, &ss, sizeof ss), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_shard_stats_get(m, 0, &ss), NS_ERR_CLOSED);
  ns_map_free(m);
}

static void test_iter_replace(void) {
  ns_map *m = open_map(64, 256, 4096);
  ns_iter *it = NULL;
  const uint8_t *k, *v;
  size_t kl, vl, len;
  int seen[40], i, count = 0;
  uint8_t keys[40][2], buf[8];
  ns_entry entries[40];
  ns_stats st;

  for (i = 0; i < 40; i++) {
    keys[i][0] = 'k';
    keys[i][1] = (uint8_t)i;
    seen[i] = 0;
    EXPECT(ns_put(m, keys[i], 2, keys[i], (size_t)(i % 3)), NS_OK);
  }
  EXPECT(ns_iter_new(m, &it), NS_OK);
  while (ns_iter_next(it, &k, &kl, &v, &vl) == NS_OK) {
    CHECK(kl == 2 && k[0] == 'k' && k[1] < 40);
    if (kl == 2 && k[1] < 40) {
      seen[k[1]]++;
      CHECK(vl == (size_t)(k[1] % 3) && (vl == 0 || memcmp(v, k, vl) == 0));
      CHECK(k != NULL && v != NULL);
    }
    /* Writers are never blocked by an unfinished iterator. */
    if (count++ == 3) EXPECT(ns_put(m, S("during"), S("x")), NS_OK);
  }
  for (i = 0; i < 40; i++) CHECK(seen[i] == 1);
  EXPECT(ns_iter_next(it, &k, &kl, &v, &vl), NS_NOT_FOUND); /* stays at the end */
  EXPECT(ns_iter_next(it, NULL, &kl, &v, &vl), NS_ERR_INVALID_ARGUMENT);
  /* A handle of one kind passed as the other: refused by its magic word,
   * read within the handle (valgrind checks the read). */
  EXPECT(ns_iter_next((ns_iter *)(void *)m, &k, &kl, &v, &vl), NS_ERR_INVALID_ARGUMENT);
  ns_iter_free((ns_iter *)(void *)m); /* not an iterator: ignored */
  EXPECT(ns_put((ns_map *)(void *)it, S("x"), S("1")), NS_ERR_INVALID_ARGUMENT);
  ns_map_free((ns_map *)(void *)it); /* not a map: ignored */
  EXPECT(ns_iter_next(it, &k, &kl, &v, NULL), NS_ERR_INVALID_ARGUMENT);
  ns_iter_free(it);
  ns_iter_free(NULL);
  EXPECT(ns_iter_next(NULL, &k, &kl, &v, &vl), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_iter_new(m, NULL), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_iter_new(NULL, &it), NS_ERR_INVALID_ARGUMENT);

  /* replace_all: atomic swap; duplicates: the later wins. */
  for (i = 0; i < 10; i++) {
    entries[i].key = keys[i];
    entries[i].key_len = 2;
    entries[i].value = (const uint8_t *)"new";
    entries[i].value_len = 3;
  }
  entries[9].key = keys[0];
  entries[9].value = (const uint8_t *)"newer";
  entries[9].value_len = 5;
  EXPECT(ns_replace_all(m, entries, 10), NS_OK);
  {
    uint64_t n;
    EXPECT(ns_len(m, &n), NS_OK);
    CHECK(n == 9);
  }
  EXPECT(ns_get(m, keys[0], 2, buf, sizeof buf, &len), NS_OK);
  CHECK(len == 5 && memcmp(buf, "newer", 5) == 0);
  EXPECT(ns_get(m, S("during"), buf, sizeof buf, &len), NS_NOT_FOUND);
  EXPECT(ns_stats_get(m, &st), NS_OK);
  CHECK(st.replace_count == 1);

  /* Any invalid entry, or over the limit: fails and changes nothing. */
  entries[3].key = NULL;
  EXPECT(ns_replace_all(m, entries, 10), NS_ERR_INVALID_ARGUMENT);
  entries[3].key = keys[3];
  entries[4].key_len = 65;
  EXPECT(ns_replace_all(m, entries, 10), NS_ERR_KEY_TOO_LARGE);
  entries[4].key_len = 2;
  entries[5].value_len = 257;
  EXPECT(ns_replace_all(m, entries, 10), NS_ERR_VALUE_TOO_LARGE);
  entries[5].value_len = 3;
  {
    static uint8_t big[256];
    ns_entry huge[40];
    for (i = 0; i < 40; i++) {
      huge[i].key = keys[i];
      huge[i].key_len = 2;
      huge[i].value = big;
      huge[i].value_len = sizeof big;
    }
    EXPECT(ns_replace_all(m, huge, 40), NS_ERR_FULL);
  }
  EXPECT(ns_get(m, keys[0], 2, buf, sizeof buf, &len), NS_OK);
  CHECK(len == 5);
  EXPECT(ns_replace_all(m, NULL, 1), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_replace_all(NULL, entries, 1), NS_ERR_INVALID_ARGUMENT);
  /* Empty contents: an atomic clear. */
  EXPECT(ns_replace_all(m, NULL, 0), NS_OK);
  {
    uint64_t n;
    EXPECT(ns_len(m, &n), NS_OK);
    CHECK(n == 0);
  }
  ns_map_free(m);
}

/* ns_iter_next_many entries: [key_len u32 LE][value_len u32 LE][key][value]. */
static uint32_t get_u32le(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Keys of test_iter_next_many: "n" + a 2-byte index, and the empty key
 * (index NKEYS - 1, with an empty value); value i: (i * 37) % 300 bytes
 * (0..299, so entries of 8..310 bytes) of a pattern of i. */
enum { NKEYS = 121 };

static size_t many_key(int i, uint8_t *key) {
  if (i == NKEYS - 1) return 0;
  key[0] = 'n';
  key[1] = (uint8_t)(i >> 8);
  key[2] = (uint8_t)i;
  return 3;
}

static size_t many_value(int i, uint8_t *out) {
  size_t len = i == NKEYS - 1 ? 0 : (size_t)(i * 37) % 300, j;
  for (j = 0; j < len; j++) out[j] = (uint8_t)(i * 13 + j);
  return len;
}

/* The index of a key of test_iter_next_many whose value is right, or -1. */
static int many_index(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  uint8_t want[300];
  int i;
  if (kl == 0) {
    i = NKEYS - 1;
  } else {
    if (kl != 3 || k[0] != 'n') return -1;
    i = k[1] << 8 | k[2];
    if (i >= NKEYS - 1) return -1;
  }
  if (vl != many_value(i, want) || (vl > 0 && memcmp(v, want, vl) != 0)) return -1;
  return i;
}

/* Checks the n entries in buf[0..used) (they must tile it exactly) and
 * counts them in seen; returns the size of the first entry. */
static size_t check_many(const uint8_t *buf, size_t n, size_t used, int *seen) {
  size_t off = 0, i, first = 0, kl, vl;
  int idx;
  CHECK(n >= 1);
  for (i = 0; i < n; i++) {
    CHECK(used - off >= NS_ITER_ENTRY_HEADER_SIZE);
    if (used - off < NS_ITER_ENTRY_HEADER_SIZE) return first;
    kl = get_u32le(buf + off);
    vl = get_u32le(buf + off + 4);
    CHECK(kl + vl <= used - off - NS_ITER_ENTRY_HEADER_SIZE);
    if (kl + vl > used - off - NS_ITER_ENTRY_HEADER_SIZE) return first;
    idx = many_index(buf + off + NS_ITER_ENTRY_HEADER_SIZE, kl, buf + off + NS_ITER_ENTRY_HEADER_SIZE + kl, vl);
    CHECK(idx >= 0);
    if (idx >= 0) seen[idx]++;
    if (i == 0) first = NS_ITER_ENTRY_HEADER_SIZE + kl + vl;
    off += NS_ITER_ENTRY_HEADER_SIZE + kl + vl;
  }
  CHECK(off == used);
  return first;
}

/* One full pass with ns_iter_next_many into a buffer of `cap` bytes (a
 * bigger one, of exactly the size reported, for an entry that does not
 * fit): every key exactly once with its value. `largest` is the size of
 * the largest entry. */
static void many_pass(ns_map *m, size_t cap, size_t largest) {
  ns_iter *it = NULL;
  uint8_t *buf = malloc(cap + 1), big[NS_ITER_ENTRY_HEADER_SIZE + 3 + 300];
  size_t n, used, need, calls = 0, too_small = 0;
  int seen[NKEYS], i;
  ns_status s;
  if (!buf) abort();
  memset(seen, 0, sizeof seen);
  EXPECT(ns_iter_new(m, &it), NS_OK);
  for (;;) {
    buf[cap] = 0xEE;
    s = ns_iter_next_many(it, buf, cap, &n, &used);
    if (s == NS_BUFFER_TOO_SMALL) {
      too_small++;
      CHECK(used > cap && used <= sizeof big);
      if (used <= cap || used > sizeof big) break;
      /* Not consumed: a buffer of exactly the size reported returns it
       * first, and alone (no entry takes fewer than 8 bytes). */
      need = used;
      s = ns_iter_next_many(it, big, need, &n, &used);
      EXPECT(s, NS_OK);
      if (s != NS_OK) break;
      CHECK(n == 1 && used == need);
      CHECK(check_many(big, n, used, seen) == need);
      continue;
    }
    if (s != NS_OK) break;
    calls++;
    CHECK(used <= cap && buf[cap] == 0xEE);
    check_many(buf, n, used, seen);
  }
  CHECK(s == NS_NOT_FOUND);
  for (i = 0; i < NKEYS; i++) CHECK(seen[i] == 1);
  /* A buffer that holds the whole map takes one call; one smaller than the
   * largest entry meets NS_BUFFER_TOO_SMALL, one as large never does. */
  if (cap >= 64 * 1024) CHECK(calls == 1);
  CHECK(cap < largest ? too_small > 0 : too_small == 0);
  EXPECT(ns_iter_next_many(it, buf, cap, &n, &used), NS_NOT_FOUND);
  ns_iter_free(it);
  free(buf);
}

static void test_iter_next_many(void) {
  ns_map *m = open_map(64, 4096, 0);
  ns_iter *it = NULL;
  uint8_t key[3], val[300], buf[1024], one[NS_ITER_ENTRY_HEADER_SIZE + 3 + 300 + 1];
  const uint8_t *k, *v;
  size_t kl, vl, n, used, need, j, largest = 0;
  int seen[NKEYS], i, idx;
  ns_status s;

  CHECK(NS_ITER_ENTRY_HEADER_SIZE == 8);
  for (i = 0; i < NKEYS; i++) {
    kl = many_key(i, key);
    vl = many_value(i, val);
    EXPECT(ns_put(m, key, kl, val, vl), NS_OK);
    if (NS_ITER_ENTRY_HEADER_SIZE + kl + vl > largest) largest = NS_ITER_ENTRY_HEADER_SIZE + kl + vl;
  }
  CHECK(largest > 300);
  memset(seen, 0, sizeof seen);
  EXPECT(ns_iter_new(m, &it), NS_OK);

  /* Bad arguments: NS_ERR_INVALID_ARGUMENT, outputs untouched, nothing consumed. */
  n = used = 777;
  EXPECT(ns_iter_next_many(NULL, buf, sizeof buf, &n, &used), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_iter_next_many(it, buf, sizeof buf, NULL, &used), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_iter_next_many(it, buf, sizeof buf, &n, NULL), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_iter_next_many(it, NULL, 16, &n, &used), NS_ERR_INVALID_ARGUMENT);
  CHECK(n == 777 && used == 777);

  /* (NULL, 0) is a size query: the next entry's size; it stays next. */
  EXPECT(ns_iter_next_many(it, NULL, 0, &n, &used), NS_BUFFER_TOO_SMALL);
  CHECK(n == 777 && used >= NS_ITER_ENTRY_HEADER_SIZE && used <= sizeof one - 1);
  need = used;
  /* One byte short: too small again, the same size, the buffer untouched. */
  memset(one, 0xEE, sizeof one);
  EXPECT(ns_iter_next_many(it, one, need - 1, &n, &used), NS_BUFFER_TOO_SMALL);
  CHECK(used == need && n == 777);
  for (j = 0; j < sizeof one; j++) CHECK(one[j] == 0xEE);
  /* Exactly the size: that entry alone, the byte after it untouched. */
  EXPECT(ns_iter_next_many(it, one, need, &n, &used), NS_OK);
  CHECK(n == 1 && used == need && one[need] == 0xEE);
  CHECK(check_many(one, n, used, seen) == need);

  /* Mixed with ns_iter_next on the same iterator. */
  EXPECT(ns_iter_next(it, &k, &kl, &v, &vl), NS_OK);
  idx = many_index(k, kl, v, vl);
  CHECK(idx >= 0);
  if (idx >= 0) seen[idx]++;
  /* An entry held back for lack of room is what ns_iter_next returns next. */
  EXPECT(ns_iter_next_many(it, NULL, 0, &n, &used), NS_BUFFER_TOO_SMALL);
  need = used;
  EXPECT(ns_iter_next(it, &k, &kl, &v, &vl), NS_OK);
  CHECK(NS_ITER_ENTRY_HEADER_SIZE + kl + vl == need);
  idx = many_index(k, kl, v, vl);
  CHECK(idx >= 0);
  if (idx >= 0) seen[idx]++;
  /* A buffer that holds several entries: they fill it from the start, in
   * used bytes, the rest untouched. */
  memset(buf, 0xEE, sizeof buf);
  EXPECT(ns_iter_next_many(it, buf, 700, &n, &used), NS_OK);
  CHECK(used <= 700 && n >= 2); /* entries take 8..310 bytes */
  for (j = used; j < sizeof buf; j++) CHECK(buf[j] == 0xEE);
  check_many(buf, n, used, seen);
  /* The rest, alternating the two calls. */
  for (i = 0;; i++) {
    if (i % 2 == 0) {
      s = ns_iter_next(it, &k, &kl, &v, &vl);
      if (s != NS_OK) break;
      idx = many_index(k, kl, v, vl);
      CHECK(idx >= 0);
      if (idx >= 0) seen[idx]++;
    } else {
      s = ns_iter_next_many(it, buf, sizeof buf, &n, &used);
      if (s != NS_OK) break;
      check_many(buf, n, used, seen);
    }
  }
  CHECK(s == NS_NOT_FOUND);
  for (i = 0; i < NKEYS; i++) CHECK(seen[i] == 1);
  /* The end stays the end, for both calls; outputs untouched. */
  n = used = 777;
  EXPECT(ns_iter_next_many(it, buf, sizeof buf, &n, &used), NS_NOT_FOUND);
  EXPECT(ns_iter_next_many(it, NULL, 0, &n, &used), NS_NOT_FOUND);
  EXPECT(ns_iter_next(it, &k, &kl, &v, &vl), NS_NOT_FOUND);
  EXPECT(ns_iter_next_many(it, buf, sizeof buf, &n, &used), NS_NOT_FOUND);
  CHECK(n == 777 && used == 777);
  ns_iter_free(it);

  /* Full passes: every key exactly once, with buffers smaller than some
   * entries (too small, then one of the size reported), than most, of
   * exactly the largest entry, and of the whole map. */
  many_pass(m, 8, largest);
  many_pass(m, 64, largest);
  many_pass(m, 200, largest);
  many_pass(m, largest - 1, largest);
  many_pass(m, largest, largest);
  many_pass(m, 1000, largest);
  many_pass(m, 64 * 1024, largest);

  /* An iterator freed with an entry held back leaks nothing (ASan, valgrind). */
  EXPECT(ns_iter_new(m, &it), NS_OK);
  EXPECT(ns_iter_next_many(it, NULL, 0, &n, &used), NS_BUFFER_TOO_SMALL);
  ns_iter_free(it);
  /* An empty map: the end at once. */
  EXPECT(ns_clear(m), NS_OK);
  EXPECT(ns_iter_new(m, &it), NS_OK);
  EXPECT(ns_iter_next_many(it, buf, sizeof buf, &n, &used), NS_NOT_FOUND);
  EXPECT(ns_iter_next_many(it, NULL, 0, &n, &used), NS_NOT_FOUND);
  ns_iter_free(it);
  ns_map_free(m);
}

/* Every call on a closed map, then on a freed one, is NS_ERR_CLOSED. */
static void expect_all_closed(ns_map *m) {
  uint8_t buf[8], *owned;
  size_t len;
  int64_t n;
  uint64_t u;
  uint32_t s;
  ns_stats st;
  ns_shard_stats ss;
  ns_iter *it;
  ns_op op;
  ns_entry e = {(const uint8_t *)"k", 1, (const uint8_t *)"v", 1};
  char text[64];
  memset(&op, 0, sizeof op);
  op.kind = NS_OP_GET;
  op.key = (const uint8_t *)"k";
  op.key_len = 1;
  EXPECT(ns_get(m, S("k"), buf, sizeof buf, &len), NS_ERR_CLOSED);
  EXPECT(ns_get_owned(m, S("k"), &owned, &len), NS_ERR_CLOSED);
  EXPECT(ns_put(m, S("k"), S("v")), NS_ERR_CLOSED);
  EXPECT(ns_put_if_absent(m, S("k"), S("v")), NS_ERR_CLOSED);
  EXPECT(ns_get_or_put(m, S("k"), S("v"), buf, sizeof buf, &len), NS_ERR_CLOSED);
  EXPECT(ns_delete(m, S("k")), NS_ERR_CLOSED);
  EXPECT(ns_take(m, S("k"), buf, sizeof buf, &len), NS_ERR_CLOSED);
  EXPECT(ns_take_owned(m, S("k"), &owned, &len), NS_ERR_CLOSED);
  EXPECT(ns_compare_and_swap(m, S("k"), S("v"), S("w")), NS_ERR_CLOSED);
  EXPECT(ns_compare_and_delete(m, S("k"), S("v")), NS_ERR_CLOSED);
  EXPECT(ns_swap(m, S("k"), S("v"), buf, sizeof buf, &len), NS_ERR_CLOSED);
  EXPECT(ns_add(m, S("k"), 1, &n), NS_ERR_CLOSED);
  EXPECT(ns_len(m, &u), NS_ERR_CLOSED);
  EXPECT(ns_clear(m), NS_ERR_CLOSED);
  EXPECT(ns_batch(m, &op, 1), NS_ERR_CLOSED);
  CHECK(op.status == NS_ERR_CLOSED);
  EXPECT(ns_batch(m, NULL, 0), NS_ERR_CLOSED);
  EXPECT(ns_stats_get(m, &st), NS_ERR_CLOSED);
  EXPECT(ns_shard_stats_get(m, 0, &ss), NS_ERR_CLOSED);
  EXPECT(ns_stats_prometheus(m, text, sizeof text, &len), NS_ERR_CLOSED);
  EXPECT(ns_topology_describe(m, text, sizeof text, &len), NS_ERR_CLOSED);
  EXPECT(ns_map_shard_count(m, &s), NS_ERR_CLOSED);
  EXPECT(ns_shard_of_key(m, S("k"), &s), NS_ERR_CLOSED);
  EXPECT(ns_iter_new(m, &it), NS_ERR_CLOSED);
  EXPECT(ns_replace_all(m, &e, 1), NS_ERR_CLOSED);
  EXPECT(ns_map_close(m), NS_ERR_CLOSED);
}

static void test_close_free(void) {
  ns_map *m = open_map(64, 256, 0);
  ns_iter *it = NULL, *it2 = NULL, *it3 = NULL;
  const uint8_t *k, *v;
  uint8_t buf[64];
  size_t kl, vl, n, used, total;
  int i;
  ns_status s;
  for (i = 0; i < 600; i++) EXPECT(ns_put(m, (const uint8_t *)&i, sizeof i, S("v")), NS_OK);
  EXPECT(ns_iter_new(m, &it), NS_OK);
  EXPECT(ns_iter_next(it, &k, &kl, &v, &vl), NS_OK);
  EXPECT(ns_iter_new(m, &it2), NS_OK);
  /* it3 has fetched a chunk and holds back the entry its buffer had no
   * room for (entries take 8 + 4 + 1 bytes; 11 were left). */
  EXPECT(ns_iter_new(m, &it3), NS_OK);
  EXPECT(ns_iter_next_many(it3, buf, 24, &n, &used), NS_OK);
  CHECK(n == 1 && used == 13);
  /* Unfinished iterators block neither writers nor clear nor close. */
  EXPECT(ns_put(m, S("while iterating"), S("v")), NS_OK);
  EXPECT(ns_clear(m), NS_OK);
  EXPECT(ns_map_close(m), NS_OK);
  EXPECT(ns_map_close(m), NS_ERR_CLOSED);
  expect_all_closed(m);
  expect_all_closed(m); /* and keeps doing so */
  /* An iterator opened before close: OK (its current chunk), then CLOSED. */
  do {
    s = ns_iter_next(it, &k, &kl, &v, &vl);
  } while (s == NS_OK);
  CHECK(s == NS_ERR_CLOSED);
  EXPECT(ns_iter_next(it, &k, &kl, &v, &vl), NS_ERR_CLOSED);
  EXPECT(ns_iter_next_many(it, buf, sizeof buf, &n, &used), NS_ERR_CLOSED);
  ns_iter_free(it);
  /* The same with ns_iter_next_many: whole entries of what was fetched
   * (the held one included), then CLOSED, which stays, outputs untouched. */
  total = 1;
  while ((s = ns_iter_next_many(it3, buf, sizeof buf, &n, &used)) == NS_OK) {
    CHECK(n >= 1 && used == 13 * n);
    total += n;
  }
  CHECK(s == NS_ERR_CLOSED && total >= 2 && total < 600);
  n = used = 777;
  EXPECT(ns_iter_next_many(it3, buf, sizeof buf, &n, &used), NS_ERR_CLOSED);
  EXPECT(ns_iter_next_many(it3, NULL, 0, &n, &used), NS_ERR_CLOSED);
  CHECK(n == 777 && used == 777);
  ns_map_free(m);
  EXPECT(ns_iter_next_many(it3, buf, sizeof buf, &n, &used), NS_ERR_CLOSED);
  ns_iter_free(it3);
  /* After free: every call on the dangling handle is CLOSED; free again is a no-op. */
  expect_all_closed(m);
  ns_map_free(m);
  /* An iterator may be freed after its map. */
  EXPECT(ns_iter_next(it2, &k, &kl, &v, &vl), NS_ERR_CLOSED);
  EXPECT(ns_iter_next_many(it2, buf, sizeof buf, &n, &used), NS_ERR_CLOSED);
  EXPECT(ns_iter_next_many(it2, NULL, 0, &n, &used), NS_ERR_CLOSED);
  ns_iter_free(it2);

  /* Free without close closes. */
  m = open_map(64, 256, 0);
  EXPECT(ns_put(m, S("k"), S("v")), NS_OK);
  EXPECT(ns_iter_new(m, &it), NS_OK);
  ns_map_free(m);
  expect_all_closed(m);
  EXPECT(ns_iter_next_many(it, buf, sizeof buf, &n, &used), NS_ERR_CLOSED);
  EXPECT(ns_iter_next(it, &k, &kl, &v, &vl), NS_ERR_CLOSED);
  ns_iter_free(it);
  ns_map_free(NULL);
  EXPECT(ns_map_close(NULL), NS_ERR_INVALID_ARGUMENT);
}

/* Cache mode from C: TTLs on single calls and batch ops, EXPIRE / PERSIST /
 * TTL, the config fields, eviction within the limit, the cache counters. */
static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void test_ttl_and_eviction(void) {
  ns_config cfg;
  ns_map *m = NULL;
  uint8_t buf[64];
  size_t len = 0;
  int64_t left = 0;
  ns_stats st;
  ns_op ops[4];
  uint64_t i;

  ns_config_init(&cfg);
  CHECK(cfg.eviction == NS_EVICTION_NONE && cfg.default_ttl_ms == 0 && !cfg.record_stats);
  cfg.eviction = 7;
  EXPECT(ns_config_check(&cfg), NS_ERR_INVALID_ARGUMENT);
  cfg.eviction = NS_EVICTION_S3FIFO; /* without a memory limit */
  EXPECT(ns_config_check(&cfg), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_map_new(&cfg, &m), NS_ERR_INVALID_ARGUMENT);
  CHECK(m == NULL);

  m = open_map(64, 64, 0);
  EXPECT(ns_put_ttl(m, S("short"), S("v1"), 30), NS_OK);
  EXPECT(ns_put_ttl(m, S("long"), S("v2"), 3600 * 1000), NS_OK);
  EXPECT(ns_put(m, S("plain"), S("v3")), NS_OK);
  EXPECT(ns_ttl(m, S("plain"), &left), NS_OK);
  CHECK(left == -1);
  EXPECT(ns_ttl(m, S("long"), &left), NS_OK);
  CHECK(left > 3599 * 1000 && left <= 3600 * 1000);
  EXPECT(ns_ttl(m, S("absent"), &left), NS_NOT_FOUND);
  EXPECT(ns_ttl(m, S("plain"), NULL), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_put_if_absent_ttl(m, S("long"), S("x"), 10), NS_EXISTS);
  EXPECT(ns_persist(m, S("long")), NS_OK);
  EXPECT(ns_ttl(m, S("long"), &left), NS_OK);
  CHECK(left == -1);
  EXPECT(ns_expire(m, S("plain"), 20), NS_OK);
  EXPECT(ns_expire(m, S("absent"), 20), NS_NOT_FOUND);
  /* Both expire within tens of milliseconds; under valgrind time runs
   * slower, so poll (bounded) rather than trust one sleep. */
  {
    int waited = 0;
    while ((ns_get(m, S("short"), buf, sizeof buf, &len) != NS_NOT_FOUND ||
            ns_get(m, S("plain"), buf, sizeof buf, &len) != NS_NOT_FOUND) &&
           waited < 20000) {
      sleep_ms(10);
      waited += 10;
    }
    CHECK(waited < 20000);
  }
  EXPECT(ns_get(m, S("short"), buf, sizeof buf, &len), NS_NOT_FOUND);
  EXPECT(ns_get(m, S("plain"), buf, sizeof buf, &len), NS_NOT_FOUND);
  EXPECT(ns_get(m, S("long"), buf, sizeof buf, &len), NS_OK);
  EXPECT(ns_put_if_absent_ttl(m, S("short"), S("again"), NS_NO_EXPIRY), NS_OK);
  EXPECT(ns_expire(m, S("short"), 0), NS_OK); /* expire now: removed */
  EXPECT(ns_get(m, S("short"), buf, sizeof buf, &len), NS_NOT_FOUND);
  {
    uint64_t n = 99;
    EXPECT(ns_len(m, &n), NS_OK);
    CHECK(n == 1);
  }

  /* batch kinds: PUT with ttl_ms, TTL, EXPIRE; unknown kinds still rejected */
  memset(ops, 0, sizeof ops);
  ops[0].kind = NS_OP_PUT;
  ops[0].key = (const uint8_t *)"b";
  ops[0].key_len = 1;
  ops[0].value = (const uint8_t *)"vv";
  ops[0].value_len = 2;
  ops[0].ttl_ms = 5000;
  ops[1].kind = NS_OP_TTL;
  ops[1].key = (const uint8_t *)"b";
  ops[1].key_len = 1;
  ops[2].kind = NS_OP_EXPIRE;
  ops[2].key = (const uint8_t *)"b";
  ops[2].key_len = 1;
  ops[2].ttl_ms = NS_NO_EXPIRY;
  ops[3].kind = 11;
  EXPECT(ns_batch(m, ops, 4), NS_OK);
  CHECK(ops[0].status == NS_OK && ops[1].status == NS_OK && ops[2].status == NS_OK);
  CHECK(ops[1].out_counter > 4000 && ops[1].out_counter <= 5000);
  CHECK(ops[3].status == NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_ttl(m, S("b"), &left), NS_OK);
  CHECK(left == -1);
  EXPECT(ns_stats_get(m, &st), NS_OK);
  CHECK(st.expirations >= 3 && st.evictions == 0);
  ns_map_free(m);

  /* eviction: a cache of 64 KiB never answers FULL and stays within it */
  ns_config_init(&cfg);
  cfg.shards = 2;
  cfg.memory_limit = 64 * 1024;
  cfg.eviction = NS_EVICTION_S3FIFO;
  cfg.default_ttl_ms = 3600 * 1000;
  EXPECT(ns_map_new(&cfg, &m), NS_OK);
  for (i = 0; i < 5000; i++) {
    uint8_t key[8], val[40];
    memcpy(key, &i, 8);
    memset(val, (int)i, sizeof val);
    EXPECT(ns_put(m, key, 8, val, sizeof val), NS_OK);
    if (i % 3 == 0) {
      size_t got = 0;
      ns_status s = ns_get(m, key, 8, buf, sizeof buf, &got);
      CHECK(s == NS_OK && got == sizeof val && buf[0] == (uint8_t)i);
    }
  }
  EXPECT(ns_ttl(m, (const uint8_t *)&i, 0, &left), NS_NOT_FOUND);
  EXPECT(ns_stats_get(m, &st), NS_OK);
  CHECK(st.bytes <= 64 * 1024 && st.evictions > 4000 && st.hits >= 1667 && st.entries < 1000);
  CHECK(st.memory_limit == 64 * 1024);
  {
    uint8_t big[40000];
    memset(big, 1, sizeof big);
    EXPECT(ns_put(m, S("big"), big, sizeof big), NS_ERR_FULL); /* larger than a shard's share */
  }
  ns_map_free(m);
  EXPECT(ns_put_ttl(NULL, S("k"), S("v"), 1), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_expire(NULL, S("k"), 1), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_ttl(NULL, S("k"), &left), NS_ERR_INVALID_ARGUMENT);
}

int main(void) {
  test_version();
  test_status_str();
  test_config_init_sizes();
  test_config();
  test_get_put();
  test_owned();
  test_conditional();
  test_len_clear_full();
  test_batch();
  test_get_many();
  test_direct_read();
  test_hits_count_once();
  test_stats();
  test_iter_replace();
  test_iter_next_many();
  test_close_free();
  test_ttl_and_eviction();
  return report("test_api");
}
