//! The README's examples, run: each `$ command` of its `console` blocks is
//! run with `sh` in tests/data, the built `twofold-policy` first on PATH, and
//! its output (stdout, then stderr) compared with the lines shown after it;
//! its `csv` block is read as users.csv.
#![cfg(test)]

use std::path::{Path, PathBuf};
use std::process::Command;

const README: &str = include_str!("../README.md");
const BIN: &str = env!("CARGO_BIN_EXE_twofold-policy");

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The text of each fenced block of `lang`.
fn blocks(lang: &str) -> Vec<String> {
    let fence = format!("```{lang}");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in README.lines() {
        match &mut current {
            None if line == fence => current = Some(String::new()),
            None => {}
            Some(_) if line == "```" => blocks.extend(current.take()),
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(current.is_none(), "a ```{lang} block is not closed");
    blocks
}

/// Each `$ command` of a console block, with the output shown after it.
fn examples(block: &str) -> Vec<(String, String)> {
    let mut examples: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if let Some(command) = line.strip_prefix("$ ") {
            examples.push((command.to_string(), String::new()));
        } else {
            let (_, output) = examples
                .last_mut()
                .unwrap_or_else(|| panic!("output before any command: {line}"));
            output.push_str(line);
            output.push('\n');
        }
    }
    examples
}

fn run(command: &str) -> String {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = std::env::join_paths(std::iter::once(bin_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let output = Command::new("sh")
        .args(["-c", command])
        .current_dir(data())
        .env("PATH", path)
        .output()
        .unwrap();
    let mut text = String::from_utf8(output.stdout).unwrap();
    text.push_str(&String::from_utf8(output.stderr).unwrap());
    text
}

#[test]
fn console_examples_show_what_the_tool_prints() {
    let mut ran = Vec::new();
    for block in blocks("console") {
        for (command, expected) in examples(&block) {
            assert!(
                command.contains("twofold-policy "),
                "not an example of the tool: {command}"
            );
            let actual = run(&command);
            assert_eq!(actual, expected, "README example `{command}`");
            ran.push(command);
        }
    }
    // check (valid, invalid), dry-run, diff, decide (answer, error), a bad row.
    assert_eq!(ran.len(), 7, "{ran:#?}");
}

#[test]
fn csv_example_is_a_valid_users_csv() {
    let blocks = blocks("csv");
    assert_eq!(blocks.len(), 1);
    let rows = twofold_policy_cli::read_users("README.md", blocks[0].as_bytes()).unwrap();
    assert_eq!(rows.len(), 3);
}
