/* A small C program using numashard: open a map, store and read values,
 * count with atomic adds, run a batch, iterate, print stats. Built by
 * bindings/c/Makefile through pkg-config. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <numashard.h>

#define TRY(call)                                                              \
  do {                                                                         \
    ns_status s_ = (call);                                                     \
    if (s_ != NS_OK) {                                                         \
      fprintf(stderr, "%s: %s\n", #call, ns_status_str(s_));                   \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

int main(void) {
  ns_config cfg;
  ns_map *map;
  ns_stats st;
  ns_iter *it;
  ns_op ops[3];
  uint8_t buf[64];
  size_t len, klen, vlen;
  const uint8_t *k, *v;
  int64_t hits = 0;
  uint64_t n;
  int i;

  if (ns_version_number() != NS_VERSION_NUMBER) {
    fprintf(stderr, "header %d and library %s differ\n", NS_VERSION_NUMBER, ns_version());
    return 1;
  }
  ns_config_init(&cfg);
  cfg.shards = 2;
  cfg.memory_limit = 64 << 20;
  TRY(ns_map_new(&cfg, &map));

  TRY(ns_put(map, (const uint8_t *)"greeting", 8, (const uint8_t *)"hello, numa", 11));
  TRY(ns_get(map, (const uint8_t *)"greeting", 8, buf, sizeof buf, &len));
  printf("greeting = %.*s\n", (int)len, (const char *)buf);

  for (i = 0; i < 10; i++) TRY(ns_add(map, (const uint8_t *)"hits", 4, 1, &hits));
  printf("hits = %" PRId64 "\n", hits);

  /* One call, three operations, a status each. */
  memset(ops, 0, sizeof ops);
  ops[0].kind = NS_OP_PUT;
  ops[0].key = (const uint8_t *)"a";
  ops[0].key_len = 1;
  ops[0].value = (const uint8_t *)"1";
  ops[0].value_len = 1;
  ops[1].kind = NS_OP_GET;
  ops[1].key = (const uint8_t *)"a";
  ops[1].key_len = 1;
  ops[1].out = buf;
  ops[1].out_cap = sizeof buf;
  ops[2].kind = NS_OP_DELETE;
  ops[2].key = (const uint8_t *)"missing";
  ops[2].key_len = 7;
  TRY(ns_batch(map, ops, 3));
  for (i = 0; i < 3; i++) printf("batch op %d: %s\n", i, ns_status_str(ops[i].status));

  TRY(ns_iter_new(map, &it));
  while (ns_iter_next(it, &k, &klen, &v, &vlen) == NS_OK)
    printf("entry %.*s (%zu value bytes)\n", (int)klen, (const char *)k, vlen);
  ns_iter_free(it);

  TRY(ns_len(map, &n));
  TRY(ns_stats_get(map, &st));
  printf("%" PRIu64 " entries on %" PRIu32 " shards, %" PRIu64 " bytes charged, binding %s\n", n,
         st.shards, st.bytes, st.binding_applied ? "applied" : "not applied");

  TRY(ns_map_close(map));
  ns_map_free(map);
  return 0;
}
