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

    @Test
    void checkJniRunHasTheFlag() {
        if (Boolean.getBoolean("numashard.expect.checkjni")) {
            assertTrue(ManagementFactory.getRuntimeMXBean().getInputArguments().contains("-Xcheck:jni"),
                    "the check-jni surefire execution must run with -Xcheck:jni");
        }
    }
}
