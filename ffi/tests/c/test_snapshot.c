/* Snapshots from C: ns_map_save and ns_map_open_snapshot, their reports,
 * statuses and messages, and the bad inputs the header documents. Plain
 * C99 plus POSIX directories; run under ASan+UBSan and valgrind by
 * scripts/test-c.sh. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define N 5000

static ns_map *open_map(uint32_t shards) {
  ns_config cfg;
  ns_map *m = NULL;
  ns_config_init(&cfg);
  cfg.shards = shards;
  EXPECT(ns_map_new(&cfg, &m), NS_OK);
  CHECK(m != NULL);
  return m;
}

/* Key i in k (64 bytes, zero-padded: values are its first i % 40 bytes). */
static void key_of(int i, char *k, size_t cap) {
  memset(k, 0, cap);
  snprintf(k, cap, "key-%06d", i);
}

/* The path of the first data file (*.nss) in dir, into out. */
static int data_file(const char *dir, char *out, size_t cap) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int found = 0;
  if (d == NULL) return 0;
  while (!found && (e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n > 4 && strcmp(e->d_name + n - 4, ".nss") == 0) {
      snprintf(out, cap, "%s/%s", dir, e->d_name);
      found = 1;
    }
  }
  closedir(d);
  return found;
}

static long file_size(const char *path) {
  FILE *f = fopen(path, "rb");
  long n;
  if (f == NULL) return -1;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fclose(f);
  return n;
}

/* Flips one bit of the byte at `at` of `path` (twice restores it). */
static void flip(const char *path, long at) {
  FILE *f = fopen(path, "r+b");
  int c;
  CHECK(f != NULL);
  if (f == NULL) return;
  fseek(f, at, SEEK_SET);
  c = fgetc(f);
  fseek(f, at, SEEK_SET);
  fputc(c ^ 0x10, f);
  fclose(f);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (f == NULL) return;
  fputs(text, f);
  fclose(f);
}

static void test_statuses(void) {
  static const ns_status all[] = {NS_ERR_IO, NS_ERR_NO_SNAPSHOT, NS_ERR_NOT_A_SNAPSHOT,
                                  NS_ERR_SNAPSHOT_VERSION, NS_ERR_SNAPSHOT_CORRUPT,
                                  NS_ERR_SNAPSHOT_BUSY};
  size_t i, j;
  CHECK(NS_ERR_IO == 120 && NS_ERR_SNAPSHOT_BUSY == 125);
  for (i = 0; i < sizeof all / sizeof all[0]; i++) {
    const char *s = ns_status_str(all[i]);
    CHECK(s != NULL && s[0] != '\0' && strcmp(s, "unknown status") != 0);
    for (j = 0; j < i; j++) CHECK(strcmp(s, ns_status_str(all[j])) != 0);
  }
  CHECK(strcmp(ns_status_str((ns_status)119), "unknown status") == 0);
  CHECK(strcmp(ns_status_str((ns_status)126), "unknown status") == 0);
}

static void test_save_and_open(const char *dir) {
  ns_map *m = open_map(2), *loaded = NULL;
  ns_save_report r;
  ns_config cfg;
  char k[64], msg[256], path[1024];
  uint8_t buf[64];
  size_t len;
  uint64_t n = 0;
  int64_t counter = 0;
  int i, ok = 1;
  for (i = 0; i < N; i++) {
    key_of(i, k, sizeof k);
    EXPECT(ns_put(m, (const uint8_t *)k, strlen(k), (const uint8_t *)k, (size_t)(i % 40)), NS_OK);
  }
  EXPECT(ns_add(m, S("counter"), 41, &counter), NS_OK);
  memset(&r, 0, sizeof r);
  EXPECT(ns_map_save(m, dir, &r, msg, sizeof msg), NS_OK);
  CHECK(msg[0] == '\0');
  CHECK(r.entries == N + 1 && r.shards == 2 && r.generation >= 1 && r.bytes > (uint64_t)N * 16);
  CHECK(r.elapsed_ns > 0 && r.start_stall_ns <= r.elapsed_ns);
  /* Without a message buffer, and a second save replaces the first. */
  EXPECT(ns_map_save(m, dir, &r, NULL, 0), NS_OK);
  CHECK(r.generation >= 2);

  ns_config_init(&cfg);
  cfg.shards = 3;
  EXPECT(ns_map_open_snapshot(&cfg, dir, &loaded, msg, sizeof msg), NS_OK);
  CHECK(loaded != NULL);
  EXPECT(ns_len(loaded, &n), NS_OK);
  CHECK(n == N + 1);
  for (i = 0; i < N; i++) {
    key_of(i, k, sizeof k);
    if (ns_get(loaded, (const uint8_t *)k, strlen(k), buf, sizeof buf, &len) != NS_OK || len != (size_t)(i % 40) ||
        memcmp(buf, k, len) != 0)
      ok = 0;
  }
  CHECK(ok);
  EXPECT(ns_add(loaded, S("counter"), 1, &counter), NS_OK);
  CHECK(counter == 42);
  ns_map_free(loaded);
  /* NULL config: defaults. */
  loaded = NULL;
  EXPECT(ns_map_open_snapshot(NULL, dir, &loaded, NULL, 0), NS_OK);
  CHECK(loaded != NULL);
  ns_map_free(loaded);

  /* Bad arguments. */
  EXPECT(ns_map_save(NULL, dir, &r, NULL, 0), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_map_save(m, NULL, &r, NULL, 0), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_map_save(m, "", &r, NULL, 0), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_map_save(m, dir, NULL, NULL, 0), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_map_save(m, dir, &r, NULL, 5), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_map_open_snapshot(NULL, dir, NULL, NULL, 0), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_map_open_snapshot(NULL, NULL, &loaded, NULL, 0), NS_ERR_INVALID_ARGUMENT);
  EXPECT(ns_map_open_snapshot(NULL, dir, &loaded, NULL, 3), NS_ERR_INVALID_ARGUMENT);
  /* A message buffer over the directory's name (its NUL included): refused
   * before anything is written, the name intact. */
  {
    size_t n_dir = strlen(dir);
    snprintf(path, sizeof path, "%s", dir);
    EXPECT(ns_map_save(m, path, &r, path + n_dir / 2, 16), NS_ERR_INVALID_ARGUMENT);
    EXPECT(ns_map_save(m, path, &r, path + n_dir, 16), NS_ERR_INVALID_ARGUMENT);
    EXPECT(ns_map_open_snapshot(NULL, path, &loaded, path, 4), NS_ERR_INVALID_ARGUMENT);
    EXPECT(ns_map_save(m, path, &r, (char *)&r, sizeof r), NS_ERR_INVALID_ARGUMENT); /* msg over the report */
    EXPECT(ns_map_open_snapshot(NULL, path, (ns_map **)msg, msg, sizeof msg), NS_ERR_INVALID_ARGUMENT);
    CHECK(strcmp(path, dir) == 0);
    EXPECT(ns_map_save(m, path, &r, path + n_dir + 1, 16), NS_OK); /* just past the NUL: apart */
  }
  /* A directory that cannot be created (under a regular file): I/O, with the reason. */
  snprintf(path, sizeof path, "%s/numashard.snapshot/sub", dir);
  EXPECT(ns_map_save(m, path, &r, msg, sizeof msg), NS_ERR_IO);
  CHECK(strstr(msg, "numashard.snapshot") != NULL);
  /* A short message buffer: truncated, NUL-terminated. */
  memset(msg, 'x', sizeof msg);
  EXPECT(ns_map_save(m, path, &r, msg, 8), NS_ERR_IO);
  CHECK(strlen(msg) == 7 && msg[8] == 'x');

  /* Closed and freed maps. */
  EXPECT(ns_map_close(m), NS_OK);
  EXPECT(ns_map_save(m, dir, &r, msg, sizeof msg), NS_ERR_CLOSED);
  CHECK(strlen(msg) > 0);
  ns_map_free(m);
  EXPECT(ns_map_save(m, dir, &r, NULL, 0), NS_ERR_CLOSED);
}

static void test_damaged(const char *dir) {
  ns_map *loaded = (ns_map *)(uintptr_t)1; /* must stay untouched on errors */
  char msg[512], path[1024], manifest[1024], missing[1024];
  long size;
  snprintf(manifest, sizeof manifest, "%s/numashard.snapshot", dir);
  snprintf(missing, sizeof missing, "%s/none-here", dir);
  EXPECT(ns_map_open_snapshot(NULL, missing, &loaded, msg, sizeof msg), NS_ERR_NO_SNAPSHOT);
  CHECK(strstr(msg, "numashard.snapshot") != NULL);
  CHECK(data_file(dir, path, sizeof path));
  size = file_size(path);
  CHECK(size > 1000);
  /* A bit flip in the middle of a block. */
  flip(path, size / 2);
  EXPECT(ns_map_open_snapshot(NULL, dir, &loaded, msg, sizeof msg), NS_ERR_SNAPSHOT_CORRUPT);
  CHECK(strstr(msg, "checksum") != NULL);
  flip(path, size / 2);
  /* Truncated by one byte. */
  CHECK(truncate(path, size - 1) == 0);
  EXPECT(ns_map_open_snapshot(NULL, dir, &loaded, msg, sizeof msg), NS_ERR_SNAPSHOT_CORRUPT);
  /* A foreign manifest. */
  write_file(manifest, "this is a text file, not a snapshot\n");
  EXPECT(ns_map_open_snapshot(NULL, dir, &loaded, msg, sizeof msg), NS_ERR_NOT_A_SNAPSHOT);
  CHECK(loaded == (ns_map *)(uintptr_t)1);
}

int main(void) {
  char dir[] = "/tmp/numashard-c-snapshot-XXXXXX";
  char cmd[128];
  CHECK(mkdtemp(dir) != NULL);
  test_statuses();
  test_save_and_open(dir);
  test_damaged(dir);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
  return report("test_snapshot");
}
