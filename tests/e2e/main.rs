//! End-to-end tests against LocalStack, PostgreSQL and the local registry.
//! One binary (one link step); each test owns its database and queues.

mod accounts;
mod anchore_cli;
mod catalog;
mod cli;
mod evaluate;
mod evaluate_speed;
mod fanout;
mod faults;
mod feeds;
mod images;
mod inline;
mod migrations;
mod notify;
mod openapi;
mod policy_gates;
mod registries;
mod runner;
mod staging;
mod watch;
