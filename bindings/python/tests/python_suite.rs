//! The Python binding's whole suite, from `cargo test`: so that the README's
//! one test command runs it too. It builds the wheel with maturin (in a
//! target directory of its own under this test's temporary directory, so
//! that it never waits on the build lock of the `cargo test` running it),
//! installs it into a virtual environment, builds the command-line tool (the
//! property test's Rust oracle), and runs pytest (`tests/*.py`: the guide's
//! rows, malformed documents, the README's example, the hypothesis property
//! test against `twofold-policy decide`), stubtest (the stubs match the
//! module) and `mypy --strict` on the tests.
//!
//! The virtual environment: `TWOFOLD_BINDING_PYTHON` names its interpreter
//! (`.ci/run` makes one from `requirements-test.txt`); otherwise this test
//! makes one under the target directory with `python3 -m venv` and pip.
//! Where that is impossible (no Python, no network) it skips with a message,
//! unless `CI` is set: in CI it never skips.
#![cfg(test)]

use std::path::{Path, PathBuf};
use std::process::Command;

const HERE: &str = env!("CARGO_MANIFEST_DIR");

fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Whether `python` has every tool of requirements-test.txt.
fn ready(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import maturin, pytest, hypothesis, mypy"])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// The interpreter of a virtual environment with the test tools, if one can be had.
fn python() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("TWOFOLD_BINDING_PYTHON") {
        let python = PathBuf::from(python);
        assert!(
            ready(&python),
            "TWOFOLD_BINDING_PYTHON lacks the test tools"
        );
        return Some(python);
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("python-binding-venv");
    let python = venv.join("bin").join("python");
    if !ready(&python) {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .is_ok_and(|output| output.status.success())
            && Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "-r"])
                .arg(Path::new(HERE).join("requirements-test.txt"))
                .output()
                .is_ok_and(|output| output.status.success());
        if !made || !ready(&python) {
            assert!(
                !in_ci(),
                "the Python binding's test tools are missing in CI: .ci/run must make \
                 their virtual environment and set TWOFOLD_BINDING_PYTHON"
            );
            eprintln!(
                "SKIPPED: the Python binding's suite (needs python3 with venv and pip, \
                 or TWOFOLD_BINDING_PYTHON naming an interpreter with the tools of \
                 bindings/python/requirements-test.txt)"
            );
            return None;
        }
    }
    Some(python)
}

/// Runs `command`, failing the test with its output if it fails.
fn run(what: &str, command: &mut Command) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_python_suite_passes_against_the_built_wheel() {
    let Some(python) = python() else { return };
    let bin = python.parent().unwrap().to_path_buf();
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("python-binding");
    let target = scratch.join("target");
    let wheels = scratch.join("wheels");
    let _ = std::fs::remove_dir_all(&wheels);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

    run(
        "maturin build",
        Command::new(bin.join("maturin"))
            .args(["build", "--quiet", "-m"])
            .arg(Path::new(HERE).join("Cargo.toml"))
            .arg("-o")
            .arg(&wheels)
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO", &cargo),
    );
    let wheel = std::fs::read_dir(&wheels)
        .unwrap()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| path.extension().is_some_and(|e| e == "whl"))
        .expect("a wheel");
    run(
        "pip install",
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--force-reinstall",
                "--no-deps",
            ])
            .arg(&wheel),
    );
    run(
        "cargo build -p twofold-policy-cli",
        Command::new(&cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "twofold-policy-cli",
                "--target-dir",
            ])
            .arg(&target)
            .current_dir(HERE),
    );
    // From a directory outside the source tree, so that the tests import the
    // installed wheel; pytest's, hypothesis's and mypy's caches stay there too.
    let work = scratch.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let tests = Path::new(HERE).join("tests");
    run(
        "pytest",
        Command::new(&python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(&tests)
            .current_dir(&work)
            .env(
                "TWOFOLD_POLICY_BIN",
                target.join("debug").join("twofold-policy"),
            )
            .env("CI", "true"),
    );
    run(
        "stubtest",
        Command::new(&python)
            .args(["-m", "mypy.stubtest", "twofold_policy"])
            .current_dir(&work),
    );
    run(
        "mypy --strict",
        Command::new(&python)
            .args(["-m", "mypy", "--strict"])
            .arg(&tests)
            .current_dir(&work),
    );
}
