import io.numashard.NumaShardMap;
import java.nio.charset.StandardCharsets;

/**
 * Run against the packaged jar only (java -cp numashard.jar JarSmoke.java): proves the JNI
 * library is found inside the jar and extracted, with no java.library.path help.
 */
public class JarSmoke {
    public static void main(String[] args) {
        try (NumaShardMap map = NumaShardMap.open()) {
            byte[] k = "smoke".getBytes(StandardCharsets.UTF_8);
            map.put(k, k);
            if (!new String(map.get(k), StandardCharsets.UTF_8).equals("smoke")) {
                throw new AssertionError("round trip failed");
            }
            System.out.println("jar smoke ok: native " + NumaShardMap.nativeVersion() + ", "
                    + map.shardCount() + " shards, backend " + NumaShardMap.nativeBackend() + " on JDK "
                    + Runtime.version().feature());
        }
    }
}
