//! The memory allocator of every program that links the runtime: mimalloc
//! (feature `mimalloc`, on by default).
//!
//! A saturated cluster allocates and frees small buffers at every hop
//! (decoded messages, log entries, replies, frames). With glibc's malloc that
//! cost about a tenth of the machine's CPU in `ftbench`'s profiles; with
//! mimalloc the replicated rows' saturated throughput rose by about 12 % (the
//! README's performance section has the runs). The allocator is chosen here,
//! in the library, so that the kernels, `ftbench`, `ftc-kvnode` and every
//! generated program get it without a line in their own `main`. A Rust
//! program that links the runtime and wants its own global allocator turns
//! the feature off (`default-features = false`); two global allocators in one
//! program are a link error, not a silent choice.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's setting that the processes a launcher starts (kernels, and the
/// program's `main` under `ftc run`) get unless the user's environment sets
/// it: with its default (eager commit of arenas on Linux), mimalloc hardly
/// returns freed memory to the system, and a kernel that served a burst kept
/// about 16 MB more resident than with glibc's malloc; with 0 it returns it
/// (the README has the measurements). mimalloc reads it at its first
/// allocation, before `main`, so a process cannot set it for itself: the
/// launchers (`cluster.rs`, `ftc run`) set it for the processes they start.
const EAGER_COMMIT: (&str, &str) = ("MIMALLOC_ARENA_EAGER_COMMIT", "0");

/// Gives a kernel or program about to be started the allocator settings above.
pub fn configure_child(cmd: &mut std::process::Command) {
    let (name, value) = EAGER_COMMIT;
    if cfg!(feature = "mimalloc") && std::env::var_os(name).is_none() {
        cmd.env(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_gets_the_setting_unless_the_environment_has_one() {
        let (name, value) = EAGER_COMMIT;
        let mut cmd = std::process::Command::new("true");
        configure_child(&mut cmd);
        let set = cmd
            .get_envs()
            .any(|(k, v)| k == name && v == Some(std::ffi::OsStr::new(value)));
        let expected = cfg!(feature = "mimalloc") && std::env::var_os(name).is_none();
        assert_eq!(set, expected);
    }
}
