package io.numashard;

import com.google.common.collect.testing.ConcurrentMapTestSuiteBuilder;
import com.google.common.collect.testing.TestStringMapGenerator;
import com.google.common.collect.testing.features.CollectionFeature;
import com.google.common.collect.testing.features.CollectionSize;
import com.google.common.collect.testing.features.MapFeature;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentMap;
import java.util.stream.Stream;
import junit.framework.AssertionFailedError;
import junit.framework.Test;
import junit.framework.TestFailure;
import junit.framework.TestResult;
import junit.framework.TestSuite;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestFactory;

/**
 * Guava testlib's {@code ConcurrentMapTestSuiteBuilder} against the typed map ({@code String} to
 * {@code String} over UTF-8 codecs), with the features Guava declares for
 * {@code ConcurrentHashMap} except serialization: general purpose (put, remove), iterator remove, no nulls,
 * every collection size. Each of its JUnit 3 tests runs as one JUnit 5 dynamic test on empty
 * maps: opening a map starts its shard threads (tens of ms on a loaded machine), so the maps a
 * test used are cleared and reused by the next tests, and closed at the end.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GuavaTestlibTest {
    /** The maps the test currently running uses. */
    private final List<NumaShardMap> inUse = new ArrayList<>();
    /** Empty maps for the next tests. */
    private final List<NumaShardMap> idle = new ArrayList<>();

    @AfterAll
    void closeAll() {
        for (NumaShardMap m : idle) {
            m.close();
        }
        idle.clear();
    }

    @TestFactory
    Stream<DynamicTest> concurrentMapSuite() {
        TestSuite suite = ConcurrentMapTestSuiteBuilder.using(new TestStringMapGenerator() {
            @Override
            protected Map<String, String> create(Map.Entry<String, String>[] entries) {
                NumaShardMap m = idle.isEmpty()
                        ? NumaShardMap.open(Config.builder().shards(2).build())
                        : idle.remove(idle.size() - 1);
                if (m.size() != 0) {
                    throw new AssertionError("a reused map is not empty");
                }
                inUse.add(m);
                ConcurrentMap<String, String> typed = m.typed(Codec.utf8(), Codec.utf8());
                for (Map.Entry<String, String> e : entries) {
                    typed.put(e.getKey(), e.getValue());
                }
                return typed;
            }
        })
                .named("NumaShardTypedMap<String, String>")
                .withFeatures(MapFeature.GENERAL_PURPOSE, CollectionFeature.SUPPORTS_ITERATOR_REMOVE, CollectionSize.ANY)
                .createTestSuite();
        List<DynamicTest> tests = new ArrayList<>();
        flatten(suite, "", tests);
        if (tests.size() < 500) {
            throw new AssertionError("the suite shrank to " + tests.size() + " tests");
        }
        return tests.stream();
    }

    private void flatten(Test t, String prefix, List<DynamicTest> out) {
        if (t instanceof TestSuite) {
            TestSuite s = (TestSuite) t;
            String name = s.getName() == null ? prefix : prefix + s.getName() + " / ";
            for (int i = 0; i < s.testCount(); i++) {
                flatten(s.testAt(i), name, out);
            }
            return;
        }
        out.add(DynamicTest.dynamicTest(prefix + t, () -> run(t)));
    }

    private void run(Test t) throws Throwable {
        TestResult r = new TestResult();
        try {
            t.run(r);
        } finally {
            for (NumaShardMap m : inUse) {
                m.clear();
                idle.add(m);
            }
            inUse.clear();
        }
        for (Enumeration<TestFailure> e = r.errors(); e.hasMoreElements();) {
            throw e.nextElement().thrownException();
        }
        for (Enumeration<TestFailure> e = r.failures(); e.hasMoreElements();) {
            Throwable thrown = e.nextElement().thrownException();
            throw thrown instanceof AssertionFailedError ? new AssertionError(thrown.getMessage(), thrown) : thrown;
        }
    }
}
