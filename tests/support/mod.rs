//! Helpers shared by end-to-end test files (each that needs one includes this module).

use std::path::Path;
use std::process::Command;

/// Whether the call-parallelizing optimization changes `file`'s emitted code:
/// `ftc emit -O1` and `-O0` write different Rust.
pub fn optimized(file: &Path) -> bool {
    let dir = tempfile::tempdir().expect("temp dir");
    let code = |level: &str| {
        let out_dir = dir.path().join(level);
        let out = Command::new(env!("CARGO_BIN_EXE_ftc"))
            .args(["emit", "-o"])
            .arg(&out_dir)
            .arg(level)
            .arg(file)
            .output()
            .expect("run ftc emit");
        assert!(
            out.status.success(),
            "{}: ftc emit {level}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(out_dir.join("src/main.rs")).expect("main.rs")
    };
    code("-O1") != code("-O0")
}
