//! End-to-end tests against LocalStack, PostgreSQL and the local registry.
//! One binary (one link step); each test owns its database and queues.

mod anchore_cli;
mod catalog;
mod cli;
mod evaluate;
mod feeds;
mod images;
mod migrations;
mod notify;
mod registries;
mod runner;
mod staging;
mod watch;
