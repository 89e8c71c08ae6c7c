//! The command lines of the built binaries: `--help` is an answer (usage on
//! standard output, exit 0), and every documented flag and variable is listed.

#![cfg(test)]

use std::process::{Command, Output};

fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn the_clinic_answers_help_on_stdout_with_every_option() {
    let output = run(env!("CARGO_BIN_EXE_twofold-clinic"), &["--help"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    assert!(stdout.contains("Usage: twofold-clinic"), "{stdout}");
    for option in [
        "--port",
        "CLINIC_PORT",
        "--data-dir",
        "CLINIC_DATA_DIR",
        "--database-url",
        "CLINIC_DATABASE_URL",
        "--origin",
        "CLINIC_ORIGIN",
        "--secret-keys",
        "CLINIC_SECRET_KEYS",
        "--trust-forwarded-for",
        "--set-password",
        "--reseal",
    ] {
        assert!(stdout.contains(option), "{option} is not in {stdout}");
    }
}

#[test]
fn the_load_tool_answers_help_on_stdout_with_every_option() {
    let output = run(env!("CARGO_BIN_EXE_clinic-load"), &["--help"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    assert!(stdout.contains("Usage: clinic-load"), "{stdout}");
    for option in [
        "--users",
        "--rounds",
        "--seconds",
        "--mixed",
        "--attack",
        "--database-url",
    ] {
        assert!(stdout.contains(option), "{option} is not in {stdout}");
    }
}

#[test]
fn the_clinic_reads_its_environment_variables() {
    // CLINIC_DATA_DIR: `--reseal` opens the database there (creating it and
    // the key file) and exits without serving.
    let dir = std::env::temp_dir().join(format!("twofold-clinic-cli-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_twofold-clinic"))
        .arg("--reseal")
        .env("CLINIC_DATA_DIR", &dir)
        .env_remove("CLINIC_DATABASE_URL")
        .env_remove("CLINIC_SECRET_KEYS")
        .env_remove("CLINIC_ORIGIN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        text(&output.stdout).contains("Re-sealed 0 of 0 records"),
        "{output:?}"
    );
    assert!(dir.join("secret.key").is_file());
    assert!(dir.join("clinic.sqlite3").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
    // CLINIC_PORT and CLINIC_ORIGIN: bad values are refused, naming them.
    let output = Command::new(env!("CARGO_BIN_EXE_twofold-clinic"))
        .env("CLINIC_PORT", "not-a-port")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(text(&output.stderr).contains("--port"), "{output:?}");
    let dir = std::env::temp_dir().join(format!("twofold-clinic-cli-o-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_twofold-clinic"))
        .arg("--reseal")
        .env("CLINIC_DATA_DIR", &dir)
        .env("CLINIC_ORIGIN", "http://[::1]:3000")
        .env_remove("CLINIC_DATABASE_URL")
        .env_remove("CLINIC_SECRET_KEYS")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        text(&output.stderr).contains("names the IP address ::1"),
        "{output:?}"
    );
}

#[test]
fn the_clinic_names_a_bad_key_and_why() {
    let dir = std::env::temp_dir().join(format!("twofold-clinic-cli-k-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_twofold-clinic"))
        .arg("--reseal")
        .env("CLINIC_DATA_DIR", &dir)
        .env("CLINIC_SECRET_KEYS", "k1:00ff")
        .env_remove("CLINIC_DATABASE_URL")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("CLINIC_SECRET_KEYS") && stderr.contains("key \"k1\" is not 64 hex digits"),
        "{stderr}"
    );
}

#[test]
fn the_load_tool_refuses_bad_values_as_before() {
    for args in [
        &["--users", "0"][..],
        &["--rounds", "100001"],
        &["--seconds", "soon"],
        &["--attack", "everything"],
        &["--no-such-option"],
    ] {
        let output = run(env!("CARGO_BIN_EXE_clinic-load"), args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(output.stdout.is_empty(), "{args:?}: {output:?}");
        assert!(
            text(&output.stderr).contains(args[0]),
            "{args:?}: {output:?}"
        );
    }
}
