package io.numashard;

/** How single operations and batch parts reach a shard's table ({@code ns_exec_mode}). */
public enum ExecMode {
    /**
     * The caller applies an operation itself under the shard's ownership when the owner thread
     * is parked or on the caller's CPU, else delegates it to the owner (the default).
     */
    AUTO(0),
    /** Every operation travels to the shard's owner thread. */
    DELEGATE(1);

    final int code;

    ExecMode(int code) {
        this.code = code;
    }
}
