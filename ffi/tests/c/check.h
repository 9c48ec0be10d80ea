/* A tiny test harness for the C suite: counts checks, prints failures with
 * their line, and ends with the "N passed, M failed" line. */
#ifndef NS_CHECK_H
#define NS_CHECK_H

#include <stdio.h>
#include <string.h>

#include "numashard.h"

static int checks_passed, checks_failed;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (cond) {                                                              \
      checks_passed++;                                                       \
    } else {                                                                 \
      checks_failed++;                                                       \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                        \
  } while (0)

/* Checks that a call returns the expected status. */
#define EXPECT(call, want)                                                     \
  do {                                                                         \
    ns_status got_ = (call);                                                   \
    if (got_ == (ns_status)(want)) {                                           \
      checks_passed++;                                                         \
    } else {                                                                   \
      checks_failed++;                                                         \
      fprintf(stderr, "%s:%d: %s\n  returned %d (%s), expected %s\n", __FILE__, \
              __LINE__, #call, (int)got_, ns_status_str(got_), #want);         \
    }                                                                          \
  } while (0)

/* (pointer, length) of a string literal or char array, without the NUL. */
#define S(str) (const uint8_t *)(str), (sizeof(str) - 1)

/* Asan/UBSan detection: the script passes -DEXPECT_ASAN for the sanitizer
 * build, and the build fails if the sanitizer is not really on. */
#if defined(__SANITIZE_ADDRESS__)
#define NS_HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NS_HAVE_ASAN 1
#endif
#endif
#if defined(EXPECT_ASAN) && !defined(NS_HAVE_ASAN)
#error "EXPECT_ASAN set but AddressSanitizer is not enabled"
#endif

static int report(const char *suite) {
  printf("%s: %d passed, %d failed\n", suite, checks_passed, checks_failed);
  return checks_failed == 0 ? 0 : 1;
}

#endif
