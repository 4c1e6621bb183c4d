//! HTTP integration tests: the real server on 127.0.0.1:0 with a fresh database per test
//! (SQLite, or PostgreSQL with `SCIMD_TEST_BACKEND=postgres`; see `helpers`), driven over
//! HTTP with reqwest; the CLI and several nodes on one PostgreSQL database through the
//! built binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod auth;
mod bulk;
mod cli;
mod discovery;
mod errors;
mod etag;
mod events;
mod groups;
mod helpers;
mod idp;
mod lists;
mod loads;
mod multinode;
mod tenants;
mod users;
mod webhooks;
