//! End-to-end tests of the `audit` binary: each starts the real server on a
//! fresh database, runs the built binary as a user would, and checks what
//! they would see: stdout, stderr and the exit code. All modules build into
//! one binary so they share one throwaway Postgres.

mod append_import;
mod checkpoint;
mod exit_codes;
mod export;
mod follow;
mod list;
mod read_commands;
mod support;
mod verify;
