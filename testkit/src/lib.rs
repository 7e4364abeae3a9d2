//! Snapshot fixtures for the project's data-driven tests: a fixture file keeps
//! its input and, in a trailing block, the output expected from it (or a whole
//! file is the expected output); [`Snapshots`] compares, reports each mismatch
//! as a unified diff, and under `UPDATE_EXPECT=1` rewrites the expectation.
//!
//! Every expected-output harness of the workspace (parser, checker, code
//! generation, `ftc run`, `ftc replicate`, the Rust front end's shell) goes
//! through this one helper, so they share one format, one update switch and
//! one diff.

use std::path::{Path, PathBuf};

/// The environment variable that makes a run accept the actual output.
pub const UPDATE: &str = "UPDATE_EXPECT";

/// The files of `dir` whose extension is `ext`, sorted by name. Panics when
/// there are none: a harness that compares nothing must not pass.
pub fn fixtures(dir: impl AsRef<Path>, ext: &str) -> Vec<PathBuf> {
    let dir = dir.as_ref();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .{ext} fixtures in {}", dir.display());
    files
}

/// Where a fixture keeps its expected output: after the last line that starts
/// with `open`, up to a final `close`.
#[derive(Clone, Copy, Debug)]
pub struct Block {
    open: &'static str,
    close: &'static str,
}

impl Block {
    /// A trailing comment `open … */`; a `*/` in the output is written `* /`
    /// so that it cannot end the comment early.
    pub const fn comment(open: &'static str) -> Block {
        Block {
            open,
            close: "*/\n",
        }
    }

    /// Everything after a separator line.
    pub const fn rest(separator: &'static str) -> Block {
        Block {
            open: separator,
            close: "",
        }
    }

    /// Splits a fixture into its input and its expected output (`None` when
    /// it has no block yet).
    pub fn split<'t>(&self, text: &'t [u8]) -> (&'t [u8], Option<String>) {
        let open = self.open.as_bytes();
        let at = text
            .windows(open.len())
            .enumerate()
            .filter(|(i, w)| *w == open && (*i == 0 || text[i - 1] == b'\n'))
            .map(|(i, _)| i)
            .next_back();
        match at {
            None => (text, None),
            Some(i) => {
                let rest = String::from_utf8_lossy(&text[i + open.len()..]).into_owned();
                let body = rest.strip_suffix(self.close).unwrap_or(&rest).to_string();
                (&text[..i], Some(body))
            }
        }
    }

    /// The text as the fixture stores it.
    fn escape(&self, actual: &str) -> String {
        if self.close == "*/\n" {
            actual.replace("*/", "* /")
        } else {
            actual.to_string()
        }
    }

    /// `head` followed by the block holding `body`.
    fn join(&self, head: &[u8], body: &str) -> Vec<u8> {
        let mut out = head.to_vec();
        if !out.is_empty() && !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.extend_from_slice(self.open.as_bytes());
        out.extend_from_slice(body.as_bytes());
        out.extend_from_slice(self.close.as_bytes());
        out
    }
}

/// A unified diff from `expected` to `actual`, line by line.
pub fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string()
}

/// One harness's comparisons: mismatches and other failures are collected,
/// and [`Snapshots::finish`] fails the test with all of them at once.
#[derive(Debug)]
#[must_use = "call finish() to fail the test on a mismatch"]
pub struct Snapshots {
    update: bool,
    compared: usize,
    failures: Vec<String>,
}

impl Default for Snapshots {
    fn default() -> Self {
        Snapshots::new()
    }
}

impl Snapshots {
    /// Reads the update switch from the environment.
    pub fn new() -> Snapshots {
        Snapshots {
            update: std::env::var_os(UPDATE).is_some(),
            compared: 0,
            failures: Vec::new(),
        }
    }

    /// Whether this run rewrites expectations instead of comparing.
    pub fn updating(&self) -> bool {
        self.update
    }

    /// Compares `actual` with the expected block of the fixture at `path`,
    /// rewriting the block when updating. Returns whether it matched (an
    /// updated block counts as matched).
    pub fn block(&mut self, path: &Path, block: Block, actual: &str) -> bool {
        let text =
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let (head, expected) = block.split(&text);
        let actual = block.escape(actual);
        self.compare(path, expected.as_deref(), &actual, || {
            block.join(head, &actual)
        })
    }

    /// Compares `actual` with the whole file at `path` (missing: empty),
    /// rewriting it when updating.
    pub fn file(&mut self, path: &Path, actual: &str) -> bool {
        let expected = std::fs::read_to_string(path).ok();
        self.compare(path, expected.as_deref(), actual, || {
            actual.as_bytes().to_vec()
        })
    }

    /// Records a failure that is not a mismatch (a run that crashed, an
    /// expectation the harness checks itself).
    pub fn fail(&mut self, message: impl Into<String>) {
        self.failures.push(message.into());
    }

    /// How many expectations were compared so far.
    pub fn compared(&self) -> usize {
        self.compared
    }

    /// Fails the test when anything differed or failed.
    pub fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{}\n{} of {} expectations failed ({UPDATE}=1 accepts the actual output)",
            self.failures.join("\n"),
            self.failures.len(),
            self.compared.max(self.failures.len()),
        );
    }

    fn compare(
        &mut self,
        path: &Path,
        expected: Option<&str>,
        actual: &str,
        rewritten: impl FnOnce() -> Vec<u8>,
    ) -> bool {
        self.compared += 1;
        if expected == Some(actual) {
            return true;
        }
        if self.update {
            std::fs::write(path, rewritten())
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            return true;
        }
        let shown = match expected {
            Some(expected) => diff(expected, actual),
            None => format!("(no expectation yet)\n--- actual\n{actual}"),
        };
        self.failures.push(format!("{}:\n{shown}", path.display()));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: Block = Block::comment("/* expected:\n");

    #[test]
    fn a_block_splits_at_its_last_line_start_marker() {
        let text = b"a /* expected:\nb\n/* expected:\nold\n*/\n/* expected:\nnew\n*/\n";
        let (head, body) = BLOCK.split(text);
        assert_eq!(head, b"a /* expected:\nb\n/* expected:\nold\n*/\n");
        assert_eq!(body.as_deref(), Some("new\n"));
        assert_eq!(BLOCK.split(b"no block\n"), (&b"no block\n"[..], None));
    }

    #[test]
    fn join_then_split_gives_back_the_escaped_body() {
        let body = BLOCK.escape("x */ y\n");
        let joined = BLOCK.join(b"source", &body);
        assert_eq!(joined, b"source\n/* expected:\nx * / y\n*/\n");
        assert_eq!(BLOCK.split(&joined), (&b"source\n"[..], Some(body)));
        let rest = Block::rest("// ==== out ====\n");
        let joined = rest.join(b"in\n", "a */\n");
        assert_eq!(rest.split(&joined), (&b"in\n"[..], Some("a */\n".into())));
    }

    #[test]
    fn a_mismatch_is_reported_as_a_diff_and_an_update_rewrites() {
        let dir = std::env::temp_dir().join(format!("ftc-testkit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.cmsl");
        std::fs::write(&path, "src\n/* expected:\none\ntwo\n*/\n").unwrap();
        let mut compare = Snapshots {
            update: false,
            compared: 0,
            failures: Vec::new(),
        };
        assert!(compare.block(&path, BLOCK, "one\ntwo\n"));
        assert!(!compare.block(&path, BLOCK, "one\nthree\n"));
        assert_eq!(compare.compared(), 2);
        assert!(
            compare.failures[0].contains("-two\n+three\n"),
            "{:?}",
            compare.failures
        );
        let mut update = Snapshots {
            update: true,
            compared: 0,
            failures: Vec::new(),
        };
        assert!(update.block(&path, BLOCK, "one\nthree\n"));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "src\n/* expected:\none\nthree\n*/\n"
        );
        update.finish();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
