//! `ftc new NAME`: a starter project — a CMSL program with a replicated
//! server, its README, the expected output and a test script that runs it
//! with a crash (the files are in `starter/`, with `NAME` replaced).

use anyhow::{bail, Context};
use std::path::Path;
use std::process::ExitCode;

/// The starter's files: (file name, contents), `NAME` replaced on writing.
const FILES: [(&str, &str); 4] = [
    ("NAME.cmsl", include_str!("starter/program.cmsl")),
    ("README.md", include_str!("starter/README.md")),
    ("expected.txt", include_str!("starter/expected.txt")),
    ("test.sh", include_str!("starter/test.sh")),
];

/// A project name: a lowercase letter, then lowercase letters, digits or `_`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 64
}

pub(crate) fn new_project(name: &str) -> anyhow::Result<ExitCode> {
    if !valid_name(name) {
        bail!(
            "`{name}` is not a project name: use a lowercase letter, then lowercase \
             letters, digits or `_` (it names the program and its binary)"
        );
    }
    let dir = Path::new(name);
    if dir.exists() {
        bail!("{name} already exists: choose another name or remove it");
    }
    std::fs::create_dir(dir).with_context(|| format!("cannot create {name}"))?;
    for (file, text) in FILES {
        let path = dir.join(file.replace("NAME", name));
        std::fs::write(&path, text.replace("NAME", name))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!("created {name}/: {name}.cmsl, README.md, expected.txt, test.sh");
    eprintln!("next: ftc run {name}/{name}.cmsl --crash h2@0.5");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn project_names() {
        for good in ["bank", "a", "my_bank2"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "",
            "Bank",
            "2bank",
            "my-bank",
            "../x",
            "a b",
            &"x".repeat(65),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
