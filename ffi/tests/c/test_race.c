/* Calls racing ns_map_close: worker threads run every kind of call on one
 * map while two threads close it. Every call must return an outcome (< 100)
 * or NS_ERR_CLOSED; once a thread has seen NS_ERR_CLOSED every later call
 * is NS_ERR_CLOSED; exactly one of the racing closes returns NS_OK; after
 * close everything is NS_ERR_CLOSED. Usage: test_race [rounds] */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

enum { WORKERS = 4, KEYS = 64 };

struct shared {
  ns_map *m;
  unsigned close_after_us;
  ns_status close_status[2];
  pthread_mutex_t lock;
  int bad, calls;
};

static void sleep_us(unsigned us) {
  struct timespec ts;
  ts.tv_sec = us / 1000000;
  ts.tv_nsec = (long)(us % 1000000) * 1000;
  nanosleep(&ts, NULL);
}

static uint32_t next_rand(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

/* One random call; returns its status. Counter keys (even) hold 8-byte
 * values only, so NS_ERR_NOT_A_COUNTER cannot happen. */
static ns_status one_call(ns_map *m, uint32_t *rnd) {
  uint8_t key[2], buf[32], *owned;
  size_t len;
  int64_t n;
  uint64_t u;
  uint32_t r = next_rand(rnd), k = (r >> 8) % KEYS;
  key[0] = 'k';
  key[1] = (uint8_t)(k | 1); /* odd: byte values */
  switch (r % 14) {
  case 0: return ns_put(m, key, 2, (const uint8_t *)"value", (r >> 20) % 6);
  case 1: return ns_get(m, key, 2, buf, (r >> 20) % 8, &len);
  case 2:
    if ((r >> 20) & 1) return ns_delete(m, key, 2);
    return ns_compare_and_delete(m, key, 2, (const uint8_t *)"value", (r >> 21) % 6);
  case 3: return ns_take(m, key, 2, buf, sizeof buf, &len);
  case 4: return ns_put_if_absent(m, key, 2, (const uint8_t *)"pia", 3);
  case 5:
    if ((r >> 20) & 1) return ns_swap(m, key, 2, (const uint8_t *)"swap", 4, buf, (r >> 21) % 8, &len);
    return ns_compare_and_swap(m, key, 2, (const uint8_t *)"val", 3, (const uint8_t *)"cas", 3);
  case 6: {
    ns_status s = ns_get_owned(m, key, 2, &owned, &len);
    if (s == NS_OK) ns_bytes_free(owned, len);
    return s;
  }
  case 7:
    key[1] = (uint8_t)(k & ~1u); /* even: counters */
    return ns_add(m, key, 2, 1, &n);
  case 8: return ns_len(m, &u);
  case 9: {
    ns_op ops[4];
    int i;
    ns_status s;
    memset(ops, 0, sizeof ops);
    for (i = 0; i < 4; i++) {
      ops[i].kind = (i & 1) ? NS_OP_GET : NS_OP_PUT;
      ops[i].key = key;
      ops[i].key_len = 2;
      ops[i].value = (const uint8_t *)"batch";
      ops[i].value_len = 5;
      ops[i].out = buf;
      ops[i].out_cap = sizeof buf;
    }
    s = ns_batch(m, ops, 4);
    for (i = 0; i < 4; i++)
      if (!(ops[i].status < 100 || ops[i].status == NS_ERR_CLOSED) || (s == NS_ERR_CLOSED && ops[i].status != NS_ERR_CLOSED))
        return NS_ERR_PANIC; /* reported as a bad status */
    return s;
  }
  case 10: {
    ns_stats st;
    return ns_stats_get(m, &st);
  }
  case 11: {
    ns_iter *it;
    const uint8_t *kp, *vp;
    size_t kl, vl;
    int i;
    ns_status s = ns_iter_new(m, &it);
    if (s != NS_OK) return s;
    for (i = 0; i < 8 && (s = ns_iter_next(it, &kp, &kl, &vp, &vl)) == NS_OK; i++) {
      if (kl != 2 || kp[0] != 'k') s = NS_ERR_PANIC;
    }
    ns_iter_free(it);
    /* An iterator opened before close answers OK, NOT_FOUND or CLOSED;
     * ns_iter_new itself reported the map's state. */
    return (s == NS_OK || s == NS_NOT_FOUND || s == NS_ERR_CLOSED) ? NS_OK : s;
  }
  case 12: return ns_get_or_put(m, key, 2, (const uint8_t *)"gop", 3, buf, sizeof buf, &len);
  default: {
    char text[16];
    return ns_stats_prometheus(m, text, sizeof text, &len);
  }
  }
}

static void *worker(void *arg) {
  struct shared *sh = arg;
  uint32_t rnd = 0x9E3779B9u ^ (uint32_t)(uintptr_t)&rnd;
  int seen_closed = 0, after = 0, calls = 0, bad = 0;
  while (after < 200) {
    ns_status s = one_call(sh->m, &rnd);
    calls++;
    if (!(s < 100 || s == NS_ERR_CLOSED)) {
      bad++;
      fprintf(stderr, "worker: unexpected status %d (%s)\n", (int)s, ns_status_str(s));
    }
    if (s == NS_ERR_CLOSED) {
      seen_closed = 1;
    } else if (seen_closed) {
      /* Closing is monotonic: once seen, every call stays closed. */
      bad++;
      fprintf(stderr, "worker: status %d after NS_ERR_CLOSED\n", (int)s);
    }
    if (seen_closed) after++;
    if (calls > 50000000) break;
  }
  pthread_mutex_lock(&sh->lock);
  sh->bad += bad;
  sh->calls += calls;
  pthread_mutex_unlock(&sh->lock);
  return NULL;
}

struct closer {
  struct shared *sh;
  int which;
};

static void *closer(void *arg) {
  struct closer *c = arg;
  sleep_us(c->sh->close_after_us);
  c->sh->close_status[c->which] = ns_map_close(c->sh->m);
  return NULL;
}

static void expect_closed_everywhere(ns_map *m) {
  uint8_t buf[8];
  size_t len;
  int64_t n;
  uint64_t u;
  ns_iter *it;
  ns_stats st;
  EXPECT(ns_put(m, S("k"), S("v")), NS_ERR_CLOSED);
  EXPECT(ns_get(m, S("k"), buf, sizeof buf, &len), NS_ERR_CLOSED);
  EXPECT(ns_add(m, S("k"), 1, &n), NS_ERR_CLOSED);
  EXPECT(ns_len(m, &u), NS_ERR_CLOSED);
  EXPECT(ns_clear(m), NS_ERR_CLOSED);
  EXPECT(ns_iter_new(m, &it), NS_ERR_CLOSED);
  EXPECT(ns_stats_get(m, &st), NS_ERR_CLOSED);
  EXPECT(ns_map_close(m), NS_ERR_CLOSED);
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 20, r, i, total_calls = 0;
  for (r = 0; r < rounds; r++) {
    struct shared sh;
    struct closer cl[2];
    pthread_t w[WORKERS], c[2];
    ns_config cfg;
    ns_config_init(&cfg);
    cfg.shards = 2;
    cfg.exec_mode = (r % 2) ? NS_EXEC_DELEGATE : NS_EXEC_AUTO;
    memset(&sh, 0, sizeof sh);
    pthread_mutex_init(&sh.lock, NULL);
    sh.close_after_us = 200u + (unsigned)(r * 997) % 20000u;
    EXPECT(ns_map_new(&cfg, &sh.m), NS_OK);
    for (i = 0; i < WORKERS; i++) pthread_create(&w[i], NULL, worker, &sh);
    for (i = 0; i < 2; i++) {
      cl[i].sh = &sh;
      cl[i].which = i;
      pthread_create(&c[i], NULL, closer, &cl[i]);
    }
    for (i = 0; i < 2; i++) pthread_join(c[i], NULL);
    for (i = 0; i < WORKERS; i++) pthread_join(w[i], NULL);
    /* Exactly one of the racing closes closed the map. */
    CHECK((sh.close_status[0] == NS_OK) != (sh.close_status[1] == NS_OK));
    CHECK(sh.close_status[0] == NS_OK || sh.close_status[0] == NS_ERR_CLOSED);
    CHECK(sh.close_status[1] == NS_OK || sh.close_status[1] == NS_ERR_CLOSED);
    CHECK(sh.bad == 0);
    expect_closed_everywhere(sh.m);
    ns_map_free(sh.m);
    expect_closed_everywhere(sh.m);
    total_calls += sh.calls;
    pthread_mutex_destroy(&sh.lock);
  }
  printf("test_race: %d rounds, %d calls racing close\n", rounds, total_calls);
  return report("test_race");
}
