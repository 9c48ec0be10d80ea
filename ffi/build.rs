//! Gives `libnumashard.so` a SONAME, `libnumashard.so.<ABI>`, and puts a
//! symlink of that name next to the built library, so that programs linked
//! against `target/<profile>/libnumashard.so` (whose `DT_NEEDED` is then the
//! SONAME) find it through `-rpath` / `LD_LIBRARY_PATH` there.

use std::path::Path;

/// The ABI generation: bump it (and the SONAME follows) whenever a change
/// breaks programs built against an earlier header. It is not the crate
/// version: 0.1 -> 0.2 need not break the ABI, and ABI 0 is the first one.
const ABI: u32 = 0;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let soname = format!("libnumashard.so.{ABI}");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "linux" {
        return;
    }
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");

    // OUT_DIR is <target>/[<triple>/]<profile>/build/<pkg>-<hash>/out; the
    // library lands in <profile>. A relative link: it stays valid when
    // cargo replaces libnumashard.so, and before it is first built.
    let Some(out_dir) = std::env::var_os("OUT_DIR") else { return };
    let Some(profile_dir) = Path::new(&out_dir).ancestors().nth(3) else { return };
    let link = profile_dir.join(&soname);
    match std::fs::read_link(&link) {
        Ok(dest) if dest == Path::new("libnumashard.so") => {}
        _ => {
            let _ = std::fs::remove_file(&link);
            if let Err(e) = std::os::unix::fs::symlink("libnumashard.so", &link) {
                println!("cargo:warning=could not create {}: {e}", link.display());
            }
        }
    }
}
