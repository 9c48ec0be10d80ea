/* cache_cliff.c -- how much cache one thread of this machine really gets.
 *
 * A dependent pointer chase over a random cyclic permutation of the 64-byte
 * lines of a working set: each load's address comes from the previous load,
 * so nothing overlaps and the time per step is the latency of the level the
 * working set lives in. Where the time jumps (from ~15-40 ns to ~110-150 ns
 * on the 2-vCPU VM of bench/results/go.md, run 16) is the cache a table of
 * that many bytes can still live in. The spec sheet's L3 size is an upper
 * bound: on a shared host the share one guest gets moves from one minute to
 * the next, which is why benchmarks of tables near that size swing.
 *
 *   cc -O2 bench/probes/cache_cliff.c -o cache_cliff
 *   ./cache_cliff [huge] [KIB ...]
 *
 * huge: the working set asks for transparent huge pages (MADV_HUGEPAGE), so
 * the chase measures the caches, not the TLB. Default sizes: 1 MiB to 64 MiB.
 * Prints one line per size: "<pages> <KiB> KiB: <ns> ns per dependent load".
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static void *volatile sink;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double chase(size_t bytes, int huge) {
    size_t n = bytes / 64;
    char *p = mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    if (huge)
        madvise(p, bytes, MADV_HUGEPAGE);
    size_t *order = malloc(n * sizeof *order);
    if (!order) {
        perror("malloc");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    uint64_t x = 0x9e3779b97f4a7c15ULL; /* xorshift64: a fixed shuffle */
    for (size_t i = n - 1; i > 0; i--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t j = x % (i + 1), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    /* Line order[i] points to line order[i+1]: one cycle through every line. */
    for (size_t i = 0; i < n; i++)
        *(char **)(p + order[i] * 64) = p + order[(i + 1) % n] * 64;
    free(order);
    char *q = p;
    for (size_t i = 0; i < n; i++) /* warm: every line once */
        q = *(char **)q;
    size_t steps = 10000000;
    double t0 = now();
    for (size_t i = 0; i < steps; i++)
        q = *(char **)q;
    double ns = (now() - t0) / steps * 1e9;
    sink = q;
    munmap(p, bytes);
    return ns;
}

int main(int argc, char **argv) {
    int huge = 0, first = 1;
    if (argc > 1 && strcmp(argv[1], "huge") == 0)
        huge = 1, first = 2;
    if (first < argc) {
        for (int i = first; i < argc; i++) {
            size_t kib = strtoul(argv[i], 0, 10);
            if (kib < 64) {
                fprintf(stderr, "cache_cliff: sizes are in KiB, at least 64\n");
                return 2;
            }
            printf("%s %6zu KiB: %6.1f ns per dependent load\n", huge ? "2M" : "4k", kib, chase(kib * 1024, huge));
        }
        return 0;
    }
    for (size_t kib = 1024; kib <= 64 * 1024; kib *= 2)
        printf("%s %6zu KiB: %6.1f ns per dependent load\n", huge ? "2M" : "4k", kib, chase(kib * 1024, huge));
    return 0;
}
