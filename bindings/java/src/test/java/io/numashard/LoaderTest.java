package io.numashard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/** The native library loads, and the -Xcheck:jni run really runs with -Xcheck:jni. */
class LoaderTest {

    @Test
    void platformNameMatchesThePackagedDirectory() {
        if (System.getProperty("os.name").startsWith("Linux") && System.getProperty("os.arch").equals("amd64")) {
            assertEquals("linux-x86_64", NativeLibrary.platform());
        }
    }

    @Test
    void libraryLoadsAndAnswers() {
        NativeLibrary.load(); // idempotent
        assertTrue(NumaShardMap.nativeVersion().startsWith("0."));
    }

    /** The run is on the backend it was set up for (scripts/test-java.sh: JNI on 17, both on 22+). */
    @Test
    void runsOnTheExpectedBackend() {
        String expected = System.getProperty("numashard.expect.backend", "");
        String actual = NumaShardMap.nativeBackend();
        assertTrue(actual.equals("jni") || actual.equals("ffm"), actual);
        if (!expected.isEmpty()) {
            assertEquals(expected, actual, "backend of this run (Runtime " + Runtime.version() + ")");
        }
        if (Runtime.version().feature() < 22) {
            assertEquals("jni", actual, "JDKs before 22 have no final FFM API");
        }
    }

    @Test
    void checkJniRunHasTheFlag() {
        if (Boolean.getBoolean("numashard.expect.checkjni")) {
            assertTrue(ManagementFactory.getRuntimeMXBean().getInputArguments().contains("-Xcheck:jni"),
                    "the check-jni surefire execution must run with -Xcheck:jni");
        }
    }
}
