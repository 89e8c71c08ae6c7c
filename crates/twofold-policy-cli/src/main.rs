//! `twofold-policy`: check, dry-run, diff and decide with a twofold policy.
//! The work is in the library; this reads the command line, opens the files and
//! reads the clock (only when `--at` is not given).

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use twofold_policy_cli::{Input, InstantError, Status, Timestamp, parse_instant};

/// Check a twofold policy, try it on a list of users, compare two policies.
#[derive(Debug, Parser)]
#[command(name = "twofold-policy", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a policy document (TOML, or JSON for `.json`; `-` for stdin).
    /// Exit 0 if valid, 1 if not, 2 if unreadable.
    Check {
        /// The policy file.
        policy: PathBuf,
    },
    /// Apply a policy to every user of a CSV: who must enroll, who is
    /// blocked, who is exempt. Exit 1 if anyone would be blocked, 2 for bad input.
    DryRun {
        /// The policy file.
        policy: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Compare two policies over the same users: whose outcome changes. Exit 1
    /// if NEW blocks anyone OLD did not, 2 for bad input.
    Diff {
        /// The current policy.
        old: PathBuf,
        /// The proposed policy.
        new: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Answer JSON requests, one per line on stdin, one JSON answer per line on stdout.
    Decide {
        /// The policy file.
        policy: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct Common {
    /// The users: CSV with the columns user,role,methods,first_sign_in
    /// (and optionally backup_codes, exempt); `-` for stdin.
    #[arg(long, value_name = "CSV")]
    users: PathBuf,
    /// The instant to decide at: 2026-12-07T09:00:00Z, 2026-12-07 (midnight
    /// UTC) or Unix seconds. Default: now.
    #[arg(long, value_name = "DATE", value_parser = at)]
    at: Option<Timestamp>,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn at(text: &str) -> Result<Timestamp, InstantError> {
    parse_instant(text)
}

fn now() -> Timestamp {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    Timestamp::from_unix_seconds(seconds)
}

fn open(path: &PathBuf) -> Result<Input<Box<dyn Read>>, String> {
    let name = path.display().to_string();
    if name == "-" {
        return Ok(Input::new(name, Box::new(io::stdin().lock())));
    }
    match File::open(path) {
        Ok(file) => Ok(Input::new(name, Box::new(BufReader::new(file)))),
        Err(error) => Err(format!("{name}: cannot be read: {error}")),
    }
}

fn run(cli: Cli) -> Result<Status, String> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut err = io::stderr().lock();
    let one_stdin = |paths: &[&PathBuf]| {
        if paths.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
            Err("only one input can be `-` (stdin)".to_string())
        } else {
            Ok(())
        }
    };
    Ok(match cli.command {
        Command::Check { policy } => {
            twofold_policy_cli::check_command(open(&policy)?, &mut out, &mut err)
        }
        Command::DryRun { policy, common } => {
            one_stdin(&[&policy, &common.users])?;
            twofold_policy_cli::dry_run_command(
                open(&policy)?,
                open(&common.users)?,
                common.at.unwrap_or_else(now),
                common.json,
                &mut out,
                &mut err,
            )
        }
        Command::Diff { old, new, common } => {
            one_stdin(&[&old, &new, &common.users])?;
            twofold_policy_cli::diff_command(
                open(&old)?,
                open(&new)?,
                open(&common.users)?,
                common.at.unwrap_or_else(now),
                common.json,
                &mut out,
                &mut err,
            )
        }
        Command::Decide { policy } => {
            if policy.as_os_str() == "-" {
                return Err(
                    "decide reads its requests from stdin: give the policy as a file".into(),
                );
            }
            let requests = io::stdin().lock();
            twofold_policy_cli::decide_command(open(&policy)?, requests, &mut out, &mut err)
        }
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(status) => ExitCode::from(status.code()),
        Err(message) => {
            eprintln!("twofold-policy: {message}");
            ExitCode::from(Status::BadInput.code())
        }
    }
}
