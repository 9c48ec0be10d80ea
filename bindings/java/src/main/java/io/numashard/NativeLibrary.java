package io.numashard;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
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
 * When all fail, the {@link UnsatisfiedLinkError} lists every attempt and why it failed.
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
        List<String> attempts = new ArrayList<>();
        String explicit = System.getProperty(PATH_PROPERTY);
        if (explicit != null && !explicit.isEmpty()) {
            try {
                System.load(Paths.get(explicit).toAbsolutePath().toString());
                loaded = true;
                return;
            } catch (UnsatisfiedLinkError e) {
                // An explicit path that fails is a configuration error: do not fall back silently.
                throw new UnsatisfiedLinkError("numashard: cannot load " + explicit + " (from -D"
                        + PATH_PROPERTY + "): " + e.getMessage());
            }
        }
        try {
            System.loadLibrary(NAME);
            loaded = true;
            return;
        } catch (UnsatisfiedLinkError e) {
            attempts.add("java.library.path (" + System.getProperty("java.library.path") + "): " + e.getMessage());
        }
        String resource = "/native/" + platform() + "/" + System.mapLibraryName(NAME);
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
            if (in == null) {
                attempts.add("jar resource " + resource + ": not packaged for this platform");
            } else {
                Path tmp = Files.createTempFile("libnumashard_jni-", ".so");
                tmp.toFile().deleteOnExit();
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                try {
                    System.load(tmp.toAbsolutePath().toString());
                    loaded = true;
                    return;
                } catch (UnsatisfiedLinkError e) {
                    attempts.add("jar resource " + resource + " extracted to " + tmp + ": " + e.getMessage()
                            + " (is libhwloc installed? apt-get install libhwloc15)");
                }
            }
        } catch (IOException e) {
            attempts.add("jar resource " + resource + ": " + e);
        }
        throw new UnsatisfiedLinkError("numashard: cannot load the native library " + System.mapLibraryName(NAME)
                + ". Tried:\n  - " + String.join("\n  - ", attempts)
                + "\nBuild it with scripts/test-java.sh (or bindings/java/native/Makefile), or point -D"
                + PATH_PROPERTY + " at it.");
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
