package io.numashard;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * Loads the JNI glue, {@code libnumashard_jni.so} (the numashard engine is linked into it
 * statically, so this is the only native file). Tried in order:
 *
 * <ol>
 *   <li>the file named by the system property {@code numashard.jni.path};
 *   <li>{@code System.loadLibrary("numashard_jni")}, i.e. {@code java.library.path};
 *   <li>the copy packaged in the jar at {@code /native/<os>-<arch>/libnumashard_jni.so},
 *       extracted to a temporary file.
 * </ol>
 *
 * When all fail, the {@link UnsatisfiedLinkError} says in one line what went wrong and what to do
 * (install libhwloc, use a jar built for this platform, or point {@code -Dnumashard.jni.path} at
 * the library), with no frames of the loader itself in its stack trace.
 */
final class NativeLibrary {
    static final String NAME = "numashard_jni";
    static final String PATH_PROPERTY = "numashard.jni.path";

    private static volatile boolean loaded;

    private NativeLibrary() {}

    static synchronized void load() {
        if (loaded) {
            return;
        }
        String explicit = System.getProperty(PATH_PROPERTY);
        if (explicit != null && !explicit.isEmpty()) {
            try {
                System.load(Paths.get(explicit).toAbsolutePath().toString());
                loaded = true;
                return;
            } catch (UnsatisfiedLinkError e) {
                // An explicit path that fails is a configuration error: do not fall back silently.
                throw failure("numashard: cannot load " + explicit + " (from -D" + PATH_PROPERTY + "): "
                        + oneLine(e.getMessage()) + hwlocHint(e.getMessage()));
            }
        }
        try {
            System.loadLibrary(NAME);
            loaded = true;
            return;
        } catch (UnsatisfiedLinkError e) {
            // Not on java.library.path: the usual case, the jar carries the library.
        }
        String file = System.mapLibraryName(NAME);
        String resource = "/native/" + platform() + "/" + file;
        String why;
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
            if (in == null) {
                why = "no " + resource + " beside these classes (the jar is built for " + PACKAGED
                        + " only) and none on java.library.path; use the packaged jar on " + PACKAGED
                        + ", or build the library (bindings/java/native) and set -D" + PATH_PROPERTY + "=/path/to/"
                        + file;
            } else {
                Path tmp = Files.createTempFile("libnumashard_jni-", ".so");
                tmp.toFile().deleteOnExit();
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                try {
                    System.load(tmp.toAbsolutePath().toString());
                    loaded = true;
                    return;
                } catch (UnsatisfiedLinkError e) {
                    why = oneLine(e.getMessage()) + hwlocHint(e.getMessage());
                }
            }
        } catch (IOException e) {
            why = "cannot extract " + resource + " from the jar to a temporary file (" + oneLine(e.toString())
                    + "); set java.io.tmpdir to a writable directory, or -D" + PATH_PROPERTY + "=/path/to/" + file;
        }
        throw failure("numashard: cannot load the native library " + file + ": " + why);
    }

    /** The platform directory the released jar carries. */
    private static final String PACKAGED = "linux-x86_64";

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*\\R\\s*", " ").trim();
    }

    private static String hwlocHint(String message) {
        return message != null && message.contains("hwloc")
                ? " - install hwloc's runtime library (Debian/Ubuntu: apt-get install libhwloc15)"
                : "";
    }

    /** The error with the caller's frames only (the loader's own say nothing to the user). */
    private static UnsatisfiedLinkError failure(String message) {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError(message);
        StackTraceElement[] st = e.getStackTrace();
        int skip = 0;
        while (skip < st.length - 1 && st[skip].getClassName().equals(NativeLibrary.class.getName())) {
            skip++;
        }
        e.setStackTrace(java.util.Arrays.copyOfRange(st, skip, st.length));
        return e;
    }

    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (os.startsWith("linux")) {
            os = "linux";
        } else if (os.startsWith("mac")) {
            os = "darwin";
        }
        if (arch.equals("amd64") || arch.equals("x86_64")) {
            arch = "x86_64";
        } else if (arch.equals("arm64")) {
            arch = "aarch64";
        }
        return os + "-" + arch;
    }
}
